"""The parcel panel of the planner's workspace (`/plan/parcels/<code>/`): a parcel's attributes, its facility
programme and its history, edited in place through htmx; the new-parcel form the map's draw tool opens; the delete
confirmation.

Every write goes through `planning.services` with the version the form was based on. An edit on a stale version
answers the conflict (who changed the row since, when, and what: `core.services.ConflictError`) and offers to load
the current version without losing what was typed. Fields are checked as they are typed by running the same
service in a transaction that is rolled back (`dry_run`), never by a copy of its rules.

htmx requests get fragments; other requests get the whole workspace with the panel open (`pages.render_workspace`).
A refused save answers 422, a conflict 409 and a row gone meanwhile 404, with the fragment to show in place
(`static/planning/panel-forms.js` lets htmx swap those). Responses that change a parcel or its programme send
`HX-Trigger: parcel-changed`, so the map reloads its data; a refused shape sends `parcel-refused` with the messages,
so the map shows them at the shape.
"""

import json
from decimal import Decimal
from functools import wraps
from urllib.parse import parse_qsl, urlencode, urlsplit

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import models, transaction
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from core import history
from core.roles import PLANNER, STAFF, role_required
from core.services import ConflictError

from .. import services
from ..forms import ATTRIBUTE_FIELDS, FACILITY_FIELDS, FacilityForm, ParcelAttributesForm, ParcelCreateForm
from ..models import Campus, Facility, Parcel
from . import pages
from .history import HistoryEntry, changes_of, is_htmx

# History entries shown at first, and how many more each "show more" adds (at most HISTORY_MAX).
HISTORY_SHOWN = 10
HISTORY_MAX = 200
PANEL = "#parcel-panel"
# The GFA bar reads as nearly full (the meter's "high" region) from this share of the cap.
GFA_HIGH_SHARE = Decimal("0.95")


# --- helpers ----------------------------------------------------------------------------------------------------


class _RolledBack(Exception):
    pass


def dry_run(write) -> None:
    """Run a write (a service call) and roll back everything it did: its refusals (ValidationError,
    ConflictError) propagate, nothing is saved, and no side effect runs (they wait for a commit that never comes)."""
    try:
        with transaction.atomic():
            write()
            raise _RolledBack
    except _RolledBack:
        pass


def _parcel(request, code: str, *, action: str = "view") -> Parcel:
    """The parcel `code` the user may see (404 otherwise); `?campus=<code>` picks one when several campuses hold
    the code. `parcel.query` is the query string the panel's own links carry to keep that choice."""
    parcels = Parcel.objects.restrict(request.user, action).filter(code=code).select_related("campus", "phase")
    campus = pages.campus_code(request)
    if campus:
        parcels = parcels.filter(campus__code=campus)
    found = list(parcels.order_by("campus__code")[:2])
    if not found:
        raise Http404
    parcel = found[0]
    parcel.query = f"?campus={parcel.campus.code}" if campus or len(found) > 1 else ""
    return parcel


def _url(name: str, parcel: Parcel, *args) -> str:
    return reverse(f"planning:{name}", args=[parcel.code, *args]) + parcel.query


def _changed(parcel: Parcel) -> dict:
    return {"parcel-changed": {"id": parcel.pk, "code": parcel.code}}


def _page_url(request, path: str, query: str = "") -> str:
    """Where the page should be after a change moved it to `path` (a new parcel's code, the map): the workspace's own
    query (its filters, read from the page htmx was called from) goes along, with `query` (a campus) instead of any
    the page had. "" when the page is there already."""
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    params = [(key, value) for key, value in parse_qsl(current.query) if key != "campus"]
    params += parse_qsl(query.lstrip("?"))
    if current.path == path:
        return ""
    return path + (f"?{urlencode(params)}" if params else "")


def _headers(response: HttpResponse, *, trigger: dict | None = None, push: str = "", panel: bool = False):
    if trigger:
        response["HX-Trigger"] = json.dumps(trigger)  # ASCII-only JSON: non-Latin text arrives as \\u escapes
    if push:
        response["HX-Push-Url"] = push
    if panel:  # the whole panel, whichever part of it asked
        response["HX-Retarget"] = PANEL
        response["HX-Reswap"] = "innerHTML"
    return response


def panel_view(*methods: str):
    """A view of the panel: planners and staff only, the given HTTP methods, and, for htmx, a row that is gone
    (deleted, or its code changed, by someone else meanwhile) answered in the panel rather than as an error page."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                return view(request, *args, **kwargs)
            except (Http404, ObjectDoesNotExist):  # also: removed between the lookup and the service's lock
                if not is_htmx(request):
                    raise Http404 from None
                response = _fragment(request, "planning/_gone.html", {"plan_url": reverse("planning:plan")}, status=404)
                return _headers(response, panel=True)

        return role_required(PLANNER, STAFF)(require_http_methods(list(methods))(wrapper))

    return decorator


def _fragment(request, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    return HttpResponse(render_to_string(template, context, request), status=status)


def _comparable(value):
    """A value as stored, to compare a form's value with a history row's or the row's."""
    if isinstance(value, models.Model):
        return value.pk
    if value == "":
        return None
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def _raw(value) -> str:
    """A stored value as a form's input sends it."""
    if value is None:
        return ""
    if isinstance(value, models.Model):
        return str(value.pk)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


# --- the panel --------------------------------------------------------------------------------------------------


def parcel_history(parcel: Parcel, *, limit: int) -> tuple[list[HistoryEntry], bool]:
    """The newest `limit` changes to the parcel and its facilities, and whether there are more (the plan's one
    reading of changes, `history.changes_of`)."""
    return changes_of("parcel", parcel.pk, limit=limit)


def _history_limit(request) -> int:
    try:
        return max(HISTORY_SHOWN, min(int(request.GET.get("shown", HISTORY_SHOWN)), HISTORY_MAX))
    except ValueError:
        return HISTORY_SHOWN


def panel_context(request, parcel: Parcel, **extra) -> dict:
    """What `_parcel_panel.html` shows: the parcel (read again, with its GFA), its programme, its history, and any
    form open in it (`extra`: `attributes_form`, `facility_forms` by id, `new_facility_form`, `conflict`…)."""
    query = parcel.query
    parcel = Parcel.objects.select_related("campus", "phase").get(pk=parcel.pk)
    parcel.query = query
    facilities = list(parcel.facilities.select_related("facility_type").order_by("name", "pk"))
    gfa = sum((facility.gfa_m2 for facility in facilities), Decimal(0))
    cap = parcel.gfa_cap_m2
    rows = extra.pop("facility_forms", {})
    for facility in facilities:
        facility.row = rows.get(facility.pk, {})
    context = {
        "parcel": parcel,
        "facilities": facilities,
        "gfa": gfa,
        "gfa_cap": cap,
        "gfa_high": cap * GFA_HIGH_SHARE,
        "gfa_pct": (gfa / cap * 100).quantize(Decimal("0.1")) if cap else None,
        **_history_context(parcel, HISTORY_SHOWN),
        "urls": _panel_urls(parcel),
        "new_facility_form": extra.pop("new_facility_form", None) or _facility_form(parcel),
    }
    context.update(extra)
    return context


def _history_context(parcel: Parcel, limit: int) -> dict:
    entries, more = parcel_history(parcel, limit=limit)
    url = _url("parcel-history", parcel)
    return {
        "history_entries": entries,
        "history_more": more,
        "history_more_url": url + ("&" if "?" in url else "?") + f"shown={len(entries) + HISTORY_SHOWN * 2}",
    }


def _panel_urls(parcel: Parcel) -> dict:
    return {
        "panel": _url("parcel", parcel),
        "attributes": _url("parcel-attributes", parcel),
        "attributes_edit": _url("parcel-attributes-edit", parcel),
        "attributes_validate": _url("parcel-attributes-validate", parcel),
        "facility_new": _url("facility-new", parcel),
        "facility_validate": _url("facility-validate", parcel),
        "delete": _url("parcel-delete", parcel),
        "history": _url("parcel-history", parcel),
    }


def _panel(request, parcel: Parcel, *, status: int = 200, **extra) -> HttpResponse:
    """The panel: as a fragment to htmx, else inside the whole workspace."""
    context = panel_context(request, parcel, **extra)
    if is_htmx(request):
        return _fragment(request, "planning/_parcel_panel.html", context, status=status)
    response = pages.render_workspace(request, parcel_panel=context)
    response.status_code = status
    return response


def _saved(request, parcel: Parcel, message: str) -> HttpResponse:
    """After a change: the whole panel, fresh, and the map told to reload the parcel."""
    if not is_htmx(request):
        return HttpResponseRedirect(_url("parcel", parcel))
    response = _panel(request, parcel, saved_message=message, focus_heading=True)
    push = _page_url(request, reverse("planning:parcel", args=[parcel.code]), parcel.query)
    return _headers(response, trigger=_changed(parcel), push=push, panel=True)


@panel_view("GET")
def parcel_panel(request, code: str):
    if "as_of" in request.GET:  # the parcel as it stood at the end of a past day: its read-only panel
        return HttpResponseRedirect(f"{reverse('planning:parcel-as-of', args=[code])}?{request.GET.urlencode()}")
    parcel = _parcel(request, code)
    return _panel(request, parcel)


@panel_view("GET")
def parcel_history_more(request, code: str):
    parcel = _parcel(request, code)
    return _fragment(request, "planning/_parcel_history.html", _history_context(parcel, _history_limit(request)))


# --- conflicts: what changed, and the current version with what was typed ----------------------------------------


def conflict_context(error: ConflictError) -> dict:
    return {
        "message": str(error),
        "changed_by": error.changed_by,
        "editors": error.editors,
        "changed_at": error.changed_at,
        "changes": error.changes,
        "current_version": error.current_version,
    }


def reload_form(form_class, typed, row: models.Model, names, **form_kwargs):
    """The form on the current version of `row`, keeping what the planner typed (`typed`, a bound form on an older
    version). Where the planner changed a field (their value differs from the version they started from), their
    value stays in the field and the saved one is shown beside it; where they did not, the field shows the saved
    value, so a save cannot silently undo someone else's change. The notes go on the form's fields."""
    typed.is_valid()
    try:
        based_on = int(typed.data.get(typed.add_prefix("version"), ""))
    except ValueError:
        based_on = None
    base = row.history.filter(version=based_on).order_by("-history_id").first() if based_on else None
    names_cache: dict = {}
    data, notes = {typed.add_prefix("version"): str(row.version)}, {}
    for name in names:
        model_field = row._meta.get_field(name)
        current = getattr(row, model_field.attname)
        key = typed.add_prefix(name)
        mine_raw = typed.data.get(key, "")
        if name in typed.cleaned_data:
            mine = _comparable(typed.cleaned_data[name])
            mine_changed = base is None or mine != _comparable(getattr(base, model_field.attname))
        else:  # a value the form refused: the planner typed it
            mine, mine_changed = mine_raw, True
        saved = history.display_value(model_field, current, names=names_cache)
        if mine_changed and mine != _comparable(current):
            data[key] = mine_raw
            notes[name] = _("Saved now: %(value)s. Your value is kept in the field.") % {"value": saved}
        else:
            data[key] = _raw(current)
            if base is not None and _comparable(getattr(base, model_field.attname)) != _comparable(current):
                was = history.display_value(model_field, getattr(base, model_field.attname), names=names_cache)
                notes[name] = _("Changed since you opened it (was %(value)s).") % {"value": was}
    form = form_class(data, prefix=typed.prefix, **form_kwargs)
    form.is_valid()
    for name, note in notes.items():
        form.fields[name].conflict_note = note  # shown beside the field (`_field.html`)
    return form


# --- attributes -------------------------------------------------------------------------------------------------


def _attributes_form(parcel: Parcel, data=None) -> ParcelAttributesForm:
    return ParcelAttributesForm(
        data, instance=parcel, prefix="parcel", validate_url=_url("parcel-attributes-validate", parcel)
    )


def _attributes(request, parcel: Parcel, form=None, *, status=200, **extra) -> HttpResponse:
    """The attributes section: shown, or with its form open (`form`, focused on its first field or error)."""
    if form is not None:
        form.focus()
    if not is_htmx(request):
        return _panel(request, parcel, status=status, attributes_form=form, **extra)
    context = {"parcel": parcel, "attributes_form": form, "urls": _panel_urls(parcel), **extra}
    return _fragment(request, "planning/_parcel_attributes.html", context, status=status)


@panel_view("GET", "POST")
def parcel_attributes(request, code: str):
    """GET: the attributes as shown (Cancel). POST: save them through `services.parcel_update`."""
    parcel = _parcel(request, code, action="change" if request.method == "POST" else "view")
    if request.method == "GET":
        return _attributes(request, parcel, focus_edit=True)
    form = _attributes_form(parcel, request.POST)
    if not form.is_valid():
        return _attributes(request, parcel, form, status=422)
    try:
        with transaction.atomic():
            saved = services.parcel_update(
                parcel=parcel,
                actor=request.user,
                expected_version=form.cleaned_data["version"],
                **form.service_values(),
            )
    except ValidationError as error:
        form.add_service_errors(error)
        return _attributes(request, parcel, form, status=422)
    except ConflictError as error:
        return _attributes(request, parcel, form, status=409, conflict=conflict_context(error))
    saved.query = parcel.query
    return _saved(request, saved, _("Attributes of parcel %(code)s saved.") % {"code": saved.code})


@panel_view("GET", "POST")
def parcel_attributes_edit(request, code: str):
    """GET: the attributes form. POST ("Load the current version"): the form on the current version, keeping what
    the planner typed (`reload_form`)."""
    parcel = _parcel(request, code, action="change")
    if request.method == "GET":
        return _attributes(request, parcel, _attributes_form(parcel))
    typed = _attributes_form(parcel, request.POST)
    form = reload_form(
        ParcelAttributesForm,
        typed,
        parcel,
        ATTRIBUTE_FIELDS,
        instance=parcel,
        validate_url=_url("parcel-attributes-validate", parcel),
    )
    return _attributes(request, parcel, form, reloaded=True)


@panel_view("POST")
def parcel_attributes_validate(request, code: str):
    """htmx, as the planner types: the attributes form checked by a dry run of `services.parcel_update`."""
    parcel = _parcel(request, code, action="change")
    form = _attributes_form(parcel, request.POST)
    conflict = _check(
        form,
        lambda values: services.parcel_update(
            parcel=parcel, actor=request.user, expected_version=form.cleaned_data.get("version"), **values
        ),
    )
    return _validation(request, form, conflict=conflict)


def _check(form, write) -> ConflictError | None:
    """Run `write(values)` as a dry run on the form's valid values and put its refusals on the form."""
    form.is_valid()
    try:
        dry_run(lambda: write(form.service_values()))
    except ValidationError as error:
        form.add_service_errors(error)
    except ConflictError as error:
        return error
    return None


def _validation(request, form, *, conflict=None, unit=None) -> HttpResponse:
    """The answer to a check as typed: out-of-band swaps of each reported field's errors and the form's own.

    Reported are the field that was typed in and every field with a value; an empty field not reached yet is left
    alone (a new facility's name is not "required" while its type is being chosen)."""
    trigger = request.headers.get("HX-Trigger-Name", "")
    fields = [bound for bound in form if not bound.is_hidden and (bound.html_name == trigger or bound.value())]
    context = {"form": form, "fields": fields, "conflict": conflict and conflict_context(conflict), "unit": unit}
    return _fragment(request, "planning/_field_validation.html", context)


# --- new parcel -------------------------------------------------------------------------------------------------


def _campus_for_new(request) -> Campus:
    campuses = Campus.objects.restrict(request.user, "change").order_by("code")
    code = pages.campus_code(request)
    campus = (campuses.filter(code=code) if code else campuses).first()
    if campus is None:
        raise Http404
    return campus


def _new_urls(campus: Campus, request) -> dict:
    query = f"?campus={campus.code}" if request.GET.get("campus") else ""
    return {
        "new": reverse("planning:parcel-new") + query,
        "new_validate": reverse("planning:parcel-new-validate") + query,
        "plan": reverse("planning:plan"),
    }


def _new_form(request, campus: Campus, data=None) -> ParcelCreateForm:
    return ParcelCreateForm(data, campus=campus, validate_url=_new_urls(campus, request)["new_validate"])


def _new_page(request, form, campus, *, status=200, refused=None) -> HttpResponse:
    form.focus()
    context = {"form": form, "campus": campus, "urls": _new_urls(campus, request), "new_parcel": True}
    if is_htmx(request):
        response = _fragment(request, "planning/_parcel_new.html", context, status=status)
    else:
        response = pages.render_workspace(request, parcel_panel=context)
        response.status_code = status
    if refused:
        _headers(response, trigger={"parcel-refused": {"messages": refused}})
    return response


@panel_view("GET", "POST")
def parcel_new(request):
    """GET: the new-parcel form (the map's draw tool fills `geometry`). POST: `services.parcel_create`."""
    campus = _campus_for_new(request)
    if request.method == "GET":
        return _new_page(request, _new_form(request, campus), campus)
    form = _new_form(request, campus, request.POST)
    if form.is_valid():
        try:
            with transaction.atomic():
                parcel = services.parcel_create(actor=request.user, campus=campus, **form.service_values())
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            parcel.query = f"?campus={campus.code}" if request.GET.get("campus") else ""
            return _saved(request, parcel, _("Parcel %(code)s created.") % {"code": parcel.code})
    refused = list(form.errors.get("geometry", []))
    return _new_page(request, form, campus, status=422, refused=refused)


@panel_view("POST")
def parcel_new_validate(request):
    """htmx, as the planner types: the new-parcel form checked by a dry run of `services.parcel_create`."""
    campus = _campus_for_new(request)
    form = _new_form(request, campus, request.POST)
    _check(form, lambda values: services.parcel_create(actor=request.user, campus=campus, **values))
    return _validation(request, form)


# --- delete the parcel ------------------------------------------------------------------------------------------


def _refusals(write) -> list[str]:
    """Why a delete would be refused (a dry run of it): every message of the refusal, or none."""
    try:
        dry_run(write)
    except ValidationError as error:
        return error.messages
    return []


@panel_view("GET", "POST")
def parcel_delete(request, code: str):
    """GET: the confirmation, naming the facilities that go with the parcel and what refuses the delete (the
    guards other apps registered: allocations, commitments, EOIs). POST: `services.parcel_delete`."""
    parcel = _parcel(request, code, action="change")
    facilities = list(parcel.facilities.order_by("name", "pk"))
    context = {
        "parcel": parcel,
        "facilities": facilities,
        "gfa": sum((f.gfa_m2 for f in facilities), Decimal(0)),
        "urls": _panel_urls(parcel),
        "version": parcel.version,
    }
    status = 200
    if request.method == "POST":
        try:
            services.parcel_delete(
                parcel=parcel, actor=request.user, expected_version=_int(request.POST.get("version"))
            )
        except ValidationError as error:
            context["refusals"], status = error.messages, 422
        except ConflictError as error:
            context["conflict"], context["version"], status = conflict_context(error), error.current_version, 409
        else:
            return _deleted(request, parcel)
    else:
        context["refusals"] = _refusals(lambda: services.parcel_delete(parcel=parcel, actor=request.user))
    if not is_htmx(request):
        return _panel(request, parcel, status=status, delete=context)
    return _fragment(request, "planning/_parcel_delete.html", context, status=status)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _deleted(request, parcel: Parcel) -> HttpResponse:
    plan = reverse("planning:plan")
    if not is_htmx(request):
        return HttpResponseRedirect(plan)
    response = _fragment(request, "planning/_parcel_deleted.html", {"code": parcel.code, "plan_url": plan})
    return _headers(response, trigger=_changed(parcel), push=_page_url(request, plan), panel=True)


# --- the facility programme -------------------------------------------------------------------------------------


def _facility(parcel: Parcel, pk: int) -> Facility:
    return get_object_or_404(Facility.objects.select_related("facility_type", "parcel"), pk=pk, parcel=parcel)


def _facility_validate_url(parcel: Parcel, facility: Facility | None) -> str:
    url = _url("facility-validate", parcel)
    if facility is None:
        return url
    return url + ("&" if parcel.query else "?") + f"facility={facility.pk}"


def _facility_form(parcel: Parcel, facility: Facility | None = None, data=None) -> FacilityForm:
    return FacilityForm(
        data,
        instance=facility,
        prefix=f"facility-{facility.pk}" if facility else "facility-new",
        validate_url=_facility_validate_url(parcel, facility),
    )


def _facility_row(request, parcel, facility, form=None, *, status=200, **state) -> HttpResponse:
    """One row of the programme: shown, with its form open (`form`) or its removal to confirm (`delete`)."""
    row = {"form": form.focus() if form is not None else None, **state}
    if not is_htmx(request):
        return _panel(request, parcel, status=status, facility_forms={facility.pk: row})
    context = {"parcel": parcel, "facility": facility, "row": row, "urls": _panel_urls(parcel)}
    return _fragment(request, "planning/_facility_row.html", context, status=status)


def _new_facility(request, parcel, form, *, status=200) -> HttpResponse:
    form.focus()
    if not is_htmx(request):
        return _panel(request, parcel, status=status, new_facility_form=form)
    context = {"parcel": parcel, "form": form, "urls": _panel_urls(parcel)}
    return _fragment(request, "planning/_facility_new.html", context, status=status)


@panel_view("GET", "POST")
def facility_new(request, code: str):
    """GET: the form of a new facility. POST: `services.facility_create`."""
    parcel = _parcel(request, code, action="change")
    if request.method == "GET":
        return _new_facility(request, parcel, _facility_form(parcel))
    form = _facility_form(parcel, data=request.POST)
    if form.is_valid():
        try:
            with transaction.atomic():
                facility = services.facility_create(actor=request.user, parcel=parcel, **form.service_values())
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            return _saved(request, parcel, _("Facility %(name)s added.") % {"name": facility.name})
    return _new_facility(request, parcel, form, status=422)


@panel_view("GET", "POST")
def facility_row(request, code: str, pk: int):
    """GET: the row as shown (Cancel). POST: save it through `services.facility_update` with its version."""
    parcel = _parcel(request, code, action="change" if request.method == "POST" else "view")
    facility = _facility(parcel, pk)
    if request.method == "GET":
        return _facility_row(request, parcel, facility, focus=True)
    form = _facility_form(parcel, facility, request.POST)
    if not form.is_valid():
        return _facility_row(request, parcel, facility, form, status=422)
    try:
        with transaction.atomic():
            services.facility_update(
                facility=facility,
                actor=request.user,
                expected_version=form.cleaned_data["version"],
                **form.service_values(),
            )
    except ValidationError as error:
        form.add_service_errors(error)
        return _facility_row(request, parcel, facility, form, status=422)
    except ConflictError as error:
        return _facility_row(request, parcel, facility, form, status=409, conflict=conflict_context(error))
    return _saved(request, parcel, _("Facility %(name)s saved.") % {"name": form.cleaned_data["name"]})


@panel_view("GET", "POST")
def facility_edit(request, code: str, pk: int):
    """GET: the row's form. POST ("Load the current version"): the form on the current version, keeping what the
    planner typed (`reload_form`)."""
    parcel = _parcel(request, code, action="change")
    facility = _facility(parcel, pk)
    if request.method == "GET":
        return _facility_row(request, parcel, facility, _facility_form(parcel, facility))
    typed = _facility_form(parcel, facility, request.POST)
    form = reload_form(
        FacilityForm,
        typed,
        facility,
        FACILITY_FIELDS,
        instance=facility,
        validate_url=_facility_validate_url(parcel, facility),
    )
    return _facility_row(request, parcel, facility, form, reloaded=True)


@panel_view("GET", "POST")
def facility_delete(request, code: str, pk: int):
    """GET: confirm the removal, saying what refuses it (the guards: allocations, commitments). POST: remove it
    through `services.facility_delete`, checking the version the confirmation showed."""
    parcel = _parcel(request, code, action="change")
    facility = _facility(parcel, pk)
    context = {"delete": True, "version": facility.version}
    status = 200
    if request.method == "POST":
        try:
            services.facility_delete(
                facility=facility, actor=request.user, expected_version=_int(request.POST.get("version"))
            )
        except ValidationError as error:
            context["refusals"], status = error.messages, 422
        except ConflictError as error:
            context.update(conflict=conflict_context(error), version=error.current_version)
            status = 409
        else:
            return _saved(request, parcel, _("Facility %(name)s removed.") % {"name": facility.name})
    else:
        context["refusals"] = _refusals(lambda: services.facility_delete(facility=facility, actor=request.user))
    return _facility_row(request, parcel, facility, status=status, **context)


@panel_view("POST")
def facility_validate(request, code: str):
    """htmx, as the planner types: a facility's form checked by a dry run of `services.facility_create` (new) or
    `services.facility_update` (`?facility=<id>`), with the capacity unit of the chosen type."""
    parcel = _parcel(request, code, action="change")
    facility = _facility(parcel, _int(request.GET.get("facility"))) if request.GET.get("facility") else None
    form = _facility_form(parcel, facility, request.POST)
    if facility is None:
        conflict = _check(form, lambda values: services.facility_create(actor=request.user, parcel=parcel, **values))
    else:
        conflict = _check(
            form,
            lambda values: services.facility_update(
                facility=facility, actor=request.user, expected_version=form.cleaned_data.get("version"), **values
            ),
        )
    chosen = form.chosen_type()
    return _validation(request, form, conflict=conflict, unit=chosen.capacity_unit if chosen else "")
