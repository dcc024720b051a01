"""The plan as it stood at the end of a past day (`planning.asof`) and `?as_of=` on the API's plan lists: an edit
after the day does not show, a row deleted after it still does, a row created after it does not; figures are
recomputed over the rows as of the day; the past is read-only; bad dates answer 400 with the reason; the query count
does not grow with the rows.

The past is made by moving the history of what the fixture created back by three days (`backdate`): the rows are
the services' own, only their history dates are earlier, so "the end of two days ago" holds them as created and
none of the changes the tests then make through the services.
"""

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.roles import EXECUTIVE, PARTNER
from planning import services
from planning.asof import AsOf, end_of_day, parse_day
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
from tests.conftest import api_client_for
from tests.factories import (
    FacilityFactory,
    FacilityTypeFactory,
    MilestoneFactory,
    ParcelFactory,
    PhaseFactory,
    ScheduleDependencyFactory,
    ScheduleItemFactory,
    UserFactory,
    UtilityCapacityFactory,
    grid_square,
)

pytestmark = pytest.mark.django_db

PLAN_MODELS = (Campus, Phase, Parcel, FacilityType, Facility, UtilityCapacity, ScheduleItem, ScheduleDependency)
HONG_KONG = ZoneInfo("Asia/Hong_Kong")


def backdate(days: int) -> None:
    """Move every history record of the plan so far `days` back: as if it had all been done then."""
    for model in PLAN_MODELS:
        model.history.update(history_date=F("history_date") - datetime.timedelta(days=days))


def past_day() -> str:
    """The end of this day holds what the fixture made (three days ago) and nothing done today."""
    return (timezone.localdate() - datetime.timedelta(days=2)).isoformat()


class Plan:
    """What `plan` made three days ago, by name."""


def make_plan() -> Plan:
    """Two parcels of phase 1 with a facility each, a reserve parcel, a power supply and a two-item schedule."""
    made = Plan()
    made.phase = PhaseFactory(number=1, target_area_ha=Decimal("2"))
    made.campus = made.phase.campus
    office = FacilityTypeFactory(code="office")
    lab = FacilityTypeFactory(code="lab", name_en="Laboratory", name_zh="實驗室", capacity_unit="benches")
    made.a = ParcelFactory(code="P-A", campus=made.campus, phase=made.phase, geometry=grid_square(0), lot_ref="Lot 1")
    made.b = ParcelFactory(code="P-B", campus=made.campus, phase=made.phase, geometry=grid_square(1))
    made.reserve = ParcelFactory(code="R-1", campus=made.campus, phase=None, geometry=grid_square(2))
    made.block = FacilityFactory(parcel=made.a, facility_type=office, name="Block A", gfa_m2=Decimal("10000"))
    made.lab = FacilityFactory(parcel=made.b, facility_type=lab, name="Lab B", gfa_m2=Decimal("5000"))
    made.power = UtilityCapacityFactory(phase=made.phase, capacity=Decimal("12"))
    made.handover = MilestoneFactory(phase=made.phase, title="Handover", baseline_start=datetime.date(2027, 3, 1))
    made.build = ScheduleItemFactory(phase=made.phase, title="Build", baseline_start=datetime.date(2027, 3, 1))
    made.link = ScheduleDependencyFactory(predecessor=made.handover, successor=made.build)
    made.b_shape = made.b.geometry
    made.site_area_then = Phase.objects.with_totals().get(pk=made.phase.pk).site_area_m2
    made.stored_forecast = {item.pk: (item.forecast_start, item.forecast_finish) for item in ScheduleItem.objects.all()}
    return made


def fresh(row):
    return type(row).objects.get(pk=row.pk)


def change_everything(plan: Plan, actor=None) -> None:
    """Today's changes: an edit to each kind of row, a deletion, a creation, a parcel moved, and phase 1 renumbered
    5."""
    services.parcel_update(parcel=fresh(plan.a), actor=actor, lot_ref="Lot 2", land_status="transferred")
    services.parcel_update(parcel=fresh(plan.b), actor=actor, geometry=grid_square(8))
    services.facility_update(facility=fresh(plan.block), actor=actor, gfa_m2=Decimal("12000"))
    services.facility_delete(facility=fresh(plan.lab), actor=actor)
    services.parcel_delete(parcel=fresh(plan.reserve), actor=actor)
    ParcelFactory(code="P-NEW", campus=plan.campus, phase=fresh(plan.phase), geometry=grid_square(3))
    services.utility_capacity_update(utility=fresh(plan.power), actor=actor, capacity=Decimal("20"))
    services.schedule_item_update(
        item=fresh(plan.handover), actor=actor, reason="Lands D letter", start_not_before=datetime.date(2027, 6, 1)
    )
    services.schedule_dependency_update(link=fresh(plan.link), actor=actor, lag_days=10)
    ScheduleItemFactory(phase=fresh(plan.phase), title="Fit-out", baseline_start=datetime.date(2027, 5, 1))
    services.phase_update(phase=fresh(plan.phase), actor=actor, number=5)


@pytest.fixture(scope="module")
def plan(django_db_setup, django_db_blocker):
    """`make_plan()` recorded three days ago, then `change_everything()` today: made once for the module, in a
    transaction rolled back after it (each test runs in a savepoint inside it, so what a test writes is undone)."""
    with django_db_blocker.unblock(), transaction.atomic():
        made = make_plan()
        backdate(3)
        change_everything(made)
        yield made
        transaction.set_rollback(True)


def rows(response) -> dict:
    assert response.status_code == 200, response.content
    data = response.json()
    return {row["id"]: row for row in (data["results"] if isinstance(data, dict) else data)}


# --- the day ----------------------------------------------------------------------------------------------------


class TestTheDay:
    def test_a_day_that_has_begun_is_read(self):
        today = datetime.date(2026, 12, 2)
        assert parse_day("2026-12-01", today=today) == datetime.date(2026, 12, 1)
        assert parse_day(" 2026-12-02 ", today=today) == today  # today: the plan so far

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("", "Give the date as YYYY-MM-DD, for example 2026-12-02."),
            ("yesterday", "“yesterday” is not a date: give it as YYYY-MM-DD, for example 2026-12-02."),
            ("2026-1-5", "“2026-1-5” is not a date: give it as YYYY-MM-DD, for example 2026-12-02."),
            ("20261201", "“20261201” is not a date"),
            ("2026-02-30", "“2026-02-30” is not a day of the calendar (YYYY-MM-DD)."),
            ("2026-12-03", "2026-12-03 is in the future: the plan's history goes up to today, 2026-12-02."),
            ("x" * 500, "“" + "x" * 40 + "…” is not a date"),
        ],
    )
    def test_anything_else_is_refused_saying_why(self, value, message):
        with pytest.raises(ValidationError) as refused:
            parse_day(value, today=datetime.date(2026, 12, 2))
        assert refused.value.messages[0].startswith(message)

    def test_the_day_ends_at_midnight_in_hong_kong(self):
        end = end_of_day(datetime.date(2026, 12, 1))
        assert end == datetime.datetime(2026, 12, 2, tzinfo=HONG_KONG)
        assert end == datetime.datetime(2026, 12, 1, 16, tzinfo=datetime.UTC)

    def test_a_change_at_one_minute_to_midnight_counts_and_one_at_midnight_does_not(self, plan):
        parcel = ParcelFactory(code="P-M", campus=plan.campus, phase=None, geometry=grid_square(20), lot_ref="Lot 1")
        services.parcel_update(parcel=parcel, actor=None, lot_ref="Lot 9")
        day = timezone.localdate() - datetime.timedelta(days=1)
        created, changed = parcel.history.order_by("history_id")
        Parcel.history.filter(history_id=changed.history_id).update(history_date=end_of_day(day))
        Parcel.history.filter(history_id=created.history_id).update(
            history_date=end_of_day(day) - datetime.timedelta(minutes=1)
        )

        assert AsOf(day).rows(Parcel).get(pk=parcel.pk).lot_ref == "Lot 1"
        assert AsOf(day + datetime.timedelta(days=1)).rows(Parcel).get(pk=parcel.pk).lot_ref == "Lot 9"
        assert not AsOf(day - datetime.timedelta(days=1)).rows(Parcel).filter(pk=parcel.pk).exists()


# --- the rows ---------------------------------------------------------------------------------------------------


class TestRows:
    def test_rows_are_as_they_were_edits_deletions_and_creations_after_the_day_left_out(self, plan):
        then = AsOf(datetime.date.fromisoformat(past_day()))

        parcels = {parcel.code: parcel for parcel in then.rows(Parcel)}
        assert sorted(parcels) == ["P-A", "P-B", "R-1"]  # R-1 deleted since, P-NEW created since
        assert (parcels["P-A"].lot_ref, parcels["P-A"].land_status) == ("Lot 1", "not_transferred")
        assert {f.name: f.gfa_m2 for f in then.rows(Facility)} == {"Block A": Decimal("10000"), "Lab B": 5000}
        assert then.rows(Phase).get().number == 1
        assert then.rows(UtilityCapacity).get().capacity == Decimal("12")
        assert [item.title for item in then.rows(ScheduleItem)] == ["Handover", "Build"]
        assert then.rows(ScheduleDependency).get().lag_days == 0
        # Today's rows are today's.
        assert sorted(Parcel.objects.values_list("code", flat=True)) == ["P-A", "P-B", "P-NEW"]

    def test_lookups_through_relations_read_the_related_rows_as_of_the_same_day(self, plan):
        then = AsOf(datetime.date.fromisoformat(past_day()))

        assert sorted(then.rows(Parcel).filter(phase__number=1).values_list("code", flat=True)) == ["P-A", "P-B"]
        assert not then.rows(Parcel).filter(phase__number=5).exists()
        assert sorted(Parcel.objects.filter(phase__number=5).values_list("code", flat=True)) == ["P-A", "P-B", "P-NEW"]
        assert list(then.rows(Facility).filter(parcel__phase__number=1).values_list("name", flat=True)) == [
            "Block A",
            "Lab B",
        ]
        assert [row["phase__number"] for row in then.rows(Parcel).order_by("code").values("phase__number")] == [
            1,
            1,
            None,
        ]
        facility = then.rows(Facility).select_related("parcel__phase").get(name="Lab B")
        assert (facility.parcel.code, facility.parcel.phase.number) == ("P-B", 1)  # all three as of the day

    def test_figures_are_recomputed_over_the_rows_of_the_day(self, plan):
        then = AsOf(datetime.date.fromisoformat(past_day()))

        phase = then.rows(Phase).with_totals().with_gfa_by_type().get()
        assert phase.gfa_m2 == Decimal("15000")  # today: 12,000 (Block A grew, Lab B went)
        assert phase.site_area_m2 == plan.site_area_then  # as the list showed it then (P-NEW came later)
        assert Phase.objects.with_totals().get(pk=plan.phase.pk).site_area_m2 > plan.site_area_then
        assert phase.gfa_by_type == {"lab": Decimal("5000"), "office": Decimal("10000")}
        assert phase.readiness_stale is False  # the past has no pending recompute
        parcel = then.rows(Parcel).with_gfa().for_map().get(code="P-B")
        assert (parcel.gfa_m2, parcel.facility_type_codes) == (Decimal("5000"), "lab")

    def test_a_schedule_items_forecast_is_the_engines_over_the_network_of_the_day(self, plan):
        then = AsOf(datetime.date.fromisoformat(past_day()))

        items = {
            item.pk: item for item in then.rows(ScheduleItem).with_schedule().prefetch_related("predecessor_links")
        }
        assert {pk: (i.forecast_start, i.forecast_finish) for pk, i in items.items()} == plan.stored_forecast
        assert fresh(plan.build).forecast_start == datetime.date(2027, 6, 11)
        build = items[plan.build.pk]
        assert [(link.predecessor_id, link.lag_days) for link in build.predecessor_links.all()] == [
            (plan.handover.pk, 0)
        ]
        assert build.scheduled_on == then.day

    def test_overdue_is_as_of_that_day(self, plan):
        yesterday = timezone.localdate() - datetime.timedelta(days=1)
        late = ScheduleItemFactory(
            phase=fresh(plan.phase),
            title="Survey",
            baseline_start=yesterday - datetime.timedelta(days=30),
            baseline_finish=yesterday,
        )
        ScheduleItem.history.filter(id=late.pk).update(history_date=F("history_date") - datetime.timedelta(days=3))
        # Due yesterday, not done: overdue today, not at the end of the day it was due.
        assert ScheduleItem.objects.overdue().filter(pk=late.pk).exists()
        assert not AsOf(yesterday).rows(ScheduleItem).with_overdue().get(pk=late.pk).overdue
        assert AsOf(timezone.localdate()).rows(ScheduleItem).with_overdue().get(pk=late.pk).overdue

    def test_the_past_is_read_only_and_scoped_like_today(self, plan, planner):
        then = AsOf(datetime.date.fromisoformat(past_day()))
        assert then.rows(Parcel).restrict(planner).count() == 3
        assert not then.rows(Parcel).restrict(planner, "change").exists()
        assert not then.rows(Parcel).restrict(AnonymousUser()).exists()


# --- the API ----------------------------------------------------------------------------------------------------

LISTS = ["phases", "parcels", "facilities", "utility-capacities", "schedule-items", "schedule-dependencies"]


class TestAPI:
    def test_each_list_answers_the_rows_of_the_day(self, plan, api):
        day = past_day()

        assert {row["code"]: row["lot_ref"] for row in rows(api.get(f"/api/v1/parcels/?as_of={day}")).values()} == {
            "P-A": "Lot 1",
            "P-B": plan.b.lot_ref,
            "R-1": plan.reserve.lot_ref,
        }
        phase = rows(api.get(f"/api/v1/phases/?as_of={day}"))[plan.phase.pk]
        assert (phase["number"], phase["gfa_m2"], phase["gfa_by_type"]) == (1, 15000, {"lab": 5000, "office": 10000})
        facilities = rows(api.get(f"/api/v1/facilities/?as_of={day}"))
        assert {row["name"]: (row["gfa_m2"], row["parcel_code"]) for row in facilities.values()} == {
            "Block A": (10000, "P-A"),
            "Lab B": (5000, "P-B"),
        }
        assert [row["capacity"] for row in rows(api.get(f"/api/v1/utility-capacities/?as_of={day}")).values()] == [12]
        items = rows(api.get(f"/api/v1/schedule-items/?as_of={day}"))
        assert [row["name"] for row in items.values()] == ["Handover", "Build"]
        assert items[plan.handover.pk]["start_not_before"] is None
        assert items[plan.build.pk]["predecessors"] == [{"id": plan.handover.pk, "lag_days": 0}]
        assert items[plan.build.pk]["forecast_start"] == "2027-01-15"  # the phase's start: nothing held it back
        links = rows(api.get(f"/api/v1/schedule-dependencies/?as_of={day}"))
        assert [row["lag_days"] for row in links.values()] == [0]

    def test_today_is_the_plan_so_far_and_a_row_reads_as_of_the_day(self, plan, api):
        today = timezone.localdate().isoformat()

        now = rows(api.get("/api/v1/parcels/"))
        assert rows(api.get(f"/api/v1/parcels/?as_of={today}")) == now
        one = api.get(f"/api/v1/parcels/{plan.a.pk}/?as_of={past_day()}")
        assert (one.status_code, one.json()["lot_ref"]) == (200, "Lot 1")
        gone = api.get(f"/api/v1/parcels/{plan.reserve.pk}/?as_of={past_day()}")
        assert (gone.status_code, gone.json()["code"]) == (200, "R-1")
        new = Parcel.objects.get(code="P-NEW")
        assert api.get(f"/api/v1/parcels/{new.pk}/?as_of={past_day()}").status_code == 404

    def test_filters_and_ordering_read_the_day(self, plan, api):
        day = past_day()

        def codes(query):
            return sorted(row["code"] for row in rows(api.get(f"/api/v1/parcels/?as_of={day}&{query}")).values())

        assert codes("phase_number=1") == ["P-A", "P-B"]  # phase 1 is number 5 today
        assert codes("phase_number=5") == []
        assert codes("reserve=true") == ["R-1"]
        assert codes("facility_type=lab") == ["P-B"]  # Lab B is gone today
        assert codes(f"phase={plan.phase.pk}") == ["P-A", "P-B"]
        names = rows(api.get(f"/api/v1/facilities/?as_of={day}&phase_number=1&ordering=-gfa_m2"))
        assert [row["name"] for row in names.values()] == ["Block A", "Lab B"]
        overdue = rows(api.get(f"/api/v1/schedule-items/?as_of={day}&overdue=false"))
        assert len(overdue) == 2

    @pytest.mark.parametrize(
        ("query", "field", "message"),
        [
            ("as_of=2026-02-30", "as_of", "“2026-02-30” is not a day of the calendar (YYYY-MM-DD)."),
            ("as_of=last-week", "as_of", "“last-week” is not a date: give it as YYYY-MM-DD"),
            ("as_of=", "as_of", "Give the date as YYYY-MM-DD"),
            ("as_of=2999-01-01", "as_of", "2999-01-01 is in the future"),
            ("as_of={day}&critical=true", "critical", "“critical” is computed, not kept in the history"),
            ("as_of={day}&ordering=forecast_finish", "ordering", "“forecast_finish” is computed"),
            ("as_of={day}&phase=first", "phase", "Enter a number."),
        ],
    )
    def test_a_bad_date_or_a_figure_the_history_does_not_keep_answers_400(self, plan, api, query, field, message):
        response = api.get("/api/v1/schedule-items/?" + query.format(day=past_day()))
        assert response.status_code == 400
        assert response.json()[field][0].startswith(message)

    @pytest.mark.parametrize("name", LISTS)
    def test_a_future_date_answers_400_on_every_list(self, plan, api, name):
        tomorrow = timezone.localdate() + datetime.timedelta(days=1)
        response = api.get(f"/api/v1/{name}/?as_of={tomorrow.isoformat()}")
        assert response.status_code == 400
        assert "is in the future" in response.json()["as_of"][0]

    def test_writes_with_a_date_are_refused_and_change_nothing(self, plan, api):
        day = past_day()
        parcel = fresh(plan.a)
        answers = [
            api.patch(f"/api/v1/parcels/{parcel.pk}/?as_of={day}", {"lot_ref": "Lot 7", "version": parcel.version}),
            api.post(f"/api/v1/utility-capacities/?as_of={day}", {"phase": plan.phase.pk, "kind": "water"}),
            api.delete(f"/api/v1/facilities/{plan.block.pk}/?as_of={day}"),
            api.post(f"/api/v1/parcels/{parcel.pk}/merge/?as_of={day}", {}),
        ]

        for answer in answers:
            assert answer.status_code == 400
            assert answer.json()["as_of"] == ["The plan as of a past date is read-only: send changes without as_of."]
        assert (fresh(plan.a).lot_ref, Facility.objects.filter(pk=plan.block.pk).exists()) == ("Lot 2", True)
        assert UtilityCapacity.objects.count() == 1

    def test_endpoints_that_answer_today_only_refuse_a_date(self, plan, api):
        for url in [
            "/api/v1/parcels/export/",
            f"/api/v1/phases/{plan.phase.pk}/schedule/",
            f"/api/v1/phases/{plan.phase.pk}/readiness/",
        ]:
            response = api.get(f"{url}?as_of={past_day()}")
            assert response.status_code == 400, url
            assert "as_of is not available here" in response.json()["as_of"][0]

    def test_the_geojson_the_map_loads_is_of_the_day(self, plan, api):

        data = api.get(f"/api/v1/parcels/geojson/?as_of={past_day()}").json()
        features = {feature["properties"]["code"]: feature for feature in data["features"]}
        assert sorted(features) == ["P-A", "P-B", "R-1"]
        assert features["P-B"]["geometry"] == plan.b_shape
        assert features["P-B"]["properties"]["facility_types"] == ["lab"]
        assert features["P-B"]["properties"]["phase"] == 1
        assert features["P-A"]["properties"]["land_status"] == "not_transferred"
        assert features["P-A"]["properties"]["gfa_m2"] == 10000
        filtered = api.get(f"/api/v1/parcels/geojson/?as_of={past_day()}&phase_number=1").json()
        assert sorted(feature["properties"]["code"] for feature in filtered["features"]) == ["P-A", "P-B"]

    def test_who_may_read_the_past_is_who_may_read_the_list(self, plan):
        day = past_day()
        assert api_client_for(None).get(f"/api/v1/parcels/?as_of={day}").status_code in (401, 403)
        # Partners read the plan's lists (README "API"); the past adds nothing they could not read then.
        partner = UserFactory(username="partner-asof", role=PARTNER)
        assert api_client_for(partner).get(f"/api/v1/parcels/?as_of={day}").status_code == 200
        executive_patch = api_client_for(UserFactory(username="exec-asof", role=EXECUTIVE)).patch(
            f"/api/v1/parcels/{plan.a.pk}/?as_of={day}", {"lot_ref": "x"}
        )
        assert executive_patch.status_code == 403  # a read-only role: refused before the date is looked at

    def test_the_query_count_does_not_grow_with_the_rows(self, plan, api):
        def counts() -> dict[str, int]:
            found = {}
            for name in LISTS:
                url = f"/api/v1/{name}/?as_of={timezone.localdate().isoformat()}"
                api.get(url)
                with CaptureQueriesContext(connection) as captured:
                    assert api.get(url).status_code == 200
                found[name] = len(captured)
            return found

        few = counts()
        phase = PhaseFactory(campus=plan.campus, number=2, target_area_ha=Decimal("1"))
        for index in range(3):
            parcel = ParcelFactory(campus=plan.campus, phase=phase, geometry=grid_square(10 + index))
            FacilityFactory(parcel=parcel, gfa_m2=Decimal("100"))
            first = MilestoneFactory(phase=phase, baseline_start=datetime.date(2027, 3, 1))
            ScheduleDependencyFactory(predecessor=first, successor=ScheduleItemFactory(phase=phase))
        UtilityCapacityFactory(phase=phase)
        assert counts() == few
