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

from ..models import Facility, Parcel, Phase, ScheduleItem, UtilityCapacity
from .engine import AT_RISK, Criterion, Evaluation
from .reasons import Reason, fmt, ref, say, term

PRE_CONSTRUCTION = (
    ScheduleItem.Category.SITE_HANDOVER,
    ScheduleItem.Category.MASTER_LAYOUT_CONSENT,
    ScheduleItem.Category.BUILDING_PLANS_APPROVAL,
)


def construction_starts(phases: list[Phase]) -> dict[int, datetime.date]:
    """Each phase's construction start: its construction-start milestone's forecast (as the scheduling engine
    last stored it), else its planned start."""
    forecast = dict(
        ScheduleItem.objects.filter(phase__in=phases, category=ScheduleItem.Category.CONSTRUCTION_START).values_list(
            "phase_id", "forecast_start"
        )
    )
    return {phase.pk: forecast.get(phase.pk) or phase.planned_start for phase in phases}


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
    return say(template, [ref("utility", u) for u in firm + found.planned_lines], fine=covered, **values)


class UtilitiesCriterion(Criterion):
    """Power and water demand of the phase's programme against committed capacity available by its completion."""

    code = "utilities"
    label = _("Utilities")
    version = 2  # 2: a reason saying supply covers demand is marked `fine`
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
    """Ids of the phase's pre-construction milestones, those done and pending, every overdue item, and the
    schedule's forecast completion against the target, with the item that finishes last and the one driving it."""

    pre_construction: tuple[int, ...]
    done: tuple[int, ...]
    pending: tuple[int, ...]
    overdue: tuple[int, ...]
    forecast_completion: datetime.date | None = None
    target_completion: datetime.date | None = None
    completion_item: int | None = None
    driver: int | None = None

    @property
    def completion_slip_days(self) -> int | None:
        if self.forecast_completion is None or self.target_completion is None:
            return None
        return (self.forecast_completion - self.target_completion).days


def _name(item: ScheduleItem):
    """An item's title as written, or its category in the reader's language."""
    return item.title or {"choice": "schedule_category", "value": item.category}


def completion_and_driver(items: list[ScheduleItem]) -> tuple[ScheduleItem | None, ScheduleItem | None]:
    """The item the phase's completion waits for (latest forecast finish; ties: least float, then the latest
    forecast start), and what drives it: walking its chain of driving predecessors back from the start, the first
    item that slips past its own baseline (the cause the rest inherit); None when nothing on the chain slips."""
    scheduled = [item for item in items if item.forecast_finish is not None]
    if not scheduled:
        return None, None
    last = max(scheduled, key=lambda i: (i.forecast_finish, -(i.total_float_days or 0), i.forecast_start, -i.pk))
    by_id = {item.pk: item for item in items}
    chain = [last]
    while (previous := by_id.get(chain[-1].driving_predecessor_id)) is not None and previous not in chain:
        chain.append(previous)
    chain.reverse()
    driver = next((item for item in chain if (item.slip_days or 0) > 0), None)
    return last, driver


class MilestonesCriterion(Criterion):
    """Pre-construction milestones done (site handover, MLP consent, building plans), no schedule item overdue,
    and the forecast completion on or before the phase's target."""

    code = "milestones"
    label = _("Schedule")
    version = 3  # 2: the forecast schedule (completion against target, overdue items of every kind); 3: `fine`
    default_weight = Decimal("1")
    default_pass = Decimal("1")
    default_at_risk = Decimal("0.3")

    def evaluate(self, phases, today, targets=None):
        schedules: dict[int, list[ScheduleItem]] = {phase.pk: [] for phase in phases}
        for item in ScheduleItem.objects.filter(phase__in=phases).with_overdue(today).order_by("pk"):
            schedules[item.phase_id].append(item)
        results = {}
        for phase in phases:
            items = sorted(schedules[phase.pk], key=lambda i: (i.forecast_start or i.baseline_start or today, i.pk))
            before = [i for i in items if i.category in PRE_CONSTRUCTION]
            done = [i for i in before if i.finished]
            overdue = [i for i in items if i.overdue]
            pending = [i for i in before if not i.finished and not i.overdue]
            last, driver = completion_and_driver(items)
            reasons = []
            slip = None
            if last is not None:
                slip = (last.forecast_finish - phase.planned_completion).days
                if slip > 0:
                    values = {"name": _name(last), "date": last.forecast_finish, "days": slip}
                    if driver is not None and driver.pk != last.pk:
                        reasons.append(
                            say(
                                gettext_noop(
                                    "%(name)s forecast %(date)s, %(days)s days after the target, driven by %(driver)s."
                                ),
                                [ref("schedule_item", last), ref("schedule_item", driver)],
                                driver=_name(driver),
                                **values,
                            )
                        )
                    else:
                        reasons.append(
                            say(
                                gettext_noop("%(name)s forecast %(date)s, %(days)s days after the target."),
                                [ref("schedule_item", last)],
                                **values,
                            )
                        )
            reasons += [
                say(
                    gettext_noop("%(name)s was due on %(date)s and is not done."),
                    [ref("schedule_item", i)],
                    name=_name(i),
                    date=i.baseline_finish,
                )
                for i in overdue
            ]
            reasons += [
                say(
                    gettext_noop("%(name)s is forecast for %(date)s."),
                    [ref("schedule_item", i)],
                    fine=True,
                    name=_name(i),
                    date=i.forecast_finish or i.baseline_finish,
                )
                for i in pending
            ]
            if before and len(done) == len(before):
                reasons.append(
                    say(
                        gettext_noop("All %(count)s pre-construction milestones are done."),
                        fine=True,
                        count=len(before),
                    )
                )
            if not before:
                reasons.append(say(gettext_noop("No pre-construction milestones are planned.")))
            if last is not None and slip is not None and slip <= 0:
                reasons.append(
                    say(
                        gettext_noop("The schedule finishes on %(date)s, on or before the target of %(target)s."),
                        [ref("schedule_item", last)],
                        fine=True,
                        date=last.forecast_finish,
                        target=phase.planned_completion,
                    )
                )
            score = len(done) / len(before) if before else 0.0
            inputs = MilestonesInputs(
                pre_construction=tuple(i.pk for i in before),
                done=tuple(i.pk for i in done),
                pending=tuple(i.pk for i in pending),
                overdue=tuple(i.pk for i in overdue),
                forecast_completion=last.forecast_finish if last else None,
                target_completion=phase.planned_completion,
                completion_item=last.pk if last else None,
                driver=driver.pk if driver else None,
            )
            late = bool(overdue) or (slip is not None and slip > 0)
            results[phase.pk] = Evaluation(score, reasons, inputs, worst_state=AT_RISK if late else None)
        return results
