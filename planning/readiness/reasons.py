"""The reasons a criterion gives, and their rendering in the reader's language.

A reason is stored untranslated, as the English message and its values, and put into words when shown, so a
snapshot computed by a background worker reads right in Chinese too. The number formats the reasons use live here
as well, so every criterion words its figures alike.
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..models import ScheduleItem
from .engine import AT_RISK, FAIL, PASS, REGISTRY

# A criterion's state in words (the phase's states are `ReadinessSnapshot.State`).
CRITERION_STATES = {PASS: _("Passed"), AT_RISK: _("At risk"), FAIL: _("Failed")}
# The stored choices a reason may name by value, shown with their label in the reader's language.
# ("milestone_kind" is how snapshots taken before the schedule named a milestone's kind: the same values.)
CHOICES = {"schedule_category": ScheduleItem.Category, "milestone_kind": ScheduleItem.Category}


@dataclass
class Reason:
    """A sentence a planner can act on, and the objects it is about.

    A value is text or a number, or one of `{"date": "YYYY-MM-DD"}`, `{"msgid": "…"}` (a translatable word) or
    `{"choice": "schedule_category", "value": "…"}` (the label of a stored choice), each shown in the reader's language.
    """

    template: str
    params: dict[str, Any] = field(default_factory=dict)
    objects: list[dict] = field(default_factory=list)
    # The sentence says something is in order (supply covers demand, the schedule meets its target): context for a
    # criterion's state, not something that blocks the phase (the dashboard's "what blocks" leaves it out).
    fine: bool = False


def say(template: str, objects: Iterable[dict] = (), *, fine: bool = False, **params) -> Reason:
    """A reason. `template` is marked with `gettext_noop` so the catalogue has it; dates are kept as dates."""
    values = {
        name: {"date": value.isoformat()} if isinstance(value, datetime.date) else value
        for name, value in params.items()
    }
    return Reason(template, values, list(objects), fine)


def term(msgid: str) -> dict:
    """A word shown in the reader's language (marked with gettext_noop where it is written)."""
    return {"msgid": msgid}


def ref(kind: str, obj) -> dict:
    """The object a reason is about, as a link target (type, id) and its name."""
    return {"type": kind, "id": obj.pk, "label": str(obj)}


def fmt(value, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def fmt_target(value: Decimal) -> str:
    """A target as staff set it: 30 → "30", 27.5 → "27.5"."""
    return fmt(value, 0 if value == value.to_integral_value() else 1)


def _render_value(value):
    if isinstance(value, dict):
        if "date" in value:
            return date_format(datetime.date.fromisoformat(value["date"]))
        if "msgid" in value:
            return gettext(value["msgid"])
        if "choice" in value:
            return str(CHOICES[value["choice"]](value["value"]).label)
    return value


def render_reason(reason: dict) -> str:
    """A stored reason as text in the active language."""
    return gettext(reason["template"]) % {name: _render_value(value) for name, value in reason["params"].items()}


def render_criteria(criteria: list[dict]) -> list[dict]:
    """Stored criteria with their label and reasons put into words in the active language (for pages and the API)."""
    rendered = []
    for criterion in criteria:
        known = REGISTRY.get(criterion["code"])
        label = str(known.label) if known else criterion["code"]
        reasons = [{"text": render_reason(r), "objects": r["objects"]} for r in criterion["reasons"]]
        rendered.append({**criterion, "label": label, "reasons": reasons})
    return rendered


def readable_criteria(criteria: list[dict]) -> list[dict]:
    """`render_criteria` plus each state in words, for pages that show a snapshot to people (the admin)."""
    rendered = render_criteria(criteria)
    for criterion in rendered:
        criterion["state_label"] = CRITERION_STATES.get(criterion["state"], criterion["state"])
    return rendered
