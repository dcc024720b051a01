"""Non-trivial reads of planning data: per-type GFA breakdowns and the plan's warnings."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import OuterRef, Subquery, Sum
from django.utils.translation import gettext as _

from core.units import fmt_m2, ha_to_m2

from .models import Campus, Facility, Parcel, Phase, ReadinessSnapshot

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
