"""`?as_of=YYYY-MM-DD` on the plan's API lists (`AsOfMixin`): the rows as they stood at the end of that day in the
project's time zone, read from the history tables (`planning.asof`), read-only.

The list, a row (`/{id}/`) and the parcels' GeoJSON answer it; any other action, and any write, sent with `as_of`
answers 400 naming why. A date that is not a day of the calendar, or is in the future, answers 400 with what is
wrong with it (the future is refused rather than read as today: the history cannot say what the plan will be).
Filters and ordering work as on today's list, through relations as of the same day; a filter or ordering on a
figure the history does not keep (a schedule item's `critical`, its forecast dates) answers 400.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from django_filters import utils as filter_utils
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from .. import asof
from ..models import Facility, Parcel, Phase, ScheduleDependency, ScheduleItem, UtilityCapacity

AS_OF = OpenApiParameter(
    asof.PARAMETER,
    OpenApiTypes.DATE,
    description=(
        "The rows as they stood at the end of this day (YYYY-MM-DD, in Hong Kong time), from the plan's history: an "
        "edit made later does not show, a row created later is absent, a row deleted later is there. Read-only "
        "(a write with as_of answers 400); a future date or a malformed one answers 400. Figures are recomputed over "
        "the rows as of that day: a phase's site area, GFA, GFA by type and warnings, a parcel's GFA, a schedule "
        "item's overdue flag (with that day as today) and its forecast dates, late finish, float, critical flag and "
        "driving predecessor (the scheduling engine over the network as it stood, with that day as today; the "
        "history does not keep the stored results). Filters read related rows as of the same day; filtering or "
        "ordering by a figure the history does not keep (`critical`, forecast dates, float) answers 400."
    ),
)

# What each list reads for its rows as of a day: the as-of version of its viewset's `base_queryset()`.
ROWS = {
    Phase: lambda rows: rows.with_totals().with_gfa_by_type(),
    Parcel: lambda rows: rows.select_related("phase").with_gfa(),
    Facility: lambda rows: rows.select_related("parcel", "facility_type"),
    UtilityCapacity: lambda rows: rows.select_related("phase"),
    ScheduleItem: lambda rows: (
        rows.select_related("phase").with_overdue().prefetch_related("predecessor_links").with_schedule()
    ),
    ScheduleDependency: lambda rows: rows,
}


class AsOfMixin:
    """`?as_of=` on a `ScopedModelViewSet` of a plan model (put it first among the bases)."""

    as_of_actions = ("list", "retrieve", "geojson")
    as_of: asof.AsOf | None = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.as_of = None
        if asof.PARAMETER not in request.query_params:
            return
        if request.method not in SAFE_METHODS:
            raise ValidationError(
                {asof.PARAMETER: [_("The plan as of a past date is read-only: send changes without as_of.")]}
            )
        if self.action not in self.as_of_actions:
            raise ValidationError(
                {asof.PARAMETER: [_("This endpoint answers the plan as it is now: as_of is not available here.")]}
            )
        try:
            self.as_of = asof.AsOf.from_query(request.query_params)
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from None

    def get_queryset(self):
        if self.as_of is None:
            return super().get_queryset()
        model = self.base_queryset().model
        return ROWS[model](self.as_of.rows(model)).restrict(self.request.user, "view")

    def filter_queryset(self, queryset):
        if self.as_of is None:
            return super().filter_queryset(queryset)
        if self.filterset_class is not None:
            filterset_class = asof.filterset_class(self.filterset_class, queryset)
            filterset = filterset_class(self.request.query_params, queryset=queryset, request=self.request)
            if not filterset.is_valid():
                raise filter_utils.translate_validation(filterset.errors)
            queryset = filterset.qs
        return self._as_of_ordering(queryset)

    def _as_of_ordering(self, queryset):
        """`?ordering=` as DRF's OrderingFilter reads it (an unknown field is ignored), refusing a field the history
        does not keep."""
        model = queryset.instance_model
        allowed = getattr(self, "ordering_fields", None) or [field.name for field in model._meta.concrete_fields]
        terms = [term.strip() for term in self.request.query_params.get("ordering", "").split(",") if term.strip()]
        ordering = []
        for term in terms:
            name = term.removeprefix("-")
            if name not in allowed:
                continue
            if not asof.is_recorded(model, name):
                raise ValidationError(
                    {
                        "ordering": [
                            _(
                                "“%(field)s” is computed, not kept in the history: order the plan as of a past date by "
                                "another field."
                            )
                            % {"field": name}
                        ]
                    }
                )
            ordering.append(term)
        return queryset.order_by(*ordering, "id") if ordering else queryset

    @extend_schema(parameters=[AS_OF])
    def list(self, request, *args, **kwargs):
        if self.as_of is None:
            return super().list(request, *args, **kwargs)
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = page if page is not None else list(queryset)
        # One row at a time: the list serializers fetch figures of today's plan for the whole page (phases' GFA
        # by type); as-of rows come with theirs.
        data = [self.get_serializer(row).data for row in rows]
        return self.get_paginated_response(data) if page is not None else Response(data)

    @extend_schema(parameters=[AS_OF])
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)
