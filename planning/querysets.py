"""Chainable reads of planning data. Sums are computed in SQL; `restrict(user)` is the one scoping method."""

import datetime

from django.db import models
from django.db.models import (
    Aggregate,
    BooleanField,
    CharField,
    DecimalField,
    ExpressionWrapper,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.roles import can_edit_plan

AREA_OUTPUT = DecimalField(max_digits=14, decimal_places=2)
ZERO = Value(0, output_field=AREA_OUTPUT)


def summed(queryset: models.QuerySet, expression, group_by: str) -> Subquery:
    """A correlated subquery summing `expression` over `queryset` per `group_by` (0 when there is nothing)."""
    sums = queryset.order_by().values(group_by).annotate(total=Sum(expression)).values("total")
    return Coalesce(Subquery(sums, output_field=AREA_OUTPUT), ZERO, output_field=AREA_OUTPUT)


def site_area_expression(prefix: str = ""):
    """Surveyed area where recorded, else the area computed from the geometry."""
    return Coalesce(f"{prefix}surveyed_area_m2", f"{prefix}computed_area_m2", output_field=AREA_OUTPUT)


class DistinctCodes(Aggregate):
    """The distinct values of a text column joined by commas, in no particular order (sort them when read)."""

    function = "STRING_AGG"
    template = "%(function)s(DISTINCT %(expressions)s, ',')"
    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra_context):
        # SQLite's GROUP_CONCAT takes no separator with DISTINCT; its default is the comma.
        return self.as_sql(
            compiler, connection, function="GROUP_CONCAT", template="%(function)s(DISTINCT %(expressions)s)"
        )


class PlanQuerySet(models.QuerySet):
    """Plan data is read by every signed-in role and changed by planners and staff."""

    def restrict(self, user, action: str = "view") -> "PlanQuerySet":
        if not user.is_authenticated:
            return self.none()
        if action != "view" and not can_edit_plan(user):
            return self.none()
        return self


class CampusQuerySet(PlanQuerySet):
    pass


class PhaseQuerySet(PlanQuerySet):
    def with_site_area(self) -> "PhaseQuerySet":
        from .models import Parcel

        parcels = Parcel.objects.filter(phase=OuterRef("pk"))
        return self.annotate(site_area_m2=summed(parcels, site_area_expression(), "phase"))

    def with_gfa(self) -> "PhaseQuerySet":
        from .models import Facility

        facilities = Facility.objects.filter(parcel__phase=OuterRef("pk"))
        return self.annotate(gfa_m2=summed(facilities, "gfa_m2", "parcel__phase"))

    def with_totals(self) -> "PhaseQuerySet":
        return self.with_site_area().with_gfa()

    def with_readiness(self) -> "PhaseQuerySet":
        """`readiness_state`, `readiness_score` and `readiness_computed_at` of each phase's latest snapshot."""
        from .models import ReadinessSnapshot

        latest = ReadinessSnapshot.objects.filter(phase=OuterRef("pk")).order_by("-computed_at", "-id")
        return self.annotate(
            readiness_state=Subquery(latest.values("state")[:1]),
            readiness_score=Subquery(latest.values("score")[:1]),
            readiness_computed_at=Subquery(latest.values("computed_at")[:1]),
        )


class ParcelQuerySet(PlanQuerySet):
    # No `with_site_area` here: a parcel has the `site_area_m2` property, computed from the row itself.
    def with_gfa(self) -> "ParcelQuerySet":
        from .models import Facility

        facilities = Facility.objects.filter(parcel=OuterRef("pk"))
        return self.annotate(gfa_m2=summed(facilities, "gfa_m2", "parcel"))

    def with_facility_type_codes(self) -> "ParcelQuerySet":
        """`facility_type_codes`: the codes of the facility types planned on the parcel, comma-separated in no
        particular order (None when it has no facility)."""
        from .models import Facility

        codes = (
            Facility.objects.filter(parcel=OuterRef("pk"))
            .order_by()
            .values("parcel")
            .annotate(codes=DistinctCodes("facility_type__code"))
            .values("codes")
        )
        return self.annotate(facility_type_codes=Subquery(codes, output_field=CharField()))

    def for_map(self) -> "ParcelQuerySet":
        """What the map shows of each parcel, in the one statement that reads the parcels."""
        return self.with_gfa().with_facility_type_codes()

    def total_site_area_m2(self):
        return self.aggregate(total=Coalesce(Sum(site_area_expression()), ZERO))["total"]


class FacilityTypeQuerySet(PlanQuerySet):
    pass


class FacilityQuerySet(PlanQuerySet):
    def total_gfa_m2(self):
        return self.aggregate(total=Coalesce(Sum("gfa_m2"), ZERO))["total"]

    def counting_against_housing_cap(self) -> "FacilityQuerySet":
        """Facilities whose type counts towards the campus's talent-housing cap (`FacilityType` flag)."""
        return self.filter(facility_type__counts_against_housing_cap=True)


class UtilityCapacityQuerySet(PlanQuerySet):
    pass


def overdue_condition(today: datetime.date | None = None) -> Q:
    """The one definition of an overdue schedule item: not finished, and its baseline finish (the date promised)
    has passed. An item without a baseline has promised nothing, so it is never overdue (as `planning.schedule`)."""
    return Q(actual_finish__isnull=True, baseline_finish__lt=today or timezone.localdate())


class ScheduleItemQuerySet(PlanQuerySet):
    def overdue(self, today: datetime.date | None = None) -> "ScheduleItemQuerySet":
        """The overdue items (`overdue_condition`)."""
        return self.filter(overdue_condition(today))

    def with_overdue(self, today: datetime.date | None = None) -> "ScheduleItemQuerySet":
        """Each item with `overdue` (a boolean by `overdue_condition`), read by `ScheduleItem.is_overdue`."""
        # Coalesce: without a baseline the comparison is NULL in SQL, and such an item is not overdue.
        condition = ExpressionWrapper(overdue_condition(today), output_field=BooleanField())
        return self.annotate(overdue=Coalesce(condition, Value(False)))

    def milestones(self) -> "ScheduleItemQuerySet":
        return self.filter(kind="milestone")


class ScheduleDependencyQuerySet(PlanQuerySet):
    pass
