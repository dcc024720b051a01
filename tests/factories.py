"""Factories for tests. They create through the services, so every object they make obeys the plan's rules.

Geometry is laid out in HK1980 Grid metres and stored as WGS84, as real surveys would be: the test campus is a
1 km × 1 km square; parcels are 100 m × 100 m squares on a 110 m grid inside it, so they never overlap.
"""

import datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from partners import services as partner_services
from partners import workflow as eoi_workflow
from partners.models import Commitment, CommitmentStage, ExpressionOfInterest, MoU, Organisation
from planning import services
from planning.geometry import rectangle_geojson
from planning.models import (
    Campus,
    Facility,
    FacilityType,
    Parcel,
    Phase,
    ScheduleDependency,
    ScheduleItem,
    UtilityCapacity,
)
from tenants import services as tenant_services
from tenants.models import SpaceAllocation, Tenant

CAMPUS_ORIGIN = (825000.0, 839000.0)
CAMPUS_SIDE_M = 1000.0
PARCEL_SIDE_M = 100.0
PARCEL_PITCH_M = 110.0
PARCELS_PER_ROW = 9


def grid_square(index: int, side: float = PARCEL_SIDE_M) -> dict:
    """The index-th free square of the test campus, as GeoJSON."""
    x0, y0 = CAMPUS_ORIGIN
    x = x0 + 5 + (index % PARCELS_PER_ROW) * PARCEL_PITCH_M
    y = y0 + 5 + (index // PARCELS_PER_ROW) * PARCEL_PITCH_M
    return rectangle_geojson(x, y, x + side, y + side)


class ServiceFactory(factory.django.DjangoModelFactory):
    """Creates through `create_service(actor=None, **fields)`."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return cls.create_service(actor=None, **kwargs)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.django.Password("secret-pass-123")

    @factory.post_generation
    def role(user, create, extracted, **kwargs):
        if create and extracted:
            user.groups.add(Group.objects.get(name=extracted))


class CampusFactory(ServiceFactory):
    class Meta:
        model = Campus

    create_service = staticmethod(services.campus_create)
    code = factory.Sequence(lambda n: f"campus-{n}")
    name_en = factory.Sequence(lambda n: f"Test campus {n}")
    name_zh = "測試園區"
    boundary = factory.LazyFunction(
        lambda: rectangle_geojson(
            CAMPUS_ORIGIN[0], CAMPUS_ORIGIN[1], CAMPUS_ORIGIN[0] + CAMPUS_SIDE_M, CAMPUS_ORIGIN[1] + CAMPUS_SIDE_M
        )
    )
    land_target_ha = Decimal("100")
    zoning_default = "OU(I&T)"
    max_plot_ratio = Decimal("6")
    max_site_coverage_pct = Decimal("60")
    max_building_height_mpd = Decimal("90")
    talent_housing_units_cap = 1500


class PhaseFactory(ServiceFactory):
    class Meta:
        model = Phase

    create_service = staticmethod(services.phase_create)
    campus = factory.SubFactory(CampusFactory)
    number = factory.Sequence(lambda n: n + 1)
    name_en = factory.LazyAttribute(lambda phase: f"Phase {phase.number}")
    name_zh = factory.LazyAttribute(lambda phase: f"第{phase.number}期")
    target_area_ha = Decimal("1")
    planned_start = datetime.date(2027, 1, 15)
    planned_completion = datetime.date(2029, 12, 31)
    capex_hkd_m = Decimal("1000")


class ParcelFactory(ServiceFactory):
    class Meta:
        model = Parcel

    create_service = staticmethod(services.parcel_create)
    campus = factory.LazyAttribute(lambda parcel: parcel.phase.campus if parcel.phase else CampusFactory())
    phase = factory.SubFactory(PhaseFactory)
    code = factory.Sequence(lambda n: f"T-{n}")
    geometry = factory.Sequence(lambda n: grid_square(n % (PARCELS_PER_ROW * PARCELS_PER_ROW)))
    max_plot_ratio = Decimal("5")
    land_status = Parcel.LandStatus.NOT_TRANSFERRED


class FacilityTypeFactory(ServiceFactory):
    class Meta:
        model = FacilityType
        django_get_or_create = ("code",)

    create_service = staticmethod(services.facility_type_create)
    code = "office"
    name_en = "Office / R&D"
    name_zh = "辦公室／研發"
    lettable = True
    core = True
    capacity_unit = "workstations"
    gfa_per_capacity_m2 = Decimal("12")
    power_kva_per_m2 = Decimal("0.1")
    water_m3_day_per_1000m2 = Decimal("1")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        existing = FacilityType.objects.filter(code=kwargs["code"]).first()
        return existing or super()._create(model_class, *args, **kwargs)

    @classmethod
    def _get_or_create(cls, model_class, *args, **kwargs):
        return cls._create(model_class, *args, **kwargs)


class FacilityFactory(ServiceFactory):
    class Meta:
        model = Facility

    create_service = staticmethod(services.facility_create)
    parcel = factory.SubFactory(ParcelFactory)
    facility_type = factory.SubFactory(FacilityTypeFactory)
    name = factory.Sequence(lambda n: f"Building {n}")
    gfa_m2 = Decimal("10000")
    capacity = Decimal("800")


class UtilityCapacityFactory(ServiceFactory):
    class Meta:
        model = UtilityCapacity

    create_service = staticmethod(services.utility_capacity_create)
    phase = factory.SubFactory(PhaseFactory)
    kind = UtilityCapacity.Kind.POWER
    capacity = Decimal("12")
    available_from = datetime.date(2026, 12, 31)
    status = UtilityCapacity.Status.COMMITTED


class ScheduleItemFactory(ServiceFactory):
    """An activity of 30 days by default; `MilestoneFactory` for a milestone."""

    class Meta:
        model = ScheduleItem

    create_service = staticmethod(services.schedule_item_create)
    phase = factory.SubFactory(PhaseFactory)
    kind = ScheduleItem.Kind.ACTIVITY
    category = ScheduleItem.Category.OTHER
    title = factory.Sequence(lambda n: f"Work {n}")
    duration_days = 30
    baseline_start = datetime.date(2027, 1, 15)


class MilestoneFactory(ScheduleItemFactory):
    kind = ScheduleItem.Kind.MILESTONE
    title = factory.Sequence(lambda n: f"Step {n}")
    duration_days = 0


class ScheduleDependencyFactory(ServiceFactory):
    class Meta:
        model = ScheduleDependency

    create_service = staticmethod(services.schedule_dependency_create)
    predecessor = factory.SubFactory(ScheduleItemFactory)
    successor = factory.SubFactory(ScheduleItemFactory, phase=factory.SelfAttribute("..predecessor.phase"))
    lag_days = 0


# --- partners and tenants ---------------------------------------------------------------------------------------


class OrganisationFactory(ServiceFactory):
    class Meta:
        model = Organisation

    create_service = staticmethod(partner_services.organisation_create)
    code = factory.Sequence(lambda n: f"org-{n}")
    name_en = factory.Sequence(lambda n: f"Organisation {n}")
    name_zh = factory.Sequence(lambda n: f"機構{n}")
    kind = Organisation.Kind.ENTERPRISE
    sector = "ai_robotics"


def partner_user(organisation: Organisation, *, username: str | None = None, role: str = "member"):
    """A portal user of `organisation` (role "member" or "admin")."""
    user = UserFactory(**({"username": username} if username else {}))
    partner_services.membership_set(user=user, organisation=organisation, role=role, actor=None)
    return user


class EOIFactory(ServiceFactory):
    """A draft EOI; pass `status=` to walk it along the workflow (as the system)."""

    class Meta:
        model = ExpressionOfInterest

    create_service = staticmethod(partner_services.eoi_create)
    organisation = factory.SubFactory(OrganisationFactory)
    facility_type = factory.SubFactory(FacilityTypeFactory)
    preferred_phase = factory.SubFactory(PhaseFactory)
    gfa_m2 = Decimal("2000")
    jobs = 50
    investment_hkd_m = Decimal("100")
    description = "A lab and offices for our robotics team."

    @classmethod
    def _create(cls, model_class, *args, status=None, **kwargs):
        eoi = super()._create(model_class, *args, **kwargs)
        for move in eoi_workflow.path_to(status or ExpressionOfInterest.Status.DRAFT):
            eoi = partner_services.eoi_transition(eoi=eoi, actor=None, transition=move.name)
        return eoi


class CommitmentFactory(ServiceFactory):
    class Meta:
        model = Commitment

    create_service = staticmethod(partner_services.commitment_create)
    organisation = factory.SubFactory(OrganisationFactory)
    parcel = factory.SubFactory(ParcelFactory)
    kind = Commitment.Kind.OCCUPANCY
    stage = factory.LazyFunction(lambda: CommitmentStage.objects.get(code="heads_of_terms"))
    gfa_m2 = Decimal("1000")
    date = datetime.date(2026, 6, 1)


class MoUFactory(ServiceFactory):
    class Meta:
        model = MoU

    create_service = staticmethod(partner_services.mou_create)
    organisation = factory.SubFactory(OrganisationFactory)
    title = factory.Sequence(lambda n: f"Partnership {n}")
    status = MoU.Status.NEGOTIATING


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    organisation = factory.SubFactory(OrganisationFactory)

    @classmethod
    def _create(cls, model_class, *args, organisation, **kwargs):
        return tenant_services.tenant_for_organisation(organisation=organisation, actor=None)


class AllocationFactory(ServiceFactory):
    class Meta:
        model = SpaceAllocation

    create_service = staticmethod(tenant_services.allocation_create)
    tenant = factory.SubFactory(TenantFactory)
    facility = factory.SubFactory(FacilityFactory)
    gfa_m2 = Decimal("1000")
    status = SpaceAllocation.Status.RESERVED
