"""The tenants API and the roll-ups: scoping (404 outside it), roles, the GFA rule, conflicts, figures (query
counts: tests/test_query_counts.py)."""

from decimal import Decimal

import pytest

from partners.models import CommitmentStage
from tenants.models import SpaceAllocation, Tenant
from tenants.services import tenant_for_organisation
from tests.conftest import api_client_for
from tests.factories import (
    AllocationFactory,
    CommitmentFactory,
    FacilityFactory,
    FacilityTypeFactory,
    ParcelFactory,
    PhaseFactory,
    TenantFactory,
)
from tests.scoped import MISSING, ScopedResource

pytestmark = pytest.mark.django_db

ROLLUPS = ["/api/v1/rollups/phases/", "/api/v1/rollups/parcels/", "/api/v1/rollups/facilities/"]


# The scoping rule for tenants and allocations: tests/scoped.py (org_a, org_b, partner_a: tests/conftest.py).


class TestScopedTenants(ScopedResource):
    endpoint = "tenants"
    body = {"notes": "mine"}

    def make(self, organisation):
        return tenant_for_organisation(organisation=organisation, actor=None)


class TestScopedAllocations(ScopedResource):
    endpoint = "allocations"
    body = {"gfa_m2": 1}

    def make(self, organisation):
        return AllocationFactory(tenant=tenant_for_organisation(organisation=organisation, actor=None))


def holdings(organisation) -> dict:
    return {resource.endpoint: resource().make(organisation) for resource in (TestScopedTenants, TestScopedAllocations)}


@pytest.fixture
def of_a(org_a):
    return holdings(org_a)


@pytest.fixture
def of_b(org_b):
    return holdings(org_b)


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


class TestScoping:
    """What the scoping rule means beyond one resource (tests/scoped.py has the rule per resource)."""

    def test_filtering_by_another_tenant_tells_nothing(self, partner_a, of_a, of_b):
        client = api_client_for(partner_a)
        hidden = client.get(f"/api/v1/allocations/?tenant={of_b['tenants'].pk}")
        absent = client.get(f"/api/v1/allocations/?tenant={MISSING}")
        assert hidden.status_code == absent.status_code == 400

    @pytest.mark.parametrize("role", ["staff", "planner", "executive"])
    def test_staff_planners_and_executives_see_every_organisation(self, users, of_a, of_b, role):
        client = api_client_for(users[role])
        for endpoint in of_a:
            assert ids(client.get(f"/api/v1/{endpoint}/")) == {of_a[endpoint].pk, of_b[endpoint].pk}, endpoint
            assert client.get(f"/api/v1/{endpoint}/{of_b[endpoint].pk}/").status_code == 200


class TestRoles:
    @pytest.mark.parametrize("role", ["executive", "planner"])
    def test_executives_and_planners_only_read(self, users, of_b, org_a, role):
        client = api_client_for(users[role])
        allocation = of_b["allocations"]
        url = f"/api/v1/allocations/{allocation.pk}/"

        assert client.patch(url, {"gfa_m2": 10}, format="json").status_code == 403
        assert client.delete(url).status_code == 403
        assert client.post("/api/v1/allocations/", {}, format="json").status_code == 403
        assert client.post("/api/v1/tenants/", {"organisation": org_a.pk}, format="json").status_code == 403
        assert SpaceAllocation.objects.get(pk=allocation.pk).gfa_m2 == Decimal("1000")

    def test_a_partner_reads_but_does_not_change_its_own_allocation(self, partner_a, of_a):
        client = api_client_for(partner_a)
        url = f"/api/v1/allocations/{of_a['allocations'].pk}/"
        assert client.get(url).status_code == 200
        assert client.patch(url, {"gfa_m2": 10}, format="json").status_code == 403
        assert client.delete(url).status_code == 403

    def test_staff_add_a_tenant_once_per_organisation(self, staff_user, org_a):
        client = api_client_for(staff_user)
        created = client.post("/api/v1/tenants/", {"organisation": org_a.pk}, format="json")
        again = client.post("/api/v1/tenants/", {"organisation": org_a.pk}, format="json")

        assert created.status_code == 201, created.content
        assert created.json()["organisation_name"] == "Alpha Robotics"
        assert again.status_code == 400 and set(again.json()) == {"organisation"}
        assert Tenant.objects.count() == 1


class TestAllocations:
    def test_staff_allocate_within_the_facility_gfa(self, staff_user, org_a):
        tenant = TenantFactory(organisation=org_a)
        facility = FacilityFactory(name="Edge Hall", gfa_m2=Decimal("5000"))
        client = api_client_for(staff_user)

        signed = client.post(
            "/api/v1/allocations/",
            {"tenant": tenant.pk, "facility": facility.pk, "gfa_m2": 4000, "status": "signed", "start": "2030-01-01"},
            format="json",
        )
        too_much = client.post(
            "/api/v1/allocations/",
            {"tenant": tenant.pk, "facility": facility.pk, "gfa_m2": 1500, "status": "occupied"},
            format="json",
        )

        assert signed.status_code == 201, signed.content
        body = signed.json()
        assert (body["tenant_name"], body["facility_name"], body["parcel_code"]) == (
            "Alpha Robotics",
            "Edge Hall",
            facility.parcel.code,
        )
        assert too_much.status_code == 400
        assert set(too_much.json()) == {"gfa_m2"}
        assert SpaceAllocation.objects.count() == 1

    def test_a_stale_version_is_a_409(self, staff_user, of_a):
        allocation = of_a["allocations"]
        client = api_client_for(staff_user)
        url = f"/api/v1/allocations/{allocation.pk}/"
        version = client.get(url).json()["version"]

        ok = client.patch(url, {"gfa_m2": 900, "version": version}, format="json")
        late = client.patch(url, {"gfa_m2": 800, "version": version}, format="json")

        assert ok.status_code == 200 and ok.json()["version"] == version + 1
        assert late.status_code == 409 and late.json()["current_version"] == version + 1
        assert SpaceAllocation.objects.get(pk=allocation.pk).gfa_m2 == Decimal("900")

    def test_staff_delete_an_allocation(self, staff_user, of_a):
        response = api_client_for(staff_user).delete(f"/api/v1/allocations/{of_a['allocations'].pk}/")
        assert response.status_code == 204
        assert not SpaceAllocation.objects.exists()

    def test_filters(self, staff_user, of_a, of_b):
        client = api_client_for(staff_user)
        b = of_b["allocations"]
        SpaceAllocation.objects.filter(pk=b.pk).update(status="signed")

        assert ids(client.get("/api/v1/allocations/?status=signed")) == {b.pk}
        assert ids(client.get(f"/api/v1/allocations/?facility={b.facility_id}")) == {b.pk}
        assert ids(client.get(f"/api/v1/allocations/?tenant={of_a['tenants'].pk}")) == {of_a["allocations"].pk}
        assert ids(client.get(f"/api/v1/tenants/?organisation={of_b['tenants'].organisation_id}")) == {
            of_b["tenants"].pk
        }

    def test_newest_first_unless_another_order_is_asked(self, staff_user, of_a, of_b):
        """The default order follows the primary key (an index), not names three joins away (a full sort)."""
        client = api_client_for(staff_user)
        newest_first = [row["id"] for row in client.get("/api/v1/allocations/").json()["results"]]
        assert newest_first == sorted(newest_first, reverse=True) and len(newest_first) == 2
        by_status = [row["status"] for row in client.get("/api/v1/allocations/?ordering=status").json()["results"]]
        assert by_status == sorted(by_status)


def rollup(client, url: str, **match) -> dict:
    response = client.get(url, {"page_size": 500})
    assert response.status_code == 200, response.content
    [row] = [row for row in response.json()["results"] if all(row[k] == v for k, v in match.items())]
    return row


class TestRollups:
    def test_phase_one_of_the_demo(self, demo, planner):
        phase = rollup(api_client_for(planner), "/api/v1/rollups/phases/", number=1)

        assert phase["lettable_gfa_m2"] == 104_000.0
        assert phase["weighted_occupancy_gfa_m2"] == 8_400.0  # kestrel 4,000 × 0.5 + nimbrel 8,000 × 0.8
        assert phase["precommitment_pct"] == 8.08
        assert phase["weighted_capital_hkd_m"] == 1_448.0  # 2,400 × 0.5 + 310 × 0.8
        assert phase["capex_hkd_m"] == 5_200.0
        assert phase["capital_cover_pct"] == 27.85
        assert phase["eoi_demand_gfa_m2"] == 48_000.0

    def test_parcels_and_facilities_of_the_demo(self, demo, executive):
        client = api_client_for(executive)
        parcel = rollup(client, "/api/v1/rollups/parcels/", code="P1-A")
        hall = rollup(client, "/api/v1/rollups/facilities/", name="Edge Data Hall 1")
        reserved = rollup(client, "/api/v1/rollups/facilities/", name="Innovation Tower A")

        assert parcel["phase_number"] == 1
        assert parcel["weighted_occupancy_gfa_m2"] == 8_400.0
        assert parcel["eoi_demand_gfa_m2"] == 12_000.0  # kestrel 4,000 + nimbrel 8,000, both accepted
        assert (hall["allocated_gfa_m2"], hall["gfa_m2"], hall["occupancy_pct"]) == (8_000.0, 8_000.0, 100.0)
        assert hall["weighted_occupancy_gfa_m2"] == 6_400.0
        assert (reserved["allocated_gfa_m2"], reserved["reserved_gfa_m2"]) == (0.0, 4_000.0)

    def test_percentages_are_rounded_and_null_without_a_base(self, staff_user):
        plant_type = FacilityTypeFactory(code="utilities", name_en="Utilities", lettable=False)
        facility = FacilityFactory(facility_type=plant_type, gfa_m2=Decimal("3000"))
        CommitmentFactory(parcel=facility.parcel, facility=facility, gfa_m2=Decimal("1000"))
        office = FacilityFactory(parcel=facility.parcel, gfa_m2=Decimal("3000"))
        CommitmentFactory(
            parcel=office.parcel,
            facility=office,
            gfa_m2=Decimal("1000"),
            stage=CommitmentStage.objects.get(code="mou"),
        )
        client = api_client_for(staff_user)

        plant = rollup(client, "/api/v1/rollups/facilities/", id=facility.pk)
        tower = rollup(client, "/api/v1/rollups/facilities/", id=office.pk)

        assert (plant["lettable_gfa_m2"], plant["precommitment_pct"]) == (0.0, None)
        assert tower["precommitment_pct"] == 3.33  # 1,000 × 0.1 of 3,000
        assert tower["occupancy_pct"] == 0.0

    def test_filters_and_detail(self, staff_user):
        first = ParcelFactory()
        second = ParcelFactory(phase=PhaseFactory(campus=first.campus, number=first.phase.number + 1))
        FacilityFactory(parcel=second)
        client = api_client_for(staff_user)

        parcels = client.get(f"/api/v1/rollups/parcels/?phase={second.phase_id}").json()
        facilities = client.get(f"/api/v1/rollups/facilities/?phase={first.phase_id}").json()
        detail = client.get(f"/api/v1/rollups/phases/{second.phase_id}/")

        assert [row["code"] for row in parcels["results"]] == [second.code]
        assert facilities["count"] == 0
        assert detail.status_code == 200 and detail.json()["total_gfa_m2"] == 10_000.0

    def test_partners_and_anonymous_users_are_refused(self, partner_a, of_a):
        ParcelFactory()
        for url in ROLLUPS:
            assert api_client_for(partner_a).get(url).status_code == 403, url
            assert api_client_for(None).get(url).status_code in (401, 403), url

    @pytest.mark.parametrize("role", ["planner", "executive", "staff"])
    def test_hkstp_roles_read_them(self, users, role):
        ParcelFactory()
        for url in ROLLUPS:
            assert api_client_for(users[role]).get(url).status_code == 200, url
