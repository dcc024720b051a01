"""The steps every app's services take, as small helpers: optimistic locking, applying a change set, saving and
deleting with the actor in the history row.

There is deliberately no generic "create" or "update" body: each service writes its own steps out (lock, apply,
validate, check the domain rules, save, mark readiness stale, side effects on commit), because the steps differ in
lock order and stale-marking, and five visible lines read better than a callback protocol (README, "Writes").
"""

import datetime
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _

from . import history
from .history import Change
from .models import VersionedModel

M = TypeVar("M", bound=models.Model)


class ConflictError(Exception):
    """An edit was based on a version of the row that someone else has since changed.

    Says who changed it since (`changed_by`, the last of them; `editors`, all of them), when (`changed_at`, the
    last change) and what (`changes`: each field that differs between the version the edit was based on and the
    current one), from the row's history. Without history (a row without it, or a version it never had) those are
    empty and the message says only that the row changed.
    """

    def __init__(
        self,
        *,
        current_version: int,
        expected_version: int,
        changed_by: str | None = None,
        changed_at: datetime.datetime | None = None,
        changes: Iterable[Change] = (),
        editors: Iterable[str] = (),
    ):
        self.current_version = current_version
        self.expected_version = expected_version
        self.changed_by = changed_by
        self.changed_at = changed_at
        self.changes = list(changes)
        self.editors = list(editors) or ([changed_by] if changed_by else [])
        super().__init__(self.sentence())

    def sentence(self) -> str:
        """The conflict in the reader's language: that the row changed and, when known, by whom, when and how."""
        text = _(
            "This record was changed by someone else (you edited version %(expected)s, it is now at "
            "version %(current)s)."
        ) % {"expected": self.expected_version, "current": self.current_version}
        if self.changed_at is not None:
            details = {
                "who": ", ".join(self.editors) or _("the system"),
                "when": history.when(self.changed_at),
            }
            if self.changes:
                details["what"] = "; ".join(str(change) for change in self.changes)
                text += " " + _("Changed by %(who)s at %(when)s: %(what)s.") % details
            else:
                text += " " + _("Changed by %(who)s at %(when)s.") % details
        return text + " " + _("Reload it and apply your change again.")

    def as_dict(self) -> dict:
        """The 409 body's details (core.api): who, when (ISO 8601) and what changed."""
        return {
            "changed_by": self.changed_by,
            "changed_at": self.changed_at.isoformat() if self.changed_at else None,
            "changes": [change.as_dict() for change in self.changes],
        }


def conflict_error(row: VersionedModel, *, expected_version: int) -> ConflictError:
    """The conflict of an edit based on `expected_version` of `row` (read fresh), explained from its history."""
    plain = ConflictError(current_version=row.version, expected_version=expected_version)
    records = getattr(row, "history", None)
    if records is None or expected_version > row.version:
        return plain
    rows = list(
        records.filter(version__gte=expected_version).select_related("history_user").order_by("history_date", "pk")
    )
    base = [record for record in rows if record.version == expected_version]
    later = [record for record in rows if record.version > expected_version]
    if not base or not later:
        return plain
    editors = list(dict.fromkeys(history.person(record.history_user) or _("the system") for record in later))
    last = later[-1]
    return ConflictError(
        current_version=row.version,
        expected_version=expected_version,
        changed_by=history.person(last.history_user) or None,
        changed_at=last.history_date,
        changes=history.changes_between(base[-1], last, model=type(row), names={}),
        editors=editors,
    )


def lock_for_update(instance: M, *, expected_version: int | None = None) -> M:
    """Re-read `instance` with a row lock inside the current transaction and check its version.

    Returns the locked, fresh row. Raises ConflictError (saying who changed it since, when and what) when
    `expected_version` is given and differs, and a ValidationError when someone deleted the row meanwhile (while
    this request waited for the lock, say).
    """
    model = type(instance)
    try:
        fresh = model._default_manager.select_for_update().get(pk=instance.pk)
    except model.DoesNotExist:
        raise ValidationError(
            _("This %(kind)s (%(label)s) has been deleted in the meantime; reload the page.")
            % {"kind": model._meta.verbose_name, "label": instance}
        ) from None
    if expected_version is not None and isinstance(fresh, VersionedModel) and fresh.version != expected_version:
        raise conflict_error(fresh, expected_version=expected_version)
    return fresh


def apply_changes(instance: models.Model, changes: Mapping[str, Any], *, editable: Iterable[str]) -> list[str]:
    """Set the given fields on `instance` and return the names of those whose value actually changed.

    A field outside `editable` is refused, so a caller cannot slip in a computed or protected field.
    """
    editable = set(editable)
    unknown = sorted(set(changes) - editable)
    if unknown:
        raise ValidationError({name: _("This field cannot be changed here.") for name in unknown})
    changed = []
    for name, value in changes.items():
        field = instance._meta.get_field(name)
        attname = field.attname if field.is_relation else name
        current = getattr(instance, attname)
        new = value.pk if field.is_relation and isinstance(value, models.Model) else value
        if current != new:
            setattr(instance, name, value)
            changed.append(name)
    return changed


def save_audited(instance: M, *, actor, update_fields: list[str] | None = None, reason: str = "") -> M:
    """Save with the actor recorded in the history row; bump the edit version on updates.

    `update_fields=None` means an insert. An update with nothing changed writes nothing.
    """
    instance._history_user = actor
    if reason:
        instance._change_reason = reason
    if update_fields is None:
        instance.save()
        return instance
    if not update_fields:
        return instance
    fields = set(update_fields) | {"updated"}
    if isinstance(instance, VersionedModel):
        instance.version += 1
        fields.add("version")
    instance.save(update_fields=sorted(fields))
    return instance


def delete_audited(instance: models.Model, *, actor, reason: str = "") -> None:
    """Delete with the actor (and a reason, if given) recorded in the history row."""
    instance._history_user = actor
    if reason:
        instance._change_reason = reason
    instance.delete()
