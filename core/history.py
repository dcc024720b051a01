"""What changed between two history rows (django-simple-history), in words a person reads.

Used where a change is explained: the conflict an edit on a stale version answers (who changed the row since, when,
and what), and the history shown beside a record. Values are shown as the pages show them: numbers grouped in the
reader's language, choices by their label, related rows by their name, dates per the language's format.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import models
from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from .templatetags.units import grouped

# The bookkeeping every row has: never a change a person made.
BOOKKEEPING = frozenset({"id", "created", "updated", "version"})
EMPTY = "—"


@dataclass(frozen=True)
class Change:
    """One field's change, for display: its label and the old and new values as text ("" for a shape)."""

    field: str
    old: str
    new: str

    def as_dict(self) -> dict:
        return {"field": self.field, "old": self.old, "new": self.new}

    def __str__(self) -> str:
        if not self.old and not self.new:
            return _("%(field)s changed") % {"field": self.field}
        return _("%(field)s %(old)s → %(new)s") % {"field": self.field, "old": self.old, "new": self.new}


def person(user) -> str:
    """How a person is named in a change: their full name, else their username; "" for the system."""
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def display_value(field: models.Field, value, *, names: dict | None = None) -> str:
    """A stored value as the pages show it. `names` caches related rows' names by (model, pk)."""
    if value is None or value == "":
        return EMPTY
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if field.is_relation:
        key = (field.related_model, value)
        if names is not None and key in names:
            return names[key]
        row = field.related_model._default_manager.filter(pk=value).first()
        text = str(row) if row is not None else f"#{value}"
        if names is not None:
            names[key] = text
        return text
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, Decimal | int | float):
        return grouped(value, getattr(field, "decimal_places", 0) or 0)
    if isinstance(value, datetime.datetime):
        return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")
    if isinstance(value, datetime.date):
        return formats.date_format(value)
    if isinstance(value, dict | list):
        return ""  # a shape or a structure: said to have changed, not printed
    return str(value)


def tracked_fields(model: type[models.Model], history_model: type[models.Model]) -> list[models.Field]:
    """The model's own fields that its history rows record, in the model's order, bookkeeping left out."""
    recorded = {field.attname for field in history_model._meta.concrete_fields}
    return [
        field
        for field in model._meta.concrete_fields
        if field.name not in BOOKKEEPING and field.attname in recorded and not field.primary_key
    ]


def changes_between(old, new, *, model: type[models.Model], names: dict | None = None) -> list[Change]:
    """The fields whose values differ between two history rows (or rows) of `model`, old → new."""
    changes = []
    for field in tracked_fields(model, type(new)):
        before, after = getattr(old, field.attname), getattr(new, field.attname)
        if before != after:
            changes.append(
                Change(
                    field=str(capfirst(field.verbose_name)),
                    old=display_value(field, before, names=names),
                    new=display_value(field, after, names=names),
                )
            )
    return changes


def when(moment: datetime.datetime) -> str:
    """A moment of a change in the site's time zone, in the reader's format: "1 Dec 2026, 15:04"."""
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")
