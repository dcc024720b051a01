"""`GET /api/v1/dashboard/`: who may read it (from the denied side), its shape, its filters and their refusals, the
cache, and a number of queries that does not grow with the data.

The figures are checked by hand against data/innopole-demo.json in test_figures.py; here the same hand arithmetic
is checked as the JSON numbers the API sends (rounded to two decimals). The demo is loaded once for the module
(`demo_once`), with each phase's readiness computed so that every phase has blockers to show.
"""

import datetime
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from partners import services as partner_services
from partners.models import Commitment, CommitmentStage
from planning import services
from planning.geometry import rectangle_geojson
from planning.models import FacilityType, Parcel, Phase
from tests.conftest import api_client_for
from tests.factories import (
    CommitmentFactory,
    EOIFactory,
    FacilityFactory,
    OrganisationFactory,
    ParcelFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/dashboard/"
HEADLINE = (
    "land_target_m2",
    "land_held_m2",
    "land_handed_over_m2",
    "gfa_planned_m2",
    "lettable_gfa_m2",
    "weighted_occupancy_gfa_m2",
    "precommitment_pct",
    "weighted_capital_hkd_m",
    "capex_hkd_m",
    "live_eoi_jobs",
    "live_eoi_investment_hkd_m",
    "talent_housing_units",
    "talent_housing_cap",
)


@pytest.fixture(scope="module")
def demo(demo_once, django_db_blocker):
    """The demo campus with each phase's readiness computed (the recompute its load queues runs on commit, which
    never comes in the fixture's transaction)."""
    with django_db_blocker.unblock():
        for phase in Phase.objects.filter(campus=demo_once).order_by("number"):
            services.readiness_recompute(phase=phase)
    return demo_once


@pytest.fixture
def executive_api(demo, executive):
    return api_client_for(executive)


def read(client, query: str = "") -> dict:
    response = client.get(f"{URL}?{query}" if query else URL)
    assert response.status_code == 200, response.content
    return response.json()


def phase_of(data: dict, number: int) -> dict:
    return next(row for row in data["phases"] if row["number"] == number)


# --- who may read it -----------------------------------------------------------------------------------------------


def test_anonymous_requests_are_refused(demo):
    for query in ("", "phase=1", "phase=abc"):
        assert api_client_for(None).get(f"{URL}?{query}").status_code in (401, 403), query


def test_partners_and_users_without_a_role_get_404(demo, partner, partner_a):
    nobody = UserFactory(username="no-role")
    for user in (partner, partner_a, nobody):
        client = api_client_for(user)
        # Not found, whatever the query: even a bad value must not tell them the endpoint exists.
        for query in ("", "phase=2", "facility_type=gmp", "phase=abc"):
            response = client.get(f"{URL}?{query}")
            assert response.status_code == 404, (user.username, query, response.status_code)
            assert b"land_held_m2" not in response.content


def test_executives_planners_and_staff_read_it(demo, executive, planner, staff_user):
    for user in (executive, planner, staff_user):
        response = api_client_for(user).get(URL)
        assert response.status_code == 200, user.username
        assert response.json()["campus"]["code"] == "innopole"


def test_commitments_link_to_the_admin_for_staff_only(demo, executive, planner, staff_user):
    """A commitment has no page but the admin's: the blocker names it for everyone, links it for staff only."""

    def commitment_urls(user) -> set:
        data = read(api_client_for(user))
        return {
            obj["url"]
            for phase in data["phases"]
            for row in phase["blockers"]
            if row["kind"] == "commitment"
            for obj in row["objects"]
        }

    assert commitment_urls(executive) == commitment_urls(planner) == {""}
    kestrel = Commitment.objects.get(organisation__code="kestrel")
    assert f"/admin/partners/commitment/{kestrel.pk}/change/" in commitment_urls(staff_user)


# --- the shape -----------------------------------------------------------------------------------------------------


def test_headline_figures_phases_and_units(executive_api):
    data = read(executive_api)

    for key in (*HEADLINE, "computed_at", "units", "phases", "gfa_by_type", "pipeline", "schedule"):
        assert key in data, key
    assert [row["number"] for row in data["phases"]] == [1, 2, 3, 4]
    for row in data["phases"]:
        for key in ("number", "readiness_state", "readiness_score", "stale", *HEADLINE):
            assert key in row, (row["number"], key)
        assert row["stale"] is False
    # Every figure has its unit.
    for figure in HEADLINE:
        assert figure in data["units"], figure
    assert {name: data["units"][name] for name in HEADLINE} == {
        "land_target_m2": "m2",
        "land_held_m2": "m2",
        "land_handed_over_m2": "m2",
        "gfa_planned_m2": "m2",
        "lettable_gfa_m2": "m2",
        "weighted_occupancy_gfa_m2": "m2",
        "precommitment_pct": "percent",
        "weighted_capital_hkd_m": "HKD million",
        "capex_hkd_m": "HKD million",
        "live_eoi_jobs": "jobs",
        "live_eoi_investment_hkd_m": "HKD million",
        "talent_housing_units": "housing units",
        "talent_housing_cap": "housing units",
    }
    assert datetime.datetime.fromisoformat(data["computed_at"]).tzinfo is not None


def test_figures_are_json_numbers_to_two_decimals(executive_api):
    data = read(executive_api)

    # The campus, as test_figures.py adds it up by hand.
    assert data["land_target_m2"] == 200_000  # 20 ha
    assert data["land_held_m2"] == 25_000 + 50_000 + 60_000 + 65_000
    assert data["land_handed_over_m2"] == 9_000 + 8_000 + 50_000  # P1-A, P1-B and phase 2
    assert data["gfa_planned_m2"] == 107_000 + 204_000 + 253_500 + 255_000
    assert data["lettable_gfa_m2"] == 819_500 - 3_000 - 6_000 - 12_000  # utilities and the convention centre
    assert data["weighted_occupancy_gfa_m2"] == 2_000 + 6_400 + 3_000 + 2_000 + 2_250
    assert data["precommitment_pct"] == 1.96  # 15,650 ÷ 798,500 × 100 = 1.9599…
    assert data["weighted_capital_hkd_m"] == 1_200 + 248
    assert data["capex_hkd_m"] == 5_200 + 9_800 + 12_600 + 11_900
    assert data["capital_cover_pct"] == 3.67  # 1,448 ÷ 39,500 × 100 = 3.6658…
    assert data["live_eoi_jobs"] == 505 + 420 + 500 + 160
    assert data["live_eoi_investment_hkd_m"] == 3_450 + 1_850 + 2_820 + 730
    assert (data["talent_housing_units"], data["talent_housing_cap"]) == (600 + 480 + 400 + 320, 1_500)
    assert data["power_demand_mva"] == 212.57  # 14.36 + 44.34 + 81.89 + 71.98
    assert data["water_demand_m3_day"] == 3_819.3  # 275.1 + 1,156 + 1,225 + 1,163.2
    # Phase 1's row: 8,400 ÷ 104,000 × 100 = 8.0769… %, 1,448 ÷ 5,200 × 100 = 27.846… %.
    phase_one = phase_of(data, 1)
    assert (phase_one["precommitment_pct"], phase_one["capital_cover_pct"]) == (8.08, 27.85)
    assert (phase_one["gfa_planned_m2"], phase_one["lettable_gfa_m2"]) == (107_000, 104_000)
    assert phase_one["readiness_state"] == "at_risk"
    assert 0 <= phase_one["readiness_score"] <= 1


def test_blocker_objects_are_named_for_people(executive_api):
    """Every object a blocker names carries a label a person can read (a utility line's too, not a Python repr)."""
    data = read(executive_api)
    objects = [obj for phase in data["phases"] for row in phase["blockers"] for obj in row["objects"]]
    assert {obj["type"] for obj in objects} == {"utility", "schedule_item", "parcel", "commitment"}
    unreadable = [(obj["type"], obj["label"]) for obj in objects if not obj["label"] or "(pk=" in obj["label"]]
    assert unreadable == []


# --- filters, and refusals keyed by parameter ---------------------------------------------------------------------


def test_a_phase_filter_gives_that_phases_figures(executive_api):
    data = read(executive_api, "phase=2")

    assert data["filters"] == {"phase": 2, "facility_type": None}
    assert [row["number"] for row in data["phases"]] == [2]
    # The top level is phase 2's, and so is its row.
    assert data["land_target_m2"] == 50_000  # 5 ha
    assert data["land_held_m2"] == data["land_handed_over_m2"] == 14_000 + 12_000 + 10_000 + 8_000 + 6_000
    assert data["gfa_planned_m2"] == data["lettable_gfa_m2"] == 56_000 + 40_000 + 14_000 + 50_000 + 24_000 + 20_000
    assert data["weighted_occupancy_gfa_m2"] == 3_000  # Lumivane 12,000 × 0.25
    assert data["precommitment_pct"] == 1.47  # 3,000 ÷ 204,000 × 100 = 1.4705…
    assert (data["weighted_capital_hkd_m"], data["capex_hkd_m"]) == (0, 9_800)
    assert (data["live_eoi_jobs"], data["live_eoi_investment_hkd_m"]) == (180 + 240, 650 + 1_200)
    assert data["talent_housing_units"] == 480
    for figure in HEADLINE:
        assert data["phases"][0][figure] == data[figure], figure
    assert data["pipeline"]["mous_by_status"] == []  # MoUs name no phase
    assert data["phases"][0]["completion_slip_days"] == 73  # 14 Mar 2031 − 31 Dec 2030


def test_a_facility_type_filter_gives_that_types_figures(executive_api):
    data = read(executive_api, "facility_type=gmp")

    assert data["filters"] == {"phase": None, "facility_type": "gmp"}
    # The GMP Pilot Plant on P2-A, 56,000 m², lettable; Lumivane's 12,000 m² at the EOI rung × 0.25.
    assert data["gfa_planned_m2"] == data["lettable_gfa_m2"] == 56_000
    assert data["weighted_occupancy_gfa_m2"] == 3_000
    assert data["precommitment_pct"] == 5.36  # 3,000 ÷ 56,000 × 100 = 5.357…
    # EOIs wanting GMP: Lumivane 12,000 m² / 180 jobs / HKD 650 m and Corvenna 18,000 / 240 / 1,200.
    assert (data["live_eoi_count"], data["live_eoi_gfa_m2"]) == (2, 30_000)
    assert (data["live_eoi_jobs"], data["live_eoi_investment_hkd_m"]) == (420, 1_850)
    # Demand: 56,000 × 0.4 kVA/m² ÷ 1,000 = 22.4 MVA; 56 × 12 m³/day = 672 m³/day.
    assert (data["power_demand_mva"], data["water_demand_m3_day"]) == (22.4, 672)
    # Land and capex are the campus's, not narrowed; no capital commitment names a GMP facility.
    assert (data["land_target_m2"], data["land_held_m2"], data["capex_hkd_m"]) == (200_000, 200_000, 39_500)
    assert data["weighted_capital_hkd_m"] == 0
    assert [row["facility_type"] for row in data["gfa_by_type"]] == ["gmp"]
    assert {row["number"]: row["gfa_planned_m2"] for row in data["phases"]} == {1: 0, 2: 56_000, 3: 0, 4: 0}
    assert data["pipeline"]["mous_by_status"] == []


def test_bad_values_are_400_keyed_by_parameter(executive_api):
    for query, key in (
        ("phase=abc", "phase"),
        ("phase=99", "phase"),
        ("phase=-1", "phase"),
        ("facility_type=nope", "facility_type"),
        ("as_of=2026-13-01", "as_of"),
        ("as_of=yesterday", "as_of"),
        ("as_of=", "as_of"),
        ("campus=nowhere", "campus"),
        # A NUL: PostgreSQL refuses it in a text comparison, so it is refused before any lookup.
        ("campus=a%00b", "campus"),
        ("facility_type=office%00", "facility_type"),
    ):
        response = executive_api.get(f"{URL}?{query}")
        assert response.status_code == 400, query
        assert list(response.json()) == [key], (query, response.json())
    # Every bad value at once: each named.
    response = executive_api.get(f"{URL}?phase=99&facility_type=nope&as_of=2026-13-01")
    assert response.status_code == 400
    assert set(response.json()) == {"phase", "facility_type", "as_of"}
    assert "1, 2, 3, 4" in response.json()["phase"][0]  # the phases there are


def test_a_phase_that_only_looks_like_a_number_is_refused(executive_api):
    # "²" is a digit to str.isdigit() but no number to int(): a 400, not a server error.
    executive_api.raise_request_exception = False
    response = executive_api.get(f"{URL}?phase=%C2%B2")
    assert response.status_code == 400
    assert list(response.json()) == ["phase"]


def test_as_of_in_the_future_is_refused(executive_api):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    response = executive_api.get(f"{URL}?as_of={tomorrow.isoformat()}")
    assert response.status_code == 400
    assert list(response.json()) == ["as_of"]
    assert "is in the future" in response.json()["as_of"][0]


def test_as_of_a_day_before_the_demo_was_loaded(executive_api):
    # The demo was loaded today: at the end of yesterday none of its plan, EOIs or commitments existed.
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    data = read(executive_api, f"as_of={yesterday.isoformat()}")
    assert data["as_of"] == yesterday.isoformat()
    assert data["phases"] == []
    assert (data["gfa_planned_m2"], data["land_held_m2"], data["live_eoi_jobs"]) == (0, 0, 0)
    assert data["weighted_occupancy_gfa_m2"] == 0
    # Today is allowed: the plan as it stands so far.
    today = read(executive_api, f"as_of={timezone.localdate().isoformat()}")
    assert today["gfa_planned_m2"] == 819_500 and today["weighted_occupancy_gfa_m2"] == 15_650


# --- the cache -----------------------------------------------------------------------------------------------------


def test_a_change_shows_in_the_next_response(executive_api, django_capture_on_commit_callbacks):
    before = read(executive_api)
    assert before["weighted_occupancy_gfa_m2"] == 15_650
    assert read(executive_api)["computed_at"] == before["computed_at"]  # from the cache

    nimbrel = Commitment.objects.get(organisation__code="nimbrel")
    with django_capture_on_commit_callbacks(execute=True):
        partner_services.commitment_update(
            commitment=nimbrel, actor=None, stage=CommitmentStage.objects.get(code="heads_of_terms")
        )
    after = read(executive_api)
    # Nimbrel's 8,000 m² from agreement for lease (0.8) down to heads of terms (0.5): 15,650 − 6,400 + 4,000.
    assert after["weighted_occupancy_gfa_m2"] == 13_250
    assert phase_of(after, 1)["weighted_occupancy_gfa_m2"] == 2_000 + 4_000
    assert after["computed_at"] != before["computed_at"]


# --- queries -------------------------------------------------------------------------------------------------------


def add_rows(campus, count: int) -> None:
    """`count` more facilities, EOIs and commitments (every stage below agreement for lease, so they are blockers
    too) on a new phase-3 parcel of 30 m × 50 m in the free ground east of phase 1 (the demo's parcels already
    make up the campus's land target; 1 % more is allowed)."""
    phase = Phase.objects.get(campus=campus, number=3)
    parcel = ParcelFactory(
        code="Q-1",
        campus=campus,
        phase=phase,
        geometry=rectangle_geojson(825640, 839210, 825670, 839260),
        land_status=Parcel.LandStatus.NOT_TRANSFERRED,
    )
    office = FacilityType.objects.get(code="office")
    stages = list(CommitmentStage.objects.filter(probability__lt=Decimal("0.8")))
    for n in range(count):
        facility = FacilityFactory(parcel=parcel, facility_type=office, name=f"Annex {n}", gfa_m2=Decimal("100"))
        organisation = OrganisationFactory(sector="hpc")
        EOIFactory(
            organisation=organisation,
            facility_type=office,
            preferred_phase=phase,
            preferred_parcel=parcel,
            gfa_m2=Decimal("100"),
            status="submitted",
        )
        CommitmentFactory(
            organisation=organisation,
            parcel=parcel,
            facility=facility,
            stage=stages[n % len(stages)],
            gfa_m2=Decimal("50"),
        )


def test_queries_do_not_grow_with_the_data(demo, executive):
    client = api_client_for(executive)
    read(client)  # warm what a process reads once
    cache.clear()
    with CaptureQueriesContext(connection) as on_the_demo:
        first = read(client)

    add_rows(demo, 20)
    cache.clear()
    with CaptureQueriesContext(connection) as with_more:
        second = read(client)

    # The rows were read: 20 more facilities of 100 m² and EOIs of 100 m² (submitted).
    assert second["gfa_planned_m2"] == first["gfa_planned_m2"] + 20 * 100
    assert second["live_eoi_gfa_m2"] == first["live_eoi_gfa_m2"] + 20 * 100
    assert len(with_more) == len(on_the_demo), "\n".join(query["sql"][:200] for query in with_more.captured_queries)


def test_a_cached_response_reads_no_figures(demo, executive):
    client = api_client_for(executive)
    read(client)
    with CaptureQueriesContext(connection) as cached:
        read(client)
    # The sign-in by token, the user's roles and the campus asked for: nothing the figures are computed from.
    tables = ("planning_", "partners_", "tenants_")
    read_tables = [query["sql"] for query in cached.captured_queries if any(name in query["sql"] for name in tables)]
    assert [sql.split(" FROM ")[1].split(" ")[0] for sql in read_tables] == ['"planning_campus"']
