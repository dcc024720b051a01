"""The admin of tenant data for HKSTP staff: every write through `tenants.services`, history on every model.

A space allocation that would take a facility past its GFA (signed + occupied) is refused on the form, with the
numbers, by the same service the API uses.
"""

from decimal import Decimal

from django.contrib import admin
from django.db.models import Count, Q, Sum
from django.utils.translation import gettext_lazy as _

from core.admin import ServiceAdmin
from core.admin_filters import AutocompleteFilter
from partners.models import Organisation

from . import services
from .models import SpaceAllocation, Tenant

HOLDING = Q(allocations__status__in=SpaceAllocation.HOLDING_SPACE)


class AllocationInline(admin.TabularInline):
    """A tenant's allocations, read-only here: each is changed on its own page, through the service."""

    model = SpaceAllocation
    fields = [name for name in services.ALLOCATION_FIELDS if name != "tenant"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("facility", "tenant__organisation")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Tenant)
class TenantAdmin(ServiceAdmin):
    """A tenant is added for an organisation (`tenant_for_organisation`); then only its notes change."""

    list_display = ["organisation", "allocation_count", "holding_gfa"]
    search_fields = ["organisation__name_en", "organisation__name_zh", "organisation__code"]
    list_select_related = ["organisation"]
    inlines = [AllocationInline]
    create_service = services.tenant_for_organisation
    update_service = services.tenant_update
    service_object_name = "tenant"
    service_fields = services.TENANT_FIELDS

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(allocation_total=Count("allocations"), holding_gfa_m2=Sum("allocations__gfa_m2", filter=HOLDING))
        )

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organisation"]  # what `tenant_for_organisation` takes
        return ["organisation", *self.service_fields, "version", "created", "updated"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["organisation", "version", "created", "updated"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "organisation":
            kwargs["queryset"] = Organisation.objects.filter(tenant__isnull=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("allocations"), ordering="allocation_total")
    def allocation_count(self, tenant):
        return tenant.allocation_total

    @admin.display(description=_("signed + occupied GFA (m²)"), ordering="holding_gfa_m2")
    def holding_gfa(self, tenant):
        return f"{tenant.holding_gfa_m2 or Decimal(0):,.0f}"

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SpaceAllocation)
class SpaceAllocationAdmin(ServiceAdmin):
    list_display = ["tenant", "facility", "parcel", "gfa_m2", "status", "start", "end"]
    # Facilities and tenants are searched, not listed (20,000 and 5,000 at HKSTP scale; core.admin_filters).
    list_filter = [
        "status",
        "facility__parcel__phase",
        ("facility", AutocompleteFilter),
        ("tenant", AutocompleteFilter),
    ]
    show_full_result_count = False  # a second count of the whole table on every filtered page
    # Newest first, along the primary key: the model's order (facility, then tenant name) sorts every allocation
    # across three joins before a page of 100 can be shown. The columns still sort on a click.
    ordering = ["-pk"]
    search_fields = [
        "tenant__organisation__name_en",
        "tenant__organisation__name_zh",
        "tenant__organisation__code",
        "facility__name",
    ]
    list_select_related = ["tenant__organisation", "facility__parcel"]
    readonly_fields = ["version", "created", "updated"]
    create_service = services.allocation_create
    update_service = services.allocation_update
    delete_service = services.allocation_delete
    service_object_name = "allocation"
    service_fields = services.ALLOCATION_FIELDS

    @admin.display(description=_("parcel"), ordering="facility__parcel__code")
    def parcel(self, allocation):
        return allocation.facility.parcel

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "tenant":
            kwargs["queryset"] = Tenant.objects.select_related("organisation")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
