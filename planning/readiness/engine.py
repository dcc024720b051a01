"""The readiness engine: the criterion interface, the registry, `evaluate` and the fingerprint.

Readiness is a set of criteria. Each app registers the criteria whose data it owns (`register()` in its
`AppConfig.ready()`), so this module never imports them. A criterion evaluates all the phases asked for at once,
with a fixed number of queries, and returns for each a score from 0 to 1, reasons (`planning.readiness.reasons`)
and the inputs it used, as a frozen dataclass of its own (for the fingerprint, and for `innopole.bench`'s check).
Weights, gates, thresholds and targets come from `ReadinessCriterionSetting` (staff edit them in the admin; a
missing row or target takes the criterion's defaults).

A snapshot is only replaced when its fingerprint changes, so the fingerprint covers everything a score depends on:
each criterion's inputs, its setting (targets included), its `version` (raised whenever its formula or reasons
change) and the policy. A change of a setting or of the policy also marks every phase stale
(`planning.services.readiness_setting_update`), so the sweep recomputes them all.

A failed gate makes the phase `blocked`; otherwise the weighted score decides between `ready` and `at_risk`
(any failed criterion keeps it at risk). `planning.services.readiness_recompute` stores the result as a snapshot.
"""

import dataclasses
import datetime
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from ..models import Phase, ReadinessCriterionSetting, ReadinessPolicy, ReadinessSnapshot

if TYPE_CHECKING:
    from .reasons import Reason

PASS, AT_RISK, FAIL = "pass", "at_risk", "fail"
READY, BLOCKED = ReadinessSnapshot.State.READY, ReadinessSnapshot.State.BLOCKED
ORDER = {PASS: 0, AT_RISK: 1, FAIL: 2}


@dataclass
class Evaluation:
    """What a criterion found for one phase.

    `inputs` is the criterion's own frozen dataclass of the figures the score was computed from (ids, areas,
    dates, statuses): everything that, when it changes, may change the score or the reasons.
    """

    score: float
    reasons: list["Reason"]
    inputs: Any  # a dataclass instance; see `fingerprint`
    # A criterion may force a state whatever the score (for example: an overdue milestone is at least at risk).
    worst_state: str | None = None


@dataclass(frozen=True)
class Target:
    """A target a criterion scores against, which staff may change (stored in `ReadinessCriterionSetting.targets`)."""

    default: Decimal
    label: str
    minimum: Decimal = Decimal("0.1")  # a target of 0 would divide by zero
    maximum: Decimal = Decimal("100")


class Criterion:
    """Base of every criterion. Subclasses set the class attributes and implement `evaluate`.

    Raise `version` whenever `evaluate` scores differently or words its reasons differently for the same data: the
    version is part of the fingerprint, so every phase gets a new snapshot at the next recompute.
    """

    code: ClassVar[str]
    label: ClassVar[str]
    version: ClassVar[int] = 1
    default_weight: ClassVar[Decimal] = Decimal("1")
    default_gate: ClassVar[bool] = False
    default_pass: ClassVar[Decimal] = Decimal("1")
    default_at_risk: ClassVar[Decimal] = Decimal("0.8")
    targets: ClassVar[dict[str, Target]] = {}

    def resolve_targets(self, stored: dict | None) -> dict[str, Decimal]:
        """The criterion's targets: the stored value of each, else its default."""
        stored = stored or {}
        return {name: Decimal(str(stored.get(name, target.default))) for name, target in self.targets.items()}

    def evaluate(
        self, phases: list[Phase], today: datetime.date, targets: dict[str, Decimal] | None = None
    ) -> dict[int, Evaluation]:  # pragma: no cover - interface
        """Each phase's evaluation. `targets` are the resolved targets (None: the defaults)."""
        raise NotImplementedError


REGISTRY: dict[str, Criterion] = {}


def register(criterion: Criterion) -> Criterion:
    """Add a criterion to the engine; called from an app's `AppConfig.ready()`. A code already taken is an error."""
    known = REGISTRY.get(criterion.code)
    if known is not None:
        raise ImproperlyConfigured(
            f"Readiness criterion {criterion.code!r} is registered twice: by {type(known).__module__}."
            f"{type(known).__qualname__} and by {type(criterion).__module__}.{type(criterion).__qualname__}."
        )
    REGISTRY[criterion.code] = criterion
    return criterion


def settings_by_code() -> dict[str, ReadinessCriterionSetting]:
    """The stored setting of every registered criterion, or its defaults when none is stored (one query)."""
    stored = {setting.code: setting for setting in ReadinessCriterionSetting.objects.all()}
    return {
        code: stored.get(code)
        or ReadinessCriterionSetting(
            code=code,
            weight=criterion.default_weight,
            is_gate=criterion.default_gate,
            pass_threshold=criterion.default_pass,
            at_risk_threshold=criterion.default_at_risk,
        )
        for code, criterion in REGISTRY.items()
    }


def state_for(score: float, setting: ReadinessCriterionSetting) -> str:
    if score >= float(setting.pass_threshold):
        return PASS
    if score >= float(setting.at_risk_threshold):
        return AT_RISK
    return FAIL


@dataclass
class PhaseReadiness:
    phase_id: int
    score: float
    state: str
    criteria: list[dict]
    fingerprint: str


def fingerprint_part(
    code: str, found: Evaluation, setting: ReadinessCriterionSetting, targets: dict[str, Decimal]
) -> dict[str, Any]:
    """What one criterion contributes to a phase's fingerprint: its inputs, version, setting and targets."""
    if not dataclasses.is_dataclass(found.inputs):
        raise TypeError(f"Readiness criterion {code!r} must return its inputs as a dataclass instance.")
    return {
        "inputs": dataclasses.asdict(found.inputs),
        "version": REGISTRY[code].version,
        "setting": [str(setting.weight), setting.is_gate, str(setting.pass_threshold), str(setting.at_risk_threshold)],
        "targets": {name: str(value) for name, value in targets.items()},
    }


def fingerprint(policy: ReadinessPolicy, parts: dict[str, dict[str, Any]]) -> str:
    """The hash of everything a phase's readiness depends on (`fingerprint_part` of each criterion, and the policy).
    Decimals and dates are hashed as their text."""
    content = {"policy": str(policy.ready_score), **parts}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def evaluate(phases: Iterable[Phase], today: datetime.date | None = None) -> dict[int, PhaseReadiness]:
    """Readiness of the given phases, by phase id. Queries: a fixed number per criterion, not per phase."""
    phases = list(phases)
    today = today or timezone.localdate()
    settings = settings_by_code()
    policy = ReadinessPolicy.current()
    targets = {code: criterion.resolve_targets(settings[code].targets) for code, criterion in REGISTRY.items()}
    per_criterion = {
        code: criterion.evaluate(phases, today, targets=targets[code])
        for code, criterion in REGISTRY.items()
        if settings[code].enabled
    }
    results = {}
    for phase in phases:
        criteria = []
        weighted = total_weight = 0.0
        blocked = failed = False
        parts: dict[str, dict[str, Any]] = {}
        for code, evaluations in per_criterion.items():
            setting, found = settings[code], evaluations[phase.pk]
            score = max(0.0, min(1.0, found.score))
            state = state_for(score, setting)
            if found.worst_state and ORDER[found.worst_state] > ORDER[state]:
                state = found.worst_state
            weight = float(setting.weight)
            weighted += weight * score
            total_weight += weight
            blocked |= setting.is_gate and state == FAIL
            failed |= state == FAIL
            criteria.append(
                {
                    "code": code,
                    "score": round(score, 3),
                    "state": state,
                    "weight": weight,
                    "gate": setting.is_gate,
                    "reasons": [dataclasses.asdict(reason) for reason in found.reasons],
                }
            )
            parts[code] = fingerprint_part(code, found, setting, targets[code])
        score = weighted / total_weight if total_weight else 0.0
        if blocked:
            state = BLOCKED
        elif failed or score < float(policy.ready_score):
            state = ReadinessSnapshot.State.AT_RISK
        else:
            state = READY
        results[phase.pk] = PhaseReadiness(phase.pk, round(score, 3), state, criteria, fingerprint(policy, parts))
    return results
