"""`manage.py bench` at a tiny scale: it runs in its own scratch database, drops it, and reports what it promises.

The command creates and drops a database on the test server, so it runs once, from a module fixture, outside any
test's wrapping transaction; the tests then read its JSON. The whole module is marked `django_db`: pytest-django
runs database tests before the others, so a module of both kinds is split in two and its module fixture (the
bench run, the slowest setup of the suite) would be built twice. No timing is asserted: times depend on the
machine, and the benchmark reports ratios for people to read.
"""

import contextlib
import datetime
import gc
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from innopole import bench
from innopole.bench import ENGINE_ROUNDING, SUM_KEYS
from planning.models import Campus, Phase, ScheduleItem
from tests.factories import (
    CampusFactory,
    CommitmentFactory,
    EOIFactory,
    FacilityFactory,
    FacilityTypeFactory,
    MilestoneFactory,
    ParcelFactory,
    PhaseFactory,
    ScheduleDependencyFactory,
    ScheduleItemFactory,
    UtilityCapacityFactory,
)

pytestmark = pytest.mark.django_db
# The map's figure needs Debian's Chromium, as the browser tests do (`.ci/run` installs it).
CHROMIUM_MISSING = not Path("/usr/bin/chromium").exists()


@pytest.fixture(scope="module")
def results(django_db_setup, django_db_blocker, tmp_path_factory):
    """One tiny run shared by the tests of this module (generation and three sizes take some seconds).

    Its scratch database is a copy of the test database (`--template`), already migrated, instead of an empty one
    migrated again; the pages and the map have no warm-up round (`--no-warm-up`: no timing is asserted). The heap
    of the test process (pytest, Django, every module imported) is frozen for the run, so the `gc.collect()` the
    benchmark makes before each timing walks only the benchmark's own objects."""
    output = tmp_path_factory.mktemp("bench") / "bench.json"
    out = io.StringIO()
    with django_db_blocker.unblock():
        test_database = connection.settings_dict["NAME"]
        gc.collect()
        gc.freeze()
        try:
            call_command(
                "bench",
                "--scale",
                "0.002",
                "--repeat",
                "1",
                "--rounds",
                "1",
                "--map-rounds",
                "1",
                "--schedule-phases",
                "1",
                "--template",
                test_database,
                "--no-warm-up",
                "--output",
                str(output),
                stdout=out,
            )
        finally:
            gc.unfreeze()
        assert connection.settings_dict["NAME"] == test_database
    return json.loads(output.read_text(encoding="utf-8")), out.getvalue()


def test_writes_the_promised_figures(results):
    data, printed = results
    for key in ("machine", "dataset", "generation_seconds", "levels", "ratios", "queries_per_recompute"):
        assert key in data
    assert {"cpu_count", "python", "postgresql", "django"} <= set(data["machine"])
    assert data["dataset"]["phases"] == 100
    assert data["dataset"]["facilities"] == 4 * data["dataset"]["parcels"]
    # Five milestones a phase in a chain, as schedule items and dependencies.
    assert data["dataset"]["schedule_items"] == 5 * 100 and data["dataset"]["schedule_dependencies"] == 4 * 100
    assert [level["label"] for level in data["levels"]] == ["1 %", "10 %", "100 %"]
    assert [level["phases"] for level in data["levels"]] == [1, 10, 100]
    for level in data["levels"]:
        assert set(level["timings"]) == {"engine_s", "sql_s", "sweep_s", "recompute_phase_1_s"}
        assert level["engine_vs_sql"] is not None
    ratios = data["ratios"]
    assert {"engine_vs_sql", "engine_vs_sql_goal", "engine_vs_sql_goal_met", "sweep_vs_sql", "growth"} <= set(ratios)
    assert all(len(values) == 3 and values[0] == 1 for values in ratios["growth"].values())
    assert "Engine vs one SQL query at 100 %" in printed


def test_the_scheduling_engine_is_timed_against_a_topological_sort_of_the_same_graphs(results):
    data, printed = results
    levels = data["schedule_engine"]["levels"]
    assert [(level["phases"], level["items"]) for level in levels] == [(10, 2_000), (100, 20_000)]
    for level in levels:
        assert level["dependencies"] > level["items"]  # one to three predecessors each
        assert level["engine_s"] > 0 and level["topological_sort_s"] > 0 and level["ratio"] > 0
    assert "Scheduling engine against a plain topological sort" in printed


def test_the_stored_schedule_is_recomputed_against_a_sort_of_the_same_graphs(results):
    """Point 9 of the schedule issue at a tiny size: every phase's stored schedule recomputed through the service at
    20 and 200 items a phase, its baseline of the same run, the endpoint's queries the same at both sizes, and the
    time per item not growing with the size (generously: a quadratic recompute would be about 10× at 200 items)."""
    data, printed = results
    figures = data["stored_schedule"]
    levels = figures["levels"]
    assert [(level["phases"], level["items_per_phase"]) for level in levels] == [(1, 20), (1, 200)]
    for level in levels:
        assert level["items"] == level["phases"] * level["items_per_phase"]
        assert level["dependencies"] >= level["items"] - level["phases"]  # every item but the first waits for one
        assert level["recompute_s"] > 0 and level["read_and_sort_s"] > 0 and level["sort_s"] > 0
        assert level["recompute_vs_read_and_sort"] > 0 and level["recompute_us_per_item"] > 0
        assert len(level["runs_s"]["recompute"]) == figures["repeat"] == 1
        assert level["forecast_check"] == {"items": level["items"], "mismatches": 0}
        endpoint = level["endpoint"]
        assert endpoint["status"] == 200 and endpoint["items"] == level["items_per_phase"]
    small, large = levels
    assert small["queries_per_recompute"] == large["queries_per_recompute"] > 0
    assert small["endpoint"]["queries"] == large["endpoint"]["queries"] > 0
    assert figures["queries_per_recompute_constant"] and figures["endpoint_queries_constant"]
    assert figures["forecast_agrees"] is True
    assert figures["per_item_growth"] == round(large["recompute_us_per_item"] / small["recompute_us_per_item"], 2)
    assert figures["per_item_growth"] < 3
    assert "Stored schedule, every phase recomputed through services.schedule_recompute" in printed


def test_the_map_is_timed_in_chromium_with_every_parcel_against_an_empty_map(results):
    data, _printed = results
    figure = data["map_render"]
    if "skipped" in figure:  # no Chromium or Playwright on this machine: said, not hidden
        assert CHROMIUM_MISSING, figure
        return
    assert figure["rounds"] == 1
    assert figure["parcels"] == data["dataset"]["parcels"] and figure["empty_shapes"] == 0
    assert figure["full_ms"] > 0 and figure["empty_ms"] > 0 and figure["ratio"] > 0


def test_pages_and_endpoints_are_measured_against_baselines_of_the_same_run(results):
    """Every page, list endpoint, changelist and the GeoJSON gives a row with its ratio and goal (no timing is
    asserted: only that the figures are produced, from 200 answers, and printed)."""
    data, printed = results
    pages = data["pages"]
    rows = {row["target"]: row for row in pages["targets"]}
    assert list(rows) == [target[0] for target in bench.PAGE_TARGETS]
    for name in ("/plan/", "/dashboard/ warm", "/portal/", "api rollups/phases", "admin EOIs", "admin allocations"):
        assert name in rows
    for row in rows.values():
        assert row["status"] == 200, row
        assert row["bytes"] > 0 and row["median_ms"] > 0
        if row["baseline"] is None:
            assert row["ratio"] is None and row["goal"] is None and row["goal_met"] is None
        else:
            assert row["baseline"] in rows and rows[row["baseline"]]["baseline"] is None
            assert row["ratio"] > 0
            if row["cold"]:  # stated, with no goal
                assert row["goal"] is None and row["goal_met"] is None
            else:
                assert isinstance(row["goal_met"], bool)
    geojson = rows["api parcels/geojson"]
    assert (geojson["baseline"], geojson["goal"]) == (bench.PLAIN_JSON, bench.GEOJSON_GOAL)
    assert rows["admin EOIs"]["goal"] == bench.PAGE_GOAL and rows["admin EOIs"]["baseline"] == bench.HEALTHZ
    # The GeoJSON holds every parcel of the dataset; the portal's partner sees its organisation.
    assert rows["api parcels/geojson"]["queries"] <= 4
    assert pages["all_goals_met"] == all(row["goal_met"] for row in rows.values() if row["goal"] is not None)
    assert "Pages and endpoints on the full dataset" in printed and "api parcels/geojson" in printed


def test_the_dashboard_is_timed_cold_and_warm_against_a_trivial_page_of_the_same_executive(results):
    """The page and the API, warm (goal ≤ 3×) and cold (no goal), each divided by `/accounts/password_change/` in
    the same rounds. No timing is asserted; the query counts show the cold requests computed the figures and the
    warm ones read them from the cache."""
    data, printed = results
    dashboard = data["dashboard"]
    rows = {row["target"]: row for row in data["pages"]["targets"]}
    trivial = rows[bench.TRIVIAL_PAGE]
    assert (trivial["role"], trivial["baseline"]) == ("executive", None)
    assert dashboard["trivial_ms"] == trivial["median_ms"] and dashboard["goal_warm"] == bench.DASHBOARD_WARM_GOAL
    for what, url in (("page", "/dashboard/"), ("api", "/api/v1/dashboard/")):
        figures = dashboard[what]
        assert figures["url"] == url
        assert figures["cold_vs_trivial"] > 0 and figures["warm_vs_trivial"] > 0
        assert figures["cold_ms"] > 0 and figures["warm_ms"] > 0
        assert isinstance(figures["warm_goal_met"], bool)
        assert figures["cold_queries"] > figures["warm_queries"] > 0
    warm = rows["/dashboard/ warm"]
    assert (warm["baseline"], warm["goal"]) == (bench.TRIVIAL_PAGE, bench.DASHBOARD_WARM_GOAL)
    assert "Executive dashboard, median of 1 round(s), against /accounts/password_change/" in printed


def test_the_dashboard_figures_equal_hand_written_sql(results):
    data, printed = results
    check = data["dashboard"]["sql_check"]
    assert check["mismatches"] == 0 and check["mismatched"] == []
    assert check["scopes"] == 1 + data["dataset"]["phases"]
    assert check["compared"] == check["scopes"] * len(bench.DASHBOARD_SQL_FIGURES)
    assert check["campus_figures"]["land_held_m2"] > 0 and check["campus_figures"]["live_eoi_jobs"] > 0
    assert "GET /api/v1/dashboard/ against hand-written SQL" in printed and "0 mismatch(es)" in printed


def test_the_dashboard_sql_places_rows_as_the_selector_does():
    """Rows the benchmark's data never has, written past the services where they refuse them: a parcel in no phase
    (its facilities and commitments count in the campus only), EOIs naming no place (the campus), a parcel in no
    phase and a phase (that phase), a parcel of another campus and a phase of this one (not this campus: the parcel
    decides), and another campus's rows. The hand counts pin the definitions; then SQL and the API agree."""
    from partners.models import ExpressionOfInterest as EOI

    housing = FacilityTypeFactory(
        code="talent_housing", lettable=False, counts_against_housing_cap=True, gfa_per_capacity_m2=Decimal("30")
    )
    campus = CampusFactory(code="aaa-dashboard")
    phase = PhaseFactory(campus=campus, number=1, capex_hkd_m=Decimal("900"))
    held = ParcelFactory(phase=phase, land_status="site_formation")
    reserve = ParcelFactory(campus=campus, phase=None)
    other_phase = PhaseFactory(number=2)
    elsewhere = ParcelFactory(phase=other_phase)
    FacilityFactory(parcel=held, gfa_m2=Decimal("8000"))
    FacilityFactory(parcel=held, facility_type=housing, gfa_m2=Decimal("3000"), capacity=Decimal("100"))
    FacilityFactory(parcel=reserve, gfa_m2=Decimal("2000"))
    FacilityFactory(parcel=elsewhere, gfa_m2=Decimal("5000"))
    for parcel in (held, reserve, elsewhere):
        CommitmentFactory(parcel=parcel, gfa_m2=Decimal("1000"))
    UtilityCapacityFactory(phase=phase, kind="water", status="planned", capacity=Decimal("7"))
    UtilityCapacityFactory(phase=other_phase)
    live = "submitted"
    on_parcel = EOIFactory(preferred_phase=phase, preferred_parcel=held, status=live, jobs=1)
    EOIFactory(preferred_phase=phase, status=live, jobs=2)
    nowhere = EOIFactory(preferred_phase=phase, status=live, jobs=4)
    fallback = EOIFactory(preferred_phase=phase, status=live, jobs=8)
    crossed = EOIFactory(preferred_phase=other_phase, preferred_parcel=elsewhere, status=live, jobs=16)
    EOIFactory(preferred_phase=other_phase, status=live, jobs=32)
    EOIFactory(preferred_phase=phase, jobs=64)  # a draft
    EOI.objects.filter(pk=nowhere.pk).update(preferred_phase=None)
    EOI.objects.filter(pk=fallback.pk).update(preferred_parcel=reserve)
    EOI.objects.filter(pk=crossed.pk).update(preferred_phase=phase)
    assert on_parcel.preferred_parcel_id == held.pk

    sql = bench.dashboard_sql_figures(campus)
    campus_scope, phase_scope = bench.CAMPUS_SCOPE, "phase 1"
    assert sql[(campus_scope, "gfa_planned_m2")] == 13_000 and sql[(phase_scope, "gfa_planned_m2")] == 11_000
    assert sql[(campus_scope, "lettable_gfa_m2")] == 10_000 and sql[(campus_scope, "talent_housing_units")] == 100
    assert sql[(campus_scope, "land_held_m2")] == sql[(campus_scope, "land_handed_over_m2")] > 0
    assert sql[(campus_scope, "weighted_occupancy_gfa_m2")] == 2 * sql[(phase_scope, "weighted_occupancy_gfa_m2")]
    assert sql[(campus_scope, "capex_hkd_m")] == 900 and sql[(phase_scope, "water_planned_m3_day")] == 7
    assert sql[(campus_scope, "live_eoi_jobs")] == 1 + 2 + 4 + 8 and sql[(phase_scope, "live_eoi_jobs")] == 1 + 2 + 8
    check = bench.check_dashboard_figures(campus_code=campus.code)
    assert (check["scopes"], check["mismatches"]) == (2, 0), check["mismatched"]


def test_refuses_zero_rounds():
    with pytest.raises(CommandError, match="--rounds"):
        call_command("bench", "--rounds", "0", stdout=io.StringIO())


def test_engine_sums_equal_the_sql_query(results):
    data, _printed = results
    assert data["sums_agree"] is True
    for level in data["levels"]:
        assert level["sums"]["agree"] is True
        assert level["sums"]["phases_compared"] == level["phases"]
        engine, sql = level["sums"]["phase_1"]["engine"], level["sums"]["phase_1"]["sql"]
        assert set(engine) == set(sql) == set(SUM_KEYS)
        for key in SUM_KEYS:
            tolerance = Decimal(5) / 10 ** (ENGINE_ROUNDING[key] + 1) if key in ENGINE_ROUNDING else 0
            assert abs(Decimal(engine[key]) - Decimal(sql[key])) <= tolerance, key
        assert Decimal(sql["power_demand_mva"]) > 0
        assert Decimal(sql["weighted_occupancy_gfa_m2"]) > 0
        assert Decimal(sql["pre_construction"]) == 3
        # The forecast the criteria and the query read was stored, and SQL finds every item's step right.
        assert level["forecast_check"] == {"phases": level["phases"], "items": 5 * level["phases"], "mismatches": 0}


def test_the_sql_forecast_check_finds_a_stored_forecast_that_is_not_the_forward_pass():
    """`SQL_FORECAST_CHECK` agrees with the engine on a network with every kind of item (done, in progress, not
    started, a "not before" date, a negative lag) and names the phase once one stored date is wrong."""
    today = timezone.localdate()
    phase = PhaseFactory(planned_start=today + datetime.timedelta(days=40))
    done = ScheduleItemFactory(
        phase=phase,
        duration_days=30,
        actual_start=today - datetime.timedelta(days=60),
        actual_finish=today - datetime.timedelta(days=20),
    )
    under_way = ScheduleItemFactory(phase=phase, duration_days=20, actual_start=today - datetime.timedelta(days=5))
    consent = MilestoneFactory(phase=phase, start_not_before=today + datetime.timedelta(days=70))
    works = ScheduleItemFactory(phase=phase, duration_days=10)
    ScheduleDependencyFactory(predecessor=under_way, successor=consent, lag_days=-5)
    ScheduleDependencyFactory(predecessor=done, successor=works, lag_days=3)
    ScheduleDependencyFactory(predecessor=consent, successor=works, lag_days=3)
    assert bench.forecast_mismatches()[phase.pk] == (4, 0)

    wrong = works.forecast_finish + datetime.timedelta(days=1)
    ScheduleItem.objects.filter(pk=works.pk).update(forecast_finish=wrong)
    assert bench.forecast_mismatches()[phase.pk] == (4, 1)
    problems = bench.disagreements({}, {}, bench.forecast_mismatches())
    assert problems == [
        f"phase {phase.pk}: 1 of 4 schedule items store a forecast that is not the forward pass of their own dates "
        "and their predecessors' forecasts"
    ]


def test_queries_per_recompute_are_the_same_at_every_size(results):
    data, _printed = results
    counts = [level["queries_per_recompute"] for level in data["levels"]]
    assert counts[0]["first"] > 0
    assert all(count == counts[0] for count in counts)
    assert data["queries_per_recompute_constant"] is True


def test_leaves_no_trace(results):
    data, _printed = results
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [data["database"]])
        assert cursor.fetchone() is None
    assert not Campus.objects.filter(code="bench").exists()


def test_refuses_a_scale_beyond_the_campus():
    with pytest.raises(CommandError, match="--scale"):
        call_command("bench", "--scale", "5", stdout=io.StringIO())


def test_refuses_a_database_other_than_postgresql(monkeypatch):
    monkeypatch.setattr(connection, "vendor", "sqlite")
    with pytest.raises(CommandError, match="PostgreSQL only"):
        call_command("bench", stdout=io.StringIO())


def test_refuses_a_database_that_holds_a_campus(monkeypatch):
    """Should the scratch database come with data (a polluted template), nothing is generated into it."""

    @contextlib.contextmanager
    def current_database(**kwargs):
        yield connection.settings_dict["NAME"]

    monkeypatch.setattr(bench, "scratch_database", current_database)
    CampusFactory()
    with pytest.raises(CommandError, match="already holds a campus"):
        call_command("bench", stdout=io.StringIO())
    assert not Phase.objects.exists()
