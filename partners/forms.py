"""Forms of the partner portal: an expression of interest, an attachment, an invitation and its acceptance.

Forms turn the request into typed values; the rules are the model's (its constraints, checked by the ModelForm as
by the services' `full_clean`) and `partners.services`' (between fields, and the workflow), whose errors the views
put back on these forms. The EOI form's fields are the services' own list (`services.EOI_FIELDS`).
"""

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import F
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from planning.models import FacilityType, Parcel, Phase

from .models import ExpressionOfInterest, Membership
from .services import EOI_FIELDS
from .uploads import ALLOWED

ACCEPT = ",".join(sorted({".jpeg", *(extension for extension, _label in ALLOWED.values())}))


def add_service_errors(form: forms.BaseForm, error: ValidationError, *, keep_existing: bool = False) -> None:
    """Put a service's ValidationError on the form: each message on its field, the rest on the whole form.

    With `keep_existing`, a field that already has the form's own error keeps only that one (the service saw a
    value the form had already refused).
    """
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for name, messages in error.message_dict.items():
        target = name if name in form.fields and name != NON_FIELD_ERRORS else None
        if target is not None and target in form.errors:
            if keep_existing:
                continue
            messages = [message for message in messages if message not in form.errors[target]]
        else:
            existing = form.errors.get(NON_FIELD_ERRORS, []) if target is None else []
            messages = [message for message in messages if message not in existing]
        if messages:
            form.add_error(target, messages)


class PhaseChoiceField(forms.ModelChoiceField):
    several_campuses = False

    def label_from_instance(self, phase: Phase) -> str:
        return f"{phase.campus.name} · {phase.name}" if self.several_campuses else phase.name


def _parcel_groups(parcels, *, several_campuses: bool) -> list[tuple[str, list]]:
    """Parcels grouped by phase (reserve land last); each option also names its phase, for a closed select."""
    groups: dict[str, list] = {}
    for parcel in parcels:
        phase = parcel.phase.name if parcel.phase else _("reserve land")
        group = f"{parcel.campus.name} · {phase}" if several_campuses else str(phase)
        groups.setdefault(group, []).append((parcel.pk, f"{parcel.code} ({phase})"))
    return list(groups.items())


def _pk_or_none(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class EOIForm(forms.ModelForm):
    """An EOI's content. The choices are what the user may see; `validate_url` makes each field check itself on
    change through htmx (the enclosing form's values go with it)."""

    preferred_phase = PhaseChoiceField(
        queryset=Phase.objects.none(),
        required=False,
        label=_("Preferred phase"),
        help_text=_("Choose a phase, a parcel, or both: a draft may leave them empty, a submitted EOI needs one."),
    )

    class Meta:
        model = ExpressionOfInterest
        fields = EOI_FIELDS
        labels = {
            "facility_type": _("Facility type"),
            "preferred_parcel": _("Preferred parcel"),
            "gfa_m2": _("GFA (m²)"),
            "capacity": _("Capacity"),
            "jobs": _("Jobs created"),
            "investment_hkd_m": _("Investment (HKD million)"),
            "wanted_start": _("Wanted start date"),
            "description": _("Description"),
            "language": _("Language of this EOI"),
        }
        help_texts = {
            "preferred_parcel": _(
                "The list shows the parcels of the chosen phase. A parcel must be in the preferred phase, if you "
                "choose both."
            ),
            "gfa_m2": _("Gross floor area. Give the GFA, the capacity, or both."),
            "capacity": "",
            "description": _("What you plan to do there, and why on this campus."),
            "language": _("The language in which HKSTP writes to you about this EOI."),
        }
        widgets = {
            "wanted_start": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "description": forms.Textarea(attrs={"rows": 6}),
        }

    def __init__(self, *args, user, validate_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        phases = list(Phase.objects.restrict(user).select_related("campus").order_by("campus__code", "number"))
        several_campuses = len({phase.campus_id for phase in phases}) > 1

        facility_type = self.fields["facility_type"]
        facility_type.queryset = FacilityType.objects.restrict(user).order_by("name_en")

        phase = self.fields["preferred_phase"]
        phase.queryset = Phase.objects.restrict(user).select_related("campus").order_by("campus__code", "number")
        phase.several_campuses = several_campuses

        parcel = self.fields["preferred_parcel"]
        parcels = (
            Parcel.objects.restrict(user)
            .select_related("campus", "phase")
            .order_by("campus__code", F("phase__number").asc(nulls_last=True), "code")
        )
        # Every parcel the user may see stays valid (a parcel outside the phase gets the service's clear message);
        # the list only offers the chosen phase's.
        parcel.queryset = parcels
        self._parcels = list(parcels)
        self._several_campuses = several_campuses
        self.narrow_parcels()

        self.fields["gfa_m2"].widget.attrs.update({"min": "0.01", "step": "0.01", "inputmode": "decimal"})
        self.fields["capacity"].widget.attrs.update({"min": "0.01", "step": "0.01", "inputmode": "decimal"})
        self.fields["investment_hkd_m"].widget.attrs.update({"min": "0", "step": "0.1", "inputmode": "decimal"})
        self.fields["jobs"].widget.attrs.update({"min": "0"})
        if not self.is_bound and self.instance.pk is None:
            self.initial.setdefault(
                "language",
                ExpressionOfInterest.Language.ZH_HANT if (get_language() or "").startswith("zh") else "en",
            )
        if validate_url:
            for field in self.fields.values():
                field.widget.attrs["hx-post"] = validate_url
                # A newer check replaces one still running, so a late answer never overwrites a fresher one.
                field.widget.attrs["hx-sync"] = "closest form:replace"

    def narrow_parcels(self) -> None:
        """Offer the parcels of the chosen phase (all, when no phase is chosen), plus the chosen parcel, so that a
        parcel outside the phase is reported rather than silently dropped from the form."""
        phase_id = _pk_or_none(self["preferred_phase"].value())
        chosen = _pk_or_none(self["preferred_parcel"].value())
        shown = [p for p in self._parcels if phase_id is None or p.phase_id == phase_id or p.pk == chosen]
        self.parcel_groups = _parcel_groups(shown, several_campuses=self._several_campuses)
        self.fields["preferred_parcel"].choices = [("", "---------"), *self.parcel_groups]

    def chosen_facility_type(self) -> FacilityType | None:
        """The facility type the form holds now (submitted or saved), to name the capacity unit."""
        value = self["facility_type"].value()
        if not value:
            return None
        try:
            return self.fields["facility_type"].queryset.filter(pk=value).first()
        except (TypeError, ValueError, ValidationError):
            return None

    def service_values(self) -> dict:
        """The cleaned values the services take (only the fields that cleaned without error)."""
        return {name: self.cleaned_data[name] for name in EOI_FIELDS if name in self.cleaned_data}


class AttachmentForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("PDF, DOCX, XLSX, PNG or JPEG, at most 10 MB. We check the content, not the name."),
        # A hint for the file picker only; the content decides (partners.uploads).
        widget=forms.FileInput(attrs={"accept": ACCEPT}),
    )


class TransitionForm(forms.Form):
    """The confirmation of a partner's workflow step, with its note (required where the step requires one)."""

    note = forms.CharField(
        label=_("Reason (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Shown in the EOI's status history."),
    )

    def __init__(self, *args, note_required: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if note_required:
            self.fields["note"].required = True
            self.fields["note"].label = _("Reason")


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(
        label=_("Role"),
        choices=Membership.Role.choices,
        initial=Membership.Role.MEMBER,
        help_text=_("Organisation admins can also invite colleagues."),
    )


class InvitationAcceptForm(forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        help_text=_("Letters, digits and @ . + - _ only. You sign in with it."),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    full_name = forms.CharField(
        label=_("Full name"), max_length=150, required=False, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_confirm = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Enter the same password again, to check it."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password"].help_text = " ".join(
            str(text) for text in password_validation.password_validators_help_texts()
        )

    def clean(self):
        cleaned = super().clean()
        password, again = cleaned.get("password"), cleaned.get("password_confirm")
        if password and again and password != again:
            self.add_error("password_confirm", _("The two passwords differ."))
        return cleaned
