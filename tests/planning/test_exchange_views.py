"""The import page, /plan/import/, through Django's test client: who may use it, the file's errors beside the field,
and a preview applied exactly as previewed (the file kept on the server, the plan held to the preview)."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from planning import geometry, services
from planning.models import Parcel
from tests.factories import CAMPUS_ORIGIN, CampusFactory, ParcelFactory, PhaseFactory

pytestmark = pytest.mark.django_db

X0, Y0 = CAMPUS_ORIGIN
URL = "/plan/import/"


def grid_file(*features, name="layout.geojson") -> SimpleUploadedFile:
    data = {"type": "FeatureCollection", "features": list(features)}
    return SimpleUploadedFile(name, json.dumps(data).encode(), content_type="application/geo+json")


def square_feature(code, x0, y0, x1, y1, **properties) -> dict:
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"code": code, **properties},
    }


@pytest.fixture
def p1a(campus):
    phase = PhaseFactory(campus=campus, number=1)
    return ParcelFactory(
        phase=phase, code="P1-A", geometry=geometry.rectangle_geojson(X0 + 100, Y0 + 100, X0 + 200, Y0 + 200)
    )


@pytest.fixture
def signed_in(client, planner):
    client.force_login(planner)
    return client


def preview(client, upload, crs="EPSG:2326"):
    return client.post(URL, {"action": "preview", "crs": crs, "file": upload})


@pytest.mark.parametrize("role", ["executive", "partner"])
def test_only_planners_and_staff_reach_the_page(client, users, campus, role):
    client.force_login(users[role])

    assert client.get(URL).status_code == 403
    assert preview(client, grid_file(square_feature("X", X0, Y0, X0 + 10, Y0 + 10))).status_code == 403
    assert client.post(URL, {"action": "apply", "token": "x"}).status_code == 403
    assert client.get("/plan/import/done/").status_code == 403
    assert not Parcel.objects.exists()


def test_staff_reach_it_too(client, users, campus):
    client.force_login(users["staff"])

    assert client.get(URL).status_code == 200


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("a.geojson", b"", content_type="application/geo+json"), "The submitted file is empty."),
        (
            SimpleUploadedFile("a.geojson", b"{oops", content_type="application/geo+json"),
            "The file is not valid JSON (the problem is at line 1, column 2).",
        ),
        (
            SimpleUploadedFile("a.geojson", b"\xff\xfe{}", content_type="application/geo+json"),
            "The file is not UTF-8 text, so it is not GeoJSON.",
        ),
        (
            SimpleUploadedFile("a.geojson", b'{"type": "Feature"}', content_type="application/geo+json"),
            "Expected a GeoJSON FeatureCollection (an object with &quot;type&quot;: &quot;FeatureCollection&quot;), "
            "got &#x27;Feature&#x27;.",
        ),
        (
            SimpleUploadedFile("a.geojson", b"[" * 40 + b"]" * 40, content_type="application/geo+json"),
            "The file nests lists or objects more than 32 levels deep.",
        ),
    ],
)
def test_a_file_that_is_not_an_import_file_is_refused_beside_the_field(signed_in, campus, upload, message):
    response = preview(signed_in, upload)

    assert response.status_code == 200
    html = response.content.decode()
    error = '<div class="field-error" id="id_file_error" data-error-for="id_file" aria-live="polite">'
    assert f"{error}<p>{message}</p></div>" in html
    assert 'aria-invalid="true"' in html and "import-preview" not in html


@override_settings(PARCEL_IMPORT_MAX_BYTES=100)
def test_a_file_too_big_is_refused_beside_the_field(signed_in, campus):
    upload = grid_file(square_feature("X", X0, Y0, X0 + 10, Y0 + 10, lot_ref="x" * 100))
    size = upload.size

    html = preview(signed_in, upload).content.decode()

    assert size > 100
    assert (
        f"<p>The file is {size}\xa0bytes; at most 100\xa0bytes can be imported. Split it into several files.</p>"
        in html
    )


def test_a_crs_that_conflicts_with_the_files_is_refused_beside_the_crs(signed_in, campus):
    data = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "EPSG:2326"}},
        "features": [square_feature("X", X0, Y0, X0 + 10, Y0 + 10)],
    }
    upload = SimpleUploadedFile("a.geojson", json.dumps(data).encode())

    html = preview(signed_in, upload, crs="EPSG:4326").content.decode()

    assert (
        '<div class="field-error" id="id_crs_error" data-error-for="id_crs" aria-live="polite"><p>The file says it is '
        "in EPSG:2326 (its crs member), but EPSG:4326 was chosen."
    ) in html


def test_a_preview_saves_nothing_and_apply_applies_the_file_kept_on_the_server(signed_in, campus, p1a):
    upload = grid_file(
        square_feature("P1-B", X0 + 300, Y0 + 100, X0 + 400, Y0 + 150, phase=1),
        {"type": "Feature", "geometry": None, "properties": {"code": "P1-A", "lot_ref": "DD 8"}},
        name="survey.geojson",
    )

    response = preview(signed_in, upload)

    html = response.content.decode()
    assert "If you apply this file — new parcels: 1; updated: 1; unchanged: 0." in html
    assert "<li>Lot reference: — → DD 8</li>" in html and "New parcel" in html
    assert list(Parcel.objects.values_list("code", "lot_ref")) == [("P1-A", "")]
    token = response.context["token"]

    # Whatever else the browser sends with the token is not read: the previewed file is applied.
    other = grid_file(square_feature("EVIL", X0 + 600, Y0 + 600, X0 + 700, Y0 + 700))
    applied = signed_in.post(URL, {"action": "apply", "token": token, "file": other, "crs": "EPSG:2326"})

    assert applied.status_code == 302 and applied["Location"] == "/plan/import/done/"
    assert sorted(Parcel.objects.values_list("code", "lot_ref")) == [("P1-A", "DD 8"), ("P1-B", "")]
    done = signed_in.get("/plan/import/done/").content.decode()
    assert "survey.geojson is imported into" in done and 'href="/plan/parcels/P1-B/"' in done
    # The token was used once; the summary is shown once.
    again = signed_in.post(URL, {"action": "apply", "token": token})
    assert "This preview can no longer be applied" in again.content.decode()
    assert signed_in.get("/plan/import/done/")["Location"] == URL


def test_a_parcel_changed_between_preview_and_apply_refuses_the_apply(signed_in, campus, p1a):
    upload = grid_file({"type": "Feature", "geometry": None, "properties": {"code": "P1-A", "lot_ref": "DD 8"}})
    token = preview(signed_in, upload).context["token"]
    services.parcel_update(parcel=p1a, actor=None, zoning="R(B)")  # another planner, meanwhile

    html = signed_in.post(URL, {"action": "apply", "token": token}).content.decode()

    assert "The import was refused" in html
    assert "Parcel P1-A was changed by someone else since the preview (version 1, now 2)." in html
    assert Parcel.objects.get(pk=p1a.pk).lot_ref == ""


def test_a_refused_preview_lists_every_reason_and_offers_no_apply(signed_in, campus, p1a):
    upload = grid_file(
        square_feature("P1-B", X0 + 300, Y0 + 100, X0 + 400, Y0 + 150),
        square_feature("P1-X", X0 + 120, Y0 + 120, X0 + 140, Y0 + 140),
        square_feature("P1-Z", X0 + 500, Y0 + 100, X0 + 550, Y0 + 150, phase=9),
    )

    response = preview(signed_in, upload)

    html = response.content.decode()
    assert "2 of 3 features were refused, so nothing was imported." in html
    assert "The parcel overlaps parcel P1-A by 400 m²." in html
    assert f"phase: {campus.name} has no phase 9 (its phases: 1)." in html
    assert 'value="apply"' not in html
    assert not Parcel.objects.filter(code="P1-B").exists()


def test_with_several_campuses_the_planner_chooses_one(signed_in, campus, p1a):
    other = CampusFactory()
    PhaseFactory(campus=other, number=1)

    form = signed_in.get(URL).content.decode()
    assert '<select name="campus"' in form
    response = signed_in.post(
        URL,
        {
            "action": "preview",
            "crs": "EPSG:2326",
            "campus": other.pk,
            "file": grid_file(square_feature("P1-A", X0, Y0, X0 + 50, Y0 + 50)),
        },
    )

    assert (
        "If you apply this file — new parcels: 1; updated: 0;" in response.content.decode()
    )  # P1-A is new in that campus
