"""Forms of the planner's workspace: a parcel's attributes, a new parcel, a facility of the programme.

Forms turn the request into typed values and check what one field can check (a number is a number, a choice is
one of the choices); every rule of the plan stays in `planning.services`, whose refusals the views put back on
these forms (`add_service_errors`). So these are model forms that never validate or change their instance
themselves: the view hands `service_values()` to the service. Each edit form carries the `version` of the row it
was based on.
"""

import json

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _

from core.templatetags.units import grouped
from core.units import fmt_ratio

from . import services
from .models import Campus, Facility, FacilityType, Parcel, Phase

# The parcel's attributes the panel edits, in the order a planner reads them (all among services.PARCEL_FIELDS).
ATTRIBUTE_FIELDS = (
    "code",
    "lot_ref",
    "phase",
    "zoning",
    "max_plot_ratio",
    "max_site_coverage_pct",
    "max_building_height_mpd",
    "land_status",
    "handover_date",
)
# Controls a new parcel may leave blank to take its campus's defaults.
CONTROL_DEFAULTS = services.CAMPUS_DEFAULTS
# A facility of the programme: the service's fields but the parcel (the panel's parcel).
FACILITY_FIELDS = tuple(name for name in services.FACILITY_FIELDS if name != "parcel")
PARCEL_LABELS = {
    "code": _("Code"),
    "lot_ref": _("Lot reference"),
    "phase": _("Phase"),
    "zoning": _("Zoning"),
    "max_plot_ratio": _("Max plot ratio"),
    "max_site_coverage_pct": _("Max site coverage (%)"),
    "max_building_height_mpd": _("Max height (mPD)"),
    "land_status": _("Land status"),
    "handover_date": _("Handover date"),
}
FACILITY_LABELS = {
    "facility_type": _("Type"),
    "name": _("Name"),
    "gfa_m2": _("GFA (m²)"),
    "capacity": _("Capacity"),
    "status": _("Status"),
    "planned_completion": _("Planned completion"),
    "delivery_model": _("Delivery model"),
}
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _number(step: str) -> forms.NumberInput:
    return forms.NumberInput(attrs={"step": step, "min": "0", "inputmode": "decimal"})


PARCEL_WIDGETS = {
    "max_plot_ratio": _number("0.01"),
    "max_site_coverage_pct": _number("0.01"),
    "max_building_height_mpd": _number("0.1"),
    "handover_date": DATE,
}


class PhaseChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, phase: Phase) -> str:
        return phase.name  # in the reader's language where both names are stored


class FacilityTypeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, facility_type: FacilityType) -> str:
        return facility_type.name


class ServiceForm(forms.ModelForm):
    """A model form whose cleaned values are a service's keyword arguments, and which shows the service's refusals.

    It never builds or validates its instance (`_post_clean` is the service's job: `full_clean` and the plan's
    rules). `validate_url`, when given, makes each field check itself as it is typed: htmx posts the whole form
    there (a dry run of the same service, saving nothing) and swaps the answers in beside the fields.
    """

    def __init__(self, *args, validate_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if validate_url:
            for field in self.fields.values():
                if field.widget.is_hidden:
                    continue
                field.widget.attrs.update(
                    {
                        "hx-post": validate_url,
                        "hx-trigger": "input changed delay:400ms",
                        "hx-swap": "none",
                        # A newer check replaces one still running, so a late answer never overwrites a fresher one.
                        "hx-sync": "closest form:replace",
                    }
                )

    def _post_clean(self) -> None:
        pass

    def service_values(self) -> dict:
        """The cleaned values the service takes (only fields that cleaned without error; never the version)."""
        return {name: self.cleaned_data[name] for name in self._meta.fields if name in self.cleaned_data}

    def add_service_errors(self, error: ValidationError) -> None:
        """Put a service's refusal on the form: each message on its field, the rest on the form as a whole.

        A field that already has the form's own error keeps only that one (the service saw a value the form had
        already refused, or none at all).
        """
        items = error.message_dict.items() if hasattr(error, "error_dict") else [(NON_FIELD_ERRORS, error.messages)]
        for name, messages in items:
            target = name if name in self.fields and name != NON_FIELD_ERRORS else None
            if target is not None and target in self.errors:
                continue
            existing = self.errors.get(target or NON_FIELD_ERRORS, [])
            messages = [message for message in messages if message not in existing]
            if messages:
                self.add_error(target, messages)

    def focus(self) -> "ServiceForm":
        """Put the focus, when the form is swapped in, on the first field with an error, else the first field."""
        shown = [bound for bound in self if not bound.is_hidden]
        target = next((bound for bound in shown if bound.errors), shown[0] if shown else None)
        if target is not None:
            target.field.widget.attrs["autofocus"] = True
        return self

    def shown_fields(self) -> list:
        """The visible fields, in order (the template lays them out; hidden ones go in the form's head)."""
        return [field for field in self if not field.is_hidden]


class VersionedFormMixin(forms.Form):
    """An edit of a row that exists: the version it was based on goes back with it (no lost update)."""

    version = forms.IntegerField(
        widget=forms.HiddenInput,
        min_value=1,
        error_messages={"required": _("This form does not say which version it was based on; reload it.")},
    )

    def set_version(self, version: int) -> None:
        self.initial["version"] = version


class ParcelAttributesForm(VersionedFormMixin, ServiceForm):
    """A parcel's attributes, edited in place in the panel. The phase is one of its campus's, or none (reserve)."""

    class Meta:
        model = Parcel
        fields = ATTRIBUTE_FIELDS
        labels = PARCEL_LABELS
        widgets = PARCEL_WIDGETS
        field_classes = {"phase": PhaseChoiceField}

    def __init__(self, *args, instance: Parcel, **kwargs):
        super().__init__(*args, instance=instance, **kwargs)
        self.initial.setdefault("version", instance.version)
        _phases_of(self, instance.campus)


def _phases_of(form: forms.BaseForm, campus: Campus | None) -> None:
    phase = form.fields["phase"]
    phases = Phase.objects.order_by("campus__code", "number")
    phase.queryset = phases.filter(campus=campus) if campus is not None else phases
    phase.empty_label = _("Reserve (no phase)")
    phase.help_text = ""


class GeometryField(forms.CharField):
    """The drawn polygon as GeoJSON text (the map fills the hidden field); its rules are the services'."""

    widget = forms.HiddenInput

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            geometry = json.loads(value)
        except ValueError:
            raise ValidationError(_("The drawn shape could not be read: it is not GeoJSON.")) from None
        if not isinstance(geometry, dict):
            raise ValidationError(_("The drawn shape could not be read: it is not a GeoJSON Polygon."))
        return geometry


class ParcelCreateForm(ServiceForm):
    """A new parcel drawn on the map: the controls left blank take the campus's defaults."""

    geometry = GeometryField(
        error_messages={"required": _("Draw the parcel on the map first: it has no shape yet.")},
    )

    class Meta:
        model = Parcel
        fields = ("geometry", *ATTRIBUTE_FIELDS)
        labels = PARCEL_LABELS
        widgets = PARCEL_WIDGETS
        field_classes = {"phase": PhaseChoiceField}

    def __init__(self, *args, campus: Campus, **kwargs):
        super().__init__(*args, **kwargs)
        self.campus = campus
        _phases_of(self, campus)
        self.fields["land_status"].initial = Parcel.LandStatus.NOT_TRANSFERRED
        for name, default in CONTROL_DEFAULTS.items():
            field = self.fields[name]
            field.required = False
            value = getattr(campus, default)
            if name == "max_plot_ratio":
                value = fmt_ratio(value)
            elif name != "zoning":
                value = grouped(value, 2)
            field.help_text = _("Blank: the campus default, %(value)s.") % {"value": value}

    def service_values(self) -> dict:
        values = super().service_values()
        for name in CONTROL_DEFAULTS:
            if values.get(name) in ("", None):
                values[name] = None  # the service takes the campus default
        return values


class FacilityForm(VersionedFormMixin, ServiceForm):
    """A facility of a parcel's programme. A new facility has no version yet (`version` not required)."""

    class Meta:
        model = Facility
        fields = FACILITY_FIELDS
        labels = FACILITY_LABELS
        widgets = {
            "gfa_m2": _number("0.01"),
            "capacity": _number("0.01"),
            "planned_completion": DATE,
        }
        field_classes = {"facility_type": FacilityTypeChoiceField}
        help_texts = {"capacity": ""}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            self.fields["version"].required = False
        else:
            self.initial.setdefault("version", self.instance.version)
        self.fields["facility_type"].queryset = FacilityType.objects.order_by("code")

    def chosen_type(self) -> FacilityType | None:
        """The facility type the form holds now (typed or saved), to name the capacity unit."""
        value = self["facility_type"].value()
        if not value:
            return None
        try:
            return next((t for t in self.fields["facility_type"].queryset if str(t.pk) == str(value)), None)
        except (TypeError, ValueError):
            return None
