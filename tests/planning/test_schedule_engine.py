"""The scheduling engine on its own (planning/schedule.py): hand-made networks whose answers were worked out by hand
in the comments, and hypothesis over random networks against an independent relaxation. No database.

Day numbers in the comments count from the phase's start P (day 0 = P); finish = start + duration; a successor
starts on predecessor finish + lag.
"""

import datetime
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planning.schedule import (
    Dependency,
    ScheduleCycle,
    ScheduleItem,
    check_acyclic,
    compute_schedule,
    cycle_if_added,
)

P = datetime.date(2030, 1, 1)
BEFORE_START = datetime.date(2029, 12, 1)


def day(n: int) -> datetime.date:
    return P + datetime.timedelta(days=n)


def textbook(target: datetime.date | None):
    # A(3) → B(4) → D(5) → F(milestone); A → C(2) → E(1) with lag 1 → F.
    items = [
        ScheduleItem("A", 3),
        ScheduleItem("B", 4),
        ScheduleItem("C", 2),
        ScheduleItem("D", 5),
        ScheduleItem("E", 1),
        ScheduleItem("F", 0),
    ]
    dependencies = [
        Dependency("A", "B"),
        Dependency("A", "C"),
        Dependency("B", "D"),
        Dependency("C", "E", 1),
        Dependency("D", "F"),
        Dependency("E", "F"),
    ]
    return compute_schedule(
        items=items, dependencies=dependencies, project_start=P, target_completion=target, today=BEFORE_START
    )


def test_textbook_network_float_and_critical_path():
    result = textbook(target=day(12))
    # Forward:  A 0–3, B 3–7, C 3–5, D 7–12, E 5+1=6–7, F 12–12.
    # Backward from 12: F LF 12 LS 12; D LF 12 LS 7; E LF 12 LS 11; B LF 7 LS 3; C LF 11−1=10 LS 8;
    # A LF min(3, 8) = 3, LS 0.  Float: A 0, B 0, C 10−5=5, D 0, E 12−7=5, F 0.
    expected = {
        "A": (0, 3, 0, 3, 0),
        "B": (3, 7, 3, 7, 0),
        "C": (3, 5, 8, 10, 5),
        "D": (7, 12, 7, 12, 0),
        "E": (6, 7, 11, 12, 5),
        "F": (12, 12, 12, 12, 0),
    }
    for item_id, (es, ef, ls, lf, total_float) in expected.items():
        item = result.items[item_id]
        assert (item.forecast_start, item.forecast_finish) == (day(es), day(ef)), item_id
        assert (item.late_start, item.late_finish) == (day(ls), day(lf)), item_id
        assert item.total_float_days == total_float, item_id
    assert result.critical_path == ["A", "B", "D", "F"]
    assert [item_id for item_id, item in result.items.items() if item.critical] == ["A", "B", "D", "F"]
    assert result.forecast_completion == day(12)
    assert result.completion_slip_days == 0
    assert result.completion_item_id == "F"
    assert result.driving_chain() == ["A", "B", "D", "F"]
    assert result.driving_chain("E") == ["A", "C", "E"]
    assert result.items["A"].driving_predecessor is None


def test_target_earlier_than_forecast_gives_negative_float_on_the_critical_chain():
    # Target day 7, five days before the forecast completion on day 12: every late date moves 5 days earlier.
    result = textbook(target=day(7))
    floats = {item_id: item.total_float_days for item_id, item in result.items.items()}
    assert floats == {"A": -5, "B": -5, "C": 0, "D": -5, "E": 0, "F": -5}
    # Only the least float is critical: C and E have 0, but they are not what makes the phase late.
    assert result.critical_path == ["A", "B", "D", "F"]
    assert result.completion_slip_days == 5
    assert result.items["F"].late_finish == day(7)


def test_target_later_than_forecast_leaves_nothing_critical():
    # Ten days to spare: the least float is 10 > 0, so no item is critical, but the driving chain is still known.
    result = textbook(target=day(22))
    assert result.critical_path == []
    assert result.items["A"].total_float_days == 10
    assert result.completion_slip_days == -10
    assert result.driving_chain() == ["A", "B", "D", "F"]


def test_without_target_the_backward_pass_starts_at_the_forecast_completion():
    result = textbook(target=None)
    assert result.items["C"].total_float_days == 5
    assert result.critical_path == ["A", "B", "D", "F"]
    assert result.completion_slip_days is None


def test_negative_lag_lets_the_successor_overlap():
    # A(10) → B(3) lag −4: B starts 10−4 = 6, finishes 9. Completion = A's finish, day 10 = target.
    # Backward: B LF 10, LS 7, float 10−9 = 1; A LF min(10, 7−(−4)=11) = 10, float 0.
    result = compute_schedule(
        items=[ScheduleItem("A", 10), ScheduleItem("B", 3)],
        dependencies=[Dependency("A", "B", -4)],
        project_start=P,
        target_completion=day(10),
        today=BEFORE_START,
    )
    assert (result.items["B"].forecast_start, result.items["B"].forecast_finish) == (day(6), day(9))
    assert result.items["B"].driving_predecessor == "A"
    assert result.items["B"].total_float_days == 1
    assert result.items["A"].late_finish == day(10)
    assert result.items["A"].total_float_days == 0
    assert result.critical_path == ["A"]
    assert result.completion_item_id == "A"


def test_negative_lag_never_starts_before_the_phase():
    # A(2) → B(1) lag −5 would start B on day −3: the phase's start (day 0) wins and B has no driving predecessor.
    result = compute_schedule(
        items=[ScheduleItem("A", 2), ScheduleItem("B", 1)],
        dependencies=[Dependency("A", "B", -5)],
        project_start=P,
        target_completion=day(2),
        today=BEFORE_START,
    )
    assert result.items["B"].forecast_start == P
    assert result.items["B"].driving_predecessor is None


def test_actuals_in_the_past():
    today = day(20)
    items = [
        # Finished on day 7 against a baseline finish of day 6: actual dates win, slip 1 day.
        ScheduleItem("A", 5, baseline_finish=day(6), actual_start=day(0), actual_finish=day(7)),
        # Started day 7, would finish day 17, but it is not done on day 20: forecast finish = today.
        ScheduleItem("B", 10, actual_start=day(7)),
        # Not started, after B: starts on B's forecast finish (= today), finishes day 24; promised day 19 → overdue.
        ScheduleItem("C", 4, baseline_finish=day(19)),
        # Not started, after A (finished day 7): cannot start in the past, so today (day 20), finishes day 23.
        ScheduleItem("D", 3, baseline_finish=day(30)),
        # A milestone with an actual date is done, even without an actual finish.
        ScheduleItem("M", 0, baseline_finish=day(2), actual_start=day(5)),
        # Finished with only an actual finish recorded: taken to have started 3 days before.
        ScheduleItem("F", 3, actual_finish=day(10)),
    ]
    dependencies = [Dependency("A", "B"), Dependency("B", "C"), Dependency("A", "D"), Dependency("M", "B")]
    result = compute_schedule(
        items=items, dependencies=dependencies, project_start=P, target_completion=day(24), today=today
    )
    dates = {item_id: (item.forecast_start, item.forecast_finish) for item_id, item in result.items.items()}
    assert dates == {
        "A": (day(0), day(7)),
        "B": (day(7), day(20)),
        "C": (day(20), day(24)),
        "D": (day(20), day(23)),
        "M": (day(5), day(5)),
        "F": (day(7), day(10)),
    }
    assert result.items["A"].slip_days == 1
    assert result.items["C"].slip_days == 5
    assert result.items["D"].slip_days == -7
    assert result.items["B"].slip_days is None
    overdue = {item_id for item_id, item in result.items.items() if item.overdue}
    # M was promised for day 2 but it happened: not overdue. C is not done and was promised for day 19.
    assert overdue == {"C"}
    # Started and finished items are placed by their actual dates, D by today, C by B.
    assert [result.items[item_id].driving_predecessor for item_id in "ABDM"] == [None, None, None, None]
    assert result.items["C"].driving_predecessor == "B"
    # Finished work is never critical; B and C carry the least float (0) among the unfinished.
    assert result.critical_path == ["B", "C"]


def test_one_slip_propagates_through_three_successors():
    # A(5) → B(3) → C(2) → D(milestone); X(4) on its own. Baselines: A 0–5, B 5–8, C 8–10, D 10, X 0–4.
    baselines = {"A": (0, 5), "B": (5, 8), "C": (8, 10), "D": (10, 10), "X": (0, 4)}

    def item(item_id, duration):
        start, finish = baselines[item_id]
        return ScheduleItem(item_id, duration, baseline_start=day(start), baseline_finish=day(finish))

    dependencies = [Dependency("A", "B"), Dependency("B", "C"), Dependency("C", "D")]
    on_time = compute_schedule(
        items=[item("A", 5), item("B", 3), item("C", 2), item("D", 0), item("X", 4)],
        dependencies=dependencies,
        project_start=P,
        target_completion=day(10),
        today=BEFORE_START,
    )
    assert {item_id: r.slip_days for item_id, r in on_time.items.items()} == dict.fromkeys("ABCDX", 0)

    # A takes 15 days instead of 5: A 0–15, B 15–18, C 18–20, D 20 — ten days late each; X untouched.
    late = compute_schedule(
        items=[item("A", 15), item("B", 3), item("C", 2), item("D", 0), item("X", 4)],
        dependencies=dependencies,
        project_start=P,
        target_completion=day(10),
        today=BEFORE_START,
    )
    assert {item_id: r.slip_days for item_id, r in late.items.items()} == {"A": 10, "B": 10, "C": 10, "D": 10, "X": 0}
    assert late.items["D"].forecast_finish == day(20)
    assert late.completion_slip_days == 10
    # X: LF = target 10, EF 4 → float 6. The chain A–D: −10.
    assert late.items["X"].total_float_days == 6
    assert late.critical_path == ["A", "B", "C", "D"]
    assert all(late.items[item_id].total_float_days == -10 for item_id in "ABCD")
    assert late.driving_chain() == ["A", "B", "C", "D"]


def test_a_cycle_is_refused_naming_it():
    dependencies = [Dependency("a", "b"), Dependency("b", "c"), Dependency("c", "a"), Dependency("d", "a")]
    with pytest.raises(ScheduleCycle) as refused:
        check_acyclic(item_ids=["a", "b", "c", "d"], dependencies=dependencies)
    assert refused.value.cycle == ["a", "b", "c", "a"]
    assert "a → b → c → a" in str(refused.value)

    with pytest.raises(ScheduleCycle) as refused:
        compute_schedule(
            items=[ScheduleItem(item_id, 1) for item_id in "abcd"],
            dependencies=dependencies,
            project_start=P,
            target_completion=None,
            today=BEFORE_START,
        )
    assert refused.value.cycle == ["a", "b", "c", "a"]


def test_a_dependency_on_itself_is_a_cycle():
    with pytest.raises(ScheduleCycle) as refused:
        check_acyclic(item_ids=["a"], dependencies=[Dependency("a", "a")])
    assert refused.value.cycle == ["a", "a"]


def test_check_acyclic_gives_a_topological_order():
    order = check_acyclic(item_ids=["c", "b", "a"], dependencies=[Dependency("a", "b"), Dependency("b", "c")])
    assert order == ["a", "b", "c"]


def test_unknown_items_and_bad_durations_are_refused():
    with pytest.raises(ValueError, match="not in the schedule"):
        check_acyclic(item_ids=["a"], dependencies=[Dependency("a", "z")])
    with pytest.raises(ValueError, match="negative duration"):
        compute_schedule(
            items=[ScheduleItem("a", -1)], dependencies=[], project_start=P, target_completion=None, today=P
        )


def test_cycle_if_added():
    existing = [Dependency("a", "b"), Dependency("b", "c"), Dependency("x", "c")]
    # c → a would close a → b → c → a; named from the new dependency on.
    assert cycle_if_added(dependencies=existing, predecessor_id="c", successor_id="a") == ["c", "a", "b", "c"]
    assert cycle_if_added(dependencies=existing, predecessor_id="a", successor_id="c") is None
    assert cycle_if_added(dependencies=existing, predecessor_id="c", successor_id="x") == ["c", "x", "c"]
    assert cycle_if_added(dependencies=existing, predecessor_id="a", successor_id="a") == ["a", "a"]


def test_empty_schedule():
    result = compute_schedule(items=[], dependencies=[], project_start=P, target_completion=day(5), today=P)
    assert result.items == {}
    assert result.forecast_completion is None
    assert result.completion_slip_days is None
    assert result.driving_chain() == []


CHAIN = 20_000


def test_a_long_chain_runs_without_recursion():
    items = [ScheduleItem(n, 1) for n in range(CHAIN)]
    dependencies = [Dependency(n, n + 1) for n in range(CHAIN - 1)]
    result = compute_schedule(
        items=items, dependencies=dependencies, project_start=P, target_completion=day(CHAIN), today=BEFORE_START
    )
    assert result.forecast_completion == day(CHAIN)
    assert len(result.critical_path) == CHAIN
    assert len(result.driving_chain()) == CHAIN
    assert cycle_if_added(dependencies=dependencies, predecessor_id=CHAIN - 1, successor_id=0) == [
        CHAIN - 1,
        *range(CHAIN),
    ]
    with pytest.raises(ScheduleCycle) as refused:
        check_acyclic(item_ids=range(CHAIN), dependencies=[*dependencies, Dependency(CHAIN - 1, 0)])
    assert refused.value.cycle == [*range(CHAIN), 0]


@st.composite
def networks(draw):
    """A random DAG: edges only go from a lower to a higher index, items listed in a random order."""
    size = draw(st.integers(min_value=1, max_value=12))
    durations = draw(st.lists(st.integers(min_value=0, max_value=10), min_size=size, max_size=size))
    pairs = [(i, j) for i in range(size) for j in range(i + 1, size)]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=20)) if pairs else []
    lags = draw(st.lists(st.integers(min_value=-5, max_value=5), min_size=len(edges), max_size=len(edges)))
    order = draw(st.permutations(range(size)))
    items = [ScheduleItem(n, durations[n]) for n in order]
    dependencies = [Dependency(i, j, lag) for (i, j), lag in zip(edges, lags, strict=True)]
    return items, dependencies


def relaxed_early_dates(items, dependencies, floor):
    """An independent forward pass: relax every dependency until nothing moves (Bellman–Ford on a DAG)."""
    duration = {item.id: datetime.timedelta(days=item.duration_days) for item in items}
    start = {item.id: floor for item in items}
    for _ in range(len(items)):
        for dependency in dependencies:
            earliest = start[dependency.predecessor_id] + duration[dependency.predecessor_id]
            earliest += datetime.timedelta(days=dependency.lag_days)
            start[dependency.successor_id] = max(start[dependency.successor_id], earliest)
    return {item_id: (start[item_id], start[item_id] + duration[item_id]) for item_id in start}


@settings(max_examples=200, deadline=None)
@given(
    network=networks(),
    today_offset=st.integers(min_value=-10, max_value=10),
    target_offset=st.none() | st.integers(min_value=-20, max_value=60),
)
def test_random_networks_respect_every_dependency(network, today_offset, target_offset):
    items, dependencies = network
    today = day(today_offset)
    target = None if target_offset is None else day(target_offset)
    result = compute_schedule(
        items=items, dependencies=dependencies, project_start=P, target_completion=target, today=today
    )
    for dependency in dependencies:
        predecessor = result.items[dependency.predecessor_id]
        successor = result.items[dependency.successor_id]
        assert successor.forecast_start >= predecessor.forecast_finish + datetime.timedelta(days=dependency.lag_days)
        assert predecessor.late_finish <= successor.late_start - datetime.timedelta(days=dependency.lag_days)
    floor = max(P, today)
    assert {
        item_id: (r.forecast_start, r.forecast_finish) for item_id, r in result.items.items()
    } == relaxed_early_dates(items, dependencies, floor)
    least = min(r.total_float_days for r in result.items.values())
    for item in items:
        r = result.items[item.id]
        assert r.forecast_start >= P
        assert r.forecast_start >= today
        assert r.total_float_days >= least
        assert r.critical == (least <= 0 and r.total_float_days == least)
        if target is not None:
            assert r.late_finish <= target
    lag = {(d.predecessor_id, d.successor_id): d.lag_days for d in dependencies}
    for item_id, r in result.items.items():
        if r.driving_predecessor is not None:
            driving = result.items[r.driving_predecessor]
            lag_days = lag[r.driving_predecessor, item_id]
            assert driving.forecast_finish + datetime.timedelta(days=lag_days) == r.forecast_start
    for item_id in result.critical_path:
        assert result.items[item_id].total_float_days == least


@settings(max_examples=200, deadline=None)
@given(network=networks(), today_offset=st.integers(min_value=-10, max_value=10))
def test_float_is_zero_on_the_driving_chain_when_the_target_is_the_forecast(network, today_offset):
    items, dependencies = network
    forecast = compute_schedule(
        items=items, dependencies=dependencies, project_start=P, target_completion=None, today=day(today_offset)
    )
    result = compute_schedule(
        items=items,
        dependencies=dependencies,
        project_start=P,
        target_completion=forecast.forecast_completion,
        today=day(today_offset),
    )
    assert all(r.total_float_days >= 0 for r in result.items.values())
    chain = result.driving_chain()
    assert chain
    for item_id in chain:
        assert result.items[item_id].total_float_days == 0
        assert result.items[item_id].critical
    # Each link of the chain is tight: the predecessor's finish + lag is the successor's start.
    lag = {(d.predecessor_id, d.successor_id): d.lag_days for d in dependencies}
    for predecessor_id, successor_id in itertools.pairwise(chain):
        assert result.items[predecessor_id].forecast_finish + datetime.timedelta(
            days=lag[predecessor_id, successor_id]
        ) == (result.items[successor_id].forecast_start)


@settings(max_examples=200, deadline=None)
@given(network=networks(), data=st.data())
def test_random_actuals_unfinished_work_is_never_forecast_in_the_past(network, data):
    items, dependencies = network
    today = day(30)
    with_actuals = []
    for item in items:
        state = data.draw(st.sampled_from(["not started", "started", "finished"]))
        if state == "not started":
            with_actuals.append(item)
            continue
        started = day(data.draw(st.integers(min_value=0, max_value=30)))
        finished = None
        if state == "finished":
            finished = started + datetime.timedelta(days=data.draw(st.integers(min_value=0, max_value=30)))
            finished = min(finished, today)
        with_actuals.append(ScheduleItem(item.id, item.duration_days, actual_start=started, actual_finish=finished))
    result = compute_schedule(
        items=with_actuals, dependencies=dependencies, project_start=P, target_completion=day(40), today=today
    )
    for item in with_actuals:
        r = result.items[item.id]
        if item.finished:
            assert r.forecast_finish == (item.actual_finish or item.actual_start)
            assert not r.critical
            assert not r.overdue
        else:
            assert r.forecast_finish >= today
            if item.actual_start is not None:
                assert r.forecast_start == item.actual_start
            else:
                assert r.forecast_start >= today


def test_a_not_before_date_holds_an_item_back_and_then_nothing_drives_it():
    # A(3) → B(2) → C(1); B may not start before day 10 (a permit's expected date).
    # Forward: A 0–3, B max(3, 10) = 10–12, C 12–13. B's start is its own date, so no predecessor drives it;
    # C is driven by B. Target day 13: C float 0, B 0, A LF 10 − 3 = 7 float.
    items = [ScheduleItem("A", 3), ScheduleItem("B", 2, not_before=day(10)), ScheduleItem("C", 1)]
    result = compute_schedule(
        items=items,
        dependencies=[Dependency("A", "B"), Dependency("B", "C")],
        project_start=P,
        target_completion=day(13),
        today=BEFORE_START,
    )
    assert [(result.items[i].forecast_start, result.items[i].forecast_finish) for i in "ABC"] == [
        (day(0), day(3)),
        (day(10), day(12)),
        (day(12), day(13)),
    ]
    assert [result.items[i].total_float_days for i in "ABC"] == [7, 0, 0]
    assert result.items["B"].driving_predecessor is None
    assert result.driving_chain() == ["B", "C"]
    assert result.critical_path == ["B", "C"]


def test_a_not_before_date_earlier_than_the_predecessors_changes_nothing():
    items = [ScheduleItem("A", 3), ScheduleItem("B", 2, not_before=day(1))]
    result = compute_schedule(
        items=items, dependencies=[Dependency("A", "B")], project_start=P, target_completion=None, today=BEFORE_START
    )
    assert result.items["B"].forecast_start == day(3)
    assert result.items["B"].driving_predecessor == "A"
