"""The planning API: roles, refusals, conflicts, GeoJSON, filtering (query counts: tests/test_query_counts.py)."""

import datetime
from decimal import Decimal

import pytest

from planning import services
from planning.geometry import rectangle_geojson
from planning.models import Facility, Parcel, Phase, UtilityCapacity
from tests.conftest import api_client_for
from tests.factories import (
    CAMPUS_ORIGIN,
    FacilityFactory,
    FacilityTypeFactory,
    MilestoneFactory,
    ParcelFactory,
    PhaseFactory,
    ScheduleDependencyFactory,
    UtilityCapacityFactory,
    grid_square,
)

pytestmark = pytest.mark.django_db

X0, Y0 = CAMPUS_ORIGIN

LIST_ENDPOINTS = [
    "/api/v1/campuses/",
    "/api/v1/phases/",
    "/api/v1/parcels/",
    "/api/v1/parcels/geojson/",
    "/api/v1/facility-types/",
    "/api/v1/facilities/",
    "/api/v1/utility-capacities/",
    "/api/v1/schedule-items/",
    "/api/v1/schedule-dependencies/",
]


def make_plan(phases: int, parcels_per_phase: int) -> None:
    """A plan of the given size on one campus, with a facility per parcel and a utility and two linked milestones
    per phase."""
    first = PhaseFactory(number=1)
    campus = first.campus
    made = [first] + [PhaseFactory(campus=campus, number=n) for n in range(2, phases + 1)]
    index = 0
    for phase in made:
        UtilityCapacityFactory(phase=phase)
        ScheduleDependencyFactory(predecessor=MilestoneFactory(phase=phase), successor=MilestoneFactory(phase=phase))
        for _ in range(parcels_per_phase):
            parcel = ParcelFactory(phase=phase, geometry=grid_square(index))
            FacilityFactory(parcel=parcel, gfa_m2=Decimal("1000"))
            index += 1


class TestRoles:
    @pytest.mark.parametrize("role", ["planner", "executive", "staff", "partner"])
    def test_every_signed_in_role_reads_the_plan(self, users, role):
        ParcelFactory()
        client = api_client_for(users[role])
        for url in LIST_ENDPOINTS:
            assert client.get(url).status_code == 200, url

    def test_anonymous_users_are_refused(self):
        ParcelFactory()
        client = api_client_for(None)
        for url in LIST_ENDPOINTS:
            assert client.get(url).status_code in (401, 403), url

    @pytest.mark.parametrize("role", ["planner", "staff"])
    def test_planners_and_staff_write(self, users, role):
        phase = PhaseFactory()
        response = api_client_for(users[role]).post(
            "/api/v1/parcels/",
            {"campus": phase.campus_id, "phase": phase.pk, "code": "W-1", "geometry": grid_square(0)},
            format="json",
        )
        assert response.status_code == 201, response.content
        assert response.json()["zoning"] == "OU(I&T)"  # from the campus defaults

    @pytest.mark.parametrize("role", ["executive", "partner"])
    def test_executives_and_partners_cannot_write(self, users, role):
        parcel = ParcelFactory()
        client = api_client_for(users[role])

        created = client.post(
            "/api/v1/parcels/",
            {"campus": parcel.campus_id, "code": "W-1", "geometry": grid_square(5)},
            format="json",
        )
        changed = client.patch(f"/api/v1/parcels/{parcel.pk}/", {"lot_ref": "mine"}, format="json")
        deleted = client.delete(f"/api/v1/parcels/{parcel.pk}/")

        assert (created.status_code, changed.status_code, deleted.status_code) == (403, 403, 403)
        parcel.refresh_from_db()
        assert parcel.lot_ref == "" and Parcel.objects.count() == 1


class TestWrites:
    def test_a_rule_violation_is_a_400_with_field_errors_and_nothing_saved(self, api):
        parcel = ParcelFactory(surveyed_area_m2=Decimal("9000"), max_plot_ratio=Decimal("5"))
        office = FacilityTypeFactory()

        response = api.post(
            "/api/v1/facilities/",
            {"parcel": parcel.pk, "facility_type": office.pk, "name": "Tower", "gfa_m2": "46000"},
            format="json",
        )

        assert response.status_code == 400
        assert response.json() == {
            "gfa_m2": [f"Parcel {parcel.code}: GFA 46,000 m² exceeds the cap of 45,000 m² (plot ratio 5.0 × 9,000 m²)."]
        }
        assert not Facility.objects.exists()

    def test_an_overlapping_parcel_is_a_400_on_geometry(self, api):
        parcel = ParcelFactory(geometry=rectangle_geojson(X0 + 10, Y0 + 10, X0 + 110, Y0 + 110))
        response = api.post(
            "/api/v1/parcels/",
            {
                "campus": parcel.campus_id,
                "code": "X",
                "geometry": rectangle_geojson(X0 + 60, Y0 + 10, X0 + 160, Y0 + 110),
            },
            format="json",
        )
        assert response.status_code == 400
        assert response.json()["geometry"] == [f"The parcel overlaps parcel {parcel.code} by 5,000 m²."]
        assert Parcel.objects.count() == 1

    def test_malformed_input_is_a_400_naming_each_field(self, api):
        phase = PhaseFactory()
        response = api.post(
            "/api/v1/parcels/",
            {
                "campus": phase.campus_id,
                "code": "",
                "geometry": {"type": "Polygon", "coordinates": "nope"},
                "max_plot_ratio": "lots",
                "land_status": "sold",
            },
            format="json",
        )
        assert response.status_code == 400
        assert set(response.json()) == {"code", "max_plot_ratio", "land_status"}
        # Once the fields are well-formed, the geometry is checked and its error named.
        response = api.post(
            "/api/v1/parcels/",
            {"campus": phase.campus_id, "code": "G", "geometry": {"type": "Polygon", "coordinates": "nope"}},
            format="json",
        )
        assert response.status_code == 400
        assert "linear rings" in response.json()["geometry"][0]

    def test_a_stale_version_is_a_409_and_the_newer_edit_survives(self, users):
        parcel = ParcelFactory()
        first, second = api_client_for(users["planner"]), api_client_for(users["staff"])
        version = first.get(f"/api/v1/parcels/{parcel.pk}/").json()["version"]

        ok = first.patch(f"/api/v1/parcels/{parcel.pk}/", {"lot_ref": "A", "version": version}, format="json")
        late = second.patch(f"/api/v1/parcels/{parcel.pk}/", {"lot_ref": "B", "version": version}, format="json")

        assert ok.status_code == 200 and ok.json()["version"] == version + 1
        assert late.status_code == 409
        assert late.json()["current_version"] == version + 1
        parcel.refresh_from_db()
        assert parcel.lot_ref == "A"

    def test_updates_return_the_recomputed_figures(self, api):
        parcel = ParcelFactory(max_plot_ratio=Decimal("2"))
        FacilityFactory(parcel=parcel, gfa_m2=Decimal("5000"))

        response = api.patch(f"/api/v1/parcels/{parcel.pk}/", {"surveyed_area_m2": 12000}, format="json")

        body = response.json()
        assert response.status_code == 200
        assert (body["site_area_m2"], body["gfa_m2"], body["gfa_cap_m2"]) == (12000.0, 5000.0, 24000.0)
        assert body["area_mismatch"] is True

    def test_deleting_a_phase_with_parcels_is_a_400(self, api):
        parcel = ParcelFactory()
        response = api.delete(f"/api/v1/phases/{parcel.phase_id}/")
        assert response.status_code == 400
        assert Phase.objects.filter(pk=parcel.phase_id).exists()

    def test_utility_capacity_round_trip(self, api):
        phase = PhaseFactory()
        response = api.post(
            "/api/v1/utility-capacities/",
            {
                "phase": phase.pk,
                "kind": "power",
                "capacity": 12.5,
                "available_from": "2026-12-31",
                "responsible": "CLP Power",
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        assert response.json()["unit"] == "MVA"
        assert response.json()["responsible"] == "CLP Power"
        utility = UtilityCapacity.objects.get()
        assert utility.capacity == Decimal("12.5")

        url = f"/api/v1/utility-capacities/{utility.pk}/"
        changed = api.patch(url, {"responsible": "CLP Power Hong Kong"}, format="json")

        assert changed.status_code == 200 and changed.json()["responsible"] == "CLP Power Hong Kong"
        assert api.get(url).json()["responsible"] == "CLP Power Hong Kong"
        assert [row.responsible for row in utility.history.order_by("history_id")] == [
            "CLP Power",
            "CLP Power Hong Kong",
        ]

    def test_a_utility_s_responsible_party_over_200_characters_is_a_400_on_its_field(self, api):
        utility = UtilityCapacityFactory(responsible="Water Supplies Department")

        response = api.patch(f"/api/v1/utility-capacities/{utility.pk}/", {"responsible": "x" * 201}, format="json")

        assert response.status_code == 400
        assert response.json() == {"responsible": ["Ensure this field has no more than 200 characters."]}
        utility.refresh_from_db()
        assert (utility.responsible, utility.version) == ("Water Supplies Department", 1)


class TestReads:
    def test_phase_exposes_site_area_and_gfa_by_type(self, api):
        phase = PhaseFactory()
        office = FacilityTypeFactory()
        housing = FacilityTypeFactory(code="talent_housing", name_en="Talent accommodation", capacity_unit="units")
        parcel = ParcelFactory(phase=phase, surveyed_area_m2=Decimal("10000"))
        FacilityFactory(parcel=parcel, facility_type=office, gfa_m2=Decimal("30000"))
        FacilityFactory(parcel=parcel, facility_type=housing, gfa_m2=Decimal("12000"))

        body = api.get(f"/api/v1/phases/{phase.pk}/").json()

        assert body["site_area_m2"] == 10000.0
        assert body["site_area_ha"] == 1.0
        assert body["gfa_m2"] == 42000.0
        assert body["gfa_by_type"] == {"office": 30000.0, "talent_housing": 12000.0}

    def test_filters(self, api):
        make_plan(phases=2, parcels_per_phase=2)
        phase_two = Phase.objects.get(number=2)

        by_phase = api.get("/api/v1/parcels/?phase_number=2").json()
        facilities = api.get(f"/api/v1/facilities/?phase={phase_two.pk}").json()
        late = MilestoneFactory(phase=phase_two, title="Late", baseline_start=datetime.date(2000, 1, 1))
        done = MilestoneFactory(phase=phase_two, title="Done", baseline_start=datetime.date(2000, 1, 1))
        services.schedule_item_update(item=done, actor=None, actual_start=datetime.date(2000, 1, 2))
        overdue = api.get("/api/v1/schedule-items/?overdue=true").json()

        assert {p["phase_number"] for p in by_phase["results"]} == {2} and by_phase["count"] == 2
        assert facilities["count"] == 2
        assert [item["id"] for item in overdue["results"]] == [late.pk]
        assert overdue["results"][0]["overdue"] is True

    def test_bad_filter_values_are_a_400(self, api):
        response = api.get("/api/v1/parcels/?land_status=sold")
        assert response.status_code == 400
        assert "land_status" in response.json()

    def test_pagination(self, api):
        make_plan(phases=1, parcels_per_phase=3)
        page = api.get("/api/v1/parcels/?page_size=2").json()
        assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]


class TestGeoJSON:
    def test_feature_collection_follows_rfc_7946(self, api):
        make_plan(phases=2, parcels_per_phase=2)

        response = api.get("/api/v1/parcels/geojson/")

        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/geo+json")
        body = response.json()
        assert body["type"] == "FeatureCollection"
        assert len(body["features"]) == 4
        for feature in body["features"]:
            assert feature["type"] == "Feature"
            assert isinstance(feature["id"], int)
            ring = feature["geometry"]["coordinates"][0]
            assert feature["geometry"]["type"] == "Polygon"
            assert ring[0] == ring[-1] and len(ring) >= 4
            assert all(113.8 < lon < 114.5 and 22.1 < lat < 22.6 for lon, lat in ring)
            props = feature["properties"]
            assert {"code", "phase", "site_area_m2"} <= set(props)
            assert props["phase"] in (1, 2)
            assert props["site_area_m2"] == pytest.approx(10_000, rel=0.001)

    def test_filters_apply_and_reserve_parcels_have_no_phase(self, api):
        parcel = ParcelFactory()
        phase = parcel.phase
        reserve = ParcelFactory(phase=None, campus=phase.campus, geometry=grid_square(3))

        reserve_only = api.get("/api/v1/parcels/geojson/?reserve=true").json()

        assert [f["properties"]["code"] for f in reserve_only["features"]] == [reserve.code]
        assert reserve_only["features"][0]["properties"]["phase"] is None


class TestToken:
    def test_token_for_valid_credentials_then_used_as_header(self, planner):
        client = api_client_for(None)
        response = client.post(
            "/api/v1/auth/token/", {"username": "planner-t", "password": "secret-pass-123"}, format="json"
        )
        assert response.status_code == 200
        token = response.json()["token"]

        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert client.get("/api/v1/phases/").status_code == 200

    def test_wrong_password_is_a_400_without_a_token(self, planner):
        response = api_client_for(None).post(
            "/api/v1/auth/token/", {"username": "planner-t", "password": "wrong"}, format="json"
        )
        assert response.status_code == 400
        assert "token" not in response.json()

    def test_a_bad_token_is_a_401(self):
        client = api_client_for(None)
        client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
        assert client.get("/api/v1/phases/").status_code == 401
