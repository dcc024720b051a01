"""Viewsets of the planning API: reads scoped by `restrict(user)`, writes through `planning.services`."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from core.permissions import ReadsCrossOrganisationAggregates
from core.viewsets import ScopedModelViewSet

from .. import filtersets, readiness, selectors, services
from ..models import Campus, Facility, FacilityType, Milestone, Parcel, Phase, UtilityCapacity
from . import serializers


class GeoJSONRenderer(JSONRenderer):
    media_type = "application/geo+json"
    format = "geojson"


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


class PhaseViewSet(ScopedModelViewSet):
    serializer_class = serializers.PhaseSerializer
    filterset_class = filtersets.PhaseFilterSet
    ordering_fields = ["number", "planned_start", "planned_completion"]
    create_service = services.phase_create
    update_service = services.phase_update
    delete_service = services.phase_delete
    service_object_name = "phase"

    def base_queryset(self):
        return Phase.objects.with_totals()

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


class ParcelViewSet(ScopedModelViewSet):
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
    @extend_schema(responses={200: serializers.ParcelFeatureCollectionSerializer}, filters=True)
    @action(detail=False, methods=["get"], renderer_classes=[GeoJSONRenderer, JSONRenderer], pagination_class=None)
    def geojson(self, request):
        """All parcels the filters select, as one RFC 7946 FeatureCollection (WGS84)."""
        parcels = self.filter_queryset(self.get_queryset())
        return Response({"type": "FeatureCollection", "features": serializers.parcel_features(parcels)})


class FacilityTypeViewSet(ScopedModelViewSet):
    queryset = FacilityType.objects.all()
    serializer_class = serializers.FacilityTypeSerializer
    filterset_class = filtersets.FacilityTypeFilterSet
    create_service = services.facility_type_create
    update_service = services.facility_type_update
    delete_service = services.facility_type_delete
    service_object_name = "facility_type"


class FacilityViewSet(ScopedModelViewSet):
    serializer_class = serializers.FacilitySerializer
    filterset_class = filtersets.FacilityFilterSet
    ordering_fields = ["name", "gfa_m2"]
    create_service = services.facility_create
    update_service = services.facility_update
    delete_service = services.facility_delete
    service_object_name = "facility"

    def base_queryset(self):
        return Facility.objects.select_related("parcel", "facility_type")


class UtilityCapacityViewSet(ScopedModelViewSet):
    serializer_class = serializers.UtilityCapacitySerializer
    filterset_class = filtersets.UtilityCapacityFilterSet
    create_service = services.utility_capacity_create
    update_service = services.utility_capacity_update
    delete_service = services.utility_capacity_delete
    service_object_name = "utility"

    def base_queryset(self):
        return UtilityCapacity.objects.select_related("phase")


class MilestoneViewSet(ScopedModelViewSet):
    serializer_class = serializers.MilestoneSerializer
    filterset_class = filtersets.MilestoneFilterSet
    ordering_fields = ["planned_date", "actual_date"]
    create_service = services.milestone_create
    update_service = services.milestone_update
    delete_service = services.milestone_delete
    service_object_name = "milestone"

    def base_queryset(self):
        return (
            Milestone.objects.select_related("phase")
            .prefetch_related(Prefetch("predecessors", queryset=Milestone.objects.only("id")))
            .with_overdue()  # `overdue` in each row without a query per row
        )
