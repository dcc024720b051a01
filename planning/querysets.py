"""Chainable reads of planning data. Sums are computed in SQL; `restrict(user)` is the one scoping method."""

import datetime

from django.db import models
from django.db.models import DecimalField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from innopole.roles import can_edit_plan

AREA_OUTPUT = DecimalField(max_digits=14, decimal_places=2)
ZERO = Value(0, output_field=AREA_OUTPUT)


def summed(queryset: models.QuerySet, expression, group_by: str) -> Subquery:
    """A correlated subquery summing `expression` over `queryset` per `group_by` (0 when there is nothing)."""
    sums = queryset.order_by().values(group_by).annotate(total=Sum(expression)).values("total")
    return Coalesce(Subquery(sums, output_field=AREA_OUTPUT), ZERO, output_field=AREA_OUTPUT)


def site_area_expression(prefix: str = ""):
    """Surveyed area where recorded, else the area computed from the geometry."""
    return Coalesce(f"{prefix}surveyed_area_m2", f"{prefix}computed_area_m2", output_field=AREA_OUTPUT)


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
    def in_phase(self, phase) -> "ParcelQuerySet":
        return self.filter(phase=phase)

    def reserve(self) -> "ParcelQuerySet":
        return self.filter(phase__isnull=True)

    def with_site_area(self) -> "ParcelQuerySet":
        return self.annotate(site_area_sql_m2=site_area_expression())

    def with_gfa(self) -> "ParcelQuerySet":
        from .models import Facility

        facilities = Facility.objects.filter(parcel=OuterRef("pk"))
        return self.annotate(gfa_m2=summed(facilities, "gfa_m2", "parcel"))

    def total_site_area_m2(self):
        return self.aggregate(total=Coalesce(Sum(site_area_expression()), ZERO))["total"]


class FacilityTypeQuerySet(PlanQuerySet):
    pass


class FacilityQuerySet(PlanQuerySet):
    def in_phase(self, phase) -> "FacilityQuerySet":
        return self.filter(parcel__phase=phase)

    def of_type(self, code: str) -> "FacilityQuerySet":
        return self.filter(facility_type__code=code)

    def total_gfa_m2(self):
        return self.aggregate(total=Coalesce(Sum("gfa_m2"), ZERO))["total"]


class UtilityCapacityQuerySet(PlanQuerySet):
    def available_by(self, date: datetime.date) -> "UtilityCapacityQuerySet":
        return self.filter(available_from__lte=date)


class MilestoneQuerySet(PlanQuerySet):
    def done(self) -> "MilestoneQuerySet":
        return self.filter(actual_date__isnull=False)

    def overdue(self, today: datetime.date | None = None) -> "MilestoneQuerySet":
        """Not done, and its planned date has passed."""
        today = today or timezone.localdate()
        return self.filter(Q(actual_date__isnull=True) & Q(planned_date__lt=today))
