"""`POST /api/v1/parcels/{id}/split/` and `/merge/`: the answers, the dry runs, the refusals, the roles.

P1-C is a 100 m × 60 m rectangle (6,000 m²) laid out in HK1980 Grid metres; a cut 40 m from its west edge leaves
2,400 m² west and 3,600 m² east. P1-D (50 m × 60 m, 3,000 m²) shares its east edge.
"""

from decimal import Decimal

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from planning import geometry
from planning.models import Facility, Parcel
from tests.conftest import api_client_for
from tests.factories import (
    CAMPUS_ORIGIN,
    CommitmentFactory,
    FacilityFactory,
    OrganisationFactory,
    ParcelFactory,
    PhaseFactory,
)
from tests.planning.test_split_merge import line, point

pytestmark = pytest.mark.django_db

X0, Y0 = CAMPUS_ORIGIN
WEST, SOUTH, EAST, NORTH = X0 + 100, Y0 + 100, X0 + 200, Y0 + 160
CUT_AT_40 = line((WEST + 40, SOUTH - 10), (WEST + 40, NORTH + 10))
EAST_PART = point(WEST + 70, SOUTH + 30)
WEST_PART = point(WEST + 20, SOUTH + 30)


@pytest.fixture
def phase():
    return PhaseFactory(number=1, name_en="Phase 1")


@pytest.fixture
def parcel(phase):
    parcel = ParcelFactory(
        phase=phase, code="P1-C", geometry=geometry.rectangle_geojson(WEST, SOUTH, EAST, NORTH), max_plot_ratio=5
    )
    FacilityFactory(parcel=parcel, name="Tower", gfa_m2=Decimal("14000"))
    return parcel


@pytest.fixture
def neighbour(phase):
    parcel = ParcelFactory(phase=phase, code="P1-D", geometry=geometry.rectangle_geojson(EAST, SOUTH, EAST + 50, NORTH))
    FacilityFactory(parcel=parcel, name="Lab", gfa_m2=Decimal("2000"))
    return parcel


def split_body(**changes) -> dict:
    return {"version": 1, "line": CUT_AT_40, "new_code": "P1-C2", "keep_at": EAST_PART, **changes}


def state() -> tuple:
    """Everything a refused or dry-run call must leave as it was."""
    return (
        sorted(Parcel.objects.values_list("pk", "code", "version", "computed_area_m2")),
        sorted(Facility.objects.values_list("pk", "parcel_id", "version")),
        Parcel.history.count(),
    )


# --- split ------------------------------------------------------------------------------------------------------


def test_a_split_answers_the_kept_parcel_and_the_new_one(api, parcel):
    response = api.post(f"/api/v1/parcels/{parcel.pk}/split/", split_body(), format="json")

    assert response.status_code == 200, response.content
    kept, created = response.json()["kept"], response.json()["created"]
    assert (kept["id"], kept["code"], kept["version"], kept["surveyed_area_m2"]) == (parcel.pk, "P1-C", 2, None)
    assert kept["site_area_m2"] == pytest.approx(3600, rel=0.001)
    assert kept["gfa_m2"] == 14000 and kept["gfa_cap_m2"] == pytest.approx(18000, rel=0.001)
    assert (created["code"], created["phase"], created["lot_ref"], created["version"]) == (
        "P1-C2",
        parcel.phase_id,
        "",
        1,
    )
    assert created["site_area_m2"] == pytest.approx(2400, rel=0.001) and created["gfa_m2"] == 0
    assert Parcel.objects.count() == 2


def test_a_dry_run_answers_the_two_parts_and_saves_nothing(api, parcel):
    before = state()

    full = api.post(f"/api/v1/parcels/{parcel.pk}/split/?dry_run=true", split_body(), format="json")
    line_only = api.post(
        f"/api/v1/parcels/{parcel.pk}/split/?dry_run=true", {"version": 1, "line": CUT_AT_40}, format="json"
    )

    assert full.status_code == 200, full.content
    assert full.json()["dry_run"] is True
    assert [(part["site_area_m2"], part["keeps"]) for part in full.json()["parts"]] == [
        pytest.approx((3600, True), rel=0.001),
        pytest.approx((2400, False), rel=0.001),
    ]
    assert full.json()["parts"][0]["geometry"]["type"] == "Polygon"
    assert line_only.status_code == 200, line_only.content
    assert [part["keeps"] for part in line_only.json()["parts"]] == [None, None]
    assert [part["geometry"] for part in line_only.json()["parts"]] == [
        part["geometry"] for part in full.json()["parts"]
    ]
    assert state() == before
    # What the dry run showed is what the split saves.
    done = api.post(f"/api/v1/parcels/{parcel.pk}/split/", split_body(), format="json").json()
    assert [done["kept"]["geometry"], done["created"]["geometry"]] == [p["geometry"] for p in full.json()["parts"]]


@pytest.mark.parametrize("dry_run", ["", "?dry_run=true"])
def test_a_refused_split_is_the_same_400_with_or_without_dry_run_and_saves_nothing(api, parcel, dry_run):
    before = state()

    small = api.post(f"/api/v1/parcels/{parcel.pk}/split/{dry_run}", split_body(keep_at=WEST_PART), format="json")
    missed = api.post(
        f"/api/v1/parcels/{parcel.pk}/split/{dry_run}",
        split_body(line=line((WEST - 50, SOUTH - 10), (WEST - 50, NORTH + 10))),
        format="json",
    )

    assert (small.status_code, missed.status_code) == (400, 400)
    assert small.json() == {
        "max_plot_ratio": ["GFA 14,000 m² exceeds the cap of 12,000 m² (plot ratio 5.0 × 2,400 m²)."]
    }
    assert missed.json() == {
        "line": [
            "The line does not reach parcel P1-C (it passes 50.0 m from it). Draw it across the parcel, from "
            "outside one edge to outside another."
        ]
    }
    assert state() == before


def test_a_split_names_each_missing_or_malformed_field(api, parcel):
    url = f"/api/v1/parcels/{parcel.pk}/split/"

    missing = api.post(url, {"line": CUT_AT_40}, format="json")
    malformed = api.post(
        url, split_body(line={"type": "LineString", "coordinates": [[1, 2], [3, 4]]}, keep_at=[1, 2]), format="json"
    )
    bad_flag = api.post(f"{url}?dry_run=perhaps", split_body(), format="json")

    assert missing.status_code == 400
    assert missing.json() == {"version": ["This field is required."]}
    assert api.post(url, {"version": 1, "line": CUT_AT_40}, format="json").json() == {
        "new_code": ["This field is required."],
        "keep_at": ["This field is required."],
    }
    assert malformed.status_code == 400
    assert malformed.json() == {
        "line": ["The line lies outside Hong Kong (longitude 113.8–114.5 E, latitude 22.1–22.6 N)."],
        "keep_at": ["Expected a GeoJSON object of type Point."],
    }
    assert bad_flag.status_code == 400 and list(bad_flag.json()) == ["dry_run"]
    assert Parcel.objects.count() == 1


def test_a_split_on_a_stale_version_is_a_409(api, parcel):
    api.patch(f"/api/v1/parcels/{parcel.pk}/", {"lot_ref": "STTL 602", "version": 1}, format="json")

    response = api.post(f"/api/v1/parcels/{parcel.pk}/split/", split_body(version=1), format="json")

    assert response.status_code == 409
    assert (response.json()["code"], response.json()["current_version"]) == ("conflict", 2)
    assert Parcel.objects.count() == 1


# --- merge ------------------------------------------------------------------------------------------------------


def merge_body(other, **changes) -> dict:
    return {"version": 1, "other": other.pk, "other_version": 1, **changes}


def test_a_merge_answers_the_merged_parcel(api, parcel, neighbour):
    response = api.post(f"/api/v1/parcels/{parcel.pk}/merge/", merge_body(neighbour), format="json")

    assert response.status_code == 200, response.content
    merged = response.json()
    assert (merged["id"], merged["code"], merged["version"]) == (parcel.pk, "P1-C", 2)
    assert merged["site_area_m2"] == pytest.approx(9000, rel=0.001)
    assert merged["gfa_m2"] == 16000
    assert list(Parcel.objects.values_list("code", flat=True)) == ["P1-C"]
    assert sorted(Facility.objects.filter(parcel=parcel).values_list("name", flat=True)) == ["Lab", "Tower"]


def test_a_merge_dry_run_answers_the_merged_polygon_and_figures_and_saves_nothing(api, parcel, neighbour):
    before = state()

    response = api.post(f"/api/v1/parcels/{parcel.pk}/merge/?dry_run=1", merge_body(neighbour), format="json")

    assert response.status_code == 200, response.content
    preview = response.json()
    assert set(preview) == {"dry_run", "geometry", "site_area_m2", "gfa_m2", "gfa_cap_m2"}
    assert preview["dry_run"] is True and preview["geometry"]["type"] == "Polygon"
    assert preview["site_area_m2"] == pytest.approx(9000, rel=0.001)
    assert (preview["gfa_m2"], preview["gfa_cap_m2"]) == (16000, pytest.approx(45000, rel=0.001))
    assert state() == before


@pytest.mark.parametrize("dry_run", ["", "?dry_run=true"])
def test_a_merge_the_guards_refuse_is_a_400_listing_what_holds_the_other_parcel(api, parcel, neighbour, dry_run):
    CommitmentFactory(parcel=neighbour, organisation=OrganisationFactory(name_en="Nimbrel Labs"))
    before = state()

    response = api.post(f"/api/v1/parcels/{parcel.pk}/merge/{dry_run}", merge_body(neighbour), format="json")

    assert response.status_code == 400
    assert response.json() == {
        "other": [
            "Parcel P1-D cannot be deleted: 1 commitment is made on it (Nimbrel Labs, occupancy at Heads of terms, "
            "1,000 m²)."
        ]
    }
    assert state() == before


def test_merging_parcels_that_do_not_touch_is_a_400_with_the_gap(api, parcel, phase):
    far = ParcelFactory(
        phase=phase, code="P1-G", geometry=geometry.rectangle_geojson(EAST + 20, SOUTH, EAST + 60, NORTH)
    )

    response = api.post(f"/api/v1/parcels/{parcel.pk}/merge/", merge_body(far), format="json")

    assert response.status_code == 400
    assert response.json() == {
        "other": [
            "Parcels P1-C and P1-G do not touch: they are 20.00 m apart. Only parcels that share an edge can be merged."
        ]
    }


@pytest.mark.parametrize("stale", ["version", "other_version"])
def test_a_merge_on_a_stale_version_of_either_parcel_is_a_409(api, parcel, neighbour, stale):
    changed = parcel if stale == "version" else neighbour
    api.patch(f"/api/v1/parcels/{changed.pk}/", {"lot_ref": "STTL 602", "version": 1}, format="json")
    before = state()

    response = api.post(f"/api/v1/parcels/{parcel.pk}/merge/", merge_body(neighbour), format="json")

    assert response.status_code == 409
    assert (response.json()["code"], response.json()["current_version"]) == ("conflict", 2)
    assert state() == before


def test_a_merge_names_each_missing_or_unknown_field(api, parcel):
    url = f"/api/v1/parcels/{parcel.pk}/merge/"

    missing = api.post(url, {}, format="json")
    unknown = [
        api.post(url, {"version": 1, "other": other, "other_version": 1}, format="json")
        for other in (999999, 10**20, "P1-D", None)
    ]

    assert missing.status_code == 400
    assert set(missing.json()) == {"version", "other", "other_version"}
    assert [(answer.status_code, list(answer.json())) for answer in unknown] == [(400, ["other"])] * 4


# --- roles ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["planner", "staff"])
def test_planners_and_staff_split_and_merge(users, parcel, neighbour, role):
    client = api_client_for(users[role])

    split = client.post(f"/api/v1/parcels/{parcel.pk}/split/", split_body(), format="json")
    created = split.json()["created"]
    merged = client.post(
        f"/api/v1/parcels/{parcel.pk}/merge/",
        {"version": 2, "other": created["id"], "other_version": created["version"]},
        format="json",
    )

    assert (split.status_code, merged.status_code) == (200, 200)
    assert merged.json()["site_area_m2"] == pytest.approx(6000, rel=0.001)


@pytest.mark.parametrize("role", ["executive", "partner"])
def test_executives_and_partners_can_neither_split_nor_merge(users, parcel, neighbour, role):
    client = api_client_for(users[role])
    before = state()

    answers = [
        client.post(f"/api/v1/parcels/{parcel.pk}/split/", split_body(), format="json"),
        client.post(f"/api/v1/parcels/{parcel.pk}/split/?dry_run=true", split_body(), format="json"),
        client.post(f"/api/v1/parcels/{parcel.pk}/merge/", merge_body(neighbour), format="json"),
        client.post(f"/api/v1/parcels/{parcel.pk}/merge/?dry_run=true", merge_body(neighbour), format="json"),
    ]

    assert [answer.status_code for answer in answers] == [403, 403, 403, 403]
    assert state() == before


def test_anonymous_callers_are_refused_and_a_missing_parcel_is_a_404(api, parcel, neighbour):
    anonymous = api_client_for(None).post(f"/api/v1/parcels/{parcel.pk}/split/", split_body(), format="json")
    missing = api.post("/api/v1/parcels/999999/merge/", merge_body(neighbour), format="json")

    assert anonymous.status_code in (401, 403)
    assert missing.status_code == 404
    assert Parcel.objects.count() == 2


# --- the answers are the ones the OpenAPI schema documents ------------------------------------------------------


@pytest.fixture
def openapi(db):
    # Requests run inside the test's transaction: keep the handler from closing the connection after each one.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_every_answer_of_split_and_merge_matches_the_schema(openapi, planner, parcel, neighbour):
    token = Token.objects.get_or_create(user=planner)[0].key
    headers = {"Authorization": f"Token {token}", "Host": "testserver"}
    split = openapi["/api/v1/parcels/{id}/split/"]["POST"]
    merge = openapi["/api/v1/parcels/{id}/merge/"]["POST"]
    cases = [
        (split, {"dry_run": "true"}, split_body(), 200),
        (split, {"dry_run": "true"}, {"version": 1, "line": CUT_AT_40}, 200),
        (split, {}, split_body(keep_at=WEST_PART), 400),
        (split, {}, split_body(version=7), 409),
        (merge, {"dry_run": "true"}, merge_body(neighbour), 200),
        (merge, {}, merge_body(neighbour, other_version=7), 409),
        (split, {}, split_body(), 200),
        (merge, {}, merge_body(Parcel.objects.get(code="P1-D"), version=2), 200),
    ]
    for operation, query, body, status in cases:
        case = operation.Case(path_parameters={"id": parcel.pk}, query=query, body=body)
        response = case.call(headers=headers)
        assert response.status_code == status, response.text
        case.validate_response(response, checks=[response_schema_conformance, content_type_conformance])
