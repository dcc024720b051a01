"""The scheduling engine: critical-path (CPM) dates for one phase's network of activities and milestones.

A pure function over plain data — no models, no database — so it is tested on its own and the services call it
inside the transaction of any schedule edit, storing what it returns on the items.

Date convention (whole days, `datetime.date`, used everywhere in this module):

- an item that starts on S and lasts D days finishes on S + D (a 5-day activity starting 1 Mar finishes 6 Mar);
  a milestone (D = 0) finishes on the day it starts;
- a finish-to-start dependency with lag L lets its successor start on predecessor finish + L (L may be negative:
  the successor may start before the predecessor is done);
- day counts (float, slip) are plain date differences in days.

Forward pass (early dates, which are the forecast), in topological order:

- an item *finished* (actual finish recorded, or a milestone with either actual date) keeps its actual dates; a
  finished item with only an actual finish is taken to have started D days earlier;
- an item *in progress* (actual start, no actual finish) starts on its actual start and finishes on
  max(actual start + D, today): work not done cannot be forecast in the past;
- an item *not started* starts on the latest of the phase's start, today, its own "not before" date, and each
  predecessor's forecast finish + lag; it finishes D days later.

Actual dates are facts, so they win over predecessors and the phase's start.

Backward pass (late dates) from the phase's target completion (or, without one, from the forecast completion):
an item's late finish is the least of (successor's late start − lag) over its successors, and the target for an
item without successors; late start = late finish − D; total float = late finish − forecast finish, negative when
the target cannot be met.

Critical: the unfinished items whose total float is the least among unfinished items, when that least float is
zero or negative (finished work has nothing left to manage, so it is never critical). An item's driving
predecessor is the one whose forecast finish + lag sets its start (ties: least float, then the order the
dependencies were given); an item whose start is set by an actual date, today, its "not before" date or the phase's
start has none (a predecessor that only ties with one of those still drives it).
`ScheduleResult.driving_chain` walks these back, e.g. to say "Occupation permit … driven by Building plans
approval".

Slip = forecast finish − baseline finish, in days (None without a baseline finish). Overdue: not finished and the
baseline finish (the date promised) is before today; without a baseline, the forecast finish is used, which for
unfinished work is never before today, so such an item is never overdue.

Cycles are refused with `ScheduleCycle`, naming the cycle in order ([a, b, c, a]); `cycle_if_added` tells a
service whether one more dependency would close a cycle, before it is saved.

Every pass is linear in items + dependencies (Kahn's topological sort, no recursion).
"""

import datetime
from collections import deque
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

ItemId = Hashable


@dataclass(frozen=True)
class ScheduleItem:
    """One activity (duration_days > 0) or milestone (duration_days == 0) of a phase's schedule."""

    id: ItemId
    duration_days: int
    baseline_start: datetime.date | None = None
    baseline_finish: datetime.date | None = None
    actual_start: datetime.date | None = None
    actual_finish: datetime.date | None = None
    # The earliest day the item can start whatever its predecessors (a permit's expected date, say).
    not_before: datetime.date | None = None

    @property
    def finished(self) -> bool:
        """Finished once an actual finish is recorded; a milestone happens in a day, so either date will do."""
        if self.actual_finish is not None:
            return True
        return self.duration_days == 0 and self.actual_start is not None


@dataclass(frozen=True)
class Dependency:
    """Finish-to-start: the successor may start `lag_days` after the predecessor finishes (negative: before)."""

    predecessor_id: ItemId
    successor_id: ItemId
    lag_days: int = 0


@dataclass(frozen=True)
class ItemSchedule:
    """What the engine computes for one item."""

    forecast_start: datetime.date
    forecast_finish: datetime.date
    late_start: datetime.date
    late_finish: datetime.date
    total_float_days: int
    critical: bool
    slip_days: int | None
    overdue: bool
    driving_predecessor: ItemId | None


@dataclass(frozen=True)
class ScheduleResult:
    """The phase's schedule: every item's dates, and the phase's forecast completion against its target."""

    items: dict[ItemId, ItemSchedule]
    forecast_completion: datetime.date | None
    target_completion: datetime.date | None
    # Forecast completion − target completion, in days; None without items or without a target.
    completion_slip_days: int | None
    # The latest-finishing item, the one the phase's completion waits for (ties: least float, then the last in
    # topological order).
    completion_item_id: ItemId | None
    # The critical items in topological order.
    critical_path: list[ItemId] = field(default_factory=list)

    def driving_chain(self, item_id: ItemId | None = None) -> list[ItemId]:
        """The chain of driving predecessors ending at `item_id` (default: the completion item), first item
        first."""
        current = self.completion_item_id if item_id is None else item_id
        chain: list[ItemId] = []
        while current is not None:
            chain.append(current)
            current = self.items[current].driving_predecessor
        chain.reverse()
        return chain


class ScheduleCycle(ValueError):
    """The dependencies form a cycle; `cycle` names it in order, first item repeated at the end."""

    def __init__(self, cycle: list[ItemId]):
        self.cycle = cycle
        super().__init__("The dependencies form a cycle: " + " → ".join(str(item_id) for item_id in cycle))


def _adjacency(
    item_ids: Sequence[ItemId], dependencies: Iterable[Dependency]
) -> tuple[dict[ItemId, list[tuple[ItemId, int]]], dict[ItemId, list[tuple[ItemId, int]]]]:
    predecessors: dict[ItemId, list[tuple[ItemId, int]]] = {item_id: [] for item_id in item_ids}
    successors: dict[ItemId, list[tuple[ItemId, int]]] = {item_id: [] for item_id in item_ids}
    for dependency in dependencies:
        for end in (dependency.predecessor_id, dependency.successor_id):
            if end not in predecessors:
                raise ValueError(f"Dependency {dependency} names an item that is not in the schedule: {end!r}.")
        predecessors[dependency.successor_id].append((dependency.predecessor_id, dependency.lag_days))
        successors[dependency.predecessor_id].append((dependency.successor_id, dependency.lag_days))
    return predecessors, successors


def _topological_order(
    item_ids: Sequence[ItemId],
    predecessors: dict[ItemId, list[tuple[ItemId, int]]],
    successors: dict[ItemId, list[tuple[ItemId, int]]],
) -> list[ItemId]:
    """Kahn's algorithm, stable in the input order; raises ScheduleCycle naming one cycle."""
    in_degree = {item_id: len(predecessors[item_id]) for item_id in item_ids}
    ready = deque(item_id for item_id in item_ids if in_degree[item_id] == 0)
    order: list[ItemId] = []
    while ready:
        item_id = ready.popleft()
        order.append(item_id)
        for successor_id, _lag in successors[item_id]:
            in_degree[successor_id] -= 1
            if in_degree[successor_id] == 0:
                ready.append(successor_id)
    if len(order) < len(item_ids):
        raise ScheduleCycle(_cycle_among([item_id for item_id in item_ids if in_degree[item_id]], predecessors))
    return order


def _cycle_among(left_behind: list[ItemId], predecessors: dict[ItemId, list[tuple[ItemId, int]]]) -> list[ItemId]:
    """Every item Kahn's sort left behind has a predecessor also left behind, so walking predecessors from any of
    them must come back to an item already seen: that loop is a cycle. Starts from the first item left behind, in
    the input order, so the same network always names the same cycle."""
    remaining = set(left_behind)
    current = left_behind[0]
    position: dict[ItemId, int] = {}
    walk: list[ItemId] = []
    while current not in position:
        position[current] = len(walk)
        walk.append(current)
        current = next(pred for pred, _lag in predecessors[current] if pred in remaining)
    loop = walk[position[current] :]
    # The walk went against the dependencies; name the cycle in their direction, from where the loop closed.
    loop = [loop[0], *reversed(loop[1:])]
    return [*loop, loop[0]]


def check_acyclic(*, item_ids: Iterable[ItemId], dependencies: Iterable[Dependency]) -> list[ItemId]:
    """Return the items in a topological order, or raise ScheduleCycle naming a cycle."""
    ids = list(item_ids)
    predecessors, successors = _adjacency(ids, dependencies)
    return _topological_order(ids, predecessors, successors)


def cycle_if_added(
    *, dependencies: Iterable[Dependency], predecessor_id: ItemId, successor_id: ItemId
) -> list[ItemId] | None:
    """The cycle that the dependency predecessor → successor would close ([predecessor, successor, …,
    predecessor]), or None if adding it keeps the network acyclic. Assumes the existing network is acyclic."""
    if predecessor_id == successor_id:
        return [predecessor_id, predecessor_id]
    successors: dict[ItemId, list[ItemId]] = {}
    for dependency in dependencies:
        successors.setdefault(dependency.predecessor_id, []).append(dependency.successor_id)
    # Breadth-first from the new successor: a path back to the new predecessor closes the cycle.
    reached_from: dict[ItemId, ItemId | None] = {successor_id: None}
    queue = deque([successor_id])
    while queue:
        item_id = queue.popleft()
        if item_id == predecessor_id:
            path = [item_id]
            while (previous := reached_from[path[-1]]) is not None:
                path.append(previous)
            path.reverse()  # successor … predecessor
            return [predecessor_id, *path]
        for next_id in successors.get(item_id, ()):
            if next_id not in reached_from:
                reached_from[next_id] = item_id
                queue.append(next_id)
    return None


def compute_schedule(
    *,
    items: Sequence[ScheduleItem],
    dependencies: Sequence[Dependency],
    project_start: datetime.date,
    target_completion: datetime.date | None,
    today: datetime.date,
) -> ScheduleResult:
    """Forecast, late dates, float, critical path, slip and overdue for every item (see the module docstring)."""
    by_id: dict[ItemId, ScheduleItem] = {}
    for item in items:
        if item.id in by_id:
            raise ValueError(f"Item {item.id!r} appears twice.")
        if item.duration_days < 0:
            raise ValueError(f"Item {item.id!r} has a negative duration.")
        by_id[item.id] = item
    ids = list(by_id)
    predecessors, successors = _adjacency(ids, dependencies)
    order = _topological_order(ids, predecessors, successors)

    # Forward pass.
    early_start: dict[ItemId, datetime.date] = {}
    early_finish: dict[ItemId, datetime.date] = {}
    floor_start = max(project_start, today)
    for item_id in order:
        item = by_id[item_id]
        duration = datetime.timedelta(days=item.duration_days)
        if item.finished:
            finish = item.actual_finish if item.actual_finish is not None else item.actual_start
            start = item.actual_start if item.actual_start is not None else finish - duration
        elif item.actual_start is not None:
            start = item.actual_start
            finish = max(start + duration, today)
        else:
            start = floor_start if item.not_before is None else max(floor_start, item.not_before)
            for predecessor_id, lag in predecessors[item_id]:
                start = max(start, early_finish[predecessor_id] + datetime.timedelta(days=lag))
            finish = start + duration
        early_start[item_id] = start
        early_finish[item_id] = finish

    forecast_completion = max(early_finish.values()) if early_finish else None
    backward_from = target_completion if target_completion is not None else forecast_completion

    # Backward pass.
    late_start: dict[ItemId, datetime.date] = {}
    late_finish: dict[ItemId, datetime.date] = {}
    for item_id in reversed(order):
        finish = backward_from
        for successor_id, lag in successors[item_id]:
            finish = min(finish, late_start[successor_id] - datetime.timedelta(days=lag))
        late_finish[item_id] = finish
        late_start[item_id] = finish - datetime.timedelta(days=by_id[item_id].duration_days)

    total_float = {item_id: (late_finish[item_id] - early_finish[item_id]).days for item_id in ids}
    unfinished_floats = [total_float[item_id] for item_id in ids if not by_id[item_id].finished]
    least_float = min(unfinished_floats) if unfinished_floats else None
    critical = {
        item_id: least_float is not None
        and least_float <= 0
        and not by_id[item_id].finished
        and total_float[item_id] == least_float
        for item_id in ids
    }

    results: dict[ItemId, ItemSchedule] = {}
    for item_id in ids:
        item = by_id[item_id]
        driving = None
        if item.actual_start is None and item.actual_finish is None:
            start = early_start[item_id]
            candidates = [
                predecessor_id
                for predecessor_id, lag in predecessors[item_id]
                if early_finish[predecessor_id] + datetime.timedelta(days=lag) == start
            ]
            if candidates:
                # min() keeps the first of equals, so ties fall back to the dependencies' order.
                driving = min(candidates, key=lambda predecessor_id: total_float[predecessor_id])
        finish = early_finish[item_id]
        promised = item.baseline_finish if item.baseline_finish is not None else finish
        results[item_id] = ItemSchedule(
            forecast_start=early_start[item_id],
            forecast_finish=finish,
            late_start=late_start[item_id],
            late_finish=late_finish[item_id],
            total_float_days=total_float[item_id],
            critical=critical[item_id],
            slip_days=(finish - item.baseline_finish).days if item.baseline_finish is not None else None,
            overdue=not item.finished and promised < today,
            driving_predecessor=driving,
        )

    completion_item_id = None
    if forecast_completion is not None:
        # Reversed topological order, so that a milestone finishing with its predecessor is the one named.
        completion_item_id = min(
            (item_id for item_id in reversed(order) if early_finish[item_id] == forecast_completion),
            key=lambda item_id: total_float[item_id],
        )
    completion_slip_days = None
    if forecast_completion is not None and target_completion is not None:
        completion_slip_days = (forecast_completion - target_completion).days
    return ScheduleResult(
        items=results,
        forecast_completion=forecast_completion,
        target_completion=target_completion,
        completion_slip_days=completion_slip_days,
        completion_item_id=completion_item_id,
        critical_path=[item_id for item_id in order if critical[item_id]],
    )


def compute_from_rows(
    *,
    items: Iterable,
    dependencies: Sequence[Dependency],
    planned_start: datetime.date,
    target_completion: datetime.date | None,
    today: datetime.date,
) -> ScheduleResult:
    """`compute_schedule` over a phase's stored items (anything with the attributes of `planning.models.ScheduleItem`:
    today's rows, or rows read from the history). The schedule starts with the phase's planned start, or earlier
    where the plan has work before it (the site handover and consents come before the construction start a phase's
    dates usually name)."""
    items = list(items)
    return compute_schedule(
        items=[
            ScheduleItem(
                id=item.pk,
                duration_days=item.duration_days,
                baseline_start=item.baseline_start,
                baseline_finish=item.baseline_finish,
                actual_start=item.actual_start,
                actual_finish=item.actual_finish,
                not_before=item.start_not_before,
            )
            for item in items
        ],
        dependencies=dependencies,
        project_start=min([planned_start, *(item.baseline_start for item in items if item.baseline_start)]),
        target_completion=target_completion,
        today=today,
    )
