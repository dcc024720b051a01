"""`GET /api/v1/dashboard/`: every figure of the executive dashboard as JSON, from the selector the page renders.

The headline figures sit at the top level (for the campus, or for the phase `?phase=` names), each a number whose
unit is in `units`; `phases` repeats them for each phase with its readiness; the sections of the page follow
(`gfa_by_type`, `readiness_trend`, `pipeline`, `schedule`, and each phase's `blockers`). `computed_at` says when the
figures were computed (they are cached until the data changes), `as_of` the day they describe when one was asked.
"""

import json

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as APIValidationError
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core.roles import EXECUTIVE, PLANNER, STAFF, has_role

from .figures import CACHE_SECONDS, FIGURES, cache_key, cached_figures
from .links import audience, object_links
from .query import choose_campus, read_query


class Figure(serializers.FloatField):
    """A figure as a JSON number, to two decimals (the unit is in `units`); null when it cannot be computed (a
    percentage of nothing, a cap that is not set)."""

    def to_representation(self, value):
        return None if value is None else round(float(value), 2)


class ReadsDashboard(BasePermission):
    """Planners, executives and staff. Anyone else signed in gets 404: the endpoint does not exist for partners
    (a partner could read competitors' figures off sums over every organisation)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if not has_role(user, PLANNER, EXECUTIVE, STAFF):
            raise NotFound
        return True


def _figures_serializer(class_name: str, **extra) -> type[serializers.Serializer]:
    fields = {figure: Figure(allow_null=True, read_only=True) for figure in FIGURES}
    return type(class_name, (serializers.Serializer,), {**fields, **extra})


class DashboardObjectSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="parcel, schedule_item, utility or commitment")
    id = serializers.IntegerField()
    label = serializers.CharField()
    url = serializers.CharField(
        allow_blank=True, help_text="Where to open it (empty when this user has no page for it)."
    )


class DashboardBlockerSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(["criterion", "slip", "commitment"])
    criterion = serializers.CharField()
    criterion_label = serializers.CharField()
    state = serializers.CharField()
    state_label = serializers.CharField()
    gate = serializers.BooleanField()
    text = serializers.CharField()
    objects = DashboardObjectSerializer(many=True)
    owner = serializers.CharField(allow_blank=True)
    date = serializers.DateField(allow_null=True)


class DashboardTypeGFASerializer(serializers.Serializer):
    facility_type = serializers.CharField()
    label = serializers.CharField()
    planned_m2 = Figure()
    committed_m2 = Figure(help_text="Probability-weighted occupancy commitments naming a facility of the type.")
    allocated_m2 = Figure(help_text="Signed and occupied space allocations.")


PhaseFiguresSerializer = _figures_serializer(
    "DashboardPhaseSerializer",
    number=serializers.IntegerField(),
    name=serializers.CharField(),
    status=serializers.CharField(),
    status_label=serializers.CharField(),
    readiness_state=serializers.CharField(allow_null=True),
    readiness_state_label=serializers.CharField(),
    readiness_score=serializers.FloatField(allow_null=True),
    readiness_computed_at=serializers.DateTimeField(allow_null=True),
    stale=serializers.BooleanField(help_text="A recompute of the readiness is pending."),
    top_reasons=serializers.ListField(child=serializers.CharField()),
    target_completion=serializers.DateField(),
    forecast_completion=serializers.DateField(allow_null=True),
    completion_slip_days=serializers.IntegerField(allow_null=True),
    gfa_by_type=DashboardTypeGFASerializer(many=True),
    blockers=DashboardBlockerSerializer(many=True),
)


class DashboardTrendPointSerializer(serializers.Serializer):
    day = serializers.DateField()
    score = serializers.FloatField()
    state = serializers.CharField()


class DashboardTrendSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    name = serializers.CharField()
    points = DashboardTrendPointSerializer(many=True)


class DashboardCountSerializer(serializers.Serializer):
    label = serializers.CharField()
    count = serializers.IntegerField()


class DashboardEOIStatusSerializer(DashboardCountSerializer):
    status = serializers.CharField()
    live = serializers.BooleanField()
    gfa_m2 = Figure()


class DashboardEOISectorSerializer(DashboardCountSerializer):
    sector = serializers.CharField()
    gfa_m2 = Figure()


class DashboardMoUStatusSerializer(DashboardCountSerializer):
    status = serializers.CharField()


class DashboardStageSerializer(DashboardCountSerializer):
    stage = serializers.CharField()
    probability = serializers.FloatField()
    gfa_m2 = Figure()
    weighted_gfa_m2 = Figure()
    amount_hkd_m = Figure()
    weighted_amount_hkd_m = Figure()


class DashboardMonthSerializer(serializers.Serializer):
    month = serializers.DateField()
    count = serializers.IntegerField()


class DashboardPipelineSerializer(serializers.Serializer):
    eois_by_status = DashboardEOIStatusSerializer(many=True)
    eois_by_sector = DashboardEOISectorSerializer(many=True)
    mous_by_status = DashboardMoUStatusSerializer(
        many=True, help_text="Campus-wide (MoUs name no phase); empty when filtered."
    )
    commitments_by_stage = DashboardStageSerializer(many=True)
    eois_per_month = DashboardMonthSerializer(many=True)


class DashboardScheduleEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    phase = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    responsible = serializers.CharField(allow_blank=True)
    baseline_finish = serializers.DateField(allow_null=True)
    forecast_finish = serializers.DateField(allow_null=True)
    slip_days = serializers.IntegerField(allow_null=True)
    critical = serializers.BooleanField()


class DashboardScheduleSerializer(serializers.Serializer):
    milestones = DashboardScheduleEntrySerializer(many=True, help_text="Forecast to finish in the next 90 days.")
    overdue = DashboardScheduleEntrySerializer(many=True)


class DashboardCampusSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class DashboardFiltersSerializer(serializers.Serializer):
    phase = serializers.IntegerField(allow_null=True)
    facility_type = serializers.CharField(allow_null=True)


DashboardSerializer = _figures_serializer(
    "DashboardSerializer",
    computed_at=serializers.DateTimeField(),
    as_of=serializers.DateField(allow_null=True),
    campus=DashboardCampusSerializer(),
    filters=DashboardFiltersSerializer(),
    units=serializers.DictField(child=serializers.CharField()),
    gfa_by_type=DashboardTypeGFASerializer(many=True),
    phases=PhaseFiguresSerializer(many=True),
    readiness_trend=DashboardTrendSerializer(many=True),
    pipeline=DashboardPipelineSerializer(),
    schedule=DashboardScheduleSerializer(),
)


def as_data(found: dict, user) -> dict:
    """The selector's structure in the API's shape: figures flattened into their scope, links for this user."""
    phases = []
    for phase in found["phases"]:
        blockers = [{**row, "objects": object_links(row["objects"], user)} for row in phase["blockers"]]
        phases.append({**phase, **phase["figures"], "blockers": blockers})
    return {**found, **found["figures"], "phases": phases}


class DashboardView(APIView):
    permission_classes = [ReadsDashboard]

    @extend_schema(
        operation_id="dashboard",
        responses=DashboardSerializer,
        parameters=[
            OpenApiParameter("campus", str, description="A campus code (default: the first campus)."),
            OpenApiParameter("phase", int, description="A phase number: the figures of that phase only."),
            OpenApiParameter(
                "facility_type", str, description="A facility type code: GFA, commitments and EOIs of it."
            ),
            OpenApiParameter("as_of", str, description="YYYY-MM-DD: the figures as they stood at the end of that day."),
        ],
    )
    def get(self, request):
        """Every figure of the executive dashboard (see the README, "The executive dashboard", for what each sums)."""
        try:
            campus = choose_campus(request.query_params)
            if campus is None:
                raise NotFound
            filters, as_of = read_query(request.query_params, campus)
        except ValidationError as error:
            raise APIValidationError(error.message_dict) from None
        # The JSON, rendered once per data generation and audience (at HKSTP scale, a megabyte of nested figures).
        key = cache_key("dashboard-api", campus, filters, as_of, audience(request.user))
        content = cache.get(key)
        if content is None:
            data = DashboardSerializer(as_data(cached_figures(campus, filters, as_of), request.user)).data
            content = JSONRenderer().render(data)
            cache.set(key, content, CACHE_SECONDS)
        if request.accepted_renderer.format == "json":
            return HttpResponse(content, content_type="application/json")
        return Response(json.loads(content))  # the browsable API
