"""Viewsets of the planning API: reads scoped by `restrict(user)`, writes through `planning.services`."""

from django.db import transaction
from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from core.permissions import ReadsCrossOrganisationAggregates
from core.viewsets import ScopedModelViewSet

from .. import filtersets, readiness, selectors, services
from ..models import Campus, Facility, FacilityType, Parcel, Phase, ScheduleDependency, ScheduleItem, UtilityCapacity
from . import serializers
from .asof import AS_OF, AsOfMixin
from .exchange import ParcelExchangeMixin


class GeoJSONRenderer(JSONRenderer):
    media_type = "application/geo+json"
    format = "geojson"


DRY_RUN = OpenApiParameter(
    "dry_run",
    OpenApiTypes.BOOL,
    description="Check everything and answer what would result, but save nothing. A refusal is the same 400 or 409 "
    "as without it.",
    default=False,
)
# The 409 body every versioned write answers (core.schema registers the component with the PATCH of a parcel).
CONFLICT = OpenApiResponse(
    response={"$ref": "#/components/schemas/Conflict"},
    description="Edit conflict: a parcel changed since the version sent.",
)


def dry_run_requested(request) -> bool:
    """`?dry_run=true` (or 1, yes…): whether to answer a preview and save nothing."""
    try:
        return drf_serializers.BooleanField().to_internal_value(request.query_params.get("dry_run", False))
    except ValidationError as error:
        raise ValidationError({"dry_run": error.detail}) from None


class CampusViewSet(ScopedModelViewSet):
    queryset = Campus.objects.all()
    serializer_class = serializers.CampusSerializer
    filterset_class = filtersets.CampusFilterSet
    create_service = services.campus_create
    update_service = services.campus_update
    service_object_name = "campus"
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    @extend_schema(responses=serializers.PlanWarningSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def warnings(self, request, pk=None):
        """What planners should look at: phases off target, talent housing over the cap, areas to re-survey."""
        campus = self.get_object()
        return Response(serializers.PlanWarningSerializer(selectors.campus_warnings(campus), many=True).data)


class PhaseViewSet(AsOfMixin, ScopedModelViewSet):
    serializer_class = serializers.PhaseSerializer
    filterset_class = filtersets.PhaseFilterSet
    ordering_fields = ["number", "planned_start", "planned_completion"]
    create_service = services.phase_create
    update_service = services.phase_update
    delete_service = services.phase_delete
    service_object_name = "phase"

    def base_queryset(self):
        return Phase.objects.with_totals()

    @extend_schema(responses=serializers.PhaseScheduleSerializer)
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def schedule(self, request, pk=None):
        """The phase's whole schedule as the engine last stored it: every item with its baseline, actual and forecast
        dates, total float, critical flag and predecessors (with lags), and the phase's target and forecast
        completion. A fixed number of queries, whatever the number of items."""
        phase = self.get_object()
        data = selectors.phase_schedule(phase, items=schedule_items())
        return Response(serializers.PhaseScheduleSerializer(data, context=self.get_serializer_context()).data)

    @extend_schema(responses=serializers.PhaseReadinessSerializer)
    @action(
        detail=True,
        methods=["get"],
        pagination_class=None,
        filter_backends=[],
        # Its commitments and demand reasons are sums over every organisation: the roll-ups' rule applies.
        permission_classes=[ReadsCrossOrganisationAggregates],
    )
    def readiness(self, request, pk=None):
        """The phase's current readiness: state, score, each criterion with its reasons, and the stale flag."""
        phase = self.get_object()
        snapshot = phase.readiness_snapshots.order_by("-computed_at", "-id").first()
        if snapshot is not None:
            snapshot.criteria = readiness.render_criteria(snapshot.criteria)  # in the reader's language
        data = {
            "phase": phase.pk,
            "stale": phase.readiness_stale,
            "stale_since": phase.readiness_stale_since,
            "snapshot": snapshot,
        }
        return Response(serializers.PhaseReadinessSerializer(data).data)

    @extend_schema(responses=serializers.ReadinessHistoryItemSerializer(many=True))
    @action(
        detail=True,
        methods=["get"],
        url_path="readiness/history",
        filter_backends=[],
        permission_classes=[ReadsCrossOrganisationAggregates],
    )
    def readiness_history(self, request, pk=None):
        """Every stored snapshot of the phase, newest first (paginated), for trend charts."""
        phase = self.get_object()
        snapshots = phase.readiness_snapshots.order_by("-computed_at", "-id")
        page = self.paginate_queryset(snapshots)
        return self.get_paginated_response(serializers.ReadinessHistoryItemSerializer(page, many=True).data)


class ParcelViewSet(AsOfMixin, ParcelExchangeMixin, ScopedModelViewSet):
    serializer_class = serializers.ParcelSerializer
    filterset_class = filtersets.ParcelFilterSet
    ordering_fields = ["code", "handover_date"]
    create_service = services.parcel_create
    update_service = services.parcel_update
    delete_service = services.parcel_delete
    service_object_name = "parcel"

    def base_queryset(self):
        return Parcel.objects.select_related("phase").with_gfa()

    # `filters=True`: the action answers one object, not a list, so drf-spectacular would otherwise document none
    # of the parcel filters it honours.
    @extend_schema(responses={200: serializers.ParcelFeatureCollectionSerializer}, filters=True, parameters=[AS_OF])
    @action(detail=False, methods=["get"], renderer_classes=[GeoJSONRenderer, JSONRenderer], pagination_class=None)
    def geojson(self, request):
        """All parcels the filters select, as one RFC 7946 FeatureCollection (WGS84)."""
        parcels = self.filter_queryset(self.get_queryset())
        return Response({"type": "FeatureCollection", "features": serializers.parcel_features(parcels)})

    @extend_schema(
        summary="Split a parcel along a line into two parcels",
        description="The line (GeoJSON LineString, WGS84) must cross the parcel completely and cut it into exactly "
        "two parts. The part holding `keep_at` stays this parcel (same id, code, facilities and history; its "
        "surveyed area is cleared); the other becomes the parcel `new_code` in the same campus and phase, with the "
        "same zoning, controls, land status and handover date. Every rule of a parcel edit is checked on both "
        "results (containment, overlap, campus total, GFA cap of the kept part); all or nothing. With `dry_run` "
        "the answer is the two parts, and nothing is saved: with `new_code` and `keep_at` every check of the split "
        "runs, without them only those of the line (and of the point, if given).",
        parameters=[DRY_RUN],
        request=serializers.ParcelSplitSerializer,
        responses={
            200: PolymorphicProxySerializer(
                component_name="ParcelSplitAnswer",
                serializers=[serializers.ParcelSplitResultSerializer, serializers.ParcelSplitPreviewSerializer],
                resource_type_field_name=None,
            ),
            409: CONFLICT,
        },
    )
    @action(detail=True, methods=["post"])
    def split(self, request, pk=None):
        parcel = self.get_object()
        dry_run = dry_run_requested(request)
        serializer = serializers.ParcelSplitSerializer(data=request.data, context={"dry_run": dry_run})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        cut = {"parcel": parcel, "expected_version": data["version"], "line": data["line"]}
        if dry_run:
            with transaction.atomic():
                parts = services.parcel_split_preview(**cut, keep_at=data.get("keep_at"))
                if "new_code" in data and "keep_at" in data:
                    services.parcel_split(**cut, actor=request.user, new_code=data["new_code"], keep_at=data["keep_at"])
                transaction.set_rollback(True)
            return Response(serializers.ParcelSplitPreviewSerializer({"dry_run": True, "parts": parts}).data)
        split = services.parcel_split(**cut, actor=request.user, new_code=data["new_code"], keep_at=data["keep_at"])
        answer = {"kept": self._reread(split.kept), "created": self._reread(split.created)}
        return Response(serializers.ParcelSplitResultSerializer(answer, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="Merge another parcel into this one",
        description="Both parcels are in the same campus and phase (or both in the reserve) and share an edge; "
        "touching at a corner is not enough. This parcel takes the union of the two polygons and the other's "
        "facilities, keeps its id, code and controls, and its surveyed area is cleared; the other is deleted, "
        "after the rules other apps hold on it (commitments, EOIs, allocations) are asked. The merged parcel is "
        "checked like any parcel edit (GFA cap included); all or nothing. With `dry_run` the answer is the merged "
        "polygon and figures, and nothing is saved.",
        parameters=[DRY_RUN],
        request=serializers.ParcelMergeSerializer,
        responses={
            200: PolymorphicProxySerializer(
                component_name="ParcelMergeAnswer",
                serializers=[serializers.ParcelSerializer, serializers.ParcelMergePreviewSerializer],
                resource_type_field_name=None,
            ),
            409: CONFLICT,
        },
    )
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        parcel = self.get_object()
        dry_run = dry_run_requested(request)
        serializer = serializers.ParcelMergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with transaction.atomic():
            merged = services.parcel_merge(
                parcel=parcel,
                other=data["other"],
                actor=request.user,
                expected_version=data["version"],
                other_expected_version=data["other_version"],
            )
            merged = self._reread(merged)
            if dry_run:
                preview = {
                    "dry_run": True,
                    "geometry": merged.geometry,
                    "site_area_m2": merged.site_area_m2,
                    "gfa_m2": merged.gfa_m2,
                    "gfa_cap_m2": merged.gfa_cap_m2,
                }
                transaction.set_rollback(True)
                return Response(serializers.ParcelMergePreviewSerializer(preview).data)
        return Response(self.get_serializer(merged).data)


class FacilityTypeViewSet(ScopedModelViewSet):
    queryset = FacilityType.objects.all()
    serializer_class = serializers.FacilityTypeSerializer
    filterset_class = filtersets.FacilityTypeFilterSet
    create_service = services.facility_type_create
    update_service = services.facility_type_update
    delete_service = services.facility_type_delete
    service_object_name = "facility_type"


class FacilityViewSet(AsOfMixin, ScopedModelViewSet):
    serializer_class = serializers.FacilitySerializer
    filterset_class = filtersets.FacilityFilterSet
    ordering_fields = ["name", "gfa_m2"]
    create_service = services.facility_create
    update_service = services.facility_update
    delete_service = services.facility_delete
    service_object_name = "facility"

    def base_queryset(self):
        return Facility.objects.select_related("parcel", "facility_type")


class UtilityCapacityViewSet(AsOfMixin, ScopedModelViewSet):
    serializer_class = serializers.UtilityCapacitySerializer
    filterset_class = filtersets.UtilityCapacityFilterSet
    create_service = services.utility_capacity_create
    update_service = services.utility_capacity_update
    delete_service = services.utility_capacity_delete
    service_object_name = "utility"

    def base_queryset(self):
        return UtilityCapacity.objects.select_related("phase")


def schedule_items():
    """Schedule items as the API shows them: the overdue flag and the predecessors without a query per row."""
    links = ScheduleDependency.objects.only("id", "successor_id", "predecessor_id", "lag_days").order_by("pk")
    return (
        ScheduleItem.objects.select_related("phase")
        .prefetch_related(Prefetch("predecessor_links", queryset=links))
        .with_overdue()
    )


class ScheduleItemViewSet(AsOfMixin, ScopedModelViewSet):
    """Activities and milestones of every phase's schedule. Every write recomputes the phase's schedule in the same
    transaction, so the answer (and every other item's forecast) is current."""

    serializer_class = serializers.ScheduleItemSerializer
    filterset_class = filtersets.ScheduleItemFilterSet
    ordering_fields = ["forecast_start", "forecast_finish", "baseline_finish", "total_float_days"]
    create_service = services.schedule_item_create
    update_service = services.schedule_item_update
    delete_service = services.schedule_item_delete
    service_object_name = "item"

    def base_queryset(self):
        return schedule_items()


class ScheduleDependencyViewSet(AsOfMixin, ScopedModelViewSet):
    """Finish-to-start links between two items of one phase, with a lag in days (negative allowed). A link that
    would close a cycle is refused, naming it."""

    serializer_class = serializers.ScheduleDependencySerializer
    filterset_class = filtersets.ScheduleDependencyFilterSet
    ordering_fields = ["lag_days", "successor", "predecessor"]
    create_service = services.schedule_dependency_create
    update_service = services.schedule_dependency_update
    delete_service = services.schedule_dependency_delete
    service_object_name = "link"

    def base_queryset(self):
        return ScheduleDependency.objects.all()
