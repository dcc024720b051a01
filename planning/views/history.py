"""The plan's history in the workspace: who changed a phase, parcel, facility, utility capacity or schedule item,
when, what (old → new) and why, as htmx fragments other pages include; and the parcel panel as a parcel stood at
the end of a past day (the map workspace's `?as_of=`, see `pages.render_workspace` and `planning.asof`).

- `/plan/history/<kind>/<pk>/`: the newest changes of one row (a phase with its utility capacities, a parcel with
  its facilities, a schedule item with its links to its predecessors), "Show more" loading a longer list in place;
  `?as_of=YYYY-MM-DD` keeps to the changes made by the end of that day. A row deleted since still has its history.
  Read by planners, executives and staff (partners 403); include it in a page with
  `{% include "planning/_history_slot.html" with kind="phase" pk=phase.pk %}`.
- `/plan/history/parcels/<code>/?as_of=YYYY-MM-DD`: the parcel panel as the parcel stood then, read-only.

`changes_of()` is the one reading of changes, also behind the parcel panel's history (`parcel.parcel_history`).
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET

from core import history
from core.roles import EXECUTIVE, PLANNER, STAFF, role_required

from ..asof import AsOf
from ..models import Facility, Parcel, Phase, ScheduleDependency, ScheduleItem, UtilityCapacity
from . import pages

# Changes shown at first, and how many more each "Show more" adds (at most HISTORY_MAX).
HISTORY_SHOWN = 10
HISTORY_MAX = 200


@dataclass
class HistoryEntry:
    """One change to a row or one of its parts: who, when, what (old → new) and why."""

    subject: str
    action: str
    who: str
    at: object
    changes: list[history.Change] = field(default_factory=list)
    reason: str = ""


@dataclass(frozen=True)
class Source:
    """Changes to show: history rows of `model`, how a row is named, and the word for each kind of change."""

    model: type
    records: QuerySet
    subject: Callable[[object], str]
    actions: dict[str, str]


def _created_changed_deleted() -> dict[str, str]:
    return {"+": pgettext("history action", "created"), "~": _("changed"), "-": _("deleted")}


def _added_changed_removed() -> dict[str, str]:
    return {"+": _("added"), "~": _("changed"), "-": _("removed")}


def changes(sources: list[Source], *, limit: int, before=None) -> tuple[list[HistoryEntry], bool]:
    """The newest `limit` changes among `sources` (made before `before`, a moment, when given), newest first, and
    whether there are more.

    The same queries whatever the number of rows: the newest records of each source (with the id of each record's
    previous version, from a subquery), those previous versions (to say what each change changed), and one per
    related row a change names (a phase, a facility type).
    """
    rows = []
    for source in sources:
        model = source.model
        previous = (
            model.history.filter(id=OuterRef("id"), history_id__lt=OuterRef("history_id"))
            .order_by("-history_id")
            .values("history_id")[:1]
        )
        records = source.records if before is None else source.records.filter(history_date__lt=before)
        newest = records.select_related("history_user").annotate(previous_id=Subquery(previous))
        rows += [(source, row) for row in newest.order_by("-history_date", "-history_id")[: limit + 1]]
    rows.sort(key=lambda pair: (pair[1].history_date, pair[1].history_id), reverse=True)
    more = len(rows) > limit
    rows = rows[:limit]

    wanted = defaultdict(list)
    for source, row in rows:
        if row.history_type == "~" and row.previous_id:
            wanted[source.model].append(row.previous_id)
    previous_rows = {
        (model, row.history_id): row
        for model, ids in wanted.items()
        for row in model.history.filter(history_id__in=ids)
    }
    names: dict = {}
    entries = []
    for source, row in rows:
        before_row = previous_rows.get((source.model, row.previous_id))
        found = history.changes_between(before_row, row, model=source.model, names=names) if before_row else []
        entries.append(
            HistoryEntry(
                subject=source.subject(row),
                action=source.actions[row.history_type],
                who=history.person(row.history_user) or _("the system"),
                at=row.history_date,
                changes=found,
                reason=row.history_change_reason or "",
            )
        )
    return entries, more


# --- what each kind of row shows --------------------------------------------------------------------------------


def _item_names(ids) -> dict[int, str]:
    """The names of schedule items by id, as last recorded (an item deleted since keeps its name)."""
    names = {}
    for row in ScheduleItem.history.filter(id__in=set(ids)).order_by("id", "-history_date", "-history_id"):
        names.setdefault(row.id, row.title or str(row.get_category_display()))
    return names


def _sources(kind: str, pk: int) -> list[Source]:
    """The history a row of `kind` shows: its own, and that of the parts shown with it."""
    facility = Source(
        Facility,
        Facility.history.filter(id=pk),
        lambda row: _("Facility %(name)s") % {"name": row.name},
        _added_changed_removed(),
    )
    utility = Source(
        UtilityCapacity,
        UtilityCapacity.history.filter(id=pk),
        lambda row: _("Utility capacity: %(kind)s") % {"kind": row.get_kind_display()},
        _added_changed_removed(),
    )
    if kind == "parcel":
        return [
            Source(
                Parcel,
                Parcel.history.filter(id=pk),
                lambda row: _("Parcel %(code)s") % {"code": row.code},
                _created_changed_deleted(),
            ),
            Source(Facility, Facility.history.filter(parcel_id=pk), facility.subject, facility.actions),
        ]
    if kind == "phase":
        return [
            Source(
                Phase,
                Phase.history.filter(id=pk),
                lambda row: _("Phase %(number)s") % {"number": row.number},
                _created_changed_deleted(),
            ),
            Source(UtilityCapacity, UtilityCapacity.history.filter(phase_id=pk), utility.subject, utility.actions),
        ]
    if kind == "facility":
        return [facility]
    if kind == "utility":
        return [utility]
    if kind == "schedule-item":
        links = ScheduleDependency.history.filter(successor_id=pk)
        names = _item_names([pk, *links.values_list("predecessor_id", flat=True)])
        return [
            Source(
                ScheduleItem,
                ScheduleItem.history.filter(id=pk),
                lambda row: names.get(row.id) or _("Schedule item"),
                _created_changed_deleted(),
            ),
            Source(
                ScheduleDependency,
                links,
                lambda row: _("Waits for %(name)s") % {"name": names.get(row.predecessor_id, f"#{row.predecessor_id}")},
                _added_changed_removed(),
            ),
        ]
    raise Http404


KINDS = {
    "phase": Phase,
    "parcel": Parcel,
    "facility": Facility,
    "utility": UtilityCapacity,
    "schedule-item": ScheduleItem,
}


def changes_of(kind: str, pk: int, *, limit: int, before=None) -> tuple[list[HistoryEntry], bool]:
    """The newest `limit` changes to the row `pk` of `kind` (see `KINDS`) and its parts, and whether there are
    more."""
    return changes(_sources(kind, pk), limit=limit, before=before)


def _limit(request) -> int:
    try:
        return max(HISTORY_SHOWN, min(int(request.GET.get("shown", HISTORY_SHOWN)), HISTORY_MAX))
    except ValueError:
        return HISTORY_SHOWN


def history_context(
    kind: str, pk: int, *, limit: int = HISTORY_SHOWN, as_of: AsOf | None = None, heading_level: int = 3
) -> dict:
    """What `planning/_history.html` shows for the row `pk` of `kind`."""
    entries, more = changes_of(kind, pk, limit=limit, before=as_of.moment if as_of else None)
    query = {"shown": len(entries) + HISTORY_SHOWN * 2}
    if as_of:
        query["as_of"] = as_of.day.isoformat()
    if heading_level != 3:
        query["level"] = heading_level
    return {
        "history_id": f"history-{kind}-{pk}",
        "heading_level": heading_level,
        "history_entries": entries,
        "history_more": more,
        "history_more_url": f"{reverse('planning:history', args=[kind, pk])}?{urlencode(query)}",
        "history_as_of": as_of,
    }


# --- views ------------------------------------------------------------------------------------------------------


def _as_of(request) -> AsOf | None:
    """The request's `?as_of=`; a 400 saying what is wrong with it is raised as `AsOfRefused`."""
    try:
        return AsOf.from_query(request.GET)
    except ValidationError as error:
        raise AsOfRefused(error.message_dict["as_of"][0]) from None


class AsOfRefused(Exception):
    """`?as_of=` is not a day that has begun (the message says why)."""


def as_of_refused(request, message: str, *, fragment: bool) -> HttpResponse:
    """The answer to a bad `?as_of=`: 400, with the reason and a way back to today's plan."""
    context = {"message": message, "plan_url": reverse("planning:plan")}
    if fragment:
        return HttpResponse(render_to_string("planning/_history_refused.html", context, request), status=400)
    return render(request, "planning/history_refused.html", context, status=400)


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


@require_GET
@role_required(PLANNER, EXECUTIVE, STAFF)
def history_fragment(request, kind: str, pk: int):
    """The history of one row and its parts (see the module docstring); 404 for a row that never existed."""
    model = KINDS.get(kind)
    if model is None or model.objects.restrict(request.user).query.is_empty():
        raise Http404
    try:
        as_of = _as_of(request)
    except AsOfRefused as refused:
        return as_of_refused(request, str(refused), fragment=True)
    if not model.history.filter(id=pk).exists():
        raise Http404
    level = {"2": 2, "3": 3, "4": 4}.get(request.GET.get("level", ""), 3)
    context = history_context(kind, pk, limit=_limit(request), as_of=as_of, heading_level=level)
    return HttpResponse(render_to_string("planning/_history.html", context, request))


def parcel_as_of_context(parcel: Parcel, as_of: AsOf) -> dict:
    """The read-only parcel panel of `planning/_history_parcel.html`: the parcel, its programme and its history as
    they stood at the end of the day."""
    facilities = list(
        as_of.rows(Facility).filter(parcel_id=parcel.pk).select_related("facility_type").order_by("name", "id")
    )
    gfa = sum((facility.gfa_m2 for facility in facilities), Decimal(0))
    cap = parcel.gfa_cap_m2
    code_today = Parcel.objects.filter(pk=parcel.pk).values_list("code", flat=True).first()
    return {
        "parcel": parcel,
        "facilities": facilities,
        "gfa": gfa,
        "gfa_cap": cap,
        "gfa_pct": (gfa / cap * 100).quantize(Decimal("0.1")) if cap else None,
        "as_of": as_of,
        "code_today": code_today,
        "today_url": pages.parcel_url(code_today) if code_today else "",
        **history_context("parcel", parcel.pk, as_of=as_of),
    }


@require_GET
@role_required(PLANNER, STAFF)
def parcel_as_of(request, code: str):
    """The parcel `code` as it stood at the end of `?as_of=`: a fragment to htmx, else the whole workspace as of
    that day with the panel open."""
    try:
        as_of = _as_of(request)
    except AsOfRefused as refused:
        return as_of_refused(request, str(refused), fragment=is_htmx(request))
    if as_of is None:
        return as_of_refused(request, _("Give the day to show the parcel as of (as_of=YYYY-MM-DD)."), fragment=False)
    parcels = as_of.rows(Parcel).restrict(request.user).filter(code=code).select_related("phase", "campus")
    campus = pages.campus_code(request)
    if campus:
        parcels = parcels.filter(campus__code=campus)
    parcel = parcels.first()
    if parcel is None:
        raise Http404
    html = render_to_string("planning/_history_parcel.html", parcel_as_of_context(parcel, as_of), request)
    if is_htmx(request):
        return HttpResponse(html)
    return pages.render_workspace(request, panel_html=html)


urlpatterns = [
    path("plan/history/parcels/<str:code>/", parcel_as_of, name="parcel-as-of"),
    path("plan/history/<slug:kind>/<int:pk>/", history_fragment, name="history"),
]
