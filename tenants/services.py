"""Every write to tenant data. The rule that matters most: a facility's signed + occupied GFA never exceeds its GFA,
also when two requests race: the facility's row is locked while the sum is checked and the allocation saved.
"""

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from core.services import apply_changes, delete_audited, lock_for_update, save_audited
from partners.models import Organisation
from planning.models import Facility
from planning.services import fmt_m2, readiness_mark_stale

from .models import SpaceAllocation, Tenant

if TYPE_CHECKING:
    from django.contrib.auth.models import User

TENANT_FIELDS = ("notes",)
ALLOCATION_FIELDS = (
    "tenant",
    "facility",
    "gfa_m2",
    "status",
    "start",
    "end",
)


@transaction.atomic
def tenant_for_organisation(*, organisation: Organisation, actor: "User | None") -> Tenant:
    """The organisation's tenant record, created on first use."""
    tenant = Tenant.objects.filter(organisation=organisation).first()
    if tenant is None:
        tenant = Tenant(organisation=organisation)
        tenant.full_clean()
        save_audited(tenant, actor=actor)
    return tenant


@transaction.atomic
def tenant_update(
    *, tenant: Tenant, actor: "User | None", expected_version: int | None = None, **changes: Any
) -> Tenant:
    """Change a tenant's notes (its organisation is fixed)."""
    tenant = lock_for_update(tenant, expected_version=expected_version)
    changed = apply_changes(tenant, changes, editable=TENANT_FIELDS)
    if not changed:
        return tenant
    tenant.full_clean()
    save_audited(tenant, actor=actor, update_fields=changed)
    return tenant


def _check_space(allocation: SpaceAllocation) -> None:
    """Signed + occupied GFA on the facility stays within its GFA. The facility row is locked by the caller."""
    if allocation.status not in SpaceAllocation.HOLDING_SPACE:
        return
    facility = allocation.facility
    others = SpaceAllocation.objects.filter(facility=facility, status__in=SpaceAllocation.HOLDING_SPACE).exclude(
        pk=allocation.pk
    ).aggregate(total=Sum("gfa_m2"))["total"] or Decimal(0)
    if others + allocation.gfa_m2 > facility.gfa_m2:
        raise ValidationError(
            {
                "gfa_m2": _(
                    "%(facility)s has %(gfa)s; %(taken)s is already signed or occupied, so %(free)s is left, "
                    "not %(wanted)s."
                )
                % {
                    "facility": facility.name,
                    "gfa": fmt_m2(facility.gfa_m2),
                    "taken": fmt_m2(others),
                    "free": fmt_m2(max(facility.gfa_m2 - others, Decimal(0))),
                    "wanted": fmt_m2(allocation.gfa_m2),
                }
            }
        )


def _lock_facilities(*facility_ids: int) -> dict[int, Facility]:
    """Lock the facilities (in id order, so two writers never wait on each other) and return them as read under
    the lock: the GFA to check against is the committed one, not the caller's copy, which a planner's GFA cut
    (planning.services, which takes the same lock) may have made stale."""
    locked = Facility.objects.select_for_update().filter(pk__in=sorted(set(facility_ids))).order_by("pk")
    return {facility.pk: facility for facility in locked}


@transaction.atomic
def allocation_create(*, actor: "User | None", **fields: Any) -> SpaceAllocation:
    allocation = SpaceAllocation()
    apply_changes(allocation, fields, editable=ALLOCATION_FIELDS)
    if allocation.facility_id:
        allocation.facility = _lock_facilities(allocation.facility_id)[allocation.facility_id]
    allocation.full_clean()
    _check_space(allocation)
    save_audited(allocation, actor=actor)
    readiness_mark_stale(phase_ids=[allocation.facility.parcel.phase_id])
    return allocation


@transaction.atomic
def allocation_update(
    *, allocation: SpaceAllocation, actor: "User | None", expected_version: int | None = None, **changes: Any
) -> SpaceAllocation:
    new_facility = changes.get("facility")
    facilities = _lock_facilities(allocation.facility_id, *([new_facility.pk] if new_facility else []))
    allocation = lock_for_update(allocation, expected_version=expected_version)
    old_phase_id = allocation.facility.parcel.phase_id
    changed = apply_changes(allocation, changes, editable=ALLOCATION_FIELDS)
    if not changed:
        return allocation
    if allocation.facility_id not in facilities:  # moved by someone else since the caller read it
        facilities.update(_lock_facilities(allocation.facility_id))
    allocation.facility = facilities[allocation.facility_id]
    allocation.full_clean()
    _check_space(allocation)
    save_audited(allocation, actor=actor, update_fields=changed)
    readiness_mark_stale(phase_ids=[old_phase_id, allocation.facility.parcel.phase_id])
    return allocation


@transaction.atomic
def allocation_delete(*, allocation: SpaceAllocation, actor: "User | None") -> None:
    allocation = lock_for_update(allocation)
    delete_audited(allocation, actor=actor)
    readiness_mark_stale(phase_ids=[allocation.facility.parcel.phase_id])
