"""Roll-ups on the demo campus, checked against figures computed by hand from data/innopole-demo.json."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from partners.models import Commitment, ExpressionOfInterest, MoU, Organisation
from partners.selectors import eoi_demand_by_status, with_capital_cover, with_commitments, with_eoi_demand
from planning import services
from planning.models import Facility, Parcel, Phase
from tenants.models import SpaceAllocation
from tenants.selectors import with_allocations
from tests.factories import EOIFactory, ParcelFactory, PhaseFactory, grid_square

pytestmark = pytest.mark.django_db


def test_demo_partners_and_tenants_are_loaded(demo):
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
    assert [t.to_status for t in kestrel_eoi.transitions.all()] == ["draft", "submitted", "under_review", "accepted"]


def test_phase_one_precommitment_and_capital(demo):
    phase = with_capital_cover(Phase.objects.filter(number=1)).get()

    # Lettable GFA: everything but the energy centre (utilities are not lettable).
    assert phase.lettable_gfa_m2 == Decimal("104000")
    # Occupancy: Kestrel 4,000 m² at heads of terms (0.5) + Nimbrel 8,000 m² at agreement for lease (0.8).
    assert phase.weighted_occupancy_gfa_m2 == Decimal("8400")
    assert round(phase.precommitment_pct, 2) == Decimal("8.08")
    # Capital, apart: Quorvant 2,400 × 0.5 + Thermisca 310 × 0.8 = 1,448 HKD m of a 5,200 HKD m capex.
    assert phase.weighted_capital_hkd_m == Decimal("1448")
    assert round(phase.capital_cover_pct, 2) == Decimal("27.85")


def test_operation_commitments_count_neither_as_occupancy_nor_capital(demo):
    parcel = with_commitments(Parcel.objects.filter(code="P1-B"), "parcel").get()
    # Tidewell runs the talent residence (operation); Quorvant funds it (capital); no one occupies it yet.
    assert parcel.weighted_occupancy_gfa_m2 == 0
    assert parcel.weighted_capital_hkd_m == Decimal("1200")


def test_facility_level_precommitment_and_occupancy(demo):
    facilities = {f.name: f for f in with_allocations(with_commitments(Facility.objects.all(), "facility"), "facility")}

    edge = facilities["Edge Data Hall 1"]
    assert (edge.weighted_occupancy_gfa_m2, edge.precommitment_pct) == (Decimal("6400"), Decimal("80"))
    assert (edge.allocated_gfa_m2, edge.occupancy_pct) == (Decimal("8000"), Decimal("100"))
    tower = facilities["Innovation Tower A"]
    assert tower.allocated_gfa_m2 == 0 and tower.reserved_gfa_m2 == Decimal("4000")
    podium = facilities["Co-work Podium"]
    assert podium.reserved_gfa_m2 == Decimal("1200")  # Orbisense's waitlisted 900 m² counts nowhere


def test_eoi_demand_by_phase_and_status(demo):
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


def test_rollups_cost_one_query_whatever_the_number_of_rows(demo):
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
    services.parcel_update(parcel=moved, actor=None, phase=None)  # the parcel goes back to the reserve

    demand = {p.pk: p.eoi_demand_gfa_m2 for p in with_eoi_demand(Phase.objects.all(), "phase")}

    assert demand == {phase.pk: Decimal("100"), other.pk: Decimal("23")}
    assert eoi_demand_by_status(other, "phase") == {"submitted": Decimal("23")}
