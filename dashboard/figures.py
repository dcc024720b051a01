"""Every figure of the executive dashboard, computed once for the page, the API and the board pack's downloads.

`figures(campus, phase=, facility_type=, as_of=)` answers a plain structure (dicts, lists, Decimals, dates) that
`/dashboard/`, `GET /api/v1/dashboard/`, the XLSX and the CSV all render; `cached_figures` keeps it in the cache
under the data's generation (`core.freshness`), so a figure is never older than the data it summarises.

How it reads. The plan's small tables (phases, parcels, facility types, facilities, utility lines, commitment
stages) are read as rows; the large ones (EOIs, commitments, allocations, readiness snapshots) are summed in the
database, grouped by the keys that place them on the plan (parcel, facility, phase, type, status, stage), and the
groups are placed in Python. So the number of queries is fixed whatever the size of the data, and the same code reads
the plan as it stood at the end of a past day: each table is read through `planning.asof.plan_rows` (its history),
the readiness from the snapshots computed by then, the schedule's forecast from the engine over that day's network.

What each figure sums, and with which probabilities, is written beside it below and in the README ("The executive
dashboard"); the tests check each against hand arithmetic on the demo data.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace

from django.core.cache import cache
from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core import freshness
from core.units import ha_to_m2
from partners.models import LIVE_STATUSES, Commitment, CommitmentStage, ExpressionOfInterest, MoU, Sector
from partners.selectors import percent
from planning.asof import AsOf, plan_rows
from planning.models import (
    Campus,
    Facility,
    FacilityType,
    Parcel,
    Phase,
    ReadinessSnapshot,
    ScheduleItem,
    UtilityCapacity,
)
from planning.querysets import site_area_expression
from planning.readiness import AT_RISK, FAIL, PASS, REGISTRY, render_reason
from planning.readiness.reasons import CRITERION_STATES
from planning.selectors import DEMAND_KINDS, FIRM_STATUSES
from tenants.models import SpaceAllocation

ZERO = Decimal(0)
# Land whose status is one of these has been handed over to HKSTP.
HANDED_OVER = (Parcel.LandStatus.TRANSFERRED, Parcel.LandStatus.SITE_FORMATION, Parcel.LandStatus.SITE_READY)
# The schedule section looks this far ahead for milestones; the trend this far back.
MILESTONE_WINDOW_DAYS = 90
TREND_DAYS = 365
PIPELINE_MONTHS = 12
TOP_REASONS = 3
CACHE_SECONDS = 24 * 3600
# The EOI statuses the funnel shows, in the workflow's order: a draft is the partner's own until submitted.
FUNNEL_STATUSES = [status for status in ExpressionOfInterest.Status.values if status != "draft"]
# Commitments shown as what blocks a phase whose commitments fall short: the largest not yet binding.
BINDING_PROBABILITY = Decimal("0.8")
COMMITMENTS_SHOWN = 5
STATE_ORDER = {FAIL: 0, AT_RISK: 1, PASS: 2}

# The headline figures, each with its unit (the API's `units`, the downloads' unit column).
UNITS = {
    "land_target_m2": "m2",
    "land_held_m2": "m2",
    "land_handed_over_m2": "m2",
    "gfa_planned_m2": "m2",
    "lettable_gfa_m2": "m2",
    "weighted_occupancy_gfa_m2": "m2",
    "precommitment_pct": "percent",
    "weighted_capital_hkd_m": "HKD million",
    "capex_hkd_m": "HKD million",
    "capital_cover_pct": "percent",
    "live_eoi_count": "EOIs",
    "live_eoi_gfa_m2": "m2",
    "live_eoi_jobs": "jobs",
    "live_eoi_investment_hkd_m": "HKD million",
    "talent_housing_units": "housing units",
    "talent_housing_cap": "housing units",
    "power_demand_mva": "MVA",
    "power_firm_mva": "MVA",
    "power_planned_mva": "MVA",
    "water_demand_m3_day": "m3/day",
    "water_firm_m3_day": "m3/day",
    "water_planned_m3_day": "m3/day",
}
FIGURES = tuple(UNITS)
COUNTS = ("live_eoi_count", "live_eoi_jobs")  # whole numbers
# Each figure's name and unit in the reader's language (the page's tables, the downloads).
LABELS = {
    "land_target_m2": (_lazy("Land target"), _lazy("m²")),
    "land_held_m2": (_lazy("Land held (in phases)"), _lazy("m²")),
    "land_handed_over_m2": (_lazy("Land handed over"), _lazy("m²")),
    "gfa_planned_m2": (_lazy("GFA planned"), _lazy("m²")),
    "lettable_gfa_m2": (_lazy("Lettable GFA"), _lazy("m²")),
    "weighted_occupancy_gfa_m2": (_lazy("Weighted committed occupancy GFA"), _lazy("m²")),
    "precommitment_pct": (_lazy("Pre-commitment"), _lazy("%")),
    "weighted_capital_hkd_m": (_lazy("Weighted committed capital"), _lazy("HKD million")),
    "capex_hkd_m": (_lazy("Capital cost estimate (capex)"), _lazy("HKD million")),
    "capital_cover_pct": (_lazy("Capex covered by weighted capital"), _lazy("%")),
    "live_eoi_count": (_lazy("Live EOIs"), _lazy("EOIs")),
    "live_eoi_gfa_m2": (_lazy("GFA asked for in live EOIs"), _lazy("m²")),
    "live_eoi_jobs": (_lazy("Jobs pledged in live EOIs"), _lazy("jobs")),
    "live_eoi_investment_hkd_m": (_lazy("Investment pledged in live EOIs"), _lazy("HKD million")),
    "talent_housing_units": (_lazy("Talent-housing units planned"), _lazy("units")),
    "talent_housing_cap": (_lazy("Talent-housing cap (land grant)"), _lazy("units")),
    "power_demand_mva": (_lazy("Power demand at full build-out"), _lazy("MVA")),
    "power_firm_mva": (_lazy("Power supply committed"), _lazy("MVA")),
    "power_planned_mva": (_lazy("Power supply planned"), _lazy("MVA")),
    "water_demand_m3_day": (_lazy("Water demand at full build-out"), _lazy("m³/day")),
    "water_firm_m3_day": (_lazy("Water supply committed"), _lazy("m³/day")),
    "water_planned_m3_day": (_lazy("Water supply planned"), _lazy("m³/day")),
}


@dataclass(frozen=True)
class Filters:
    """What the figures are narrowed to: one phase (its number) and one facility type (its code); None for all."""

    phase: int | None = None
    facility_type: str | None = None


class Totals:
    """The headline figures of one scope (the campus, or one phase), added up as the rows are placed."""

    def __init__(self):
        self.values = dict.fromkeys(FIGURES, ZERO)
        self.values["talent_housing_cap"] = None
        self.gfa_by_type: dict[int, dict[str, Decimal]] = defaultdict(
            lambda: {"planned_m2": ZERO, "committed_m2": ZERO, "allocated_m2": ZERO}
        )

    def add(self, name: str, value) -> None:
        self.values[name] += value or ZERO

    def finish(self) -> dict:
        values = self.values
        values["precommitment_pct"] = percent(values["weighted_occupancy_gfa_m2"], values["lettable_gfa_m2"])
        values["capital_cover_pct"] = percent(values["weighted_capital_hkd_m"], values["capex_hkd_m"])
        for name in COUNTS:
            values[name] = int(values[name])
        return values


def cache_key(kind: str, campus: Campus, filters: Filters, as_of: AsOf | None, *extra) -> str:
    """The cache key of something computed from the figures: valid while no data has changed (the generation), on
    the same day (what is ahead and overdue moves with it), in the same language."""
    today = as_of.day if as_of else timezone.localdate()
    parts = (kind, freshness.generation(), campus.pk, filters.phase, filters.facility_type, as_of.day if as_of else "")
    return ":".join(str(part) for part in (*parts, today, get_language(), *extra))


def cached_figures(campus: Campus, filters: Filters, as_of: AsOf | None = None) -> dict:
    """`figures`, from the cache while no data has changed since they were computed (and the day is the same)."""
    key = cache_key("dashboard", campus, filters, as_of)
    found = cache.get(key)
    if found is None:
        found = figures(campus, filters, as_of=as_of)
        cache.set(key, found, CACHE_SECONDS)
    return found


def figures(campus: Campus, filters: Filters, *, as_of: AsOf | None = None) -> dict:
    """Every figure of the dashboard for `campus` (as it stood at the end of `as_of`'s day, when given)."""
    today = as_of.day if as_of else timezone.localdate()
    reader = _Reader(campus, filters, as_of, today)
    return reader.read()


class _Reader:
    def __init__(self, campus: Campus, filters: Filters, as_of: AsOf | None, today: datetime.date):
        self.campus, self.filters, self.as_of, self.today = campus, filters, as_of, today

    def rows(self, model):
        return plan_rows(model, self.as_of)

    # --- the plan ----------------------------------------------------------------------------------------------

    def read(self) -> dict:
        # As of a past day, the campus's target and cap as they stood then.
        campus = (self.as_of.rows(Campus).filter(id=self.campus.pk).first() if self.as_of else None) or self.campus
        self.campus = campus
        self.all_phases = list(self.rows(Phase).filter(campus_id=campus.pk).order_by("number"))
        phases = [p for p in self.all_phases if self.filters.phase in (None, p.number)]
        self.phases = {phase.pk: phase for phase in phases}
        self.types = {t.pk: t for t in self.rows(FacilityType).order_by("code")}
        wanted_type = next((t.pk for t in self.types.values() if t.code == self.filters.facility_type), None)
        self.type_ok = (lambda pk: True) if self.filters.facility_type is None else (lambda pk: pk == wanted_type)

        self.campus_totals = Totals()
        self.phase_totals = {pk: Totals() for pk in self.phases}
        self.parcel_phase: dict[int, int | None] = {}
        self.parcel_code: dict[int, str] = {}
        self._land()
        self.facility_place: dict[int, tuple[int, int]] = {}
        self._facilities()
        self._utilities()
        self._commitments()
        self._allocations()
        self._eois()

        readiness = self._readiness()
        schedule = self._schedule()
        blockers = self._blockers()
        # Filtered to a phase, the top-level figures are the phase's (its target area in place of the campus's).
        scope_totals = self.campus_totals if self.filters.phase is None else self._only_phase_totals()
        campus_values = scope_totals.finish()
        campus_values["talent_housing_cap"] = campus.talent_housing_units_cap
        phase_rows = []
        for pk, phase in self.phases.items():
            values = self.phase_totals[pk].finish()
            values["talent_housing_cap"] = campus.talent_housing_units_cap
            phase_rows.append(
                {
                    "number": phase.number,
                    "name": phase.name,
                    "status": phase.status,
                    "status_label": str(phase.get_status_display()),
                    **readiness[pk],
                    **schedule["completion"][pk],
                    "figures": values,
                    "gfa_by_type": self._by_type(self.phase_totals[pk]),
                    "blockers": blockers[pk],
                }
            )
        return {
            "computed_at": timezone.now(),
            "as_of": self.as_of.day if self.as_of else None,
            "today": self.today,
            "campus": {"code": campus.code, "name": campus.name},
            "filters": {"phase": self.filters.phase, "facility_type": self.filters.facility_type},
            "figures": campus_values,
            "units": UNITS,
            "gfa_by_type": self._by_type(scope_totals),
            "phases": phase_rows,
            "readiness_trend": self._trend(),
            "pipeline": self._pipeline(),
            "schedule": {"milestones": schedule["milestones"], "overdue": schedule["overdue"]},
        }

    def _only_phase_totals(self) -> Totals:
        return next(iter(self.phase_totals.values()), Totals())

    def _scopes(self, phase_id):
        """The totals a row on a parcel of `phase_id` counts in: the campus's, and its phase's when shown."""
        scopes = [self.campus_totals]
        if phase_id in self.phase_totals:
            scopes.append(self.phase_totals[phase_id])
        return scopes

    def _land(self) -> None:
        """Land held: site area of the parcels in a phase (of the campus; of the phase). Handed over: of those whose
        land status is transferred or later. The target: the campus's land target, or the phase's target area."""
        self.campus_totals.values["land_target_m2"] = ha_to_m2(self.campus.land_target_ha)
        for pk, phase in self.phases.items():
            self.phase_totals[pk].values["land_target_m2"] = ha_to_m2(phase.target_area_ha)
            self.phase_totals[pk].values["capex_hkd_m"] = phase.capex_hkd_m
        self.campus_totals.values["capex_hkd_m"] = sum((p.capex_hkd_m for p in self.all_phases), ZERO)
        parcels = (
            self.rows(Parcel)
            .filter(campus_id=self.campus.pk)
            .annotate(site_area=site_area_expression())
            .values_list("id", "code", "phase_id", "land_status", "site_area")
        )
        for pk, code, phase_id, land_status, area in parcels:
            self.parcel_phase[pk], self.parcel_code[pk] = phase_id, code
            if phase_id is None:
                continue
            for totals in self._scopes(phase_id):
                totals.add("land_held_m2", area)
                if land_status in HANDED_OVER:
                    totals.add("land_handed_over_m2", area)

    def _facilities(self) -> None:
        """GFA planned: every facility on the campus's parcels (reserve parcels count in the campus, in no phase);
        lettable GFA: of the types marked lettable; talent housing: capacity of the types counting against the
        land grant's cap; power and water demand: each facility's by its type's assumptions, as the utilities
        criterion counts it, at full build-out."""
        parcels = self.rows(Parcel).filter(campus_id=self.campus.pk).order_by().values("id")
        rows = (
            self.rows(Facility)
            .filter(parcel_id__in=parcels)
            .values_list("id", "parcel_id", "facility_type_id", "gfa_m2", "capacity")
        )
        power, water = DEMAND_KINDS[UtilityCapacity.Kind.POWER], DEMAND_KINDS[UtilityCapacity.Kind.WATER]
        for pk, parcel_id, type_id, gfa, capacity in rows:
            if parcel_id not in self.parcel_phase:
                continue  # created between the two reads
            phase_id = self.parcel_phase[parcel_id]
            self.facility_place[pk] = (parcel_id, type_id)
            facility_type = self.types.get(type_id)
            if facility_type is None or not self.type_ok(type_id):
                continue
            # What the demand functions read of a facility, without building a model instance for each row.
            facility = SimpleNamespace(gfa_m2=gfa, capacity=capacity, facility_type=facility_type)
            demand = (power(facility), water(facility))
            for totals in self._scopes(phase_id):
                totals.add("gfa_planned_m2", gfa)
                totals.gfa_by_type[type_id]["planned_m2"] += gfa
                if facility_type.lettable:
                    totals.add("lettable_gfa_m2", gfa)
                if facility_type.counts_against_housing_cap:
                    totals.add("talent_housing_units", capacity)
                totals.add("power_demand_mva", demand[0])
                totals.add("water_demand_m3_day", demand[1])

    def _utilities(self) -> None:
        """Power and water supply of the phases: committed and commissioned lines are firm, planned ones not."""
        names = {UtilityCapacity.Kind.POWER: "power", UtilityCapacity.Kind.WATER: "water"}
        units = {"power": "mva", "water": "m3_day"}
        lines = (
            self.rows(UtilityCapacity)
            .filter(phase_id__in=[p.pk for p in self.all_phases], kind__in=list(names))
            .values_list("phase_id", "kind", "status", "capacity")
        )
        for phase_id, kind, status, capacity in lines:
            name = names[kind]
            firmness = "firm" if status in FIRM_STATUSES else "planned"
            scopes = [self.campus_totals] + ([self.phase_totals[phase_id]] if phase_id in self.phase_totals else [])
            for totals in scopes:
                totals.add(f"{name}_{firmness}_{units[name]}", capacity)

    def _commitments(self) -> None:
        """Weighted occupancy GFA: Σ GFA × the stage's probability over occupancy commitments; weighted capital:
        Σ amount × probability over capital commitments (never added together). Under a facility-type filter, only
        commitments naming a facility of that type count."""
        self.stages = {stage.pk: stage for stage in self.rows(CommitmentStage).order_by("order")}
        self.by_stage: dict[int, dict] = {
            pk: {
                "count": 0,
                "gfa_m2": ZERO,
                "weighted_gfa_m2": ZERO,
                "amount_hkd_m": ZERO,
                "weighted_amount_hkd_m": ZERO,
            }
            for pk in self.stages
        }
        groups = (
            self.rows(Commitment)
            .order_by()
            .values("parcel_id", "facility_id", "kind", "stage_id")
            .annotate(count=Count("id"), gfa=Sum("gfa_m2"), amount=Sum("amount_hkd_m"))
        )
        for group in groups:
            parcel_id = group["parcel_id"]
            if parcel_id not in self.parcel_phase:
                continue
            phase_id = self.parcel_phase[parcel_id]
            if self.filters.phase is not None and phase_id not in self.phases:
                continue
            type_id = self.facility_place.get(group["facility_id"], (None, None))[1]
            if self.filters.facility_type is not None and not self.type_ok(type_id):
                continue
            stage = self.stages.get(group["stage_id"])
            probability = stage.probability if stage else ZERO
            gfa, amount = group["gfa"] or ZERO, group["amount"] or ZERO
            summary = self.by_stage.get(group["stage_id"])
            if summary is not None:
                summary["count"] += group["count"]
                if group["kind"] == Commitment.Kind.OCCUPANCY:
                    summary["gfa_m2"] += gfa
                    summary["weighted_gfa_m2"] += gfa * probability
                if group["kind"] == Commitment.Kind.CAPITAL:
                    summary["amount_hkd_m"] += amount
                    summary["weighted_amount_hkd_m"] += amount * probability
            for totals in self._scopes(phase_id):
                if group["kind"] == Commitment.Kind.OCCUPANCY:
                    totals.add("weighted_occupancy_gfa_m2", gfa * probability)
                    if type_id is not None:
                        totals.gfa_by_type[type_id]["committed_m2"] += gfa * probability
                elif group["kind"] == Commitment.Kind.CAPITAL:
                    totals.add("weighted_capital_hkd_m", amount * probability)

    def _allocations(self) -> None:
        """Allocated GFA: signed and occupied space allocations (what holds space), per facility type."""
        groups = (
            self.rows(SpaceAllocation)
            .filter(status__in=list(SpaceAllocation.HOLDING_SPACE))
            .order_by()
            .values("facility_id")
            .annotate(gfa=Sum("gfa_m2"))
        )
        for group in groups:
            place = self.facility_place.get(group["facility_id"])
            if place is None or not self.type_ok(place[1]):
                continue
            for totals in self._scopes(self.parcel_phase[place[0]]):
                totals.gfa_by_type[place[1]]["allocated_m2"] += group["gfa"] or ZERO

    def _eoi_phase(self, parcel_id, phase_id):
        """The phase an EOI counts in (as `partners.selectors`): its parcel's, else the phase it names; and whether
        it is on this campus. An EOI naming no place asks for the campus as a whole: it counts in no phase."""
        if parcel_id is not None:
            if parcel_id not in self.parcel_phase:
                return None, False
            return self.parcel_phase[parcel_id] or (phase_id if phase_id in self._campus_phase_ids else None), True
        if phase_id is not None:
            return (phase_id, True) if phase_id in self._campus_phase_ids else (None, False)
        return None, True

    def _eoi_counted(self, group: dict) -> tuple[bool, int | None]:
        """Whether a group of EOIs counts under the filters (on the campus, of the type, in the phase), and the
        phase it counts in."""
        phase_id, on_campus = self._eoi_phase(group["preferred_parcel_id"], group["preferred_phase_id"])
        in_phase = self.filters.phase is None or phase_id in self.phases
        return on_campus and in_phase and self.type_ok(group["facility_type_id"]), phase_id

    def _eois(self) -> None:
        """Live EOIs (submitted, under review, shortlisted, on hold, accepted): their count, GFA, jobs and
        investment; and the pipeline's counts by status and by sector (every status but draft)."""
        self._campus_phase_ids = {p.pk for p in self.all_phases}
        self.eoi_status = defaultdict(lambda: {"count": 0, "gfa_m2": ZERO})
        self.eoi_sector = defaultdict(lambda: {"count": 0, "gfa_m2": ZERO})
        groups = (
            self.rows(ExpressionOfInterest)
            .exclude(status="draft")
            .order_by()
            .values("preferred_parcel_id", "preferred_phase_id", "facility_type_id", "status", "organisation__sector")
            .annotate(count=Count("id"), gfa=Sum("gfa_m2"), jobs=Sum("jobs"), investment=Sum("investment_hkd_m"))
        )
        for group in groups:
            counted, phase_id = self._eoi_counted(group)
            if not counted:
                continue
            for summary in (self.eoi_status[group["status"]], self.eoi_sector[group["organisation__sector"]]):
                summary["count"] += group["count"]
                summary["gfa_m2"] += group["gfa"] or ZERO
            if group["status"] not in LIVE_STATUSES:
                continue
            for totals in self._scopes(phase_id):
                totals.add("live_eoi_count", group["count"])
                totals.add("live_eoi_gfa_m2", group["gfa"])
                totals.add("live_eoi_jobs", group["jobs"])
                totals.add("live_eoi_investment_hkd_m", group["investment"])
        self._eoi_months()

    def _eoi_months(self) -> None:
        """New EOIs per month: by the month (Hong Kong time) they were submitted, the last twelve months."""
        months_back = self.today.year * 12 + self.today.month - 1 - (PIPELINE_MONTHS - 1)
        first = datetime.date(months_back // 12, months_back % 12 + 1, 1)
        since = timezone.make_aware(datetime.datetime.combine(first, datetime.time.min))
        groups = (
            self.rows(ExpressionOfInterest)
            .filter(submitted_at__gte=since)
            .order_by()
            .annotate(month=TruncMonth("submitted_at"))
            .values("month", "preferred_parcel_id", "preferred_phase_id", "facility_type_id")
            .annotate(count=Count("id"))
        )
        months = []
        day = first
        while day <= self.today:
            months.append(day)
            day = (day + datetime.timedelta(days=32)).replace(day=1)
        counts = dict.fromkeys(months, 0)
        for group in groups:
            if not self._eoi_counted(group)[0]:
                continue
            month = group["month"]
            month = month.date() if isinstance(month, datetime.datetime) else month
            if month in counts:
                counts[month] += group["count"]
        self.eoi_months = [{"month": month, "count": count} for month, count in counts.items()]

    def _pipeline(self) -> dict:
        mous = (
            self.rows(MoU).order_by().values("status").annotate(count=Count("id"))
            if self.filters.phase is None and self.filters.facility_type is None
            else []
        )
        mou_counts = {row["status"]: row["count"] for row in mous}
        return {
            "eois_by_status": [
                {
                    "status": status,
                    "label": str(ExpressionOfInterest.Status(status).label),
                    "live": status in LIVE_STATUSES,
                    **self.eoi_status.get(status, {"count": 0, "gfa_m2": ZERO}),
                }
                for status in FUNNEL_STATUSES
            ],
            "eois_by_sector": [
                {"sector": sector, "label": str(Sector(sector).label), **self.eoi_sector[sector]}
                for sector in Sector.values
                if sector in self.eoi_sector
            ],
            # MoUs name no phase or facility: shown for the campus only.
            "mous_by_status": [
                {"status": status, "label": str(MoU.Status(status).label), "count": mou_counts.get(status, 0)}
                for status in MoU.Status.values
            ]
            if self.filters.phase is None and self.filters.facility_type is None
            else [],
            "commitments_by_stage": [
                {"stage": stage.code, "label": stage.name, "probability": stage.probability, **self.by_stage[pk]}
                for pk, stage in self.stages.items()
            ],
            "eois_per_month": self.eoi_months,
        }

    def _by_type(self, totals: Totals) -> list[dict]:
        rows = []
        for type_id, values in totals.gfa_by_type.items():
            facility_type = self.types.get(type_id)
            if facility_type is None or not any(values.values()):
                continue
            rows.append({"facility_type": facility_type.code, "label": facility_type.name, **values})
        return sorted(rows, key=lambda row: (-row["planned_m2"], row["facility_type"]))

    # --- readiness ---------------------------------------------------------------------------------------------

    def _snapshots(self):
        snapshots = ReadinessSnapshot.objects.filter(phase_id__in=list(self.phases))
        return snapshots.filter(computed_at__lt=self.as_of.moment) if self.as_of else snapshots

    def _readiness(self) -> dict[int, dict]:
        """Each phase's latest snapshot (by the end of the day, as of a past day): state, score, when, and the top
        reasons (from the criteria failing, then at risk); `stale` while a recompute is pending (today only)."""
        latest_ids = (
            self._snapshots()
            .order_by()
            .values("phase_id")
            .annotate(latest=Max("computed_at"))
            .values("phase_id", "latest")
        )
        wanted = Q()
        for row in latest_ids:
            wanted |= Q(phase_id=row["phase_id"], computed_at=row["latest"])
        snapshots = {}
        if wanted:
            for snapshot in self._snapshots().filter(wanted).order_by("phase_id", "-id"):
                snapshots.setdefault(snapshot.phase_id, snapshot)
        self.snapshots = snapshots
        result = {}
        for pk, phase in self.phases.items():
            snapshot = snapshots.get(pk)
            criteria = sorted(
                (c for c in (snapshot.criteria if snapshot else []) if c["state"] != PASS),
                key=lambda c: STATE_ORDER.get(c["state"], 0),
            )
            reasons = [
                render_reason(reason)
                for criterion in criteria
                for reason in criterion["reasons"]
                if not reason.get("fine")
            ]
            result[pk] = {
                "readiness_state": snapshot.state if snapshot else None,
                "readiness_state_label": str(snapshot.get_state_display()) if snapshot else _("Not computed"),
                "readiness_score": snapshot.score if snapshot else None,
                "readiness_computed_at": snapshot.computed_at if snapshot else None,
                "stale": bool(phase.readiness_stale) and self.as_of is None,
                "top_reasons": reasons[:TOP_REASONS],
            }
        return result

    def _trend(self) -> list[dict]:
        """Each phase's readiness score over the last year: the last snapshot of each day (Hong Kong time)."""
        since = timezone.make_aware(
            datetime.datetime.combine(self.today - datetime.timedelta(days=TREND_DAYS), datetime.time.min)
        )
        last_of_day = (
            self._snapshots()
            .filter(computed_at__gte=since)
            .annotate(day=TruncDate("computed_at"))
            .order_by()
            .values("phase_id", "day")
            .annotate(last=Max("id"))
            .values("last")
        )
        points = defaultdict(list)
        rows = ReadinessSnapshot.objects.filter(id__in=last_of_day).order_by("computed_at", "id")
        for phase_id, computed_at, score, state in rows.values_list("phase_id", "computed_at", "score", "state"):
            points[phase_id].append({"day": timezone.localdate(computed_at), "score": score, "state": state})
        return [
            {"number": phase.number, "name": phase.name, "points": points.get(pk, [])}
            for pk, phase in self.phases.items()
        ]

    # --- the schedule ------------------------------------------------------------------------------------------

    def _schedule(self) -> dict:
        """Milestones forecast in the next 90 days, overdue items (not finished, baseline finish passed), each
        phase's forecast completion (its latest forecast finish) against its target, and the critical items that
        slip (forecast finish after baseline finish), for what blocks each phase."""
        items = self.rows(ScheduleItem).filter(phase_id__in=list(self.phases))
        if self.as_of is None:
            horizon = self.today + datetime.timedelta(days=MILESTONE_WINDOW_DAYS)
            milestones = items.filter(
                kind=ScheduleItem.Kind.MILESTONE,
                actual_finish__isnull=True,
                forecast_finish__gte=self.today,
                forecast_finish__lte=horizon,
            )
            overdue = items.overdue(self.today)
            slipping = items.filter(critical=True, actual_finish__isnull=True, forecast_finish__gt=F("baseline_finish"))
            finishes = dict(
                items.order_by()
                .values("phase_id")
                .annotate(last=Max("forecast_finish"))
                .values_list("phase_id", "last")
            )
            chosen = {item.pk: item for group in (milestones, overdue, slipping) for item in group}
        else:
            every = list(items.with_schedule())
            finishes = {}
            for item in every:
                if item.forecast_finish and (
                    item.phase_id not in finishes or item.forecast_finish > finishes[item.phase_id]
                ):
                    finishes[item.phase_id] = item.forecast_finish
            chosen = {item.pk: item for item in every}
        horizon = self.today + datetime.timedelta(days=MILESTONE_WINDOW_DAYS)
        ordered = sorted(chosen.values(), key=lambda item: (item.forecast_finish or datetime.date.max, item.pk))
        number = {pk: phase.number for pk, phase in self.phases.items()}

        def entry(item):
            return {
                "id": item.pk,
                "phase": number[item.phase_id],
                "name": item.name,
                "kind": item.kind,
                "responsible": item.responsible,
                "baseline_finish": item.baseline_finish,
                "forecast_finish": item.forecast_finish,
                "slip_days": (item.forecast_finish - item.baseline_finish).days
                if item.forecast_finish and item.baseline_finish
                else None,
                "critical": bool(item.critical),
            }

        milestones = [
            entry(item)
            for item in ordered
            if item.kind == ScheduleItem.Kind.MILESTONE
            and item.actual_finish is None
            and item.forecast_finish
            and self.today <= item.forecast_finish <= horizon
        ]
        overdue = [
            entry(item)
            for item in ordered
            if item.actual_finish is None and item.baseline_finish and item.baseline_finish < self.today
        ]
        self.slipping = defaultdict(list)
        for item in ordered:
            slip = entry(item)["slip_days"]
            if item.critical and item.actual_finish is None and slip and slip > 0:
                self.slipping[item.phase_id].append(entry(item))
        completion = {}
        for pk, phase in self.phases.items():
            forecast = finishes.get(pk)
            completion[pk] = {
                "target_completion": phase.planned_completion,
                "forecast_completion": forecast,
                "completion_slip_days": (forecast - phase.planned_completion).days if forecast else None,
            }
        return {"milestones": milestones, "overdue": overdue, "completion": completion}

    # --- what blocks each phase --------------------------------------------------------------------------------

    def _blockers(self) -> dict[int, list[dict]]:
        """For each phase: every reason of a failing or at-risk criterion with the objects behind it (their owner
        and date where they have one), each critical item that slips, and — when commitments fall short — the
        largest commitments not yet binding (below agreement for lease), with their organisation."""
        wanted = defaultdict(set)
        for snapshot in self.snapshots.values():
            for criterion in snapshot.criteria:
                if criterion["state"] == PASS:
                    continue
                for reason in criterion["reasons"]:
                    for obj in reason["objects"] if not reason.get("fine") else ():
                        wanted[obj.get("type")].add(obj.get("id"))
        details = self._object_details(wanted)
        short = {
            phase_id
            for phase_id, snapshot in self.snapshots.items()
            for criterion in snapshot.criteria
            if criterion["code"] == "commitments" and criterion["state"] != PASS
        }
        commitments = self._open_commitments(short)
        result = {}
        for pk in self.phases:
            rows = []
            snapshot = self.snapshots.get(pk)
            criteria = sorted(
                (c for c in (snapshot.criteria if snapshot else []) if c["state"] != PASS),
                key=lambda c: STATE_ORDER.get(c["state"], 0),
            )
            for criterion in criteria:
                for reason in criterion["reasons"]:
                    if reason.get("fine"):
                        continue  # in order: context for the criterion, not a blocker
                    objects = [
                        {**obj, **details.get((obj.get("type"), obj.get("id")), {})} for obj in reason["objects"]
                    ]
                    rows.append(
                        {
                            "kind": "criterion",
                            "criterion": criterion["code"],
                            "criterion_label": _criterion_label(criterion["code"]),
                            "state": criterion["state"],
                            "state_label": str(CRITERION_STATES.get(criterion["state"], criterion["state"])),
                            "gate": criterion.get("gate", False),
                            "text": render_reason(reason),
                            "objects": objects,
                            "owner": next((o["owner"] for o in objects if o.get("owner")), ""),
                            "date": next((o["date"] for o in objects if o.get("date")), None),
                        }
                    )
            for item in self.slipping.get(pk, []):
                rows.append(
                    {
                        "kind": "slip",
                        "criterion": "schedule",
                        "criterion_label": _("Critical path"),
                        "state": AT_RISK,
                        "state_label": str(CRITERION_STATES[AT_RISK]),
                        "gate": False,
                        "text": _("%(item)s forecast %(days)s days after its baseline finish (critical path).")
                        % {"item": item["name"], "days": item["slip_days"]},
                        "objects": [
                            {"type": "schedule_item", "id": item["id"], "label": item["name"], "phase": item["phase"]}
                        ],
                        "owner": item["responsible"],
                        "date": item["forecast_finish"],
                    }
                )
            rows.extend(commitments.get(pk, []))
            result[pk] = rows
        return result

    def _object_details(self, wanted: dict) -> dict:
        """Owner and date of the objects reasons name: a schedule item's responsible party and forecast finish, a
        utility line's responsible party and date available, a parcel's handover date."""
        details = {}
        if wanted.get("schedule_item"):
            items = self.rows(ScheduleItem).filter(id__in=wanted["schedule_item"])
            # As of a past day the forecast is the engine's over that day's network (the history does not keep it).
            for item in items.with_schedule() if self.as_of else items:
                details[("schedule_item", item.pk)] = {
                    "label": item.name,  # in the reader's language (the snapshot keeps the worker's)
                    "owner": item.responsible,
                    "date": item.forecast_finish or item.baseline_finish,
                    "phase": self.phases[item.phase_id].number if item.phase_id in self.phases else None,
                }
        if wanted.get("utility"):
            for line in self.rows(UtilityCapacity).filter(id__in=wanted["utility"]):
                details[("utility", line.pk)] = {
                    "label": str(line),  # the criterion stores its own working object's name
                    "owner": line.responsible,
                    "date": line.available_from,
                    "phase": self.phases[line.phase_id].number if line.phase_id in self.phases else None,
                }
        if wanted.get("parcel"):
            for pk, code, handover in (
                self.rows(Parcel).filter(id__in=wanted["parcel"]).values_list("id", "code", "handover_date")
            ):
                phase = self.phases.get(self.parcel_phase.get(pk))
                details[("parcel", pk)] = {
                    "owner": "",
                    "date": handover,
                    "code": code,
                    "phase": phase.number if phase else None,
                }
        return details

    def _open_commitments(self, phase_ids: set[int]) -> dict[int, list[dict]]:
        if not phase_ids:
            return {}
        parcels = [pk for pk, phase_id in self.parcel_phase.items() if phase_id in phase_ids]
        open_stages = [pk for pk, stage in self.stages.items() if stage.probability < BINDING_PROBABILITY]
        rows = (
            self.rows(Commitment)
            .filter(parcel_id__in=parcels, stage_id__in=open_stages, kind__in=["occupancy", "capital"])
            .values(
                "id",
                "parcel_id",
                "kind",
                "stage_id",
                "gfa_m2",
                "amount_hkd_m",
                "date",
                "organisation__name_en",
                "organisation__name_zh",
            )
        )
        chinese = (get_language() or "").lower().startswith("zh")
        result = defaultdict(list)

        # The largest first, each kind by what it promises: occupancy by its GFA, then capital by its amount.
        def size(row):
            occupancy = row["kind"] == Commitment.Kind.OCCUPANCY
            return (not occupancy, -((row["gfa_m2"] if occupancy else row["amount_hkd_m"]) or 0), row["id"])

        for row in sorted(rows, key=size):
            phase_id = self.parcel_phase[row["parcel_id"]]
            if len(result[phase_id]) >= COMMITMENTS_SHOWN:
                continue
            stage = self.stages[row["stage_id"]]
            organisation = (chinese and row["organisation__name_zh"]) or row["organisation__name_en"]
            what = (
                _("%(gfa)s m² of occupancy") % {"gfa": f"{row['gfa_m2']:,.0f}"}
                if row["kind"] == Commitment.Kind.OCCUPANCY
                else _("HKD %(amount)s million of capital") % {"amount": f"{row['amount_hkd_m']:,.1f}"}
            )
            result[phase_id].append(
                {
                    "kind": "commitment",
                    "criterion": "commitments",
                    "criterion_label": _("Commitments"),
                    "state": AT_RISK,
                    "state_label": str(CRITERION_STATES[AT_RISK]),
                    "gate": False,
                    "text": _("%(organisation)s: %(what)s on parcel %(parcel)s, still at %(stage)s (%(pct)s %%).")
                    % {
                        "organisation": organisation,
                        "what": what,
                        "parcel": self.parcel_code[row["parcel_id"]],
                        "stage": stage.name,
                        "pct": f"{stage.probability * 100:.0f}",
                    },
                    "objects": [
                        {
                            "type": "commitment",
                            "id": row["id"],
                            "label": _("Commitment on %(parcel)s") % {"parcel": self.parcel_code[row["parcel_id"]]},
                            "phase": self.phases[phase_id].number,
                        }
                    ],
                    "owner": organisation,
                    "date": row["date"],
                }
            )
        return result


def _criterion_label(code: str) -> str:
    known = REGISTRY.get(code)
    return str(known.label) if known else code
