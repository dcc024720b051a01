"""`/dashboard/`: where INNOPOLE stands, at a glance — the executive's page, and the monthly board pack.

Server-rendered from `dashboard.figures` (cached until the data changes), the same structure the API answers and
the downloads write. Each chart is drawn by Chart.js (`static/dashboard/dashboard.js`) from a JSON block beside it,
and has its table beneath: the text alternative a screen reader reads, and what prints. The filters (phase,
facility type) and `?as_of=` live in the URL, so a link reproduces the view; "what blocks" a phase is chosen with
`?blocks=` (default: the filtered phase, else the first phase not yet in operation). Printing the page gives the
board pack: a cover, then one section a page (`dashboard.css`, print rules).

Read by executives, planners and staff; a partner is sent to the portal; a user with no role gets 403.
"""

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from core.roles import EXECUTIVE, PARTNER, PLANNER, STAFF, has_role
from core.units import m2_to_ha
from planning.models import FacilityType, Phase

from . import exports
from .figures import CACHE_SECONDS, cache_key, cached_figures
from .links import audience, object_links
from .query import choose_campus, read_query

app_name = "dashboard"
READERS = (EXECUTIVE, PLANNER, STAFF)
PARAMETERS = ("campus", "phase", "facility_type", "as_of", "blocks")


def _allowed(request):
    """None when the user reads the dashboard; else the answer: partners to their portal, others 403."""
    if has_role(request.user, *READERS):
        return None
    if has_role(request.user, PARTNER):
        return redirect("partners:portal")
    raise PermissionDenied


def _read(request):
    """(campus, filters, as_of, errors) of the request's query; errors keyed by parameter, figures not read."""
    try:
        campus = choose_campus(request.GET)
        if campus is None:
            return None, None, None, {}
        filters, as_of = read_query(request.GET, campus)
    except ValidationError as error:
        return None, None, None, error.message_dict
    return campus, filters, as_of, {}


def _chart(chart_id: str, kind: str, labels, datasets, *, unit: str = "", decimals: int = 0, **extra) -> dict:
    """A chart's description for `dashboard.js` (labels and units already in the reader's language)."""
    return {
        "id": chart_id,
        "spec": {
            "type": kind,
            "labels": [str(label) for label in labels],
            "unit": str(unit),
            "decimals": decimals,
            "datasets": [
                {"label": str(label), "data": [None if v is None else round(float(v), 2) for v in data]}
                for label, data in datasets
            ],
            **extra,
        },
    }


def _blocks_phase(request, found: dict):
    """The phase whose blockers are shown: `?blocks=`, else the filtered phase, else the first not in operation."""
    phases = found["phases"]
    wanted = request.GET.get("blocks", "")
    if wanted.isdigit():
        chosen = next((phase for phase in phases if phase["number"] == int(wanted)), None)
        if chosen is not None:
            return chosen
    return next((phase for phase in phases if phase["status"] != Phase.Status.OPERATION), phases[0] if phases else None)


def _params(request) -> dict:
    """The parameters the page reads, as given (others are left out of its links and of its cache key)."""
    return {key: request.GET[key] for key in PARAMETERS if request.GET.get(key)}


def _query(request, **changes) -> str:
    params = {**_params(request), **changes}
    params = {key: value for key, value in params.items() if value not in (None, "")}
    return f"?{urlencode(params)}" if params else ""


def page_context(request, found: dict) -> dict:
    """The figures as the page shows them: cards, tables, and the charts' data."""
    figures = found["figures"]
    phases = found["phases"]
    phase_labels = [phase["name"] for phase in phases]
    blocking = _blocks_phase(request, found)
    blockers = []
    if blocking is not None:
        blockers = [{**row, "objects": object_links(row["objects"], request.user)} for row in blocking["blockers"]]
    pipeline = found["pipeline"]
    trend_days = sorted({point["day"] for line in found["readiness_trend"] for point in line["points"]})
    trend = []
    for line in found["readiness_trend"]:
        by_day = {point["day"]: point["score"] * 100 for point in line["points"]}
        trend.append((line["name"], [by_day.get(day) for day in trend_days]))
    months = [formats.date_format(row["month"], "YEAR_MONTH_FORMAT") for row in pipeline["eois_per_month"]]
    gfa_rows = found["gfa_by_type"]
    charts = {
        "land": _chart(
            "chart-land",
            "bar",
            phase_labels,
            [
                (_("Target"), [m2_to_ha(p["figures"]["land_target_m2"]) for p in phases]),
                (_("Held"), [m2_to_ha(p["figures"]["land_held_m2"]) for p in phases]),
                (_("Handed over"), [m2_to_ha(p["figures"]["land_handed_over_m2"]) for p in phases]),
            ],
            unit=_("ha"),
            decimals=2,
        ),
        "trend": _chart(
            "chart-trend",
            "line",
            [formats.date_format(day, "SHORT_DATE_FORMAT") for day in trend_days],
            trend,
            unit="%",
            max=100,
        ),
        "funnel": _chart(
            "chart-funnel",
            "hbar",
            [row["label"] for row in pipeline["eois_by_status"]],
            [(_("EOIs"), [row["count"] for row in pipeline["eois_by_status"]])],
            unit=_("EOIs"),
        ),
        "sectors": _chart(
            "chart-sectors",
            "hbar",
            [row["label"] for row in pipeline["eois_by_sector"]],
            [(_("EOIs"), [row["count"] for row in pipeline["eois_by_sector"]])],
            unit=_("EOIs"),
        ),
        "stages": _chart(
            "chart-stages",
            "bar",
            [row["label"] for row in pipeline["commitments_by_stage"]],
            [
                (_("Occupancy GFA"), [row["gfa_m2"] for row in pipeline["commitments_by_stage"]]),
                (_("Weighted GFA"), [row["weighted_gfa_m2"] for row in pipeline["commitments_by_stage"]]),
            ],
            unit="m²",
        ),
        "months": _chart(
            "chart-months",
            "bar",
            months,
            [(_("New EOIs"), [row["count"] for row in pipeline["eois_per_month"]])],
            unit=_("EOIs"),
        ),
        "completion": _chart(
            "chart-completion",
            "hbar",
            phase_labels,
            [(_("Slip against target"), [p["completion_slip_days"] for p in phases])],
            unit=_("days"),
        ),
        "gfa": _chart(
            "chart-gfa",
            "bar",
            [row["label"] for row in gfa_rows],
            [
                (_("Planned"), [row["planned_m2"] for row in gfa_rows]),
                (_("Committed (weighted)"), [row["committed_m2"] for row in gfa_rows]),
                (_("Allocated"), [row["allocated_m2"] for row in gfa_rows]),
            ],
            unit="m²",
        ),
    }
    return {
        "found": found,
        "figures": figures,
        "phases": phases,
        "charts": charts,
        "chart_list": list(charts.values()),
        "blocking": blocking,
        "blockers": blockers,
        "trend_days": trend_days,
        "computed_at": timezone.localtime(found["computed_at"]),
    }


@require_GET
def dashboard(request):
    refused = _allowed(request)
    if refused is not None:
        return refused
    campus, filters, as_of, errors = _read(request)
    types = sorted(FacilityType.objects.all(), key=lambda t: t.name)
    context = {
        "title": _("Dashboard"),
        "errors": errors,
        "campus": campus,
        "phase_choices": list(Phase.objects.filter(campus=campus).order_by("number")) if campus else [],
        "type_choices": types,
        "selected_type_label": next((t.name for t in types if t.code == request.GET.get("facility_type")), ""),
        "selected_phase": request.GET.get("phase", ""),
        "selected_type": request.GET.get("facility_type", ""),
        "as_of_value": request.GET.get("as_of", ""),
        "today": timezone.localdate(),
    }
    if errors or campus is None:
        return render(request, "dashboard/dashboard.html", context, status=400 if errors else 200)
    # The sections, rendered once per data generation and view (thousands of formatted numbers at HKSTP scale).
    key = cache_key("dashboard-page", campus, filters, as_of, audience(request.user), _query(request))
    body = cache.get(key)
    if body is None:
        found = cached_figures(campus, filters, as_of)
        body_context = {**context, **page_context(request, found)}
        body_context.update(
            {
                "as_of": as_of,
                "today_url": reverse("dashboard:dashboard") + _query(request, as_of=None),
                "xlsx_url": reverse("dashboard:export-xlsx") + _query(request),
                "csv_url": reverse("dashboard:export-csv") + _query(request),
                "blocks_query": {key: value for key, value in _params(request).items() if key != "blocks"},
            }
        )
        body = render_to_string("dashboard/_body.html", body_context, request=request)
        cache.set(key, body, CACHE_SECONDS)
    context["body"] = mark_safe(body)
    return render(request, "dashboard/dashboard.html", context)


def _export(request, writer):
    refused = _allowed(request)
    if refused is not None:
        return refused
    campus, filters, as_of, errors = _read(request)
    if errors or campus is None:
        context = {"title": _("Dashboard"), "errors": errors, "campus": campus, "today": timezone.localdate()}
        return render(request, "dashboard/dashboard.html", context, status=400)
    return writer(cached_figures(campus, filters, as_of))


@require_GET
def export_xlsx(request):
    return _export(request, exports.xlsx_response)


@require_GET
def export_csv(request):
    return _export(request, exports.csv_response)


urlpatterns = [
    path("", dashboard, name="dashboard"),
    path("board-pack.xlsx", export_xlsx, name="export-xlsx"),
    path("board-pack.csv", export_csv, name="export-csv"),
]
