"""The readiness engine: is a phase ready to start, and if not, what blocks it?

Readiness is a set of criteria. Each app registers the criteria whose data it owns (`register()` in its
`AppConfig.ready()`): planning registers land, utilities and milestones here; partners and tenants register theirs,
so this module never imports them. A criterion evaluates all the phases asked for at once, with a fixed number of
queries, and returns for each a score from 0 to 1, reasons in plain language with the objects behind them, and
the inputs it used (for the fingerprint). Weights, gates, thresholds and targets come from
`ReadinessCriterionSetting` (staff edit them in the admin; a missing row or target takes the criterion's defaults).

A snapshot is only replaced when its fingerprint changes, so the fingerprint covers everything a score depends on:
each criterion's inputs, its setting (targets included), its `version` (raised whenever its formula or reasons
change) and the policy. A change of a setting or of the policy also marks every phase stale
(`planning.services.readiness_setting_update`), so the sweep recomputes them all.

A failed gate makes the phase `blocked`; otherwise the weighted score decides between `ready` and `at_risk`
(any failed criterion keeps it at risk). `planning.services.readiness_recompute` stores the result as a snapshot.
"""

import datetime
import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from django.db.models import OuterRef, Subquery, Sum
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from .models import (
    Facility,
    Milestone,
    Parcel,
    Phase,
    ReadinessCriterionSetting,
    ReadinessPolicy,
    ReadinessSnapshot,
    UtilityCapacity,
)

PASS, AT_RISK, FAIL = "pass", "at_risk", "fail"
# A criterion's state in words (the phase's states are `ReadinessSnapshot.State`).
CRITERION_STATES = {PASS: _("Passed"), AT_RISK: _("At risk"), FAIL: _("Failed")}
READY, BLOCKED = ReadinessSnapshot.State.READY, ReadinessSnapshot.State.BLOCKED


@dataclass
class Reason:
    """A sentence a planner can act on, and the objects it is about.

    Stored untranslated, as the English message and its values, and put into words in the reader's language when
    shown (`render`), so a snapshot computed by a background worker reads right in Chinese too. A value is text or a
    number, or one of `{"date": "YYYY-MM-DD"}`, `{"msgid": "…"}` (a translatable word) or
    `{"choice": "milestone_kind", "value": "…"}` (the label of a stored choice), each shown in the reader's language.
    """

    template: str
    params: dict[str, Any] = field(default_factory=dict)
    objects: list[dict] = field(default_factory=list)


def say(template: str, objects: Iterable[dict] = (), **params) -> Reason:
    """A reason. `template` is marked with `gettext_noop` so the catalogue has it; dates are kept as dates."""
    values = {
        name: {"date": value.isoformat()} if isinstance(value, datetime.date) else value
        for name, value in params.items()
    }
    return Reason(template, values, list(objects))


def term(msgid: str) -> dict:
    """A word shown in the reader's language (marked with gettext_noop where it is written)."""
    return {"msgid": msgid}


CHOICES = {"milestone_kind": Milestone.Kind}


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


def ref(kind: str, obj) -> dict:
    return {"type": kind, "id": obj.pk, "label": str(obj)}


@dataclass
class Evaluation:
    """What a criterion found for one phase."""

    score: float
    reasons: list[Reason]
    inputs: dict[str, Any]
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
        self, phases: list[Phase], today, targets: dict[str, Decimal] | None = None
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


ORDER = {PASS: 0, AT_RISK: 1, FAIL: 2}


@dataclass
class PhaseReadiness:
    phase_id: int
    score: float
    state: str
    criteria: list[dict]
    fingerprint: str


def evaluate(phases: Iterable[Phase], today=None) -> dict[int, PhaseReadiness]:
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
        fingerprint_inputs: dict[str, Any] = {"policy": str(policy.ready_score)}
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
                    "reasons": [asdict(reason) for reason in found.reasons],
                }
            )
            fingerprint_inputs[code] = {
                "inputs": found.inputs,
                "version": REGISTRY[code].version,
                "setting": [
                    str(setting.weight),
                    setting.is_gate,
                    str(setting.pass_threshold),
                    str(setting.at_risk_threshold),
                ],
                "targets": {name: str(value) for name, value in targets[code].items()},
            }
        score = weighted / total_weight if total_weight else 0.0
        if blocked:
            state = BLOCKED
        elif failed or score < float(policy.ready_score):
            state = ReadinessSnapshot.State.AT_RISK
        else:
            state = READY
        digest = hashlib.sha256(json.dumps(fingerprint_inputs, sort_keys=True, default=str).encode()).hexdigest()
        results[phase.pk] = PhaseReadiness(phase.pk, round(score, 3), state, criteria, digest)
    return results


def fmt(value, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def fmt_target(value: Decimal) -> str:
    """A target as staff set it: 30 → "30", 27.5 → "27.5"."""
    return fmt(value, 0 if value == value.to_integral_value() else 1)


# --- planning's criteria ----------------------------------------------------------------------------------------

PRE_CONSTRUCTION = (
    Milestone.Kind.SITE_HANDOVER,
    Milestone.Kind.MASTER_LAYOUT_CONSENT,
    Milestone.Kind.BUILDING_PLANS_APPROVAL,
)


def construction_starts(phases: list[Phase]) -> dict[int, Any]:
    """Each phase's construction start: its construction-start milestone's date, else its planned start."""
    planned = dict(
        Milestone.objects.filter(phase__in=phases, kind=Milestone.Kind.CONSTRUCTION_START).values_list(
            "phase_id", "planned_date"
        )
    )
    return {phase.pk: planned.get(phase.pk) or phase.planned_start for phase in phases}


class LandCriterion(Criterion):
    """Share of the phase's site area handed over by its construction start. A hard gate.

    A parcel counts when it is transferred or formed, or when its handover is scheduled (or site formation is under
    way) for a date no later than the construction start. A parcel not transferred, with no handover scheduled,
    does not count, whatever tentative date it carries.
    """

    code = "land"
    label = _("Land")
    default_weight = Decimal("3")
    default_gate = True
    default_pass = Decimal("1")
    default_at_risk = Decimal("0.9")

    HANDED_OVER = (Parcel.LandStatus.TRANSFERRED, Parcel.LandStatus.SITE_READY)
    ON_ITS_WAY = (Parcel.LandStatus.HANDOVER_SCHEDULED, Parcel.LandStatus.SITE_FORMATION)

    def _reason(self, parcel: Parcel, start) -> Reason | None:
        if parcel.land_status in self.HANDED_OVER:
            return None
        if parcel.land_status in self.ON_ITS_WAY and parcel.handover_date and parcel.handover_date <= start:
            template = gettext_noop(
                "Parcel %(code)s (%(area)s m²) is to be handed over on %(date)s, before the construction start "
                "on %(start)s."
            )
        elif parcel.land_status in self.ON_ITS_WAY and parcel.handover_date:
            template = gettext_noop(
                "Parcel %(code)s (%(area)s m²) is to be handed over only on %(date)s, after the construction "
                "start on %(start)s."
            )
        elif parcel.land_status in self.ON_ITS_WAY:
            template = gettext_noop(
                "Parcel %(code)s (%(area)s m²) has no handover date yet; construction starts on %(start)s."
            )
        else:
            template = gettext_noop(
                "Parcel %(code)s (%(area)s m²) is not transferred and no handover is scheduled; construction "
                "starts on %(start)s."
            )
        values = {"code": parcel.code, "area": fmt(parcel.site_area_m2, 0), "start": start}
        if "%(date)s" in template:
            values["date"] = parcel.handover_date
        return say(template, [ref("parcel", parcel)], **values)

    def counts(self, parcel: Parcel, start) -> bool:
        if parcel.land_status in self.HANDED_OVER:
            return True
        return (
            parcel.land_status in self.ON_ITS_WAY and parcel.handover_date is not None and parcel.handover_date <= start
        )

    def evaluate(self, phases, today, targets=None):
        starts = construction_starts(phases)
        parcels: dict[int, list[Parcel]] = {phase.pk: [] for phase in phases}
        for parcel in Parcel.objects.filter(phase__in=phases).only(
            "code", "phase", "land_status", "handover_date", "surveyed_area_m2", "computed_area_m2"
        ):
            parcels[parcel.phase_id].append(parcel)
        results = {}
        for phase in phases:
            start, own = starts[phase.pk], parcels[phase.pk]
            total = sum((p.site_area_m2 for p in own), Decimal(0))
            inputs = {
                "start": str(start),
                "parcels": sorted((p.pk, str(p.site_area_m2), p.land_status, str(p.handover_date)) for p in own),
            }
            if not total:
                results[phase.pk] = Evaluation(0.0, [say(gettext_noop("The phase has no parcels yet."))], inputs)
                continue
            ready_area = sum((p.site_area_m2 for p in own if self.counts(p, start)), Decimal(0))
            # What stands in the way, parcel by parcel; then what is still to come, in one sentence.
            reasons = [self._reason(p, start) for p in own if not self.counts(p, start)]
            coming = [p for p in own if self.counts(p, start) and p.land_status not in self.HANDED_OVER]
            if len(coming) == 1:
                reasons.append(self._reason(coming[0], start))
            elif coming:
                reasons.append(
                    say(
                        gettext_noop(
                            "%(count)s parcels (%(area)s m²) are to be handed over by %(date)s, before the "
                            "construction start on %(start)s."
                        ),
                        [ref("parcel", p) for p in coming],
                        count=len(coming),
                        area=fmt(sum((p.site_area_m2 for p in coming), Decimal(0)), 0),
                        date=max(p.handover_date for p in coming),
                        start=start,
                    )
                )
            handed = sum((p.site_area_m2 for p in own if p.land_status in self.HANDED_OVER), Decimal(0))
            reasons.insert(
                0,
                say(
                    gettext_noop(
                        "%(ready)s of %(total)s m² will be available by the construction start on %(start)s "
                        "(%(handed)s m² handed over already)."
                    ),
                    ready=fmt(ready_area, 0),
                    total=fmt(total, 0),
                    start=start,
                    handed=fmt(handed, 0),
                ),
            )
            results[phase.pk] = Evaluation(float(ready_area / total), reasons, inputs)
        return results


def demand_by_phase(phases: list[Phase]) -> dict[int, dict[str, Decimal]]:
    """Power (MVA) and water (m³/day) demand of each phase's facilities, from their types' assumptions (1 query).

    Power: GFA × kVA per m², or for types given by IT load (edge computing) capacity in MW × PUE (taken as MVA,
    power factor 1). Water: GFA ÷ 1,000 × m³/day per 1,000 m².
    """
    demand = {phase.pk: {"power_mva": Decimal(0), "water_m3_day": Decimal(0)} for phase in phases}
    rows = (
        Facility.objects.filter(parcel__phase__in=phases)
        .values(
            "parcel__phase_id",
            "facility_type__power_kva_per_m2",
            "facility_type__pue",
            "facility_type__water_m3_day_per_1000m2",
        )
        .annotate(gfa=Sum("gfa_m2"), capacity=Sum("capacity"))
        .order_by()
    )
    for row in rows:
        phase_demand = demand[row["parcel__phase_id"]]
        kva_per_m2, pue = row["facility_type__power_kva_per_m2"], row["facility_type__pue"]
        if kva_per_m2 is not None:
            phase_demand["power_mva"] += row["gfa"] * kva_per_m2 / 1000
        elif pue is not None:
            phase_demand["power_mva"] += (row["capacity"] or 0) * pue
        water = row["facility_type__water_m3_day_per_1000m2"]
        if water is not None:
            phase_demand["water_m3_day"] += row["gfa"] / 1000 * water
    return demand


class UtilitiesCriterion(Criterion):
    """Power and water demand of the phase's programme against committed capacity available by its completion."""

    code = "utilities"
    label = _("Utilities")
    default_weight = Decimal("2")
    default_pass = Decimal("1")
    default_at_risk = Decimal("0.8")

    FIRM = (UtilityCapacity.Status.COMMITTED, UtilityCapacity.Status.COMMISSIONED)
    KINDS = (
        (UtilityCapacity.Kind.POWER, "power_mva", gettext_noop("Power"), gettext_noop("MVA")),
        (UtilityCapacity.Kind.WATER, "water_m3_day", gettext_noop("Water"), gettext_noop("m³/day")),
    )

    def evaluate(self, phases, today, targets=None):
        demand = demand_by_phase(phases)
        supply: dict[tuple[int, str], list[UtilityCapacity]] = {}
        completion = {phase.pk: phase.planned_completion for phase in phases}
        for utility in UtilityCapacity.objects.filter(phase__in=phases, kind__in=[k for k, *_rest in self.KINDS]):
            supply.setdefault((utility.phase_id, utility.kind), []).append(utility)
        results = {}
        for phase in phases:
            scores, reasons, inputs = [], [], {}
            for kind, key, label, unit in self.KINDS:
                needed = demand[phase.pk][key]
                lines = supply.get((phase.pk, kind), [])
                firm = [u for u in lines if u.status in self.FIRM and u.available_from <= completion[phase.pk]]
                planned = [u for u in lines if u.status not in self.FIRM and u.available_from <= completion[phase.pk]]
                available = sum((u.capacity for u in firm), Decimal(0))
                planned_total = sum((u.capacity for u in planned), Decimal(0))
                inputs[key] = [
                    str(round(needed, 3)),
                    sorted((u.pk, str(u.capacity), u.status, str(u.available_from)) for u in lines),
                ]
                if not needed:
                    scores.append(1.0)
                    continue
                score = float(min(Decimal(1), available / needed))
                scores.append(score)
                objects = [ref("utility", u) for u in firm + planned]
                values = {"label": term(label), "demand": fmt(needed), "unit": term(unit)}
                if available >= needed:
                    template = gettext_noop(
                        "%(label)s demand %(demand)s %(unit)s is covered by committed supply %(supply)s %(unit)s "
                        "from %(date)s."
                    )
                    values.update(supply=fmt(available), date=min(u.available_from for u in firm))
                elif available:
                    template = (
                        gettext_noop(
                            "%(label)s demand %(demand)s %(unit)s exceeds committed supply %(supply)s %(unit)s "
                            "from %(date)s. A further %(planned)s %(unit)s is planned but not committed."
                        )
                        if planned_total
                        else gettext_noop(
                            "%(label)s demand %(demand)s %(unit)s exceeds committed supply %(supply)s %(unit)s "
                            "from %(date)s."
                        )
                    )
                    values.update(supply=fmt(available), date=min(u.available_from for u in firm))
                else:
                    template = (
                        gettext_noop(
                            "%(label)s demand %(demand)s %(unit)s has no committed supply by completion on %(date)s. "
                            "%(planned)s %(unit)s is planned but not committed."
                        )
                        if planned_total
                        else gettext_noop(
                            "%(label)s demand %(demand)s %(unit)s has no committed supply by completion on %(date)s."
                        )
                    )
                    values["date"] = completion[phase.pk]
                if planned_total and available < needed:
                    values["planned"] = fmt(planned_total)
                reasons.append(say(template, objects, **values))
            results[phase.pk] = Evaluation(min(scores) if scores else 1.0, reasons, inputs)
        return results


def _name(milestone: Milestone):
    """A milestone's title as written, or its kind in the reader's language."""
    return milestone.title or {"choice": "milestone_kind", "value": milestone.kind}


class MilestonesCriterion(Criterion):
    """Pre-construction milestones done (site handover, MLP consent, building plans), and none overdue."""

    code = "milestones"
    label = _("Milestones")
    default_weight = Decimal("1")
    default_pass = Decimal("1")
    default_at_risk = Decimal("0.3")

    def evaluate(self, phases, today, targets=None):
        milestones: dict[int, list[Milestone]] = {phase.pk: [] for phase in phases}
        for milestone in Milestone.objects.filter(phase__in=phases).order_by("planned_date", "pk"):
            milestones[milestone.phase_id].append(milestone)
        results = {}
        for phase in phases:
            before = [m for m in milestones[phase.pk] if m.kind in PRE_CONSTRUCTION]
            done = [m for m in before if m.actual_date is not None]
            overdue = [m for m in milestones[phase.pk] if m.actual_date is None and m.planned_date < today]
            reasons = [
                say(
                    gettext_noop("%(name)s was due on %(date)s and is not done."),
                    [ref("milestone", m)],
                    name=_name(m),
                    date=m.planned_date,
                )
                for m in overdue
            ]
            pending = [m for m in before if m.actual_date is None and m not in overdue]
            reasons += [
                say(
                    gettext_noop("%(name)s is planned for %(date)s."),
                    [ref("milestone", m)],
                    name=_name(m),
                    date=m.planned_date,
                )
                for m in pending
            ]
            if before and len(done) == len(before):
                reasons.append(
                    say(gettext_noop("All %(count)s pre-construction milestones are done."), count=len(before))
                )
            if not before:
                reasons.append(say(gettext_noop("No pre-construction milestones are planned.")))
            score = len(done) / len(before) if before else 0.0
            inputs = {
                "done": [m.pk for m in done],
                "pending": [m.pk for m in pending],
                "overdue": [m.pk for m in overdue],
            }
            results[phase.pk] = Evaluation(score, reasons, inputs, worst_state=AT_RISK if overdue else None)
        return results


def latest_snapshots(phase_ids: Iterable[int]) -> dict[int, ReadinessSnapshot]:
    """The newest snapshot of each phase (one query)."""
    newest = ReadinessSnapshot.objects.filter(phase=OuterRef("phase")).order_by("-computed_at", "-id").values("pk")[:1]
    snapshots = ReadinessSnapshot.objects.filter(phase_id__in=list(phase_ids), pk=Subquery(newest))
    return {snapshot.phase_id: snapshot for snapshot in snapshots}
