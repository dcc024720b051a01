"""seed_demo: the demo campus as DESIGN and data/README describe it, loaded idempotently."""

import io
import json
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from planning import readiness, selectors
from planning.models import (
    Campus,
    Facility,
    Parcel,
    Phase,
    ScheduleDependency,
    ScheduleItem,
    UtilityCapacity,
)

pytestmark = pytest.mark.django_db


class TestTheLoadedDemo:
    """What seed_demo loads, read only: the demo is loaded once for the class."""

    @pytest.fixture
    def demo(self, demo_once_per_class):
        return demo_once_per_class

    def test_demo_campus_figures(self, demo):
        assert Phase.objects.filter(campus=demo).count() == 4
        assert Parcel.objects.filter(campus=demo).count() == 18
        assert Facility.objects.count() == 26
        assert UtilityCapacity.objects.count() == 9
        assert ScheduleItem.objects.count() == 36  # 4 phases × 9 activities and milestones
        assert ScheduleItem.objects.filter(kind="milestone").count() == 20  # the five kinds in each phase
        assert ScheduleDependency.objects.count() == 37

        # Computed in HK1980 Grid, the parcels sum to 20 ha (phase 1: 2.5 ha), within 1 m² per parcel.
        computed = sum(p.computed_area_m2 for p in Parcel.objects.all())
        assert abs(computed - 200_000) <= 18
        phase_one = Phase.objects.with_totals().get(campus=demo, number=1)
        assert phase_one.site_area_m2 == Decimal("25000")
        assert abs(sum(p.computed_area_m2 for p in phase_one.parcels.all()) - 25_000) <= 4

        # Every parcel's GFA sits at (not above) its plot-ratio cap on the surveyed area.
        for parcel in Parcel.objects.with_gfa():
            assert parcel.gfa_m2 <= parcel.gfa_cap_m2, parcel.code
        assert Parcel.objects.with_gfa().get(code="P1-A").gfa_m2 == Decimal("45000")

    def test_every_schedule_item_and_utility_line_names_who_delivers_it(self, demo):
        assert not ScheduleItem.objects.filter(responsible="").exists()
        assert not UtilityCapacity.objects.filter(responsible="").exists()
        phase_one = Phase.objects.get(campus=demo, number=1)
        items = dict(ScheduleItem.objects.filter(phase=phase_one).values_list("category", "responsible"))
        assert items["site_handover"] == "Lands Department"
        assert items["building_plans_approval"] == "Buildings Department"
        assert items["construction"] == "HKSTP Capital Projects"
        assert ScheduleItem.objects.get(phase__number=3, category="site_formation").responsible == (
            "Civil Engineering and Development Department"
        )
        assert dict(UtilityCapacity.objects.filter(phase=phase_one).values_list("kind", "responsible")) == {
            "power": "CLP Power Hong Kong",
            "water": "Water Supplies Department",
            "fibre": "HKSTP Digital Infrastructure",
        }

    def test_demo_warnings_name_the_talent_housing_cap(self, demo):
        warnings = {w.code: w for w in selectors.campus_warnings(demo)}
        assert "1,800 units" in warnings["talent_housing_over_cap"].message
        assert "1,500 units" in warnings["talent_housing_over_cap"].message
        assert "phase_area_off_target" not in warnings
        assert "parcel_area_mismatch" not in warnings

    def test_schedule_items_wait_for_their_predecessors_with_the_data_s_lags(self, demo):
        phase_one = Phase.objects.get(campus=demo, number=1)

        def predecessors(category):
            links = ScheduleDependency.objects.filter(successor__phase=phase_one, successor__category=category)
            return sorted(links.values_list("predecessor__category", "lag_days"))

        assert predecessors("site_handover") == []
        assert predecessors("master_layout_consent") == [("site_handover", 0)]
        assert predecessors("building_plans_approval") == [("design", 0), ("master_layout_consent", 0)]
        assert predecessors("construction_start") == [("building_plans_approval", 5)]
        # Loaded through the services, so the engine has computed every item.
        assert not ScheduleItem.objects.filter(forecast_finish__isnull=True).exists()

    def test_phase_two_slips_73_days_driven_by_its_site_handover(self, demo):
        # Site handover not before 30 Sep 2027 (baseline 30 Jun 2027) → design 330 days: 25 Aug 2028 → building
        # plans approval 25 Aug 2028 (after its own 31 May 2028) → construction start + 31 days: 25 Sep 2028 →
        # construction 810 days: 14 Dec 2030 → fit-out 90 days: 14 Mar 2031 → occupation permit 14 Mar 2031, against
        # the target of 31 Dec 2030: 73 days late. The first slipping item on that chain is the site handover.
        phase = Phase.objects.get(campus=demo, number=2)

        result = readiness.evaluate([phase])[phase.pk]

        schedule = next(c for c in result.criteria if c["code"] == "milestones")
        assert readiness.render_reason(schedule["reasons"][0]) == (
            "Occupation permit forecast 14 Mar 2031, 73 days after the target, driven by Site handover."
        )
        assert selectors.phase_schedule(phase)["completion_slip_days"] == 73

    def test_demo_users_get_roles_and_the_demo_password(self, demo):
        User = get_user_model()
        for username, group in [("planner", "Planner"), ("executive", "Executive"), ("staff", "Staff")]:
            user = User.objects.get(username=username)
            assert list(user.groups.values_list("name", flat=True)) == [group]
            assert user.check_password("innopole-demo")
        assert User.objects.get(username="staff").is_staff


def test_second_run_changes_nothing(demo):
    def history_rows():
        models = (Campus, Phase, Parcel, Facility, UtilityCapacity, ScheduleItem, ScheduleDependency)
        return sum(model.history.count() for model in models)

    before = history_rows()
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert history_rows() == before
    summary = out.getvalue()
    assert "unchanged" in summary and "created" not in summary and "updated" not in summary, summary


def test_password_from_the_environment(db, settings, monkeypatch):
    settings.DEBUG = True
    monkeypatch.setenv("DEMO_PASSWORD", "a-better-one-42")
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert get_user_model().objects.get(username="planner").check_password("a-better-one-42")
    assert "a-better-one-42" not in out.getvalue()


def test_refuses_with_debug_off_unless_forced(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_demo", stdout=io.StringIO())
    assert not Campus.objects.exists()

    call_command("seed_demo", "--force", stdout=io.StringIO())
    assert Campus.objects.count() == 1


def test_if_empty_leaves_an_existing_plan_alone(demo):
    Phase.objects.filter(number=4).update(name_en="Renamed")
    call_command("seed_demo", "--if-empty", stdout=io.StringIO())
    assert Phase.objects.get(number=4).name_en == "Renamed"


def test_a_data_file_without_responsible_parties_loads_them_blank(db, settings, tmp_path):
    settings.DEBUG = True
    data = json.loads(settings.DEMO_DATA_PATH.read_text(encoding="utf-8"))
    for row in (*data["utilities"], *data["schedule"]):
        del row["responsible"]
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(data), encoding="utf-8")

    call_command("seed_demo", "--path", str(path), stdout=io.StringIO())

    assert set(ScheduleItem.objects.values_list("responsible", flat=True)) == {""}
    assert set(UtilityCapacity.objects.values_list("responsible", flat=True)) == {""}


def test_a_broken_data_file_is_a_clear_error(db, settings, tmp_path):
    settings.DEBUG = True
    broken = tmp_path / "demo.json"
    broken.write_text("{not json")
    with pytest.raises(CommandError, match="Cannot read demo data"):
        call_command("seed_demo", "--path", str(broken), stdout=io.StringIO())
