"""The delivery schedule over HTTP (planning.views.schedule): who may see and change it, what each phase's headline
and chart say, the editor's forms (a reason for every change of the schedule, refusals beside their fields,
conflicts on stale versions, dependencies, new and deleted items) and the knock-on a change answers with. htmx
requests are sent with `HX-Request: true`, as htmx sends them.

The network of each test is built relative to today, so the forecasts (which never start before today) are the
same whatever day the suite runs on."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import formats, timezone

from core.roles import EXECUTIVE, PARTNER, PLANNER
from planning import services
from planning.models import ScheduleDependency, ScheduleItem
from tests.factories import (
    MilestoneFactory,
    PhaseFactory,
    ScheduleDependencyFactory,
    ScheduleItemFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
Category = ScheduleItem.Category


def days(n: int) -> datetime.timedelta:
    return datetime.timedelta(days=n)


def date_text(day: datetime.date) -> str:
    return formats.date_format(day, "DATE_FORMAT")


def text(response) -> str:
    """The response's visible text, whitespace collapsed (tags dropped)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())).strip()


def field_error(response, field_id: str) -> str:
    """The text of the error container beside a field (`<div id="<field id>_error">`)."""
    match = re.search(rf'id="{field_id}_error"[^>]*>(.*?)</div>', response.content.decode(), re.S)
    assert match, f"no error container for {field_id}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


class Network:
    """Phase 7: its site handover cannot happen before day 50 (baseline: day 0), so its construction (380 days)
    and occupation permit finish 30 days after the phase's target (day 400); day 0 is 30 days from today."""

    def __init__(self):
        self.start = timezone.localdate() + days(30)
        self.target = self.start + days(400)
        self.phase = PhaseFactory(number=7, name_en="Phase 7", planned_start=self.start, planned_completion=self.target)
        self.handover = MilestoneFactory(
            phase=self.phase,
            category=Category.SITE_HANDOVER,
            title="",
            baseline_start=self.start,
            start_not_before=self.start + days(50),
        )
        self.build = ScheduleItemFactory(
            phase=self.phase, category=Category.CONSTRUCTION, title="", duration_days=380, baseline_start=self.start
        )
        self.permit = MilestoneFactory(
            phase=self.phase,
            category=Category.OCCUPATION_PERMIT,
            title="",
            baseline_start=self.start + days(380),
        )
        self.first_link = ScheduleDependencyFactory(predecessor=self.handover, successor=self.build)
        self.second_link = ScheduleDependencyFactory(predecessor=self.build, successor=self.permit)

    def fresh(self, item: ScheduleItem) -> ScheduleItem:
        return ScheduleItem.objects.get(pk=item.pk)


@pytest.fixture
def network(db):
    return Network()


@pytest.fixture
def planner_client(client, planner):
    client.force_login(planner)
    return client


def milestone_data(item: ScheduleItem, **changes) -> dict:
    values = {
        "version": item.version,
        "title": item.title,
        "responsible": item.responsible,
        "baseline_start": item.baseline_start or "",
        "start_not_before": item.start_not_before or "",
        "actual_start": item.actual_start or "",
        "reason": "",
    }
    values.update(changes)
    return {f"item-{name}": value for name, value in values.items()}


def activity_data(item: ScheduleItem, **changes) -> dict:
    values = {
        "version": item.version,
        "title": item.title,
        "responsible": item.responsible,
        "duration_days": item.duration_days,
        "baseline_start": item.baseline_start or "",
        "baseline_finish": item.baseline_finish or "",
        "start_not_before": item.start_not_before or "",
        "actual_start": item.actual_start or "",
        "actual_finish": item.actual_finish or "",
        "reason": "",
    }
    values.update(changes)
    return {f"item-{name}": value for name, value in values.items()}


def item_url(item) -> str:
    return f"/plan/schedule/items/{item.pk}/"


# --- who may see and change it ----------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, network):
    for url in ("/plan/schedule/", "/plan/schedule/7/", item_url(network.handover)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_partners_never_see_the_schedule(client, network):
    client.force_login(UserFactory(role=PARTNER))
    assert client.get("/plan/schedule/").status_code == 403
    assert client.get("/plan/schedule/7/").status_code == 403
    assert client.get(item_url(network.handover), **HTMX).status_code == 403
    response = client.post(item_url(network.handover), milestone_data(network.handover, reason="x"), **HTMX)
    assert response.status_code == 403


def test_executives_read_it_without_edit_controls_and_cannot_change_it(client, network):
    client.force_login(UserFactory(role=EXECUTIVE))
    response = client.get("/plan/schedule/7/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Forecast completion" in html
    assert "schedule-editor" not in html and "hx-get" not in html and "Add an item" not in html
    assert item_url(network.handover) not in html

    assert client.get(item_url(network.handover), **HTMX).status_code == 403
    before = network.fresh(network.handover)
    changed = milestone_data(before, start_not_before=network.start, reason="Earlier")
    assert client.post(item_url(before), changed, **HTMX).status_code == 403
    assert client.post(f"/plan/schedule/items/{before.pk}/delete/", {"version": before.version}).status_code == 403
    assert client.post(f"/plan/schedule/dependencies/{network.first_link.pk}/delete/").status_code == 403
    assert network.fresh(before).version == before.version
    assert ScheduleItem.objects.filter(pk=before.pk).exists()
    assert ScheduleDependency.objects.filter(pk=network.first_link.pk).exists()


def test_planners_and_staff_get_the_editor(client, network, staff_user, planner):
    for user in (planner, staff_user):
        client.force_login(user)
        html = client.get("/plan/schedule/7/").content.decode()
        assert 'id="schedule-editor"' in html
        assert f'hx-get="{item_url(network.handover)}"' in html  # the chart's row and the table's Edit link


def test_an_unknown_phase_or_item_answers_404(planner_client, network):
    assert planner_client.get("/plan/schedule/99/").status_code == 404
    assert planner_client.get("/plan/schedule/items/999999/").status_code == 404


# --- what the page says -----------------------------------------------------------------------------------------


def test_a_late_phase_says_by_how_much_what_drives_it_and_why(planner_client, network):
    response = planner_client.get("/plan/schedule/7/")
    page = text(response)
    completion = network.target + days(30)
    assert (
        f"Forecast completion {date_text(completion)}: 30 days after the target of {date_text(network.target)}, "
        "driven by Site handover." in page
    )
    assert (
        f"Why: Site handover cannot start before {date_text(network.start + days(50))}; its baseline start was "
        f"{date_text(network.start)}." in page
    )
    assert "Critical path: Site handover → Construction → Occupation permit" in page
    assert "Late" in page


def test_the_chart_is_an_image_with_its_answer_as_text_and_flags_slips_in_words(planner_client, network):
    html = planner_client.get("/plan/schedule/7/").content.decode()
    svg = re.search(r"<svg class=\"gantt\".*?</svg>", html, re.S).group(0)
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert "30 days after the target" in re.search(r"<desc[^>]*>(.*?)</desc>", svg, re.S).group(1)
    # Each item's row: its name and its slip in words, not only in colour; the critical ones marked.
    assert svg.count('class="gantt-row gantt-critical') == 3
    assert ">+50 d<" in svg
    assert svg.count('<path class="gantt-link gantt-link-critical"') == 2  # the two links of the critical path
    assert 'class="gantt-target"' in svg and 'class="gantt-today"' in svg
    # Coordinates are never localised (a thousands separator would break the drawing).
    assert not re.search(r'(?:x|y|width|height)="[\d.]*,[\d]', svg)


def test_an_on_time_phase_states_its_float_and_the_tables_hold_every_item(planner_client, network):
    services.schedule_item_update(item=network.fresh(network.handover), actor=None, start_not_before=None)
    response = planner_client.get("/plan/schedule/")
    page = text(response)
    finish = network.start + days(380)
    assert (
        f"Forecast completion {date_text(finish)}: 20 days of float before the target of {date_text(network.target)}."
        in page
    )
    assert "No critical path: every item has at least 20 days of float." in page
    table = re.search(r"<table class=\"data-table schedule-table\">.*?</table>", response.content.decode(), re.S)
    rows = re.findall(r"<tr id=\"schedule-row-(\d+)\"", table.group(0))
    assert [int(pk) for pk in rows] == [network.handover.pk, network.build.pk, network.permit.pk]


def test_an_overdue_item_is_named_overdue_in_the_chart_the_headline_and_the_table(planner_client):
    today = timezone.localdate()
    phase = PhaseFactory(number=3, planned_start=today - days(100), planned_completion=today + days(300))
    ScheduleItemFactory(phase=phase, title="Ground survey", duration_days=20, baseline_start=today - days(40))
    response = planner_client.get("/plan/schedule/3/")
    page = text(response)
    assert f"Overdue: Ground survey (due {date_text(today - days(20))})" in page
    assert ">Overdue · +40 d<" in response.content.decode()  # in the chart, beside the name


def test_the_page_costs_the_same_queries_whatever_the_number_of_items(planner_client, network):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert planner_client.get("/plan/schedule/").status_code == 200
        return len(queries)

    before = count()
    previous = network.permit
    for index in range(6):
        item = ScheduleItemFactory(phase=network.phase, title=f"Fit-out {index}", duration_days=10)
        ScheduleDependencyFactory(predecessor=previous, successor=item, lag_days=index)
        previous = item
    PhaseFactory(number=8, campus=network.phase.campus)
    assert count() == before


# --- the editor -------------------------------------------------------------------------------------------------


def test_the_editor_opens_on_an_item_with_its_figures_and_forms(planner_client, network):
    response = planner_client.get(item_url(network.handover), **HTMX)
    assert response.status_code == 200
    page = text(response)
    assert "Site handover" in page and "Save and reschedule" in page
    assert "Followed by Construction" in page
    html = response.content.decode()
    assert 'name="item-start_not_before"' in html and 'name="item-reason"' in html
    assert 'name="item-responsible"' in html
    assert 'name="item-duration_days"' not in html  # a milestone lasts no time


def test_a_date_change_without_a_reason_is_refused_beside_the_reason_and_saves_nothing(planner_client, network):
    handover = network.fresh(network.handover)
    data = milestone_data(handover, start_not_before=network.start + days(20))
    response = planner_client.post(item_url(handover), data, **HTMX)
    assert response.status_code == 422
    assert "why the schedule changes" in field_error(response, "id_item-reason")
    assert network.fresh(handover).start_not_before == network.start + days(50)
    assert network.fresh(handover).version == handover.version


def test_a_reason_longer_than_the_history_keeps_is_refused(planner_client, network):
    handover = network.fresh(network.handover)
    data = milestone_data(handover, start_not_before=network.start + days(20), reason="x" * 101)
    response = planner_client.post(item_url(handover), data, **HTMX)
    assert response.status_code == 422
    assert "at most 100 characters" in field_error(response, "id_item-reason")


def test_a_change_with_its_reason_reschedules_keeps_the_reason_and_shows_the_knock_on(planner_client, network):
    handover = network.fresh(network.handover)
    data = milestone_data(
        handover, start_not_before=network.start + days(20), reason="Lands Department brought it forward"
    )
    response = planner_client.post(
        item_url(handover), data, **HTMX, HTTP_HX_CURRENT_URL="http://testserver/plan/schedule/7/"
    )
    assert response.status_code == 200
    saved = network.fresh(handover)
    assert saved.start_not_before == network.start + days(20)
    assert saved.history.latest().history_change_reason == "Lands Department brought it forward"
    assert network.fresh(network.permit).forecast_finish == network.start + days(400)

    page = text(response)
    assert "Site handover saved." in page
    assert "Phase 7 now completes on" in page and "30 days earlier than before: on its target, with no float." in page
    assert "It moved 2 other items:" in page
    assert (
        f"Occupation permit: {date_text(network.start + days(430))} → {date_text(network.start + days(400))} (−30 d)"
        in page
    )
    # The charts and the tables come along, to be swapped in out of band, already rescheduled.
    html = response.content.decode()
    assert '<div id="schedule-chart" class="schedule-charts" hx-swap-oob="true">' in html
    assert '<div id="schedule-tables" class="schedule-tables" hx-swap-oob="true">' in html
    assert "Forecast completion" in html and "on the target, with no float" in html
    assert "Lands Department brought it forward" in page  # the editor's latest changes


def test_the_charts_swapped_in_are_those_of_the_page_that_asked(planner_client, network):
    other = PhaseFactory(number=8, campus=network.phase.campus, name_en="Phase 8")
    ScheduleItemFactory(phase=other, title="Other work")
    handover = network.fresh(network.handover)
    data = milestone_data(handover, start_not_before=network.start + days(40), reason="Survey")
    every = planner_client.post(
        item_url(handover), data, **HTMX, HTTP_HX_CURRENT_URL="http://testserver/plan/schedule/"
    )
    assert "Other work" in every.content.decode()
    data = milestone_data(network.fresh(handover), start_not_before=network.start + days(45), reason="Survey")
    one = planner_client.post(
        item_url(handover), data, **HTMX, HTTP_HX_CURRENT_URL="http://testserver/plan/schedule/7/"
    )
    assert "Other work" not in one.content.decode()


def test_a_refusal_of_the_service_is_shown_beside_its_field(planner_client, network):
    build = network.fresh(network.build)
    tomorrow = timezone.localdate() + days(1)
    data = activity_data(build, actual_start=tomorrow, reason="Started")
    response = planner_client.post(item_url(build), data, **HTMX)
    assert response.status_code == 422
    assert "today" in field_error(response, "id_item-actual_start")

    # A rule over two fields (the database's constraint) is shown beside the field it is about.
    data = activity_data(build, baseline_finish=build.baseline_start - days(1), reason="Replanned")
    response = planner_client.post(item_url(build), data, **HTMX)
    assert response.status_code == 422
    assert "the finish not before the start" in field_error(response, "id_item-baseline_finish")

    data = activity_data(build, duration_days=0, reason="Shorter")
    response = planner_client.post(item_url(build), data, **HTMX)
    assert response.status_code == 422
    assert "an activity at least 1 day" in field_error(response, "id_item-duration_days")
    assert network.fresh(build).version == build.version


def test_input_it_cannot_read_is_refused_beside_the_field(planner_client, network):
    build = network.fresh(network.build)
    data = activity_data(build, duration_days="ten", baseline_start="31/31/2027", reason="x")
    response = planner_client.post(item_url(build), data, **HTMX)
    assert response.status_code == 422
    assert field_error(response, "id_item-duration_days")
    assert field_error(response, "id_item-baseline_start")
    data = activity_data(build, version="old", reason="x")
    response = planner_client.post(item_url(build), data, **HTMX)
    assert response.status_code == 422


def test_an_edit_on_a_stale_version_says_who_changed_what_and_keeps_what_was_typed(planner_client, network):
    alice = UserFactory(username="alice", first_name="Alice", last_name="Chan", role=PLANNER)
    handover = network.fresh(network.handover)
    services.schedule_item_update(
        item=handover, actor=alice, start_not_before=network.start + days(60), reason="Utility diversion"
    )
    data = milestone_data(handover, start_not_before=network.start + days(10), reason="Earlier handover")
    response = planner_client.post(item_url(handover), data, **HTMX)
    assert response.status_code == 409
    page = text(response)
    assert "Someone else saved a change to this first" in page and "Alice Chan" in page
    assert network.fresh(handover).start_not_before == network.start + days(60)

    reloaded = planner_client.post(f"/plan/schedule/items/{handover.pk}/edit/", data, **HTMX)
    assert reloaded.status_code == 200
    html = reloaded.content.decode()
    assert f'value="{(network.start + days(10)).isoformat()}"' in html  # what the planner typed
    assert 'value="Earlier handover"' in html
    assert f'name="item-version" value="{network.fresh(handover).version}"' in html


def test_an_unchanged_form_saves_nothing_and_needs_no_reason(planner_client, network):
    handover = network.fresh(network.handover)
    response = planner_client.post(item_url(handover), milestone_data(handover), **HTMX)
    assert response.status_code == 200
    assert "Nothing changed" in text(response)
    assert network.fresh(handover).version == handover.version


def test_a_title_change_needs_no_reason(planner_client, network):
    build = network.fresh(network.build)
    response = planner_client.post(item_url(build), activity_data(build, title="Block A superstructure"), **HTMX)
    assert response.status_code == 200
    assert network.fresh(build).title == "Block A superstructure"


def responsible_cells(html: str) -> dict[int, str]:
    """The "Responsible" cell of each row of the schedule table, by item id."""
    table = re.search(r'<table class="data-table schedule-table">.*?</table>', html, re.S).group(0)
    headers = re.findall(r'<th scope="col"[^>]*>(.*?)</th>', table)
    column = headers.index("Responsible") - 1  # the item's name is the row's <th>
    rows = re.findall(r'<tr id="schedule-row-(\d+)".*?</th>(.*?)</tr>', table, re.S)
    return {int(pk): re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)[column] for pk, cells in rows}


def test_the_responsible_party_needs_no_reason_is_kept_in_the_history_and_shown_in_the_table(planner_client, network):
    handover = network.fresh(network.handover)

    response = planner_client.post(item_url(handover), milestone_data(handover, responsible="Lands Department"), **HTMX)

    assert response.status_code == 200
    saved = network.fresh(handover)
    assert (saved.responsible, saved.version) == ("Lands Department", handover.version + 1)
    assert saved.history.latest().responsible == "Lands Department"
    assert "Responsible party — → Lands Department" in text(response)  # the editor's latest changes
    # The table swapped in with the answer, and the page's own.
    for html in (response.content.decode(), planner_client.get("/plan/schedule/").content.decode()):
        cells = responsible_cells(html)
        assert (cells[handover.pk], cells[network.build.pk]) == ("Lands Department", "—")


def test_a_responsible_party_over_200_characters_is_refused_beside_the_field(planner_client, network):
    build = network.fresh(network.build)
    response = planner_client.post(item_url(build), activity_data(build, responsible="x" * 201), **HTMX)
    assert response.status_code == 422
    assert "at most 200 characters (it has 201)" in field_error(response, "id_item-responsible")
    assert network.fresh(build).version == build.version


def test_without_javascript_the_same_urls_answer_whole_pages(planner_client, network):
    response = planner_client.get(item_url(network.handover))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html and 'id="schedule-editor"' in html and 'name="item-reason"' in html
    handover = network.fresh(network.handover)
    data = milestone_data(handover, start_not_before=network.start + days(20), reason="Earlier")
    response = planner_client.post(item_url(handover), data)
    assert response.status_code == 302 and response["Location"] == "/plan/schedule/7/"


def test_an_item_deleted_meanwhile_answers_in_the_editor(planner_client, network):
    handover = network.fresh(network.handover)
    url = item_url(handover)
    services.schedule_item_delete(item=handover, actor=None)
    response = planner_client.post(url, milestone_data(handover, reason="x"), **HTMX)
    assert response.status_code == 404
    assert "no longer there" in text(response)
    assert "hx-swap-oob" in response.content.decode()


# --- dependencies -----------------------------------------------------------------------------------------------


def lag_data(link: ScheduleDependency, **changes) -> dict:
    values = {"version": link.version, "lag_days": link.lag_days, "reason": ""}
    values.update(changes)
    return {f"link-{link.pk}-{name}": value for name, value in values.items()}


def test_a_lag_change_needs_a_reason_and_moves_the_successors(planner_client, network):
    link = ScheduleDependency.objects.get(pk=network.second_link.pk)
    url = f"/plan/schedule/dependencies/{link.pk}/"
    response = planner_client.post(url, lag_data(link, lag_days=14), **HTMX)
    assert response.status_code == 422
    assert "why the schedule changes" in field_error(response, f"id_link-{link.pk}-reason")

    response = planner_client.post(url, lag_data(link, lag_days=14, reason="Inspection backlog"), **HTMX)
    assert response.status_code == 200
    assert network.fresh(network.permit).forecast_finish == network.start + days(444)
    assert ScheduleDependency.objects.get(pk=link.pk).history.latest().history_change_reason == "Inspection backlog"
    assert "Lag after Construction saved." in text(response)


def test_a_lag_edit_on_a_stale_version_keeps_the_lag_typed(planner_client, network):
    link = ScheduleDependency.objects.get(pk=network.second_link.pk)
    services.schedule_dependency_update(link=link, actor=None, lag_days=3, reason="Someone")
    response = planner_client.post(
        f"/plan/schedule/dependencies/{link.pk}/", lag_data(link, lag_days=14, reason="Backlog"), **HTMX
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "Someone else saved a change" in html
    assert f'name="link-{link.pk}-lag_days" value="14"' in html
    assert f'name="link-{link.pk}-version" value="{link.version + 1}"' in html


def test_a_predecessor_that_would_close_a_cycle_is_refused_beside_the_field(planner_client, network):
    response = planner_client.post(
        f"/plan/schedule/items/{network.handover.pk}/predecessors/",
        {"predecessor-predecessor": network.permit.pk, "predecessor-lag_days": 0},
        **HTMX,
    )
    assert response.status_code == 422
    message = field_error(response, "id_predecessor-predecessor")
    assert "cycle" in message and "Occupation permit → Site handover → Construction → Occupation permit" in message
    assert not ScheduleDependency.objects.filter(successor=network.handover).exists()


def test_dependencies_are_added_and_removed_and_the_schedule_follows(planner_client, network):
    survey = ScheduleItemFactory(
        phase=network.phase, title="Ground survey", duration_days=80, baseline_start=network.start
    )
    response = planner_client.post(
        f"/plan/schedule/items/{network.build.pk}/predecessors/",
        {"predecessor-predecessor": survey.pk, "predecessor-lag_days": 5, "predecessor-reason": "Needs the survey"},
        **HTMX,
    )
    assert response.status_code == 200
    assert "Construction now starts after Ground survey." in text(response)
    # The survey (80 days from the phase's start) + 5 days now drives the construction, not the handover (day 50).
    assert network.fresh(network.build).forecast_start == network.start + days(85)

    link = ScheduleDependency.objects.get(predecessor=survey, successor=network.build)
    response = planner_client.post(f"/plan/schedule/dependencies/{link.pk}/delete/", **HTMX)
    assert response.status_code == 200
    assert not ScheduleDependency.objects.filter(pk=link.pk).exists()
    assert network.fresh(network.build).forecast_start == network.start + days(50)
    assert "no longer waits for Ground survey" in text(response)


# --- new and deleted items --------------------------------------------------------------------------------------


def test_a_new_item_is_added_and_its_editor_opens(planner_client, network):
    url = "/plan/schedule/7/items/new/"
    assert planner_client.get(url, **HTMX).status_code == 200
    refused = planner_client.post(
        url, {"new-kind": "activity", "new-category": "other", "new-duration_days": 30}, **HTMX
    )
    assert refused.status_code == 422
    assert "needs a title" in field_error(refused, "id_new-title")

    data = {
        "new-kind": "activity",
        "new-category": "fit_out",
        "new-duration_days": 60,
        "new-baseline_start": (network.start + days(380)).isoformat(),
        "new-responsible": "HKSTP Capital Projects",
    }
    response = planner_client.post(url, data, **HTMX)
    assert response.status_code == 200
    item = ScheduleItem.objects.get(phase=network.phase, category="fit_out")
    assert item.baseline_finish == network.start + days(440)
    assert item.responsible == "HKSTP Capital Projects"
    assert "Fit-out added to Phase 7" in text(response)
    assert f'data-item="{item.pk}"' in response.content.decode()


def test_a_milestone_may_be_added_without_a_duration(planner_client, network):
    data = {
        "new-kind": "milestone",
        "new-category": "building_plans_approval",
        "new-baseline_start": network.start.isoformat(),
    }
    response = planner_client.post("/plan/schedule/7/items/new/", data, **HTMX)
    assert response.status_code == 200
    assert ScheduleItem.objects.get(phase=network.phase, category="building_plans_approval").duration_days == 0


def test_an_item_is_deleted_after_its_confirmation(planner_client, network):
    url = f"/plan/schedule/items/{network.build.pk}/delete/"
    confirm = planner_client.get(url, **HTMX)
    assert confirm.status_code == 200
    page = text(confirm)
    assert "Delete Construction?" in page and "Its 2 dependencies go with it" in page
    assert "Site handover → Construction" in page and "Construction → Occupation permit" in page

    build = network.fresh(network.build)
    stale = planner_client.post(url, {"version": build.version - 1 if build.version > 1 else 99}, **HTMX)
    assert stale.status_code == 409
    assert ScheduleItem.objects.filter(pk=build.pk).exists()

    response = planner_client.post(url, {"version": build.version, "reason": "Merged into the fit-out"}, **HTMX)
    assert response.status_code == 200
    assert not ScheduleItem.objects.filter(pk=build.pk).exists()
    assert "Construction deleted, with its dependencies." in text(response)
    assert ScheduleItem.history.filter(id=build.pk, history_type="-").get().history_change_reason == (
        "Merged into the fit-out"
    )


def test_a_duration_past_the_calendar_is_refused_beside_the_field(planner_client, network):
    build = network.fresh(network.build)
    response = planner_client.post(item_url(build), activity_data(build, duration_days=36_501, reason="x"), **HTMX)
    assert response.status_code == 422
    assert "At most 36,500 days" in field_error(response, "id_item-duration_days")
    assert network.fresh(build).duration_days == 380
