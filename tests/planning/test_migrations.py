"""Data migrations, run forward on rows written the way older code wrote them."""

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from shapely.geometry import LinearRing

from planning import services
from planning.models import Campus, FacilityType, Parcel, ScheduleDependency, ScheduleItem
from tests.factories import ParcelFactory, PhaseFactory, UserFactory

BEFORE = ("planning", "0004_readiness_targets")
NORMALISE = ("planning", "0005_normalise_stored_geometry")
HOUSING_FLAG = ("planning", "0006_facility_type_housing_cap")


def _migrate(target: tuple[str, str]):
    """Move the schema to `target`; the state it leaves (its `.apps` are the models of that time)."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    return executor.migrate([target])


def _migrate_to_latest() -> None:
    """Move the schema to the latest migration, the one today's models read."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture(autouse=True)
def _latest_schema_afterwards():
    """Each test moves the schema back: leave it at the latest migration for the tests that follow."""
    yield
    _migrate_to_latest()


def _as_stored_before(polygon: dict) -> dict:
    """What the API stored before writes were normalised: clockwise, 15 decimals, as the client posted it."""
    ring = [[lon + 1.234567e-12, lat - 7.654321e-13] for lon, lat in reversed(polygon["coordinates"][0])]
    ring[-1] = ring[0]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.mark.django_db(transaction=True)
def test_polygons_stored_before_normalisation_are_normalised():
    parcel = ParcelFactory()
    campus = parcel.campus
    normal_parcel, normal_boundary = parcel.geometry, campus.boundary
    Parcel.objects.filter(pk=parcel.pk).update(geometry=_as_stored_before(normal_parcel))
    Campus.objects.filter(pk=campus.pk).update(boundary=_as_stored_before(normal_boundary))
    assert not LinearRing(Parcel.objects.get(pk=parcel.pk).geometry["coordinates"][0]).is_ccw

    _migrate(BEFORE)
    _migrate(NORMALISE)

    stored = Parcel.objects.get(pk=parcel.pk).geometry
    assert LinearRing(stored["coordinates"][0]).is_ccw
    assert stored == normal_parcel
    assert Campus.objects.get(pk=campus.pk).boundary == normal_boundary


@pytest.mark.django_db(transaction=True)
def test_the_talent_housing_type_counts_against_the_housing_cap_after_the_migration():
    _migrate(NORMALISE)
    with connection.cursor() as cursor:
        for code in ("talent_housing", "office"):
            cursor.execute(
                "INSERT INTO planning_facilitytype (created, updated, version, code, name_en, name_zh, lettable, core,"
                " capacity_unit, power_kva_per_m2) VALUES (now(), now(), 1, %s, %s, '', true, false, 'units', 0.1)",
                [code, code],
            )

    _migrate(HOUSING_FLAG)

    assert dict(FacilityType.objects.values_list("code", "counts_against_housing_cap")) == {
        "talent_housing": True,
        "office": False,
    }


# --- 0008: milestones become the schedule -----------------------------------------------------------------------

BEFORE_SCHEDULE = ("planning", "0007_parcel_code_validator")
SCHEDULE = ("planning", "0008_schedule")
LONG_AGO = datetime.datetime(2026, 3, 2, 9, 30, tzinfo=datetime.UTC)


@pytest.mark.django_db(transaction=True)
def test_milestones_become_milestone_items_with_their_ids_links_and_history():
    user = UserFactory(username="migrating-planner")
    first = PhaseFactory(planned_start=datetime.date(2040, 1, 15), planned_completion=datetime.date(2042, 12, 31))
    second = PhaseFactory(
        campus=first.campus, planned_start=datetime.date(2040, 6, 1), planned_completion=datetime.date(2043, 6, 30)
    )
    old = _migrate(BEFORE_SCHEDULE).apps  # the models of the release before the schedule
    Milestone = old.get_model("planning", "Milestone")
    HistoricalMilestone = old.get_model("planning", "HistoricalMilestone")

    # Ids well above 1, as on a database where milestones were deleted over the years.
    rows = [
        # id, phase, kind, title, planned, actual, predecessors
        (501, first, "site_handover", "", datetime.date(2026, 10, 1), datetime.date(2026, 10, 3), []),
        (502, first, "master_layout_consent", "", datetime.date(2039, 12, 15), None, [501]),
        (503, first, "building_plans_approval", "", datetime.date(2040, 1, 10), None, [502]),
        (504, first, "construction_start", "", datetime.date(2040, 1, 15), None, [503]),
        # Another phase's predecessors: one planned before its own date, one after it.
        (505, second, "other", "Piling", datetime.date(2040, 3, 1), None, [504]),
        (506, second, "other", "Access road", datetime.date(2040, 1, 1), None, [503]),
    ]
    for pk, phase, kind, title, planned, actual, predecessors in rows:
        milestone = Milestone.objects.create(
            id=pk, phase_id=phase.pk, kind=kind, title=title, planned_date=planned, actual_date=actual, version=3
        )
        milestone.predecessors.set(predecessors)
    Milestone.objects.update(created=LONG_AGO, updated=LONG_AGO + datetime.timedelta(days=1))
    history = {"id": 501, "phase_id": first.pk, "kind": "site_handover", "title": "", "created": LONG_AGO}
    HistoricalMilestone.objects.create(
        **history,
        updated=LONG_AGO,
        version=1,
        planned_date=datetime.date(2026, 9, 1),
        history_date=LONG_AGO,
        history_type="+",
        history_user_id=user.pk,
    )
    HistoricalMilestone.objects.create(
        **history,
        updated=LONG_AGO + datetime.timedelta(days=1),
        version=2,
        planned_date=datetime.date(2026, 10, 1),
        actual_date=datetime.date(2026, 10, 3),
        history_date=LONG_AGO + datetime.timedelta(days=1),
        history_type="~",
        history_change_reason="Handed over two days late",
        history_user_id=user.pk,
    )

    _migrate(SCHEDULE)
    _migrate_to_latest()  # today's models read columns added since (0009: the responsible party, blank)

    items = {item.pk: item for item in ScheduleItem.objects.all()}
    assert sorted(items) == [501, 502, 503, 504, 505, 506]
    assert {item.responsible for item in items.values()} == {""}
    for pk, phase, kind, title, planned, actual, _predecessors in rows:
        item = items[pk]
        assert (item.phase_id, item.kind, item.category, item.title) == (phase.pk, "milestone", kind, title)
        assert item.duration_days == 0 and item.baseline_start == item.baseline_finish == planned
        assert item.actual_start == item.actual_finish == actual
        assert (item.version, item.created) == (3, LONG_AGO)
        assert item.updated == LONG_AGO + datetime.timedelta(days=1)
        assert item.forecast_start is None and item.scheduled_on is None  # left for the first recompute
    # A milestone keeps its planned date as "not before" until done; another phase's predecessor adds its own.
    assert {pk: item.start_not_before for pk, item in items.items()} == {
        501: None,  # done: its actual date is what counts
        502: datetime.date(2039, 12, 15),
        503: datetime.date(2040, 1, 10),
        504: datetime.date(2040, 1, 15),
        505: datetime.date(2040, 3, 1),  # its own date is after Construction start's 15 Jan 2040
        506: datetime.date(2040, 1, 10),  # Building plans approval's date, after its own 1 Jan 2040
    }
    links = ScheduleDependency.objects.values_list("predecessor_id", "successor_id", "lag_days")
    assert sorted(links) == [(501, 502, 0), (502, 503, 0), (503, 504, 0)]
    assert ScheduleDependency.history.filter(history_type="+").count() == 3

    copied = list(ScheduleItem.history.filter(id=501).order_by("history_date"))
    assert [(h.history_type, h.baseline_start, h.actual_start, h.history_user_id) for h in copied] == [
        ("+", datetime.date(2026, 9, 1), None, user.pk),
        ("~", datetime.date(2026, 10, 1), datetime.date(2026, 10, 3), user.pk),
    ]
    assert copied[0].history_date == LONG_AGO and copied[1].history_change_reason == "Handed over two days late"
    noted = ScheduleItem.history.get(id=506)
    assert noted.history_type == "~" and "another phase" in noted.history_change_reason
    assert noted.start_not_before == datetime.date(2040, 1, 10)

    # The schedule computes on the migrated rows, and the id sequence moved past their ids (PostgreSQL).
    assert services.schedule_refresh(phase=first)
    assert ScheduleItem.objects.get(pk=502).forecast_start == datetime.date(2039, 12, 15)
    added = services.schedule_item_create(
        actor=None, phase=second, kind="activity", category="construction", duration_days=200
    )
    assert added.pk > 506
