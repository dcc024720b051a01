"""The planner's import page, `/plan/import/`: upload a GeoJSON file of parcels, preview what it would change (a dry
run of `services.parcels_import`), then apply it, all or nothing; and links to the exports.

Between the preview and the apply the file stays on the server. The preview keeps it, compressed, in the planner's
session (a database row, never the cookie) under a random token, with the campus, the CRS and the version of every
parcel the preview showed; the Apply button sends only the token. So what is applied is byte for byte the file that
was previewed — nothing the browser sends can change it — and `expected_versions` refuses the apply if a parcel
the preview showed has changed since, was added or was deleted (the planner previews again). One pending import
per session: a new preview replaces it, applying consumes it.
"""

import base64
import json
import secrets
import zlib

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.crypto import constant_time_compare
from django.utils.formats import date_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.parsers import MAX_DEPTH, nesting_depth_exceeds
from core.roles import PLANNER, STAFF, role_required
from core.templatetags.units import EMPTY, grouped, m2

from .. import exchange, services
from ..models import Campus, Parcel

PENDING_KEY = "planning:parcel-import"
DONE_KEY = "planning:parcel-import-done"


class ParcelImportForm(forms.Form):
    campus = forms.ModelChoiceField(queryset=Campus.objects.none(), label=gettext_lazy("Campus"), empty_label=None)
    file = forms.FileField(label=gettext_lazy("GeoJSON file"))
    crs = forms.ChoiceField(
        label=gettext_lazy("Coordinates in"),
        choices=[
            (exchange.WGS84, gettext_lazy("WGS84 longitude/latitude (EPSG:4326)")),
            (exchange.HK1980_GRID, gettext_lazy("HK1980 Grid easting/northing, metres (EPSG:2326)")),
        ],
        initial=exchange.WGS84,
        help_text=gettext_lazy("If the file names its coordinate system (a crs member), it must be this one."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campus"].queryset = Campus.objects.restrict(user, "change").order_by("code")
        campuses = list(self.fields["campus"].queryset)
        self.only_campus = campuses[0] if len(campuses) == 1 else None
        if self.only_campus:
            self.fields["campus"].initial = self.only_campus.pk
            self.fields["campus"].widget = forms.HiddenInput()
            self.fields["campus"].required = False
        self.fields["file"].help_text = _(
            "A FeatureCollection of parcel polygons: at most %(size)s and %(count)s features."
        ) % {
            "size": filesizeformat(settings.PARCEL_IMPORT_MAX_BYTES),
            "count": grouped(settings.PARCEL_IMPORT_MAX_FEATURES),
        }
        self.fields["file"].widget.attrs.update(
            {
                "accept": ".geojson,.json,application/geo+json,application/json",
                "data-max-bytes": settings.PARCEL_IMPORT_MAX_BYTES,
            }
        )
        self.features: list[exchange.ImportFeature] = []
        self.content = b""

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.PARCEL_IMPORT_MAX_BYTES:
            raise ValidationError(too_big_message(upload.size))
        content = upload.read()
        try:
            collection = json.loads(content.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise ValidationError(_("The file is not UTF-8 text, so it is not GeoJSON.")) from None
        except json.JSONDecodeError as error:
            raise ValidationError(
                _("The file is not valid JSON (the problem is at line %(line)s, column %(column)s).")
                % {"line": error.lineno, "column": error.colno}
            ) from None
        except RecursionError:
            collection = None
        if collection is None or nesting_depth_exceeds(collection, MAX_DEPTH):
            raise ValidationError(
                _("The file nests lists or objects more than %(max)s levels deep.") % {"max": MAX_DEPTH}
            )
        self.content = content
        return collection

    def clean_campus(self):
        return self.cleaned_data["campus"] or self.only_campus

    def clean(self):
        data = super().clean()
        if "file" in data and "crs" in data:
            try:
                self.features = exchange.read_collection(data["file"], crs=data["crs"])
            except ValidationError as error:
                for key, messages in error.message_dict.items():
                    self.add_error("crs" if key == "crs" else "file", messages)
        return data


def too_big_message(size: int) -> str:
    return _("The file is %(size)s; at most %(limit)s can be imported. Split it into several files.") % {
        "size": filesizeformat(size),
        "limit": filesizeformat(settings.PARCEL_IMPORT_MAX_BYTES),
    }


def _value(name: str, value) -> str:
    """A field's value as the preview shows it, in the reader's language."""
    if value is None or value == "":
        return EMPTY
    if name == "phase":
        return _("Phase %(number)s") % {"number": value}
    if name == "land_status":
        return Parcel.LandStatus(value).label
    if name == "handover_date":
        return date_format(value)
    if name == "surveyed_area_m2":
        return m2(value)
    if name in ("max_plot_ratio", "max_site_coverage_pct", "max_building_height_mpd"):
        return grouped(value, 2)
    return str(value)


def preview_rows(outcome: services.ImportOutcome) -> list[dict]:
    labels = {
        services.IMPORT_CREATED: _("New parcel"),
        services.IMPORT_UPDATED: _("Updated"),
        services.IMPORT_UNCHANGED: _("Unchanged"),
    }
    rows = []
    for feature in outcome.features:
        changes = [
            {
                "label": capfirst(Parcel._meta.get_field(change.field).verbose_name),
                "old": _value(change.field, change.old),
                "new": _value(change.field, change.new),
            }
            for change in feature.changes
        ]
        rows.append(
            {
                "number": feature.index + 1,
                "code": feature.code,
                "action": feature.action,
                "action_label": labels[feature.action],
                "changes": changes,
                "geometry_changed": feature.geometry_changed and feature.action == services.IMPORT_UPDATED,
                "area": feature.site_area_m2,
                "previous_area": feature.previous_site_area_m2
                if feature.previous_site_area_m2 not in (None, feature.site_area_m2)
                else None,
            }
        )
    return rows


def _render(request, form, **context):
    too_big = _("The file is larger than %(limit)s, the most that can be imported. Split it into several files.")
    refused = context.get("refused") or []
    context = {
        "title": _("Import parcels"),
        "form": form,
        "strings": {"too_big": too_big % {"limit": filesizeformat(settings.PARCEL_IMPORT_MAX_BYTES)}},
        "land_statuses": Parcel.LandStatus.choices,
        "refused_features": len({refusal.index for refusal in refused if refusal.index is not None}),
        "total": context.get("feature_count"),
        **context,
    }
    return render(request, "planning/import.html", context)


@role_required(PLANNER, STAFF)
def parcel_import(request):
    """GET: the form. POST `action=preview`: the dry run (the preview, or every reason refused). POST
    `action=apply`: the pending preview applied."""
    if request.method == "POST" and request.POST.get("action") == "apply":
        return _apply(request)
    if request.method != "POST":
        return _render(request, ParcelImportForm(user=request.user))
    form = ParcelImportForm(request.POST, request.FILES, user=request.user)
    if not form.is_valid():
        return _render(request, form)
    campus = form.cleaned_data["campus"]
    try:
        outcome = services.parcels_import(campus=campus, actor=request.user, features=form.features, dry_run=True)
    except exchange.ImportRefused as refused:
        request.session.pop(PENDING_KEY, None)
        return _render(request, form, refused=refused.refusals, feature_count=len(form.features))
    token = secrets.token_urlsafe(24)
    request.session[PENDING_KEY] = {
        "token": token,
        "campus": campus.pk,
        "crs": form.cleaned_data["crs"],
        "name": request.FILES["file"].name[:200],
        "content": base64.b64encode(zlib.compress(form.content)).decode("ascii"),
        "versions": {feature.code: feature.version for feature in outcome.features if feature.version is not None},
    }
    counts = {action: len(outcome.codes(action)) for action in ("created", "updated", "unchanged")}
    return _render(request, form, preview=preview_rows(outcome), counts=counts, token=token)


def _apply(request):
    pending = request.session.pop(PENDING_KEY, None)
    form = ParcelImportForm(user=request.user)
    token = request.POST.get("token", "")
    campus = None
    if pending and constant_time_compare(pending["token"], token):
        campus = Campus.objects.restrict(request.user, "change").filter(pk=pending["campus"]).first()
    if campus is None:
        expired = _(
            "This preview can no longer be applied: it was applied already, a newer preview replaced it, or your "
            "session ended. Choose the file and preview it again."
        )
        return _render(request, form, expired=expired)
    collection = json.loads(zlib.decompress(base64.b64decode(pending["content"])).decode("utf-8-sig"))
    try:
        features = exchange.read_collection(collection, crs=pending["crs"])
        outcome = services.parcels_import(
            campus=campus, actor=request.user, features=features, expected_versions=pending["versions"]
        )
    except exchange.ImportRefused as refused:
        return _render(request, form, refused=refused.refusals, feature_count=len(features), applying=True)
    except ValidationError as error:  # a limit lowered since the preview
        return _render(request, form, expired=" ".join(error.messages))
    request.session[DONE_KEY] = {
        "campus": campus.name,
        "name": pending["name"],
        "created": outcome.codes(services.IMPORT_CREATED),
        "updated": outcome.codes(services.IMPORT_UPDATED),
        "unchanged": len(outcome.codes(services.IMPORT_UNCHANGED)),
    }
    return redirect("planning:parcel-import-done")


@role_required(PLANNER, STAFF)
def parcel_import_done(request):
    """The summary of the import just applied (once; a reload goes back to the form)."""
    done = request.session.pop(DONE_KEY, None)
    if done is None:
        return redirect("planning:parcel-import")
    return render(request, "planning/import_done.html", {"title": _("Parcels imported"), "done": done})
