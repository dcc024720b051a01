"""Phase readiness: each criterion from both sides, gates, snapshots and fingerprints, staleness, surfaces."""

import datetime
import io
from decimal import Decimal

import kombu.pools
import pytest
from celery.signals import after_task_publish
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from innopole.celery import app as celery_app
from partners import services as partner_services
from planning import readiness, selectors, services
from planning.models import (
    Phase,
    ReadinessCriterionSetting,
    ReadinessPolicy,
    ReadinessSnapshot,
    ReadinessSweep,
    ScheduleItem,
)
from planning.tasks import recompute_phase_readiness
from tests.conftest import api_client_for
from tests.factories import (
    AllocationFactory,
    CommitmentFactory,
    EOIFactory,
    FacilityFactory,
    FacilityTypeFactory,
    MilestoneFactory,
    ParcelFactory,
    PhaseFactory,
    ScheduleItemFactory,
    UtilityCapacityFactory,
    grid_square,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(settings):
    """The phase ids of the recomputes sent to a broker (Celery's in-memory transport), in order, as a list.

    Tasks are not run: as in production, a sent task waits in the queue, so its pending key stays in the cache.
    """
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "sent"}}
    sent: list[int] = []

    def record(sender=None, body=None, headers=None, **kwargs):
        if headers and headers.get("task") == recompute_phase_readiness.name:
            sent.append(body[0][0])

    saved = {"task_always_eager": celery_app.conf.task_always_eager, "broker_url": celery_app.conf.broker_url}
    _reset_producer_pools()
    celery_app.conf.update(task_always_eager=False, broker_url="memory://")
    after_task_publish.connect(record, weak=False)
    yield sent
    after_task_publish.disconnect(record)
    celery_app.conf.update(saved)
    _reset_producer_pools()


def _reset_producer_pools() -> None:
    """Celery caches its connection pools on first use: drop them so the next task uses the broker now configured."""
    kombu.pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


TODAY = datetime.date(2026, 11, 25)


def criterion(phase: Phase, code: str, today=TODAY) -> dict:
    result = readiness.evaluate([phase], today=today)[phase.pk]
    return next(c for c in result.criteria if c["code"] == code)


def texts(found: dict) -> str:
    """The criterion's reasons as a reader sees them (English in tests)."""
    return " | ".join(readiness.render_reason(reason) for reason in found["reasons"])


def phase_starting(start=datetime.date(2027, 1, 15), completion=datetime.date(2029, 12, 31)) -> Phase:
    return PhaseFactory(planned_start=start, planned_completion=completion)


class TestLand:
    def test_handed_over_and_scheduled_before_the_start_pass(self):
        phase = phase_starting()
        ParcelFactory(phase=phase, geometry=grid_square(0), land_status="transferred")
        ParcelFactory(
            phase=phase,
            geometry=grid_square(1),
            land_status="handover_scheduled",
            handover_date=datetime.date(2027, 1, 1),
        )

        found = criterion(phase, "land")

        assert (found["state"], found["score"], found["gate"]) == ("pass", 1.0, True)
        assert "is to be handed over on 1 Jan 2027, before the construction start on 15 Jan 2027" in texts(found)

    def test_land_not_transferred_fails_the_gate_and_blocks_the_phase(self):
        phase = phase_starting()
        ParcelFactory(phase=phase, geometry=grid_square(0), land_status="transferred")
        late = ParcelFactory(phase=phase, geometry=grid_square(1), land_status="not_transferred")

        result = readiness.evaluate([phase], today=TODAY)[phase.pk]
        land = next(c for c in result.criteria if c["code"] == "land")

        assert land["state"] == "fail" and land["score"] == pytest.approx(0.5, abs=0.001)
        assert result.state == "blocked"
        reason = next(r for r in land["reasons"] if r["objects"])
        assert "is not transferred and no handover is scheduled" in readiness.render_reason(reason)
        assert reason["objects"] == [{"type": "parcel", "id": late.pk, "label": late.code}]

    def test_a_handover_after_the_construction_start_does_not_count(self):
        phase = phase_starting()
        # Construction may not start before 1 Mar 2027 (a permit's date), so that is its forecast start.
        MilestoneFactory(
            phase=phase,
            category="construction_start",
            title="",
            baseline_start=datetime.date(2027, 3, 1),
            start_not_before=datetime.date(2027, 3, 1),
        )
        ParcelFactory(phase=phase, land_status="handover_scheduled", handover_date=datetime.date(2027, 4, 1))

        found = criterion(phase, "land")

        assert found["state"] == "fail"
        assert "only on 1 Apr 2027, after the construction start on 1 Mar 2027" in texts(found)

    def test_a_phase_without_parcels_is_not_ready(self):
        found = criterion(phase_starting(), "land")
        assert found["state"] == "fail" and "no parcels" in texts(found)


class TestUtilities:
    def make_phase(self, supply_mva: str, status="committed", available=datetime.date(2026, 12, 31)) -> Phase:
        phase = phase_starting()
        office = FacilityTypeFactory()  # 0.1 kVA/m², 1 m³/day per 1,000 m²
        parcel = ParcelFactory(phase=phase, max_plot_ratio=Decimal("6"))
        FacilityFactory(parcel=parcel, facility_type=office, gfa_m2=Decimal("50000"))  # 5.0 MVA, 50 m³/day
        UtilityCapacityFactory(
            phase=phase, kind="power", capacity=Decimal(supply_mva), status=status, available_from=available
        )
        UtilityCapacityFactory(phase=phase, kind="water", capacity=Decimal("100"), available_from=available)
        return phase

    def test_committed_supply_covering_demand_passes(self):
        found = criterion(self.make_phase("5.0"), "utilities")
        assert found["state"] == "pass"
        assert "Power demand 5.0 MVA is covered by committed supply 5.0 MVA from 31 Dec 2026." in texts(found)

    def test_a_shortfall_names_demand_and_supply(self):
        found = criterion(self.make_phase("4.5"), "utilities")
        assert found["state"] == "at_risk" and found["score"] == pytest.approx(0.9)
        assert "Power demand 5.0 MVA exceeds committed supply 4.5 MVA from 31 Dec 2026." in texts(found)

    def test_planned_supply_and_supply_after_completion_do_not_count(self):
        assert criterion(self.make_phase("9", status="planned"), "utilities")["state"] == "fail"
        late = self.make_phase("9", available=datetime.date(2030, 6, 30))
        assert criterion(late, "utilities")["state"] == "fail"

    def test_edge_computing_demand_is_it_load_times_pue(self):
        phase = phase_starting()
        edge = FacilityTypeFactory(
            code="edge_computing",
            name_en="Edge",
            capacity_unit="MW IT load",
            power_kva_per_m2=None,
            pue=Decimal("1.35"),
            water_m3_day_per_1000m2=None,
        )
        FacilityFactory(
            parcel=ParcelFactory(phase=phase), facility_type=edge, gfa_m2=Decimal("8000"), capacity=Decimal("2")
        )
        UtilityCapacityFactory(phase=phase, kind="power", capacity=Decimal("2.7"))

        demand = readiness.demand_by_phase([phase])[phase.pk]

        assert demand == {"power_mva": Decimal("2.7"), "water_m3_day": Decimal(0)}
        found = criterion(phase, "utilities")
        assert found["state"] == "pass", texts(found)


class TestReasonSelection:
    """The sentence chosen for each situation, by the pure functions the criteria call (table written by hand)."""

    START = datetime.date(2027, 1, 15)

    @pytest.mark.parametrize(
        ("status", "handover", "begins"),
        [
            ("transferred", None, None),
            ("site_ready", datetime.date(2026, 1, 1), None),
            ("handover_scheduled", datetime.date(2027, 1, 15), "Parcel %(code)s (%(area)s m²) is to be handed over on"),
            ("site_formation", datetime.date(2027, 2, 1), "Parcel %(code)s (%(area)s m²) is to be handed over only"),
            ("handover_scheduled", None, "Parcel %(code)s (%(area)s m²) has no handover date yet"),
            ("not_transferred", datetime.date(2026, 12, 1), "Parcel %(code)s (%(area)s m²) is not transferred"),
        ],
    )
    def test_a_parcel_s_sentence(self, status, handover, begins):
        parcel = readiness.ParcelInput(1, "P-1", Decimal("1000"), status, handover)

        template = readiness.criteria.parcel_reason_template(parcel, self.START)

        assert template is None if begins is None else template.startswith(begins)

    @pytest.mark.parametrize(
        ("covered", "firm", "planned", "says"),
        [
            (True, True, False, "is covered by committed supply"),
            (True, True, True, "is covered by committed supply"),
            (False, True, True, "exceeds committed supply %(supply)s %(unit)s from %(date)s. A further"),
            (False, True, False, "exceeds committed supply %(supply)s %(unit)s from %(date)s."),
            (False, False, True, "has no committed supply by completion on %(date)s. %(planned)s"),
            (False, False, False, "has no committed supply by completion on %(date)s."),
        ],
    )
    def test_a_utility_s_sentence(self, covered, firm, planned, says):
        template = readiness.criteria.utility_reason_template(covered=covered, some_firm=firm, some_planned=planned)

        assert template.startswith("%(label)s demand %(demand)s %(unit)s ")
        assert says in template
        # Planned supply is named only when it matters: the demand is not covered and some is planned.
        assert ("planned but not committed" in template) == (planned and not covered)


class TestTypedInputs:
    def test_each_criterion_reports_its_inputs_as_named_figures(self):
        phase = phase_starting()
        parcel = ParcelFactory(phase=phase, land_status="transferred", surveyed_area_m2=Decimal("12000"))
        FacilityFactory(parcel=parcel, gfa_m2=Decimal("10000"))
        UtilityCapacityFactory(phase=phase, kind="power", capacity=Decimal("4.5"), status="committed")

        found = {code: c.evaluate([phase], TODAY)[phase.pk].inputs for code, c in readiness.REGISTRY.items()}

        assert found["land"].site_area_m2 == found["land"].handed_over_m2 == Decimal("12000")
        assert found["land"].parcels[0].code == parcel.code
        assert found["utilities"].power_mva.firm_total == Decimal("4.5")
        assert found["demand"].total_gfa_m2 == Decimal("10000")
        assert found["commitments"].lettable_gfa_m2 == Decimal("10000")
        assert found["milestones"].pre_construction == ()

    def test_a_criterion_whose_inputs_are_not_a_dataclass_is_refused(self, monkeypatch):
        class Loose(readiness.Criterion):
            code = "loose"
            label = "Loose"

            def evaluate(self, phases, today, targets=None):
                return {phase.pk: readiness.Evaluation(1.0, [], {"figures": [1, 2]}) for phase in phases}

        monkeypatch.setitem(readiness.REGISTRY, "loose", Loose())
        phase = PhaseFactory()

        with pytest.raises(TypeError, match="'loose' must return its inputs as a dataclass"):
            readiness.evaluate([phase], today=TODAY)


class TestScheduleCriterion:
    def test_overdue_reads_the_same_in_the_model_the_queryset_and_the_criterion(self):
        today = timezone.localdate()
        phase = PhaseFactory()
        late = MilestoneFactory(
            phase=phase, category="site_handover", baseline_start=today - datetime.timedelta(days=1)
        )
        MilestoneFactory(
            phase=phase,
            category="master_layout_consent",
            baseline_start=today - datetime.timedelta(days=2),
            actual_start=today,
        )
        MilestoneFactory(phase=phase, category="building_plans_approval", baseline_start=today)
        # An activity is judged by its baseline finish: due yesterday and not finished, though under way.
        works = ScheduleItemFactory(
            phase=phase,
            duration_days=10,
            baseline_start=today - datetime.timedelta(days=11),
            actual_start=today - datetime.timedelta(days=11),
        )
        ScheduleItemFactory(phase=phase, duration_days=10, baseline_start=today - datetime.timedelta(days=10))

        items = ScheduleItem.objects.filter(phase=phase)
        plain = {i.pk: i.is_overdue for i in items}
        annotated = {i.pk: i.is_overdue for i in items.with_overdue()}
        queried = set(items.overdue().values_list("pk", flat=True))
        judged = readiness.MilestonesCriterion().evaluate([phase], today)[phase.pk].inputs.overdue

        assert plain == annotated and {pk for pk, overdue in plain.items() if overdue} == queried
        assert queried == {late.pk, works.pk}
        assert set(judged) == {late.pk, works.pk}

    def test_pre_construction_milestones_done_pass(self):
        phase = phase_starting()
        for category in ("site_handover", "master_layout_consent", "building_plans_approval"):
            MilestoneFactory(phase=phase, category=category, title="", baseline_start=datetime.date(2026, 10, 1))
        services.schedule_item_update(
            item=phase.schedule_items.get(category="site_handover"),
            actor=None,
            actual_start=datetime.date(2026, 10, 1),
        )
        for item in phase.schedule_items.exclude(category="site_handover"):
            services.schedule_item_update(item=item, actor=None, actual_start=datetime.date(2026, 10, 2))

        found = criterion(phase, "milestones")

        assert found["state"] == "pass" and "All 3 pre-construction milestones are done." in texts(found)

    def test_an_overdue_milestone_puts_the_criterion_at_risk_at_least(self):
        phase = phase_starting()
        MilestoneFactory(phase=phase, category="site_handover", title="", baseline_start=datetime.date(2026, 10, 1))
        late = MilestoneFactory(
            phase=phase, category="master_layout_consent", title="", baseline_start=datetime.date(2026, 11, 1)
        )
        services.schedule_item_update(
            item=phase.schedule_items.get(category="site_handover"),
            actor=None,
            actual_start=datetime.date(2026, 10, 1),
        )

        found = criterion(phase, "milestones")

        assert found["state"] == "at_risk"
        overdue = found["reasons"][0]
        assert readiness.render_reason(overdue) == "Master layout plan consent was due on 1 Nov 2026 and is not done."
        assert overdue["objects"][0]["id"] == late.pk
        # The same data a month earlier: nothing overdue yet.
        assert "was due" not in texts(criterion(phase, "milestones", today=datetime.date(2026, 10, 15)))


class TestPartnersAndTenants:
    def test_weighted_commitments_against_their_targets(self):
        phase = phase_starting()
        facility = FacilityFactory(parcel=ParcelFactory(phase=phase), gfa_m2=Decimal("10000"))
        assert criterion(phase, "commitments")["state"] == "fail"

        # 6,000 m² at heads of terms (0.5) = 3,000 m² = 30 % of 10,000 lettable; capital 1,000 × 0.5 = 25 % of 2,000.
        services.phase_update(phase=phase, actor=None, capex_hkd_m=Decimal("2000"))
        CommitmentFactory(parcel=facility.parcel, facility=facility, gfa_m2=Decimal("6000"))
        CommitmentFactory(parcel=facility.parcel, kind="capital", gfa_m2=Decimal("0"), amount_hkd_m=Decimal("1000"))

        found = criterion(Phase.objects.get(pk=phase.pk), "commitments")
        assert found["state"] == "pass"
        assert "Pre-commitment 30.0 % of lettable GFA" in texts(found)

    def test_demand_counts_signed_space_and_live_eois_only(self):
        phase = phase_starting()
        facility = FacilityFactory(parcel=ParcelFactory(phase=phase), gfa_m2=Decimal("10000"))
        AllocationFactory(facility=facility, gfa_m2=Decimal("2000"), status="signed")
        AllocationFactory(facility=facility, gfa_m2=Decimal("2000"), status="reserved")
        EOIFactory(preferred_phase=phase, gfa_m2=Decimal("3000"), status="under_review")
        EOIFactory(preferred_phase=phase, gfa_m2=Decimal("9000"), status="declined")

        found = criterion(phase, "demand")

        assert found["score"] == pytest.approx(1.0)  # (2,000 + 3,000) / 10,000 = 50 % = the target
        assert found["state"] == "pass"
        assert "Signed or occupied space 2,000 m² and live expressions of interest 3,000 m²" in texts(found)

    def test_little_demand_fails(self):
        phase = phase_starting()
        facility = FacilityFactory(parcel=ParcelFactory(phase=phase), gfa_m2=Decimal("10000"))
        AllocationFactory(facility=facility, gfa_m2=Decimal("1000"), status="occupied")

        found = criterion(phase, "demand")

        assert found["state"] == "fail" and found["score"] == pytest.approx(0.2)  # 10 % of 10,000 against 50 %
        assert "make 10.0 % of the phase's 10,000 m² GFA; the target is 50 %" in texts(found)


class TestSnapshots:
    def test_same_inputs_store_nothing_new_and_a_change_stores_a_new_snapshot(self):
        parcel = ParcelFactory(land_status="not_transferred")
        phase = parcel.phase
        first = services.readiness_recompute(phase=phase)
        again = services.readiness_recompute(phase=phase)
        assert again.pk == first.pk and ReadinessSnapshot.objects.count() == 1

        services.parcel_update(parcel=parcel, actor=None, land_status="transferred")
        changed = services.readiness_recompute(phase=phase)

        assert changed.pk != first.pk and changed.fingerprint != first.fingerprint
        assert (first.state, changed.state) == ("blocked", "at_risk")
        assert not Phase.objects.get(pk=phase.pk).readiness_stale

    def test_a_change_of_weight_changes_the_fingerprint(self):
        phase = ParcelFactory(land_status="transferred").phase
        first = services.readiness_recompute(phase=phase)
        setting = ReadinessCriterionSetting.objects.get(code="utilities")
        services.readiness_setting_update(setting=setting, actor=None, weight=Decimal("5"))
        assert Phase.objects.get(pk=phase.pk).readiness_stale
        assert services.readiness_recompute(phase=phase).pk != first.pk

    def test_a_land_gate_that_is_no_gate_any_more_no_longer_blocks(self):
        phase = ParcelFactory(land_status="not_transferred").phase
        assert services.readiness_recompute(phase=phase).state == "blocked"
        services.readiness_setting_update(
            setting=ReadinessCriterionSetting.objects.get(code="land"), actor=None, is_gate=False
        )
        assert services.readiness_recompute(phase=phase).state == "at_risk"

    def test_a_changed_target_marks_every_phase_stale_and_the_sweep_stores_the_new_score(self):
        phases = [phase_starting(), phase_starting()]
        for index, phase in enumerate(phases):
            facility = FacilityFactory(
                parcel=ParcelFactory(phase=phase, geometry=grid_square(index)), gfa_m2=Decimal("10000")
            )
            AllocationFactory(facility=facility, gfa_m2=Decimal("1000"), status="occupied")  # 10 % spoken for
        services.readiness_sweep(kind="all")
        before = {phase.pk: selectors.latest_snapshots([phase.pk])[phase.pk] for phase in phases}
        setting = ReadinessCriterionSetting.objects.get(code="demand")

        services.readiness_setting_update(setting=setting, actor=None, targets={"spoken_for_pct": "20"})

        assert Phase.objects.filter(readiness_stale=True).count() == 2  # marked in the same transaction
        assert ReadinessCriterionSetting.objects.get(code="demand").targets == {"spoken_for_pct": "20"}
        services.readiness_sweep(kind="stale")
        for phase in phases:
            after = selectors.latest_snapshots([phase.pk])[phase.pk]
            demand = next(c for c in after.criteria if c["code"] == "demand")
            assert after.pk != before[phase.pk].pk and after.score > before[phase.pk].score
            assert demand["score"] == pytest.approx(0.5)  # 10 % against 20 %, no longer against 50 %
            assert "the target is 20 %" in texts(demand)

    def test_commitment_targets_are_editable_and_default_to_the_criterion_s(self):
        phase = phase_starting()
        facility = FacilityFactory(parcel=ParcelFactory(phase=phase), gfa_m2=Decimal("10000"))
        services.phase_update(phase=phase, actor=None, capex_hkd_m=Decimal("2000"))
        CommitmentFactory(parcel=facility.parcel, kind="capital", gfa_m2=Decimal("0"), amount_hkd_m=Decimal("1000"))
        CommitmentFactory(parcel=facility.parcel, facility=facility, gfa_m2=Decimal("3000"))  # heads of terms: 15 %
        phase = Phase.objects.get(pk=phase.pk)
        assert criterion(phase, "commitments")["score"] == pytest.approx(0.5)  # against the default 30 %

        services.readiness_setting_update(
            setting=ReadinessCriterionSetting.objects.get(code="commitments"),
            actor=None,
            targets={"occupancy_pct": Decimal("15")},
        )

        found = criterion(phase, "commitments")
        assert found["score"] == pytest.approx(1.0) and "the target is 15 %" in texts(found)

    def test_a_policy_change_marks_every_phase_stale_and_stores_a_new_snapshot(self):
        phase = ParcelFactory(land_status="transferred").phase
        first = services.readiness_recompute(phase=phase)
        policy = ReadinessPolicy.current()

        services.readiness_policy_update(policy=policy, actor=None, ready_score=Decimal("0.5"))

        assert Phase.objects.get(pk=phase.pk).readiness_stale
        again = services.readiness_recompute(phase=phase)
        assert again.pk != first.pk and again.fingerprint != first.fingerprint

    def test_a_new_formula_version_stores_a_new_snapshot(self, monkeypatch):
        phase = ParcelFactory(land_status="transferred").phase
        first = services.readiness_recompute(phase=phase)
        assert services.readiness_recompute(phase=phase).pk == first.pk

        # What a deploy that changes the demand formula does: raise the criterion's version.
        monkeypatch.setattr(type(readiness.REGISTRY["demand"]), "version", 2)

        assert services.readiness_recompute(phase=phase).pk != first.pk

    @pytest.mark.parametrize(
        ("targets", "message"),
        [
            ({"occupancy": "30"}, "Criterion commitments has no target occupancy"),
            ({"occupancy_pct": "0"}, "must be a number from 0.1 to 100"),
            ({"capital_pct": "120"}, "must be a number from 0.1 to 100"),
            ({"capital_pct": "many"}, "must be a number from 0.1 to 100"),
            (["30"], "Targets are given by name"),
        ],
    )
    def test_a_bad_target_is_refused_naming_it(self, targets, message):
        setting = ReadinessCriterionSetting.objects.get(code="commitments")
        with pytest.raises(ValidationError) as refused:
            services.readiness_setting_update(setting=setting, actor=None, targets=targets)
        assert message in " ".join(refused.value.message_dict["targets"])
        assert ReadinessCriterionSetting.objects.get(code="commitments").targets == {}

    def test_recompute_queries_do_not_grow_with_the_data(self):
        def make(parcels: int) -> Phase:
            phase = PhaseFactory()
            for index in range(parcels):
                parcel = ParcelFactory(phase=phase, geometry=grid_square(index))
                facility = FacilityFactory(parcel=parcel, gfa_m2=Decimal("1000"))
                MilestoneFactory(phase=phase)
                UtilityCapacityFactory(phase=phase)
                CommitmentFactory(parcel=parcel, facility=facility)
                AllocationFactory(facility=facility, gfa_m2=Decimal("100"), status="signed")
                EOIFactory(preferred_phase=phase, status="submitted")
            return phase

        small, large = make(1), make(6)
        with CaptureQueriesContext(connection) as few:
            services.readiness_recompute(phase=small)
        with CaptureQueriesContext(connection) as many:
            services.readiness_recompute(phase=large)
        assert len(many) == len(few) <= 20, [q["sql"][:80] for q in many.captured_queries]


class TestRegistry:
    def test_registering_a_criterion_twice_is_an_error(self):
        registered = readiness.REGISTRY["demand"]

        with pytest.raises(ImproperlyConfigured, match="'demand' is registered twice"):
            readiness.register(type(registered)())

        assert readiness.REGISTRY["demand"] is registered

    def test_every_app_registered_its_criteria_in_ready(self):
        assert list(readiness.REGISTRY) == ["land", "utilities", "milestones", "commitments", "demand"]


class TestStaleness:
    def test_an_edit_marks_its_phase_stale_in_the_same_transaction(self, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):  # as if the setup had committed and caught up
            parcel = ParcelFactory()
        assert not Phase.objects.get(pk=parcel.phase_id).readiness_stale

        with django_capture_on_commit_callbacks(execute=False) as queued:
            services.parcel_update(parcel=parcel, actor=None, land_status="transferred")
            assert Phase.objects.get(pk=parcel.phase_id).readiness_stale

        # One recompute queued on commit (beside it, the cached figures' generation moves on: core.freshness).
        recomputes = [callback for callback in queued if getattr(callback, "func", None) is services._enqueue]
        assert len(recomputes) == 1

    def test_a_rolled_back_edit_leaves_nothing_stale(self):
        parcel = ParcelFactory()
        services.readiness_recompute(phase=parcel.phase)

        with pytest.raises(RuntimeError), transaction.atomic():
            services.parcel_update(parcel=parcel, actor=None, land_status="transferred")
            raise RuntimeError("the request failed after the edit")

        phase = Phase.objects.get(pk=parcel.phase_id)
        assert not phase.readiness_stale and phase.readiness_stale_since is None

    def test_many_edits_in_one_transaction_send_one_recompute_per_phase(
        self, django_capture_on_commit_callbacks, published
    ):
        with django_capture_on_commit_callbacks(execute=True):
            parcel, other = ParcelFactory(), ParcelFactory()
        published.clear()
        cache.clear()  # as if the worker had started those tasks
        with django_capture_on_commit_callbacks(execute=True):
            for gfa in ("1000", "2000", "3000"):
                FacilityFactory(parcel=parcel, gfa_m2=Decimal(gfa))
            FacilityFactory(parcel=other)

        assert sorted(published) == sorted([parcel.phase_id, other.phase_id])

    def test_a_phase_marked_again_in_a_later_transaction_is_not_sent_twice_until_its_task_starts(
        self, django_capture_on_commit_callbacks, published
    ):
        with django_capture_on_commit_callbacks(execute=True):
            parcel = ParcelFactory()
        assert published == [parcel.phase_id]

        # A second and third transaction while the first task waits in the queue: the pending key coalesces.
        for status in ("handover_scheduled", "transferred"):
            with django_capture_on_commit_callbacks(execute=True):
                services.parcel_update(parcel=parcel, actor=None, land_status=status)
        assert published == [parcel.phase_id]

        # The worker starts the task: a change after that needs a recompute of its own.
        services.readiness_unqueue(phase_id=parcel.phase_id)
        with django_capture_on_commit_callbacks(execute=True):
            services.parcel_update(parcel=parcel, actor=None, land_status="site_ready")
        assert published == [parcel.phase_id, parcel.phase_id]

    def test_a_rolled_back_savepoint_sends_nothing_for_its_phases(self, django_capture_on_commit_callbacks, published):
        with django_capture_on_commit_callbacks(execute=True):
            kept, undone = ParcelFactory(), ParcelFactory()
        published.clear()
        cache.clear()  # as if the worker had started those tasks

        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            with pytest.raises(RuntimeError), transaction.atomic():
                services.parcel_update(parcel=undone, actor=None, land_status="transferred")
                raise RuntimeError("this part of the request failed")
            services.parcel_update(parcel=kept, actor=None, land_status="transferred")

        assert published == [kept.phase_id]

    def test_partner_and_tenant_changes_mark_the_phase_stale(self):
        facility = FacilityFactory()
        phase = facility.parcel.phase
        services.readiness_recompute(phase=phase)

        CommitmentFactory(parcel=facility.parcel)
        assert Phase.objects.get(pk=phase.pk).readiness_stale
        services.readiness_recompute(phase=phase)

        AllocationFactory(facility=facility, gfa_m2=Decimal("10"))
        assert Phase.objects.get(pk=phase.pk).readiness_stale
        services.readiness_recompute(phase=phase)

        eoi = EOIFactory(preferred_phase=phase)
        partner_services.eoi_transition(eoi=eoi, actor=None, transition="submit")
        assert Phase.objects.get(pk=phase.pk).readiness_stale

    def test_the_sweep_recomputes_stale_phases_and_records_when(self):
        stale = ParcelFactory().phase
        fresh = ParcelFactory().phase
        services.readiness_recompute(phase=fresh)

        assert services.readiness_sweep(kind="stale") == 1
        assert not Phase.objects.get(pk=stale.pk).readiness_stale
        assert ReadinessSweep.objects.get(kind="stale").phases == 1


class TestDemo:
    """The demo campus, as a planner would read it (every reason checked by hand against the demo data)."""

    def test_phase_one_is_at_risk_for_the_power_shortfall(self, demo):
        phase = Phase.objects.get(number=1)
        result = readiness.evaluate([phase], today=TODAY)[phase.pk]
        by_code = {c["code"]: c for c in result.criteria}

        assert result.state == "at_risk"
        assert by_code["land"]["state"] == "pass"
        assert texts(by_code["land"]).startswith(
            "25,000 of 25,000 m² will be available by the construction start on 15 Jan 2027 (17,000 m² handed over"
        )
        # 47,000 m² office × 0.1 + 30,000 housing × 0.06 + 4,000 retail × 0.15 + 15,000 LAE hub × 0.3
        # + 3,000 energy centre × 0.02 kVA/m² + 2 MW IT × 1.35 PUE = 14.36 MVA.
        assert by_code["utilities"]["state"] == "at_risk"
        assert "Power demand 14.4 MVA exceeds committed supply 12.0 MVA from 31 Dec 2026." in texts(
            by_code["utilities"]
        )
        assert "Water demand 275.1 m³/day is covered by committed supply 900.0 m³/day" in texts(by_code["utilities"])
        # Not before 15 Dec 2026 in the demo, and nothing before it is late: forecast on that day.
        assert "Master layout plan consent is forecast for 15 Dec 2026." in texts(by_code["milestones"])
        assert "Pre-commitment 8.1 % of lettable GFA (8,400 of 104,000 m²" in texts(by_code["commitments"])

    def test_later_phases_are_held_up_by_land(self, demo):
        phases = {p.number: p for p in Phase.objects.all()}
        results = readiness.evaluate(phases.values(), today=TODAY)
        assert results[phases[3].pk].state == results[phases[4].pk].state == "blocked"
        land = next(c for c in results[phases[3].pk].criteria if c["code"] == "land")
        assert "Parcel P3-A (15,000 m²) is not transferred and no handover is scheduled" in texts(land)
        assert results[phases[2].pk].state == "at_risk"

    def test_raising_phase_one_power_changes_its_readiness(self, demo):
        phase = Phase.objects.get(number=1)
        before = services.readiness_recompute(phase=phase, today=TODAY)
        power = phase.utilities.get(kind="power")
        services.utility_capacity_update(utility=power, actor=None, capacity=Decimal("15"))
        after = services.readiness_recompute(phase=phase, today=TODAY)
        utilities = next(c for c in after.criteria if c["code"] == "utilities")
        assert utilities["state"] == "pass" and after.score > before.score


class TestSurfaces:
    def test_api_readiness_and_history(self, planner):
        parcel = ParcelFactory(land_status="not_transferred")
        client = api_client_for(planner)
        empty = client.get(f"/api/v1/phases/{parcel.phase_id}/readiness/").json()
        assert empty["snapshot"] is None and empty["stale"] is True

        services.readiness_recompute(phase=parcel.phase)
        services.parcel_update(parcel=parcel, actor=None, land_status="transferred")
        services.readiness_recompute(phase=parcel.phase)
        services.parcel_update(parcel=parcel, actor=None, lot_ref="Lot 9")  # no readiness input changed…

        current = client.get(f"/api/v1/phases/{parcel.phase_id}/readiness/").json()
        history = client.get(f"/api/v1/phases/{parcel.phase_id}/readiness/history/").json()

        assert current["stale"] is True  # …but a recompute is due all the same
        assert current["snapshot"]["state"] == "at_risk"
        assert {c["code"] for c in current["snapshot"]["criteria"]} == {
            "land",
            "utilities",
            "milestones",
            "commitments",
            "demand",
        }
        assert [h["state"] for h in history["results"]] == ["at_risk", "blocked"]

    def test_reasons_read_in_the_reader_s_language(self, planner):
        phase = ParcelFactory(land_status="not_transferred").phase
        MilestoneFactory(
            phase=phase,
            category="site_handover",
            title="",
            baseline_start=datetime.date(2026, 12, 18),
            start_not_before=datetime.date(2026, 12, 18),
        )
        services.readiness_recompute(phase=phase)  # computed once, as a worker would, in English
        client = api_client_for(planner)

        english = client.get(f"/api/v1/phases/{phase.pk}/readiness/").json()["snapshot"]["criteria"]
        chinese = client.get(f"/api/v1/phases/{phase.pk}/readiness/", HTTP_ACCEPT_LANGUAGE="zh-hant").json()[
            "snapshot"
        ]["criteria"]

        def text(criteria, code):
            return " | ".join(r["text"] for c in criteria if c["code"] == code for r in c["reasons"])

        assert "Site handover is forecast for 18 Dec 2026." in text(english, "milestones")
        assert "2026年12月18日" in text(chinese, "milestones") and "Site handover" not in text(chinese, "milestones")
        assert chinese[0]["code"] == english[0]["code"] and chinese[0]["label"] != english[0]["label"]

    def test_phase_list_shows_readiness_without_extra_queries(self, client, planner):
        client.force_login(planner)
        phase = ParcelFactory().phase
        services.readiness_recompute(phase=phase)
        content = client.get("/plan/").content.decode()
        assert "Blocked" in content

    def test_management_command(self):
        ParcelFactory()
        out = io.StringIO()
        call_command("recompute_readiness", "--all", stdout=out)
        assert "1/1 phases" in out.getvalue() and "Recomputed 1 phase(s)." in out.getvalue()
        assert ReadinessSnapshot.objects.count() == 1

    def test_healthz_reports_the_last_sweep(self, client):
        ParcelFactory()
        assert client.get("/healthz").json()["last_readiness_sweep"] is None
        services.readiness_sweep(kind="stale")
        body = client.get("/healthz").json()["last_readiness_sweep"]
        assert body["kind"] == "stale" and body["stale_phases"] == 0
