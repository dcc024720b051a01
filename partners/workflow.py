"""The EOI workflow: its statuses and ONE table of named transitions, with what is derived from the table.

A transition is defined here and nowhere else. The service (`partners.services.eoi_transition`, which takes a
transition's name), the model's `moves()`, the admin's queue actions and "next step" choices, the API's workflow
actions, the portal's buttons, the demo's and the test factories' paths all read `WORKFLOW`. "Start review" and
"resume review" both lead to under review; they are two rows because they are two decisions, each from one status.

This module imports nothing from the app, so the models can import it.
"""

from collections import deque
from dataclasses import dataclass

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class EOIStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    UNDER_REVIEW = "under_review", _("Under review")
    SHORTLISTED = "shortlisted", _("Shortlisted")
    ON_HOLD = "on_hold", _("On hold")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Side(models.TextChoices):
    """Who makes a move: the EOI's own organisation, or HKSTP staff. Each side makes only its own moves."""

    PARTNER = "partner", _("the partner")
    STAFF = "staff", _("HKSTP staff")


@dataclass(frozen=True)
class Transition:
    """One named move: from any of `sources` to `target`, made by `side`.

    `name` is the service's argument, the admin action's and the API action's name (its URL uses hyphens);
    `label` is the button's text; `summary` documents the API action (OpenAPI, English); `explanation` is shown where
    a person confirms the move; `note_required` makes the note to the partner compulsory.
    """

    name: str
    sources: frozenset[str]
    target: str
    side: Side
    label: Promise
    summary: str
    explanation: Promise | str = ""
    note_required: bool = False

    @property
    def url_path(self) -> str:
        return self.name.replace("_", "-")


S = EOIStatus
# Before a decision: the statuses a partner may still withdraw from.
_IN_REVIEW = frozenset({S.SUBMITTED, S.UNDER_REVIEW, S.SHORTLISTED, S.ON_HOLD})

WORKFLOW: tuple[Transition, ...] = (
    Transition(
        name="submit",
        sources=frozenset({S.DRAFT}),
        target=S.SUBMITTED,
        side=Side.PARTNER,
        label=_("Submit"),
        summary="Submit a draft EOI",
        explanation=_("HKSTP staff will review it. Once submitted, its content cannot be changed any more."),
    ),
    Transition(
        name="start_review",
        sources=frozenset({S.SUBMITTED}),
        target=S.UNDER_REVIEW,
        side=Side.STAFF,
        label=_("Start review"),
        summary="Start reviewing a submitted EOI",
    ),
    Transition(
        name="shortlist",
        sources=frozenset({S.UNDER_REVIEW, S.ON_HOLD}),
        target=S.SHORTLISTED,
        side=Side.STAFF,
        label=_("Shortlist"),
        summary="Shortlist an EOI under review or on hold",
    ),
    Transition(
        name="accept",
        sources=frozenset({S.SHORTLISTED}),
        target=S.ACCEPTED,
        side=Side.STAFF,
        label=_("Accept"),
        summary="Accept a shortlisted EOI",
    ),
    Transition(
        name="decline",
        sources=frozenset({S.UNDER_REVIEW, S.SHORTLISTED, S.ON_HOLD}),
        target=S.DECLINED,
        side=Side.STAFF,
        label=_("Decline"),
        summary="Decline an EOI under review, shortlisted or on hold",
    ),
    Transition(
        name="hold",
        sources=frozenset({S.UNDER_REVIEW, S.SHORTLISTED}),
        target=S.ON_HOLD,
        side=Side.STAFF,
        label=_("Put on hold"),
        summary="Put an EOI under review or shortlisted on hold",
    ),
    Transition(
        name="resume",
        sources=frozenset({S.ON_HOLD}),
        target=S.UNDER_REVIEW,
        side=Side.STAFF,
        label=_("Resume review"),
        summary="Resume the review of an EOI on hold",
    ),
    Transition(
        name="withdraw",
        sources=_IN_REVIEW,
        target=S.WITHDRAWN,
        side=Side.PARTNER,
        label=_("Withdraw"),
        summary="Withdraw an EOI before it is decided",
        explanation=_(
            "HKSTP will stop assessing it. A withdrawn expression of interest cannot be resubmitted; you can submit "
            "a new one later."
        ),
    ),
)


def _by_name(rows: tuple[Transition, ...]) -> dict[str, Transition]:
    table: dict[str, Transition] = {}
    for row in rows:
        if row.name in table:
            raise ValueError(f"Two EOI transitions are named {row.name!r}.")
        if not set(row.sources) <= set(S.values) or row.target not in S.values:
            raise ValueError(f"EOI transition {row.name!r} names a status that does not exist.")
        table[row.name] = row
    return table


TRANSITIONS: dict[str, Transition] = _by_name(WORKFLOW)


def moves_from(status: str, side: Side | str | None = None) -> list[Transition]:
    """The transitions an EOI in `status` can take (those of `side` only, if given), in the table's order."""
    return [row for row in WORKFLOW if status in row.sources and (side is None or row.side == side)]


def names(side: Side | str) -> list[str]:
    return [row.name for row in WORKFLOW if row.side == side]


def _in_status_order(statuses) -> tuple[str, ...]:
    # Tuples in the statuses' own order: stable in queries, index conditions and migrations.
    return tuple(status for status in S.values if status in statuses)


# Derived once from the table (and read through the model and `EOIQuerySet`). Decided: no move leaves it.
# Awaiting HKSTP: a staff move leaves it. Withdrawable: "withdraw" leaves it.
DECIDED = _in_status_order({status for status in S.values if status != S.DRAFT and not moves_from(status)})
AWAITING_STAFF = _in_status_order({source for row in WORKFLOW if row.side == Side.STAFF for source in row.sources})
WITHDRAWABLE = _in_status_order(TRANSITIONS["withdraw"].sources)
# Live demand: an EOI still in play for HKSTP, or accepted (it goes on counting until its commitment replaces it).
LIVE_STATUSES = _in_status_order({*AWAITING_STAFF, S.ACCEPTED})


def path_to(status: str) -> tuple[Transition, ...]:
    """The shortest run of transitions from a draft to `status` (breadth-first over the table, in its order).

    The demo replays these to bring its EOIs to their status, as do the test factories.
    """
    paths: dict[str, tuple[Transition, ...]] = {S.DRAFT: ()}
    queue = deque([S.DRAFT])
    while queue:
        current = queue.popleft()
        for row in moves_from(current):
            if row.target not in paths:
                paths[row.target] = (*paths[current], row)
                queue.append(row.target)
    try:
        return paths[status]
    except KeyError:
        raise ValueError(f"No EOI transition leads to {status!r}.") from None
