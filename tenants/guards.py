"""Tenants' guard on planning: the space allocated in a facility still fits it.

Registered in `TenantsConfig.ready()` with `planning.guards`; planning's services ask it under the facility's row
lock, the same lock allocation writes take (`tenants.services`), so a GFA cut and an allocation cannot race.

* A facility's GFA may not go below its signed + occupied allocations (the rule allocation writes check from the
  other side).
* A facility that space is allocated in cannot be deleted. Ended allocations count too: they are the facility's
  tenancy record (and the database protects them); delete them first, their history is kept.
* A facility with signed or occupied allocations cannot move to another parcel: a lease is for premises on a
  site, so a move is a new premises. Waitlisted and reserved allocations follow the facility to its new parcel.
"""

from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from planning import guards
from planning.services import fmt_m2

from .models import SpaceAllocation

NAME = "tenants.allocations_fit"


def _allocations(facility, statuses=None) -> list[SpaceAllocation]:
    allocations = SpaceAllocation.objects.filter(facility=facility).select_related("tenant__organisation")
    if statuses is not None:
        allocations = allocations.filter(status__in=statuses)
    return list(allocations.order_by("-gfa_m2", "pk"))


def _listed(allocations, *, with_status: bool = False) -> str:
    if with_status:
        items = (
            _("%(tenant)s %(gfa)s (%(status)s)")
            % {"tenant": a.tenant, "gfa": fmt_m2(a.gfa_m2), "status": a.get_status_display()}
            for a in allocations
        )
    else:
        items = (_("%(tenant)s %(gfa)s") % {"tenant": a.tenant, "gfa": fmt_m2(a.gfa_m2)} for a in allocations)
    return guards.listing(items)


def check(proposal: guards.Proposal):
    facility = proposal.row
    if proposal.event == guards.FACILITY_DELETE:
        allocations = _allocations(facility)
        if allocations:
            yield guards.Refusal(
                ngettext(
                    "Facility %(facility)s cannot be deleted: %(count)s space allocation is recorded in it "
                    "(%(allocations)s). Delete it first (its history is kept).",
                    "Facility %(facility)s cannot be deleted: %(count)s space allocations are recorded in it "
                    "(%(allocations)s). Delete them first (their history is kept).",
                    len(allocations),
                )
                % {
                    "facility": facility.name,
                    "count": len(allocations),
                    "allocations": _listed(allocations, with_status=True),
                }
            )
        return
    holding = None
    if proposal.changes("gfa_m2"):
        holding = _allocations(facility, SpaceAllocation.HOLDING_SPACE)
        taken = sum((a.gfa_m2 for a in holding), Decimal(0))
        if facility.gfa_m2 < taken:
            yield guards.Refusal(
                _(
                    "Facility %(facility)s: GFA %(gfa)s is below the %(taken)s already signed or occupied "
                    "(allocations: %(allocations)s)."
                )
                % {
                    "facility": facility.name,
                    "gfa": fmt_m2(facility.gfa_m2),
                    "taken": fmt_m2(taken),
                    "allocations": _listed(holding),
                },
                field="gfa_m2",
            )
    if proposal.changes("parcel"):
        holding = holding if holding is not None else _allocations(facility, SpaceAllocation.HOLDING_SPACE)
        if holding:
            yield guards.Refusal(
                _(
                    "Facility %(facility)s cannot move from parcel %(old)s to parcel %(new)s: %(taken)s in it is "
                    "signed or occupied (allocations: %(allocations)s)."
                )
                % {
                    "facility": facility.name,
                    "old": proposal.old["parcel"].code,
                    "new": proposal.new["parcel"].code,
                    "taken": fmt_m2(sum((a.gfa_m2 for a in holding), Decimal(0))),
                    "allocations": _listed(holding),
                },
                field="parcel",
            )


def register() -> None:
    """Called from `TenantsConfig.ready()`."""
    guards.register(NAME, events={guards.FACILITY_CHANGE, guards.FACILITY_DELETE}, check=check)
