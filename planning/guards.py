"""Guards: rules other apps hold on planning rows, asked before a row is shrunk, moved or deleted.

Planning owns campuses, phases, parcels, facilities, facility types and utility capacity, but other apps build on
them: tenants allocate space in facilities, partners make commitments on parcels and ask for facility types in
EOIs. Planning must not import those apps, so they plug their rules in here, on the pattern of the readiness
criteria registry (`planning.readiness`):

* each app calls `register(name, events=..., check=...)` from its `AppConfig.ready()` (an explicit call, not an
  import side effect); a name registered twice is an `ImproperlyConfigured` error at start-up;
* planning's services call `enforce(event, row=..., old=..., new=...)` while the row is locked
  (`select_for_update`), before saving or deleting it. Every guard registered for the event gets a `Proposal`
  (the event, the locked row and the proposed change) and returns its refusals;
* `enforce` raises one `ValidationError` listing every refusal of every guard, keyed by the field it concerns.

A refusal names the rule, the rows (codes, references, names) and the numbers, so the person refused knows what
to change first. Guards read the database only; they never write.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ImproperlyConfigured, ValidationError
from django.db import models
from django.utils.translation import ngettext

# The events planning's services announce. A change event carries the changed fields only.
PHASE_CHANGE = "phase_change"
PHASE_DELETE = "phase_delete"
PARCEL_CHANGE = "parcel_change"
PARCEL_DELETE = "parcel_delete"
FACILITY_TYPE_CHANGE = "facility_type_change"
FACILITY_TYPE_DELETE = "facility_type_delete"
FACILITY_CHANGE = "facility_change"
FACILITY_DELETE = "facility_delete"
UTILITY_CHANGE = "utility_change"
UTILITY_DELETE = "utility_delete"
EVENTS = frozenset(
    {
        PHASE_CHANGE,
        PHASE_DELETE,
        PARCEL_CHANGE,
        PARCEL_DELETE,
        FACILITY_TYPE_CHANGE,
        FACILITY_TYPE_DELETE,
        FACILITY_CHANGE,
        FACILITY_DELETE,
        UTILITY_CHANGE,
        UTILITY_DELETE,
    }
)


@dataclass(frozen=True)
class Proposal:
    """What a service is about to do to a locked row.

    `row` is the locked row. For a change it already carries the proposed values in memory (not saved); `old`
    holds the values stored now and `new` the proposed ones, for the changed fields only (foreign keys as model
    instances or None). For a delete both are empty.
    """

    event: str
    row: models.Model
    old: Mapping[str, Any] = field(default_factory=dict)
    new: Mapping[str, Any] = field(default_factory=dict)

    def changes(self, name: str) -> bool:
        return name in self.new


@dataclass(frozen=True)
class Refusal:
    """One reason a guard refuses a proposal; `field` is the field it concerns (None: the row as a whole)."""

    message: str
    field: str | None = None
    guard: str = ""


@dataclass(frozen=True)
class Guard:
    name: str
    events: frozenset[str]
    check: Callable[[Proposal], Iterable[Refusal]]


REGISTRY: dict[str, Guard] = {}


def register(name: str, *, events: Iterable[str], check: Callable[[Proposal], Iterable[Refusal]]) -> Guard:
    """Add a guard (called from an app's `AppConfig.ready()`). `name` is unique, e.g. "tenants.allocations_fit"."""
    events = frozenset(events)
    if name in REGISTRY:
        raise ImproperlyConfigured(f"A planning guard named {name!r} is already registered.")
    unknown = sorted(events - EVENTS)
    if not events or unknown:
        raise ImproperlyConfigured(
            f"Guard {name!r}: unknown events {unknown or '(none given)'}; known: {sorted(EVENTS)}."
        )
    guard = Guard(name=name, events=events, check=check)
    REGISTRY[name] = guard
    return guard


def check(event: str, *, row: models.Model, old: Mapping[str, Any] | None = None, new=None) -> list[Refusal]:
    """Every refusal of the guards registered for `event`, each marked with its guard's name."""
    if event not in EVENTS:
        raise ValueError(f"Unknown guard event {event!r}")
    proposal = Proposal(event=event, row=row, old=dict(old or {}), new=dict(new or {}))
    return [
        Refusal(refusal.message, refusal.field, guard.name)
        for guard in REGISTRY.values()
        if event in guard.events
        for refusal in guard.check(proposal)
    ]


def as_error(refusals: Iterable[Refusal]) -> ValidationError:
    """One ValidationError keyed by field (the row as a whole under NON_FIELD_ERRORS)."""
    errors: dict[str, list[str]] = {}
    for refusal in refusals:
        errors.setdefault(refusal.field or NON_FIELD_ERRORS, []).append(refusal.message)
    return ValidationError(errors)


def enforce(event: str, *, row: models.Model, old: Mapping[str, Any] | None = None, new=None) -> None:
    """Ask the guards; raise one ValidationError listing every refusal, if any. The caller holds the row lock."""
    refusals = check(event, row=row, old=old, new=new)
    if refusals:
        raise as_error(refusals)


def changes_of(row: models.Model, changes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The old and new values of the fields in `changes` that differ from `row` (read before applying them).

    Names that are not fields are skipped: the service's `apply_changes` refuses them.
    """
    old, new = {}, {}
    for name, value in changes.items():
        try:
            model_field = row._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if model_field.many_to_many or model_field.one_to_many:
            continue
        if model_field.is_relation:
            current_id = getattr(row, model_field.attname)
            new_id = value.pk if isinstance(value, models.Model) else value
            if current_id != new_id:
                old[name] = getattr(row, name)
                new[name] = value
        elif getattr(row, name) != value:
            old[name] = getattr(row, name)
            new[name] = value
    return old, new


LISTED = 5


def listing(items: Iterable[str], *, limit: int = LISTED) -> str:
    """'a, b, c' — or the first `limit` and how many more, so a refusal stays readable."""
    items = list(items)
    if len(items) <= limit:
        return "; ".join(items)
    more = len(items) - limit
    return ngettext("%(items)s and %(count)s more", "%(items)s and %(count)s more", more) % {
        "items": "; ".join(items[:limit]),
        "count": more,
    }
