"""A third-party client generated from our OpenAPI schema, driving a live server: what an integrator would do.

openapi-python-client reads `/api/schema/` as served, generates a Python package into a temporary folder, and the
test imports it and signs in, creates, changes (sending the version it read) and deletes a parcel over HTTP.
"""

import importlib
import inspect
import subprocess
import sys
import typing
from pathlib import Path

import httpx
import pytest

from core.roles import PLANNER
from planning.geometry import rectangle_geojson
from planning.models import Parcel
from tests.factories import CAMPUS_ORIGIN, CampusFactory, UserFactory

PACKAGE = "innopole_generated_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")

pytestmark = pytest.mark.slow


@pytest.fixture
def generated_client(live_server, tmp_path):
    """The client package generated from the live server's schema, imported; removed from `sys.modules` after."""
    schema = httpx.get(f"{live_server.url}/api/schema/", timeout=30)
    assert schema.status_code == 200
    (tmp_path / "schema.yaml").write_bytes(schema.content)
    # No post-generation hooks: formatting the generated code with ruff is not needed to run it.
    (tmp_path / "config.yaml").write_text("post_hooks: []\n")
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(tmp_path / "schema.yaml"),
            "--output-path",
            str(tmp_path / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(tmp_path / "config.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    # A schema the generator cannot fully read gives "Warning(s) encountered" and silently drops endpoints.
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr

    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def api(package, name: str):
    return importlib.import_module(f"{package.__name__}.api.v1.{name}")


def body_model(endpoint):
    """The model class an endpoint takes as its body (whatever name the schema gave its component)."""
    annotation = inspect.signature(endpoint.sync).parameters["body"].annotation
    return next(arg for arg in (typing.get_args(annotation) or [annotation]) if arg.__name__ != "Unset")


def test_generated_client_signs_in_creates_changes_and_deletes_a_parcel(generated_client, live_server):
    models = importlib.import_module(f"{PACKAGE}.models")
    campus = CampusFactory()
    UserFactory(username="integrator", password="integrator-pass-123", role=PLANNER)
    anonymous = generated_client.Client(base_url=live_server.url, raise_on_unexpected_status=True)

    token_create = api(generated_client, "v1_auth_token_create")
    credentials = body_model(token_create)(username="integrator", password="integrator-pass-123")
    signed_in = token_create.sync(client=anonymous, body=credentials)
    client = generated_client.AuthenticatedClient(
        base_url=live_server.url, token=signed_in.token, prefix="Token", raise_on_unexpected_status=True
    )

    x, y = CAMPUS_ORIGIN
    square = rectangle_geojson(x + 10, y + 10, x + 110, y + 110)
    # Posted clockwise: the server stores and serves it counter-clockwise (RFC 7946).
    clockwise = [list(reversed(square["coordinates"][0]))]
    created = api(generated_client, "v1_parcels_create").sync(
        client=client,
        body=models.ParcelRequest(
            campus=campus.pk,
            code="GEN-1",
            geometry=models.ParcelRequestGeometry(
                type_=models.ParcelRequestGeometryType.POLYGON, coordinates=clockwise
            ),
        ),
    )
    assert created.code == "GEN-1"
    assert created.zoning == campus.zoning_default
    assert created.computed_area_m2 == pytest.approx(10_000, rel=0.001)
    assert created.geometry.coordinates == square["coordinates"]

    changed = api(generated_client, "v1_parcels_partial_update").sync(
        created.id,
        client=client,
        body=models.PatchedParcelRequest(lot_ref="STT Lot 1", version=created.version),
    )
    assert (changed.lot_ref, changed.version) == ("STT Lot 1", created.version + 1)

    # The version read before the change is stale now: the server answers 409 and keeps the change.
    lenient = generated_client.AuthenticatedClient(base_url=live_server.url, token=signed_in.token, prefix="Token")
    stale = api(generated_client, "v1_parcels_partial_update").sync_detailed(
        created.id,
        client=lenient,
        body=models.PatchedParcelRequest(lot_ref="overwritten", version=created.version),
    )
    assert stale.status_code == 409
    # The schema documents the conflict body, so the typed client hands it over instead of None.
    assert isinstance(stale.parsed, models.Conflict)
    assert stale.parsed.current_version == created.version + 1
    # Who changed it, when and what, typed too.
    assert stale.parsed.changed_by == "integrator"
    assert stale.parsed.changed_at is not None
    assert [(c.field, c.old, c.new) for c in stale.parsed.changes] == [("Lot reference", "—", "STT Lot 1")]

    # A refusal is documented too: the field errors arrive as a typed body.
    overlapping = api(generated_client, "v1_parcels_create").sync(
        client=lenient,
        body=models.ParcelRequest(
            campus=campus.pk,
            code="GEN-2",
            geometry=models.ParcelRequestGeometry(
                type_=models.ParcelRequestGeometryType.POLYGON, coordinates=square["coordinates"]
            ),
        ),
    )
    assert isinstance(overlapping, models.ValidationError)
    assert "overlap" in str(overlapping.to_dict()).lower()

    read = api(generated_client, "v1_parcels_retrieve").sync(created.id, client=client)
    assert read.lot_ref == "STT Lot 1"

    deleted = api(generated_client, "v1_parcels_destroy").sync_detailed(created.id, client=client)
    assert deleted.status_code == 204
    assert not Parcel.objects.filter(pk=created.id).exists()
