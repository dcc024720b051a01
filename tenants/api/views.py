"""Viewsets of the tenants API, and the roll-ups of partner and tenant data onto phases, parcels and facilities.

Tenants and allocations follow the partners rule (`partners.api.views.ScopedViewSet`): every signed-in role reads
within `restrict(user)`, staff write. The roll-ups live here because they combine both apps (tenants imports
partners, never the reverse).
"""

from rest_framework import viewsets
from rest_framework.response import Response
from rest_framework.settings import api_settings

from core.permissions import ReadsCrossOrganisationAggregates
from partners.api.views import ScopedViewSet
from partners.selectors import with_capital_cover, with_commitments, with_eoi_demand
from planning import filtersets as planning_filtersets
from planning.models import Facility, Parcel, Phase

from .. import filtersets, services
from ..models import SpaceAllocation, Tenant
from ..selectors import attach_rollups, with_allocations
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
    # Newest first, along the primary key (as the admin's list): the model's order (facility, then tenant name)
    # sorts every allocation across three joins before a page can be cut, 20× /healthz at HKSTP scale.
    ordering = ["-id"]
    create_service = services.allocation_create
    update_service = services.allocation_update
    delete_service = services.allocation_delete
    service_object_name = "allocation"

    def base_queryset(self):
        return SpaceAllocation.objects.select_related("tenant__organisation", "facility__parcel")


class RollupViewSet(viewsets.ReadOnlyModelViewSet):
    """Read-only roll-ups. A page of rows is read plainly, then its figures with one grouped query per table
    (`attach_rollups`): the cost follows the page, not the size of the EOI, commitment and allocation tables.
    Ordering by a figure needs it in SQL for every row, so only then are the correlated annotations used."""

    permission_classes = [ReadsCrossOrganisationAggregates]
    level = ""
    # Ordering fields that are columns (the others are figures computed for the ordering).
    column_ordering = frozenset({"number", "code", "name"})

    def get_queryset(self):
        rows = self.base_queryset(self.model.objects.restrict(self.request.user, "view"))
        return self.rollup(rows) if self.orders_by_figure() else rows

    def base_queryset(self, rows):
        return rows

    def orders_by_figure(self) -> bool:
        terms = self.request.query_params.get(api_settings.ORDERING_PARAM, "")
        figures = set(self.ordering_fields) - self.column_ordering
        return any(term.strip().lstrip("-") in figures for term in terms.split(","))

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = attach_rollups(queryset if page is None else page, self.level)
        data = self.get_serializer(rows, many=True).data
        return Response(data) if page is None else self.get_paginated_response(data)

    def retrieve(self, request, *args, **kwargs):
        (row,) = attach_rollups([self.get_object()], self.level)
        return Response(self.get_serializer(row).data)


class PhaseRollupViewSet(RollupViewSet):
    """Per phase: pre-commitment of lettable GFA, weighted capital against capex, live EOI demand, allocations."""

    model = Phase
    level = "phase"
    serializer_class = serializers.PhaseRollupSerializer
    filterset_class = planning_filtersets.PhaseFilterSet
    ordering_fields = ["number", "precommitment_pct", "capital_cover_pct", "occupancy_pct"]

    def rollup(self, phases):
        return with_allocations(with_eoi_demand(with_capital_cover(phases), "phase"), "phase")


class ParcelRollupViewSet(RollupViewSet):
    """Per parcel: pre-commitment of lettable GFA, weighted capital, live EOI demand, allocations."""

    model = Parcel
    level = "parcel"
    serializer_class = serializers.ParcelRollupSerializer
    filterset_class = planning_filtersets.ParcelFilterSet
    ordering_fields = ["code", "precommitment_pct", "occupancy_pct"]

    def base_queryset(self, parcels):
        return parcels.select_related("phase")

    def rollup(self, parcels):
        parcels = with_commitments(parcels, "parcel")
        return with_allocations(with_eoi_demand(parcels, "parcel"), "parcel")


class FacilityRollupViewSet(RollupViewSet):
    """Per facility: pre-commitment of its GFA (when lettable), weighted capital, allocations."""

    model = Facility
    level = "facility"
    serializer_class = serializers.FacilityRollupSerializer
    filterset_class = planning_filtersets.FacilityFilterSet
    ordering_fields = ["name", "precommitment_pct", "occupancy_pct"]

    def base_queryset(self, facilities):
        return facilities.select_related("parcel", "facility_type")

    def rollup(self, facilities):
        return with_allocations(with_commitments(facilities, "facility"), "facility")
