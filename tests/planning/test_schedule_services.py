"""The schedule through its services: items and dependencies created, changed and deleted, the schedule recomputed
in the same transaction, the refusals (cycles named in order, links across phases, stale versions), the history
(reasons), the daily refresh, and what readiness reads from the forecast. (The demo's slipping phase 2 is read in
tests/planning/test_seed.py, where the demo is loaded anyway.)

The hand-made phases start in 2040, so "today" (the forward pass never forecasts before it) does not move their
dates; each test's expected dates are worked out by hand in its comments (the date convention of
`planning.schedule`: finish = start + duration, successor start = predecessor finish + lag).
"""

import datetime
import itertools
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format

from core.services import ConflictError
from planning import readiness, services
from planning.models import Phase, ScheduleDependency, ScheduleItem
from tests.factories import (
    FacilityFactory,
    MilestoneFactory,
    ParcelFactory,
    PhaseFactory,
    ScheduleDependencyFactory,
    ScheduleItemFactory,
)

pytestmark = pytest.mark.django_db

P = datetime.date(2040, 1, 2)  # the hand-made phases' start


def day(n: int) -> datetime.date:
    return P + datetime.timedelta(days=n)


def phase_of(target_days: int = 365, **fields) -> Phase:
    return PhaseFactory(planned_start=P, planned_completion=day(target_days), **fields)


def activity(phase: Phase, title: str, days: int, baseline: int = 0, **fields) -> ScheduleItem:
    return ScheduleItemFactory(phase=phase, title=title, duration_days=days, baseline_start=day(baseline), **fields)


def milestone(phase: Phase, title: str = "", baseline: int = 0, **fields) -> ScheduleItem:
    return MilestoneFactory(phase=phase, title=title, baseline_start=day(baseline), **fields)


def link(predecessor: ScheduleItem, successor: ScheduleItem, lag_days: int = 0) -> ScheduleDependency:
    return ScheduleDependencyFactory(predecessor=predecessor, successor=successor, lag_days=lag_days)


def forecast(*items: ScheduleItem) -> list[tuple[datetime.date, datetime.date]]:
    """The stored forecast (start, finish) of each item, read again from the database."""
    stored = {i.pk: i for i in ScheduleItem.objects.filter(pk__in=[item.pk for item in items])}
    return [(stored[item.pk].forecast_start, stored[item.pk].forecast_finish) for item in items]


def chain(phase: Phase) -> list[ScheduleItem]:
    """A(10) → B(5) → C(5) → D (a milestone), lag 0: A 0–10, B 10–15, C 15–20, D 20."""
    a = activity(phase, "A", 10)
    b = activity(phase, "B", 5, baseline=10)
    c = activity(phase, "C", 5, baseline=15)
    d = milestone(phase, "D", baseline=20)
    for predecessor, successor in ((a, b), (b, c), (c, d)):
        link(predecessor, successor)
    return [a, b, c, d]


# --- items and dependencies -------------------------------------------------------------------------------------


class TestWrites:
    def test_a_dependency_schedules_its_successor_at_once_with_the_lag(self, planner):
        phase = phase_of()
        a = activity(phase, "Survey", 10)
        b = activity(phase, "Design", 5)
        assert forecast(b) == [(day(0), day(5))]  # nothing holds it back yet

        created = services.schedule_dependency_create(actor=planner, predecessor=a, successor=b, lag_days=3)

        # A 0–10; B waits for A's finish + 3 days: 13–18, and A is what drives it.
        assert forecast(a, b) == [(day(0), day(10)), (day(13), day(18))]
        b.refresh_from_db()
        assert b.driving_predecessor_id == a.pk
        assert created.history.get().history_user == planner
        assert Phase.objects.get(pk=phase.pk).readiness_stale

    def test_a_longer_predecessor_moves_three_successors_in_the_same_transaction(self, planner):
        phase = phase_of()
        a, b, c, d = chain(phase)
        assert forecast(b, c, d) == [(day(10), day(15)), (day(15), day(20)), (day(20), day(20))]

        with pytest.raises(RuntimeError), transaction.atomic():
            services.schedule_item_update(item=a, actor=planner, duration_days=20)
            # Inside the edit's transaction: A 0–20, B 20–25, C 25–30, D 30.
            assert forecast(b, c, d) == [(day(20), day(25)), (day(25), day(30)), (day(30), day(30))]
            raise RuntimeError("the request fails after the edit")

        # Rolled back with the edit: the forecast is the edit's own, not a later job's.
        assert forecast(b, c, d) == [(day(10), day(15)), (day(15), day(20)), (day(20), day(20))]
        services.schedule_item_update(item=a, actor=planner, duration_days=20)
        assert forecast(d) == [(day(30), day(30))]

    def test_a_later_not_before_date_moves_the_item_and_its_successors(self, planner):
        phase = phase_of()
        _a, b, c, d = chain(phase)

        services.schedule_item_update(item=b, actor=planner, start_not_before=day(40))

        # B may not start before day 40 (A finishes on day 10): B 40–45, C 45–50, D 50; B is held by its own date.
        assert forecast(b, c, d) == [(day(40), day(45)), (day(45), day(50)), (day(50), day(50))]
        b.refresh_from_db()
        assert b.driving_predecessor_id is None and b.slip_days == 30  # baseline finish day 15

    def test_a_lag_changed_or_a_dependency_deleted_reschedules(self, planner):
        phase = phase_of()
        a, b, c, _d = chain(phase)
        middle = ScheduleDependency.objects.get(predecessor=b, successor=c)

        services.schedule_dependency_update(link=middle, actor=planner, lag_days=-2)
        # C may start 2 days before B finishes: B 10–15, C 13–18.
        assert forecast(c) == [(day(13), day(18))]

        services.schedule_dependency_delete(link=middle, actor=planner, reason="C no longer waits for B")
        # Nothing holds C back any more: it starts with the phase.
        assert forecast(c) == [(day(0), day(5))]
        gone = ScheduleDependency.history.filter(id=middle.pk, history_type="-").get()
        assert (gone.history_user, gone.history_change_reason) == (planner, "C no longer waits for B")
        assert forecast(a) == [(day(0), day(10))]

    def test_deleting_an_item_deletes_its_dependencies_with_history_and_reschedules_the_rest(self, planner):
        phase = phase_of()
        survey = activity(phase, "Survey", 10)
        permit = activity(phase, "Permit", 20)
        works = activity(phase, "Works", 5, baseline=20)
        first, second = link(survey, works), link(permit, works)
        assert forecast(works) == [(day(20), day(25))]  # driven by Permit (finishes day 20)

        services.schedule_item_delete(item=permit, actor=planner, reason="Permit waived")

        assert not ScheduleItem.objects.filter(pk=permit.pk).exists()
        assert list(ScheduleDependency.objects.all()) == [first]
        for model, pk in ((ScheduleItem, permit.pk), (ScheduleDependency, second.pk)):
            deleted = model.history.filter(id=pk, history_type="-").get()
            assert (deleted.history_user, deleted.history_change_reason) == (planner, "Permit waived")
        # Works now waits for Survey only: 10–15, driven by it.
        assert forecast(works) == [(day(10), day(15))]
        assert ScheduleItem.objects.get(pk=works.pk).driving_predecessor_id == survey.pk

    def test_a_deleted_item_s_links_say_why_when_no_reason_is_given(self, planner):
        phase = phase_of()
        permit, works = activity(phase, "Permit", 20), activity(phase, "Works", 5)
        joined = link(permit, works)

        services.schedule_item_delete(item=permit, actor=planner)

        assert ScheduleDependency.history.get(id=joined.pk, history_type="-").history_change_reason == "Permit deleted"


class TestRefusals:
    def test_a_dependency_closing_a_cycle_is_refused_naming_it_in_order(self, planner):
        phase = phase_of()
        a, b, c = activity(phase, "A", 10), activity(phase, "B", 5), activity(phase, "C", 5)
        link(b, c)
        link(c, a)
        before = forecast(a, b, c)

        with pytest.raises(ValidationError) as refused:
            services.schedule_dependency_create(actor=planner, predecessor=a, successor=b)

        assert refused.value.message_dict == {
            "predecessor": [
                "This dependency would close a cycle: A → B → C → A (each must finish before the next starts)."
            ]
        }
        assert ScheduleDependency.objects.count() == 2 and ScheduleDependency.history.count() == 2
        assert forecast(a, b, c) == before

    def test_a_changed_dependency_that_would_close_a_cycle_is_refused_too(self, planner):
        phase = phase_of()
        a, b, c = activity(phase, "A", 10), activity(phase, "B", 5), activity(phase, "C", 5)
        link(a, b)
        link(b, c)
        spare = link(a, c)  # turned round (C before A), it would close A → B → C → A

        with pytest.raises(ValidationError) as refused:
            services.schedule_dependency_update(link=spare, actor=planner, predecessor=c, successor=a)

        assert "would close a cycle: C → A → B → C" in " ".join(refused.value.message_dict["predecessor"])
        spare.refresh_from_db()
        assert (spare.predecessor_id, spare.successor_id, spare.version) == (a.pk, c.pk, 1)

    def test_a_dependency_across_phases_is_refused(self, planner):
        phase = phase_of(name_en="Phase 7")
        other = PhaseFactory(campus=phase.campus, name_en="Phase 8", planned_start=P, planned_completion=day(365))
        handover = milestone(phase, category="site_handover")
        piling = activity(other, "Piling", 30)

        with pytest.raises(ValidationError) as refused:
            services.schedule_dependency_create(actor=planner, predecessor=handover, successor=piling)

        [message] = refused.value.message_dict["predecessor"]
        assert message.startswith("Site handover is in Phase 7 and Piling in Phase 8: a dependency links items of one")
        assert "give Piling a 'start not before' date instead" in message
        assert not ScheduleDependency.objects.exists()

    def test_an_item_stays_in_its_phase(self, planner):
        phase = phase_of()
        other = PhaseFactory(campus=phase.campus, planned_start=P, planned_completion=day(365))
        item = activity(phase, "Survey", 10)

        with pytest.raises(ValidationError) as refused:
            services.schedule_item_update(item=item, actor=planner, phase=other, duration_days=12)

        assert "stays in its phase" in " ".join(refused.value.message_dict["phase"])
        item.refresh_from_db()
        assert (item.phase_id, item.duration_days, item.version) == (phase.pk, 10, 1)

    def test_an_edit_based_on_a_stale_version_is_refused(self, planner, executive):
        phase = phase_of()
        _a, b, c, _d = chain(phase)
        services.schedule_item_update(item=b, actor=executive, expected_version=1, duration_days=8)

        with pytest.raises(ConflictError) as refused:
            services.schedule_item_update(item=b, actor=planner, expected_version=1, duration_days=2)

        assert (refused.value.expected_version, refused.value.current_version) == (1, 2)
        assert refused.value.changed_by == "executive-t"  # says who changed it since
        b.refresh_from_db()
        assert b.duration_days == 8 and forecast(c) == [(day(18), day(23))]  # B 10–18, C after it

    def test_a_facility_of_another_phase_is_refused_on_its_field(self, planner):
        phase = phase_of()
        elsewhere = FacilityFactory()  # on a parcel of another phase

        with pytest.raises(ValidationError) as refused:
            services.schedule_item_create(
                actor=planner,
                phase=phase,
                kind="activity",
                category="construction",
                duration_days=300,
                facility=elsewhere,
            )

        assert "which is not in" in " ".join(refused.value.message_dict["facility"])
        assert not ScheduleItem.objects.exists()

    @pytest.mark.parametrize(
        ("fields", "says"),
        [
            ({"kind": "activity", "category": "other", "title": "", "duration_days": 5}, "needs a title"),
            ({"kind": "milestone", "category": "site_handover", "duration_days": 5}, "A milestone lasts 0 days"),
            ({"kind": "activity", "category": "construction", "duration_days": 0}, "an activity at least 1 day"),
            ({"kind": "milestone", "category": "construction", "duration_days": 0}, "belongs to the other kind"),
        ],
    )
    def test_an_item_that_breaks_the_model_s_rules_is_refused(self, planner, fields, says):
        with pytest.raises(ValidationError) as refused:
            services.schedule_item_create(actor=planner, phase=phase_of(), **fields)
        assert says in " ".join(refused.value.messages)
        assert not ScheduleItem.objects.exists()


class TestDatesAndHistory:
    def test_a_milestone_s_one_actual_date_sets_both(self, planner):
        today = timezone.localdate()
        phase = phase_of()
        handover = milestone(phase, category="site_handover")
        consent = milestone(phase, category="master_layout_consent")

        services.schedule_item_update(item=handover, actor=planner, actual_start=today)
        services.schedule_item_update(item=consent, actor=planner, actual_finish=today)

        for item in (handover, consent):
            item.refresh_from_db()
            assert item.actual_start == item.actual_finish == today
            assert item.forecast_start == item.forecast_finish == today  # done: the fact wins over the plan

    def test_a_milestone_s_two_dates_must_agree(self, planner):
        handover = milestone(phase_of(), category="site_handover")
        yesterday = timezone.localdate() - datetime.timedelta(days=1)

        with pytest.raises(ValidationError) as refused:
            services.schedule_item_update(
                item=handover,
                actor=planner,
                actual_start=yesterday - datetime.timedelta(days=1),
                actual_finish=yesterday,
            )

        assert refused.value.message_dict == {"actual_finish": ["A milestone's actual finish is its actual start."]}

    def test_baselines_given_by_their_start(self, planner):
        phase = phase_of()
        works = services.schedule_item_create(
            actor=planner,
            phase=phase,
            kind="activity",
            category="construction",
            duration_days=90,
            baseline_start=day(10),
        )
        permit = services.schedule_item_create(
            actor=planner, phase=phase, kind="milestone", category="occupation_permit", baseline_start=day(100)
        )

        assert (works.baseline_start, works.baseline_finish) == (day(10), day(100))  # + 90 days
        assert (permit.baseline_start, permit.baseline_finish) == (day(100), day(100))

    def test_the_reason_is_kept_as_the_history_row_s_change_reason(self, planner):
        phase = phase_of()
        works = activity(phase, "Works", 30)

        services.schedule_item_update(
            item=works, actor=planner, start_not_before=day(60), reason="Lands Department moved the handover"
        )

        latest = works.history.first()
        assert (latest.history_type, latest.history_user) == ("~", planner)
        assert latest.history_change_reason == "Lands Department moved the handover"
        assert latest.start_not_before == day(60)
        assert works.history.count() == 2  # the engine's results are not edits: no row for the recompute

    def test_the_responsible_party_is_saved_and_kept_in_the_history_without_moving_the_schedule(self, planner):
        phase = phase_of()
        handover = services.schedule_item_create(
            actor=planner,
            phase=phase,
            kind="milestone",
            category="site_handover",
            baseline_start=day(0),
            responsible="Lands Department",
        )
        before = forecast(handover)

        services.schedule_item_update(
            item=handover, actor=planner, responsible="Lands Department, Lands Administration"
        )

        handover.refresh_from_db()
        assert handover.responsible == "Lands Department, Lands Administration"
        assert [(row.history_type, row.responsible) for row in handover.history.order_by("history_id")] == [
            ("+", "Lands Department"),
            ("~", "Lands Department, Lands Administration"),
        ]
        assert forecast(handover) == before

    def test_a_responsible_party_over_200_characters_is_refused_on_its_field(self, planner):
        works = activity(phase_of(), "Works", 30, responsible="HKSTP Capital Projects")

        with pytest.raises(ValidationError) as refused:
            services.schedule_item_update(item=works, actor=planner, responsible="x" * 201)

        assert refused.value.message_dict == {
            "responsible": ["Ensure this value has at most 200 characters (it has 201)."]
        }
        works.refresh_from_db()
        assert (works.responsible, works.version, works.history.count()) == ("HKSTP Capital Projects", 1, 1)

    def test_the_phase_s_target_moves_the_floats_and_the_critical_path(self, planner):
        # A(10) → B(5), and C(3) on its own; target day 15: A and B have no float, C has 12.
        phase = phase_of(target_days=15)
        a, b, c = activity(phase, "A", 10), activity(phase, "B", 5), activity(phase, "C", 3)
        link(a, b)

        def floats():
            stored = {i.pk: i for i in ScheduleItem.objects.filter(phase=phase)}
            return [(stored[i.pk].total_float_days, stored[i.pk].critical) for i in (a, b, c)]

        assert floats() == [(0, True), (0, True), (12, False)]

        # Target day 20: 5 days to spare on A → B, so nothing is critical (the least float is not ≤ 0).
        services.phase_update(phase=phase, actor=planner, planned_completion=day(20))
        assert floats() == [(5, False), (5, False), (17, False)]

        # Target day 12: A → B finishes 3 days late (float −3), and is the critical path again.
        services.phase_update(phase=Phase.objects.get(pk=phase.pk), actor=planner, planned_completion=day(12))
        assert floats() == [(-3, True), (-3, True), (9, False)]


class TestRefresh:
    def test_the_schedule_is_recomputed_only_on_a_new_day(self, planner):
        phase = phase_of()
        works = activity(phase, "Works", 30)
        today = timezone.localdate()
        assert ScheduleItem.objects.get(pk=works.pk).scheduled_on == today

        assert services.schedule_refresh(phase=phase) is False  # already computed today

        # The nightly job on a later day: work not done cannot be forecast before it.
        later = day(45)
        assert services.schedule_refresh(phase=phase, today=later) is True
        stored = ScheduleItem.objects.get(pk=works.pk)
        assert (stored.forecast_start, stored.forecast_finish, stored.scheduled_on) == (later, day(75), later)
        assert services.schedule_refresh(phase=phase, today=later) is False

    def test_rows_never_computed_are_computed(self, planner):
        phase = phase_of()
        works = activity(phase, "Works", 30)
        ScheduleItem.objects.filter(pk=works.pk).update(forecast_start=None, forecast_finish=None, scheduled_on=None)

        assert services.schedule_refresh(phase=phase) is True
        assert forecast(works) == [(day(0), day(30))]


# --- readiness --------------------------------------------------------------------------------------------------


def schedule_reasons(phase: Phase, today: datetime.date | None = None) -> tuple[dict, list[str]]:
    result = readiness.evaluate([phase], today=today)[phase.pk]
    found = next(c for c in result.criteria if c["code"] == "milestones")
    return found, [readiness.render_reason(reason) for reason in found["reasons"]]


class TestReadiness:
    def slipping_phase(self) -> dict[str, ScheduleItem]:
        """Handover → design (60) → building plans approval → construction start (lag 5) → construction (100) →
        occupation permit. Baseline: handover day 0, design 0–60, approval 60, start 65, construction 65–165,
        permit 165 = the target (15 Jun 2040)."""
        phase = phase_of(target_days=165)
        items = {
            "handover": milestone(phase, category="site_handover"),
            "design": ScheduleItemFactory(
                phase=phase, category="design", title="", duration_days=60, baseline_start=day(0)
            ),
            "approval": milestone(phase, category="building_plans_approval", baseline=60),
            "start": milestone(phase, category="construction_start", baseline=65),
            "construction": ScheduleItemFactory(
                phase=phase, category="construction", title="", duration_days=100, baseline_start=day(65)
            ),
            "permit": milestone(phase, category="occupation_permit", baseline=165),
        }
        order = ["handover", "design", "approval", "start", "construction", "permit"]
        for before, after in itertools.pairwise(order):
            link(items[before], items[after], lag_days=5 if after == "start" else 0)
        return items

    def test_the_reason_names_the_slip_and_what_drives_it(self, planner):
        items = self.slipping_phase()
        phase = items["permit"].phase
        found, texts = schedule_reasons(phase)
        assert found["state"] == "fail"  # nothing done yet, but the schedule meets its target:
        assert "The schedule finishes on 15 Jun 2040, on or before the target of 15 Jun 2040." in texts

        # The site is handed over 30 days late: handover day 30, design 30–90, approval 90, start 95,
        # construction 95–195, permit day 195 = 15 Jul 2040, 30 days after the target.
        services.schedule_item_update(item=items["handover"], actor=planner, start_not_before=day(30))

        found, texts = schedule_reasons(Phase.objects.get(pk=phase.pk))
        assert texts[0] == "Occupation permit forecast 15 Jul 2040, 30 days after the target, driven by Site handover."
        assert [o["id"] for o in found["reasons"][0]["objects"]] == [items["permit"].pk, items["handover"].pk]

        # On time again, but the design takes 90 days: design 0–90, approval 90, … permit 195 again, and the
        # design (90 against its baseline finish of day 60) is now the first slipping item on the driving chain.
        services.schedule_item_update(item=items["handover"], actor=planner, start_not_before=None)
        services.schedule_item_update(item=items["design"], actor=planner, duration_days=90)

        found, texts = schedule_reasons(Phase.objects.get(pk=phase.pk))
        assert texts[0] == "Occupation permit forecast 15 Jul 2040, 30 days after the target, driven by Design."

    def test_a_late_finish_without_a_slipping_cause_names_only_the_date(self, planner):
        # Everything on its baseline, but the baseline itself ends 10 days after the target (day 30 against 20).
        phase = phase_of(target_days=20)
        works = activity(phase, "Works", 30)

        found, texts = schedule_reasons(phase)

        assert "Works forecast 1 Feb 2040, 10 days after the target." in texts
        assert found["reasons"][0]["objects"][0]["id"] == works.pk

    def test_an_overdue_item_puts_an_otherwise_passing_schedule_at_risk(self, planner):
        today = timezone.localdate()
        phase = PhaseFactory(
            planned_start=today - datetime.timedelta(days=100), planned_completion=today + datetime.timedelta(days=365)
        )
        for category in ("site_handover", "master_layout_consent", "building_plans_approval"):
            MilestoneFactory(
                phase=phase, category=category, title="", baseline_start=today - datetime.timedelta(days=90)
            )
        for item in phase.schedule_items.all():
            services.schedule_item_update(item=item, actor=planner, actual_start=today - datetime.timedelta(days=80))
        # Due 20 days ago (baseline 100 days ago + 80 days), under way but not finished.
        late = ScheduleItemFactory(
            phase=phase,
            title="Site formation works",
            duration_days=80,
            baseline_start=today - datetime.timedelta(days=100),
            actual_start=today - datetime.timedelta(days=100),
        )

        found, texts = schedule_reasons(phase)

        assert found["score"] == 1.0 and found["state"] == "at_risk"
        due = date_format(today - datetime.timedelta(days=20))
        assert f"Site formation works was due on {due} and is not done." in texts

        services.schedule_item_update(item=late, actor=planner, actual_finish=today)
        found, texts = schedule_reasons(Phase.objects.get(pk=phase.pk))
        assert found["state"] == "pass" and "All 3 pre-construction milestones are done." in texts

    @pytest.mark.parametrize(
        ("baseline_start", "approval_not_before", "state", "says"),
        [
            # Approval on 1 Mar 2040, so construction is forecast to start then, before its 1 Jun baseline: the
            # parcel handed over on 1 Apr comes too late, though it is in time for the baseline.
            (
                datetime.date(2040, 6, 1),
                datetime.date(2040, 3, 1),
                "fail",
                "only on 1 Apr 2040, after the construction start on 1 Mar 2040",
            ),
            # And the other way round: the baseline start (1 Mar) is before the handover, the forecast (1 May)
            # after it.
            (
                datetime.date(2040, 3, 1),
                datetime.date(2040, 5, 1),
                "pass",
                "is to be handed over on 1 Apr 2040, before the construction start on 1 May 2040",
            ),
        ],
    )
    def test_the_land_gate_compares_the_handover_with_the_forecast_construction_start(
        self, planner, baseline_start, approval_not_before, state, says
    ):
        phase = phase_of()
        ParcelFactory(phase=phase, land_status="handover_scheduled", handover_date=datetime.date(2040, 4, 1))
        approval = milestone(phase, category="building_plans_approval", start_not_before=approval_not_before)
        start = MilestoneFactory(phase=phase, category="construction_start", title="", baseline_start=baseline_start)
        link(approval, start)
        assert ScheduleItem.objects.get(pk=start.pk).forecast_start == approval_not_before

        result = readiness.evaluate([Phase.objects.get(pk=phase.pk)])[phase.pk]
        land = next(c for c in result.criteria if c["code"] == "land")

        assert land["state"] == state
        assert says in " | ".join(readiness.render_reason(reason) for reason in land["reasons"])


def test_an_activity_may_name_the_facility_it_delivers_in_its_phase(planner):
    facility = FacilityFactory(gfa_m2=Decimal("5000"))
    item = services.schedule_item_create(
        actor=planner,
        phase=facility.parcel.phase,
        kind="activity",
        category="construction",
        duration_days=400,
        facility=facility,
    )
    assert list(facility.schedule_items.all()) == [item]
