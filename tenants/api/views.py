"""Viewsets of the tenants API, and the roll-ups of partner and tenant data onto phases, parcels and facilities.

Tenants and allocations follow the partners rule (`partners.api.views.ScopedViewSet`): every signed-in role reads
within `restrict(user)`, staff write. The roll-ups live here because they combine both apps (tenants imports
partners, never the reverse).
"""

from django.utils.translation import gettext_lazy
from rest_framework import viewsets
from rest_framework.permissions import BasePermission

from innopole.roles import EXECUTIVE, PLANNER, STAFF, has_role
from partners.api.views import ScopedViewSet
from partners.selectors import with_capital_cover, with_commitments, with_eoi_demand
from planning import filtersets as planning_filtersets
from planning.models import Facility, Parcel, Phase

from .. import filtersets, services
from ..models import SpaceAllocation, Tenant
from ..selectors import with_allocations
from . import serializers


class TenantViewSet(ScopedViewSet):
    """Organisations as occupiers. Staff add one by naming its organisation; a tenant is not changed or removed
    through the API."""

    model = Tenant
    serializer_class = serializers.TenantSerializer
    filterset_class = filtersets.TenantFilterSet
    ordering_fields = ["organisation__name_en", "created"]
    create_service = services.tenant_for_organisation
    http_method_names = ["get", "post", "head", "options"]

    def base_queryset(self):
        return Tenant.objects.select_related("organisation")


class SpaceAllocationViewSet(ScopedViewSet):
    model = SpaceAllocation
    serializer_class = serializers.SpaceAllocationSerializer
    filterset_class = filtersets.SpaceAllocationFilterSet
    ordering_fields = ["start", "end", "gfa_m2", "status"]
    create_service = services.allocation_create
    update_service = services.allocation_update
    delete_service = services.allocation_delete
    service_object_name = "allocation"

    def base_queryset(self):
        return SpaceAllocation.objects.select_related("tenant__organisation", "facility__parcel")


class ReadsRollups(BasePermission):
    """Planners, executives and staff read roll-ups. They sum every organisation's commitments and EOIs, so
    partners (who see only their own organisation's data) are refused with 403."""

    message = gettext_lazy("Roll-ups are for HKSTP staff, planners and executives.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and has_role(user, PLANNER, EXECUTIVE, STAFF))


class RollupViewSet(viewsets.ReadOnlyModelViewSet):
    """Read-only roll-ups, one SQL query per page: every figure is a correlated subquery on the plan's rows."""

    permission_classes = [ReadsRollups]

    def get_queryset(self):
        return self.rollup(self.model.objects.restrict(self.request.user, "view"))


class PhaseRollupViewSet(RollupViewSet):
    """Per phase: pre-commitment of lettable GFA, weighted capital against capex, live EOI demand, allocations."""

    model = Phase
    serializer_class = serializers.PhaseRollupSerializer
    filterset_class = planning_filtersets.PhaseFilterSet
    ordering_fields = ["number", "precommitment_pct", "capital_cover_pct", "occupancy_pct"]

    def rollup(self, phases):
        return with_allocations(with_eoi_demand(with_capital_cover(phases), "phase"), "phase")


class ParcelRollupViewSet(RollupViewSet):
    """Per parcel: pre-commitment of lettable GFA, weighted capital, live EOI demand, allocations."""

    model = Parcel
    serializer_class = serializers.ParcelRollupSerializer
    filterset_class = planning_filtersets.ParcelFilterSet
    ordering_fields = ["code", "precommitment_pct", "occupancy_pct"]

    def rollup(self, parcels):
        parcels = with_commitments(parcels.select_related("phase"), "parcel")
        return with_allocations(with_eoi_demand(parcels, "parcel"), "parcel")


class FacilityRollupViewSet(RollupViewSet):
    """Per facility: pre-commitment of its GFA (when lettable), weighted capital, allocations."""

    model = Facility
    serializer_class = serializers.FacilityRollupSerializer
    filterset_class = planning_filtersets.FacilityFilterSet
    ordering_fields = ["name", "precommitment_pct", "occupancy_pct"]

    def rollup(self, facilities):
        facilities = with_commitments(facilities.select_related("parcel", "facility_type"), "facility")
        return with_allocations(facilities, "facility")
