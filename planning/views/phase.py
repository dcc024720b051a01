"""The phase view (`/plan/phases/<number>/`): is this phase coherent and ready, and is it on schedule?

The answer comes first: the readiness (state, score, each criterion with its reasons, blockers first) beside the
schedule summary (forecast against target, what drives it, critical and overdue items). Below them the figures it
rests on: site area against the target, GFA and capacity by facility type, and power and water demand against
supply date by date. Every figure comes from `planning.selectors` or the readiness snapshot; nothing is recomputed
here.

Readiness is computed by a worker after each change. While a recompute is pending (`phase.readiness_stale`), the
readiness section says so and asks its fragment (`phase_readiness`) again every 2 s through htmx; the fragment
answers 204 while nothing has changed, and replaces the section once the recompute is done, which stops the polling.
With `?as_of=YYYY-MM-DD` the page shows the phase as it stood at the end of that day (`planning.asof`): its row,
parcels, programme, utilities and schedule from the history tables (the schedule's forecast computed by the engine
over the network of that day, with that day as today), and the latest readiness snapshot computed by then; read-only,
under the map's banner, with no polling. A date that is not a day that has begun answers 400 saying why; a phase that
did not exist yet, 404. Both modes show the phase's history of changes (up to that day, as of a day).

Read by planners, executives and staff; partners are refused as on every plan page.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from core.roles import EXECUTIVE, PLANNER, STAFF, can_edit_plan, role_required
from core.units import ha_to_m2

from .. import asof, readiness, selectors
from ..models import Parcel, Phase, UtilityCapacity
from ..readiness.criteria import completion_and_driver
from .pages import parcel_url

# Criteria with something wrong come first: they are what blocks the phase.
STATE_ORDER = {readiness.FAIL: 0, readiness.AT_RISK: 1, readiness.PASS: 2}
POLL_TRIGGER = "every 2s"


def _phase(request, number: int, as_of: asof.AsOf | None = None) -> Phase:
    """The phase `number` of the campus `?campus=<code>` names, else of the first campus (by code) that has one;
    404 when there is none (as of a day: none of that number then). `phase.elsewhere` lists the other campuses'
    phases of that number (links offered)."""
    phases = asof.plan_rows(Phase, as_of).restrict(request.user).filter(number=number).select_related("campus")
    if as_of is None:
        phases = phases.defer("campus__boundary")  # the page draws no map (as of a day, the campus is read apart)
    campus = request.GET.get("campus", "")
    found = list(phases.with_totals().order_by("campus__code"))
    chosen = [phase for phase in found if phase.campus.code == campus] if campus else found[:1]
    if not chosen:
        raise Http404
    phase = chosen[0]
    phase.query = f"?campus={phase.campus.code}" if len(found) > 1 else ""
    # Today's number of the phase (it may have been renumbered since, or deleted: None), for the links to today.
    phase.number_today = (
        number if as_of is None else Phase.objects.filter(pk=phase.pk).values_list("number", flat=True).first()
    )
    phase.elsewhere = [other for other in found if other.pk != phase.pk]
    for other in phase.elsewhere:
        other.url = f"{reverse('planning:phase', args=[number])}?campus={other.campus.code}"
        other.url += f"&{as_of.query}" if as_of else ""
    return phase


def _parcel_href(code: str, as_of: asof.AsOf | None) -> str:
    """The parcel in the workspace; as of a past day, its read-only panel of that day."""
    return parcel_url(code, as_of=as_of) + (f"?{as_of.query}" if as_of else "")


def _links(criterion: dict, *, can_edit: bool, as_of: asof.AsOf | None = None) -> None:
    """Where a criterion's objects can be opened: each reason's parcels in the workspace (planners and staff: the
    only ones who may open it; as of a past day, read-only as they stood then), and once per criterion the phase's
    timeline (schedule items) or this page's supply table (utility lines), which the reasons' own words name."""
    criterion["links"] = []
    for reason in criterion["reasons"]:
        codes = dict.fromkeys(obj["label"] for obj in reason["objects"] if obj.get("type") == "parcel")
        reason["parcels"] = [{"code": code, "href": _parcel_href(code, as_of)} for code in codes] if can_edit else []
        kinds = {obj.get("type") for obj in reason["objects"]}
        if "schedule_item" in kinds and "timeline" not in criterion["links"]:
            criterion["links"].append("timeline")
        if "utility" in kinds and "supply" not in criterion["links"]:
            criterion["links"].append("supply")


def readiness_context(phase: Phase, *, user, as_of: asof.AsOf | None = None) -> dict:
    """The readiness section's context: the latest snapshot (as of a past day, the latest computed by the end of
    it), its criteria in the reader's language with the blockers first, and whether the section polls (while a
    recompute is pending; never as of a past day)."""
    snapshots = phase.readiness_snapshots.all()
    if as_of is not None:
        snapshots = snapshots.filter(computed_at__lt=as_of.moment)
    snapshot = snapshots.order_by("-computed_at", "-id").first()
    criteria = readiness.readable_criteria(snapshot.criteria) if snapshot else []
    criteria.sort(key=lambda criterion: STATE_ORDER.get(criterion["state"], 0))
    can_edit = can_edit_plan(user)
    for criterion in criteria:
        _links(criterion, can_edit=can_edit, as_of=as_of)
    poll_url = reverse("planning:phase-readiness", args=[phase.number])
    shown = snapshot.pk if snapshot else "none"
    poll_url += f"{phase.query}{'&' if phase.query else '?'}shown={shown}"
    return {
        "phase": phase,
        "snapshot": snapshot,
        "criteria": criteria,
        "blockers": [c for c in criteria if c["state"] != readiness.PASS],
        "stale": phase.readiness_stale and as_of is None,
        "poll_url": poll_url,
        "poll_trigger": POLL_TRIGGER,
        "timeline_url": timeline_url(phase),
    }


def timeline_url(phase: Phase) -> str:
    """The phase's timeline (`planning.views.schedule`), of the same campus: today's (as of a past day too: the
    timeline has no past), "" when the phase is gone since."""
    if phase.number_today is None:
        return ""
    return reverse("planning:schedule-phase", args=[phase.number_today]) + phase.query


def today_url(phase: Phase) -> str:
    """This page for the phase today (the way back from a past day); the phases' list when the phase is gone."""
    if phase.number_today is None:
        return reverse("dashboard:dashboard")
    return reverse("planning:phase", args=[phase.number_today]) + phase.query


def _schedule_summary(phase: Phase, as_of: asof.AsOf | None = None) -> dict:
    schedule = selectors.phase_schedule(phase, as_of=as_of)
    items = schedule["items"]
    starts = [item.forecast_start for item in items if item.forecast_start is not None]
    last, driver = completion_and_driver(items)
    slip = schedule["completion_slip_days"]
    return {
        **schedule,
        "spare_days": -slip if slip is not None and slip < 0 else 0,
        "forecast_start": min(starts) if starts else None,
        "last": last,
        "driver": driver if driver is not None and last is not None and driver.pk != last.pk else None,
        "critical": [item for item in items if item.critical],
        "overdue": [item for item in items if item.is_overdue],
        "timeline_url": timeline_url(phase),
    }


def _share(part, whole) -> Decimal:
    """`part` as a percentage of `whole`, 0 when `whole` is 0."""
    return Decimal(part) * 100 / Decimal(whole) if whole else Decimal(0)


def _site_area(phase: Phase) -> dict:
    """Site area against the target, with the bar's geometry (percentages of the longer of the two)."""
    target = ha_to_m2(phase.target_area_ha)
    area = phase.site_area_m2
    scale = max(area, target)
    return {
        "area_m2": area,
        "target_m2": target,
        "share_pct": _share(area, target),
        "bar_pct": _share(area, scale),
        "target_pct": _share(target, scale),
        "warnings": selectors.phase_warnings(phase),
    }


def _programme(phase: Phase, facilities: list) -> dict:
    types = selectors.phase_programme_by_type(phase, facilities=facilities)
    total = sum((facility_type.gfa_m2 for facility_type in types), Decimal(0))
    for facility_type in types:
        facility_type.share_pct = _share(facility_type.gfa_m2, total)
    lettable = sum((t.gfa_m2 for t in types if t.lettable), Decimal(0))
    return {"types": types, "total_gfa_m2": total, "lettable_gfa_m2": lettable}


def _utilities(phase: Phase, facilities: list, *, default_completion, as_of: asof.AsOf | None = None) -> dict:
    lines = list(
        asof.plan_rows(UtilityCapacity, as_of).filter(phase_id=phase.pk).order_by("available_from", "kind", "pk")
    )
    outlooks = selectors.phase_utility_outlook(facilities, lines)
    return {
        "outlooks": list(outlooks.values()),
        "other_lines": [line for line in lines if line.kind not in outlooks],
        "default_completion": default_completion,
        "facilities_on_default": [f for f in facilities if f.completion_source == "phase"],
    }


def _parcels(phase: Phase, as_of: asof.AsOf | None) -> list[Parcel]:
    if as_of is not None:  # history records are read whole: a deferred field would cost a query per row
        return list(as_of.rows(Parcel).filter(phase_id=phase.pk).with_gfa().order_by("code"))
    # Not their polygons: the page draws no map, and a polygon weighs more than the rest of the row.
    columns = ("code", "surveyed_area_m2", "computed_area_m2", "land_status", "handover_date")
    return list(Parcel.objects.filter(phase=phase).only(*columns).with_gfa().order_by("code"))


def _as_of_refused(request, error: ValidationError, number: int) -> HttpResponse:
    """400 for a `?as_of=` that is not a day that has begun, saying why, with the way to today's phase."""
    context = {
        "message": error.message_dict[asof.PARAMETER][0],
        "plan_url": reverse("planning:phase", args=[number]),
    }
    return render(request, "planning/history_refused.html", context, status=400)


@role_required(EXECUTIVE, PLANNER, STAFF)
@require_GET
def phase_detail(request, number: int):
    try:
        as_of = asof.AsOf.from_query(request.GET)
    except ValidationError as error:
        return _as_of_refused(request, error, number)
    phase = _phase(request, number, as_of)
    schedule = _schedule_summary(phase, as_of)
    default_completion = schedule["forecast_completion"] or phase.planned_completion
    facilities = selectors.phase_facility_completions(phase, default=default_completion, as_of=as_of)
    parcels = _parcels(phase, as_of)
    can_edit = can_edit_plan(request.user)
    for parcel in parcels:
        parcel.url = _parcel_href(parcel.code, as_of) if can_edit else ""
    context = {
        "title": phase.name,
        "phase": phase,
        **readiness_context(phase, user=request.user, as_of=as_of),  # the readiness section's own context
        "schedule": schedule,
        "site": _site_area(phase),
        "programme": _programme(phase, facilities),
        "utilities": _utilities(phase, facilities, default_completion=default_completion, as_of=as_of),
        "parcels": parcels,
        "can_edit": can_edit,
        "as_of": as_of,
        "today_url": today_url(phase),
    }
    if as_of is not None:
        context["title"] = _("%(phase)s as of %(day)s") % {"phase": phase.name, "day": as_of}
    return render(request, "planning/phase.html", context)


@role_required(EXECUTIVE, PLANNER, STAFF)
@require_GET
def phase_readiness(request, number: int):
    """The readiness section alone (htmx polls it while a recompute is pending). With `?shown=<snapshot id>` (the
    snapshot the page shows, or "none"), it answers 204 No Content while the phase is still stale and has no newer
    snapshot, so the page changes nothing; otherwise the section, which stops polling once the phase is current."""
    phase = _phase(request, number)
    context = readiness_context(phase, user=request.user)
    snapshot = context["snapshot"]
    shown = request.GET.get("shown")
    if shown is not None and phase.readiness_stale and shown == (str(snapshot.pk) if snapshot else "none"):
        return HttpResponse(status=204)
    context["announce"] = shown is not None
    return render(request, "planning/_phase_readiness.html", context)


urlpatterns = [
    path("plan/phases/<int:number>/", phase_detail, name="phase"),
    path("plan/phases/<int:number>/readiness/", phase_readiness, name="phase-readiness"),
]
