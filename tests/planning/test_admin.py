"""The staff admin of planning data: saves through the services, history (changelist query counts:
tests/test_query_counts.py)."""

import datetime
import json
from decimal import Decimal

import pytest

from planning import services
from planning.models import Facility, Parcel, ScheduleDependency, ScheduleItem
from tenants.models import SpaceAllocation
from tests.admin_helpers import form_data
from tests.factories import (
    AllocationFactory,
    CampusFactory,
    CommitmentFactory,
    EOIFactory,
    FacilityFactory,
    FacilityTypeFactory,
    MilestoneFactory,
    ParcelFactory,
    PhaseFactory,
    ScheduleDependencyFactory,
    ScheduleItemFactory,
    UtilityCapacityFactory,
    grid_square,
)

pytestmark = pytest.mark.django_db


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


def new_parcel_form(phase, code: str, square: int, *, plot_ratio: str, facilities: list[dict] = ()) -> dict:
    """The admin's add-parcel form for a 100 m square of the test grid, with its facilities inline."""
    data = {
        "campus": phase.campus_id,
        "phase": phase.pk,
        "code": code,
        "geometry": json.dumps(grid_square(square)),
        "zoning": "OU(I&T)",
        "max_plot_ratio": plot_ratio,
        "max_site_coverage_pct": "60",
        "max_building_height_mpd": "90",
        "land_status": "not_transferred",
        "facilities-TOTAL_FORMS": str(len(facilities)),
        "facilities-INITIAL_FORMS": "0",
    }
    for i, facility in enumerate(facilities):
        data.update({f"facilities-{i}-{name}": value for name, value in facility.items()})
    return data


def test_adding_a_parcel_in_the_admin(admin_client):
    phase = PhaseFactory()
    response = admin_client.post(
        "/admin/planning/parcel/add/",
        new_parcel_form(phase, "ADM-1", 7, plot_ratio="5"),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    parcel = Parcel.objects.get(code="ADM-1")
    assert float(parcel.computed_area_m2) == pytest.approx(10_000, rel=0.001)


def test_an_admin_save_runs_its_service_once(admin_client, staff_user):
    """Code review, finding 9: each admin save ran its service twice (a rolled-back dry run, then for real), so it
    took its locks twice and used up two ids of the sequence."""
    phase = PhaseFactory()

    response = admin_client.post("/admin/planning/parcel/add/", new_parcel_form(phase, "ADM-4", 3, plot_ratio="5"))

    assert response.status_code == 302
    made = Parcel.objects.get(code="ADM-4")
    assert made.history.get().history_user == staff_user
    assert ParcelFactory(phase=phase, geometry=grid_square(4)).pk == made.pk + 1


def test_a_new_parcel_the_services_refuse_is_shown_again_unsaved(admin_client):
    phase = PhaseFactory()
    ParcelFactory(phase=phase, code="ADM-5", geometry=grid_square(5))

    response = admin_client.post("/admin/planning/parcel/add/", new_parcel_form(phase, "ADM-6", 5, plot_ratio="5"))

    assert response.status_code == 200
    assert "The parcel overlaps parcel ADM-5" in response.context["adminform"].form.errors["geometry"][0]
    assert response.context["adminform"].form.instance.pk is None
    assert not Parcel.objects.filter(code="ADM-6").exists()


def test_moving_a_parcel_to_another_campus_is_refused_on_its_field(admin_client):
    parcel = ParcelFactory()
    other = CampusFactory()
    url = f"/admin/planning/parcel/{parcel.pk}/change/"
    data = form_data(admin_client.get(url))
    data["campus"] = str(other.pk)

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["campus"] == [
        "A parcel cannot move to another campus; create it there instead."
    ]
    parcel.refresh_from_db()
    assert parcel.campus_id != other.pk and parcel.version == 1


def test_a_past_version_is_shown_but_never_saved_back(admin_client):
    """Reverting is off (SIMPLE_HISTORY_REVERT_DISABLED): a POST to a past version's page would skip the services."""
    parcel = ParcelFactory(lot_ref="Lot 1")
    services.parcel_update(parcel=parcel, actor=None, lot_ref="Lot 2")
    url = f"/admin/planning/parcel/{parcel.pk}/history/{parcel.history.earliest().history_id}/"
    page = admin_client.get(url)
    assert page.status_code == 200 and page.context["adminform"].form["lot_ref"].value() == "Lot 1"

    response = admin_client.post(url, form_data(page))

    assert response.status_code == 403
    parcel.refresh_from_db()
    assert (parcel.lot_ref, parcel.version, parcel.history.count()) == ("Lot 2", 2, 2)
    assert Parcel.objects.count() == 1


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
        new_parcel_form(
            phase,
            "ADM-2",
            8,
            plot_ratio="1",
            facilities=[
                {
                    "name": "Too big",
                    "facility_type": office.pk,
                    "gfa_m2": "20000",
                    "status": "concept",
                    "delivery_model": "ppp",
                }
            ],
        ),
    )
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert "exceeds the cap of 10,000 m²" in " ".join(formset.non_form_errors())
    assert not Parcel.objects.filter(code="ADM-2").exists()


# --- readiness read by people, numbers with units (issue 7) -------------------------------------------------------


@pytest.fixture(autouse=True)
def _default_language_afterwards():
    """A request in Chinese leaves Chinese active in this thread (LocaleMiddleware): later tests expect English."""
    yield
    from django.utils import translation

    translation.deactivate()


def _at_risk_phase():
    """A phase whose land gate fails (blocked) and one overdue milestone, with a computed snapshot."""
    from django.utils import timezone

    parcel = ParcelFactory(land_status="not_transferred")
    MilestoneFactory(
        phase=parcel.phase,
        category="site_handover",
        title="",
        baseline_start=timezone.localdate() - datetime.timedelta(9),
    )
    snapshot = services.readiness_recompute(phase=parcel.phase)
    return parcel, snapshot


def test_the_snapshot_page_reads_like_the_api_in_the_reader_s_language(admin_client):
    from django.utils import timezone

    _parcel, snapshot = _at_risk_phase()
    url = f"/admin/planning/readinesssnapshot/{snapshot.pk}/change/"

    english = admin_client.get(url).content.decode()
    chinese = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()

    assert "%(" not in english and "%(" not in chinese  # no message templates, no raw JSON
    assert "is not transferred and no handover is scheduled" in english
    assert "Site handover was due on" in english
    assert f"{round(snapshot.score * 100):.0f} %" in english  # the score as a percentage
    assert "Land" in english and "Failed" in english
    assert "土地" in chinese and "is not transferred" not in chinese
    # The title and breadcrumb give the time in Hong Kong, as the body does (not UTC).
    local = timezone.localtime(snapshot.computed_at).strftime("%H:%M")
    title = english.split("<title>")[1].split("</title>")[0]
    assert local in title


def test_the_phase_list_shows_readiness_as_a_percentage(admin_client):
    parcel, snapshot = _at_risk_phase()
    services.readiness_setting_update(
        setting=services.ReadinessCriterionSetting.objects.get(code="land"), actor=None, is_gate=False
    )
    snapshot = services.readiness_recompute(phase=parcel.phase)

    content = admin_client.get("/admin/planning/phase/").content.decode()

    assert f"At risk ({round(snapshot.score * 100):.0f} %)" in content
    assert str(snapshot.score) not in content  # not "0.620000000000000"


def test_the_phase_page_shows_its_current_readiness(admin_client):
    parcel, snapshot = _at_risk_phase()
    services.parcel_update(parcel=parcel, actor=None, lot_ref="Lot 12")  # marks the phase stale

    content = admin_client.get(f"/admin/planning/phase/{parcel.phase_id}/change/").content.decode()

    assert "Blocked" in content and f"{round(snapshot.score * 100):.0f} %" in content
    assert "is not transferred and no handover is scheduled" in content
    assert "stale: a recompute is pending" in content
    assert "computed " in content


def test_the_schedule_item_list_marks_only_overdue_items(admin_client):
    from django.utils import timezone

    today = timezone.localdate()
    # The two activities are forecast to finish on the target (no float left), so they are critical.
    phase = PhaseFactory(
        planned_start=today - datetime.timedelta(days=40), planned_completion=today + datetime.timedelta(days=30)
    )
    MilestoneFactory(phase=phase, baseline_start=today - datetime.timedelta(days=3))
    # An activity is overdue by its baseline finish: this one started 40 days ago and was due 10 days ago.
    ScheduleItemFactory(phase=phase, baseline_start=today - datetime.timedelta(days=40))
    for days in (10, 20, 30):
        MilestoneFactory(phase=phase, baseline_start=today + datetime.timedelta(days=days))
    ScheduleItemFactory(phase=phase, baseline_start=today - datetime.timedelta(days=20))  # due in 10 days

    content = admin_client.get("/admin/planning/scheduleitem/").content.decode()

    assert content.count('class="badge badge-overdue"') == 2
    # No red ✖ on the items that are on time, nor on those with float to spare: the critical ones say so in words.
    assert "icon-no" not in content and "icon-yes" not in content
    assert ScheduleItem.objects.filter(critical=True).count() == 2
    assert content.count("<strong>Critical</strong>") == 2


def test_an_item_s_page_lists_its_predecessors_read_only(admin_client):
    phase = PhaseFactory()
    handover = MilestoneFactory(phase=phase, category="site_handover", title="")
    works = ScheduleItemFactory(phase=phase, title="Piling")
    ScheduleDependencyFactory(predecessor=handover, successor=works, lag_days=14)

    response = admin_client.get(f"/admin/planning/scheduleitem/{works.pk}/change/")

    [inline] = response.context["inline_admin_formsets"]
    assert [(form.original.predecessor, form.original.lag_days) for form in inline] == [(handover, 14)]
    page = response.content.decode()
    # Shown, not edited here: no field, no delete box, no "add another" (dependencies have their own page).
    assert 'name="predecessor_links-0-lag_days"' not in page and 'name="predecessor_links-0-DELETE"' not in page
    assert not inline.has_add_permission


def test_an_item_changed_in_the_admin_is_rescheduled_with_its_successor(admin_client, staff_user):
    phase = PhaseFactory(planned_start=datetime.date(2040, 1, 1), planned_completion=datetime.date(2041, 1, 1))
    works = ScheduleItemFactory(phase=phase, title="Works", baseline_start=datetime.date(2040, 1, 1))
    opening = MilestoneFactory(phase=phase, title="Opening", baseline_start=datetime.date(2040, 1, 31))
    ScheduleDependencyFactory(predecessor=works, successor=opening)
    url = f"/admin/planning/scheduleitem/{works.pk}/change/"
    data = form_data(admin_client.get(url))
    data["duration_days"] = "45"

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    opening.refresh_from_db()
    assert opening.forecast_start == datetime.date(2040, 2, 15)  # 1 Jan 2040 + 45 days
    assert works.history.first().history_user == staff_user


def test_a_dependency_closing_a_cycle_is_refused_beside_the_field_in_the_admin(admin_client):
    phase = PhaseFactory()
    a = ScheduleItemFactory(phase=phase, title="Design")
    b = ScheduleItemFactory(phase=phase, title="Build")
    ScheduleDependencyFactory(predecessor=a, successor=b)

    response = admin_client.post(
        "/admin/planning/scheduledependency/add/", {"predecessor": b.pk, "successor": a.pk, "lag_days": "0"}
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "would close a cycle: Build → Design → Build" in " ".join(errors["predecessor"])
    assert ScheduleDependency.objects.count() == 1


@pytest.mark.parametrize("language", ["en", "zh-hant"])
def test_facility_gfa_and_capacity_show_separators_and_units(admin_client, language):
    facility_type = FacilityTypeFactory(capacity_unit="MW IT load")
    FacilityFactory(facility_type=facility_type, gfa_m2=Decimal("30000.00"), capacity=Decimal("2.00"))

    content = admin_client.get("/admin/planning/facility/", HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert "30,000 m²" in content and "30000" not in content
    assert "2 MW IT load" in content


def test_readiness_targets_are_edited_in_the_admin_and_mark_every_phase_stale(admin_client):
    from planning.models import Phase, ReadinessCriterionSetting

    phase = ParcelFactory().phase
    services.readiness_recompute(phase=phase)
    setting = ReadinessCriterionSetting.objects.get(code="demand")
    url = f"/admin/planning/readinesscriterionsetting/{setting.pk}/change/"
    page = admin_client.get(url)
    assert "Share of the phase" in page.content.decode()
    data = form_data(page)
    assert data["target_spoken_for_pct"] == "50"
    data["target_spoken_for_pct"] = "40"

    response = admin_client.post(url, data)

    assert response.status_code == 302
    assert ReadinessCriterionSetting.objects.get(pk=setting.pk).targets == {"spoken_for_pct": "40"}
    assert Phase.objects.get(pk=phase.pk).readiness_stale
    data["target_spoken_for_pct"] = "0"
    refused = admin_client.post(url, data)
    assert refused.status_code == 200 and "target_spoken_for_pct" in refused.context["adminform"].form.errors


def test_favicon_answers_without_sign_in(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"].endswith("favicon.svg")
    assert 'rel="icon"' in client.get("/accounts/login/").content.decode()


# --- the parcel's facilities as one change set (planning.services.parcel_programme_update) ---------------------


def test_swapping_two_facilities_gfa_at_the_cap_saves_both(admin_client, staff_user):
    parcel = ParcelFactory(surveyed_area_m2=Decimal("9000"), max_plot_ratio=Decimal("5"))  # cap 45,000 m²
    FacilityFactory(parcel=parcel, name="A", gfa_m2=Decimal("5000"))
    FacilityFactory(parcel=parcel, name="B", gfa_m2=Decimal("40000"))
    url = f"/admin/planning/parcel/{parcel.pk}/change/"
    data = form_data(admin_client.get(url))
    assert (data["facilities-0-name"], data["facilities-1-name"]) == ("A", "B")
    data["facilities-0-gfa_m2"], data["facilities-1-gfa_m2"] = "40000", "5000"

    response = admin_client.post(url, data)

    assert response.status_code == 302
    assert dict(parcel.facilities.values_list("name", "gfa_m2")) == {"A": Decimal("40000"), "B": Decimal("5000")}
    assert {f.history.first().history_user for f in parcel.facilities.all()} == {staff_user}


def test_raising_the_plot_ratio_and_a_facility_together_is_one_valid_change(admin_client):
    parcel = ParcelFactory(surveyed_area_m2=Decimal("9000"), max_plot_ratio=Decimal("5"))
    FacilityFactory(parcel=parcel, name="Tower", gfa_m2=Decimal("45000"))
    url = f"/admin/planning/parcel/{parcel.pk}/change/"
    data = form_data(admin_client.get(url))
    data["max_plot_ratio"], data["facilities-0-gfa_m2"] = "6", "54000"

    assert admin_client.post(url, data).status_code == 302
    assert Facility.objects.get(name="Tower").gfa_m2 == Decimal("54000")


def test_an_inline_change_another_app_refuses_is_a_form_error_and_nothing_is_saved(admin_client):
    parcel = ParcelFactory(surveyed_area_m2=Decimal("9000"), max_plot_ratio=Decimal("5"))
    hall = FacilityFactory(parcel=parcel, name="Hall", gfa_m2=Decimal("8000"))
    AllocationFactory(facility=hall, gfa_m2=Decimal("8000"), status=SpaceAllocation.Status.SIGNED)
    url = f"/admin/planning/parcel/{parcel.pk}/change/"
    data = form_data(admin_client.get(url))
    data["lot_ref"] = "DD 1 Lot 2"
    data["facilities-0-gfa_m2"] = "100"

    response = admin_client.post(url, data)

    assert response.status_code == 200
    errors = " ".join(response.context["inline_admin_formsets"][0].formset.non_form_errors())
    assert "Facility Hall: GFA 100 m² is below the 8,000 m² already signed or occupied" in errors
    hall.refresh_from_db()
    parcel.refresh_from_db()
    assert hall.gfa_m2 == Decimal("8000") and parcel.lot_ref != "DD 1 Lot 2"


def test_deleting_an_inline_facility_with_space_allocated_is_a_form_error(admin_client):
    parcel = ParcelFactory()
    hall = FacilityFactory(parcel=parcel, name="Hall")
    AllocationFactory(facility=hall, status=SpaceAllocation.Status.OCCUPIED)
    url = f"/admin/planning/parcel/{parcel.pk}/change/"
    data = form_data(admin_client.get(url))
    data["facilities-0-DELETE"] = "on"

    response = admin_client.post(url, data)

    # The admin's inline refuses a protected row itself (before our change set runs): a form error naming it.
    assert response.status_code == 200
    errors = " ".join(response.context["inline_admin_formsets"][0].formset.non_form_errors())
    assert "Deleting facility Hall would require deleting" in errors and "space allocation" in errors
    assert Facility.objects.filter(pk=hall.pk).exists()


def test_deleting_a_parcel_with_a_commitment_in_the_admin_is_refused_naming_it(admin_client):
    parcel = ParcelFactory()
    commitment = CommitmentFactory(parcel=parcel)

    response = admin_client.post(f"/admin/planning/parcel/{parcel.pk}/delete/", {"post": "yes"}, follow=True)

    content = response.content.decode()
    assert response.status_code == 200 and "Cannot delete parcel" in content and str(commitment) in content
    assert Parcel.objects.filter(pk=parcel.pk).exists()


def test_deleting_a_parcel_an_eoi_asks_for_in_the_admin_shows_the_refusal(admin_client):
    """Not a database PROTECT (the preference would be cleared): the guard's refusal, shown as a message."""
    parcel = ParcelFactory(code="P9-Z")
    eoi = EOIFactory(preferred_phase=parcel.phase, preferred_parcel=parcel, status="submitted")

    response = admin_client.post(f"/admin/planning/parcel/{parcel.pk}/delete/", {"post": "yes"}, follow=True)

    content = response.content.decode()
    assert response.status_code == 200
    assert "Cannot delete parcel" in content
    assert f"Parcel P9-Z cannot be deleted: 1 EOI still in play asks for it (EOI {eoi.reference}" in content
    assert "deleted successfully" not in content
    assert Parcel.objects.filter(pk=parcel.pk).exists()


def test_a_new_parcel_with_its_facilities_is_saved_in_one_go(admin_client, staff_user):
    phase = PhaseFactory()
    office = FacilityTypeFactory()
    response = admin_client.post(
        "/admin/planning/parcel/add/",
        new_parcel_form(
            phase,
            "ADM-3",
            9,
            plot_ratio="1",
            facilities=[
                {
                    "name": building,
                    "facility_type": office.pk,
                    "gfa_m2": "5000",
                    "status": "concept",
                    "delivery_model": "ppp",
                }
                for building in ["East", "West"]
            ],
        ),
    )

    assert response.status_code == 302
    parcel = Parcel.objects.get(code="ADM-3")
    assert sorted(parcel.facilities.values_list("name", flat=True)) == ["East", "West"]
    assert {f.history.get().history_user for f in parcel.facilities.all()} == {staff_user}


@pytest.mark.parametrize(
    ("factory", "path", "responsible"),
    [
        (ScheduleItemFactory, "scheduleitem", "HKSTP Capital Projects"),
        (UtilityCapacityFactory, "utilitycapacity", "CLP Power Hong Kong"),
    ],
)
def test_the_responsible_party_is_listed_searched_and_changed_through_the_service(
    admin_client, staff_user, factory, path, responsible
):
    row = factory(responsible=responsible)
    factory(phase=row.phase, responsible="Someone else")
    url = f"/admin/planning/{path}/{row.pk}/change/"
    data = form_data(admin_client.get(url))
    data["responsible"] = f"{responsible}, delivery team"

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    row.refresh_from_db()
    assert row.responsible == f"{responsible}, delivery team"
    assert row.history.first().history_user == staff_user
    found = admin_client.get(f"/admin/planning/{path}/", {"q": "delivery team"}).context["cl"].result_list
    assert list(found) == [row]
