"""Forms of the delivery schedule (`planning.views.schedule`): an item's dates, a new item, a dependency's lag, a new
dependency.

As the workspace's other forms (`planning.forms`), they turn the request into typed values and leave every rule of
the schedule to `planning.services`, whose refusals the views put back beside the fields. One rule is the form's
own: a change that moves the schedule (a date, a duration, a lag) needs a short reason, which the service keeps in
the history (at most 100 characters, the history's column).
"""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxValueValidator
from django.utils.translation import gettext_lazy as _

from core.templatetags.units import grouped

from . import services
from .forms import DATE, ServiceForm, VersionedFormMixin
from .models import ScheduleDependency, ScheduleItem

REASON_MAX_LENGTH = 100
# Far beyond any real activity; the engine's dates must stay inside the calendar.
MAX_DURATION_DAYS = 36_500
ITEM_LABELS = {
    "kind": _("Kind"),
    "category": _("Category"),
    "title": _("Title"),
    "duration_days": _("Duration (days)"),
    "baseline_start": _("Baseline start"),
    "baseline_finish": _("Baseline finish"),
    "start_not_before": _("Start not before"),
    "actual_start": _("Actual start"),
    "actual_finish": _("Actual finish"),
    "responsible": _("Responsible party"),
}
ITEM_HELP = {
    "title": _("Blank: named by its category. Needed for “Other”."),
    "start_not_before": _("The earliest day it can start, whatever its predecessors."),
    "actual_start": _("Once it has started; not after today."),
    "actual_finish": _("Once it is done; not after today."),
}
DATE_WIDGETS = {name: DATE for name in services.SCHEDULE_DATE_FIELDS if name != "duration_days"}
# The database's rules over several fields (named constraints) refuse with a message that belongs beside a field.
CONSTRAINT_FIELDS = {
    "schedule_baseline_order": "baseline_finish",
    "schedule_actual_order": "actual_finish",
    "schedule_duration_by_kind": "duration_days",
    "schedule_other_has_title": "title",
    "schedule_category_matches_kind": "category",
    "schedule_milestone_unique_in_phase": "category",
    "schedule_dependency_unique": "predecessor",
    "schedule_dependency_not_itself": "predecessor",
    "schedule_dependency_lag_range": "lag_days",
}


def _days(minimum: int | None = None) -> forms.NumberInput:
    attrs = {"step": "1", "inputmode": "numeric"}
    if minimum is not None:
        attrs["min"] = str(minimum)
    return forms.NumberInput(attrs=attrs)


class ScheduleServiceForm(ServiceForm):
    """A schedule form: the service's refusals beside their fields, including those of the database's rules over
    several fields, and the reason a change of the schedule needs (`reason_for`: the fields whose change asks one)."""

    reason_for: tuple[str, ...] = ()
    # A refusal about a field the form does not show, shown beside the one that stands for it (a milestone's one
    # date stands for its start and its finish).
    field_aliases: dict[str, str] = {}

    reason = forms.CharField(
        label=_("Reason for the change"),
        max_length=REASON_MAX_LENGTH,
        required=False,
        help_text=_("Needed when a date or the duration changes; kept in the history (100 characters at most)."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        duration = self.fields.get("duration_days")
        if duration is not None:
            duration.max_value = MAX_DURATION_DAYS
            duration.validators.append(
                MaxValueValidator(
                    MAX_DURATION_DAYS,
                    message=_("At most %(days)s days (a hundred years).") % {"days": grouped(MAX_DURATION_DAYS)},
                )
            )
            duration.widget.attrs["max"] = str(MAX_DURATION_DAYS)

    def clean(self):
        cleaned = super().clean()
        moved = [name for name in self.changed_data if name in self.reason_for]
        if moved and not (cleaned.get("reason") or "").strip() and "reason" not in self.errors:
            self.add_error("reason", _("Say in a few words why the schedule changes: it is kept in the history."))
        return cleaned

    @property
    def schedule_changed(self) -> bool:
        """Whether the form changes a date, a duration or a lag (what the reason is asked for)."""
        return any(name in self.reason_for for name in self.changed_data)

    def reason_value(self) -> str:
        return (self.cleaned_data.get("reason") or "").strip()

    def add_service_errors(self, error: ValidationError) -> None:
        if not hasattr(error, "error_dict"):
            return super().add_service_errors(error)
        targets = self._constraint_targets()
        moved: dict[str, list] = {}
        for name, messages in error.message_dict.items():
            for message in messages:
                target = self.field_aliases.get(name, name)
                if name == NON_FIELD_ERRORS:
                    target = targets.get(str(message), NON_FIELD_ERRORS)
                if target != NON_FIELD_ERRORS and target not in self.fields:
                    target = NON_FIELD_ERRORS
                moved.setdefault(target, []).append(message)
        return super().add_service_errors(ValidationError(moved))

    def _constraint_targets(self) -> dict[str, str]:
        targets = {}
        for constraint in self._meta.model._meta.constraints:
            name = CONSTRAINT_FIELDS.get(constraint.name)
            if name is not None:
                targets[str(constraint.get_violation_error_message())] = self.field_aliases.get(name, name)
        return targets


class ActivityForm(VersionedFormMixin, ScheduleServiceForm):
    """An activity's title, duration, dates and responsible party, edited with the version it was based on."""

    reason_for = services.SCHEDULE_DATE_FIELDS

    class Meta:
        model = ScheduleItem
        fields = (
            "duration_days",
            "start_not_before",
            "baseline_start",
            "baseline_finish",
            "actual_start",
            "actual_finish",
            "title",
            "responsible",
        )
        labels = ITEM_LABELS
        help_texts = {**ITEM_HELP, "duration_days": _("At least 1 day.")}
        widgets = {**DATE_WIDGETS, "duration_days": _days(1)}

    def __init__(self, *args, instance: ScheduleItem, **kwargs):
        super().__init__(*args, instance=instance, **kwargs)
        self.initial.setdefault("version", instance.version)


class MilestoneForm(VersionedFormMixin, ScheduleServiceForm):
    """A milestone happens on one day: one baseline date and one actual date (the service sets the finish to the
    start), its "not before" date, its title and who is responsible for it."""

    reason_for = services.SCHEDULE_DATE_FIELDS
    field_aliases = {"baseline_finish": "baseline_start", "actual_finish": "actual_start"}

    class Meta:
        model = ScheduleItem
        fields = ("start_not_before", "baseline_start", "actual_start", "title", "responsible")
        labels = {**ITEM_LABELS, "baseline_start": _("Baseline date"), "actual_start": _("Actual date")}
        help_texts = {**ITEM_HELP, "actual_start": _("Once it has happened; not after today.")}
        widgets = DATE_WIDGETS

    def __init__(self, *args, instance: ScheduleItem, **kwargs):
        super().__init__(*args, instance=instance, **kwargs)
        self.initial.setdefault("version", instance.version)


def item_form_class(item: ScheduleItem) -> type[ScheduleServiceForm]:
    return MilestoneForm if item.is_milestone else ActivityForm


# The fields each item form shows (and `reload_form` compares with the saved row).
ITEM_FORM_FIELDS = {ActivityForm: ActivityForm._meta.fields, MilestoneForm: MilestoneForm._meta.fields}


def _category_choices() -> list:
    labels = dict(ScheduleItem.Category.choices)
    return [
        ("", "---------"),
        (_("Milestones"), [(value, labels[value]) for value in ScheduleItem.MILESTONE_CATEGORIES]),
        (_("Activities"), [(value, labels[value]) for value in ScheduleItem.ACTIVITY_CATEGORIES]),
        (_("Either kind"), [(ScheduleItem.Category.OTHER, labels[ScheduleItem.Category.OTHER])]),
    ]


class ScheduleItemCreateForm(ScheduleServiceForm):
    """A new item of a phase (the phase is the view's). A milestone lasts 0 days: its duration may be left blank."""

    class Meta:
        model = ScheduleItem
        fields = (
            "kind",
            "category",
            "title",
            "responsible",
            "duration_days",
            "baseline_start",
            "baseline_finish",
            "start_not_before",
        )
        labels = ITEM_LABELS
        help_texts = {
            **ITEM_HELP,
            "duration_days": _("At least 1 day for an activity; blank or 0 for a milestone."),
            "baseline_finish": _("Blank: the start plus the duration."),
        }
        widgets = {**DATE_WIDGETS, "duration_days": _days(0)}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = _category_choices()
        self.fields["duration_days"].required = False
        self.fields["reason"].label = _("Reason (optional)")
        self.fields["reason"].help_text = _("Why it is added; kept in the history.")

    def service_values(self) -> dict:
        values = super().service_values()
        if values.get("duration_days") is None:
            values["duration_days"] = 0
        return values


class PredecessorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, item: ScheduleItem) -> str:
        return item.name


class DependencyLagForm(VersionedFormMixin, ScheduleServiceForm):
    """The lag of one dependency: days between the predecessor's finish and the successor's start."""

    reason_for = ("lag_days",)

    class Meta:
        model = ScheduleDependency
        fields = ("lag_days",)
        labels = {"lag_days": _("Lag (days)")}
        help_texts = {"lag_days": _("Negative: it may start before the predecessor finishes.")}
        widgets = {"lag_days": _days()}

    def __init__(self, *args, instance: ScheduleDependency, **kwargs):
        super().__init__(*args, instance=instance, **kwargs)
        self.initial.setdefault("version", instance.version)
        self.fields["reason"].label = _("Why the lag changes")
        self.fields["reason"].help_text = _("Needed for a new lag; kept in the history.")


class DependencyCreateForm(ScheduleServiceForm):
    """A new predecessor of an item (the successor is the view's): one of the other items of its phase."""

    class Meta:
        model = ScheduleDependency
        fields = ("predecessor", "lag_days")
        labels = {"predecessor": _("Starts after"), "lag_days": _("Lag (days)")}
        help_texts = {"lag_days": _("Days after its finish; negative: before it.")}
        widgets = {"lag_days": _days()}
        field_classes = {"predecessor": PredecessorChoiceField}

    def __init__(self, *args, successor: ScheduleItem, **kwargs):
        super().__init__(*args, **kwargs)
        self.successor = successor
        taken = successor.predecessor_links.values("predecessor_id")
        self.fields["predecessor"].queryset = (
            ScheduleItem.objects.filter(phase_id=successor.phase_id)
            .exclude(pk=successor.pk)
            .exclude(pk__in=taken)
            .order_by("forecast_start", "forecast_finish", "pk")
        )
        self.fields["predecessor"].empty_label = _("Choose an item")
        self.fields["lag_days"].initial = 0
        self.fields["reason"].label = _("Reason (optional)")
        self.fields["reason"].help_text = _("Why it now waits for this item; kept in the history.")

    def service_values(self) -> dict:
        return {**super().service_values(), "successor": self.successor}
