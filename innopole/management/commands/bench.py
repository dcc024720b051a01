"""`manage.py bench` (`make bench`): how the readiness engine performs at HKSTP scale, as ratios from one run.

It creates and later drops its own PostgreSQL database on the configured server (migrated, or with `--template` a
copy of an already migrated database, emptied), fills it with a synthetic campus (see `innopole.bench`), and grows
it in three steps — 1 %, 10 % and 100 % of the dataset, that is 1, 10 and 100 phases. At each size, with wall-clock
times taken as the best of `--repeat` runs:

- engine: `readiness.evaluate(all phases)`, the engine path without snapshot writes;
- SQL: one hand-written query computing every per-phase sum the criteria need (site and handed-over area, power
  and water demand from the type assumptions, firm supply, pre-construction milestones done, overdue schedule
  items, the forecast construction start and the forecast completion against the target, weighted occupancy GFA
  and capital, lettable GFA, allocated GFA, live EOI GFA). engine ÷ SQL is the headline ratio (goal ≤ 2×). The
  engine's sums (its criteria's inputs) must equal the query's, or the command fails. The query reads the
  schedule's forecast as stored, like the criteria; a second query, not timed (`innopole.bench.SQL_FORECAST_CHECK`),
  checks that stored forecast item by item against the forward pass of its own dates and its predecessors', and any
  mismatch fails the command too. Not compared: which item the completion waits for and which one drives it (the
  criterion's reason), and the backward pass (float, critical path);
- sweep: `readiness_sweep(kind="all")`, one transaction and snapshot check per phase, with writes;
- queries per phase recompute: `readiness_recompute(phase=…)` under `CaptureQueriesContext`, for a phase never
  computed before (it stores a snapshot) and again (inputs unchanged, no snapshot) — the same at every size;
- growth: time per phase at 10 % and 100 % divided by that at 1 % (1.0 means the cost of a phase does not grow
  with the database), and the recompute of phase 1, whose own rows are the same at every size.

Then, on the full dataset, pages and endpoints (`innopole.bench.measure_pages`): each list page (/plan/,
/portal/), list endpoint, roll-up and admin changelist is requested in-process with the test Client, signed in as
the role that uses it, in `--rounds` interleaved rounds; its median is divided by that of `/healthz` in the same
rounds (goal ≤ 10×). The parcels' GeoJSON is divided by the plain path it must stay close to, the same rows read
with `values()` and dumped by `json.dumps` (goal ≤ 2×). The executive dashboard, `/dashboard/` and
`GET /api/v1/dashboard/`, is divided by a trivial page the same executive reads (`/accounts/password_change/`):
warm, its figures cached (goal ≤ 3×), and cold, the data's generation moved on before each request so the figures
are computed afresh (stated, no goal). Each row has its status, size, query count and whether its goal is met.
Then the API's headline figures, for the campus and each phase, are checked against one hand-written SQL statement
(`innopole.bench.check_dashboard_figures`); the mismatches are listed (there should be none).

Then the scheduling engine alone (`innopole.bench.measure_schedule_engine`) on 100 synthetic networks of 200 items,
against a plain topological sort of the same graphs.

Then the map in Chromium (`innopole.bench.measure_map_render`, `--map-rounds`, 0 skips it): `/plan/` opened in the
system Chromium against a live server on the scratch database, the time from navigation start to the first paint of
every parcel, against the same page with a filter that selects none, in the same browser run.

The pages and the map are timed after an untimed warm-up round of each; `--no-warm-up` skips it, for a quick check of
the command (the tests) whose times are not meant to be read.

Last, the stored schedule (`innopole.bench.measure_stored_schedule`, `--schedule-phases`, default 100): campuses of
their own with 100 phases of 20 and of 200 schedule items (20,000 items at the larger size), every phase recomputed
through `services.schedule_recompute` (read, engine, store; a day later at each run, so every item is written) in
`--repeat` runs interleaved with its baseline, the same graphs read from the database and put in topological order
(and the sort alone); time per item at both sizes (linear: it does not grow), queries per recompute, the stored
forecast checked by SQL, and `GET /api/v1/phases/{id}/schedule/` at both sizes: its query count (the same), size
and median time over `--rounds` requests.

It prints tables and writes everything, with the machine's description, as JSON to `--output`. Absolute times
depend on the machine; only the ratios are meant for comparison.
"""

import json
import os
import platform
import time
from pathlib import Path

import django
import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from innopole import bench
from planning import readiness, services
from planning.models import Campus, Phase

GOAL_ENGINE_VS_SQL = 2.0


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


class Command(BaseCommand):
    help = (
        "Benchmark readiness at HKSTP scale in a scratch PostgreSQL database (created and dropped on the "
        "configured server): engine vs one SQL query, queries per recompute, growth from 1 % to 100 %."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help=f"Rows per phase as a multiple of the full dataset's (0 < scale ≤ {bench.MAX_SCALE}; default 1).",
        )
        parser.add_argument("--output", default="bench-results/bench.json", help="Where to write the results as JSON.")
        parser.add_argument("--repeat", type=int, default=3, help="Runs per timing; the best is kept (default 3).")
        parser.add_argument(
            "--rounds",
            type=int,
            default=7,
            help="Interleaved rounds of page and endpoint requests; the median is kept (default 7).",
        )
        parser.add_argument(
            "--map-rounds",
            type=int,
            default=3,
            help="Interleaved rounds of the map in Chromium, all parcels and none; the median is kept (default 3, "
            "0 skips the browser).",
        )
        parser.add_argument(
            "--no-warm-up",
            dest="warm_up",
            action="store_false",
            help="Skip the untimed warm-up round of the pages and endpoints and of the map (default: one of each "
            "before the timed rounds). The first timed round then pays for the first requests (caches, templates, "
            "scripts compiled) and gives the status, size and query count: for checking the command quickly (the "
            "tests), not for reading its figures.",
        )
        parser.add_argument(
            "--schedule-phases",
            type=int,
            default=bench.SCHEDULE_PHASES,
            help=f"Phases of the stored schedule, at {' and '.join(map(str, bench.STORED_SCHEDULE_SIZES))} items each "
            f"(default {bench.SCHEDULE_PHASES}).",
        )
        parser.add_argument(
            "--template",
            metavar="DATABASE",
            help="Create the scratch database as a copy of DATABASE, on the same server and already migrated by "
            "this project, emptied after the copy, instead of running every migration in an empty one (faster; the "
            "tests use their test database). Nobody else may be connected to it; if the copy is refused, an empty "
            "database is migrated as without this option (default: none).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even if the scratch database already holds a campus (copied from a polluted template).",
        )

    def handle(self, *args, **options):
        scale, repeat, rounds = options["scale"], options["repeat"], options["rounds"]
        if not 0 < scale <= bench.MAX_SCALE:
            raise CommandError(f"--scale must be more than 0 and at most {bench.MAX_SCALE}.")
        if repeat < 1:
            raise CommandError("--repeat must be at least 1.")
        if rounds < 1:
            raise CommandError("--rounds must be at least 1.")
        if options["map_rounds"] < 0:
            raise CommandError("--map-rounds must be 0 (no browser) or more.")
        if options["schedule_phases"] < 1:
            raise CommandError("--schedule-phases must be at least 1.")
        if connection.vendor != "postgresql":
            raise CommandError(
                f"The benchmark runs on PostgreSQL only (the configured database is {connection.vendor}). "
                "Set DATABASE_URL to a PostgreSQL server, or run `make bench`."
            )
        began = time.perf_counter()
        try:
            with bench.scratch_database(log=self.stdout.write, template=options["template"]) as database:
                if Campus.objects.exists() and not options["force"]:
                    raise CommandError(
                        f"The database {database} already holds a campus; the benchmark refuses to mix its data "
                        "with real data. Use --force to run anyway."
                    )
                results = self.run(scale=scale, repeat=repeat)
                self.stdout.write(f"[pages] {rounds} interleaved round(s) of {len(bench.PAGE_TARGETS)} targets…")
                pages = bench.measure_pages(rounds, warm_up=options["warm_up"], log=self.stdout.write)
                results["pages"] = {
                    "rounds": rounds,
                    "goal_vs_healthz": bench.PAGE_GOAL,
                    "goal_geojson_vs_json_dumps": bench.GEOJSON_GOAL,
                    "goal_dashboard_warm_vs_trivial": bench.DASHBOARD_WARM_GOAL,
                    "all_goals_met": all(row["goal_met"] for row in pages if row["goal"] is not None),
                    "targets": pages,
                }
                self.stdout.write("[dashboard] the API's figures against hand-written SQL…")
                results["dashboard"] = {
                    "rounds": rounds,
                    "cache": settings.CACHES["default"]["BACKEND"],
                    **bench.dashboard_ratios(pages),
                    "sql_check": bench.check_dashboard_figures(),
                }
                self.stdout.write("[schedule] the scheduling engine on 100 phases' networks…")
                results["schedule_engine"] = bench.measure_schedule_engine(repeat, log=self.stdout.write)
                if options["map_rounds"] > 0:
                    self.stdout.write(f"[map] {options['map_rounds']} interleaved round(s) in Chromium…")
                    results["map_render"] = bench.measure_map_render(
                        options["map_rounds"], warm_up=options["warm_up"], log=self.stdout.write
                    )
                # Last: it adds campuses of its own, which the pages and the map above are not to see.
                self.stdout.write("[stored schedule] recomputed from the database, and its endpoint…")
                results["stored_schedule"] = bench.measure_stored_schedule(
                    repeat, rounds, phases=options["schedule_phases"], log=self.stdout.write
                )
                results["database"] = database
                if not options["warm_up"]:
                    results["warm_up"] = False  # said in the figures it changes; the default run has a warm-up
        except bench.BenchError as error:
            raise CommandError(str(error)) from error
        results["total_seconds"] = round(time.perf_counter() - began, 1)
        output = Path(options["output"])
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        self.report(results)
        self.stdout.write(f"Results written to {output} ({results['total_seconds']} s in all).")

    # --- measuring ------------------------------------------------------------------------------------------------

    def run(self, *, scale: float, repeat: int) -> dict:
        shape = bench.Shape(scale)
        today = timezone.localdate()
        generator = bench.Generator(shape)
        generator.setup()
        machine = {
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "django": django.get_version(),
            "psycopg": psycopg.__version__,
            "postgresql": bench.server_version(),
            "postgresql_settings": bench.server_settings(),
        }
        self.stdout.write(
            f"Readiness benchmark: scale {scale}, best of {repeat}, PostgreSQL {machine['postgresql']}, "
            f"{machine['cpu_count']} CPU(s)."
        )
        levels = [self.measure(label, fraction, generator, repeat, today) for label, fraction in bench.LEVELS]
        first, full = levels[0], levels[-1]
        growth_keys = ("engine_s", "sql_s", "sweep_s")
        growth = {
            f"{key[:-2]}_per_phase": [ratio(level["per_phase"][key], first["per_phase"][key]) for level in levels]
            for key in growth_keys
        }
        growth["recompute_phase_1"] = [
            ratio(level["timings"]["recompute_phase_1_s"], first["timings"]["recompute_phase_1_s"]) for level in levels
        ]
        queries = [level["queries_per_recompute"] for level in levels]
        return {
            "benchmark": "readiness",
            "generated_at": timezone.now().isoformat(timespec="seconds"),
            "today": today.isoformat(),
            "scale": scale,
            "repeat": repeat,
            "machine": machine,
            "dataset": full["counts"],
            "generation_seconds": round(sum(level["generation_seconds"] for level in levels), 2),
            "levels": levels,
            "ratios": {
                "engine_vs_sql": full["engine_vs_sql"],
                "engine_vs_sql_goal": GOAL_ENGINE_VS_SQL,
                "engine_vs_sql_goal_met": full["engine_vs_sql"] is not None
                and full["engine_vs_sql"] <= GOAL_ENGINE_VS_SQL,
                "sweep_vs_sql": full["sweep_vs_sql"],
                "growth": growth,
            },
            "queries_per_recompute": queries[-1],
            "queries_per_recompute_constant": all(q == queries[0] for q in queries),
            "sums_agree": all(level["sums"]["agree"] for level in levels),
        }

    def measure(self, label: str, fraction: float, generator: bench.Generator, repeat: int, today) -> dict:
        phases_wanted = bench.level_phases(fraction)
        self.stdout.write(f"[{label}] generating up to {phases_wanted} phase(s)…", ending="")
        self.stdout.flush()
        began = time.perf_counter()
        written = generator.grow(phases_wanted)
        generated = time.perf_counter() - began
        bench.analyse()
        counts = bench.dataset_counts()
        self.stdout.write(f" {sum(written.values()):,} rows in {generated:.1f} s; measuring…")
        phases = list(Phase.objects.order_by("pk"))

        # The newest phase has never been computed: the first recompute stores a snapshot, the second finds the
        # inputs unchanged. Both counts should be the same whatever the size of the database.
        fresh = phases[-1]
        with CaptureQueriesContext(connection) as first_run:
            services.readiness_recompute(phase=fresh, today=today)
        with CaptureQueriesContext(connection) as unchanged_run:
            services.readiness_recompute(phase=fresh, today=today)

        sql = bench.sql_text()
        engine_s = bench.best_of(repeat, lambda: readiness.evaluate(list(Phase.objects.order_by("pk")), today=today))
        sql_s = bench.best_of(repeat, lambda: bench.sql_sums(today, sql))
        engine_sums, sql_sums = bench.engine_sums(phases, today), bench.sql_sums(today, sql)
        forecast = bench.forecast_mismatches()
        problems = bench.disagreements(engine_sums, sql_sums, forecast)
        if problems:
            shown = "\n  ".join(problems[:20])
            raise CommandError(
                f"[{label}] the engine and the SQL query disagree in {len(problems)} place(s):\n  {shown}"
            )
        sweep_s = bench.best_of(repeat, lambda: services.readiness_sweep(kind="all"))
        one_s = bench.best_of(repeat, lambda: services.readiness_recompute(phase=phases[0], today=today))

        n = len(phases)
        return {
            "label": label,
            "fraction": fraction,
            "phases": n,
            "counts": counts,
            "rows": sum(counts.values()),
            "generation_seconds": round(generated, 2),
            "timings": {
                "engine_s": round(engine_s, 4),
                "sql_s": round(sql_s, 4),
                "sweep_s": round(sweep_s, 4),
                "recompute_phase_1_s": round(one_s, 4),
            },
            "per_phase": {
                "engine_s": round(engine_s / n, 6),
                "sql_s": round(sql_s / n, 6),
                "sweep_s": round(sweep_s / n, 6),
            },
            "engine_vs_sql": ratio(engine_s, sql_s),
            "sweep_vs_sql": ratio(sweep_s, sql_s),
            "queries_per_recompute": {"first": len(first_run), "unchanged": len(unchanged_run)},
            "sums": {
                "agree": True,
                "compared": list(bench.SUM_KEYS),
                "phases_compared": len(sql_sums),
                "phase_1": {
                    "engine": {k: None if v is None else str(v) for k, v in engine_sums[phases[0].pk].items()},
                    "sql": {k: None if v is None else str(v) for k, v in sql_sums[phases[0].pk].items()},
                },
            },
            "forecast_check": {
                "phases": len(forecast),
                "items": sum(items for items, _wrong in forecast.values()),
                "mismatches": sum(wrong for _items, wrong in forecast.values()),
            },
        }

    # --- reporting ------------------------------------------------------------------------------------------------

    def report(self, results: dict) -> None:
        write = self.stdout.write
        header = (
            f"{'size':>6} {'phases':>6} {'rows':>9} {'generate':>9} {'engine':>9} {'SQL':>8} {'eng/SQL':>8} "
            f"{'sweep':>8} {'per phase':>9} {'phase 1':>8} {'queries':>8}"
        )
        write("")
        write(header)
        write("-" * len(header))
        for level in results["levels"]:
            t = level["timings"]
            q = level["queries_per_recompute"]
            write(
                f"{level['label']:>6} {level['phases']:>6} {level['rows']:>9,} {level['generation_seconds']:>8.1f}s "
                f"{t['engine_s']:>8.3f}s {t['sql_s']:>7.3f}s {level['engine_vs_sql']:>7.1f}× "
                f"{t['sweep_s']:>7.2f}s {level['per_phase']['sweep_s'] * 1000:>7.1f}ms "
                f"{t['recompute_phase_1_s'] * 1000:>6.1f}ms {q['first']:>4}/{q['unchanged']:<3}"
            )
        ratios = results["ratios"]
        met = "met" if ratios["engine_vs_sql_goal_met"] else "NOT met"
        write("")
        write(
            f"Engine vs one SQL query at 100 %: {ratios['engine_vs_sql']}× "
            f"(goal ≤ {ratios['engine_vs_sql_goal']:g}×: {met}); sweep with writes vs SQL: {ratios['sweep_vs_sql']}×."
        )
        q = results["queries_per_recompute"]
        constant = "the same at every size" if results["queries_per_recompute_constant"] else "NOT constant"
        write(f"Queries per phase recompute: {q['first']} (new snapshot), {q['unchanged']} (unchanged): {constant}.")
        write("Growth, time per phase as a ratio to 1 % (1 % / 10 % / 100 %):")
        for key, values in ratios["growth"].items():
            write(f"  {key:<20} " + " / ".join(f"{v:g}" for v in values))
        write(f"Engine and SQL sums agree for every phase at every size: {results['sums_agree']}.")
        checked = results["levels"][-1]["forecast_check"]
        write(
            f"Stored forecast checked item by item in SQL at 100 %: {checked['items']:,} items, "
            f"{checked['mismatches']} mismatches."
        )
        write(
            f"Generated {results['levels'][-1]['rows']:,} rows in {results['generation_seconds']} s "
            f"({', '.join(f'{k} {v:,}' for k, v in results['dataset'].items())})."
        )
        if results.get("warm_up") is False:
            write("No warm-up round (--no-warm-up): the times of the pages and of the map include first requests.")
        if "pages" in results:
            self.report_pages(results["pages"])
        if "dashboard" in results:
            self.report_dashboard(results["dashboard"])
        if "schedule_engine" in results:
            self.report_schedule(results["schedule_engine"])
        if "map_render" in results:
            self.report_map(results["map_render"])
        if "stored_schedule" in results:
            self.report_stored_schedule(results["stored_schedule"])

    def report_schedule(self, figures: dict) -> None:
        self.stdout.write("")
        self.stdout.write(
            f"Scheduling engine against a plain topological sort of the same graphs (best of {figures['repeat']}):"
        )
        for level in figures["levels"]:
            self.stdout.write(
                f"  {level['phases']:>3} phases, {level['items']:,} items, {level['dependencies']:,} dependencies: "
                f"engine {level['engine_s'] * 1000:,.0f} ms, sort {level['topological_sort_s'] * 1000:,.0f} ms, "
                f"{level['ratio']}×; {level['engine_us_per_item']} µs per item"
            )

    def report_stored_schedule(self, figures: dict) -> None:
        write = self.stdout.write
        write("")
        write(
            "Stored schedule, every phase recomputed through services.schedule_recompute (read, engine, store; every "
            f"item written) against reading and sorting the same graphs, best of {figures['repeat']} (spread):"
        )
        for level in figures["levels"]:
            spread = level["spread_pct"]
            endpoint = level["endpoint"]
            write(
                f"  {level['phases']:>3} phases × {level['items_per_phase']:>3} items ({level['items']:,} items, "
                f"{level['dependencies']:,} dependencies): recompute {level['recompute_s'] * 1000:,.0f} ms "
                f"(slowest +{spread['recompute']:g} %), read and sort {level['read_and_sort_s'] * 1000:,.0f} ms "
                f"(slowest +{spread['read_and_sort']:g} %): {level['recompute_vs_read_and_sort']}×; sort alone "
                f"{level['sort_s'] * 1000:,.1f} ms: {level['recompute_vs_sort']}×; "
                f"{level['recompute_us_per_item']} µs per item; {level['queries_per_recompute']} queries a phase"
            )
            write(
                f"      GET {endpoint['url']}: {endpoint['status']}, {endpoint['items']} items, "
                f"{endpoint['bytes']:,} bytes, {endpoint['queries']} queries, median {endpoint['median_ms']} ms "
                f"of {figures['rounds']}"
            )
        same = {True: "the same at both sizes", False: "NOT the same"}
        checked = [level["forecast_check"] for level in figures["levels"]]
        write(
            f"  Stored forecast checked item by item in SQL: {sum(c['items'] for c in checked):,} items, "
            f"{sum(c['mismatches'] for c in checked)} mismatches."
        )
        write(
            f"  Time per item, larger ÷ smaller: {figures['per_item_growth']}× (linear: about 1 or less); queries per "
            f"recompute {same[figures['queries_per_recompute_constant']]}; the endpoint's queries "
            f"{same[figures['endpoint_queries_constant']]}."
        )

    def report_pages(self, pages: dict) -> None:
        write = self.stdout.write
        header = (
            f"{'target':<28} {'role':<10} {'median':>9} {'ratio':>8} {'goal':>6} {'met':>4} "
            f"{'status':>6} {'bytes':>10} {'queries':>7}  baseline"
        )
        write("")
        write(f"Pages and endpoints on the full dataset, median of {pages['rounds']} interleaved round(s):")
        write(header)
        write("-" * len(header))
        for row in pages["targets"]:
            ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}×"
            goal = "" if row["goal"] is None else f"≤{row['goal']:g}×"
            met = "" if row["goal_met"] is None else ("yes" if row["goal_met"] else "NO")
            write(
                f"{row['target']:<28} {row['role'] or '':<10} {row['median_ms']:>7.1f}ms {ratio:>8} {goal:>6} "
                f"{met:>4} {row['status']:>6} {row['bytes']:>10,} {row['queries']:>7}  {row['baseline'] or ''}"
            )
        verdict = "every goal met" if pages["all_goals_met"] else "NOT every goal met"
        write(
            f"Goals: pages, endpoints and changelists ≤ {pages['goal_vs_healthz']:g}× /healthz; GeoJSON "
            f"≤ {pages['goal_geojson_vs_json_dumps']:g}× json.dumps of the same rows; the dashboard, warm, "
            f"≤ {pages['goal_dashboard_warm_vs_trivial']:g}× {bench.TRIVIAL_PAGE} (cold: no goal): {verdict}."
        )

    def report_dashboard(self, figures: dict) -> None:
        write = self.stdout.write
        write("")
        write(
            f"Executive dashboard, median of {figures['rounds']} round(s), against {figures['trivial_url']} read by "
            f"the same executive ({figures['trivial_ms']:.1f} ms); cache {figures['cache']}:"
        )
        for what, label in (("page", "page"), ("api", "API ")):
            row = figures[what]
            met = "met" if row["warm_goal_met"] else "NOT met"
            write(
                f"  {label} {row['url']:<20} warm {row['warm_ms']:>8.1f} ms {row['warm_vs_trivial']:>7.2f}× "
                f"(goal ≤ {figures['goal_warm']:g}×: {met}, {row['warm_queries']} queries); "
                f"cold {row['cold_ms']:>8.1f} ms {row['cold_vs_trivial']:>7.2f}× "
                f"(no goal, {row['cold_queries']} queries)"
            )
        check = figures["sql_check"]
        write(
            f"  GET /api/v1/dashboard/ against hand-written SQL: {len(check['figures'])} figures for the campus and "
            f"{check['scopes'] - 1} phase(s), {check['compared']:,} values, {check['mismatches']} mismatch(es)."
        )
        for row in check["mismatched"]:
            write(f"    MISMATCH {row['scope']} {row['figure']}: API {row['api']}, SQL {row['sql']}")

    def report_map(self, figures: dict) -> None:
        write = self.stdout.write
        write("")
        if "skipped" in figures:
            write(f"Map in Chromium: not measured. {figures['skipped']}")
            return
        write(
            f"Map in Chromium {figures['chromium']} (median of {figures['rounds']}, from navigation start to the first "
            f"paint of every shape): {figures['parcels']:,} parcels {figures['full_ms']:,.0f} ms, an empty map "
            f"{figures['empty_ms']:,.0f} ms ({figures['empty_shapes']} shapes): {figures['ratio']}× "
            f"(+{figures['extra_ms']:,.0f} ms for the shapes)."
        )
