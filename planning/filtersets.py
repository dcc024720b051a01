"""One FilterSet per listed planning model, shared by the API and the pages."""

import django_filters
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Campus, Facility, FacilityType, Parcel, Phase, ScheduleDependency, ScheduleItem, UtilityCapacity


class CampusFilterSet(django_filters.FilterSet):
    class Meta:
        model = Campus
        fields = {"code": ["exact"]}


class PhaseFilterSet(django_filters.FilterSet):
    class Meta:
        model = Phase
        fields = {"campus": ["exact"], "number": ["exact"], "status": ["exact"]}


class ParcelFilterSet(django_filters.FilterSet):
    phase_number = django_filters.NumberFilter(field_name="phase__number", label=_("phase number"))
    reserve = django_filters.BooleanFilter(field_name="phase", lookup_expr="isnull", label=_("in reserve"))
    code = django_filters.CharFilter(lookup_expr="iexact", label=_("code"))
    facility_type = django_filters.CharFilter(
        method="filter_facility_type", label=_("facility type code present (at least one facility of that type)")
    )

    class Meta:
        model = Parcel
        fields = {"campus": ["exact"], "phase": ["exact"], "land_status": ["exact"], "zoning": ["exact"]}

    def filter_facility_type(self, queryset, name, value):
        # EXISTS rather than a join: a parcel with two facilities of the type stays one row.
        facilities = Facility.objects.filter(parcel=OuterRef("pk"), facility_type__code=value)
        return queryset.filter(Exists(facilities))


class FacilityTypeFilterSet(django_filters.FilterSet):
    class Meta:
        model = FacilityType
        fields = {"code": ["exact"], "lettable": ["exact"], "core": ["exact"]}


class FacilityFilterSet(django_filters.FilterSet):
    phase = django_filters.NumberFilter(field_name="parcel__phase", label=_("phase"))
    phase_number = django_filters.NumberFilter(field_name="parcel__phase__number", label=_("phase number"))
    facility_type_code = django_filters.CharFilter(field_name="facility_type__code", label=_("facility type code"))

    class Meta:
        model = Facility
        fields = {
            "parcel": ["exact"],
            "facility_type": ["exact"],
            "status": ["exact"],
            "delivery_model": ["exact"],
        }


class UtilityCapacityFilterSet(django_filters.FilterSet):
    phase_number = django_filters.NumberFilter(field_name="phase__number", label=_("phase number"))

    class Meta:
        model = UtilityCapacity
        fields = {"phase": ["exact"], "kind": ["exact"], "status": ["exact"]}


class ScheduleItemFilterSet(django_filters.FilterSet):
    phase_number = django_filters.NumberFilter(field_name="phase__number", label=_("phase number"))
    overdue = django_filters.BooleanFilter(method="filter_overdue", label=_("overdue"))

    class Meta:
        model = ScheduleItem
        fields = {"phase": ["exact"], "kind": ["exact"], "category": ["exact"], "critical": ["exact"]}

    def filter_overdue(self, queryset, name, value):
        overdue = queryset.overdue(timezone.localdate())
        return overdue if value else queryset.exclude(pk__in=overdue.values("pk"))


class ScheduleDependencyFilterSet(django_filters.FilterSet):
    phase = django_filters.NumberFilter(field_name="successor__phase", label=_("phase"))

    class Meta:
        model = ScheduleDependency
        fields = {"predecessor": ["exact"], "successor": ["exact"]}
