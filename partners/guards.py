"""Partners' guard on planning: commitments and live EOIs hold the plan rows that name them.

Registered in `PartnersConfig.ready()` with `planning.guards`; planning's services ask it while the row is locked.

* Commitments are made on a parcel and, optionally, a facility: that parcel or facility cannot be deleted, and a
  facility named by a commitment cannot move to another parcel (the commitment would name a facility that is not on
  its parcel). Every commitment counts, at any rung of the ladder: delete or change the commitment first.
* EOIs that are still in play name a preferred phase or parcel: draft, submitted, under review, shortlisted, on
  hold or accepted (`GUARDED_STATUSES`; a draft counts because its organisation is still writing it, an accepted
  one until its commitment is made and after). Such a phase or parcel cannot be deleted (the database would clear
  the preference silently), a phase they prefer cannot move to another campus, and a parcel they ask for in a
  given phase cannot move to another phase. Declined and withdrawn EOIs do not hold anything.
* A facility type named by any EOI, whatever its status, cannot be deleted: an EOI keeps the type it asked for.
"""

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from planning import guards
from planning.services import fmt_m2

from .models import LIVE_STATUSES, Commitment, ExpressionOfInterest

NAME = "partners.commitments_and_eois"
GUARDED_STATUSES = (ExpressionOfInterest.Status.DRAFT, *LIVE_STATUSES)


def _commitments(**filters) -> list[Commitment]:
    return list(
        Commitment.objects.filter(**filters).select_related("organisation", "stage", "parcel").order_by("date", "pk")
    )


def _commitment_text(commitment: Commitment) -> str:
    if commitment.kind == Commitment.Kind.CAPITAL:
        amount = _("HKD %(amount)s million") % {"amount": f"{commitment.amount_hkd_m:,.0f}"}
    else:
        amount = fmt_m2(commitment.gfa_m2)
    return _("%(organisation)s, %(kind)s at %(stage)s, %(amount)s") % {
        "organisation": commitment.organisation,
        "kind": commitment.get_kind_display().lower(),
        "stage": commitment.stage,
        "amount": amount,
    }


def _eois(*, live: bool = True, **filters) -> list[ExpressionOfInterest]:
    eois = ExpressionOfInterest.objects.filter(**filters).select_related("organisation")
    if live:
        eois = eois.filter(status__in=GUARDED_STATUSES)
    return list(eois.order_by("pk"))


def _eoi_text(eoi: ExpressionOfInterest) -> str:
    return _("%(eoi)s (%(organisation)s, %(status)s)") % {
        "eoi": eoi,
        "organisation": eoi.organisation,
        "status": eoi.get_status_display().lower(),
    }


def check_parcel(proposal: guards.Proposal):
    parcel = proposal.row
    if proposal.event == guards.PARCEL_DELETE:
        commitments = _commitments(parcel=parcel)
        if commitments:
            yield guards.Refusal(
                ngettext(
                    "Parcel %(code)s cannot be deleted: %(count)s commitment is made on it (%(commitments)s).",
                    "Parcel %(code)s cannot be deleted: %(count)s commitments are made on it (%(commitments)s).",
                    len(commitments),
                )
                % {
                    "code": parcel.code,
                    "count": len(commitments),
                    "commitments": guards.listing(map(_commitment_text, commitments)),
                }
            )
        eois = _eois(preferred_parcel=parcel)
        if eois:
            yield guards.Refusal(
                ngettext(
                    "Parcel %(code)s cannot be deleted: %(count)s EOI still in play asks for it (%(eois)s).",
                    "Parcel %(code)s cannot be deleted: %(count)s EOIs still in play ask for it (%(eois)s).",
                    len(eois),
                )
                % {"code": parcel.code, "count": len(eois), "eois": guards.listing(map(_eoi_text, eois))}
            )
    elif proposal.changes("phase") and proposal.old["phase"] is not None:
        old_phase, new_phase = proposal.old["phase"], proposal.new["phase"]
        eois = _eois(preferred_parcel=parcel, preferred_phase=old_phase)
        if eois:
            yield guards.Refusal(
                ngettext(
                    "Parcel %(code)s cannot move from %(old)s to %(new)s: %(count)s EOI still in play asks for it "
                    "in %(old)s (%(eois)s).",
                    "Parcel %(code)s cannot move from %(old)s to %(new)s: %(count)s EOIs still in play ask for it "
                    "in %(old)s (%(eois)s).",
                    len(eois),
                )
                % {
                    "code": parcel.code,
                    "old": old_phase.name,
                    "new": new_phase.name if new_phase is not None else _("the reserve"),
                    "count": len(eois),
                    "eois": guards.listing(map(_eoi_text, eois)),
                },
                field="phase",
            )


def check_facility(proposal: guards.Proposal):
    facility = proposal.row
    if proposal.event == guards.FACILITY_DELETE:
        commitments = _commitments(facility=facility)
        if commitments:
            yield guards.Refusal(
                ngettext(
                    "Facility %(facility)s cannot be deleted: %(count)s commitment names it (%(commitments)s).",
                    "Facility %(facility)s cannot be deleted: %(count)s commitments name it (%(commitments)s).",
                    len(commitments),
                )
                % {
                    "facility": facility.name,
                    "count": len(commitments),
                    "commitments": guards.listing(map(_commitment_text, commitments)),
                }
            )
    elif proposal.changes("parcel"):
        commitments = _commitments(facility=facility)
        if commitments:
            yield guards.Refusal(
                ngettext(
                    "Facility %(facility)s cannot move from parcel %(old)s to parcel %(new)s: %(count)s commitment "
                    "names it on parcel %(old)s (%(commitments)s).",
                    "Facility %(facility)s cannot move from parcel %(old)s to parcel %(new)s: %(count)s commitments "
                    "name it on parcel %(old)s (%(commitments)s).",
                    len(commitments),
                )
                % {
                    "facility": facility.name,
                    "old": proposal.old["parcel"].code,
                    "new": proposal.new["parcel"].code,
                    "count": len(commitments),
                    "commitments": guards.listing(map(_commitment_text, commitments)),
                },
                field="parcel",
            )


def check_facility_type(proposal: guards.Proposal):
    facility_type = proposal.row
    eois = _eois(live=False, facility_type=facility_type)
    if eois:
        yield guards.Refusal(
            ngettext(
                "Facility type %(type)s cannot be deleted: %(count)s EOI asks for it (%(eois)s), and an EOI keeps "
                "the type it asked for.",
                "Facility type %(type)s cannot be deleted: %(count)s EOIs ask for it (%(eois)s), and an EOI keeps "
                "the type it asked for.",
                len(eois),
            )
            % {"type": facility_type.name, "count": len(eois), "eois": guards.listing(map(_eoi_text, eois))}
        )


def check_phase(proposal: guards.Proposal):
    phase = proposal.row
    if proposal.event == guards.PHASE_CHANGE and not proposal.changes("campus"):
        return
    eois = _eois(preferred_phase=phase)
    if not eois:
        return
    params = {"phase": phase.name, "count": len(eois), "eois": guards.listing(map(_eoi_text, eois))}
    if proposal.event == guards.PHASE_DELETE:
        yield guards.Refusal(
            ngettext(
                "%(phase)s cannot be deleted: %(count)s EOI still in play prefers it (%(eois)s).",
                "%(phase)s cannot be deleted: %(count)s EOIs still in play prefer it (%(eois)s).",
                len(eois),
            )
            % params
        )
    else:
        yield guards.Refusal(
            ngettext(
                "%(phase)s cannot move to another campus: %(count)s EOI still in play prefers it (%(eois)s).",
                "%(phase)s cannot move to another campus: %(count)s EOIs still in play prefer it (%(eois)s).",
                len(eois),
            )
            % params,
            field="campus",
        )


def check(proposal: guards.Proposal):
    if proposal.event in (guards.PARCEL_CHANGE, guards.PARCEL_DELETE):
        yield from check_parcel(proposal)
    elif proposal.event in (guards.FACILITY_CHANGE, guards.FACILITY_DELETE):
        yield from check_facility(proposal)
    elif proposal.event == guards.FACILITY_TYPE_DELETE:
        yield from check_facility_type(proposal)
    elif proposal.event in (guards.PHASE_CHANGE, guards.PHASE_DELETE):
        yield from check_phase(proposal)


def register() -> None:
    """Called from `PartnersConfig.ready()`."""
    guards.register(
        NAME,
        events={
            guards.PARCEL_CHANGE,
            guards.PARCEL_DELETE,
            guards.FACILITY_CHANGE,
            guards.FACILITY_DELETE,
            guards.FACILITY_TYPE_DELETE,
            guards.PHASE_CHANGE,
            guards.PHASE_DELETE,
        },
        check=check,
    )
