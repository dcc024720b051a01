"""Every date a person enters is plausible (settings.DATE_EARLIEST…DATE_LATEST), and dates that record what has
happened (a schedule item's actual start and finish, an MoU's signed date, an occupied allocation's start) are not
after today — the same field error through the API, the admin and the portal, because the check is part of the
models' `clean_fields` that every service's `full_clean` runs."""

import datetime
import re

import pytest
from django.utils import timezone

from partners.models import MoU
from planning.models import Phase, ScheduleItem
from tenants.models import SpaceAllocation
from tests.admin_helpers import form_data
from tests.conftest import api_client_for
from tests.factories import (
    EOIFactory,
    FacilityFactory,
    MilestoneFactory,
    OrganisationFactory,
    PhaseFactory,
    ScheduleItemFactory,
    TenantFactory,
    partner_user,
)

pytestmark = pytest.mark.django_db

OUT_OF_RANGE = "must be between 1 Jan 1990 and 31 Dec 2100."


def tomorrow() -> str:
    return (timezone.localdate() + datetime.timedelta(days=1)).isoformat()


class TestThroughTheApi:
    def test_a_milestone_actual_date_of_9999_is_refused_on_its_field(self, api):
        milestone = MilestoneFactory()

        response = api.patch(f"/api/v1/schedule-items/{milestone.pk}/", {"actual_start": "9999-12-31"}, format="json")

        assert response.status_code == 400
        # On the field sent, not also on the actual finish a milestone's single date would have set.
        assert response.json() == {"actual_start": [f"Actual start {OUT_OF_RANGE}"]}
        assert ScheduleItem.objects.get(pk=milestone.pk).actual_start is None

    def test_a_milestone_cannot_be_done_tomorrow(self, api):
        milestone = MilestoneFactory()

        response = api.patch(f"/api/v1/schedule-items/{milestone.pk}/", {"actual_finish": tomorrow()}, format="json")

        assert response.status_code == 400
        [message] = response.json()["actual_finish"]
        assert message.startswith("Actual finish records what has happened, so it cannot be after today (")
        assert list(response.json()) == ["actual_finish"]

    def test_an_activity_cannot_have_started_tomorrow(self, api):
        activity = ScheduleItemFactory()

        response = api.patch(f"/api/v1/schedule-items/{activity.pk}/", {"actual_start": tomorrow()}, format="json")

        assert response.status_code == 400
        assert response.json()["actual_start"][0].startswith("Actual start records what has happened")

    def test_a_milestone_done_today_or_before_is_recorded(self, api):
        milestone = MilestoneFactory()
        today = timezone.localdate().isoformat()

        response = api.patch(f"/api/v1/schedule-items/{milestone.pk}/", {"actual_start": today}, format="json")

        assert response.status_code == 200, response.content
        done = ScheduleItem.objects.get(pk=milestone.pk)
        assert done.actual_start.isoformat() == done.actual_finish.isoformat() == today
        # Baseline and "not before" dates may lie in the future, within the range.
        later = api.patch(
            f"/api/v1/schedule-items/{milestone.pk}/",
            {"baseline_start": "2099-06-30", "start_not_before": "2099-06-30"},
            format="json",
        )
        assert later.status_code == 200, later.content

    def test_a_phase_starting_in_year_1_is_refused(self, api):
        phase = PhaseFactory()

        response = api.patch(
            f"/api/v1/phases/{phase.pk}/",
            {"planned_start": "0001-01-01", "planned_completion": "9999-12-31"},
            format="json",
        )

        assert response.status_code == 400
        assert response.json() == {
            "planned_start": [f"Planned start {OUT_OF_RANGE}"],
            "planned_completion": [f"Planned completion {OUT_OF_RANGE}"],
        }
        assert Phase.objects.get(pk=phase.pk).planned_start == datetime.date(2027, 1, 15)

    def test_an_mou_signed_tomorrow_is_refused(self, staff_user):
        client = api_client_for(staff_user)
        organisation = OrganisationFactory()

        response = client.post(
            "/api/v1/mous/",
            {"organisation": organisation.pk, "title": "Lab", "status": "signed", "signed_date": tomorrow()},
            format="json",
        )

        assert response.status_code == 400
        assert "Signed date records what has happened" in response.json()["signed_date"][0]
        assert not MoU.objects.exists()

        signed = client.post(
            "/api/v1/mous/",
            {"organisation": organisation.pk, "title": "Lab", "status": "signed", "signed_date": "2026-01-20"},
            format="json",
        )
        assert signed.status_code == 201, signed.content

    def test_an_allocation_occupied_from_tomorrow_is_refused_but_one_reserved_from_then_is_not(self, staff_user):
        client = api_client_for(staff_user)
        tenant, facility = TenantFactory(), FacilityFactory()
        fields = {"tenant": tenant.pk, "facility": facility.pk, "gfa_m2": 100, "start": tomorrow()}

        occupied = client.post("/api/v1/allocations/", {**fields, "status": "occupied"}, format="json")
        reserved = client.post("/api/v1/allocations/", {**fields, "status": "reserved"}, format="json")

        assert occupied.status_code == 400
        assert list(occupied.json()) == ["start"]
        assert "Start records what has happened" in occupied.json()["start"][0]
        assert reserved.status_code == 201, reserved.content
        assert SpaceAllocation.objects.get().status == "reserved"

    def test_a_partner_s_wanted_start_in_year_1_is_refused_even_on_a_draft(self):
        organisation = OrganisationFactory()
        eoi = EOIFactory(organisation=organisation)
        client = api_client_for(partner_user(organisation))

        response = client.patch(f"/api/v1/eois/{eoi.pk}/", {"wanted_start": "0001-01-01"}, format="json")

        assert response.status_code == 400
        assert response.json() == {"wanted_start": [f"Wanted start {OUT_OF_RANGE}"]}

    def test_a_commitment_dated_9999_is_refused(self, staff_user):
        from partners.models import CommitmentStage
        from tests.factories import ParcelFactory

        response = api_client_for(staff_user).post(
            "/api/v1/commitments/",
            {
                "organisation": OrganisationFactory().pk,
                "parcel": ParcelFactory().pk,
                "kind": "occupancy",
                "stage": CommitmentStage.objects.get(code="heads_of_terms").pk,
                "gfa_m2": 1000,
                "date": "9999-12-31",
            },
            format="json",
        )

        assert response.status_code == 400
        assert response.json() == {"date": [f"Date {OUT_OF_RANGE}"]}

    def test_the_range_is_a_setting(self, api, settings):
        settings.DATE_LATEST = datetime.date(2050, 12, 31)
        milestone = MilestoneFactory()

        response = api.patch(f"/api/v1/schedule-items/{milestone.pk}/", {"baseline_start": "2051-01-01"}, format="json")

        assert response.status_code == 400
        assert response.json() == {"baseline_start": ["Baseline start must be between 1 Jan 1990 and 31 Dec 2050."]}


class TestThroughPages:
    def test_the_admin_shows_the_refusal_on_the_field(self, admin_client):
        milestone = MilestoneFactory()
        url = f"/admin/planning/scheduleitem/{milestone.pk}/change/"
        form = form_data(admin_client.get(url))
        form["actual_start"] = "9999-12-31"

        response = admin_client.post(url, form)

        assert response.status_code == 200
        page = response.content.decode()
        assert re.search(r'class="errorlist[^"]*"[^>]*>\s*<li>Actual start must be between', page)
        assert ScheduleItem.objects.get(pk=milestone.pk).actual_start is None

    def test_the_admin_refuses_an_mou_signed_in_the_future(self, admin_client):
        organisation = OrganisationFactory()
        response = admin_client.post(
            "/admin/partners/mou/add/",
            {
                "organisation": organisation.pk,
                "title": "Lab",
                "focus": "",
                "status": "signed",
                "signed_date": tomorrow(),
            },
        )

        assert response.status_code == 200
        assert "Signed date records what has happened" in response.content.decode()
        assert not MoU.objects.exists()
