"""The parcels' import and export over the API: answers, refusals, roles, limits, formats and query counts."""

import csv
import datetime
import io
import json
from decimal import Decimal

import openpyxl
import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from planning import geometry
from planning.models import Parcel
from tests.conftest import api_client_for
from tests.factories import (
    CAMPUS_ORIGIN,
    CampusFactory,
    FacilityFactory,
    FacilityTypeFactory,
    ParcelFactory,
    PhaseFactory,
    grid_square,
)

pytestmark = pytest.mark.django_db

X0, Y0 = CAMPUS_ORIGIN
IMPORT = "/api/v1/parcels/import/"
EXPORT = "/api/v1/parcels/export/"


def square(x0, y0, x1, y1) -> dict:
    """A rectangle in HK1980 Grid metres."""
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def feature(code, shape, **properties) -> dict:
    return {"type": "Feature", "geometry": shape, "properties": {"code": code, **properties}}


def body(campus, *features, crs="EPSG:2326") -> dict:
    data = {"campus": campus.pk, "collection": {"type": "FeatureCollection", "features": list(features)}}
    if crs:
        data["crs"] = crs
    return data


@pytest.fixture
def phase(campus):
    return PhaseFactory(campus=campus, number=1)


@pytest.fixture
def p1a(phase):
    return ParcelFactory(
        phase=phase, code="P1-A", geometry=geometry.rectangle_geojson(X0 + 100, Y0 + 100, X0 + 200, Y0 + 200)
    )


# --- import -----------------------------------------------------------------------------------------------------


class TestImport:
    def test_success_answers_the_codes_created_and_updated(self, api, campus, p1a):
        data = body(
            campus,
            feature("P1-A", None, lot_ref="DD 7"),
            feature("P1-B", square(X0 + 300, Y0 + 100, X0 + 400, Y0 + 150), phase=1),
        )

        response = api.post(IMPORT, data, format="json")

        assert response.status_code == 200, response.content
        assert response.json() == {"created": ["P1-B"], "updated": ["P1-A"]}
        assert Parcel.objects.get(pk=p1a.pk).lot_ref == "DD 7"
        assert float(Parcel.objects.get(code="P1-B").computed_area_m2) == pytest.approx(5000, rel=0.001)

    def test_a_dry_run_answers_feature_by_feature_and_saves_nothing(self, api, campus, p1a):
        data = body(
            campus,
            feature("P1-A", square(X0 + 100, Y0 + 100, X0 + 200, Y0 + 150), zoning="R(A)"),
            feature("P1-B", square(X0 + 300, Y0 + 100, X0 + 400, Y0 + 150)),
        )

        response = api.post(f"{IMPORT}?dry_run=true", data, format="json")

        assert response.status_code == 200, response.content
        answer = response.json()
        assert (answer["created"], answer["updated"], answer["unchanged"]) == (["P1-B"], ["P1-A"], [])
        updated, created = answer["features"]
        assert {key: updated[key] for key in ("index", "code", "action", "changes", "geometry_changed", "version")} == {
            "index": 0,
            "code": "P1-A",
            "action": "updated",
            "changes": [{"field": "zoning", "old": "OU(I&T)", "new": "R(A)"}],
            "geometry_changed": True,
            "version": 1,
        }
        assert updated["previous_site_area_m2"] == pytest.approx(10_000, rel=0.001)
        assert updated["site_area_m2"] == pytest.approx(5000, rel=0.001)
        assert (created["action"], created["previous_site_area_m2"]) == ("created", None)
        assert list(Parcel.objects.values_list("code", "zoning", "version")) == [("P1-A", "OU(I&T)", 1)]

    def test_a_refusal_lists_every_feature_refused_and_saves_nothing(self, api, campus, p1a):
        data = body(
            campus,
            feature("P1-B", square(X0 + 300, Y0 + 100, X0 + 400, Y0 + 150)),  # good
            feature("P1-X", square(X0 + 120, Y0 + 120, X0 + 140, Y0 + 140)),
            feature("P1-Y", {"type": "MultiPolygon", "coordinates": []}),
            feature("P1-Z", square(X0 + 500, Y0 + 100, X0 + 550, Y0 + 150), phase=9),
        )

        response = api.post(IMPORT, data, format="json")

        assert response.status_code == 400
        assert response.json() == {
            "refused": [
                {
                    "index": 1,
                    "code": "P1-X",
                    "reason": "The parcel overlaps parcel P1-A by 400 m².",
                    "field": "geometry",
                },
                {
                    "index": 2,
                    "code": "P1-Y",
                    "reason": "The geometry is a MultiPolygon; a parcel is one Polygon. Give each part its own feature "
                    "and code.",
                    "field": "geometry",
                },
                {
                    "index": 3,
                    "code": "P1-Z",
                    "reason": f"phase: {campus.name} has no phase 9 (its phases: 1).",
                    "field": "phase",
                },
            ]
        }
        assert list(Parcel.objects.values_list("code", flat=True)) == ["P1-A"]

    def test_a_nul_in_a_code_or_a_text_property_is_refused_by_feature(self, api, campus, p1a):
        # PostgreSQL refuses NUL in text: these were a 500 before they were refused here.
        data = body(
            campus,
            feature("P1-Z\x00", square(X0 + 300, Y0 + 100, X0 + 400, Y0 + 150)),
            feature("P1-A", None, lot_ref="DD\x007"),
            feature("P1-B", square(X0 + 500, Y0 + 100, X0 + 550, Y0 + 150), zoning="OU\x00"),
        )

        response = api.post(IMPORT, data, format="json")

        assert response.status_code == 400
        assert response.json() == {
            "refused": [
                {"index": 0, "code": "P1-Z\ufffd", "reason": "code: Null characters are not allowed.", "field": "code"},
                {
                    "index": 1,
                    "code": "P1-A",
                    "reason": "lot_ref: Null characters are not allowed.",
                    "field": "lot_ref",
                },
                {"index": 2, "code": "P1-B", "reason": "zoning: Null characters are not allowed.", "field": "zoning"},
            ]
        }
        assert list(Parcel.objects.values_list("code", "lot_ref")) == [("P1-A", p1a.lot_ref)]

    def test_the_legacy_crs_member_is_enough_and_a_conflict_is_refused(self, api, campus, phase):
        data = body(campus, feature("P1-B", square(X0 + 300, Y0 + 100, X0 + 400, Y0 + 150)), crs=None)
        data["collection"]["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2326"}}

        conflict = api.post(IMPORT, {**data, "crs": "EPSG:4326"}, format="json")
        assert conflict.status_code == 400
        assert conflict.json() == {
            "crs": [
                "The file says it is in EPSG:2326 (its crs member), but EPSG:4326 was chosen. Choose EPSG:2326, or "
                "correct the file's crs member."
            ]
        }
        assert api.post(IMPORT, data, format="json").json() == {"created": ["P1-B"], "updated": []}

    @pytest.mark.parametrize(
        ("change", "expected"),
        [
            (
                {"collection": {"type": "Feature"}},
                {
                    "collection": [
                        'Expected a GeoJSON FeatureCollection (an object with "type": "FeatureCollection"), '
                        "got 'Feature'."
                    ]
                },
            ),
            ({"crs": "EPSG:3857"}, {"crs": ['"EPSG:3857" is not a valid choice.']}),
            ({"campus": 999_999}, {"campus": ['Invalid pk "999999" - object does not exist.']}),
            ({"collection": None}, {"collection": ["This field may not be null."]}),
        ],
    )
    def test_a_bad_request_gets_a_field_error(self, api, campus, change, expected):
        data = {**body(campus, feature("X", square(X0, Y0, X0 + 10, Y0 + 10))), **change}

        response = api.post(IMPORT, data, format="json")

        assert (response.status_code, response.json()) == (400, expected)

    def test_a_bad_dry_run_flag_is_refused(self, api, campus):
        response = api.post(f"{IMPORT}?dry_run=maybe", body(campus, feature("X", None)), format="json")

        assert (response.status_code, response.json()) == (400, {"dry_run": ["Must be a valid boolean."]})

    @pytest.mark.parametrize(("role", "status"), [("executive", 403), ("partner", 403), (None, 401)])
    def test_only_planners_and_staff_import(self, users, campus, phase, role, status):
        client = api_client_for(users[role] if role else None)

        response = client.post(IMPORT, body(campus, feature("P1-B", square(X0, Y0, X0 + 10, Y0 + 10))), format="json")

        assert response.status_code == status
        assert not Parcel.objects.exists()

    def test_staff_import_too(self, users, campus):
        client = api_client_for(users["staff"])

        response = client.post(IMPORT, body(campus, feature("S-1", square(X0, Y0, X0 + 10, Y0 + 10))), format="json")

        assert response.json() == {"created": ["S-1"], "updated": []}

    def test_a_body_over_the_import_limit_is_refused_unread(self, api, campus, settings):
        settings.REQUEST_BODY_LIMITS_BY_ROUTE = {**settings.REQUEST_BODY_LIMITS_BY_ROUTE, "parcel-import": 4000}
        data = body(campus, feature("X", square(X0, Y0, X0 + 10, Y0 + 10), lot_ref="x" * 5000))

        response = api.post(IMPORT, data, format="json")

        assert response.status_code == 413
        assert response.json()["code"] == "request_too_large"
        assert response.json()["detail"].endswith("at most 3.9\xa0KB can be sent here.")
        assert not Parcel.objects.exists()

    def test_a_file_larger_than_the_rest_of_the_api_takes_is_imported(self, api, campus, settings):
        # 3 MB: over the 2.5 MB of the other API routes, under the import's own limit (PARCEL_IMPORT_MAX_BYTES).
        assert settings.REQUEST_BODY_LIMIT_DATA_BYTES < 3_000_000 < settings.REQUEST_BODY_LIMIT_IMPORT_BYTES
        data = body(campus, feature("BIG", square(X0, Y0, X0 + 10, Y0 + 10), notes="n" * 3_000_000))

        response = api.post(IMPORT, data, format="json")

        assert (response.status_code, response.json()) == (200, {"created": ["BIG"], "updated": []})

    @override_settings(PARCEL_IMPORT_MAX_FEATURES=2)
    def test_too_many_features_are_refused_whole(self, api, campus):
        features = [feature(f"F-{n}", square(X0 + 20 * n, Y0, X0 + 20 * n + 10, Y0 + 10)) for n in range(3)]

        response = api.post(IMPORT, body(campus, *features), format="json")

        assert response.json() == {
            "collection": ["The file has 3 features; at most 2 can be imported at once. Split it into several files."]
        }


# --- export -----------------------------------------------------------------------------------------------------


@pytest.fixture
def plan(campus, phase):
    """Two parcels in phase 1 and one in phase 2, with offices and a lab; text that a spreadsheet would run."""
    office = FacilityTypeFactory(code="office")
    lab = FacilityTypeFactory(code="lab", name_en="Laboratory", name_zh="實驗室", capacity_unit="benches")
    first = ParcelFactory(
        phase=phase,
        code="P1-A",
        geometry=grid_square(0),
        lot_ref='=HYPERLINK("x")',
        handover_date=datetime.date(2027, 3, 31),
    )
    FacilityFactory(parcel=first, facility_type=office, gfa_m2=Decimal("20000"))
    FacilityFactory(parcel=first, facility_type=office, gfa_m2=Decimal("5000.5"))
    FacilityFactory(parcel=first, facility_type=lab, gfa_m2=Decimal("4000"))
    ParcelFactory(
        phase=phase, code="P1-B", geometry=grid_square(1), lot_ref="丈量約份第99約", max_plot_ratio=Decimal("4.5")
    )
    ParcelFactory(phase=PhaseFactory(campus=campus, number=2), code="P2-A", geometry=grid_square(2), lot_ref="@SUM(A1)")
    return campus


HEADER = [
    "campus",
    "code",
    "phase",
    "lot_ref",
    "zoning",
    "max_plot_ratio",
    "max_site_coverage_pct",
    "max_building_height_mpd",
    "site_area_m2",
    "gfa_lab_m2",
    "gfa_office_m2",
    "gfa_m2",
    "gfa_cap_m2",
    "land_status",
    "handover_date",
]


def filename(extension: str) -> str:
    return f'attachment; filename="innopole-parcels-{timezone.localdate().isoformat()}.{extension}"'


class TestExport:
    def test_csv_is_utf8_with_a_bom_one_row_per_parcel_formulas_neutralised(self, api, plan):
        response = api.get(f"{EXPORT}?format=csv")

        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"] == filename("csv")
        assert response.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert rows[0] == HEADER
        code = plan.code
        area = rows[1][8]
        assert float(area) == pytest.approx(10_000, rel=0.001)  # 100 m × 100 m
        assert rows[1][:8] == [code, "P1-A", "1", '\'=HYPERLINK("x")', "OU(I&T)", "5.00", "60.00", "90.0"]
        assert rows[1][9:] == ["4000.00", "25000.50", "29000.50", rows[1][12], "not_transferred", "2027-03-31"]
        assert float(rows[1][12]) == pytest.approx(50_000, rel=0.001)  # 5 × site area
        assert rows[2][1:4] == ["P1-B", "1", "丈量約份第99約"]
        assert rows[2][9:12] == ["0.00", "0.00", "0.00"] and rows[2][14] == ""
        assert rows[3][1:4] == ["P2-A", "2", "'@SUM(A1)"]

    def test_xlsx_has_numbers_as_numbers_a_frozen_header_and_no_formulas(self, api, plan):
        response = api.get(f"{EXPORT}?format=xlsx")

        assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        assert response["Content-Disposition"] == filename("xlsx")
        sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
        assert (sheet.title, sheet.freeze_panes) == ("Parcels", "A2")
        rows = list(sheet.iter_rows(values_only=True))
        assert list(rows[0]) == HEADER
        first = dict(zip(HEADER, rows[1], strict=True))
        assert first["code"] == "P1-A" and first["phase"] == 1
        assert first["lot_ref"] == '\'=HYPERLINK("x")'
        assert sheet.cell(row=2, column=4).data_type == "s"  # text, not a formula
        assert (first["gfa_office_m2"], first["gfa_lab_m2"], first["gfa_m2"]) == (25000.5, 4000, 29000.5)
        assert isinstance(first["site_area_m2"], float | int) and first["site_area_m2"] == pytest.approx(
            10_000, rel=0.001
        )
        assert first["max_plot_ratio"] == 5 and first["handover_date"] == datetime.datetime(2027, 3, 31)
        assert rows[3][3] == "'@SUM(A1)"
        assert sheet.column_dimensions["D"].width == 30  # lot_ref: wide enough to read

    def test_the_parcel_filters_apply(self, api, plan):
        other = CampusFactory()
        ParcelFactory(phase=PhaseFactory(campus=other, number=1), code="ELSEWHERE", geometry=grid_square(5))

        def codes(query):
            return [row["code"] for row in api.get(f"{EXPORT}?{query}").json()]

        assert codes(f"campus={plan.pk}") == ["P1-A", "P1-B", "P2-A"]
        assert codes(f"campus={plan.pk}&phase_number=1") == ["P1-A", "P1-B"]
        assert codes("code=elsewhere") == ["ELSEWHERE"]
        rows = list(csv.reader(io.StringIO(api.get(f"{EXPORT}?format=csv&phase_number=2").content.decode("utf-8-sig"))))
        assert [row[1] for row in rows[1:]] == ["P2-A"]

    def test_geojson_is_a_feature_collection_that_imports_back_unchanged(self, api, plan):
        response = api.get(f"{EXPORT}?format=geojson&campus={plan.pk}")

        assert response["Content-Type"] == "application/geo+json"
        assert response["Content-Disposition"] == filename("geojson")
        exported = json.loads(response.content)
        assert exported["type"] == "FeatureCollection"
        first = exported["features"][0]
        assert first["geometry"]["type"] == "Polygon"
        assert list(first["properties"]) == HEADER
        assert (first["properties"]["code"], first["properties"]["gfa_office_m2"]) == ("P1-A", 25000.5)

        again = api.post(
            f"{IMPORT}?dry_run=true", {"campus": plan.pk, "crs": "EPSG:4326", "collection": exported}, format="json"
        )

        assert again.status_code == 200, again.content
        assert (again.json()["created"], again.json()["updated"], again.json()["unchanged"]) == (
            [],
            [],
            ["P1-A", "P1-B", "P2-A"],
        )

    def test_json_is_the_default_and_an_unknown_format_is_a_400(self, api, plan):
        default = api.get(EXPORT)
        assert default["Content-Type"] == "application/json"
        assert [row["code"] for row in default.json()] == ["P1-A", "P1-B", "P2-A"]

        unknown = api.get(f"{EXPORT}?format=pdf")
        assert (unknown.status_code, unknown.json()) == (
            400,
            {"format": ["Choose a format of json, csv, xlsx, geojson."]},
        )
        # `?format=` picks this action's renderers only: the list of parcels has no CSV.
        assert api.get("/api/v1/parcels/?format=csv").status_code == 404

    @pytest.mark.parametrize("role", ["planner", "executive", "staff", "partner"])
    def test_every_signed_in_role_exports_and_errors_are_json(self, users, plan, role):
        assert api_client_for(users[role]).get(f"{EXPORT}?format=xlsx").status_code == 200

        anonymous = api_client_for(None).get(f"{EXPORT}?format=xlsx")
        assert anonymous.status_code == 401 and anonymous["Content-Type"] == "application/json"
        bad_filter = api_client_for(users[role]).get(f"{EXPORT}?format=csv&campus=abc")
        assert bad_filter.status_code == 400 and bad_filter["Content-Type"] == "application/json"
        not_allowed = api_client_for(users[role]).generic("TRACE", f"{EXPORT}?format=csv")
        # Only planners and staff write, so a method the export does not take is 405 to them and 403 to the others.
        assert not_allowed.status_code == (405 if role in ("planner", "staff") else 403)
        assert not_allowed["Content-Type"] == "application/json"
        options = api_client_for(users[role]).options(f"{EXPORT}?format=xlsx")
        assert options.status_code == 200 and options.json()["name"] == "Export"

    @pytest.mark.parametrize("chosen", ["csv", "xlsx", "geojson", "json"])
    def test_a_fixed_number_of_queries_whatever_the_number_of_parcels(self, api, phase, chosen):
        office = FacilityTypeFactory(code="office")

        def add(indexes):
            for index in indexes:
                parcel = ParcelFactory(phase=phase, geometry=grid_square(index))
                FacilityFactory(parcel=parcel, facility_type=office, gfa_m2=Decimal("1000"))

        def queries():
            with CaptureQueriesContext(connection) as captured:
                assert api.get(f"{EXPORT}?format={chosen}").status_code == 200
            return len(captured)

        add(range(2))
        few = queries()
        add(range(2, 20))
        many = queries()

        # The token and its user, the facility types, the GFA by parcel and type, the parcels.
        assert few == many == 4

    def test_the_schema_documents_the_formats_and_the_filters(self, client):
        schema = client.get("/api/schema/?format=json").json()
        operation = schema["paths"]["/api/v1/parcels/export/"]["get"]
        parameters = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
        assert sorted(parameters["format"]["schema"]["enum"]) == ["csv", "geojson", "json", "xlsx"]
        assert {"campus", "phase_number", "land_status", "zoning"} <= set(parameters)
        assert set(operation["responses"]["200"]["content"]) == {
            "application/json",
            "text/csv",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/geo+json",
        }
        assert "/api/v1/parcels/import/" in schema["paths"]
