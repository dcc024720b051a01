"""Planning's readiness criteria: land, utilities and milestones (registered by `PlanningConfig.ready()`).

Each criterion reads its data for all the phases at once, returns its inputs as a frozen dataclass (hashed into the
fingerprint, and compared by `innopole.bench` with its hand-written SQL), and picks its sentences with small pure
functions, so the choice of words can be read (and tested) apart from the queries.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from ..models import Facility, Milestone, Parcel, Phase, UtilityCapacity
from .engine import AT_RISK, Criterion, Evaluation
from .reasons import Reason, fmt, ref, say, term

PRE_CONSTRUCTION = (
    Milestone.Kind.SITE_HANDOVER,
    Milestone.Kind.MASTER_LAYOUT_CONSENT,
    Milestone.Kind.BUILDING_PLANS_APPROVAL,
)


def construction_starts(phases: list[Phase]) -> dict[int, datetime.date]:
    """Each phase's construction start: its construction-start milestone's date, else its planned start."""
    planned = dict(
        Milestone.objects.filter(phase__in=phases, kind=Milestone.Kind.CONSTRUCTION_START).values_list(
            "phase_id", "planned_date"
        )
    )
    return {phase.pk: planned.get(phase.pk) or phase.planned_start for phase in phases}


# --- land -------------------------------------------------------------------------------------------------------

HANDED_OVER = (Parcel.LandStatus.TRANSFERRED, Parcel.LandStatus.SITE_READY)
ON_ITS_WAY = (Parcel.LandStatus.HANDOVER_SCHEDULED, Parcel.LandStatus.SITE_FORMATION)


@dataclass(frozen=True)
class ParcelInput:
    """What the land criterion knows of one parcel."""

    pk: int
    code: str
    site_area_m2: Decimal
    land_status: str
    handover_date: datetime.date | None

    def __str__(self) -> str:
        return self.code


@dataclass(frozen=True)
class LandInputs:
    start: datetime.date
    parcels: tuple[ParcelInput, ...]  # by id

    @property
    def site_area_m2(self) -> Decimal:
        return sum((p.site_area_m2 for p in self.parcels), Decimal(0))

    @property
    def handed_over_m2(self) -> Decimal:
        return sum((p.site_area_m2 for p in self.parcels if p.land_status in HANDED_OVER), Decimal(0))

    @property
    def ready_by_start_m2(self) -> Decimal:
        return sum((p.site_area_m2 for p in self.parcels if parcel_counts(p, self.start)), Decimal(0))


def parcel_counts(parcel: ParcelInput, start: datetime.date) -> bool:
    """Whether the parcel's area counts as available by the construction start."""
    if parcel.land_status in HANDED_OVER:
        return True
    return parcel.land_status in ON_ITS_WAY and parcel.handover_date is not None and parcel.handover_date <= start


def parcel_reason_template(parcel: ParcelInput, start: datetime.date) -> str | None:
    """The sentence about a parcel not handed over yet (None once it is)."""
    if parcel.land_status in HANDED_OVER:
        return None
    if parcel.land_status not in ON_ITS_WAY:
        return gettext_noop(
            "Parcel %(code)s (%(area)s m²) is not transferred and no handover is scheduled; construction "
            "starts on %(start)s."
        )
    if parcel.handover_date is None:
        return gettext_noop("Parcel %(code)s (%(area)s m²) has no handover date yet; construction starts on %(start)s.")
    if parcel.handover_date <= start:
        return gettext_noop(
            "Parcel %(code)s (%(area)s m²) is to be handed over on %(date)s, before the construction start "
            "on %(start)s."
        )
    return gettext_noop(
        "Parcel %(code)s (%(area)s m²) is to be handed over only on %(date)s, after the construction "
        "start on %(start)s."
    )


def parcel_reason(parcel: ParcelInput, start: datetime.date) -> Reason:
    template = parcel_reason_template(parcel, start)
    values = {"code": parcel.code, "area": fmt(parcel.site_area_m2, 0), "start": start}
    if "%(date)s" in template:
        values["date"] = parcel.handover_date
    return say(template, [ref("parcel", parcel)], **values)


def land_reasons(inputs: LandInputs) -> list[Reason]:
    """The summary, then what stands in the way parcel by parcel, then what is still to come in one sentence."""
    start = inputs.start
    reasons = [
        say(
            gettext_noop(
                "%(ready)s of %(total)s m² will be available by the construction start on %(start)s "
                "(%(handed)s m² handed over already)."
            ),
            ready=fmt(inputs.ready_by_start_m2, 0),
            total=fmt(inputs.site_area_m2, 0),
            start=start,
            handed=fmt(inputs.handed_over_m2, 0),
        )
    ]
    reasons += [parcel_reason(p, start) for p in inputs.parcels if not parcel_counts(p, start)]
    coming = [p for p in inputs.parcels if parcel_counts(p, start) and p.land_status not in HANDED_OVER]
    if len(coming) == 1:
        reasons.append(parcel_reason(coming[0], start))
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
    return reasons


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

    HANDED_OVER = HANDED_OVER
    ON_ITS_WAY = ON_ITS_WAY

    def evaluate(self, phases, today, targets=None):
        starts = construction_starts(phases)
        parcels: dict[int, list[ParcelInput]] = {phase.pk: [] for phase in phases}
        for parcel in (
            Parcel.objects.filter(phase__in=phases)
            .only("code", "phase", "land_status", "handover_date", "surveyed_area_m2", "computed_area_m2")
            .order_by("pk")
        ):
            parcels[parcel.phase_id].append(
                ParcelInput(parcel.pk, parcel.code, parcel.site_area_m2, parcel.land_status, parcel.handover_date)
            )
        results = {}
        for phase in phases:
            inputs = LandInputs(start=starts[phase.pk], parcels=tuple(parcels[phase.pk]))
            total = inputs.site_area_m2
            if not total:
                results[phase.pk] = Evaluation(0.0, [say(gettext_noop("The phase has no parcels yet."))], inputs)
                continue
            results[phase.pk] = Evaluation(float(inputs.ready_by_start_m2 / total), land_reasons(inputs), inputs)
        return results


# --- utilities --------------------------------------------------------------------------------------------------


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


FIRM = (UtilityCapacity.Status.COMMITTED, UtilityCapacity.Status.COMMISSIONED)


@dataclass(frozen=True)
class SupplyLine:
    """One line of utility capacity as the utilities criterion saw it."""

    pk: int
    capacity: Decimal
    status: str
    available_from: datetime.date

    @property
    def firm(self) -> bool:
        return self.status in FIRM


@dataclass(frozen=True)
class UtilityInputs:
    """One utility of one phase: the demand (rounded to 3 places), the completion date and every supply line."""

    demand: Decimal
    completion: datetime.date
    lines: tuple[SupplyLine, ...]  # by id

    @property
    def firm_lines(self) -> list[SupplyLine]:
        return [u for u in self.lines if u.firm and u.available_from <= self.completion]

    @property
    def planned_lines(self) -> list[SupplyLine]:
        return [u for u in self.lines if not u.firm and u.available_from <= self.completion]

    @property
    def firm_total(self) -> Decimal:
        """Committed or commissioned capacity available by the phase's completion."""
        return sum((u.capacity for u in self.firm_lines), Decimal(0))

    @property
    def planned_total(self) -> Decimal:
        return sum((u.capacity for u in self.planned_lines), Decimal(0))


@dataclass(frozen=True)
class UtilitiesInputs:
    power_mva: UtilityInputs
    water_m3_day: UtilityInputs


def utility_reason_template(*, covered: bool, some_firm: bool, some_planned: bool) -> str:
    """The sentence about one utility: covered, short of committed supply, or with none committed at all."""
    if covered:
        return gettext_noop(
            "%(label)s demand %(demand)s %(unit)s is covered by committed supply %(supply)s %(unit)s from %(date)s."
        )
    if some_firm and some_planned:
        return gettext_noop(
            "%(label)s demand %(demand)s %(unit)s exceeds committed supply %(supply)s %(unit)s "
            "from %(date)s. A further %(planned)s %(unit)s is planned but not committed."
        )
    if some_firm:
        return gettext_noop(
            "%(label)s demand %(demand)s %(unit)s exceeds committed supply %(supply)s %(unit)s from %(date)s."
        )
    if some_planned:
        return gettext_noop(
            "%(label)s demand %(demand)s %(unit)s has no committed supply by completion on %(date)s. "
            "%(planned)s %(unit)s is planned but not committed."
        )
    return gettext_noop("%(label)s demand %(demand)s %(unit)s has no committed supply by completion on %(date)s.")


def utility_reason(found: UtilityInputs, label: str, unit: str) -> Reason:
    """The reason about one utility whose demand is not zero."""
    firm, available, planned = found.firm_lines, found.firm_total, found.planned_total
    covered = available >= found.demand
    template = utility_reason_template(covered=covered, some_firm=bool(available), some_planned=bool(planned))
    values = {"label": term(label), "demand": fmt(found.demand), "unit": term(unit)}
    if available:
        values.update(supply=fmt(available), date=min(u.available_from for u in firm))
    else:
        values["date"] = found.completion
    if planned and not covered:
        values["planned"] = fmt(planned)
    return say(template, [ref("utility", u) for u in firm + found.planned_lines], **values)


class UtilitiesCriterion(Criterion):
    """Power and water demand of the phase's programme against committed capacity available by its completion."""

    code = "utilities"
    label = _("Utilities")
    default_weight = Decimal("2")
    default_pass = Decimal("1")
    default_at_risk = Decimal("0.8")

    FIRM = FIRM
    KINDS = (
        (UtilityCapacity.Kind.POWER, "power_mva", gettext_noop("Power"), gettext_noop("MVA")),
        (UtilityCapacity.Kind.WATER, "water_m3_day", gettext_noop("Water"), gettext_noop("m³/day")),
    )

    def evaluate(self, phases, today, targets=None):
        demand = demand_by_phase(phases)
        supply: dict[tuple[int, str], list[SupplyLine]] = {}
        utilities = UtilityCapacity.objects.filter(phase__in=phases, kind__in=[k for k, *_rest in self.KINDS])
        for utility in utilities.order_by("pk"):
            line = SupplyLine(utility.pk, utility.capacity, utility.status, utility.available_from)
            supply.setdefault((utility.phase_id, utility.kind), []).append(line)
        results = {}
        for phase in phases:
            found = {
                key: UtilityInputs(
                    demand=round(demand[phase.pk][key], 3),
                    completion=phase.planned_completion,
                    lines=tuple(supply.get((phase.pk, kind), [])),
                )
                for kind, key, _label, _unit in self.KINDS
            }
            scores, reasons = [], []
            for _kind, key, label, unit in self.KINDS:
                needed = found[key].demand
                if not needed:
                    scores.append(1.0)
                    continue
                scores.append(float(min(Decimal(1), found[key].firm_total / needed)))
                reasons.append(utility_reason(found[key], label, unit))
            results[phase.pk] = Evaluation(min(scores), reasons, UtilitiesInputs(**found))
        return results


# --- milestones -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MilestonesInputs:
    """Ids of the phase's pre-construction milestones, those done and pending, and every overdue one."""

    pre_construction: tuple[int, ...]
    done: tuple[int, ...]
    pending: tuple[int, ...]
    overdue: tuple[int, ...]


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
        for milestone in Milestone.objects.filter(phase__in=phases).with_overdue(today).order_by("planned_date", "pk"):
            milestones[milestone.phase_id].append(milestone)
        results = {}
        for phase in phases:
            before = [m for m in milestones[phase.pk] if m.kind in PRE_CONSTRUCTION]
            done = [m for m in before if m.actual_date is not None]
            overdue = [m for m in milestones[phase.pk] if m.overdue]
            pending = [m for m in before if m.actual_date is None and not m.overdue]
            reasons = [
                say(
                    gettext_noop("%(name)s was due on %(date)s and is not done."),
                    [ref("milestone", m)],
                    name=_name(m),
                    date=m.planned_date,
                )
                for m in overdue
            ]
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
            inputs = MilestonesInputs(
                pre_construction=tuple(m.pk for m in before),
                done=tuple(m.pk for m in done),
                pending=tuple(m.pk for m in pending),
                overdue=tuple(m.pk for m in overdue),
            )
            results[phase.pk] = Evaluation(score, reasons, inputs, worst_state=AT_RISK if overdue else None)
        return results
