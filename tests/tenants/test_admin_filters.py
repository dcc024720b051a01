"""Changelists whose sidebar filters search the related rows instead of listing them all (core.admin_filters).

Before, the EOI changelist listed every organisation with an EOI and the allocation changelist every facility:
1–1.6 MB a page at HKSTP scale. Now a page's size and query count do not depend on how many organisations or
facilities exist, the chosen one still filters, and the search box is the admin's own autocomplete view.
"""

from decimal import Decimal

import pytest

from partners.models import ExpressionOfInterest
from tenants.models import SpaceAllocation
from tests.factories import (
    AllocationFactory,
    EOIFactory,
    FacilityFactory,
    FacilityTypeFactory,
    OrganisationFactory,
    ParcelFactory,
    PhaseFactory,
    TenantFactory,
    grid_square,
)

pytestmark = pytest.mark.django_db

EOI_CHANGELIST = "/admin/partners/expressionofinterest/"
ALLOCATION_CHANGELIST = "/admin/tenants/spaceallocation/"


def make_eois(count: int) -> list:
    phase = PhaseFactory(number=1)
    office = FacilityTypeFactory()
    # Submitted: the changelist opens on the review queue, which leaves drafts out.
    return [EOIFactory(preferred_phase=phase, facility_type=office, status="submitted") for _ in range(count)]


def make_allocations(count: int) -> list:
    phase = PhaseFactory(number=1)
    allocations = []
    for index in range(count):
        parcel = ParcelFactory(phase=phase, campus=phase.campus, geometry=grid_square(index))
        allocations.append(AllocationFactory(facility=FacilityFactory(parcel=parcel)))
    return allocations


def test_eoi_changelist_does_not_list_every_organisation(admin_client):
    eois = make_eois(3)
    silent = OrganisationFactory(name_en="Organisation without a chosen filter")

    page = admin_client.get(EOI_CHANGELIST).content.decode()

    # Each EOI's organisation appears in its row, but no organisation is offered as a filter link.
    assert "organisation__id__exact=" not in page
    assert silent.name_en not in page
    assert 'data-field-name="organisation"' in page and 'data-model-name="expressionofinterest"' in page
    assert all(eoi.organisation.name_en in page for eoi in eois)


def test_eoi_changelist_filters_by_the_chosen_organisation(admin_client):
    eois = make_eois(3)
    chosen = eois[1].organisation

    response = admin_client.get(f"{EOI_CHANGELIST}?organisation__id__exact={chosen.pk}")

    assert response.status_code == 200
    assert [eoi.pk for eoi in response.context["cl"].result_list] == [eois[1].pk]
    page = response.content.decode()
    assert f'<option value="{chosen.pk}" selected>{chosen}</option>' in page


def test_a_malformed_choice_is_not_a_500(admin_client):
    make_eois(1)
    response = admin_client.get(f"{EOI_CHANGELIST}?organisation__id__exact=abc")
    assert response.status_code in (200, 302)


def test_the_search_box_is_the_admins_autocomplete_view(admin_client):
    eois = make_eois(2)
    wanted = eois[0].organisation

    response = admin_client.get(
        "/admin/autocomplete/",
        {
            "app_label": "partners",
            "model_name": "expressionofinterest",
            "field_name": "organisation",
            "term": wanted.code,
        },
    )

    assert response.status_code == 200
    assert response.json()["results"] == [{"id": str(wanted.pk), "text": str(wanted)}]


def test_eoi_changelist_queries_stay_the_same_with_more_organisations(admin_client, django_assert_num_queries):
    make_eois(2)
    admin_client.get(EOI_CHANGELIST)  # warm the session and content types
    # Session, user, the user's and group's permissions, the facility type and phase filters, the queue's count,
    # the page's rows (organisation, type, phase and parcel joined), the user's roles. Absolute, so any new
    # query is seen; no full-table count (show_full_result_count off) and no organisation list.
    with django_assert_num_queries(9):
        admin_client.get(EOI_CHANGELIST)
    for _ in range(5):
        OrganisationFactory()
    assert ExpressionOfInterest.objects.count() == 2
    with django_assert_num_queries(9):
        admin_client.get(EOI_CHANGELIST)
    # A chosen organisation costs one query more: its name for the search box.
    chosen = ExpressionOfInterest.objects.first().organisation_id
    with django_assert_num_queries(10):
        admin_client.get(f"{EOI_CHANGELIST}?organisation__id__exact={chosen}")


def test_allocation_changelist_does_not_list_every_facility_or_tenant(admin_client):
    allocations = make_allocations(3)
    spare = FacilityFactory(name="Facility nobody chose", parcel=allocations[0].facility.parcel)
    idle = TenantFactory()

    page = admin_client.get(ALLOCATION_CHANGELIST).content.decode()

    assert "facility__id__exact=" not in page and "tenant__id__exact=" not in page
    assert spare.name not in page and idle.organisation.name_en not in page
    assert 'data-field-name="facility"' in page and 'data-field-name="tenant"' in page
    # select2 is loaded once, however many such filters the page has.
    assert page.count("admin/js/vendor/select2/select2.full.min.js") == 1


def test_allocation_changelist_filters_by_the_chosen_facility(admin_client):
    allocations = make_allocations(3)
    chosen = allocations[2].facility

    response = admin_client.get(f"{ALLOCATION_CHANGELIST}?facility__id__exact={chosen.pk}&status=reserved")

    assert [row.pk for row in response.context["cl"].result_list] == [allocations[2].pk]
    page = response.content.decode()
    # The search form keeps the other filters when a new facility is chosen.
    assert '<input type="hidden" name="status" value="reserved">' in page


def test_allocation_changelist_queries_do_not_grow_with_facilities(admin_client, django_assert_num_queries):
    make_allocations(2)
    admin_client.get(ALLOCATION_CHANGELIST)
    # Session, user, permissions (user and group), the phase filter, the count, the page's rows (tenant,
    # organisation, facility and parcel joined), the user's roles: no facility or tenant list.
    with django_assert_num_queries(8):
        admin_client.get(ALLOCATION_CHANGELIST)
    assert SpaceAllocation.objects.count() == 2
    parcel = SpaceAllocation.objects.first().facility.parcel
    for _ in range(5):
        FacilityFactory(parcel=parcel, gfa_m2=Decimal("100"))
        TenantFactory()
    with django_assert_num_queries(8):
        admin_client.get(ALLOCATION_CHANGELIST)
