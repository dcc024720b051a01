"""Roll-ups of space allocations onto the plan, computed in SQL: allocated GFA and occupancy per level; and
`attach_rollups`, every roll-up figure for one page of rows with grouped queries (what the roll-up API serves)."""

from decimal import Decimal

from django.db.models import DecimalField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import NullIf

from partners.selectors import commitment_sums, eoi_demand_sums, grouped, percent
from planning.models import Facility
from planning.querysets import summed

from .models import SpaceAllocation

PERCENT = DecimalField(max_digits=9, decimal_places=2)
PATHS = {"facility": "facility", "parcel": "facility__parcel", "phase": "facility__parcel__phase"}
GFA_PATHS = {"facility": "pk", "parcel": "parcel", "phase": "parcel__phase"}


def with_allocations(queryset: QuerySet, level: str, *, percentages: bool = True) -> QuerySet:
    """Annotate facilities/parcels/phases with `allocated_gfa_m2` (signed + occupied), `reserved_gfa_m2`,
    `total_gfa_m2` and (with `percentages`) `occupancy_pct` (allocated ÷ GFA; see partners.selectors on why not
    always)."""
    path = PATHS[level]
    allocations = SpaceAllocation.objects.filter(**{path: OuterRef("pk")})
    facilities = Facility.objects.filter(**{GFA_PATHS[level]: OuterRef("pk")})
    queryset = queryset.annotate(
        allocated_gfa_m2=summed(allocations.filter(status__in=SpaceAllocation.HOLDING_SPACE), "gfa_m2", path),
        reserved_gfa_m2=summed(allocations.filter(status=SpaceAllocation.Status.RESERVED), "gfa_m2", path),
        total_gfa_m2=summed(facilities, "gfa_m2", GFA_PATHS[level]),
    )
    if not percentages:
        return queryset
    return queryset.annotate(
        occupancy_pct=ExpressionWrapper(
            F("allocated_gfa_m2") * Decimal(100) / NullIf(F("total_gfa_m2"), Decimal(0)), output_field=PERCENT
        )
    )


# The grouped reads behind the roll-up API: the figures of `with_allocations` (and partners' `with_commitments`,
# `with_capital_cover`, `with_eoi_demand`) for one page of rows, one GROUP BY per table instead of a correlated
# subquery per row and figure (see partners.selectors for why).


def allocation_sums(level: str, ids) -> dict:
    """Per id: `allocated_gfa_m2` and `reserved_gfa_m2` (as `with_allocations`)."""
    allocations = grouped(
        SpaceAllocation.objects.all(),
        PATHS[level],
        ids,
        allocated_gfa_m2=Sum("gfa_m2", filter=Q(status__in=SpaceAllocation.HOLDING_SPACE)),
        reserved_gfa_m2=Sum("gfa_m2", filter=Q(status=SpaceAllocation.Status.RESERVED)),
    )
    return {
        pk: {name: allocations.get(pk, {}).get(name) or Decimal(0) for name in ("allocated_gfa_m2", "reserved_gfa_m2")}
        for pk in ids
    }


def facility_gfa_sums(level: str, ids) -> dict:
    """Per id: `lettable_gfa_m2` (partners' `with_commitments`) and `total_gfa_m2` (`with_allocations`)."""
    totals = grouped(
        Facility.objects.all(),
        GFA_PATHS[level],
        ids,
        lettable_gfa_m2=Sum("gfa_m2", filter=Q(facility_type__lettable=True)),
        total_gfa_m2=Sum("gfa_m2"),
    )
    return {
        pk: {name: totals.get(pk, {}).get(name) or Decimal(0) for name in ("lettable_gfa_m2", "total_gfa_m2")}
        for pk in ids
    }


def attach_rollups(rows, level: str) -> list:
    """Set on each phase, parcel or facility of `rows` the attributes its roll-up annotations would give, read
    with one grouped query per table (facilities, commitments, allocations, and EOIs for parcels and phases)."""
    rows = list(rows)
    ids = [row.pk for row in rows]
    if not ids:
        return rows
    figures = {pk: {} for pk in ids}
    parts = [facility_gfa_sums(level, ids), commitment_sums(level, ids), allocation_sums(level, ids)]
    if level in ("parcel", "phase"):
        parts.append(eoi_demand_sums(level, ids))
    for part in parts:
        for pk, values in part.items():
            figures[pk].update(values)
    for row in rows:
        values = figures[row.pk]
        for name, value in values.items():
            setattr(row, name, value)
        row.precommitment_pct = percent(values["weighted_occupancy_gfa_m2"], values["lettable_gfa_m2"])
        row.occupancy_pct = percent(values["allocated_gfa_m2"], values["total_gfa_m2"])
        if level == "phase":
            row.capital_cover_pct = percent(values["weighted_capital_hkd_m"], row.capex_hkd_m)
    return rows
