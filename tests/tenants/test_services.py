"""Space allocations: signed + occupied GFA never exceeds the facility's GFA, also when requests race."""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from core.services import ConflictError
from tenants import services
from tenants.models import SpaceAllocation
from tests.factories import AllocationFactory, FacilityFactory, TenantFactory


@pytest.mark.django_db
class TestSpaceRule:
    def test_the_gfa_checked_is_the_one_stored_not_the_callers_copy(self):
        """A planner cut the GFA after the caller read the facility: the check reads it again under the lock."""
        from planning import services as planning_services

        facility = FacilityFactory(gfa_m2=Decimal("10000"))
        AllocationFactory(facility=facility, gfa_m2=Decimal("6000"), status="signed")
        read_before_the_cut = type(facility).objects.get(pk=facility.pk)
        planning_services.facility_update(facility=facility, actor=None, gfa_m2=Decimal("7000"))

        with pytest.raises(ValidationError) as refused:
            AllocationFactory(facility=read_before_the_cut, gfa_m2=Decimal("3000"), status="signed")
        assert "1,000 m² is left" in refused.value.message_dict["gfa_m2"][0]

        allocation = AllocationFactory(facility=facility, gfa_m2=Decimal("500"), status="reserved")
        with pytest.raises(ValidationError):
            services.allocation_update(allocation=allocation, actor=None, status="signed", gfa_m2=Decimal("1500"))

    def test_signed_and_occupied_space_fills_the_facility_exactly(self):
        facility = FacilityFactory(gfa_m2=Decimal("10000"))
        AllocationFactory(facility=facility, gfa_m2=Decimal("6000"), status="signed")
        AllocationFactory(facility=facility, gfa_m2=Decimal("4000"), status="occupied")
        assert SpaceAllocation.objects.holding_space().count() == 2

    def test_one_square_metre_more_is_refused_with_the_numbers(self):
        facility = FacilityFactory(name="Tower A", gfa_m2=Decimal("10000"))
        AllocationFactory(facility=facility, gfa_m2=Decimal("6000"), status="signed")

        with pytest.raises(ValidationError) as refused:
            AllocationFactory(facility=facility, gfa_m2=Decimal("4001"), status="occupied")

        assert refused.value.message_dict["gfa_m2"] == [
            "Tower A has 10,000 m²; 6,000 m² is already signed or occupied, so 4,000 m² is left, not 4,001 m²."
        ]
        assert SpaceAllocation.objects.count() == 1

    def test_waitlisted_and_reserved_space_does_not_count(self):
        facility = FacilityFactory(gfa_m2=Decimal("10000"))
        AllocationFactory(facility=facility, gfa_m2=Decimal("10000"), status="signed")
        AllocationFactory(facility=facility, gfa_m2=Decimal("5000"), status="waitlisted")
        reserved = AllocationFactory(facility=facility, gfa_m2=Decimal("5000"), status="reserved")

        with pytest.raises(ValidationError):
            services.allocation_update(allocation=reserved, actor=None, status="signed")
        reserved.refresh_from_db()
        assert reserved.status == "reserved"

    def test_ending_an_allocation_frees_its_space(self):
        facility = FacilityFactory(gfa_m2=Decimal("10000"))
        old = AllocationFactory(facility=facility, gfa_m2=Decimal("10000"), status="occupied")
        services.allocation_update(allocation=old, actor=None, status="ended")
        assert AllocationFactory(facility=facility, gfa_m2=Decimal("10000"), status="signed").pk

    def test_moving_an_allocation_checks_the_new_facility(self):
        full = FacilityFactory(gfa_m2=Decimal("1000"))
        AllocationFactory(facility=full, gfa_m2=Decimal("1000"), status="signed")
        moving = AllocationFactory(gfa_m2=Decimal("500"), status="signed")
        with pytest.raises(ValidationError):
            services.allocation_update(allocation=moving, actor=None, facility=full)

    def test_end_before_start_is_refused(self):
        import datetime

        with pytest.raises(ValidationError, match="end cannot be before the start"):
            AllocationFactory(start=datetime.date(2030, 1, 1), end=datetime.date(2029, 1, 1))


@pytest.mark.django_db(transaction=True)
def test_two_racing_signatures_cannot_overfill_a_facility():
    """Two transactions on real PostgreSQL connections, released together: exactly one may sign."""
    facility = FacilityFactory(gfa_m2=Decimal("10000"))
    tenants = [TenantFactory(), TenantFactory()]
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def sign(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = services.allocation_create(
                actor=None, tenant=tenants[index], facility=facility, gfa_m2=Decimal("6000"), status="signed"
            )
        except Exception as error:  # the refusal is the result under test
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=sign, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sum(isinstance(result, ValidationError) for result in results) == 1, results
    assert SpaceAllocation.objects.filter(facility=facility).count() == 1


@pytest.mark.django_db
def test_tenant_notes_change_and_are_recorded():
    tenant = TenantFactory()
    tenant = services.tenant_update(tenant=tenant, actor=None, notes="Moves in with 40 staff.")
    assert tenant.notes == "Moves in with 40 staff." and tenant.version == 2
    with pytest.raises(ValidationError):
        services.tenant_update(tenant=tenant, actor=None, organisation=None)


@pytest.mark.django_db
def test_tenant_update_records_its_actor_refuses_a_stale_version_and_writes_nothing_unchanged(staff_user):
    tenant = TenantFactory()
    tenant = services.tenant_update(tenant=tenant, actor=staff_user, notes="Fit-out in May.", expected_version=1)
    assert tenant.version == 2
    assert tenant.history.first().history_user == staff_user

    with pytest.raises(ConflictError):
        services.tenant_update(tenant=tenant, actor=staff_user, notes="Fit-out in June.", expected_version=1)
    unchanged = services.tenant_update(tenant=tenant, actor=staff_user, notes="Fit-out in May.")

    assert unchanged.version == 2 and unchanged.notes == "Fit-out in May."
    assert tenant.history.count() == 2
