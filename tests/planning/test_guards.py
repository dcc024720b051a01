"""Rules other apps hold on plan rows (planning.guards): asked under the row lock before a shrink, move or delete.

Tenants guard the space allocated in facilities; partners guard what commitments and EOIs still in play name.
A refused delete never answers 500, also for a relation no guard covers.
"""

import ast
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction

from partners import guards as partner_guards
from partners.models import ExpressionOfInterest
from planning import guards, services
from planning.models import (
    Facility,
    FacilityType,
    Parcel,
    Phase,
    ScheduleDependency,
    ScheduleItem,
    UtilityCapacity,
)
from tenants.models import SpaceAllocation
from tests.conftest import api_client_for
from tests.factories import (
    AllocationFactory,
    CampusFactory,
    CommitmentFactory,
    EOIFactory,
    FacilityFactory,
    FacilityTypeFactory,
    MilestoneFactory,
    OrganisationFactory,
    ParcelFactory,
    PhaseFactory,
    ScheduleDependencyFactory,
    ScheduleItemFactory,
    TenantFactory,
    UtilityCapacityFactory,
)

pytestmark = pytest.mark.django_db

SIGNED = SpaceAllocation.Status.SIGNED
S = ExpressionOfInterest.Status


@pytest.fixture
def hall():
    """The probe's facility: Edge Data Hall 1, 8,000 m², all of it signed by Kestrel Sight AI."""
    facility = FacilityFactory(name="Edge Data Hall 1", gfa_m2=Decimal("8000"))
    kestrel = TenantFactory(organisation=OrganisationFactory(name_en="Kestrel Sight AI"))
    AllocationFactory(tenant=kestrel, facility=facility, gfa_m2=Decimal("8000"), status=SIGNED)
    return facility


# --- the registry -----------------------------------------------------------------------------------------------


def test_tenants_and_partners_register_their_guards_at_start_up():
    assert {"tenants.allocations_fit", "partners.commitments_and_eois"} <= set(guards.REGISTRY)
    assert guards.FACILITY_CHANGE in guards.REGISTRY["tenants.allocations_fit"].events


def test_registering_a_guard_name_twice_is_an_error_at_start_up():
    before = dict(guards.REGISTRY)

    with pytest.raises(ImproperlyConfigured, match=r"tenants\.allocations_fit"):
        guards.register("tenants.allocations_fit", events={guards.FACILITY_DELETE}, check=lambda proposal: [])
    # What `PartnersConfig.ready()` calls, called a second time (as a second start-up would): refused the same way.
    with pytest.raises(ImproperlyConfigured, match=r"'partners\.commitments_and_eois' is already registered"):
        partner_guards.register()

    assert before == guards.REGISTRY


def test_a_guard_for_an_unknown_event_is_refused():
    with pytest.raises(ImproperlyConfigured, match="facility_shrink"):
        guards.register("tests.typo", events={"facility_shrink"}, check=lambda proposal: [])
    assert "tests.typo" not in guards.REGISTRY


def test_planning_imports_neither_partners_nor_tenants():
    """The registry is how the apps above plug in: planning's services and guards never import them."""
    root = Path(__file__).resolve().parents[2] / "planning"
    for name in ("guards.py", "services.py", "models.py"):
        tree = ast.parse((root / name).read_text())
        imported = {
            alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        } | {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not imported & {"partners", "tenants"}, name


def test_a_guard_gets_the_locked_row_and_the_change(monkeypatch):
    facility = FacilityFactory(gfa_m2=Decimal("5000"))
    seen = []

    def spy(proposal):
        seen.append((proposal.event, proposal.row.pk, dict(proposal.old), dict(proposal.new)))
        return [guards.Refusal("No.", field="name")] if proposal.new.get("name") == "Forbidden" else []

    monkeypatch.setitem(guards.REGISTRY, "tests.spy", guards.Guard("tests.spy", frozenset(guards.EVENTS), spy))

    services.facility_update(facility=facility, actor=None, gfa_m2=Decimal("4000"), capacity=facility.capacity)
    with pytest.raises(ValidationError) as refused:
        services.facility_update(facility=facility, actor=None, name="Forbidden")

    assert seen[0] == (guards.FACILITY_CHANGE, facility.pk, {"gfa_m2": Decimal("5000")}, {"gfa_m2": Decimal("4000")})
    assert refused.value.message_dict == {"name": ["No."]}
    assert Facility.objects.get(pk=facility.pk).name == facility.name


# --- tenants: allocations still fit -----------------------------------------------------------------------------


def test_gfa_cannot_go_below_what_is_signed_or_occupied(hall):
    with pytest.raises(ValidationError) as refused:
        services.facility_update(facility=hall, actor=None, gfa_m2=Decimal("100"))

    assert refused.value.message_dict["gfa_m2"] == [
        "Facility Edge Data Hall 1: GFA 100 m² is below the 8,000 m² already signed or occupied "
        "(allocations: Kestrel Sight AI 8,000 m²)."
    ]
    hall.refresh_from_db()
    assert hall.gfa_m2 == Decimal("8000") and hall.version == 1


def test_gfa_may_shrink_to_what_is_signed_and_reserved_space_does_not_hold_it():
    facility = FacilityFactory(gfa_m2=Decimal("10000"))
    AllocationFactory(facility=facility, gfa_m2=Decimal("6000"), status=SpaceAllocation.Status.OCCUPIED)
    AllocationFactory(facility=facility, gfa_m2=Decimal("3000"), status=SpaceAllocation.Status.RESERVED)

    services.facility_update(facility=facility, actor=None, gfa_m2=Decimal("6000"))

    assert Facility.objects.get(pk=facility.pk).gfa_m2 == Decimal("6000")


def test_api_gfa_cut_below_allocations_is_a_400_with_the_numbers_and_the_roll_up_stays_consistent(hall, planner):
    client = api_client_for(planner)

    response = client.patch(f"/api/v1/facilities/{hall.pk}/", {"gfa_m2": 100}, format="json")

    assert response.status_code == 400
    assert response.json()["gfa_m2"] == [
        "Facility Edge Data Hall 1: GFA 100 m² is below the 8,000 m² already signed or occupied "
        "(allocations: Kestrel Sight AI 8,000 m²)."
    ]
    rollup = client.get(f"/api/v1/rollups/facilities/{hall.pk}/").json()
    assert (rollup["total_gfa_m2"], rollup["allocated_gfa_m2"], rollup["occupancy_pct"]) == (8000.0, 8000.0, 100.0)


def test_api_delete_of_a_facility_with_a_signed_allocation_is_a_400(hall, planner):
    response = api_client_for(planner).delete(f"/api/v1/facilities/{hall.pk}/")

    assert response.status_code == 400
    [message] = response.json()["non_field_errors"]
    assert message == (
        "Facility Edge Data Hall 1 cannot be deleted: 1 space allocation is recorded in it "
        "(Kestrel Sight AI 8,000 m² (Signed)). Delete it first (its history is kept)."
    )
    assert Facility.objects.filter(pk=hall.pk).exists()


def test_a_facility_with_signed_space_cannot_move_but_reserved_space_follows_it(hall):
    other = ParcelFactory(phase=hall.parcel.phase)
    tower = FacilityFactory(parcel=hall.parcel, name="Tower", gfa_m2=Decimal("1000"))
    reserved = AllocationFactory(facility=tower, status=SpaceAllocation.Status.RESERVED)

    with pytest.raises(ValidationError) as refused:
        services.facility_update(facility=hall, actor=None, parcel=other)
    services.facility_update(facility=tower, actor=None, parcel=other)

    assert refused.value.message_dict["parcel"] == [
        f"Facility Edge Data Hall 1 cannot move from parcel {hall.parcel.code} to parcel {other.code}: 8,000 m² in "
        "it is signed or occupied (allocations: Kestrel Sight AI 8,000 m²)."
    ]
    assert Facility.objects.get(pk=hall.pk).parcel_id == hall.parcel_id
    reserved.refresh_from_db()
    assert reserved.facility.parcel_id == other.pk


def test_deleting_a_parcel_asks_the_guards_of_each_of_its_facilities(hall, planner):
    response = api_client_for(planner).delete(f"/api/v1/parcels/{hall.parcel_id}/")

    assert response.status_code == 400
    assert "Facility Edge Data Hall 1 cannot be deleted" in response.json()["non_field_errors"][0]
    assert Parcel.objects.filter(pk=hall.parcel_id).exists() and Facility.objects.filter(pk=hall.pk).exists()


# --- partners: commitments and EOIs still in play ---------------------------------------------------------------


def test_api_delete_of_a_parcel_with_a_commitment_is_a_400_naming_it(planner):
    parcel = ParcelFactory(code="P1-A")
    CommitmentFactory(parcel=parcel, organisation=OrganisationFactory(name_en="Nimbrel Labs"))

    response = api_client_for(planner).delete(f"/api/v1/parcels/{parcel.pk}/")

    assert response.status_code == 400
    assert response.json()["non_field_errors"] == [
        "Parcel P1-A cannot be deleted: 1 commitment is made on it (Nimbrel Labs, occupancy at Heads of terms, "
        "1,000 m²)."
    ]
    assert Parcel.objects.filter(pk=parcel.pk).exists()


def test_api_delete_of_a_facility_with_a_commitment_is_a_400(planner):
    facility = FacilityFactory(name="Tower B")
    CommitmentFactory(parcel=facility.parcel, facility=facility, organisation=OrganisationFactory(name_en="Orbis"))

    response = api_client_for(planner).delete(f"/api/v1/facilities/{facility.pk}/")

    assert response.status_code == 400
    assert response.json()["non_field_errors"] == [
        "Facility Tower B cannot be deleted: 1 commitment names it (Orbis, occupancy at Heads of terms, 1,000 m²)."
    ]


def test_a_facility_named_by_a_commitment_cannot_move_to_another_parcel():
    facility = FacilityFactory(name="Tower B")
    CommitmentFactory(parcel=facility.parcel, facility=facility)
    other = ParcelFactory(phase=facility.parcel.phase)

    with pytest.raises(ValidationError) as refused:
        services.facility_update(facility=facility, actor=None, parcel=other)

    assert "Facility Tower B cannot move from parcel" in refused.value.message_dict["parcel"][0]
    assert "1 commitment names it" in refused.value.message_dict["parcel"][0]


def test_api_delete_of_a_facility_type_named_by_an_eoi_is_a_400(planner):
    lab = FacilityTypeFactory(code="wet_lab", name_en="Wet lab")  # used by no facility
    eoi = EOIFactory(facility_type=lab, organisation=OrganisationFactory(name_en="Corvenna"))

    response = api_client_for(planner).delete(f"/api/v1/facility-types/{lab.pk}/")

    assert response.status_code == 400
    assert response.json()["non_field_errors"] == [
        f"Facility type Wet lab cannot be deleted: 1 EOI asks for it (EOI {eoi.reference} (Corvenna, draft)), and "
        "an EOI keeps the type it asked for."
    ]
    assert FacilityType.objects.filter(pk=lab.pk).exists()


def test_every_refusal_is_listed_in_one_error(hall, planner):
    """Planning's own rule and each guard's refusal, all in one answer."""
    EOIFactory(facility_type=hall.facility_type)

    response = api_client_for(planner).delete(f"/api/v1/facility-types/{hall.facility_type_id}/")

    messages = response.json()["non_field_errors"]
    assert response.status_code == 400 and len(messages) == 2
    assert "is used by 1 facility" in messages[0] and "1 EOI asks for it" in messages[1]


@pytest.mark.parametrize("status", [S.DRAFT, S.SUBMITTED, S.ACCEPTED])
def test_a_parcel_an_eoi_in_play_asks_for_cannot_be_deleted(status):
    parcel = ParcelFactory(code="P2-C")
    eoi = EOIFactory(preferred_phase=parcel.phase, preferred_parcel=parcel, status=status)

    with pytest.raises(ValidationError) as refused:
        services.parcel_delete(parcel=parcel, actor=None)

    assert f"Parcel P2-C cannot be deleted: 1 EOI still in play asks for it (EOI {eoi.reference}" in str(refused.value)
    eoi.refresh_from_db()
    assert eoi.preferred_parcel_id == parcel.pk


def test_declined_and_withdrawn_eois_hold_no_parcel():
    parcel = ParcelFactory()
    EOIFactory(preferred_phase=parcel.phase, preferred_parcel=parcel, status=S.DECLINED)
    EOIFactory(preferred_phase=parcel.phase, preferred_parcel=parcel, status=S.WITHDRAWN)

    services.parcel_delete(parcel=parcel, actor=None)

    assert not Parcel.objects.filter(pk=parcel.pk).exists()


def test_a_parcel_an_eoi_asks_for_in_its_phase_cannot_move_to_another_phase():
    parcel = ParcelFactory(code="P1-B")
    later = PhaseFactory(campus=parcel.campus, name_en="Phase 9")
    eoi = EOIFactory(preferred_phase=parcel.phase, preferred_parcel=parcel, status=S.SUBMITTED)

    with pytest.raises(ValidationError) as refused:
        services.parcel_update(parcel=parcel, actor=None, phase=later)

    assert refused.value.message_dict["phase"] == [
        f"Parcel P1-B cannot move from {parcel.phase.name} to Phase 9: 1 EOI still in play asks for it in "
        f"{parcel.phase.name} (EOI {eoi.reference} ({eoi.organisation}, submitted))."
    ]
    assert Parcel.objects.get(pk=parcel.pk).phase_id == parcel.phase_id


def test_a_phase_an_eoi_prefers_cannot_be_deleted(planner):
    phase = PhaseFactory()
    eoi = EOIFactory(preferred_phase=phase, status=S.UNDER_REVIEW)

    response = api_client_for(planner).delete(f"/api/v1/phases/{phase.pk}/")

    assert response.status_code == 400
    assert f"1 EOI still in play prefers it (EOI {eoi.reference}" in response.json()["non_field_errors"][0]
    assert Phase.objects.filter(pk=phase.pk).exists()


# --- phase delete: what it takes with it ------------------------------------------------------------------------


def test_deleting_an_empty_phase_deletes_its_utilities_and_schedule_with_history(planner):
    phase = PhaseFactory(name_en="Phase 7")
    utility = UtilityCapacityFactory(phase=phase)
    milestone = MilestoneFactory(phase=phase)
    activity = ScheduleItemFactory(phase=phase)
    link = ScheduleDependencyFactory(predecessor=milestone, successor=activity)

    response = api_client_for(planner).delete(f"/api/v1/phases/{phase.pk}/")

    assert response.status_code == 204
    rows = ((UtilityCapacity, utility.pk), (ScheduleItem, milestone.pk), (ScheduleItem, activity.pk))
    rows += ((ScheduleDependency, link.pk),)
    for model, pk in rows:
        assert not model.objects.filter(pk=pk).exists()
        deleted = model.history.filter(id=pk, history_type="-").get()
        assert deleted.history_user == planner and deleted.history_change_reason == "Phase Phase 7 deleted"


def test_no_other_phase_s_schedule_waits_for_a_phase_so_deleting_it_changes_none(planner):
    """Milestones could once wait for another phase's, which kept that phase from being deleted; a dependency now
    links items of one phase (the other phase's date becomes a "start not before"), so nothing is left waiting."""
    phase = PhaseFactory(name_en="Phase 7")
    permit = MilestoneFactory(phase=phase, title="Permit")
    later = PhaseFactory(campus=phase.campus, name_en="Phase 8")
    piling = ScheduleItemFactory(phase=later, title="Piling")
    with pytest.raises(ValidationError) as refused:
        services.schedule_dependency_create(actor=planner, predecessor=permit, successor=piling)
    assert "a dependency links items of one phase" in " ".join(refused.value.message_dict["predecessor"])
    piling.refresh_from_db()

    response = api_client_for(planner).delete(f"/api/v1/phases/{phase.pk}/")

    assert response.status_code == 204
    assert not ScheduleItem.objects.filter(pk=permit.pk).exists()
    kept = ScheduleItem.objects.get(pk=piling.pk)
    assert (kept.version, kept.forecast_start) == (piling.version, piling.forecast_start)


# --- the net under every delete ---------------------------------------------------------------------------------


def test_a_protected_relation_no_guard_covers_is_a_400_naming_the_rows(planner, monkeypatch):
    """Without the partners guard, the database's PROTECT still refuses, and the answer names the EOI."""
    monkeypatch.delitem(guards.REGISTRY, "partners.commitments_and_eois")
    lab = FacilityTypeFactory(code="wet_lab", name_en="Wet lab")
    eoi = EOIFactory(facility_type=lab)

    response = api_client_for(planner).delete(f"/api/v1/facility-types/{lab.pk}/")

    assert response.status_code == 400
    body = response.json()
    assert body["non_field_errors"] == [
        f"This cannot be deleted while 1 other record refers to it: expression of interest “EOI {eoi.reference}”."
    ]
    assert body["blocking"] == [{"type": "partners.expressionofinterest", "id": eoi.pk, "label": str(eoi)}]
    assert FacilityType.objects.filter(pk=lab.pk).exists()


# --- the programme of a parcel as one change set ----------------------------------------------------------------


def test_swapping_two_facilities_gfa_at_the_cap_is_one_valid_change():
    parcel = ParcelFactory(surveyed_area_m2=Decimal("9000"), max_plot_ratio=Decimal("5"))  # cap 45,000 m²
    a = FacilityFactory(parcel=parcel, name="A", gfa_m2=Decimal("5000"))
    b = FacilityFactory(parcel=parcel, name="B", gfa_m2=Decimal("40000"))

    result = services.parcel_programme_update(
        parcel=parcel, actor=None, update=[(a, {"gfa_m2": Decimal("40000")}), (b, {"gfa_m2": Decimal("5000")})]
    )

    assert [(f.name, fields) for f, fields in result.changed] == [("A", ["gfa_m2"]), ("B", ["gfa_m2"])]
    assert dict(parcel.facilities.values_list("name", "gfa_m2")) == {"A": Decimal("40000"), "B": Decimal("5000")}


def test_a_programme_over_the_cap_or_refused_by_a_guard_saves_nothing(hall):
    parcel = hall.parcel  # 10,000 m² × 5 = 50,000 m²
    office = FacilityTypeFactory()

    with pytest.raises(ValidationError) as refused:
        services.parcel_programme_update(
            parcel=parcel,
            actor=None,
            update=[(hall, {"gfa_m2": Decimal("7000")})],
            create=[{"name": "Annex", "facility_type": office, "gfa_m2": Decimal("1000")}],
        )
    with pytest.raises(ValidationError, match="exceeds the cap of 50,000 m²"):
        services.parcel_programme_update(
            parcel=parcel,
            actor=None,
            create=[{"name": "Annex", "facility_type": office, "gfa_m2": Decimal("42001")}],
        )

    assert "GFA 7,000 m² is below the 8,000 m²" in refused.value.message_dict["gfa_m2"][0]
    assert list(parcel.facilities.values_list("name", "gfa_m2")) == [("Edge Data Hall 1", Decimal("8000"))]


def test_a_programme_takes_only_facilities_of_its_parcel():
    parcel = ParcelFactory()
    stranger = FacilityFactory(name="Elsewhere")

    with pytest.raises(ValidationError, match="not on parcel"):
        services.parcel_programme_update(parcel=parcel, actor=None, delete=[stranger])

    assert Facility.objects.filter(pk=stranger.pk).exists()


# --- concurrency: the facility's row lock is shared by allocation writes and GFA cuts ---------------------------


@pytest.mark.django_db(transaction=True)
def test_a_gfa_cut_and_a_racing_signed_allocation_cannot_both_pass():
    from tenants import services as tenant_services
    from tests.planning.test_concurrency import race

    facility = FacilityFactory(gfa_m2=Decimal("10000"))
    tenant = TenantFactory()
    AllocationFactory(tenant=tenant, facility=facility, gfa_m2=Decimal("6000"), status=SIGNED)

    # Which thread takes the lock first varies; enough rounds that both orders happen (a stale read of the GFA in
    # allocation_create let both pass in about one run in three with 3 rounds).
    for attempt in range(10):
        cut = lambda: services.facility_update(  # noqa: E731
            facility=Facility.objects.get(pk=facility.pk), actor=None, gfa_m2=Decimal("7000")
        )
        sign = lambda: tenant_services.allocation_create(  # noqa: E731
            actor=None,
            tenant=tenant,
            facility=Facility.objects.get(pk=facility.pk),
            gfa_m2=Decimal("3000"),
            status=SIGNED,
        )

        results = race(cut, sign)

        assert sum(isinstance(result, ValidationError) for result in results) == 1, results
        current = Facility.objects.get(pk=facility.pk)
        signed = sum(a.gfa_m2 for a in SpaceAllocation.objects.filter(facility=facility, status=SIGNED))
        assert signed <= current.gfa_m2, (attempt, signed, current.gfa_m2)
        # Back to the start for the next round (which thread wins the lock varies).
        SpaceAllocation.objects.filter(facility=facility, gfa_m2=Decimal("3000")).delete()
        Facility.objects.filter(pk=facility.pk).update(gfa_m2=Decimal("10000"))


@pytest.mark.django_db(transaction=True)
def test_the_guards_are_asked_while_the_row_is_locked(monkeypatch):
    """From another connection, the row a guard is asked about cannot be locked: allocation writes wait for it."""
    from django.db import DatabaseError, connection

    facility = FacilityFactory(gfa_m2=Decimal("5000"))
    outcomes = []

    def try_to_lock_elsewhere():
        try:
            with transaction.atomic():
                Facility.objects.select_for_update(nowait=True).get(pk=facility.pk)
            outcomes.append("locked it")
        except DatabaseError:
            outcomes.append("held by the service")
        finally:
            connection.close()

    def spy(proposal):
        thread = threading.Thread(target=try_to_lock_elsewhere)
        thread.start()
        thread.join(timeout=10)
        return []

    monkeypatch.setitem(guards.REGISTRY, "tests.spy", guards.Guard("tests.spy", frozenset(guards.EVENTS), spy))

    services.facility_update(facility=facility, actor=None, gfa_m2=Decimal("4000"))
    services.facility_delete(facility=facility, actor=None)

    assert outcomes == ["held by the service", "held by the service"]


def test_every_shrink_move_or_delete_of_a_plan_row_asks_the_guards(monkeypatch):
    events = []
    monkeypatch.setitem(
        guards.REGISTRY,
        "tests.spy",
        guards.Guard("tests.spy", frozenset(guards.EVENTS), lambda proposal: events.append(proposal.event) or []),
    )
    phase = PhaseFactory()
    other_phase = PhaseFactory(campus=phase.campus)
    facility = FacilityFactory(parcel=ParcelFactory(phase=phase))
    parcel = facility.parcel
    utility = UtilityCapacityFactory(phase=other_phase)
    spare_type = FacilityTypeFactory(code="spare", name_en="Spare")

    services.phase_update(phase=phase, actor=None, target_area_ha=Decimal("2"))
    services.parcel_update(parcel=parcel, actor=None, phase=other_phase)
    services.facility_type_update(facility_type=facility.facility_type, actor=None, pue=Decimal("1.3"))
    services.facility_update(facility=facility, actor=None, gfa_m2=Decimal("900"))
    services.utility_capacity_update(utility=utility, actor=None, capacity=Decimal("6"))
    services.utility_capacity_delete(utility=utility, actor=None)
    services.facility_delete(facility=facility, actor=None)
    services.parcel_delete(parcel=parcel, actor=None)
    services.facility_type_delete(facility_type=spare_type, actor=None)
    UtilityCapacityFactory(phase=phase)
    services.phase_delete(phase=phase, actor=None)

    assert events == [
        guards.PHASE_CHANGE,
        guards.PARCEL_CHANGE,
        guards.FACILITY_TYPE_CHANGE,
        guards.FACILITY_CHANGE,
        guards.UTILITY_CHANGE,
        guards.UTILITY_DELETE,
        guards.FACILITY_DELETE,
        guards.PARCEL_DELETE,
        guards.FACILITY_TYPE_DELETE,
        guards.PHASE_DELETE,
        guards.UTILITY_DELETE,
    ]


def test_a_phase_an_eoi_prefers_cannot_move_to_another_campus():
    phase = PhaseFactory()  # no parcels: planning's own rule lets it move
    eoi = EOIFactory(preferred_phase=phase, status=S.SUBMITTED)
    elsewhere = CampusFactory(code="other")

    with pytest.raises(ValidationError) as refused:
        services.phase_update(phase=phase, actor=None, campus=elsewhere)

    assert (
        f"cannot move to another campus: 1 EOI still in play prefers it (EOI {eoi.reference}"
        in (refused.value.message_dict["campus"][0])
    )
