"""Roll-ups of partner data onto the plan, computed in SQL: EOI demand, pre-commitment and weighted capital.

Each function annotates a planning queryset (facilities, parcels or phases) with correlated subqueries, so a list
of any length costs one query. Occupancy and capital are summed apart and never added together.
"""

from decimal import Decimal

from django.db.models import DecimalField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import NullIf

from planning.models import Facility
from planning.querysets import summed

from .models import LIVE_STATUSES, Commitment, ExpressionOfInterest

PERCENT = DecimalField(max_digits=9, decimal_places=2)
WEIGHTED_GFA = F("gfa_m2") * F("stage__probability")
WEIGHTED_AMOUNT = F("amount_hkd_m") * F("stage__probability")

# How each level of the plan reaches commitments, EOIs and facilities.
LEVELS = {
    "facility": {"commitment": "facility", "facility": "pk"},
    "parcel": {"commitment": "parcel", "facility": "parcel", "eoi": "preferred_parcel"},
    "phase": {"commitment": "parcel__phase", "facility": "parcel__phase"},
}


def _percent(numerator, denominator):
    """numerator as a % of denominator; NULL when the denominator is 0."""
    return ExpressionWrapper(numerator * Decimal(100) / NullIf(denominator, Decimal(0)), output_field=PERCENT)


def with_commitments(queryset: QuerySet, level: str, *, percentages: bool = True) -> QuerySet:
    """Annotate facilities/parcels/phases with `lettable_gfa_m2`, `weighted_occupancy_gfa_m2`,
    `weighted_capital_hkd_m` and (with `percentages`) `precommitment_pct` (weighted occupancy ÷ lettable GFA).

    A percentage that refers to other annotations makes Django repeat their subqueries in SQL; callers that only
    need the sums (the readiness criterion) ask for them alone and divide in Python.
    """
    path = LEVELS[level]
    commitments = Commitment.objects.filter(**{path["commitment"]: OuterRef("pk")})
    lettable = Facility.objects.filter(**{path["facility"]: OuterRef("pk")}, facility_type__lettable=True)
    queryset = queryset.annotate(
        lettable_gfa_m2=summed(lettable, "gfa_m2", path["facility"]),
        weighted_occupancy_gfa_m2=summed(commitments.filter(kind="occupancy"), WEIGHTED_GFA, path["commitment"]),
        weighted_capital_hkd_m=summed(commitments.filter(kind="capital"), WEIGHTED_AMOUNT, path["commitment"]),
    )
    if not percentages:
        return queryset
    return queryset.annotate(precommitment_pct=_percent(F("weighted_occupancy_gfa_m2"), F("lettable_gfa_m2")))


def with_capital_cover(phases: QuerySet, *, percentages: bool = True) -> QuerySet:
    """Phases with `weighted_capital_hkd_m` and (with `percentages`) its share of the capex (`capital_cover_pct`)."""
    phases = with_commitments(phases, "phase", percentages=percentages)
    if not percentages:
        return phases
    return phases.annotate(capital_cover_pct=_percent(F("weighted_capital_hkd_m"), F("capex_hkd_m")))


# An EOI for a parcel counts in that parcel's phase; one naming only a phase (or a parcel in no phase), in the phase
# it names. Written as two conditions rather than COALESCE(parcel's phase, phase) so PostgreSQL can use indexes.
def _in_phase(phase) -> Q:
    unphased_parcel = Q(preferred_parcel__isnull=True) | Q(preferred_parcel__phase__isnull=True)
    return Q(preferred_parcel__phase=phase) | (Q(preferred_phase=phase) & unphased_parcel)


def with_eoi_demand(queryset: QuerySet, level: str, statuses=LIVE_STATUSES) -> QuerySet:
    """Annotate parcels or phases with `eoi_demand_gfa_m2`: the GFA asked for by EOIs in the given statuses."""
    live = ExpressionOfInterest.objects.filter(status__in=statuses)
    if level == "parcel":
        demand = summed(live.filter(preferred_parcel=OuterRef("pk")), "gfa_m2", "preferred_parcel")
    else:
        on_parcels = live.filter(preferred_parcel__phase=OuterRef("pk"))
        on_phase = live.filter(
            Q(preferred_phase=OuterRef("pk"))
            & (Q(preferred_parcel__isnull=True) | Q(preferred_parcel__phase__isnull=True))
        )
        demand = summed(on_parcels, "gfa_m2", "preferred_parcel__phase") + summed(on_phase, "gfa_m2", "preferred_phase")
    return queryset.annotate(eoi_demand_gfa_m2=demand)


def eoi_demand_by_status(target, level: str) -> dict[str, Decimal]:
    """GFA asked for by EOIs on one parcel or phase, by EOI status (one query)."""
    place = Q(preferred_parcel=target.pk) if level == "parcel" else _in_phase(target.pk)
    rows = (
        ExpressionOfInterest.objects.filter(place, gfa_m2__isnull=False)
        .order_by()
        .values("status")
        .annotate(total=Sum("gfa_m2"))
    )
    return {row["status"]: row["total"] for row in rows}
