"""The schedule over the API: `/api/v1/phases/{id}/schedule/` against a CPM computed here, independently of
`planning.schedule`; the CRUD of items and dependencies per role, with its refusals (400 by field, 409 on a stale
version, never a 500), the recompute in the same transaction and the reason kept in the history; the OpenAPI schema
of it all. Query counts: constant in the number of items here, absolute on the demo in tests/test_query_counts.py."""

import datetime

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planning.models import Phase, ScheduleDependency, ScheduleItem
from tests.conftest import api_client_for
from tests.factories import (
    FacilityFactory,
    MilestoneFactory,
    PhaseFactory,
    ScheduleDependencyFactory,
    ScheduleItemFactory,
)

pytestmark = pytest.mark.django_db

ITEMS = "/api/v1/schedule-items/"
LINKS = "/api/v1/schedule-dependencies/"
ITEM_FIELDS = (
    "id",
    "name",
    "kind",
    "duration_days",
    "baseline_start",
    "baseline_finish",
    "actual_start",
    "actual_finish",
    "forecast_start",
    "forecast_finish",
    "total_float_days",
    "critical",
    "overdue",
    "predecessors",
)


def schedule_url(phase) -> str:
    return f"/api/v1/phases/{phase.pk}/schedule/"


def day(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


# --- an independent CPM ------------------------------------------------------------------------------------------


def independent_cpm(phase: Phase, today: datetime.date) -> dict:
    """The phase's schedule by the rules the README states, computed from the stored inputs by plain relaxation
    (no topological order, no code of `planning.schedule` or of the services): what the API must answer.

    Forward: finished work keeps its actual dates (a milestone with an actual date is finished); work in progress
    finishes no earlier than today; work not started starts no earlier than the schedule's start (the phase's planned
    start, or an earlier baseline start), today and its "not before" date, then is pushed by each predecessor's
    finish + lag until nothing moves. Backward from the target: a predecessor's late finish is pulled to each
    successor's late start − lag until nothing moves. Float = late finish − forecast finish; critical = the
    unfinished items of least float, when that float is zero or negative."""
    rows = {row["id"]: row for row in ScheduleItem.objects.filter(phase=phase).values()}
    links = list(
        ScheduleDependency.objects.filter(successor__phase=phase).values_list(
            "predecessor_id", "successor_id", "lag_days"
        )
    )
    days = datetime.timedelta
    length = {pk: days(row["duration_days"]) for pk, row in rows.items()}
    origin = min([phase.planned_start, *(row["baseline_start"] for row in rows.values() if row["baseline_start"])])

    def finished(row) -> bool:
        return row["actual_finish"] is not None or (row["duration_days"] == 0 and row["actual_start"] is not None)

    def not_started(row) -> bool:
        return row["actual_start"] is None and row["actual_finish"] is None

    start, finish = {}, {}
    for pk, row in rows.items():
        if finished(row):
            finish[pk] = row["actual_finish"] or row["actual_start"]
            start[pk] = row["actual_start"] or finish[pk] - length[pk]
        elif row["actual_start"] is not None:
            start[pk] = row["actual_start"]
            finish[pk] = max(start[pk] + length[pk], today)
        else:
            start[pk] = max(origin, today, row["start_not_before"] or origin)
            finish[pk] = start[pk] + length[pk]
    for _round in range(len(rows) + 1):
        moved = False
        for predecessor, successor, lag in links:
            if not_started(rows[successor]) and finish[predecessor] + days(lag) > start[successor]:
                start[successor] = finish[predecessor] + days(lag)
                finish[successor] = start[successor] + length[successor]
                moved = True
        if not moved:
            break
    else:
        raise AssertionError("the forward pass did not settle: the network has a cycle")

    completion = max(finish.values()) if finish else None
    target = phase.planned_completion or completion
    late_finish = dict.fromkeys(rows, target)
    for _round in range(len(rows) + 1):
        moved = False
        for predecessor, successor, lag in links:
            pulled = late_finish[successor] - length[successor] - days(lag)
            if pulled < late_finish[predecessor]:
                late_finish[predecessor] = pulled
                moved = True
        if not moved:
            break

    total_float = {pk: (late_finish[pk] - finish[pk]).days for pk in rows}
    open_floats = [total_float[pk] for pk, row in rows.items() if not finished(row)]
    least = min(open_floats) if open_floats else None
    items = {}
    for pk, row in rows.items():
        items[pk] = {
            "id": pk,
            "name": row["title"] or str(ScheduleItem.Category(row["category"]).label),
            "kind": row["kind"],
            "duration_days": row["duration_days"],
            **{
                name: row[name] and row[name].isoformat()
                for name in ("baseline_start", "baseline_finish", "actual_start", "actual_finish")
            },
            "forecast_start": start[pk].isoformat(),
            "forecast_finish": finish[pk].isoformat(),
            "total_float_days": total_float[pk],
            "critical": not finished(row) and least is not None and least <= 0 and total_float[pk] == least,
            "overdue": not finished(row) and row["baseline_finish"] is not None and row["baseline_finish"] < today,
            "predecessors": [{"id": p, "lag_days": lag} for p, s, lag in links if s == pk],
        }
    return {
        "target_completion": phase.planned_completion.isoformat(),
        "forecast_completion": completion and completion.isoformat(),
        "completion_slip_days": (completion - phase.planned_completion).days if completion else None,
        "items": items,
    }


def assert_matches_independent_cpm(body: dict, phase: Phase) -> dict:
    """The API's schedule of `phase` is the independent computation's, item by item; returns the latter."""
    expected = independent_cpm(phase, timezone.localdate())
    answered = {item["id"]: {name: item[name] for name in ITEM_FIELDS} for item in body["items"]}
    for item in answered.values():
        item["predecessors"] = sorted(item["predecessors"], key=lambda link: link["id"])
    for item in expected["items"].values():
        item["predecessors"] = sorted(item["predecessors"], key=lambda link: link["id"])
    assert answered == expected["items"]
    summary = ("target_completion", "forecast_completion", "completion_slip_days")
    assert {name: body[name] for name in summary} == {name: expected[name] for name in summary}
    # In forecast order, and the critical path is the critical items in that order.
    order = [(item["forecast_start"], item["forecast_finish"], item["id"]) for item in body["items"]]
    assert order == sorted(order)
    assert body["critical_path"] == [item["id"] for item in body["items"] if item["critical"]]
    return expected


@pytest.mark.usefixtures("demo_once_per_class")
class TestTheDemoSchedule:
    def test_every_phase_matches_an_independent_cpm(self, api):
        phases = list(Phase.objects.order_by("number"))
        criticals = slips = 0
        for phase in phases:
            response = api.get(schedule_url(phase))
            assert response.status_code == 200
            body = response.json()
            assert body["phase"] == phase.pk and len(body["items"]) == 9
            expected = assert_matches_independent_cpm(body, phase)
            criticals += sum(item["critical"] for item in expected["items"].values())
            slips += expected["completion_slip_days"] > 0
        # Not a comparison of empty lists: the demo has four phases, critical items, and a phase late on its target.
        assert len(phases) == 4 and criticals and slips

    def test_the_list_has_the_same_items_as_the_schedules(self, api):
        listed = api.get(f"{ITEMS}?page_size=100").json()
        assert listed["count"] == 36
        scheduled = {
            item["id"]: item for phase in Phase.objects.all() for item in api.get(schedule_url(phase)).json()["items"]
        }
        assert {item["id"]: item for item in listed["results"]} == scheduled


# --- a hand-made network ---------------------------------------------------------------------------------------


@pytest.fixture
def network():
    """A phase of 2090 (so "today" never reaches it) with a negative lag, a "not before" date, a finished milestone
    and work in progress from 2020. Its target is 10 days too early for the chain A → B → D → E.

        A (30 d) ─ +10 → B (60 d) ─────→ D (milestone) → E (90 d)
          └──── −5 → C (20 d) ─ +30 ──┘
        G (done 2020) → C;   F (10 d, not before 1 Mar 2090);   H (10 d, started 2020)
    """
    phase = PhaseFactory(planned_start=day("2090-01-01"), planned_completion=day("2090-06-30"))
    make = {"phase": phase, "baseline_start": None}
    items = {
        "A": ScheduleItemFactory(**{**make, "baseline_start": day("2090-01-01")}, title="A", duration_days=30),
        "B": ScheduleItemFactory(**make, title="B", duration_days=60),
        "C": ScheduleItemFactory(**make, title="C", duration_days=20),
        "D": MilestoneFactory(**make, title="D"),
        "E": ScheduleItemFactory(**make, title="E", duration_days=90),
        "F": ScheduleItemFactory(**make, title="F", duration_days=10, start_not_before=day("2090-03-01")),
        "G": MilestoneFactory(**make, title="G", actual_start=day("2020-06-01")),
        "H": ScheduleItemFactory(**make, title="H", duration_days=10, actual_start=day("2020-01-01")),
    }
    for predecessor, successor, lag in [
        ("A", "B", 10),
        ("A", "C", -5),
        ("B", "D", 0),
        ("C", "D", 30),
        ("D", "E", 0),
        ("G", "C", 0),
    ]:
        ScheduleDependencyFactory(predecessor=items[predecessor], successor=items[successor], lag_days=lag)
    return phase, items


def by_title(body: dict) -> dict[str, dict]:
    return {item["name"]: item for item in body["items"]}


class TestAHandMadeNetwork:
    def test_the_answer_is_the_one_worked_out_by_hand(self, api, network):
        phase, _items = network
        body = api.get(schedule_url(phase)).json()
        items = by_title(body)

        assert {name: item["total_float_days"] for name, item in items.items() if name != "H"} == {
            "A": -10,
            "B": -10,
            "C": 15,
            "D": -10,
            "E": -10,
            "F": 111,
            "G": (day("2090-02-10") - day("2020-06-01")).days,  # finished: never critical, whatever its float
        }
        assert [items[name]["forecast_start"] for name in "ABCDEF"] == [
            "2090-01-01",
            "2090-02-10",
            "2090-01-26",  # 5 days before A finishes
            "2090-04-11",
            "2090-04-11",
            "2090-03-01",
        ]
        assert items["E"]["forecast_finish"] == "2090-07-10"
        assert (items["G"]["forecast_start"], items["G"]["forecast_finish"]) == ("2020-06-01", "2020-06-01")
        assert items["H"]["forecast_finish"] == timezone.localdate().isoformat()  # in progress: not in the past
        assert sorted(name for name, item in items.items() if item["critical"]) == ["A", "B", "D", "E"]
        assert [items[name]["id"] for name in "ABDE"] == body["critical_path"]
        assert (body["target_completion"], body["forecast_completion"], body["completion_slip_days"]) == (
            "2090-06-30",
            "2090-07-10",
            10,
        )
        assert sorted(items["D"]["predecessors"], key=lambda link: link["lag_days"]) == [
            {"id": items["B"]["id"], "lag_days": 0},
            {"id": items["C"]["id"], "lag_days": 30},
        ]
        assert_matches_independent_cpm(body, phase)

    def test_an_edit_moves_the_successors_in_the_next_read(self, api, network):
        phase, items = network
        b = api.get(f"{ITEMS}{items['B'].pk}/").json()

        longer = api.patch(f"{ITEMS}{b['id']}/", {"duration_days": 80, "version": b["version"]})

        assert longer.status_code == 200, longer.content
        assert longer.json()["forecast_finish"] == "2090-05-01"
        body = api.get(schedule_url(phase)).json()
        assert by_title(body)["E"]["forecast_finish"] == "2090-07-30"
        assert body["completion_slip_days"] == 30
        assert_matches_independent_cpm(body, phase)

        # A dependency's lag, then its removal: C now drives D, then nothing but B does.
        c_to_d = ScheduleDependency.objects.get(predecessor=items["C"], successor=items["D"])
        assert api.patch(f"{LINKS}{c_to_d.pk}/", {"lag_days": 90}).status_code == 200
        body = api.get(schedule_url(phase)).json()
        assert by_title(body)["D"]["forecast_start"] == "2090-05-16"  # C finishes 15 Feb, + 90 days
        assert sorted(name for name, item in by_title(body).items() if item["critical"]) == ["A", "C", "D", "E"]
        assert_matches_independent_cpm(body, phase)

        assert api.delete(f"{LINKS}{c_to_d.pk}/").status_code == 204
        body = api.get(schedule_url(phase)).json()
        assert by_title(body)["D"]["forecast_start"] == "2090-05-01"
        assert_matches_independent_cpm(body, phase)

    def test_a_new_item_and_link_are_scheduled_at_once(self, api, network):
        phase, items = network
        created = api.post(
            ITEMS,
            {"phase": phase.pk, "kind": "activity", "category": "fit_out", "duration_days": 45, "reason": "Added"},
        )
        assert created.status_code == 201, created.content
        linked = api.post(LINKS, {"predecessor": items["E"].pk, "successor": created.json()["id"], "lag_days": 5})
        assert linked.status_code == 201, linked.content

        body = api.get(schedule_url(phase)).json()
        assert by_title(body)["Fit-out"]["forecast_finish"] == "2090-08-29"  # 10 Jul + 5 + 45 days
        assert body["completion_slip_days"] == 60
        assert_matches_independent_cpm(body, phase)

        assert api.delete(f"{ITEMS}{items['D'].pk}/").status_code == 204  # its links go with it
        body = api.get(schedule_url(phase)).json()
        assert not ScheduleDependency.objects.filter(successor=items["E"]).exists()
        assert_matches_independent_cpm(body, phase)


def test_overdue_is_true_or_false_against_the_baseline(api):
    phase = PhaseFactory()
    ScheduleItemFactory(phase=phase, title="Late", baseline_start=day("2020-01-01"))  # promised for 31 Jan 2020
    ScheduleItemFactory(
        phase=phase, title="Started late", baseline_start=day("2020-01-01"), actual_start=day("2020-03-01")
    )
    ScheduleItemFactory(
        phase=phase,
        title="Done late",
        baseline_start=day("2020-01-01"),
        actual_start=day("2020-01-01"),
        actual_finish=day("2020-02-15"),
    )
    ScheduleItemFactory(phase=phase, title="Unplanned", baseline_start=None)  # promised nothing: never overdue

    body = api.get(schedule_url(phase)).json()

    assert {item["name"]: item["overdue"] for item in body["items"]} == {
        "Late": True,
        "Started late": True,
        "Done late": False,
        "Unplanned": False,
    }
    assert_matches_independent_cpm(body, phase)


# --- query counts ------------------------------------------------------------------------------------------------


def chain(phase, count: int) -> None:
    """`count` items of the phase, each after the one before (with a lag), every fifth a milestone."""
    previous = None
    for index in range(count):
        if index % 5 == 4:
            item = MilestoneFactory(phase=phase, baseline_start=None)
        else:
            item = ScheduleItemFactory(phase=phase, duration_days=10 + index, baseline_start=None)
        if previous is not None:
            ScheduleDependencyFactory(predecessor=previous, successor=item, lag_days=index % 3)
        previous = item


def queries(client, url: str) -> int:
    client.get(url)  # what Django caches per process (content types, translations) is filled first
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def test_query_counts_do_not_grow_with_the_items(api):
    small = PhaseFactory(number=1)
    large = PhaseFactory(campus=small.campus, number=2)
    counts = {}
    for phase, size in ((small, 5), (large, 60)):
        chain(phase, size)  # the lists measured after 5 items, then after 65
        body = api.get(schedule_url(phase)).json()
        assert len(body["items"]) == size and sum(len(item["predecessors"]) for item in body["items"]) == size - 1
        counts[size] = (
            queries(api, schedule_url(phase)),
            queries(api, f"{ITEMS}?page_size=100"),
            queries(api, f"{LINKS}?page_size=100"),
        )
    assert counts[5] == counts[60]


# --- roles ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def linked_pair():
    first = ScheduleItemFactory(title="First")
    second = ScheduleItemFactory(phase=first.phase, title="Second")
    return first, second, ScheduleDependencyFactory(predecessor=first, successor=second)


class TestRoles:
    @pytest.mark.parametrize("role", ["planner", "executive", "staff", "partner"])
    def test_signed_in_roles_read_the_schedule(self, users, role, linked_pair):
        # As every plan list: plan data is read by every signed-in user (README, "The API").
        first, _second, link = linked_pair
        client = api_client_for(users[role])
        for url in (ITEMS, f"{ITEMS}{first.pk}/", LINKS, f"{LINKS}{link.pk}/", schedule_url(first.phase)):
            assert client.get(url).status_code == 200, url

    def test_anonymous_requests_are_refused_and_change_nothing(self, linked_pair):
        first, _second, link = linked_pair
        client = api_client_for(None)
        answers = [
            client.get(ITEMS),
            client.get(LINKS),
            client.get(schedule_url(first.phase)),
            client.post(ITEMS, {"phase": first.phase_id, "kind": "activity", "category": "design", "duration_days": 5}),
            client.patch(f"{ITEMS}{first.pk}/", {"duration_days": 5}),
            client.delete(f"{LINKS}{link.pk}/"),
        ]
        assert [answer.status_code for answer in answers] == [401] * 6
        assert ScheduleItem.objects.count() == 2 and ScheduleDependency.objects.count() == 1

    @pytest.mark.parametrize("role", ["executive", "partner"])
    def test_readers_cannot_write(self, users, role, linked_pair):
        first, second, link = linked_pair
        client = api_client_for(users[role])
        answers = [
            client.post(ITEMS, {"phase": first.phase_id, "kind": "activity", "category": "design", "duration_days": 5}),
            client.patch(f"{ITEMS}{first.pk}/", {"duration_days": 5}),
            client.put(f"{ITEMS}{first.pk}/", {"phase": first.phase_id, "title": "X", "duration_days": 5}),
            client.delete(f"{ITEMS}{first.pk}/"),
            client.post(LINKS, {"predecessor": second.pk, "successor": first.pk}),
            client.patch(f"{LINKS}{link.pk}/", {"lag_days": 5}),
            client.delete(f"{LINKS}{link.pk}/"),
        ]
        assert [answer.status_code for answer in answers] == [403] * 7
        assert answers[1].json() == {"detail": "Only planners and HKSTP staff can change plan data."}
        first.refresh_from_db()
        assert (first.duration_days, first.version, ScheduleItem.objects.count()) == (30, 1, 2)
        assert list(ScheduleDependency.objects.values_list("lag_days", "version")) == [(0, 1)]

    @pytest.mark.parametrize("role", ["planner", "staff"])
    def test_planners_and_staff_write(self, users, role, linked_pair):
        first, second, link = linked_pair
        client = api_client_for(users[role])

        created = client.post(
            ITEMS, {"phase": first.phase_id, "kind": "milestone", "category": "occupation_permit", "reason": "New"}
        )
        changed = client.patch(f"{ITEMS}{first.pk}/", {"duration_days": 45, "version": 1})
        relinked = client.patch(f"{LINKS}{link.pk}/", {"lag_days": -10, "version": 1})
        added = client.post(LINKS, {"predecessor": second.pk, "successor": created.json()["id"], "lag_days": 7})
        removed = client.delete(f"{ITEMS}{first.pk}/")

        answers = (created, changed, relinked, added, removed)
        assert [answer.status_code for answer in answers] == [201, 200, 200, 201, 204]
        assert created.json()["duration_days"] == 0 and created.json()["name"] == "Occupation permit"
        assert changed.json()["version"] == 2 and relinked.json()["lag_days"] == -10
        assert list(ScheduleItem.objects.order_by("pk").values_list("title", flat=True)) == ["Second", ""]
        assert list(ScheduleDependency.objects.values_list("lag_days", flat=True)) == [7]
        assert ScheduleItem.history.filter(history_type="-").get().history_user == users[role]

    def test_the_responsible_party_is_written_read_and_kept_in_the_history(self, api, linked_pair):
        first, _second, _link = linked_pair

        created = api.post(
            ITEMS,
            {
                "phase": first.phase_id,
                "kind": "milestone",
                "category": "building_plans_approval",
                "responsible": "Buildings Department",
            },
        )
        changed = api.patch(f"{ITEMS}{first.pk}/", {"responsible": "HKSTP Capital Projects"})

        assert (created.status_code, created.json()["responsible"]) == (201, "Buildings Department")
        assert (changed.status_code, changed.json()["responsible"]) == (200, "HKSTP Capital Projects")
        listed = {row["id"]: row["responsible"] for row in api.get(ITEMS).json()["results"]}
        assert listed[first.pk] == "HKSTP Capital Projects"
        assert listed[created.json()["id"]] == "Buildings Department"
        scheduled = {row["id"]: row["responsible"] for row in api.get(schedule_url(first.phase)).json()["items"]}
        assert scheduled == listed
        assert [row.responsible for row in first.history.order_by("history_id")] == ["", "HKSTP Capital Projects"]

    def test_an_unknown_id_is_a_404(self, api):
        assert api.get(f"{ITEMS}999999/").status_code == 404
        assert api.patch(f"{LINKS}999999/", {"lag_days": 1}).status_code == 404
        assert api.get("/api/v1/phases/999999/schedule/").status_code == 404
        assert api.get("/api/v1/milestones/").status_code == 404  # gone: /api/v1/schedule-items/?kind=milestone


# --- refusals ----------------------------------------------------------------------------------------------------


class TestConflicts:
    def test_a_stale_item_version_is_a_409_saying_who_when_and_what(self, users, linked_pair):
        first, _second, _link = linked_pair
        planner, staff = api_client_for(users["planner"]), api_client_for(users["staff"])

        ok = planner.patch(f"{ITEMS}{first.pk}/", {"duration_days": 45, "version": 1, "reason": "Piling takes longer"})
        late = staff.patch(f"{ITEMS}{first.pk}/", {"duration_days": 20, "version": 1})

        assert ok.status_code == 200 and late.status_code == 409
        body = late.json()
        assert (body["code"], body["current_version"], body["changed_by"]) == ("conflict", 2, "planner-t")
        assert body["changed_at"] and body["changes"] == [{"field": "Duration (days)", "old": "30", "new": "45"}]
        assert "planner-t" in body["detail"] and "Duration (days) 30 → 45" in body["detail"]
        first.refresh_from_db()
        assert (first.duration_days, first.version) == (45, 2)

    def test_a_stale_dependency_version_is_a_409(self, users, linked_pair):
        _first, _second, link = linked_pair
        planner, staff = api_client_for(users["planner"]), api_client_for(users["staff"])

        assert planner.patch(f"{LINKS}{link.pk}/", {"lag_days": 14, "version": 1}).status_code == 200
        late = staff.patch(f"{LINKS}{link.pk}/", {"lag_days": -3, "version": 1})

        assert late.status_code == 409
        assert late.json()["changed_by"] == "planner-t"
        assert late.json()["changes"] == [{"field": "Lag (days)", "old": "0", "new": "14"}]
        link.refresh_from_db()
        assert link.lag_days == 14


@pytest.fixture
def abc():
    """Three items of one phase in a chain A → B → C, and an item X of another phase."""
    phase = PhaseFactory(number=1)
    a, b, c = (ScheduleItemFactory(phase=phase, title=title) for title in "ABC")
    ScheduleDependencyFactory(predecessor=a, successor=b)
    ScheduleDependencyFactory(predecessor=b, successor=c)
    x = ScheduleItemFactory(phase=PhaseFactory(campus=phase.campus, number=2), title="X")
    return a, b, c, x


def snapshot() -> list:
    """Every item and dependency as stored (versions and engine results included)."""
    return [list(model.objects.order_by("pk").values()) for model in (ScheduleItem, ScheduleDependency)]


class TestDependencyRefusals:
    def test_a_cycle_is_refused_under_predecessor_naming_it(self, api, abc):
        a, b, c, _x = abc
        before = snapshot()
        closing = api.post(LINKS, {"predecessor": c.pk, "successor": a.pk})
        link = ScheduleDependency.objects.get(predecessor=a, successor=b)
        turned = api.patch(f"{LINKS}{link.pk}/", {"predecessor": c.pk, "successor": b.pk})

        assert (closing.status_code, turned.status_code) == (400, 400)
        assert closing.json() == {
            "predecessor": [
                "This dependency would close a cycle: C → A → B → C (each must finish before the next starts)."
            ]
        }
        assert turned.json() == {
            "predecessor": ["This dependency would close a cycle: C → B → C (each must finish before the next starts)."]
        }
        assert snapshot() == before

    @pytest.mark.parametrize(
        ("body", "errors"),
        [
            (
                lambda a, b, c, x: {"predecessor": x.pk, "successor": a.pk},
                {
                    "predecessor": [
                        "X is in Phase 2 and A in Phase 1: a dependency links items of one phase (give A a 'start not "
                        "before' date instead)."
                    ]
                },
            ),
            (
                lambda a, b, c, x: {"predecessor": a.pk, "successor": a.pk},
                {"non_field_errors": ["An item cannot depend on itself."]},
            ),
            (
                lambda a, b, c, x: {"predecessor": a.pk, "successor": b.pk},
                {"non_field_errors": ["These two items are already linked."]},
            ),
            (
                lambda a, b, c, x: {"predecessor": a.pk, "successor": c.pk, "lag_days": 3651},
                {"lag_days": ["A lag is between −3,650 and 3,650 days (ten years)."]},
            ),
            (
                lambda a, b, c, x: {"predecessor": a.pk, "successor": c.pk, "lag_days": -3651},
                {"lag_days": ["A lag is between −3,650 and 3,650 days (ten years)."]},
            ),
            (
                lambda a, b, c, x: {"predecessor": a.pk, "successor": c.pk, "lag_days": 2**40},
                {"lag_days": ["Ensure this value is less than or equal to 2147483647."]},
            ),
            (
                lambda a, b, c, x: {"predecessor": a.pk, "successor": c.pk, "lag_days": 1.5},
                {"lag_days": ["A valid integer is required."]},
            ),
            (
                lambda a, b, c, x: {"predecessor": 999999, "successor": c.pk},
                {"predecessor": ['Invalid pk "999999" - object does not exist.']},
            ),
            (
                lambda a, b, c, x: {"successor": "B"},
                {
                    "predecessor": ["This field is required."],
                    "successor": ["Incorrect type. Expected pk value, received str."],
                },
            ),
            (lambda a, b, c, x: {"predecessor": a.pk, "successor": c.pk, "phase": 1}, {"phase": ["Unknown field."]}),
            (
                lambda a, b, c, x: {"predecessor": a.pk, "successor": c.pk, "id": 7},
                {"id": ["This field is read-only."]},
            ),
            (
                lambda a, b, c, x: {"predecessor": a.pk, "successor": c.pk, "reason": "x" * 101},
                {"reason": ["Ensure this field has no more than 100 characters."]},
            ),
        ],
        ids=[
            "other-phase",
            "itself",
            "twice",
            "lag-over",
            "lag-under",
            "lag-huge",
            "lag-fraction",
            "no-such-item",
            "malformed",
            "unknown-field",
            "read-only",
            "long-reason",
        ],
    )
    def test_a_bad_link_is_a_400_by_field_and_nothing_is_saved(self, api, abc, body, errors):
        before = snapshot()
        response = api.post(LINKS, body(*abc))
        assert (response.status_code, response.json()) == (400, errors)
        assert snapshot() == before

    def test_a_link_stays_in_its_phase(self, api, abc):
        a, b, _c, x = abc
        link = ScheduleDependency.objects.get(predecessor=a, successor=b)
        moved = api.patch(f"{LINKS}{link.pk}/", {"successor": x.pk})
        assert moved.status_code == 400
        assert list(moved.json()) == ["successor"]


def item_body(phase, fields: dict) -> dict:
    return {"phase": phase.pk, "kind": "activity", "category": "design", "duration_days": 10, **fields}


class TestItemRefusals:
    @pytest.mark.parametrize(
        ("fields", "errors"),
        [
            ({"duration_days": 0}, {"duration_days": ["A milestone lasts 0 days; an activity at least 1 day."]}),
            (
                {"kind": "milestone", "category": "occupation_permit", "duration_days": 5},
                {"duration_days": ["A milestone lasts 0 days; an activity at least 1 day."]},
            ),
            ({"category": "site_handover"}, {"category": ["This category belongs to the other kind of item."]}),
            ({"category": "other"}, {"title": ["An item of category 'other' needs a title."]}),
            ({"kind": "task"}, {"kind": ['"task" is not a valid choice.']}),
            ({"duration_days": 3651}, {"duration_days": ["Ensure this value is less than or equal to 3650."]}),
            ({"duration_days": -1}, {"duration_days": ["Ensure this value is greater than or equal to 0."]}),
            ({"duration_days": "ten"}, {"duration_days": ["A valid integer is required."]}),
            (
                {"baseline_start": "2027-02-30"},
                {"baseline_start": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]},
            ),
            (
                {"start_not_before": "2027-01-01T10:00:00"},
                {"start_not_before": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]},
            ),
            (
                {"baseline_start": "1900-02-01", "baseline_finish": "1900-03-01"},
                {
                    "baseline_start": ["Baseline start must be between 1 Jan 1990 and 31 Dec 2100."],
                    "baseline_finish": ["Baseline finish must be between 1 Jan 1990 and 31 Dec 2100."],
                },
            ),
            (
                {"start_not_before": "9999-12-31"},
                {"start_not_before": ["Start not before must be between 1 Jan 1990 and 31 Dec 2100."]},
            ),
            (
                {"baseline_start": "2027-02-01", "baseline_finish": "2027-01-01"},
                {"baseline_finish": ["A baseline needs a start and a finish, the finish not before the start."]},
            ),
            (
                {"actual_start": "2020-01-05", "actual_finish": "2020-01-01"},
                {"actual_finish": ["The actual finish cannot be before the actual start."]},
            ),
            ({"title": None}, {"title": ["This field may not be null."]}),
            ({"phase": 999999}, {"phase": ['Invalid pk "999999" - object does not exist.']}),
            ({"colour": "red"}, {"colour": ["Unknown field."]}),
            (
                {"forecast_start": "2027-01-01", "critical": True},
                {
                    name: [
                        "The scheduling engine computes this field; it cannot be set (a 'start not before' date "
                        "moves an item)."
                    ]
                    for name in ("forecast_start", "critical")
                },
            ),
            ({"predecessors": [1]}, {"predecessors": ["Dependencies are written at /api/v1/schedule-dependencies/."]}),
            ({"reason": "x" * 101}, {"reason": ["Ensure this field has no more than 100 characters."]}),
            ({"responsible": "x" * 201}, {"responsible": ["Ensure this field has no more than 200 characters."]}),
        ],
        ids=[
            "activity-of-0-days",
            "milestone-of-5-days",
            "milestone-category-on-an-activity",
            "other-without-title",
            "unknown-kind",
            "duration-over-ten-years",
            "negative-duration",
            "duration-as-text",
            "no-such-day",
            "a-time",
            "before-1990",
            "year-9999",
            "baseline-backwards",
            "actual-backwards",
            "null-title",
            "no-such-phase",
            "unknown-field",
            "engine-fields",
            "predecessors",
            "long-reason",
            "long-responsible",
        ],
    )
    def test_a_bad_item_is_a_400_by_field_and_nothing_is_saved(self, api, abc, fields, errors):
        phase = abc[0].phase
        before = snapshot()
        response = api.post(ITEMS, item_body(phase, fields))
        assert (response.status_code, response.json()) == (400, errors)
        assert snapshot() == before

    def test_dates_of_what_has_happened_are_not_in_the_future(self, api, abc):
        a = abc[0]
        tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
        response = api.patch(f"{ITEMS}{a.pk}/", {"actual_start": tomorrow})
        assert response.status_code == 400
        assert (
            list(response.json()) == ["actual_start"] and "cannot be after today" in response.json()["actual_start"][0]
        )

    def test_an_item_stays_in_its_phase_and_delivers_only_its_own_facilities(self, api, abc):
        a, _b, _c, x = abc
        before = snapshot()
        moved = api.patch(f"{ITEMS}{a.pk}/", {"phase": x.phase_id})
        elsewhere = FacilityFactory(parcel__phase=x.phase)
        delivering = api.patch(f"{ITEMS}{a.pk}/", {"facility": elsewhere.pk})

        assert moved.status_code == 400
        assert moved.json() == {"phase": ["An item stays in its phase; add a new one to the other phase instead."]}
        assert delivering.status_code == 400 and list(delivering.json()) == ["facility"]
        assert snapshot() == before

    @pytest.mark.parametrize("body", [[], "text", 7, None, {"phase": {"id": 1}}, {"phase": [1, 2]}])
    def test_a_body_of_the_wrong_shape_is_a_400(self, api, abc, body):
        response = api.post(ITEMS, body, format="json")
        assert response.status_code == 400


# Everything a request may send, good or bad: the fields, a few it may not send, and values of every JSON type
# (dates near the bounds, numbers near the limits).
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.sampled_from([0, 1, -1, 3650, 3651, -3650, -3651, 2**31 - 1, 2**31]),
    st.dates(min_value=datetime.date(1, 1, 1)).map(datetime.date.isoformat),
    st.sampled_from(["1990-01-01", "2100-12-31", "2020-02-29", "9999-12-31", "0001-01-01", "2027-13-01"]),
    st.sampled_from(["activity", "milestone", "design", "site_handover", "other", "occupation_permit"]),
    st.text(max_size=120),
    st.lists(st.integers(), max_size=3),
    st.floats(allow_nan=False, allow_infinity=False),
)
FIELD_NAMES = st.sampled_from(
    [
        "phase",
        "kind",
        "category",
        "title",
        "duration_days",
        "baseline_start",
        "baseline_finish",
        "start_not_before",
        "actual_start",
        "actual_finish",
        "facility",
        "utility",
        "responsible",
        "reason",
        "version",
        "predecessor",
        "successor",
        "lag_days",
        "forecast_start",
        "predecessors",
    ]
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    operation=st.sampled_from(["create item", "change item", "create link", "change link"]),
    body=st.dictionaries(FIELD_NAMES, ANY_VALUE, max_size=6),
)
def test_no_input_is_a_server_error(api, abc, operation, body):
    a, b, c, x = abc
    # Ids drawn from the rows there are (and one that is not), so the services' rules are reached, not only
    # "no such item".
    body = dict(body)
    for name, ids in (
        ("phase", [a.phase_id, x.phase_id]),
        ("predecessor", [a.pk, b.pk, c.pk, x.pk]),
        ("successor", [a.pk, b.pk, c.pk, x.pk]),
    ):
        if isinstance(body.get(name), int) and not isinstance(body[name], bool) and body[name] % 5:
            body[name] = ids[body[name] % len(ids)]
    api.raise_request_exception = False
    with transaction.atomic():
        link = ScheduleDependency.objects.get(predecessor=a, successor=b)
        response = {
            "create item": lambda: api.post(ITEMS, body, format="json"),
            "change item": lambda: api.patch(f"{ITEMS}{a.pk}/", body, format="json"),
            "create link": lambda: api.post(LINKS, body, format="json"),
            "change link": lambda: api.patch(f"{LINKS}{link.pk}/", body, format="json"),
        }[operation]()
        transaction.set_rollback(True)
    assert response.status_code in (200, 201, 400, 409), (response.status_code, body)
    if response.status_code == 400:
        assert isinstance(response.json(), dict) and response.json()


# --- the reason in the history -------------------------------------------------------------------------------------


class TestReason:
    def test_the_reason_is_kept_in_the_history_and_never_answered(self, api, linked_pair):
        first, second, link = linked_pair
        reason = "Handover expected three months late: the site is still being cleared of the old works depot."
        reason = reason[:100]

        changed = api.patch(f"{ITEMS}{first.pk}/", {"start_not_before": "2090-06-01", "reason": reason})
        relinked = api.patch(f"{LINKS}{link.pk}/", {"lag_days": 3, "reason": "Curing time"})

        assert changed.status_code == 200 and "reason" not in changed.json()
        assert relinked.status_code == 200 and "reason" not in relinked.json()
        latest = first.history.order_by("-history_id").first()
        assert (latest.history_change_reason, latest.start_not_before) == (reason, day("2090-06-01"))
        assert link.history.order_by("-history_id").first().history_change_reason == "Curing time"
        # The schedule moved with it.
        second_body = api.get(f"{ITEMS}{second.pk}/").json()
        assert second_body["forecast_start"] == "2090-07-04"  # 1 Jun + 30 days + 3 days' lag

    def test_a_reason_too_long_for_the_history_is_a_400_and_nothing_moves(self, api, linked_pair):
        first, _second, _link = linked_pair
        response = api.patch(f"{ITEMS}{first.pk}/", {"duration_days": 60, "reason": "y" * 101})
        assert response.status_code == 400
        assert response.json() == {"reason": ["Ensure this field has no more than 100 characters."]}
        first.refresh_from_db()
        assert (first.duration_days, first.version, first.history.count()) == (30, 1, 1)


# --- OpenAPI -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openapi(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        response = api_client_for(None).get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    if "allOf" in node and len(node["allOf"]) == 1:
        return resolve(schema, node["allOf"][0])
    return node


def response_schema(schema: dict, path: str, method: str, status: str = "200") -> dict:
    return resolve(schema, schema["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"])


class TestOpenAPI:
    def test_the_schedule_endpoints_are_documented_and_the_milestones_gone(self, openapi):
        paths = openapi["paths"]
        assert set(paths["/api/v1/schedule-items/"]) >= {"get", "post"}
        assert set(paths["/api/v1/schedule-items/{id}/"]) >= {"get", "put", "patch", "delete"}
        assert set(paths["/api/v1/schedule-dependencies/"]) >= {"get", "post"}
        assert set(paths["/api/v1/schedule-dependencies/{id}/"]) >= {"get", "put", "patch", "delete"}
        assert set(paths["/api/v1/phases/{id}/schedule/"]) == {"get"}
        assert not [path for path in paths if "milestone" in path]
        for path in ("/api/v1/schedule-items/{id}/", "/api/v1/schedule-dependencies/{id}/"):
            assert {"400", "409"} <= set(paths[path]["patch"]["responses"]), path

    def test_the_phase_schedule_is_typed_down_to_the_predecessors(self, openapi):
        schedule = response_schema(openapi, "/api/v1/phases/{id}/schedule/", "get")
        assert {"target_completion", "forecast_completion", "completion_slip_days", "critical_path", "items"} <= set(
            schedule["required"]
        )
        assert schedule["properties"]["critical_path"]["items"]["type"] == "integer"
        item = resolve(openapi, schedule["properties"]["items"]["items"])
        assert set(ITEM_FIELDS) <= set(item["required"])
        assert item["properties"]["overdue"]["type"] == "boolean"
        # A named enum (not a hashed "KindD62Enum": four models have a `kind`).
        assert item["properties"]["kind"]["allOf"][0]["$ref"].endswith("/ScheduleItemKindEnum")
        assert resolve(openapi, item["properties"]["kind"])["enum"] == ["activity", "milestone"]
        predecessors = item["properties"]["predecessors"]
        assert predecessors["type"] == "array"
        link = resolve(openapi, predecessors["items"])
        assert link["type"] == "object"
        assert {name: spec["type"] for name, spec in link["properties"].items()} == {
            "id": "integer",
            "lag_days": "integer",
        }
        assert set(link["required"]) == {"id", "lag_days"}

    def test_the_reason_is_write_only_and_as_long_as_the_history_keeps(self, openapi):
        components = openapi["components"]["schemas"]
        for name in ("ScheduleItemRequest", "PatchedScheduleItemRequest", "ScheduleDependencyRequest"):
            assert components[name]["properties"]["reason"]["maxLength"] == 100, name
        for name in ("ScheduleItem", "ScheduleDependency"):
            assert "reason" not in components[name]["properties"], name
        request = components["ScheduleItemRequest"]["properties"]
        assert "forecast_start" not in request and "predecessors" not in request
        assert request["duration_days"]["maximum"] == 3650

    def test_the_responsible_party_is_read_and_written_on_items_and_utility_lines(self, openapi):
        components = openapi["components"]["schemas"]
        for model in ("ScheduleItem", "UtilityCapacity"):
            for name in (model, f"{model}Request", f"Patched{model}Request"):
                responsible = components[name]["properties"]["responsible"]
                assert (responsible["type"], responsible["maxLength"]) == ("string", 200), name
            assert "responsible" not in components[f"{model}Request"].get("required", []), model
