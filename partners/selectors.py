"""Roll-ups of partner data onto the plan, computed in SQL: EOI demand, pre-commitment and weighted capital.

Each function annotates a planning queryset (facilities, parcels or phases) with correlated subqueries, so a list
of any length costs one query. Occupancy and capital are summed apart and never added together.
"""

from decimal import Decimal

from django.db.models import DecimalField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, NullIf

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
    "phase": {"commitment": "parcel__phase", "facility": "parcel__phase", "eoi": "eoi_phase"},
}


def _percent(numerator, denominator):
    """numerator as a % of denominator; NULL when the denominator is 0."""
    return ExpressionWrapper(numerator * Decimal(100) / NullIf(denominator, Decimal(0)), output_field=PERCENT)


def with_commitments(queryset: QuerySet, level: str) -> QuerySet:
    """Annotate facilities/parcels/phases with `lettable_gfa_m2`, `weighted_occupancy_gfa_m2`,
    `precommitment_pct` (weighted occupancy ÷ lettable GFA) and `weighted_capital_hkd_m`."""
    path = LEVELS[level]
    commitments = Commitment.objects.filter(**{path["commitment"]: OuterRef("pk")})
    lettable = Facility.objects.filter(**{path["facility"]: OuterRef("pk")}, facility_type__lettable=True)
    queryset = queryset.annotate(
        lettable_gfa_m2=summed(lettable, "gfa_m2", path["facility"]),
        weighted_occupancy_gfa_m2=summed(commitments.filter(kind="occupancy"), WEIGHTED_GFA, path["commitment"]),
        weighted_capital_hkd_m=summed(commitments.filter(kind="capital"), WEIGHTED_AMOUNT, path["commitment"]),
    )
    return queryset.annotate(precommitment_pct=_percent(F("weighted_occupancy_gfa_m2"), F("lettable_gfa_m2")))


def with_capital_cover(phases: QuerySet) -> QuerySet:
    """Phases with `weighted_capital_hkd_m` and its share of the phase's capex (`capital_cover_pct`)."""
    return with_commitments(phases, "phase").annotate(
        capital_cover_pct=_percent(F("weighted_capital_hkd_m"), F("capex_hkd_m"))
    )


def _eois_at(level: str):
    eois = ExpressionOfInterest.objects.all()
    if level == "phase":
        # An EOI for a parcel counts in that parcel's phase; one for a phase only, in that phase.
        eois = eois.annotate(eoi_phase=Coalesce("preferred_parcel__phase", "preferred_phase"))
    return eois.filter(**{LEVELS[level]["eoi"]: OuterRef("pk")})


def with_eoi_demand(queryset: QuerySet, level: str, statuses=LIVE_STATUSES) -> QuerySet:
    """Annotate parcels or phases with `eoi_demand_gfa_m2`: the GFA asked for by EOIs in the given statuses."""
    eois = _eois_at(level).filter(status__in=statuses)
    return queryset.annotate(eoi_demand_gfa_m2=summed(eois, "gfa_m2", LEVELS[level]["eoi"]))


def eoi_demand_by_status(target, level: str) -> dict[str, Decimal]:
    """GFA asked for by EOIs on one parcel or phase, by EOI status (one query)."""
    field = LEVELS[level]["eoi"]
    eois = ExpressionOfInterest.objects.all()
    if level == "phase":
        eois = eois.annotate(eoi_phase=Coalesce("preferred_parcel__phase", "preferred_phase"))
    rows = (
        eois.filter(Q(**{field: target.pk}), gfa_m2__isnull=False)
        .order_by()
        .values("status")
        .annotate(total=Sum("gfa_m2"))
    )
    return {row["status"]: row["total"] for row in rows}
