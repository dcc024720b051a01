"""The staff admin of tenant data: allocations within the facility's GFA, history (changelist query counts:
tests/test_query_counts.py)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenants.models import SpaceAllocation, Tenant
from tests.admin_helpers import form_data
from tests.factories import AllocationFactory, FacilityFactory, OrganisationFactory, TenantFactory

pytestmark = pytest.mark.django_db

Status = SpaceAllocation.Status
ALLOCATIONS = "/admin/tenants/spaceallocation/"
TENANTS = "/admin/tenants/tenant/"


def test_tenant_list_shows_allocations_and_the_gfa_they_hold(admin_client):
    tenant = TenantFactory(organisation=OrganisationFactory(name_en="Kestrel Robotics"))
    facility = FacilityFactory(gfa_m2=Decimal("10000"))
    AllocationFactory(tenant=tenant, facility=facility, status=Status.SIGNED, gfa_m2=Decimal("2500"))
    AllocationFactory(tenant=tenant, facility=facility, status=Status.OCCUPIED, gfa_m2=Decimal("1000"))
    AllocationFactory(tenant=tenant, facility=facility, status=Status.WAITLISTED, gfa_m2=Decimal("4000"))

    content = admin_client.get(TENANTS).content.decode()

    assert "Kestrel Robotics" in content
    assert ">3<" in content  # allocations
    assert ">3,500<" in content  # signed + occupied only


def test_a_tenant_is_added_for_an_organisation_through_the_service(admin_client, staff_user):
    organisation = OrganisationFactory()
    TenantFactory()  # an organisation that already is a tenant is not offered
    form = admin_client.get(TENANTS + "add/").context["adminform"].form
    assert list(form.fields["organisation"].queryset) == [organisation]

    response = admin_client.post(TENANTS + "add/", {"organisation": organisation.pk})

    assert response.status_code == 302, response.context["adminform"].form.errors
    tenant = Tenant.objects.get(organisation=organisation)
    assert tenant.history.first().history_user == staff_user
    page = admin_client.get(f"{TENANTS}{tenant.pk}/change/")
    assert page.status_code == 200 and list(page.context["adminform"].form.fields) == ["notes"]  # then notes only
    data = {"notes": "Needs 24/7 access."}
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(name): management[name].value() for name in management.fields})
    response = admin_client.post(page.request["PATH_INFO"], data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    tenant.refresh_from_db()
    assert tenant.notes == "Needs 24/7 access." and tenant.history.first().history_user == staff_user


def test_an_allocation_over_the_facility_gfa_is_refused_on_the_form_with_the_numbers(admin_client):
    facility = FacilityFactory(name="Tower A", gfa_m2=Decimal("10000"))
    AllocationFactory(facility=facility, status=Status.SIGNED, gfa_m2=Decimal("8000"))
    tenant = TenantFactory()

    response = admin_client.post(
        ALLOCATIONS + "add/",
        {"tenant": tenant.pk, "facility": facility.pk, "gfa_m2": "3000", "status": "signed"},
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["gfa_m2"] == [
        "Tower A has 10,000 m²; 8,000 m² is already signed or occupied, so 2,000 m² is left, not 3,000 m²."
    ]
    assert not SpaceAllocation.objects.filter(tenant=tenant).exists()


def test_signing_a_reserved_allocation_past_the_facility_gfa_is_refused_and_nothing_is_saved(admin_client):
    facility = FacilityFactory(name="Tower B", gfa_m2=Decimal("5000"))
    AllocationFactory(facility=facility, status=Status.OCCUPIED, gfa_m2=Decimal("4000"))
    reserved = AllocationFactory(facility=facility, status=Status.RESERVED, gfa_m2=Decimal("1500"))
    url = f"{ALLOCATIONS}{reserved.pk}/change/"
    data = form_data(admin_client.get(url))
    data["status"] = "signed"

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "so 1,000 m² is left, not 1,500 m²" in response.context["adminform"].form.errors["gfa_m2"][0]
    reserved.refresh_from_db()
    assert reserved.status == Status.RESERVED and reserved.version == 1


def test_an_allocation_change_goes_through_the_service_and_lands_in_the_history(admin_client, staff_user):
    facility = FacilityFactory(gfa_m2=Decimal("5000"))
    allocation = AllocationFactory(facility=facility, status=Status.RESERVED, gfa_m2=Decimal("1500"))
    url = f"{ALLOCATIONS}{allocation.pk}/change/"
    data = form_data(admin_client.get(url))
    data.update(status="signed", start="2028-01-01")

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    allocation.refresh_from_db()
    assert allocation.status == Status.SIGNED and allocation.version == 2
    assert allocation.history.first().history_user == staff_user
    history = " ".join(admin_client.get(f"{ALLOCATIONS}{allocation.pk}/history/").content.decode().split())
    assert "staff-t" in history
    assert "<strong>Status:</strong> reserved &nbsp;&rarr;&nbsp;&nbsp;signed" in history


def test_an_end_before_the_start_is_refused(admin_client):
    allocation = AllocationFactory()
    url = f"{ALLOCATIONS}{allocation.pk}/change/"
    data = form_data(admin_client.get(url))
    data.update(start="2028-06-01", end="2028-01-01")

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "The end cannot be before the start." in response.content.decode()
    allocation.refresh_from_db()
    assert allocation.start is None


def test_deleting_an_allocation_goes_through_the_service(admin_client, staff_user):
    allocation = AllocationFactory()

    response = admin_client.post(f"{ALLOCATIONS}{allocation.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not SpaceAllocation.objects.filter(pk=allocation.pk).exists()
    assert SpaceAllocation.history.filter(id=allocation.pk).first().history_user == staff_user


def test_the_tenant_page_lists_its_allocations_with_constant_queries(admin_client):
    tenant = TenantFactory()
    AllocationFactory(tenant=tenant)
    url = f"{TENANTS}{tenant.pk}/change/"
    admin_client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url).status_code == 200
    for _ in range(3):
        AllocationFactory(tenant=tenant)
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(url)
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
    assert len(response.context["inline_admin_formsets"][0].formset.forms) == 4


@pytest.mark.parametrize("role", ["planner", "executive", "partner"])
@pytest.mark.parametrize("url", [TENANTS, ALLOCATIONS, ALLOCATIONS + "add/"])
def test_non_staff_roles_cannot_open_the_tenant_admin(client, users, role, url):
    client.force_login(users[role])
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
