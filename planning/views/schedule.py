"""The delivery schedule: `/plan/schedule/` (every phase) and `/plan/schedule/<number>/` (one phase) answer "when,
and what drives the date?".

Each phase shows its forecast completion against its target, what drives a slip and why, its critical path and its
overdue items, then a Gantt chart drawn here as SVG (no script needed to read it, printable, nothing inline the
Content Security Policy refuses): the forecast bar with the baseline as a thin bar under it, milestones as diamonds,
dependencies as arrows from finish to start, the critical path in its own colour and in bold, today's line and the
target's, slip and overdue in words beside each item. Below, the same items as tables: the keyboard and
screen-reader path (the charts are images with a text alternative).

Planners and staff change the schedule in the editor beside the chart (an htmx fragment, opened from a bar or from
the table): an item's dates and duration, its dependencies and their lags, a new item, a deletion. Every write goes
through `planning.services`, which recompute the phase's schedule in the same transaction; a change of a date, a
duration or a lag needs a short reason, kept in the history. After a change the answer carries the editor, saying
what moved (the knock-on), and the charts and tables of the page, swapped in out of band, so the planner sees the
effect at once. A refusal answers 422 beside its field, a stale version 409 with who changed what, a row gone 404.
Without JavaScript the same URLs answer whole pages.
"""

import datetime
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import wraps
from urllib.parse import parse_qsl, urlsplit

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import Resolver404, path, resolve, reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from core import history
from core.roles import EXECUTIVE, PLANNER, STAFF, can_edit_plan, role_required
from core.services import ConflictError

from .. import services
from ..models import Phase, ScheduleDependency, ScheduleItem
from ..readiness.criteria import completion_and_driver
from ..schedule_forms import (
    ITEM_FORM_FIELDS,
    DependencyCreateForm,
    DependencyLagForm,
    ScheduleItemCreateForm,
    item_form_class,
)
from .parcel import conflict_context, is_htmx, reload_form

EDITOR = "#schedule-editor"
# Changes shown in the editor under an item.
HISTORY_SHOWN = 5
# Items named one by one in what a change moved.
MOVED_SHOWN = 12


# --- reading the schedule ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """A dependency as the chart and the tables read it."""

    pk: int
    predecessor_id: int
    successor_id: int
    lag_days: int


@dataclass
class PhaseSchedule:
    """One phase's schedule as the engine last stored it, and what the page says about it."""

    phase: Phase
    items: list[ScheduleItem]  # in forecast order
    links: list[Link]
    today: datetime.date
    last: ScheduleItem | None = None  # the item the completion waits for
    driver: ScheduleItem | None = None  # the first item on its driving chain that slips
    forecast_completion: datetime.date | None = None
    completion_slip_days: int | None = None
    critical: list[ScheduleItem] = field(default_factory=list)
    least_float: int = 0
    all_done: bool = False
    overdue: list[ScheduleItem] = field(default_factory=list)
    cause: str = ""
    chart: "Chart | None" = None

    def __post_init__(self):
        by_id = {item.pk: item for item in self.items}
        predecessors: dict[int, list[tuple[ScheduleItem, int]]] = {item.pk: [] for item in self.items}
        for link in self.links:
            if link.successor_id in predecessors and link.predecessor_id in by_id:
                predecessors[link.successor_id].append((by_id[link.predecessor_id], link.lag_days))
        for item in self.items:
            item.predecessor_list = [
                (predecessor, signed_days(lag) if lag else "", predecessor.pk == item.driving_predecessor_id)
                for predecessor, lag in predecessors[item.pk]
            ]
            item.slip_text = slip_text(item)
        self.last, self.driver = completion_and_driver(self.items)
        if self.last is not None:
            self.forecast_completion = self.last.forecast_finish
            self.completion_slip_days = (self.forecast_completion - self.phase.planned_completion).days
        self.critical = [item for item in self.items if item.critical]
        floats = [
            item.total_float_days for item in self.items if not item.finished and item.total_float_days is not None
        ]
        self.least_float = min(floats, default=0)
        self.all_done = bool(self.items) and all(item.finished for item in self.items)
        self.overdue = [item for item in self.items if item.is_overdue]
        if self.driver is not None and (self.completion_slip_days or 0) > 0:
            self.cause = slip_cause(self.driver, self.today, predecessors[self.driver.pk])

    @property
    def late(self) -> bool:
        return (self.completion_slip_days or 0) > 0

    @property
    def driver_named(self) -> bool:
        """Whether the slip is said to be driven by an item other than the last one."""
        return self.driver is not None and self.last is not None and self.driver.pk != self.last.pk

    @property
    def computed_on(self) -> datetime.date | None:
        """The day the engine last ran, when that is not today (the forecast of work not done moves with today)."""
        stale = {item.scheduled_on for item in self.items if item.scheduled_on and item.scheduled_on != self.today}
        return min(stale, default=None)


def _date(value: datetime.date | None) -> str:
    return formats.date_format(value, "DATE_FORMAT") if value else "—"


def _number(value: int) -> str:
    return formats.number_format(value, force_grouping=True)


def signed_days(days: int) -> str:
    """A slip in days, signed: "+92 d", "−5 d"."""
    if days > 0:
        # Translators: a slip of a schedule item, in days (later than its baseline). Keep it short.
        return _("+%(days)s d") % {"days": _number(days)}
    if days < 0:
        # Translators: a schedule item ahead of its baseline, in days. Keep it short.
        return _("−%(days)s d") % {"days": _number(-days)}
    return _("on time")


def slip_text(item: ScheduleItem) -> str:
    """An item's slip for the tables and the editor: "+92 d", "on time", or a dash without a baseline."""
    slip = item.slip_days
    return "—" if slip is None else signed_days(slip)


def slip_cause(item: ScheduleItem, today: datetime.date, predecessors: list[tuple[ScheduleItem, int]]) -> str:
    """Why `item` (the one that drives a phase's slip) is late, in a sentence: its "not before" date, a late
    actual start, a start that is overdue, a longer duration, or the lag after its driving predecessor."""
    name = item.name
    baseline_start = item.baseline_start
    late_start = baseline_start is not None and item.forecast_start and item.forecast_start > baseline_start
    if item.actual_start is not None and late_start:
        return _("%(name)s started on %(date)s; its baseline start was %(baseline)s.") % {
            "name": name,
            "date": _date(item.actual_start),
            "baseline": _date(baseline_start),
        }
    if item.start_not_before is not None and item.forecast_start == item.start_not_before and late_start:
        return _("%(name)s cannot start before %(date)s; its baseline start was %(baseline)s.") % {
            "name": name,
            "date": _date(item.start_not_before),
            "baseline": _date(baseline_start),
        }
    if item.actual_start is None and item.forecast_start == today and late_start:
        return _("%(name)s has not started, and its baseline start, %(baseline)s, has passed.") % {
            "name": name,
            "baseline": _date(baseline_start),
        }
    if item.baseline_start is not None and item.baseline_finish is not None:
        planned = (item.baseline_finish - item.baseline_start).days
        if item.duration_days > planned:
            return ngettext(
                "%(name)s takes %(days)s days, %(more)s more than its baseline.",
                "%(name)s takes %(days)s days, %(more)s more than its baseline.",
                item.duration_days - planned,
            ) % {"name": name, "days": _number(item.duration_days), "more": _number(item.duration_days - planned)}
    driving = next((pair for pair in predecessors if pair[0].pk == item.driving_predecessor_id), None)
    if driving is not None and driving[1]:
        return _("%(name)s starts %(lag)s days after %(predecessor)s finishes.") % {
            "name": name,
            "lag": _number(driving[1]),
            "predecessor": driving[0].name,
        }
    return ""


def load_schedules(phases: list[Phase], *, today: datetime.date) -> list[PhaseSchedule]:
    """The schedules of `phases`: two queries whatever the number of phases and items."""
    items = (
        ScheduleItem.objects.with_overdue(today)
        .filter(phase__in=phases)
        .order_by("phase_id", "forecast_start", "forecast_finish", "pk")
    )
    by_phase: dict[int, list[ScheduleItem]] = {phase.pk: [] for phase in phases}
    for item in items:
        by_phase[item.phase_id].append(item)
    links_by_phase: dict[int, list[Link]] = {phase.pk: [] for phase in phases}
    rows = (
        ScheduleDependency.objects.filter(successor__phase__in=phases)
        .order_by("pk")
        .values_list("pk", "predecessor_id", "successor_id", "lag_days", "successor__phase_id")
    )
    for pk, predecessor_id, successor_id, lag_days, phase_id in rows:
        links_by_phase[phase_id].append(Link(pk, predecessor_id, successor_id, lag_days))
    return [PhaseSchedule(phase, by_phase[phase.pk], links_by_phase[phase.pk], today) for phase in phases]


# --- the chart --------------------------------------------------------------------------------------------------

LABEL_WIDTH = 290  # the item's name, then its slip and overdue words, right-aligned
STATUS_RIGHT = LABEL_WIDTH - 10
NAME_UNITS = 29  # about 180 px of 12 px text: a wide (CJK) character counts two
AXIS_HEIGHT = 42  # years, then quarters
AXIS_HEIGHT_YEARS = 24  # years only, when the quarters are too narrow to be named
ROW_HEIGHT = 30
FOOT_HEIGHT = 40
RIGHT_PAD = 14
BAR_TOP, BAR_HEIGHT = 6, 12
BASELINE_TOP, BASELINE_HEIGHT = 21, 4
DIAMOND, BASELINE_DIAMOND = 7, 4
# The time axis's width: beside the editor (planners) or the whole page (read-only).
TIME_WIDTH = {True: 620, False: 990}
QUARTER_LABEL_MIN_PX = 24
MONTH_TICK_MIN_PX = 9


def _n(value: float) -> str:
    """A coordinate for an SVG attribute: never localised (no thousands separator), one decimal at most."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _short(text: str, units: int = NAME_UNITS) -> str:
    """`text` cut to about `units` narrow characters (a wide one counts two), with an ellipsis when cut."""
    used, kept = 0, []
    for char in text:
        width = 2 if unicodedata.east_asian_width(char) in "WF" else 1
        if used + width > units:
            return "".join(kept).rstrip() + "…"
        used += width
        kept.append(char)
    return text


def _quarter_start(day: datetime.date) -> datetime.date:
    return datetime.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _next_month(day: datetime.date, months: int = 1) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


@dataclass
class Scale:
    """Days to x: the time axis from `start` to `end` drawn over `width` pixels from `x0`."""

    start: datetime.date
    end: datetime.date
    x0: float
    width: float

    @property
    def px_per_day(self) -> float:
        return self.width / max((self.end - self.start).days, 1)

    def x(self, day: datetime.date) -> float:
        return self.x0 + (day - self.start).days * self.px_per_day

    @classmethod
    def covering(cls, days: list[datetime.date], *, width: float) -> "Scale":
        """From the first day of the quarter of the earliest day to the first of a quarter at least a fortnight
        after the latest."""
        start = _quarter_start(min(days))
        end = _next_month(_quarter_start(max(days) + datetime.timedelta(days=15)), 3)
        return cls(start=start, end=end, x0=LABEL_WIDTH, width=width)


def schedule_days(schedule: PhaseSchedule) -> list[datetime.date]:
    """Every day the phase's chart must show: its items' dates, its start and target, and today."""
    days = [schedule.today, schedule.phase.planned_start, schedule.phase.planned_completion]
    for item in schedule.items:
        days += [
            day
            for day in (item.forecast_start, item.forecast_finish, item.baseline_start, item.baseline_finish)
            if day is not None
        ]
    return days


@dataclass
class AxisMark:
    x: str
    label: str = ""
    label_x: str = ""


@dataclass
class ChartRow:
    item: ScheduleItem
    top: str
    mid: str
    text_y: str
    label: str
    status: str
    status_class: str
    classes: str
    title: str
    url: str
    bar: dict | None = None
    diamond: str = ""
    baseline_bar: dict | None = None
    baseline_diamond: str = ""


@dataclass
class Chart:
    """Everything the SVG of one phase draws, as strings ready for its attributes."""

    width: str
    height: str
    rows_bottom: str
    label_width: str
    years: list[AxisMark]
    quarters: list[AxisMark]
    month_ticks: list[str]
    rows: list[ChartRow]
    arrows: list[dict]
    today: dict | None
    target: dict | None
    overrun: dict | None
    summary: str
    axis_height: str = str(AXIS_HEIGHT)
    row_height: str = str(ROW_HEIGHT)
    status_right: str = str(STATUS_RIGHT)

    @property
    def month_tick_top(self) -> str:
        return str(int(self.axis_height) - 4)


def _diamond(x: float, y: float, r: float) -> str:
    return f"M{_n(x)} {_n(y - r)} L{_n(x + r)} {_n(y)} L{_n(x)} {_n(y + r)} L{_n(x - r)} {_n(y)} Z"


def _axis(scale: Scale) -> tuple[list[AxisMark], list[AxisMark], list[str]]:
    years, quarters, months = [], [], []
    month = scale.start
    quarter_px = scale.px_per_day * 91
    while month < scale.end:
        following = _next_month(month)
        x = scale.x(month)
        if month.month == 1 or month == scale.start:
            year_end = min(datetime.date(month.year + 1, 1, 1), scale.end)
            middle = (x + scale.x(year_end)) / 2
            # The year's name, unless the year shows too little of itself to hold it.
            label = str(month.year) if scale.x(year_end) - x >= 34 else ""
            years.append(AxisMark(x=_n(x), label=label, label_x=_n(middle)))
        if month.month in (1, 4, 7, 10):
            quarter_end = min(_next_month(month, 3), scale.end)
            label = ""
            if quarter_px >= QUARTER_LABEL_MIN_PX:
                # Translators: a quarter of a year on the schedule's time axis: Q1 … Q4.
                label = _("Q%(number)s") % {"number": (month.month - 1) // 3 + 1}
            quarters.append(AxisMark(x=_n(x), label=label, label_x=_n((x + scale.x(quarter_end)) / 2)))
        elif scale.px_per_day * 30 >= MONTH_TICK_MIN_PX:
            months.append(_n(x))
        month = following
    return years, quarters, months


def _status(item: ScheduleItem) -> tuple[str, str]:
    """The words beside an item's name: done, overdue, its slip."""
    words, tone = [], ""
    if item.finished:
        words.append(_("Done"))
        tone = "done"
    elif item.is_overdue:
        words.append(_("Overdue"))
        tone = "late"
    slip = item.slip_days
    if slip and not item.finished:
        words.append(signed_days(slip))
        tone = tone or ("late" if slip > 0 else "early")
    return " · ".join(words), tone


def _item_title(item: ScheduleItem) -> str:
    """The tooltip of an item's bar: what the row shows, in words."""
    parts = [item.name]
    if item.is_milestone:
        parts.append(_("forecast %(date)s") % {"date": _date(item.forecast_finish)})
        if item.baseline_finish:
            parts.append(_("baseline %(date)s") % {"date": _date(item.baseline_finish)})
    else:
        parts.append(
            _("forecast %(start)s – %(finish)s")
            % {"start": _date(item.forecast_start), "finish": _date(item.forecast_finish)}
        )
        if item.baseline_start:
            parts.append(
                _("baseline %(start)s – %(finish)s")
                % {"start": _date(item.baseline_start), "finish": _date(item.baseline_finish)}
            )
    status, _tone = _status(item)
    if status:
        parts.append(status)
    if item.critical:
        parts.append(_("critical"))
    if item.total_float_days is not None:
        parts.append(
            ngettext("float %(days)s day", "float %(days)s days", abs(item.total_float_days))
            % {"days": _number(item.total_float_days)}
        )
    return " · ".join(parts)


def build_chart(schedule: PhaseSchedule, scale: Scale, *, editable: bool) -> Chart:
    """The geometry of one phase's Gantt chart on `scale`."""
    years, quarters, months = _axis(scale)
    axis_height = AXIS_HEIGHT if any(quarter.label for quarter in quarters) else AXIS_HEIGHT_YEARS
    rows: list[ChartRow] = []
    ends: dict[int, tuple[float, float, float]] = {}  # item → (start x, finish x, middle y), arrows' anchors
    for index, item in enumerate(schedule.items):
        top = axis_height + index * ROW_HEIGHT
        mid = top + BAR_TOP + BAR_HEIGHT / 2
        status, tone = _status(item)
        classes = ["gantt-row"]
        if item.critical:
            classes.append("gantt-critical")
        if item.finished:
            classes.append("gantt-done")
        if editable:
            classes.append("gantt-editable")
        row = ChartRow(
            item=item,
            top=_n(top),
            mid=_n(mid),
            text_y=_n(mid + 4),
            label=_short(item.name),
            status=status,
            status_class=f"gantt-status-{tone}" if tone else "",
            classes=" ".join(classes),
            title=_item_title(item),
            url=reverse("planning:schedule-item", args=[item.pk]) if editable else "",
        )
        start, finish = item.forecast_start, item.forecast_finish
        if start is not None and finish is not None:
            x1, x2 = scale.x(start), scale.x(finish)
            if item.is_milestone:
                row.diamond = _diamond(x2, mid, DIAMOND)
                ends[item.pk] = (x2 - DIAMOND, x2 + DIAMOND, mid)
            else:
                row.bar = {"x": _n(x1), "y": _n(top + BAR_TOP), "w": _n(max(x2 - x1, 2)), "h": _n(BAR_HEIGHT)}
                ends[item.pk] = (x1, max(x2, x1 + 2), mid)
        if item.baseline_start is not None and item.baseline_finish is not None:
            b1, b2 = scale.x(item.baseline_start), scale.x(item.baseline_finish)
            if item.is_milestone:
                row.baseline_diamond = _diamond(b2, top + BASELINE_TOP + BASELINE_HEIGHT / 2, BASELINE_DIAMOND)
            else:
                row.baseline_bar = {
                    "x": _n(b1),
                    "y": _n(top + BASELINE_TOP),
                    "w": _n(max(b2 - b1, 2)),
                    "h": _n(BASELINE_HEIGHT),
                }
        rows.append(row)

    by_id = {item.pk: item for item in schedule.items}
    arrows = []
    for link in schedule.links:
        if link.predecessor_id not in ends or link.successor_id not in ends:
            continue
        _s, x1, y1 = ends[link.predecessor_id]
        x2, _f, y2 = ends[link.successor_id]
        successor, predecessor = by_id[link.successor_id], by_id[link.predecessor_id]
        if x2 - x1 >= 12:
            d = f"M{_n(x1)} {_n(y1)} H{_n(x1 + 5)} V{_n(y2)} H{_n(x2)}"
        else:  # the successor starts before the predecessor's finish has room for an arrow: go round
            bend = y2 - ROW_HEIGHT / 2 if y2 >= y1 else y2 + ROW_HEIGHT / 2
            d = f"M{_n(x1)} {_n(y1)} H{_n(x1 + 5)} V{_n(bend)} H{_n(x2 - 8)} V{_n(y2)} H{_n(x2)}"
        driving = successor.driving_predecessor_id == predecessor.pk
        arrows.append({"d": d, "critical": driving and successor.critical and predecessor.critical})

    rows_bottom = axis_height + len(rows) * ROW_HEIGHT
    height = rows_bottom + FOOT_HEIGHT
    width = LABEL_WIDTH + scale.width + RIGHT_PAD
    middle = LABEL_WIDTH + scale.width / 2

    def marker(day: datetime.date, label: str, line: int) -> dict | None:
        if not scale.start <= day <= scale.end:
            return None
        x = scale.x(day)
        left = x > middle  # the label reads towards the middle, so it stays inside the chart
        return {
            "x": _n(x),
            "label": label,
            "label_x": _n(x - 4 if left else x + 4),
            "anchor": "end" if left else "start",
            "label_y": _n(rows_bottom + 16 + 16 * line),
            "label_y_top": _n(rows_bottom + 4 + 16 * line),
        }

    phase = schedule.phase
    target = marker(phase.planned_completion, _("Target %(date)s") % {"date": _date(phase.planned_completion)}, 0)
    today = marker(schedule.today, _("Today %(date)s") % {"date": _date(schedule.today)}, 1)
    overrun = None
    if schedule.late and schedule.forecast_completion is not None:
        x1, x2 = scale.x(phase.planned_completion), scale.x(schedule.forecast_completion)
        overrun = {"x": _n(x1), "w": _n(max(x2 - x1, 1)), "y": _n(axis_height), "h": _n(rows_bottom - axis_height)}
    return Chart(
        width=_n(width),
        height=_n(height),
        rows_bottom=_n(rows_bottom),
        label_width=_n(LABEL_WIDTH),
        years=years,
        quarters=quarters,
        month_ticks=months,
        rows=rows,
        arrows=arrows,
        today=today,
        target=target,
        overrun=overrun,
        summary=verdict_text(schedule),
        axis_height=str(axis_height),
    )


def verdict_text(schedule: PhaseSchedule) -> str:
    """The phase's completion against its target, in one sentence (the chart's text alternative and the page's
    headline under the phase's name)."""
    phase = schedule.phase
    if schedule.last is None:
        return _("%(phase)s has no schedule yet.") % {"phase": phase.name}
    values = {
        "date": _date(schedule.forecast_completion),
        "target": _date(phase.planned_completion),
        "days": _number(abs(schedule.completion_slip_days)),
        "driver": schedule.driver.name if schedule.driver else "",
    }
    slip = schedule.completion_slip_days
    if slip > 0 and schedule.driver_named:
        return (
            ngettext(
                "Forecast completion %(date)s: %(days)s day after the target of %(target)s, driven by %(driver)s.",
                "Forecast completion %(date)s: %(days)s days after the target of %(target)s, driven by %(driver)s.",
                slip,
            )
            % values
        )
    if slip > 0:
        return (
            ngettext(
                "Forecast completion %(date)s: %(days)s day after the target of %(target)s.",
                "Forecast completion %(date)s: %(days)s days after the target of %(target)s.",
                slip,
            )
            % values
        )
    if slip == 0:
        return _("Forecast completion %(date)s: on the target, with no float.") % values
    return (
        ngettext(
            "Forecast completion %(date)s: %(days)s day of float before the target of %(target)s.",
            "Forecast completion %(date)s: %(days)s days of float before the target of %(target)s.",
            -slip,
        )
        % values
    )


def attach_charts(schedules: list[PhaseSchedule], *, editable: bool, shared_scale: bool) -> None:
    """Draw each schedule's chart; with `shared_scale` (every phase on one page) on one time axis, so the phases
    line up."""
    width = TIME_WIDTH[editable]
    if shared_scale:
        days = [day for schedule in schedules for day in schedule_days(schedule)]
        scale = Scale.covering(days, width=width) if days else None
    for schedule in schedules:
        own = scale if shared_scale else Scale.covering(schedule_days(schedule), width=width)
        schedule.chart = build_chart(schedule, own, editable=editable)


# --- the pages --------------------------------------------------------------------------------------------------


def _phases(user, action: str = "view") -> list[Phase]:
    phases = Phase.objects.restrict(user, action).select_related("campus")
    return list(phases.order_by("campus__code", "number"))


def _phase_in(phases: list[Phase], number: int, campus: str = "") -> Phase:
    """The phase `number` among those the user may see (404 otherwise); `campus` picks one when several campuses
    number their phases alike."""
    for phase in phases:
        if phase.number == number and (not campus or phase.campus.code == campus):
            return phase
    raise Http404


def schedule_context(request, phases: list[Phase], *, shown: Phase | None) -> dict:
    """What the charts and the tables show: every phase, or only `shown`."""
    editable = can_edit_plan(request.user)
    today = timezone.localdate()
    schedules = load_schedules([shown] if shown else phases, today=today)
    attach_charts(schedules, editable=editable, shared_scale=shown is None)
    campuses = {phase.campus_id for phase in phases}
    return {
        "schedules": schedules,
        "shown_phase": shown,
        "can_edit": editable,
        "today": today,
        "several_campuses": len(campuses) > 1,
    }


def _page(request, *, shown: Phase | None, phases: list[Phase] | None = None, editor: str = "", status=200):
    phases = phases if phases is not None else _phases(request.user)
    context = schedule_context(request, phases, shown=shown)
    title = _("Delivery schedule: %(phase)s") % {"phase": shown.name} if shown else _("Delivery schedule")
    context.update(
        title=title,
        phases=phases,
        editor_html=editor,
        all_url=reverse("planning:schedule"),
    )
    return render(request, "planning/schedule.html", context, status=status)


@role_required(EXECUTIVE, PLANNER, STAFF)
@require_http_methods(["GET"])
def schedule_page(request):
    return _page(request, shown=None)


@role_required(EXECUTIVE, PLANNER, STAFF)
@require_http_methods(["GET"])
def schedule_phase_page(request, number: int):
    phases = _phases(request.user)
    return _page(request, shown=_phase_in(phases, number, request.GET.get("campus", "")), phases=phases)


# --- the editor: helpers ----------------------------------------------------------------------------------------


def editor_view(*methods: str):
    """A view of the editor: planners and staff only, the given methods, and, for htmx, a row gone meanwhile
    (deleted by someone else) answered in the editor, with the charts brought up to date."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                return view(request, *args, **kwargs)
            except (Http404, ObjectDoesNotExist):
                if not is_htmx(request):
                    raise Http404 from None
                return _changed(request, None, "planning/_schedule_gone.html", {}, status=404)

        return role_required(PLANNER, STAFF)(require_http_methods(list(methods))(wrapper))

    return decorator


def _item(request, pk: int, *, action: str = "change") -> ScheduleItem:
    items = ScheduleItem.objects.restrict(request.user, action).with_overdue().select_related("phase__campus")
    return items.get(pk=pk)


def _link(request, pk: int) -> ScheduleDependency:
    links = ScheduleDependency.objects.restrict(request.user, "change").select_related(
        "successor__phase__campus", "predecessor"
    )
    return links.get(pk=pk)


def _shown_phase(request, phase: Phase | None) -> tuple[Phase | None, list[Phase]]:
    """Which schedule the page that asked shows (htmx says which page: HX-Current-URL): every phase, or one."""
    phases = _phases(request.user)
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    try:
        match = resolve(current.path) if current.path else None
    except Resolver404:
        match = None
    if match is not None and match.view_name == "planning:schedule":
        return None, phases
    if match is not None and match.view_name == "planning:schedule-phase":
        campus = dict(parse_qsl(current.query)).get("campus", "")
        try:
            return _phase_in(phases, match.kwargs["number"], campus), phases
        except Http404:
            pass
    if phase is None:
        return None, phases
    return next((p for p in phases if p.pk == phase.pk), None), phases


def _changed(request, phase: Phase | None, template: str, context: dict, *, status=200) -> HttpResponse:
    """The editor's answer after a change (or a refusal that may follow someone else's change): the editor, and
    the page's charts and tables swapped in out of band."""
    shown, phases = _shown_phase(request, phase)
    page = schedule_context(request, phases, shown=shown)
    html = render_to_string(
        "planning/_schedule_changed.html", {**page, "editor_template": template, **context}, request
    )
    return HttpResponse(html, status=status)


def _editor(request, item: ScheduleItem, *, status=200, after_change=False, **extra) -> HttpResponse:
    """The editor of `item`: to htmx, the fragment (and, after a change, the page's charts too); else the whole
    page of its phase with the editor open."""
    context = editor_context(request, item, **extra)
    if is_htmx(request):
        if after_change:
            return _changed(request, item.phase, "planning/_schedule_editor.html", context, status=status)
        return HttpResponse(render_to_string("planning/_schedule_editor.html", context, request), status=status)
    editor = render_to_string("planning/_schedule_editor.html", context, request)
    return _page(request, shown=item.phase, editor=editor, status=status)


@dataclass
class ItemChange:
    """One change to an item from its history: who, when, what and why."""

    who: str
    at: datetime.datetime
    action: str
    changes: list
    reason: str


def item_history(item: ScheduleItem, limit: int = HISTORY_SHOWN) -> list[ItemChange]:
    """The newest changes to `item`, each with the fields it changed (old → new) and its reason."""
    previous = (
        ScheduleItem.history.filter(id=OuterRef("id"), history_id__lt=OuterRef("history_id"))
        .order_by("-history_id")
        .values("history_id")[:1]
    )
    rows = list(
        ScheduleItem.history.filter(id=item.pk)
        .select_related("history_user")
        .annotate(previous_id=Subquery(previous))
        .order_by("-history_id")[:limit]
    )
    before = {row.history_id: row for row in ScheduleItem.history.filter(history_id__in=[r.previous_id for r in rows])}
    names: dict = {}
    entries = []
    for row in rows:
        old = before.get(row.previous_id)
        changes = history.changes_between(old, row, model=ScheduleItem, names=names) if old is not None else []
        entries.append(
            ItemChange(
                who=history.person(row.history_user) or _("the system"),
                at=row.history_date,
                action={"+": _("added"), "~": _("changed"), "-": _("deleted")}[row.history_type],
                changes=changes,
                reason=row.history_change_reason or "",
            )
        )
    return entries


def _item_form(item: ScheduleItem, data=None):
    return item_form_class(item)(data, instance=item, prefix="item")


def _lag_form(link: ScheduleDependency, data=None) -> DependencyLagForm:
    return DependencyLagForm(data, instance=link, prefix=f"link-{link.pk}")


def _add_form(item: ScheduleItem, data=None) -> DependencyCreateForm:
    return DependencyCreateForm(data, successor=item, prefix="predecessor")


def editor_context(
    request,
    item: ScheduleItem,
    *,
    form=None,
    lag_forms: dict | None = None,
    add_form=None,
    **extra,
) -> dict:
    """What `_schedule_editor.html` shows: the item's figures, its form, its dependencies (each lag a form), the
    form to add a predecessor, its successors and its latest changes; `extra`: a message, what moved, a conflict."""
    item = _item(request, item.pk)
    lag_forms = lag_forms or {}
    predecessors = list(
        ScheduleDependency.objects.filter(successor=item)
        .select_related("predecessor")
        .order_by("predecessor__forecast_start", "pk")
    )
    for link in predecessors:
        link.form = lag_forms.get(link.pk) or _lag_form(link)
        link.url = reverse("planning:schedule-dependency", args=[link.pk])
        link.delete_url = reverse("planning:schedule-dependency-delete", args=[link.pk])
    successors = list(
        ScheduleDependency.objects.filter(predecessor=item)
        .select_related("successor")
        .order_by("successor__forecast_start", "pk")
    )
    for link in successors:
        link.lag_text = signed_days(link.lag_days) if link.lag_days else ""
    form = form if form is not None else _item_form(item)
    # The focus goes to what the planner reads next: the message of a change, else a field refused, else the
    # item's name (opened from the chart or the table).
    focus = "message" if extra.get("saved_message") else "heading"
    if form.is_bound and form.errors and not extra.get("keep_focus"):
        form.focus()
        focus = "field"
    elif extra.get("keep_focus"):
        focus = "dependencies"
    return {
        "focus": focus,
        "slip_text": slip_text(item),
        "item": item,
        "form": form,
        "predecessors": predecessors,
        "successors": successors,
        "add_form": add_form or _add_form(item),
        "changes": item_history(item),
        "urls": {
            "item": reverse("planning:schedule-item", args=[item.pk]),
            "edit": reverse("planning:schedule-item-edit", args=[item.pk]),
            "delete": reverse("planning:schedule-item-delete", args=[item.pk]),
            "add_predecessor": reverse("planning:schedule-dependency-new", args=[item.pk]),
            "close": reverse("planning:schedule-editor"),
            "phase": _phase_url(item.phase),
        },
        **extra,
    }


def _phase_url(phase: Phase) -> str:
    url = reverse("planning:schedule-phase", args=[phase.number])
    several = Phase.objects.filter(number=phase.number).exclude(campus_id=phase.campus_id).exists()
    return f"{url}?campus={phase.campus.code}" if several else url


@dataclass
class Moved:
    name: str
    old: datetime.date | None
    new: datetime.date | None

    @property
    def days(self) -> int:
        return (self.new - self.old).days if self.old and self.new else 0

    @property
    def shift(self) -> str:
        return signed_days(self.days)


def _forecasts(phase_id: int) -> dict[int, tuple[str, datetime.date | None]]:
    items = ScheduleItem.objects.filter(phase_id=phase_id).only("pk", "title", "category", "forecast_finish")
    return {item.pk: (item.name, item.forecast_finish) for item in items}


def knock_on(phase: Phase, before: dict[int, tuple[str, datetime.date | None]], *, skip: int | None = None) -> dict:
    """What a change moved: the items whose forecast finish moved (but `skip`, the one changed), and the phase's
    forecast completion before and after."""
    after = _forecasts(phase.pk)
    moved = [
        Moved(name=after[pk][0], old=before[pk][1], new=after[pk][1])
        for pk in after
        if pk in before and pk != skip and before[pk][1] != after[pk][1]
    ]
    moved.sort(key=lambda m: (m.new or datetime.date.max, m.name))
    old_completion = max((finish for _name, finish in before.values() if finish), default=None)
    new_completion = max((finish for _name, finish in after.values() if finish), default=None)
    shift = (new_completion - old_completion).days if old_completion and new_completion else 0
    slip = (new_completion - phase.planned_completion).days if new_completion else None
    return {
        "summary": completion_change(phase, old_completion, new_completion),
        "moved": moved[:MOVED_SHOWN],
        "moved_more": max(len(moved) - MOVED_SHOWN, 0),
        "moved_count": len(moved),
        "phase": phase,
        "completion": new_completion,
        "completion_before": old_completion,
        "completion_shift": shift,
        "completion_shift_abs": abs(shift),
        "completion_slip": slip,
        "completion_slip_abs": abs(slip) if slip is not None else None,
    }


def completion_change(phase: Phase, before: datetime.date | None, after: datetime.date | None) -> str:
    """The phase's forecast completion after a change, against the one before and against the target."""
    if after is None:
        return _("%(phase)s has no schedule left.") % {"phase": phase.name}
    values = {"phase": phase.name, "date": _date(after)}
    shift = (after - before).days if before else 0
    if shift > 0:
        moved = ngettext(
            "%(phase)s now completes on %(date)s, %(days)s day later than before",
            "%(phase)s now completes on %(date)s, %(days)s days later than before",
            shift,
        ) % {**values, "days": _number(shift)}
    elif shift < 0:
        moved = ngettext(
            "%(phase)s now completes on %(date)s, %(days)s day earlier than before",
            "%(phase)s now completes on %(date)s, %(days)s days earlier than before",
            -shift,
        ) % {**values, "days": _number(-shift)}
    else:
        moved = _("%(phase)s still completes on %(date)s") % values
    slip = (after - phase.planned_completion).days
    if slip > 0:
        against = ngettext("%(days)s day after its target.", "%(days)s days after its target.", slip) % {
            "days": _number(slip)
        }
    elif slip == 0:
        against = _("on its target, with no float.")
    else:
        against = ngettext(
            "%(days)s day of float before its target.", "%(days)s days of float before its target.", -slip
        ) % {"days": _number(-slip)}
    # Translators: "<phase> now completes on <date>, 30 days later than before" + ": " + "73 days after its target."
    return _("%(moved)s: %(against)s") % {"moved": moved, "against": against}


# --- the editor: an item ----------------------------------------------------------------------------------------


@role_required(PLANNER, STAFF)
@require_http_methods(["GET"])
def editor_hint(request):
    """The editor with nothing open (Close)."""
    if not is_htmx(request):
        return HttpResponseRedirect(reverse("planning:schedule"))
    return HttpResponse(render_to_string("planning/_schedule_hint.html", {"can_edit": True}, request))


@editor_view("GET", "POST")
def item_editor(request, pk: int):
    """GET: the item's editor. POST: save its form through `services.schedule_item_update` with its version and
    the reason a date change needs."""
    item = _item(request, pk)
    if request.method == "GET":
        return _editor(request, item)
    form = _item_form(item, request.POST)
    if not form.is_valid():
        return _editor(request, item, form=form, status=422)
    before = _forecasts(item.phase_id)
    try:
        with calendar_bounds(), transaction.atomic():
            saved = services.schedule_item_update(
                item=item,
                actor=request.user,
                expected_version=form.cleaned_data["version"],
                reason=form.reason_value(),
                **form.service_values(),
            )
    except ValidationError as error:
        form.add_service_errors(error)
        return _editor(request, item, form=form, status=422)
    except ConflictError as error:
        return _editor(request, item, form=form, status=409, conflict=conflict_context(error), after_change=True)
    if not is_htmx(request):
        return HttpResponseRedirect(_phase_url(saved.phase))
    unchanged = saved.version == item.version
    message = (
        _("Nothing changed: %(name)s is as it was.") % {"name": saved.name}
        if unchanged
        else _("%(name)s saved.") % {"name": saved.name}
    )
    return _editor(
        request,
        saved,
        after_change=True,
        saved_message=message,
        knock_on=None if unchanged else knock_on(saved.phase, before, skip=saved.pk),
    )


@editor_view("POST")
def item_reload(request, pk: int):
    """ "Load the current version" after a conflict: the form on the current version, keeping what the planner
    typed (their reason too)."""
    item = _item(request, pk)
    form_class = item_form_class(item)
    typed = _item_form(item, request.POST)
    reason_key = typed.add_prefix("reason")
    reason = request.POST.get(reason_key, "")

    def with_reason(data, **kwargs):
        return form_class({**data, reason_key: reason}, **kwargs)

    form = reload_form(with_reason, typed, item, ITEM_FORM_FIELDS[form_class], instance=item)
    return _editor(request, item, form=form, reloaded=True)


@editor_view("GET", "POST")
def item_new(request, number: int):
    """GET: the form of a new item of the phase. POST: `services.schedule_item_create`, then the new item's
    editor (to link it to what it follows)."""
    phase = _phase_in(_phases(request.user, "change"), number, request.GET.get("campus", ""))
    url = reverse("planning:schedule-item-new", args=[number]) + (
        f"?campus={phase.campus.code}" if request.GET.get("campus") else ""
    )
    form = ScheduleItemCreateForm(request.POST if request.method == "POST" else None, prefix="new")
    status = 200
    if request.method == "POST":
        if form.is_valid():
            before = _forecasts(phase.pk)
            try:
                with calendar_bounds(), transaction.atomic():
                    item = services.schedule_item_create(
                        actor=request.user, reason=form.reason_value(), phase=phase, **form.service_values()
                    )
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                if not is_htmx(request):
                    return HttpResponseRedirect(reverse("planning:schedule-item", args=[item.pk]))
                message = _("%(name)s added to %(phase)s. Link it to the items it follows below.") % {
                    "name": item.name,
                    "phase": phase.name,
                }
                return _editor(
                    request, item, after_change=True, saved_message=message, knock_on=knock_on(phase, before)
                )
        status = 422
    form.focus()
    context = {"form": form, "phase": phase, "url": url, "close_url": reverse("planning:schedule-editor")}
    if not is_htmx(request):
        return _page(
            request,
            shown=phase,
            editor=render_to_string("planning/_schedule_item_new.html", context, request),
            status=status,
        )
    return HttpResponse(render_to_string("planning/_schedule_item_new.html", context, request), status=status)


@editor_view("GET", "POST")
def item_delete(request, pk: int):
    """GET: confirm the deletion, naming the dependencies that go with it. POST: `services.schedule_item_delete`
    with the version the confirmation showed."""
    item = _item(request, pk)
    links = list(ScheduleDependency.objects.filter(predecessor=item).select_related("successor").order_by("pk")) + list(
        ScheduleDependency.objects.filter(successor=item).select_related("predecessor").order_by("pk")
    )
    context = {
        "item": item,
        "links": links,
        "version": item.version,
        "reason": request.POST.get("reason", "")[:100],
        "urls": {
            "delete": reverse("planning:schedule-item-delete", args=[item.pk]),
            "item": reverse("planning:schedule-item", args=[item.pk]),
        },
    }
    status = 200
    if request.method == "POST":
        before = _forecasts(item.phase_id)
        try:
            with transaction.atomic():
                services.schedule_item_delete(
                    item=_checked_version(item, request.POST.get("version")),
                    actor=request.user,
                    reason=context["reason"].strip(),
                )
        except ConflictError as error:
            context.update(conflict=conflict_context(error), version=error.current_version)
            status = 409
        except ValidationError as error:
            context["refusals"], status = error.messages, 422
        else:
            if not is_htmx(request):
                return HttpResponseRedirect(_phase_url(item.phase))
            message = _("%(name)s deleted, with its dependencies.") % {"name": item.name}
            done = {"saved_message": message, "knock_on": knock_on(item.phase, before, skip=item.pk), "can_edit": True}
            return _changed(request, item.phase, "planning/_schedule_hint.html", done)
    html = render_to_string("planning/_schedule_item_delete.html", context, request)
    if not is_htmx(request):
        return _page(request, shown=item.phase, editor=html, status=status)
    return HttpResponse(html, status=status)


@contextmanager
def calendar_bounds():
    """The engine's dates are calendar dates: a network that would run past the calendar's end is refused, in words,
    instead of failing the request."""
    try:
        yield
    except OverflowError:
        raise ValidationError(
            {"duration_days": _("These durations and lags run past the end of the calendar; shorten them.")}
        ) from None


def _checked_version(row, version: str | None):
    """`row` locked, if its version is still `version` (else the conflict, saying who changed it since)."""
    try:
        expected = int(version)
    except (TypeError, ValueError):
        raise ValidationError(_("This form does not say which version it was based on; reload it.")) from None
    return services.lock_for_update(row, expected_version=expected)


# --- the editor: dependencies -----------------------------------------------------------------------------------


@editor_view("POST")
def dependency_new(request, pk: int):
    """Add a predecessor to item `pk` (`services.schedule_dependency_create`; a cycle is refused, named)."""
    item = _item(request, pk)
    form = _add_form(item, request.POST)
    if not form.is_valid():
        return _editor(request, item, add_form=form, status=422, keep_focus=True)
    before = _forecasts(item.phase_id)
    try:
        with calendar_bounds(), transaction.atomic():
            link = services.schedule_dependency_create(
                actor=request.user, reason=form.reason_value(), **form.service_values()
            )
    except ValidationError as error:
        form.add_service_errors(error)
        return _editor(request, item, add_form=form, status=422, keep_focus=True)
    if not is_htmx(request):
        return HttpResponseRedirect(reverse("planning:schedule-item", args=[item.pk]))
    message = _("%(successor)s now starts after %(predecessor)s.") % {
        "successor": item.name,
        "predecessor": link.predecessor.name,
    }
    return _editor(request, item, after_change=True, saved_message=message, knock_on=knock_on(item.phase, before))


@editor_view("POST")
def dependency_lag(request, pk: int):
    """Change a dependency's lag (`services.schedule_dependency_update`, with its version and the reason)."""
    link = _link(request, pk)
    item = link.successor
    form = _lag_form(link, request.POST)
    if not form.is_valid():
        return _editor(request, item, lag_forms={link.pk: form}, status=422, keep_focus=True)
    before = _forecasts(item.phase_id)
    try:
        with calendar_bounds(), transaction.atomic():
            services.schedule_dependency_update(
                link=link,
                actor=request.user,
                expected_version=form.cleaned_data["version"],
                reason=form.reason_value(),
                **form.service_values(),
            )
    except ValidationError as error:
        form.add_service_errors(error)
        return _editor(request, item, lag_forms={link.pk: form}, status=422, keep_focus=True)
    except ConflictError as error:
        # The lag typed stays in the field, now on the current version: saving again applies it.
        data = request.POST.copy()
        data[form.add_prefix("version")] = str(error.current_version)
        fresh = ScheduleDependency.objects.get(pk=link.pk)
        retyped = _lag_form(fresh, data)
        retyped.is_valid()
        return _editor(
            request,
            item,
            lag_forms={link.pk: retyped},
            status=409,
            link_conflict={"pk": link.pk, **conflict_context(error)},
            after_change=True,
            keep_focus=True,
        )
    if not is_htmx(request):
        return HttpResponseRedirect(reverse("planning:schedule-item", args=[item.pk]))
    message = _("Lag after %(predecessor)s saved.") % {"predecessor": link.predecessor.name}
    return _editor(request, item, after_change=True, saved_message=message, knock_on=knock_on(item.phase, before))


@editor_view("POST")
def dependency_delete(request, pk: int):
    """Remove a dependency (`services.schedule_dependency_delete`); the successor's editor stays open."""
    link = _link(request, pk)
    item = link.successor
    before = _forecasts(item.phase_id)
    try:
        services.schedule_dependency_delete(
            link=link,
            actor=request.user,
            reason=_("%(successor)s no longer waits for %(predecessor)s")
            % {"successor": item.name, "predecessor": link.predecessor.name},
        )
    except ValidationError:  # removed by someone else while this request waited for the lock
        raise Http404 from None
    if not is_htmx(request):
        return HttpResponseRedirect(reverse("planning:schedule-item", args=[item.pk]))
    message = _("%(successor)s no longer waits for %(predecessor)s.") % {
        "successor": item.name,
        "predecessor": link.predecessor.name,
    }
    return _editor(request, item, after_change=True, saved_message=message, knock_on=knock_on(item.phase, before))


urlpatterns = [
    path("plan/schedule/", schedule_page, name="schedule"),
    path("plan/schedule/<int:number>/", schedule_phase_page, name="schedule-phase"),
    path("plan/schedule/<int:number>/items/new/", item_new, name="schedule-item-new"),
    path("plan/schedule/editor/", editor_hint, name="schedule-editor"),
    path("plan/schedule/items/<int:pk>/", item_editor, name="schedule-item"),
    path("plan/schedule/items/<int:pk>/edit/", item_reload, name="schedule-item-edit"),
    path("plan/schedule/items/<int:pk>/delete/", item_delete, name="schedule-item-delete"),
    path("plan/schedule/items/<int:pk>/predecessors/", dependency_new, name="schedule-dependency-new"),
    path("plan/schedule/dependencies/<int:pk>/", dependency_lag, name="schedule-dependency"),
    path("plan/schedule/dependencies/<int:pk>/delete/", dependency_delete, name="schedule-dependency-delete"),
]
