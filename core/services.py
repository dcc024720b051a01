"""The steps every app's services take, as small helpers: optimistic locking, applying a change set, saving and
deleting with the actor in the history row.

There is deliberately no generic "create" or "update" body: each service writes its own steps out (lock, apply,
validate, check the domain rules, save, mark readiness stale, side effects on commit), because the steps differ in
lock order and stale-marking, and five visible lines read better than a callback protocol (README, "Writes").
"""

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _

from .models import VersionedModel

M = TypeVar("M", bound=models.Model)


class ConflictError(Exception):
    """An edit was based on a version of the row that someone else has since changed."""

    def __init__(self, *, current_version: int, expected_version: int):
        self.current_version = current_version
        self.expected_version = expected_version
        super().__init__(
            _(
                "This record was changed by someone else (you edited version %(expected)s, it is now at "
                "version %(current)s). Reload it and apply your change again."
            )
            % {"expected": expected_version, "current": current_version}
        )


def lock_for_update(instance: M, *, expected_version: int | None = None) -> M:
    """Re-read `instance` with a row lock inside the current transaction and check its version.

    Returns the locked, fresh row. Raises ConflictError when `expected_version` is given and differs.
    """
    fresh = type(instance)._default_manager.select_for_update().get(pk=instance.pk)
    if expected_version is not None and isinstance(fresh, VersionedModel) and fresh.version != expected_version:
        raise ConflictError(current_version=fresh.version, expected_version=expected_version)
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
