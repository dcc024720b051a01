"""The staff admin of planning data: lists with constant queries, saves through the services, history."""

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from planning import services
from planning.models import Facility, Parcel
from tests.admin_helpers import form_data
from tests.factories import (
    FacilityFactory,
    FacilityTypeFactory,
    MilestoneFactory,
    ParcelFactory,
    PhaseFactory,
    UtilityCapacityFactory,
    grid_square,
)

pytestmark = pytest.mark.django_db

CHANGELISTS = [
    "/admin/planning/campus/",
    "/admin/planning/phase/",
    "/admin/planning/parcel/",
    "/admin/planning/facilitytype/",
    "/admin/planning/facility/",
    "/admin/planning/utilitycapacity/",
    "/admin/planning/milestone/",
]


def make_rows(count: int) -> None:
    phase = PhaseFactory(number=1)
    for index in range(count):
        parcel = ParcelFactory(phase=phase, geometry=grid_square(index))
        FacilityFactory(parcel=parcel)
        UtilityCapacityFactory(phase=phase)
        MilestoneFactory(phase=phase)


@pytest.mark.parametrize("url", CHANGELISTS)
def test_changelists_load_with_queries_that_do_not_grow(admin_client, url):
    make_rows(1)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url).status_code == 200
    make_rows(4)
    with CaptureQueriesContext(connection) as many:
        assert admin_client.get(url).status_code == 200
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_parcel_list_shows_the_columns_that_matter(admin_client):
    parcel = ParcelFactory(surveyed_area_m2=Decimal("9000"), max_plot_ratio=Decimal("5"))
    FacilityFactory(parcel=parcel, gfa_m2=Decimal("37000"))

    content = admin_client.get("/admin/planning/parcel/").content.decode()

    assert parcel.code in content
    assert "0.90" in content  # site area in ha
    assert "37,000 / 45,000" in content  # GFA against cap
    assert "Not transferred" in content


def test_non_staff_roles_cannot_open_the_admin(client, planner):
    client.force_login(planner)
    response = client.get("/admin/planning/parcel/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_change_goes_through_the_service_and_lands_in_the_history(admin_client, staff_user):
    parcel = ParcelFactory(land_status="not_transferred")
    url = f"/admin/planning/parcel/{parcel.pk}/change/"
    data = form_data(admin_client.get(url))
    data["land_status"] = "transferred"

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    parcel.refresh_from_db()
    assert parcel.land_status == "transferred" and parcel.version == 2
    assert parcel.history.first().history_user == staff_user
    history = admin_client.get(f"/admin/planning/parcel/{parcel.pk}/history/").content.decode()
    assert "staff-t" in history
    assert "not_transferred" in history and "transferred" in history


def test_a_rule_violation_is_shown_on_the_field_and_nothing_is_saved(admin_client):
    parcel = ParcelFactory(surveyed_area_m2=Decimal("9000"), max_plot_ratio=Decimal("5"))
    FacilityFactory(parcel=parcel, gfa_m2=Decimal("45000"))
    url = f"/admin/planning/parcel/{parcel.pk}/change/"
    data = form_data(admin_client.get(url))
    data["max_plot_ratio"] = "4.5"

    response = admin_client.post(url, data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "exceeds the cap of 40,500 m² (plot ratio 4.5 × 9,000 m²)" in errors["max_plot_ratio"][0]
    parcel.refresh_from_db()
    assert parcel.max_plot_ratio == Decimal("5") and parcel.version == 1


def test_inline_facilities_are_checked_against_the_cap_together(admin_client):
    parcel = ParcelFactory(surveyed_area_m2=Decimal("9000"), max_plot_ratio=Decimal("5"))
    FacilityFactory(parcel=parcel, name="Tower", gfa_m2=Decimal("40000"))
    url = f"/admin/planning/parcel/{parcel.pk}/change/"
    data = form_data(admin_client.get(url))
    data["facilities-0-gfa_m2"] = "46000"

    response = admin_client.post(url, data)

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert "GFA 46,000 m² exceeds the cap of 45,000 m²" in " ".join(formset.non_form_errors())
    assert Facility.objects.get(name="Tower").gfa_m2 == Decimal("40000")


def test_inline_facility_edit_saves_through_the_service(admin_client, staff_user):
    parcel = ParcelFactory(surveyed_area_m2=Decimal("9000"), max_plot_ratio=Decimal("5"))
    facility = FacilityFactory(parcel=parcel, name="Tower", gfa_m2=Decimal("40000"))
    url = f"/admin/planning/parcel/{parcel.pk}/change/"
    data = form_data(admin_client.get(url))
    data["facilities-0-gfa_m2"] = "44000"

    response = admin_client.post(url, data)

    assert response.status_code == 302
    facility.refresh_from_db()
    assert facility.gfa_m2 == Decimal("44000") and facility.version == 2
    assert facility.history.first().history_user == staff_user


def test_adding_a_parcel_in_the_admin(admin_client):
    phase = PhaseFactory()
    response = admin_client.post(
        "/admin/planning/parcel/add/",
        {
            "campus": phase.campus_id,
            "phase": phase.pk,
            "code": "ADM-1",
            "geometry": json.dumps(grid_square(7)),
            "zoning": "OU(I&T)",
            "max_plot_ratio": "5",
            "max_site_coverage_pct": "60",
            "max_building_height_mpd": "90",
            "land_status": "not_transferred",
            "facilities-TOTAL_FORMS": "0",
            "facilities-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    parcel = Parcel.objects.get(code="ADM-1")
    assert float(parcel.computed_area_m2) == pytest.approx(10_000, rel=0.001)


def test_deleting_a_facility_type_in_use_is_refused_naming_the_facilities(admin_client):
    facility = FacilityFactory()
    office = facility.facility_type

    response = admin_client.post(f"/admin/planning/facilitytype/{office.pk}/delete/", {"post": "yes"}, follow=True)

    content = response.content.decode()
    assert "Cannot delete facility type" in content and facility.name in content
    assert type(office).objects.filter(pk=office.pk).exists()


def test_facility_type_assumptions_are_editable(admin_client):
    office = FacilityTypeFactory()
    url = f"/admin/planning/facilitytype/{office.pk}/change/"
    data = form_data(admin_client.get(url))
    data["power_kva_per_m2"] = "0.12"

    assert admin_client.post(url, data).status_code == 302
    office.refresh_from_db()
    assert office.power_kva_per_m2 == Decimal("0.12")
    services.facility_type_update(facility_type=office, actor=None, power_kva_per_m2=Decimal("0.12"))
    assert office.history.count() == 2


def test_a_new_parcel_with_facilities_over_its_cap_is_refused_on_the_form(admin_client):
    phase = PhaseFactory()
    office = FacilityTypeFactory()
    response = admin_client.post(
        "/admin/planning/parcel/add/",
        {
            "campus": phase.campus_id,
            "phase": phase.pk,
            "code": "ADM-2",
            "geometry": json.dumps(grid_square(8)),
            "zoning": "OU(I&T)",
            "max_plot_ratio": "1",
            "max_site_coverage_pct": "60",
            "max_building_height_mpd": "90",
            "land_status": "not_transferred",
            "facilities-TOTAL_FORMS": "1",
            "facilities-INITIAL_FORMS": "0",
            "facilities-0-name": "Too big",
            "facilities-0-facility_type": office.pk,
            "facilities-0-gfa_m2": "20000",
            "facilities-0-status": "concept",
            "facilities-0-delivery_model": "ppp",
        },
    )
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert "exceeds the cap of 10,000 m²" in " ".join(formset.non_form_errors())
    assert not Parcel.objects.filter(code="ADM-2").exists()
