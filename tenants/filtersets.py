"""One FilterSet per listed tenants model, shared by the API and the pages."""

import django_filters
from django.utils.translation import gettext_lazy as _

from partners.filtersets import visible_organisations

from .models import SpaceAllocation, Tenant


def visible_tenants(request):
    """Tenants the requesting user may see (all of them when the FilterSet is used without a request)."""
    if request is None:
        return Tenant.objects.all()
    return Tenant.objects.restrict(request.user)


class TenantFilterSet(django_filters.FilterSet):
    organisation = django_filters.ModelChoiceFilter(queryset=visible_organisations, label=_("organisation"))

    class Meta:
        model = Tenant
        fields: dict = {}


class SpaceAllocationFilterSet(django_filters.FilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=visible_tenants, label=_("tenant"))
    phase = django_filters.NumberFilter(field_name="facility__parcel__phase", label=_("phase"))
    parcel = django_filters.NumberFilter(field_name="facility__parcel", label=_("parcel"))

    class Meta:
        model = SpaceAllocation
        fields = {"status": ["exact"], "facility": ["exact"]}
