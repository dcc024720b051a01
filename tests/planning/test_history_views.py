"""The plan's history in the workspace over HTTP (planning.views.history): who changed a phase, facility, utility
capacity or schedule item, when, what (old → new) and why, as an htmx fragment; and the map workspace as of a past
day (`/plan/?as_of=`): the banner, no editing tools, the parcels, phases and map data of that day, the read-only
parcel panel; who may open them; bad dates answered 400.

The plan is `tests.planning.test_asof`'s: made three days ago, changed today by Alice."""

import datetime
import json
import re
from html import unescape

import pytest
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import formats, timezone

from core.roles import EXECUTIVE, PARTNER, PLANNER, STAFF
from planning import services
from planning.models import Facility, Parcel, ScheduleItem
from tests.factories import UserFactory
from tests.planning.test_asof import backdate, change_everything, fresh, make_plan, past_day

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(scope="module")
def plan(django_db_setup, django_db_blocker):
    """`make_plan()` recorded three days ago, changed today by Alice Chan (a planner); made once for the module."""
    with django_db_blocker.unblock(), transaction.atomic():
        made = make_plan()
        backdate(3)
        made.alice = UserFactory(username="alice-h", first_name="Alice", last_name="Chan", role=PLANNER)
        change_everything(made, actor=made.alice)
        yield made
        transaction.set_rollback(True)


def client_as(client, role: str):
    client.force_login(UserFactory(username=f"{role.lower()}-h", role=role))
    return client


@pytest.fixture
def planner_client(client):
    return client_as(client, PLANNER)


def text(response) -> str:
    """The response as a reader sees it: tags out, entities decoded, white space collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))).strip()


def when(moment) -> str:
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def the_day() -> str:
    return formats.date_format(datetime.date.fromisoformat(past_day()))


# --- history fragments ------------------------------------------------------------------------------------------


class TestHistory:
    def test_a_phase_says_who_changed_what_and_when_with_its_utility_capacities(self, plan, planner_client):
        response = planner_client.get(f"/plan/history/phase/{plan.phase.pk}/", **HTMX)

        assert response.status_code == 200
        assert "<html" not in response.content.decode()  # a fragment
        page = text(response)
        changed = plan.phase.history.order_by("-history_id").first()
        assert f"Phase 5 changed · Alice Chan · {when(changed.history_date)} Number: 1 → 5" in page
        assert "Utility capacity: Power changed · Alice Chan" in page and "Capacity: 12 → 20" in page
        assert "Phase 1 created · the system" in page
        # The moment in the site's time zone, machine-readable too.
        assert f'datetime="{timezone.localtime(changed.history_date).isoformat()}"' in response.content.decode()

    def test_a_schedule_item_shows_the_reason_and_its_links(self, plan, planner_client):
        handover = text(planner_client.get(f"/plan/history/schedule-item/{plan.handover.pk}/", **HTMX))
        assert "Handover changed · Alice Chan" in handover
        assert "Start not before: — → 1 Jun 2027" in handover
        assert "Reason: Lands D letter" in handover

        build = text(planner_client.get(f"/plan/history/schedule-item/{plan.build.pk}/", **HTMX))
        assert "Waits for Handover changed · Alice Chan" in build and "Lag (days): 0 → 10" in build
        assert "Waits for Handover added · the system" in build and "Build created" in build

    def test_a_facility_deleted_since_keeps_its_history(self, plan, planner_client):
        block = text(planner_client.get(f"/plan/history/facility/{plan.block.pk}/", **HTMX))
        assert "Facility Block A changed · Alice Chan" in block and "GFA (m²): 10,000 → 12,000" in block

        response = planner_client.get(f"/plan/history/facility/{plan.lab.pk}/", **HTMX)
        assert not Facility.objects.filter(pk=plan.lab.pk).exists()
        assert response.status_code == 200
        assert "Facility Lab B removed · Alice Chan" in text(response)
        assert "Facility Lab B added · the system" in text(response)

    def test_as_of_a_day_it_stops_at_the_end_of_that_day(self, plan, planner_client):
        response = planner_client.get(f"/plan/history/phase/{plan.phase.pk}/?as_of={past_day()}", **HTMX)

        page = text(response)
        assert f"History up to {the_day()}" in page
        assert "Phase 1 created" in page and "Utility capacity: Power added" in page
        assert "changed" not in page and "Alice" not in page

    def test_more_changes_load_in_place(self, plan, planner_client):
        utility = fresh(plan.power)
        for n in range(12):
            utility = services.utility_capacity_update(utility=fresh(utility), actor=plan.alice, capacity=30 + n)

        first = planner_client.get(f"/plan/history/utility/{utility.pk}/?level=2", **HTMX)
        content = first.content.decode()
        assert "<h2 " in content and "Show more changes" in content and "Capacity: 40 → 41" in text(first)
        assert "Utility capacity: Power added" not in text(first)  # older than the first ten
        more_url = unescape(re.search(r'hx-get="([^"]+)"', content).group(1))
        assert more_url == f"/plan/history/utility/{utility.pk}/?shown=30&level=2"
        more = planner_client.get(more_url, **HTMX)
        assert "Utility capacity: Power added" in text(more) and "Show more changes" not in text(more)

    def test_a_page_includes_it_with_one_line(self, plan, planner_client):
        slot = render_to_string("planning/_history_slot.html", {"kind": "phase", "pk": plan.phase.pk, "level": 2})
        url = unescape(re.search(r'hx-get="([^"]+)"', slot).group(1))
        assert 'hx-trigger="load"' in slot and f'href="/plan/history/phase/{plan.phase.pk}/"' in slot
        response = planner_client.get(url, **HTMX)
        assert response.status_code == 200 and "<h2 " in response.content.decode()
        assert "Phase 5 changed · Alice Chan" in text(response)

    def test_the_parcel_panel_shows_the_same_history(self, plan, planner_client):
        panel = text(planner_client.get("/plan/parcels/P-A/", **HTMX))
        assert "Parcel P-A changed · Alice Chan" in panel and "Lot reference: Lot 1 → Lot 2" in panel
        assert "Facility Block A changed · Alice Chan" in panel

    @pytest.mark.parametrize(("role", "status"), [(PLANNER, 200), (EXECUTIVE, 200), (STAFF, 200), (PARTNER, 403)])
    def test_planners_executives_and_staff_read_it_partners_do_not(self, plan, client, role, status):
        response = client_as(client, role).get(f"/plan/history/phase/{plan.phase.pk}/", **HTMX)
        assert response.status_code == status
        if status == 403:
            assert "Alice" not in response.content.decode()

    def test_anonymous_is_sent_to_sign_in(self, plan, client):
        response = client.get(f"/plan/history/phase/{plan.phase.pk}/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")

    def test_what_is_not_there_answers_404_and_a_bad_date_400(self, plan, planner_client):
        new_parcel = Parcel.objects.get(code="P-NEW")
        assert planner_client.get("/plan/history/phase/999999/").status_code == 404
        assert planner_client.get(f"/plan/history/nonsense/{plan.phase.pk}/").status_code == 404
        assert planner_client.get(f"/plan/history/parcel/{new_parcel.pk}/?as_of={past_day()}").status_code == 200
        assert planner_client.post(f"/plan/history/phase/{plan.phase.pk}/").status_code == 405
        refused = planner_client.get(f"/plan/history/phase/{plan.phase.pk}/?as_of=2026-13-40", **HTMX)
        assert refused.status_code == 400
        assert "“2026-13-40” is not a day of the calendar (YYYY-MM-DD)." in text(refused)

    def test_in_traditional_chinese_dates_are_written_the_chinese_way(self, plan, planner_client):
        planner_client.cookies["django_language"] = "zh-hant"
        content = planner_client.get(f"/plan/history/schedule-item/{plan.handover.pk}/", **HTMX).content.decode()
        assert re.search(r"<time [^>]*>\d{4}年\d{1,2}月\d{1,2}日", content)


# --- the workspace as of a past day -----------------------------------------------------------------------------


def map_config(content: str) -> dict:
    match = re.search(r'<script id="plan-map-config" type="application/json">(.*?)</script>', content, re.S)
    return json.loads(match.group(1))


def table_rows(content: str) -> dict[str, str]:
    """The parcels table: each row's text by code."""
    found = re.findall(r'<tr data-parcel-id="\d+" data-code="([^"]+)">(.*?)</tr>', content, re.S)
    return {code: re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", row))).strip() for code, row in found}


class TestWorkspaceAsOf:
    def test_the_banner_the_plan_of_the_day_and_no_editing_tools(self, plan, planner_client):
        response = planner_client.get(f"/plan/?as_of={past_day()}")

        assert response.status_code == 200
        content = response.content.decode()
        assert f"The plan as it stood at the end of {the_day()} — read-only" in text(response)
        assert '<a href="/plan/">Back to today' in content
        for tool in ('id="tool-draw"', 'id="tool-split"', 'id="edit-bar"', "Import", "export-menu"):
            assert tool not in content
        rows = table_rows(content)
        assert sorted(rows) == ["P-A", "P-B", "R-1"]  # R-1 deleted since, P-NEW created since
        assert "Not transferred" in rows["P-A"]  # transferred today
        phases = re.search(r'<table class="data-table phase-table">(.*?)</table>', content, re.S).group(1)
        assert "15,000" in phases  # GFA then; 12,000 today
        config = map_config(content)
        assert config["canEdit"] is False
        assert config["geojsonUrl"] == f"/api/v1/parcels/geojson/?as_of={past_day()}"
        assert config["parcelUrl"] == "/plan/history/parcels/__code__/"

    def test_today_is_unchanged(self, plan, planner_client):
        content = planner_client.get("/plan/").content.decode()
        assert "as-of-banner" not in content and 'id="tool-draw"' in content
        assert sorted(table_rows(content)) == ["P-A", "P-B", "P-NEW"]

    def test_the_map_loads_the_parcels_of_the_day(self, plan, planner_client):
        config = map_config(planner_client.get(f"/plan/?as_of={past_day()}").content.decode())
        features = {f["properties"]["code"]: f for f in planner_client.get(config["geojsonUrl"]).json()["features"]}

        assert sorted(features) == ["P-A", "P-B", "R-1"]
        assert features["P-A"]["properties"]["land_status"] == "not_transferred"
        assert features["P-B"]["geometry"] == plan.b_shape  # moved today

    def test_filters_sorting_and_links_keep_the_day(self, plan, planner_client):
        day = past_day()
        content = planner_client.get(f"/plan/?as_of={day}&phase=1&sort=-code").content.decode()

        assert list(table_rows(content)) == ["P-B", "P-A"]  # phase 1 then; it is number 5 today
        assert f'<input type="hidden" name="as_of" value="{day}">' in content
        assert f'href="?phase=1&amp;as_of={day}"' in content  # the code column's sort link
        assert f'hx-get="/plan/history/parcels/P-A/?phase=1&amp;sort=-code&amp;as_of={day}"' in content
        assert map_config(content)["geojsonUrl"] == f"/api/v1/parcels/geojson/?phase_number=1&as_of={day}"
        assert '<a href="/plan/?phase=1&amp;sort=-code">Back to today' in content

    def test_a_parcel_opens_read_only_as_it_stood(self, plan, planner_client):
        response = planner_client.get(f"/plan/history/parcels/P-B/?as_of={past_day()}", **HTMX)

        assert response.status_code == 200
        content, page = response.content.decode(), text(response)
        assert "<html" not in content
        assert f"Read-only: as it stood at the end of {the_day()}. Parcel P-B today" in page
        assert "Lab B" in page and "5,000" in page  # removed today
        assert f"History up to {the_day()}" in page and "Alice" not in page
        for editing in ("Edit attributes", "Delete parcel", "hx-post", "<form"):
            assert editing not in content
        gone = text(planner_client.get(f"/plan/history/parcels/R-1/?as_of={past_day()}", **HTMX))
        assert "It has been deleted since." in gone

    def test_a_parcel_opened_by_its_address_gets_the_whole_workspace_of_the_day(self, plan, planner_client):
        response = planner_client.get(f"/plan/history/parcels/P-B/?as_of={past_day()}")

        assert response.status_code == 200
        page = text(response)
        assert "The plan as it stood at the end of" in page and "Lab B" in page
        assert 'id="tool-draw"' not in response.content.decode()

    def test_todays_panel_asked_for_a_past_day_sends_to_that_days(self, plan, planner_client):
        response = planner_client.get(f"/plan/parcels/P-B/?as_of={past_day()}&phase=1")
        assert response.status_code == 302
        assert response["Location"] == f"/plan/history/parcels/P-B/?as_of={past_day()}&phase=1"

    def test_a_parcel_that_did_not_exist_then_is_404(self, plan, planner_client):
        assert planner_client.get(f"/plan/history/parcels/P-NEW/?as_of={past_day()}", **HTMX).status_code == 404
        assert planner_client.get("/plan/history/parcels/P-A/").status_code == 400  # which day?

    @pytest.mark.parametrize("value", ["", "2026-02-30", "tomorrow", "2999-12-31", "1-1-1", "２０２６-01-01"])
    def test_a_bad_date_answers_400_with_the_reason_and_the_way_back(self, plan, planner_client, value):
        response = planner_client.get("/plan/", {"as_of": value})

        assert response.status_code == 400
        page = text(response)
        assert "The plan on a past date" in page and "Back to today's plan" in page
        assert "YYYY-MM-DD" in page or "is in the future" in page

    @pytest.mark.parametrize(("role", "status"), [(EXECUTIVE, 403), (PARTNER, 403), (STAFF, 200)])
    def test_who_may_open_it_is_who_may_open_the_workspace(self, plan, client, role, status):
        logged_in = client_as(client, role)
        assert logged_in.get(f"/plan/?as_of={past_day()}").status_code == status
        assert logged_in.get(f"/plan/history/parcels/P-A/?as_of={past_day()}").status_code == status

    def test_anonymous_is_sent_to_sign_in(self, plan, client):
        for url in (f"/plan/?as_of={past_day()}", f"/plan/history/parcels/P-A/?as_of={past_day()}"):
            response = client.get(url)
            assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")

    def test_a_schedule_item_deleted_keeps_its_history_with_the_reason(self, plan, planner_client):
        item = ScheduleItem.objects.get(title="Fit-out")
        services.schedule_item_delete(item=item, actor=plan.alice, reason="Merged into Build")
        history = text(planner_client.get(f"/plan/history/schedule-item/{item.pk}/", **HTMX))
        assert "Fit-out deleted · Alice Chan" in history and "Reason: Merged into Build" in history
