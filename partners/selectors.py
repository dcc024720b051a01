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
    occupancy = commitments.filter(kind=Commitment.Kind.OCCUPANCY)
    capital = commitments.filter(kind=Commitment.Kind.CAPITAL)
    lettable = Facility.objects.filter(**{path["facility"]: OuterRef("pk")}, facility_type__lettable=True)
    queryset = queryset.annotate(
        lettable_gfa_m2=summed(lettable, "gfa_m2", path["facility"]),
        weighted_occupancy_gfa_m2=summed(occupancy, WEIGHTED_GFA, path["commitment"]),
        weighted_capital_hkd_m=summed(capital, WEIGHTED_AMOUNT, path["commitment"]),
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


# --- the same figures for one page of rows, one GROUP BY per table ------------------------------------------------
# The annotations above are correlated subqueries: each row of a page runs them again (and a percentage repeats the
# subqueries it divides). At HKSTP scale (100,000 EOIs, 50,000 commitments) a page of 100 phases took 52× /healthz.
# The functions below read the same sums for a known set of ids with one grouped query per table; the roll-up API
# attaches them to its page (tenants.selectors.attach_rollups).

SUM_OUTPUT = DecimalField(max_digits=20, decimal_places=4)
GROUP_PATHS = {
    "facility": {"commitment": "facility", "facility": "pk"},
    "parcel": {"commitment": "parcel", "facility": "parcel"},
    "phase": {"commitment": "parcel__phase", "facility": "parcel__phase"},
}


def grouped(queryset: QuerySet, path: str, ids, **sums) -> dict:
    """{id: {name: sum}} for the rows of `queryset` whose `path` is in `ids`, summed per `path`."""
    rows = queryset.filter(**{f"{path}__in": ids}).order_by().values(path).annotate(**sums)
    return {row.pop(path): row for row in rows}


def commitment_sums(level: str, ids) -> dict:
    """Per id: `weighted_occupancy_gfa_m2` and `weighted_capital_hkd_m` (as `with_commitments`; its
    `lettable_gfa_m2` is read with the total GFA in one query, `tenants.selectors.facility_gfa_sums`)."""
    weighted = grouped(
        Commitment.objects.all(),
        GROUP_PATHS[level]["commitment"],
        ids,
        weighted_occupancy_gfa_m2=Sum(WEIGHTED_GFA, filter=Q(kind=Commitment.Kind.OCCUPANCY), output_field=SUM_OUTPUT),
        weighted_capital_hkd_m=Sum(WEIGHTED_AMOUNT, filter=Q(kind=Commitment.Kind.CAPITAL), output_field=SUM_OUTPUT),
    )
    return {
        pk: {
            "weighted_occupancy_gfa_m2": weighted.get(pk, {}).get("weighted_occupancy_gfa_m2") or Decimal(0),
            "weighted_capital_hkd_m": weighted.get(pk, {}).get("weighted_capital_hkd_m") or Decimal(0),
        }
        for pk in ids
    }


def eoi_demand_sums(level: str, ids, statuses=LIVE_STATUSES) -> dict:
    """Per parcel or phase id: `eoi_demand_gfa_m2` (as `with_eoi_demand`), one grouped query.

    For phases the group is COALESCE(the parcel's phase, the phase named): the rule of `_in_phase` in one
    expression. `_in_phase` avoids it because it filters one phase through indexes; here one pass over the
    page's EOIs is wanted, and the filter below still narrows them through indexes first."""
    live = ExpressionOfInterest.objects.filter(status__in=statuses).order_by()
    if level == "parcel":
        rows = live.filter(preferred_parcel__in=ids).values(key=F("preferred_parcel"))
    else:
        rows = live.filter(_in_phase_of_any(ids)).values(key=Coalesce("preferred_parcel__phase", "preferred_phase"))
    totals = {row["key"]: row["total"] for row in rows.annotate(total=Sum("gfa_m2"))}
    return {pk: {"eoi_demand_gfa_m2": totals.get(pk) or Decimal(0)} for pk in ids}


def _in_phase_of_any(ids) -> Q:
    unphased_parcel = Q(preferred_parcel__isnull=True) | Q(preferred_parcel__phase__isnull=True)
    return Q(preferred_parcel__phase__in=ids) | (Q(preferred_phase__in=ids) & unphased_parcel)


def percent(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """numerator as a % of denominator; None when the denominator is 0 (as `_percent` in SQL)."""
    return None if not denominator else numerator * Decimal(100) / denominator
