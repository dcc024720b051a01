"""Roll-ups of space allocations onto the plan, computed in SQL: allocated GFA and occupancy per level."""

from decimal import Decimal

from django.db.models import DecimalField, ExpressionWrapper, F, OuterRef, QuerySet
from django.db.models.functions import NullIf

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
        reserved_gfa_m2=summed(allocations.filter(status="reserved"), "gfa_m2", path),
        total_gfa_m2=summed(facilities, "gfa_m2", GFA_PATHS[level]),
    )
    if not percentages:
        return queryset
    return queryset.annotate(
        occupancy_pct=ExpressionWrapper(
            F("allocated_gfa_m2") * Decimal(100) / NullIf(F("total_gfa_m2"), Decimal(0)), output_field=PERCENT
        )
    )
