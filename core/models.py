"""The abstract base every domain model inherits: creation and update times, an edit version, and the dates check.

Every date a person enters must be plausible (settings.DATE_EARLIEST…DATE_LATEST), and a date that records what
has happened (a milestone's actual date, an MoU's signed date) cannot be after today. The check is part of
`clean_fields`, so every path that validates a row — the services' `full_clean`, admin forms, portal forms — refuses
such a date on its field.
"""

import datetime

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _


class TimeStampedModel(models.Model):
    """`created`/`updated` on every row, and the plausibility of its dates.

    A model names in `past_date_fields` the date fields that record something that has happened; a model whose
    rule depends on the row (an allocation's start once it is occupied) overrides `recorded_date_fields()`.
    """

    created = models.DateTimeField(gettext_lazy("created"), auto_now_add=True)
    updated = models.DateTimeField(gettext_lazy("updated"), auto_now=True)

    past_date_fields: tuple[str, ...] = ()

    class Meta:
        abstract = True

    def recorded_date_fields(self) -> tuple[str, ...]:
        """The date fields of this row that cannot be after today."""
        return self.past_date_fields

    def clean_fields(self, exclude=None):
        errors = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        exclude = set(exclude or ())
        earliest, latest = settings.DATE_EARLIEST, settings.DATE_LATEST
        recorded = set(self.recorded_date_fields())
        today = timezone.localdate()
        for field in self._meta.concrete_fields:
            # DateTimeField is a DateField too; the row's own timestamps are set by the system.
            if not isinstance(field, models.DateField) or isinstance(field, models.DateTimeField):
                continue
            if field.name in exclude or field.name in errors:
                continue
            value = getattr(self, field.attname)
            if not isinstance(value, datetime.date):
                continue
            label = capfirst(field.verbose_name)
            if not earliest <= value <= latest:
                message = _("%(field)s must be between %(earliest)s and %(latest)s.") % {
                    "field": label,
                    "earliest": formats.date_format(earliest),
                    "latest": formats.date_format(latest),
                }
                errors[field.name] = [ValidationError(message, code="date_out_of_range")]
            elif field.name in recorded and value > today:
                message = _("%(field)s records what has happened, so it cannot be after today (%(today)s).") % {
                    "field": label,
                    "today": formats.date_format(today),
                }
                errors[field.name] = [ValidationError(message, code="date_in_future")]
        if errors:
            raise ValidationError(errors)

    def validate_constraints(self, exclude=None):
        """Django reports a check constraint's refusal for the whole row; one whose condition looks at a single
        field (GFA more than 0, say) is reported on that field instead, so a form shows it beside the field and the
        API keys its 400 by it, like every other refusal of one value; so is a constraint the model names in its
        `constraint_fields` (`named_constraint_fields`)."""
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as error:
            on_fields = one_field_constraints(type(self)) | named_constraint_fields(type(self))
            errors: dict[str, list[ValidationError]] = {}
            for field, messages in error.error_dict.items():
                for message in messages:
                    target = on_fields.get(" ".join(message)) if field == NON_FIELD_ERRORS else None
                    errors.setdefault(target or field, []).append(message)
            raise ValidationError(errors) from None


def named_constraint_fields(model) -> dict[str, str]:
    """The violation message of each constraint the model names in `constraint_fields` (constraint name → field):
    a rule on two fields (an activity lasts at least a day) refused on the one a person changes to satisfy it."""
    names = getattr(model, "constraint_fields", {})
    return {
        str(constraint.get_violation_error_message()): names[constraint.name]
        for constraint in model._meta.constraints
        if constraint.name in names
    }


def one_field_constraints(model) -> dict[str, str]:
    """The violation message of each of the model's check constraints on a single editable field, and that field.

    A constraint on a field the system derives (a parcel's computed area) stays on the row: nobody edits that field,
    so no form or request has a place to show the message beside it."""
    fields = {}
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.CheckConstraint) and isinstance(constraint.condition, models.Q):
            names = constraint.condition.referenced_base_fields
            if len(names) == 1:
                [name] = names
                if model._meta.get_field(name).editable:
                    fields[str(constraint.get_violation_error_message())] = name
    return fields


class VersionedModel(TimeStampedModel):
    """A row that people edit concurrently.

    `version` goes up by one on every saved change; an edit that names the version it was based on is refused
    with a conflict when someone else saved in between (see `core.services.lock_for_update`).
    """

    version = models.PositiveIntegerField(gettext_lazy("version"), default=1, editable=False)

    class Meta:
        abstract = True


class BilingualNameMixin(models.Model):
    """Names stored in English and Traditional Chinese; `name` picks the one for the active language."""

    name_en = models.CharField(gettext_lazy("name (English)"), max_length=200)
    name_zh = models.CharField(gettext_lazy("name (Chinese)"), max_length=200, blank=True)

    class Meta:
        abstract = True

    @property
    def name(self) -> str:
        if (get_language() or "").lower().startswith("zh") and self.name_zh:
            return self.name_zh
        return self.name_en
