"""Non-trivial reads of planning data: per-type GFA breakdowns, the plan's warnings and the phases' schedules."""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Max, OuterRef, Subquery, Sum
from django.utils.translation import gettext as _

from core.units import fmt_m2, ha_to_m2

from .asof import AsOf, plan_rows
from .models import Campus, Facility, FacilityType, Parcel, Phase, ReadinessSnapshot, ScheduleItem, UtilityCapacity

# A phase's parcels may differ from its target area by this share before planners are warned.
PHASE_TARGET_TOLERANCE = Decimal("0.05")


@dataclass(frozen=True)
class PlanWarning:
    """Something a planner should look at that does not stop a save."""

    code: str
    message: str
    object_type: str
    object_id: int


def gfa_by_type(phases: list[Phase]) -> dict[int, dict[str, Decimal]]:
    """GFA per facility-type code for each phase id, in one query."""
    breakdown: dict[int, dict[str, Decimal]] = {phase.pk: {} for phase in phases}
    rows = (
        Facility.objects.filter(parcel__phase__in=[phase.pk for phase in phases])
        .values("parcel__phase_id", "facility_type__code")
        .annotate(total=Sum("gfa_m2"))
        .order_by("parcel__phase_id", "facility_type__code")
    )
    for row in rows:
        breakdown[row["parcel__phase_id"]][row["facility_type__code"]] = row["total"]
    return breakdown


def attach_gfa_by_type(phases: list[Phase]) -> list[Phase]:
    """Set `phase.gfa_by_type` on each phase (one query for the lot)."""
    breakdown = gfa_by_type(phases)
    for phase in phases:
        phase.gfa_by_type = breakdown[phase.pk]
    return phases


def phase_warnings(phase: Phase) -> list[PlanWarning]:
    """Warnings about one phase; expects `site_area_m2` annotated (PhaseQuerySet.with_site_area)."""
    target = ha_to_m2(phase.target_area_ha)
    area = phase.site_area_m2
    if target and abs(area - target) > target * PHASE_TARGET_TOLERANCE:
        return [
            PlanWarning(
                code="phase_area_off_target",
                message=_(
                    "%(phase)s: its parcels total %(area)s, %(pct)s %% from its target of %(target)s "
                    "(more than ± 5 %%)."
                )
                % {
                    "phase": phase.name,
                    "area": fmt_m2(area),
                    "target": fmt_m2(target),
                    "pct": f"{(area - target) / target * 100:+.1f}",
                },
                object_type="phase",
                object_id=phase.pk,
            )
        ]
    return []


def campus_warnings(campus: Campus) -> list[PlanWarning]:
    """Every warning of a campus's plan: phases off target, talent housing over the cap, areas to re-survey."""
    warnings: list[PlanWarning] = []
    for phase in Phase.objects.filter(campus=campus).with_site_area():
        warnings.extend(phase_warnings(phase))
    return warnings + campus_level_warnings(campus)


def campus_level_warnings(campus: Campus) -> list[PlanWarning]:
    """The warnings of a campus's plan that are not about one phase: talent housing, areas to re-survey."""
    warnings: list[PlanWarning] = []
    cap = campus.talent_housing_units_cap
    if cap is not None:
        units = (
            Facility.objects.filter(parcel__campus=campus)
            .counting_against_housing_cap()
            .aggregate(total=Sum("capacity"))["total"]
            or 0
        )
        if units > cap:
            warnings.append(
                PlanWarning(
                    code="talent_housing_over_cap",
                    message=_("Planned talent housing (%(units)s units) exceeds the campus cap of %(cap)s units.")
                    % {"units": f"{units:,.0f}", "cap": f"{cap:,}"},
                    object_type="campus",
                    object_id=campus.pk,
                )
            )

    # Only the two areas: loading every polygon of the campus for this would cost more than the whole page.
    surveyed = Parcel.objects.filter(campus=campus, surveyed_area_m2__isnull=False).only(
        "pk", "code", "surveyed_area_m2", "computed_area_m2"
    )
    for parcel in surveyed:
        if parcel.area_mismatch:
            warnings.append(
                PlanWarning(
                    code="parcel_area_mismatch",
                    message=_(
                        "Parcel %(code)s: surveyed area %(surveyed)s differs from the polygon's %(computed)s "
                        "by %(pct)s %% (more than 1 %%)."
                    )
                    % {
                        "code": parcel.code,
                        "surveyed": fmt_m2(parcel.surveyed_area_m2),
                        "computed": fmt_m2(parcel.computed_area_m2),
                        "pct": f"{parcel.area_difference_pct:+.2f}",
                    },
                    object_type="parcel",
                    object_id=parcel.pk,
                )
            )
    return warnings


def latest_snapshots(phase_ids: Iterable[int]) -> dict[int, ReadinessSnapshot]:
    """The newest readiness snapshot of each phase (one query)."""
    newest = ReadinessSnapshot.objects.filter(phase=OuterRef("phase")).order_by("-computed_at", "-id").values("pk")[:1]
    snapshots = ReadinessSnapshot.objects.filter(phase_id__in=list(phase_ids), pk=Subquery(newest))
    return {snapshot.phase_id: snapshot for snapshot in snapshots}


__all__ = [
    "PlanWarning",
    "attach_gfa_by_type",
    "campus_level_warnings",
    "campus_warnings",
    "gfa_by_type",
    "latest_snapshots",
    "phase_warnings",
]


def forecast_order(item: ScheduleItem) -> tuple:
    """The order of a schedule in forecast (start, then finish, then id; an item not forecast last), in Python: as
    of a past day the forecast is computed once the rows are read, so the database cannot sort by it."""
    return (
        item.forecast_start is None,
        item.forecast_start or datetime.date.min,
        item.forecast_finish is None,
        item.forecast_finish or datetime.date.min,
        item.pk,
    )


def phase_schedule(phase: Phase, *, items=None, as_of: AsOf | None = None) -> dict:
    """The phase's schedule as the engine last stored it (as of a past day: as the engine computes it over the
    network of that day, with that day as today): its items in forecast order (`items`, a queryset of schedule
    items today's or as of the day, may bring prefetches), the target and forecast completion, the slip between
    them, and the critical items' ids in order. Two queries with the API's prefetch of predecessors, whatever the
    number of items (as of a day, a few more for the engine's network)."""
    if items is None:
        items = plan_rows(ScheduleItem, as_of).with_overdue()
        items = items.with_schedule() if as_of is not None else items
    rows = sorted(items.filter(phase_id=phase.pk), key=forecast_order)
    finishes = [item.forecast_finish for item in rows if item.forecast_finish is not None]
    forecast = max(finishes) if finishes else None
    return {
        "phase": phase.pk,
        "planned_start": phase.planned_start,
        "target_completion": phase.planned_completion,
        "forecast_completion": forecast,
        "completion_slip_days": (forecast - phase.planned_completion).days if forecast else None,
        "critical_path": [item.pk for item in rows if item.critical],
        "items": rows,
    }


# --- the phase view (`/plan/phases/<number>/`) -----------------------------------------------------------------


def phase_facilities(phase: Phase, *, as_of: AsOf | None = None):
    """The phase's facilities with their type (today's, or as they stood at the end of `as_of`'s day), by name."""
    rows = plan_rows(Facility, as_of).filter(parcel__phase=phase.pk).select_related("facility_type")
    return rows.order_by("name", "pk")


def phase_programme_by_type(
    phase: Phase, *, facilities: Iterable[Facility] | None = None, as_of: AsOf | None = None
) -> list[FacilityType]:
    """The facility types planned in the phase, each with `facility_count`, `gfa_m2` and `capacity` (in the type's
    own unit; None when none of its facilities gives one) summed over the phase's facilities, largest GFA first.

    Summed here rather than in SQL: the phase view has read the facilities with their types already (pass them as
    `facilities`, as `phase_facility_completions` gives them), and the same sums then serve the plan as of a past
    day (`as_of`), whose history tables a join through the types' facilities cannot read. Without `facilities`,
    one query."""
    if facilities is None:
        facilities = phase_facilities(phase, as_of=as_of)
    types: dict[int, FacilityType] = {}
    for facility in facilities:
        facility_type = types.get(facility.facility_type_id)
        if facility_type is None:
            facility_type = types[facility.facility_type_id] = facility.facility_type
            facility_type.facility_count, facility_type.gfa_m2, facility_type.capacity = 0, Decimal(0), None
        facility_type.facility_count += 1
        facility_type.gfa_m2 += facility.gfa_m2
        if facility.capacity is not None:
            facility_type.capacity = (facility_type.capacity or 0) + facility.capacity
    return sorted(types.values(), key=lambda facility_type: (-facility_type.gfa_m2, facility_type.code))


def facility_power_mva(facility: Facility) -> Decimal:
    """A facility's power demand by its type's assumptions, as the utilities criterion counts it
    (`readiness.demand_by_phase`): GFA × kVA per m², or for types given by IT load, capacity in MW × PUE."""
    facility_type = facility.facility_type
    if facility_type.power_kva_per_m2 is not None:
        return facility.gfa_m2 * facility_type.power_kva_per_m2 / 1000
    if facility_type.pue is not None:
        return (facility.capacity or 0) * facility_type.pue
    return Decimal(0)


def facility_water_m3_day(facility: Facility) -> Decimal:
    """A facility's water demand: GFA ÷ 1,000 × its type's m³/day per 1,000 m² (as `readiness.demand_by_phase`)."""
    per_1000 = facility.facility_type.water_m3_day_per_1000m2
    return facility.gfa_m2 / 1000 * per_1000 if per_1000 is not None else Decimal(0)


@dataclass(frozen=True)
class SupplyStep:
    """One date on which a utility's demand or supply changes, and where both stand from that day: the demand of
    the facilities complete by then, the committed (or commissioned) capacity and the capacity only planned."""

    date: datetime.date
    facilities: tuple[Facility, ...]  # completing that day: their demand starts
    lines: tuple[UtilityCapacity, ...]  # available from that day
    demand: Decimal
    firm: Decimal
    planned: Decimal

    @property
    def shortfall(self) -> Decimal:
        """Demand beyond the committed capacity (0 when covered)."""
        return max(Decimal(0), self.demand - self.firm)

    @property
    def shortfall_with_planned(self) -> Decimal:
        """Demand beyond all the capacity, planned included (0 when the planned supply would cover it)."""
        return max(Decimal(0), self.demand - self.firm - self.planned)


@dataclass(frozen=True)
class UtilityOutlook:
    """A phase's demand for one utility against its supply, date by date."""

    kind: str
    label: str
    unit: str
    steps: tuple[SupplyStep, ...]

    @property
    def demand(self) -> Decimal:
        return self.steps[-1].demand if self.steps else Decimal(0)

    @property
    def first_short(self) -> SupplyStep | None:
        """The first date from which demand exceeds the committed capacity."""
        return next((step for step in self.steps if step.shortfall > 0), None)

    @property
    def worst(self) -> SupplyStep | None:
        """The date of the largest shortfall against committed capacity (None: always covered)."""
        short = [step for step in self.steps if step.shortfall > 0]
        return max(short, key=lambda step: (step.shortfall, -step.date.toordinal())) if short else None


# The utilities whose demand the facility types' assumptions give (`readiness.UtilitiesCriterion.KINDS`).
DEMAND_KINDS = {
    UtilityCapacity.Kind.POWER: facility_power_mva,
    UtilityCapacity.Kind.WATER: facility_water_m3_day,
}
FIRM_STATUSES = (UtilityCapacity.Status.COMMITTED, UtilityCapacity.Status.COMMISSIONED)


def phase_facility_completions(phase: Phase, *, default: datetime.date, as_of: AsOf | None = None) -> list[Facility]:
    """The phase's facilities with their type, each with `completes_on` and where that date comes from
    (`completion_source`): its own planned completion, else the latest forecast finish of the schedule items that
    deliver it, else `default` (the phase's forecast completion). One query.

    As of a past day (`as_of`): the facilities, their types and the schedule items as they stood at the end of it,
    the items' forecast computed by the engine over the network of that day (the history does not keep it), so a
    few queries more."""
    facilities = phase_facilities(phase, as_of=as_of)
    if as_of is None:
        facilities = list(facilities.annotate(delivered_on=Max("schedule_items__forecast_finish")))
    else:
        facilities = list(facilities)
        delivering = as_of.rows(ScheduleItem).filter(facility_id__in=[facility.pk for facility in facilities])
        finishes: dict[int, list[datetime.date]] = {}
        for item in delivering.with_schedule():
            if item.forecast_finish is not None:
                finishes.setdefault(item.facility_id, []).append(item.forecast_finish)
        for facility in facilities:
            facility.delivered_on = max(finishes.get(facility.pk, ()), default=None)
    for facility in facilities:
        if facility.planned_completion is not None:
            facility.completes_on, facility.completion_source = facility.planned_completion, "planned"
        elif facility.delivered_on is not None:
            facility.completes_on, facility.completion_source = facility.delivered_on, "schedule"
        else:
            facility.completes_on, facility.completion_source = default, "phase"
    return facilities


def phase_utility_outlook(facilities: list[Facility], utilities: list[UtilityCapacity]) -> dict[str, UtilityOutlook]:
    """Power and water of a phase date by date: `facilities` as `phase_facility_completions` gives them, `utilities`
    the phase's utility capacity lines. A facility's demand counts from its completion, a line's capacity from its
    `available_from`; committed and commissioned lines are firm, planned ones are not (as the utilities criterion
    counts them)."""
    outlooks = {}
    for kind, demand_of in DEMAND_KINDS.items():
        events: dict[datetime.date, tuple[list, list]] = {}
        for facility in facilities:
            if demand_of(facility):
                events.setdefault(facility.completes_on, ([], []))[0].append(facility)
        for line in utilities:
            if line.kind == kind:
                events.setdefault(line.available_from, ([], []))[1].append(line)
        demand = firm = planned = Decimal(0)
        steps = []
        for date in sorted(events):
            completing, available = events[date]
            demand += sum((demand_of(facility) for facility in completing), Decimal(0))
            firm += sum((line.capacity for line in available if line.status in FIRM_STATUSES), Decimal(0))
            planned += sum((line.capacity for line in available if line.status not in FIRM_STATUSES), Decimal(0))
            steps.append(SupplyStep(date, tuple(completing), tuple(available), demand, firm, planned))
        label = UtilityCapacity.Kind(kind).label
        outlooks[kind] = UtilityOutlook(kind, str(label), str(UtilityCapacity.UNITS[kind]), tuple(steps))
    return outlooks
