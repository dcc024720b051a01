"""One FilterSet per listed partners model, shared by the API and the pages.

Choices of organisations are scoped to what the requesting user may see, so filtering by an id tells a partner
nothing about other organisations (an unknown and a hidden organisation are the same invalid choice).
"""

import django_filters
from django.utils.translation import gettext_lazy as _

from .models import Commitment, CommitmentStage, ExpressionOfInterest, MoU, Organisation


def visible_organisations(request):
    """Organisations the requesting user may see (all of them when the FilterSet is used without a request)."""
    if request is None:
        return Organisation.objects.all()
    return Organisation.objects.restrict(request.user)


class OrganisationFilterSet(django_filters.FilterSet):
    class Meta:
        model = Organisation
        fields = {"kind": ["exact"], "sector": ["exact"], "code": ["exact"]}


class MoUFilterSet(django_filters.FilterSet):
    organisation = django_filters.ModelChoiceFilter(queryset=visible_organisations, label=_("organisation"))

    class Meta:
        model = MoU
        fields = {"status": ["exact"]}


class EOIFilterSet(django_filters.FilterSet):
    organisation = django_filters.ModelChoiceFilter(queryset=visible_organisations, label=_("organisation"))
    facility_type_code = django_filters.CharFilter(field_name="facility_type__code", label=_("facility type code"))

    class Meta:
        model = ExpressionOfInterest
        fields = {"status": ["exact"], "facility_type": ["exact"], "preferred_phase": ["exact"]}


class CommitmentFilterSet(django_filters.FilterSet):
    organisation = django_filters.ModelChoiceFilter(queryset=visible_organisations, label=_("organisation"))
    stage = django_filters.ModelChoiceFilter(queryset=CommitmentStage.objects.all(), label=_("stage"))
    stage_code = django_filters.CharFilter(field_name="stage__code", label=_("stage code"))
    phase = django_filters.NumberFilter(field_name="parcel__phase", label=_("phase"))

    class Meta:
        model = Commitment
        fields = {"kind": ["exact"], "parcel": ["exact"], "facility": ["exact"]}
