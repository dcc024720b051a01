"""Roll-ups on the demo campus, checked against figures computed by hand from data/innopole-demo.json (the demo is
loaded once for the module: `demo_once`; a test that needs rows of its own adds them and reads only those)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from partners.models import Commitment, ExpressionOfInterest, MoU, Organisation
from partners.selectors import eoi_demand_by_status, with_capital_cover, with_commitments, with_eoi_demand
from planning.models import Facility, Parcel, Phase
from tenants.models import SpaceAllocation
from tenants.selectors import attach_rollups, with_allocations
from tests.conftest import api_client_for
from tests.factories import EOIFactory, ParcelFactory, PhaseFactory, grid_square

pytestmark = pytest.mark.django_db


def test_demo_partners_and_tenants_are_loaded(demo_once):
    assert Organisation.objects.count() == 24
    assert MoU.objects.count() == 5
    assert ExpressionOfInterest.objects.count() == 13
    assert Commitment.objects.count() == 8
    assert SpaceAllocation.objects.count() == 4
    statuses = dict(ExpressionOfInterest.objects.values_list("organisation__code", "status"))
    assert statuses["kestrel"] == "accepted" and statuses["cedarwell"] == "draft" and statuses["voltaric"] == "on_hold"
    kestrel_eoi = ExpressionOfInterest.objects.get(organisation__code="kestrel")
    assert kestrel_eoi.submitted_by.username == "partner"
    assert kestrel_eoi.submitted_at.date().isoformat() == "2025-12-08"
    assert [t.to_status for t in kestrel_eoi.transitions.all()] == [
        "draft",
        "submitted",
        "under_review",
        "shortlisted",
        "accepted",
    ]


def test_phase_one_precommitment_and_capital(demo_once):
    phase = with_capital_cover(Phase.objects.filter(number=1)).get()

    # Lettable GFA: everything but the energy centre (utilities are not lettable).
    assert phase.lettable_gfa_m2 == Decimal("104000")
    # Occupancy: Kestrel 4,000 m² at heads of terms (0.5) + Nimbrel 8,000 m² at agreement for lease (0.8).
    assert phase.weighted_occupancy_gfa_m2 == Decimal("8400")
    assert round(phase.precommitment_pct, 2) == Decimal("8.08")
    # Capital, apart: Quorvant 2,400 × 0.5 + Thermisca 310 × 0.8 = 1,448 HKD m of a 5,200 HKD m capex.
    assert phase.weighted_capital_hkd_m == Decimal("1448")
    assert round(phase.capital_cover_pct, 2) == Decimal("27.85")


def test_operation_commitments_count_neither_as_occupancy_nor_capital(demo_once):
    parcel = with_commitments(Parcel.objects.filter(code="P1-B"), "parcel").get()
    # Tidewell runs the talent residence (operation); Quorvant funds it (capital); no one occupies it yet.
    assert parcel.weighted_occupancy_gfa_m2 == 0
    assert parcel.weighted_capital_hkd_m == Decimal("1200")


def test_facility_level_precommitment_and_occupancy(demo_once):
    facilities = {f.name: f for f in with_allocations(with_commitments(Facility.objects.all(), "facility"), "facility")}

    edge = facilities["Edge Data Hall 1"]
    assert (edge.weighted_occupancy_gfa_m2, edge.precommitment_pct) == (Decimal("6400"), Decimal("80"))
    assert (edge.allocated_gfa_m2, edge.occupancy_pct) == (Decimal("8000"), Decimal("100"))
    tower = facilities["Innovation Tower A"]
    assert tower.allocated_gfa_m2 == 0 and tower.reserved_gfa_m2 == Decimal("4000")
    podium = facilities["Co-work Podium"]
    assert podium.reserved_gfa_m2 == Decimal("1200")  # Orbisense's waitlisted 900 m² counts nowhere


def test_eoi_demand_by_phase_and_status(demo_once):
    phases = {p.number: p for p in with_eoi_demand(Phase.objects.all(), "phase")}
    # Live demand (submitted to accepted), phase 1: Kestrel 4,000 + Nimbrel 8,000 + Quorvant 30,000 + Skyloom 6,000.
    assert phases[1].eoi_demand_gfa_m2 == Decimal("48000")
    # Phase 2: Lumivane 12,000 (shortlisted) + Corvenna 18,000 (under review); Cedarwell's draft does not count.
    assert phases[2].eoi_demand_gfa_m2 == Decimal("30000")
    # Phase 4: Graphyne 7,500 + Voltaric 10,000 on hold; Hydrelle's declined 8,000 does not count.
    assert phases[4].eoi_demand_gfa_m2 == Decimal("17500")

    assert eoi_demand_by_status(Phase.objects.get(number=2), "phase") == {
        "draft": Decimal("3500"),
        "shortlisted": Decimal("12000"),
        "under_review": Decimal("18000"),
    }


def test_rollups_cost_one_query_whatever_the_number_of_rows(demo_once):
    with CaptureQueriesContext(connection) as phases:
        list(with_allocations(with_eoi_demand(with_capital_cover(Phase.objects.all()), "phase"), "phase"))
    with CaptureQueriesContext(connection) as parcels:
        list(with_allocations(with_eoi_demand(with_commitments(Parcel.objects.all(), "parcel"), "parcel"), "parcel"))
    assert len(phases) == 1 and len(parcels) == 1


def test_an_eoi_counts_in_its_parcel_s_phase_or_else_in_the_phase_it_names():
    parcel = ParcelFactory()
    phase = parcel.phase
    other = PhaseFactory(campus=phase.campus, number=7)
    moved = ParcelFactory(phase=other, geometry=grid_square(5))
    EOIFactory(preferred_phase=phase, preferred_parcel=parcel, gfa_m2=Decimal("100"), status="submitted")
    EOIFactory(preferred_phase=other, gfa_m2=Decimal("20"), status="submitted")
    EOIFactory(preferred_phase=other, preferred_parcel=moved, gfa_m2=Decimal("3"), status="submitted")
    # The parcel went back to the reserve while the EOI was live (the services now refuse that move, but rows from
    # before the guard may be so): written directly, as such a row would be.
    Parcel.objects.filter(pk=moved.pk).update(phase=None)

    demand = {p.pk: p.eoi_demand_gfa_m2 for p in with_eoi_demand(Phase.objects.filter(campus=phase.campus), "phase")}

    assert demand == {phase.pk: Decimal("100"), other.pk: Decimal("23")}
    assert eoi_demand_by_status(other, "phase") == {"submitted": Decimal("23")}


FIGURES = {
    "phase": (
        "lettable_gfa_m2",
        "weighted_occupancy_gfa_m2",
        "weighted_capital_hkd_m",
        "precommitment_pct",
        "capital_cover_pct",
        "eoi_demand_gfa_m2",
        "allocated_gfa_m2",
        "reserved_gfa_m2",
        "total_gfa_m2",
        "occupancy_pct",
    ),
    "parcel": (
        "lettable_gfa_m2",
        "weighted_occupancy_gfa_m2",
        "weighted_capital_hkd_m",
        "precommitment_pct",
        "eoi_demand_gfa_m2",
        "allocated_gfa_m2",
        "reserved_gfa_m2",
        "total_gfa_m2",
        "occupancy_pct",
    ),
    "facility": (
        "lettable_gfa_m2",
        "weighted_occupancy_gfa_m2",
        "weighted_capital_hkd_m",
        "precommitment_pct",
        "allocated_gfa_m2",
        "reserved_gfa_m2",
        "total_gfa_m2",
        "occupancy_pct",
    ),
}


def annotated(level: str):
    if level == "phase":
        return with_allocations(with_eoi_demand(with_capital_cover(Phase.objects.all()), "phase"), "phase")
    if level == "parcel":
        return with_allocations(with_eoi_demand(with_commitments(Parcel.objects.all(), "parcel"), "parcel"), "parcel")
    return with_allocations(with_commitments(Facility.objects.all(), "facility"), "facility")


@pytest.mark.parametrize("level", ["phase", "parcel", "facility"])
def test_grouped_figures_equal_the_correlated_annotations(demo_once, level):
    """What the roll-up API serves (one GROUP BY per table for a page) is what the SQL annotations compute."""
    model = {"phase": Phase, "parcel": Parcel, "facility": Facility}[level]
    expected = {row.pk: row for row in annotated(level)}

    with CaptureQueriesContext(connection) as queries:
        rows = attach_rollups(model.objects.all(), level)

    assert len(queries) == {"phase": 5, "parcel": 5, "facility": 4}[level]  # the rows, then one per table
    assert {row.pk for row in rows} == set(expected)
    nonzero = set()
    for row in rows:
        for name in FIGURES[level]:
            want, got = getattr(expected[row.pk], name), getattr(row, name)
            if want is None:
                assert got is None, (level, row, name)
            else:
                assert round(Decimal(got), 2) == round(Decimal(want), 2), (level, row, name, got, want)
                if want:
                    nonzero.add(name)
    # The demo exercises every figure somewhere, so the comparison is not of zeros only.
    assert nonzero == set(FIGURES[level])


def test_the_rollup_api_costs_the_same_queries_for_one_phase_or_all(demo_once, planner, django_assert_num_queries):
    client = api_client_for(planner)
    # Token and user, roles, the count, the page of phases, then one grouped query per table (facilities,
    # commitments, allocations, EOIs).
    with django_assert_num_queries(8):
        all_phases = client.get("/api/v1/rollups/phases/").json()
    with django_assert_num_queries(8):
        one = client.get("/api/v1/rollups/phases/?number=1").json()
    assert all_phases["count"] == Phase.objects.count() and one["count"] == 1
    first = next(row for row in all_phases["results"] if row["number"] == 1)
    assert one["results"] == [first]
    assert first["weighted_occupancy_gfa_m2"] == 8400 and first["precommitment_pct"] == 8.08
    assert first["capital_cover_pct"] == 27.85 and first["eoi_demand_gfa_m2"] == 48000


def test_ordering_by_a_figure_orders_every_row_and_gives_the_same_figures(demo_once, planner):
    client = api_client_for(planner)
    by_number = {row["id"]: row for row in client.get("/api/v1/rollups/phases/").json()["results"]}

    rows = client.get("/api/v1/rollups/phases/?ordering=-precommitment_pct").json()["results"]
    values = [row["precommitment_pct"] for row in rows if row["precommitment_pct"] is not None]
    assert values == sorted(values, reverse=True)
    assert {row["id"]: row for row in rows} == by_number


def test_a_phase_s_rollup_on_its_own(demo_once, planner):
    client = api_client_for(planner)
    phase = Phase.objects.get(number=1)
    row = client.get(f"/api/v1/rollups/phases/{phase.pk}/").json()
    assert row["weighted_capital_hkd_m"] == 1448 and row["capital_cover_pct"] == 27.85
