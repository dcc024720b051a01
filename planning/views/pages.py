"""Planning pages: the planner's map workspace (`/plan/`).

The workspace answers "what is where, and what can I change?": a toolbar of filters kept in the URL, the map (its
parcels come from one request to the GeoJSON endpoint, never inline in the page), the parcel panel, the parcels
table with the same filters (the keyboard and screen-reader path, sorted and paginated on the server) and the phases
with their totals and warnings. `render_workspace` renders the whole page; the parcel panel's views call it with
`parcel_panel` to show a parcel when the page is opened at its URL.
"""

from urllib.parse import quote, urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, F, IntegerField, Value, When
from django.http import Http404
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.roles import PLANNER, STAFF, can_edit_plan, role_required

from .. import asof, selectors
from ..filtersets import ParcelFilterSet
from ..models import Campus, FacilityType, Parcel, Phase, ReadinessSnapshot
from ..querysets import site_area_expression

PARCELS_PER_PAGE = 50
COLOURINGS = {
    "phase": gettext_lazy("Phase"),
    "land_status": gettext_lazy("Land status"),
    "readiness": gettext_lazy("Readiness of the phase"),
}
RESERVE = "reserve"
# The page's own filter names (what a planner sees in the URL) → ParcelFilterSet's; `phase` is a phase number or
# "reserve".
PAGE_FILTERS = ("phase", "land_status", "zoning", "facility_type")


def _land_status_order():
    """Land statuses in their order of progress (not_transferred … site_ready), for sorting."""
    whens = [When(land_status=value, then=Value(index)) for index, value in enumerate(Parcel.LandStatus.values)]
    return Case(*whens, default=Value(len(whens)), output_field=IntegerField())


# Sort keys of the parcels table → the orderings (ascending); the code breaks ties so pages are stable.
SORTS = {
    "code": lambda: [F("code")],
    "phase": lambda: [F("phase__number")],
    "site_area": lambda: [site_area_expression()],
    "gfa": lambda: [F("gfa_m2")],
    "land_status": lambda: [_land_status_order()],
    "handover_date": lambda: [F("handover_date")],
}
# The table's columns: sort key (None: not sortable), heading, whether it holds numbers.
SORT_COLUMNS = (
    ("code", gettext_lazy("Code"), False),
    ("phase", gettext_lazy("Phase"), False),
    ("site_area", gettext_lazy("Site area (m²)"), True),
    (None, gettext_lazy("Site area (ha)"), True),
    ("gfa", gettext_lazy("GFA / cap (m²)"), True),
    ("land_status", gettext_lazy("Land status"), False),
    ("handover_date", gettext_lazy("Handover date"), False),
)


def _phase_rows(user, as_of: asof.AsOf | None = None) -> list[Phase]:
    phases = list(asof.plan_rows(Phase, as_of).restrict(user).select_related("campus").with_totals().with_readiness())
    if as_of is None:
        selectors.attach_gfa_by_type(phases)
    for phase in phases:
        phase.warnings = selectors.phase_warnings(phase)
    return phases


def _campus_warnings(campuses: list[Campus]) -> list:
    """The plan's warnings that are not about one phase (those show in the phase's row)."""
    return [warning for campus in campuses for warning in selectors.campus_level_warnings(campus)]


def campus_code(request) -> str:
    """`?campus=<code>`: the campus meant when several hold the same parcel code ("" when not given). A code with a
    NUL character names no campus, and PostgreSQL refuses it in a comparison: 404, not a server error."""
    code = request.GET.get("campus", "")
    if "\x00" in code:
        raise Http404
    return code


def parcel_url(code: str, *, as_of: asof.AsOf | None = None) -> str:
    """Where the parcel panel of a parcel is (the panel's views answer it); as of a past day, its read-only panel
    (planning.views.history), the day carried by the page's query string."""
    if as_of is not None:
        return f"{reverse('planning:plan')}history/parcels/{quote(code, safe='')}/"
    return f"{reverse('planning:plan')}parcels/{quote(code, safe='')}/"


class WorkspaceFilters:
    """The workspace's filters read from the query string: the page's values, ParcelFilterSet's data, and the
    query strings the page's links and the map's request carry."""

    def __init__(self, query, as_of: asof.AsOf | None = None):
        self.as_of = as_of
        self.values = {name: query.get(name, "").strip() for name in PAGE_FILTERS}
        data = {}
        for key, value in self.values.items():
            if key == "phase" and value == RESERVE:
                data["reserve"] = "true"
            elif key == "phase" and value:
                data["phase_number"] = value
            elif value:
                data[key] = value
        self.data = data
        colour = query.get("colour", "")
        self.colour = colour if colour in COLOURINGS else "phase"
        sort = query.get("sort", "code")
        self.sort = sort if sort.removeprefix("-") in SORTS else "code"

    def filterset(self, queryset) -> ParcelFilterSet:
        return asof.filterset_class(ParcelFilterSet, queryset)(self.data, queryset=queryset)

    def page_query(self, **changes) -> str:
        """The page's query string with `changes` (None drops a key); empty values left out."""
        params = {**{k: v for k, v in self.values.items() if v}, "colour": self.colour, "sort": self.sort}
        if self.as_of:
            params[asof.PARAMETER] = self.as_of.day.isoformat()
        params.update(changes)
        if params.get("colour") == "phase":
            params.pop("colour")
        if params.get("sort") == "code":
            params.pop("sort")
        return urlencode({key: value for key, value in params.items() if value not in (None, "")})

    def api_query(self, errors) -> str:
        """The API's query string for the same parcels (what the map requests and the exports carry); a value the
        filters refused is left out, as the table leaves it out."""
        query = {key: value for key, value in self.data.items() if key not in errors}
        if self.as_of:
            query[asof.PARAMETER] = self.as_of.day.isoformat()
        return urlencode(query)


def _ordering(sort: str) -> list:
    key, descending = sort.removeprefix("-"), sort.startswith("-")
    expressions = SORTS[key]()
    ordered = [e.desc(nulls_last=True) if descending else e.asc(nulls_last=True) for e in expressions]
    return [*ordered, F("code").asc(), F("pk").asc()]


def _sort_headers(filters: WorkspaceFilters) -> list[dict]:
    current, descending = filters.sort.removeprefix("-"), filters.sort.startswith("-")
    headers = []
    for key, label, numeric in SORT_COLUMNS:
        header = {"key": key, "label": label, "numeric": numeric, "aria_sort": None, "href": None}
        if key is not None:
            active = key == current
            header["aria_sort"] = ("descending" if descending else "ascending") if active else None
            header["href"] = "?" + filters.page_query(sort=f"-{key}" if active and not descending else key, page=None)
            header["next"] = "descending" if active and not descending else "ascending"
        headers.append(header)
    return headers


def _map_strings() -> dict:
    """Every text the map's scripts show, in the reader's language (the scripts format the numbers)."""
    return {
        "ha": _("%(value)s ha"),
        "m2": _("%(value)s m²"),
        "label": _("%(code)s %(area)s"),
        "phase": _("Phase"),
        "reserve": _("Reserve (no phase)"),
        "siteArea": _("Site area"),
        "gfaCap": _("GFA / cap"),
        "landStatus": _("Land status"),
        "readiness": _("Readiness"),
        "facilityTypes": _("Facilities"),
        "noFacilities": _("none planned"),
        "notComputed": _("Not computed yet"),
        "noParcels": _("No parcel matches the filters."),
        "loadFailed": _("The parcels could not be loaded (%(status)s). Reload the page to try again."),
        "opening": _("Opening parcel %(code)s…"),
        "openFailed": _("Parcel %(code)s could not be opened (%(status)s)."),
        "selectFirst": _("Select a parcel first: click it on the map or open it in the table."),
        "pointer": _("HK1980 Grid at the pointer: E %(e)s m, N %(n)s m"),
        "centre": _("HK1980 Grid at the map's centre: E %(e)s m, N %(n)s m"),
        "zoomIn": _("Zoom in"),
        "zoomOut": _("Zoom out"),
        "drawHint": _("Click the map to place the corners; click the first corner to finish. Esc cancels."),
        "drawn": _("New parcel drawn: %(area)s. Fill in the form beside the map to save it."),
        "area": _("Area %(m2)s (%(ha)s)"),
        "overlaps": _("overlaps %(code)s by %(area)s"),
        "noOverlap": _("no overlap with other parcels"),
        "editing": _("Editing %(code)s: drag a corner (or a midpoint, to add one), then save."),
        "moving": _("Moving %(code)s: drag the parcel, then save."),
        "corner": _("Corner of the shape"),
        "midpoint": _("Midpoint of an edge: drag it to add a corner"),
        "saving": _("Saving %(code)s…"),
        "saved": _("%(code)s saved: %(area)s."),
        "refused": _("Not saved: %(messages)s"),
        "refusedTitle": _("Not saved"),
        "conflict": _("Not saved: this parcel was changed by someone else."),
        "failed": _("Not saved: the server answered %(status)s."),
        "cancelled": _("Change cancelled; the shape is as it was."),
        "reloaded": _("Reloaded the current version of %(code)s."),
        "splitHint": _("Draw the line to split %(code)s along: click to place points, click the last one to finish."),
        "splitPreview": _("Choose the part that keeps %(code)s and its facilities, and give the other part a code."),
        "splitPart": _("Part %(n)s: %(area)s"),
        "splitDone": _("%(code)s split: %(new)s created."),
        "mergeHint": _("Click the adjacent parcel of the same phase to merge into %(code)s."),
        "mergePreview": _("%(code)s and %(other)s together: %(area)s. Merge them?"),
        "mergeDone": _("%(other)s merged into %(code)s."),
        "chooseKeep": _("Choose the part that keeps the parcel."),
        "needCode": _("Give the new parcel a code."),
        "changed": _("Parcel %(code)s changed; the map is up to date."),
        "legendTitle": _("Colour by %(colouring)s"),
        "chooseParcel": _("Choose a parcel"),
    }


def _today_url(filters: WorkspaceFilters) -> str:
    """Today's workspace with the same filters (the way back from the plan as of a past day)."""
    query = filters.page_query(as_of=None)
    return reverse("planning:plan") + (f"?{query}" if query else "")


def render_workspace(request, *, parcel_panel: dict | None = None, panel_html: str = ""):
    """The whole `/plan/` page. With `parcel_panel` (a context for `planning/_parcel_panel.html`) or `panel_html`,
    the panel beside the map shows that parcel; without it, a hint. Filters, colouring and sort come from the query
    string; with `?as_of=YYYY-MM-DD`, the plan as it stood at the end of that day, read-only (`planning.asof`)."""
    user = request.user
    try:
        # Today's panel (`parcel_panel`) is today's plan; its view sends a past day to the panel of that day.
        as_of = None if parcel_panel else asof.AsOf.from_query(request.GET)
    except ValidationError as error:
        context = {"message": error.message_dict[asof.PARAMETER][0], "plan_url": reverse("planning:plan")}
        return render(request, "planning/history_refused.html", context, status=400)
    filters = WorkspaceFilters(request.GET, as_of)
    campuses = list(asof.plan_rows(Campus, as_of).restrict(user))
    phases = _phase_rows(user, as_of)
    filterset = filters.filterset(asof.plan_rows(Parcel, as_of).restrict(user))
    labels = {"phase_number": _("Phase"), "land_status": _("Land status"), "zoning": _("Zoning")}
    labels["facility_type"] = _("Facility type")
    filter_errors = [
        _("%(filter)s filter ignored: %(message)s") % {"filter": labels.get(name, name), "message": message}
        for name, messages in filterset.errors.items()
        for message in messages
    ]
    rows = filterset.qs.select_related("phase").with_gfa().order_by(*_ordering(filters.sort))
    page = Paginator(rows, PARCELS_PER_PAGE).get_page(request.GET.get("page"))
    for parcel in page.object_list:
        parcel.url = parcel_url(parcel.code, as_of=as_of)
    api_query = filters.api_query(filterset.errors)
    geojson_url = reverse("parcel-geojson") + (f"?{api_query}" if api_query else "")
    export_base = f"{reverse('parcel-list')}export/?"
    exports = [
        (label, export_base + urlencode({"format": fmt}) + (f"&{api_query}" if api_query else ""))
        for fmt, label in (("csv", "CSV"), ("xlsx", "XLSX"), ("geojson", "GeoJSON"))
        if as_of is None  # the exports are of today's plan
    ]
    zonings = list(
        asof.plan_rows(Parcel, as_of).restrict(user).order_by("zoning").values_list("zoning", flat=True).distinct()
    )
    facility_types = list(FacilityType.objects.restrict(user).order_by("code"))
    page_query = filters.page_query()
    map_config = {
        "geojsonUrl": geojson_url,
        "parcelApi": reverse("parcel-list"),
        "parcelUrl": parcel_url("__code__", as_of=as_of),
        "planUrl": reverse("planning:plan"),
        "newParcelUrl": f"{reverse('planning:plan')}parcels/new/",
        "colour": filters.colour,
        "canEdit": can_edit_plan(user) and as_of is None,
        "basemap": (
            {"url": settings.BASEMAP_TILE_URL, "attribution": settings.BASEMAP_ATTRIBUTION}
            if settings.BASEMAP_TILE_URL
            else None
        ),
        "campuses": [{"code": c.code, "name": c.name, "boundary": c.boundary} for c in campuses],
        # Readiness is the phase's (the latest snapshot's state), read once per phase here rather than per parcel.
        "phases": [{"id": p.pk, "number": p.number, "name": p.name, "readiness": p.readiness_state} for p in phases],
        "facilityTypes": {t.code: t.name for t in facility_types},
        "colourings": {key: str(label) for key, label in COLOURINGS.items()},
        "landStatuses": [[value, str(label)] for value, label in Parcel.LandStatus.choices],
        "readinessStates": [[value, str(label)] for value, label in ReadinessSnapshot.State.choices],
    }
    context = {
        "title": _("Phase plans"),
        "filters": filters,
        "filter_errors": filter_errors,
        "colourings": list(COLOURINGS.items()),
        "phases": phases,
        "reserve": RESERVE,
        "land_statuses": Parcel.LandStatus.choices,
        "zonings": zonings,
        "facility_types": facility_types,
        "page": page,
        "parcel_count": page.paginator.count,
        "sort_headers": _sort_headers(filters),
        "page_query": page_query,
        "query_suffix": f"?{page_query}" if page_query else "",
        "exports": exports,
        "map_config": map_config,
        "map_strings": _map_strings(),
        "can_edit": can_edit_plan(user) and as_of is None,
        # Not as of a past day: these warnings read today's plan (the phases' own are in their rows, as of the day).
        "plan_warnings": _campus_warnings(campuses) if as_of is None else [],
        "as_of": as_of,
        "today_url": _today_url(filters),
        # The panel's own template, with the context its views give (`planning/_parcel_panel.html`).
        "parcel_panel_html": panel_html
        or (render_to_string("planning/_parcel_panel.html", parcel_panel, request=request) if parcel_panel else ""),
    }
    return render(request, "planning/plan.html", context)


@role_required(PLANNER, STAFF)
def plan(request):
    return render_workspace(request)
