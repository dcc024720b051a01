"""Readiness in the background, against a real Redis and a real Celery worker (DESIGN.md §4, "Background work").

The test process plays the web process: it edits through the API, and its on-commit hooks send recomputes to a
redis-server of the test's own (broker on db 0, cache on db 1, as in docker-compose.yml). Each worker is a separate
`celery worker` process on that Redis and on the test database. Nothing of ours is mocked; the data is committed
(`transaction=True`) so that the worker sees it.

What is proved:

* an edit through the API reaches the phase's readiness within seconds, through the broker and the worker;
* a worker killed with SIGKILL in the middle of a recompute loses nothing: the task was not acknowledged
  (acks_late), so Redis hands the same task to the next worker, which completes it. Redelivery, not the sweep: no
  sweep runs in that test, and the second worker logs the very task id the first one received;
* with Redis stopped, edits still answer 200 at once and commit, and leave their phases stale with their snapshots
  unchanged; once Redis is back, the stale-phase sweep, sent through the broker as beat would send it, catches up.

Waits are bounded (WAIT_SECONDS) rather than timed: the suite must pass on a loaded two-core CI machine.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, urlencode

import environ
import kombu.pools
import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connection

from innopole.celery import app as celery_app
from planning import readiness
from planning.models import Phase, ReadinessSnapshot, ReadinessSweep, UtilityCapacity
from planning.tasks import sweep_stale_readiness
from tests.conftest import api_client_for
from tests.factories import (
    FacilityFactory,
    FacilityTypeFactory,
    ParcelFactory,
    PhaseFactory,
    UtilityCapacityFactory,
    grid_square,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 30.0  # a bound on waiting for what normally takes well under a second: not a speed test
POLL_SECONDS = 0.2
# The test workers' CELERY_VISIBILITY_TIMEOUT: Redis hands an unacknowledged task to another worker after this long.
VISIBILITY_TIMEOUT = 2
RECOMPUTE = "planning.tasks.recompute_phase_readiness"
SWEEP = "planning.tasks.sweep_stale_readiness"
WORKER_ARGS = ["-A", "innopole", "worker", "--pool=solo", "--concurrency=1", "--loglevel=INFO"]
WORKER_ARGS += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
RECEIVED = re.compile(r"Task (?P<name>[\w.]+)\[(?P<id>[0-9a-f-]+)\] received")


# --- processes --------------------------------------------------------------------------------------------------


class Worker:
    """`celery worker` in a process of its own, logging to a file; stopped by its PID."""

    def __init__(self, name: str, env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.application_name = f"innopole-test-{name}"  # how the test finds its database session
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", *WORKER_ARGS, "--hostname", f"{name}@%h"],
                cwd=ROOT,
                env={**env, "DATABASE_URL": database_url(self.application_name)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def received(self, task_name: str) -> list[str]:
        """The ids of the tasks of that name this worker has taken from the broker, in order."""
        return [m["id"] for m in RECEIVED.finditer(self.log()) if m["name"] == task_name]

    def is_ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"worker {self.name} exited with {self.process.returncode}:\n{self.log()}")
        return f"{self.name}@" in self.log() and " ready." in self.log()

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, nothing acknowledged or given back to the broker."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def database_url(application_name: str) -> str:
    """The test database pytest-django created, as a URL for another process (django-environ's form, which libpq
    reads as well). A Unix socket (scripts/with_postgres.py) goes in the query, its port beside it."""
    db = connection.settings_dict
    options = {key: value for key, value in db["OPTIONS"].items() if isinstance(value, str | int)}
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host, port = str(db["HOST"] or ""), str(db["PORT"] or "")
    if host and not host.startswith("/"):
        netloc = f"{auth}@{f'[{host}]' if ':' in host else host}" + (f":{port}" if port else "")
    else:
        netloc = f"{auth}@"
        if host:
            options["host"] = host
        if port:
            options["port"] = port
    options["application_name"] = application_name
    # Spaces as %20 (the "-c jit=off" connection option): django-environ does not read "+" as a space.
    return f"postgres://{netloc}/{quote(db['NAME'], safe='')}?{urlencode(options, quote_via=quote)}"


def logs(workers) -> str:
    return "".join(f"\n----- log of {w.name} ({w.log_path}) -----\n{w.log()}" for w in workers)


def wait_for(condition, what: str, workers=(), timeout: float = WAIT_SECONDS):
    """Poll `condition` until it returns something true, and return that; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}{logs(workers)}")
        time.sleep(POLL_SECONDS)


def reset_producer_pools() -> None:
    """Forget the broker connections and producers Celery and kombu keep, so that a new broker URL is used:
    `app.pool` and `app.amqp.producer_pool` are cached on first use, and kombu keeps its pools per connection."""
    kombu.pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


# --- fixtures ---------------------------------------------------------------------------------------------------


@pytest.fixture
def broker(redis_server, settings):
    """The test process sends its tasks to `redis` and shares its cache, as the web processes do in production
    (the readiness coalescing key lives in the cache: the worker clears what the web process set)."""
    settings.CELERY_BROKER_URL = redis_server.broker_url  # what /healthz reports on
    settings.CACHES = {"default": environ.Env.cache_url_config(redis_server.cache_url)}
    saved = {"task_always_eager": celery_app.conf.task_always_eager, "broker_url": celery_app.conf.broker_url}
    reset_producer_pools()
    celery_app.conf.update(task_always_eager=False, broker_url=redis_server.broker_url)
    yield redis_server
    celery_app.conf.update(saved)
    reset_producer_pools()


@pytest.fixture
def start_worker(broker, transactional_db, tmp_path, request):
    """Starts a worker and waits until it is ready. Workers are stopped before the database is flushed; their logs
    are printed when the test fails."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "innopole.settings.test",
        "CELERY_BROKER_URL": broker.broker_url,
        "CACHE_URL": broker.cache_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "PYTHONUNBUFFERED": "1",
    }
    started: list[Worker] = []
    failed_before = request.session.testsfailed

    def start() -> Worker:
        worker = Worker(f"worker{len(started) + 1}", env, tmp_path / f"worker{len(started) + 1}.log")
        started.append(worker)
        wait_for(worker.is_ready, f"{worker.name} to be ready", [worker], timeout=2 * WAIT_SECONDS)  # imports Django
        return worker

    yield start
    for worker in started:
        worker.stop()
    if request.session.testsfailed > failed_before:  # straight to the terminal: teardown output is not shown
        capture = request.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            print(logs(started))


# --- helpers ----------------------------------------------------------------------------------------------------


def make_phase(index: int) -> tuple[Phase, UtilityCapacity]:
    """A phase demanding 5.0 MVA of power (50,000 m² of offices at 0.1 kVA/m²), with 5.0 MVA committed."""
    phase = PhaseFactory()
    parcel = ParcelFactory(phase=phase, geometry=grid_square(index), max_plot_ratio=Decimal("6"))
    FacilityFactory(parcel=parcel, facility_type=FacilityTypeFactory(), gfa_m2=Decimal("50000"))
    power = UtilityCapacityFactory(phase=phase, kind=UtilityCapacity.Kind.POWER, capacity=Decimal("5.0"))
    return phase, power


def latest_snapshot(phase: Phase) -> ReadinessSnapshot | None:
    return ReadinessSnapshot.objects.filter(phase=phase).order_by("-computed_at", "-id").first()


def recomputed(phase: Phase, *, other_than: ReadinessSnapshot | None = None):
    """A condition: the phase is not stale and its latest snapshot is not `other_than`; returns that snapshot."""

    def check():
        snapshot = latest_snapshot(phase)
        if Phase.objects.get(pk=phase.pk).readiness_stale or snapshot is None:
            return None
        if other_than is not None and snapshot.fingerprint == other_than.fingerprint:
            return None
        return snapshot

    return check


def utilities_text(criteria: list[dict]) -> str:
    found = next(c for c in criteria if c["code"] == "utilities")
    # API answers carry the text; stored snapshots keep the message and its values, put into words when read.
    return " | ".join(
        reason["text"] if "text" in reason else readiness.render_reason(reason) for reason in found["reasons"]
    )


def patch_capacity(api, utility: UtilityCapacity, capacity: str):
    return api.patch(f"/api/v1/utility-capacities/{utility.pk}/", {"capacity": capacity}, format="json")


def waiting_on_a_lock(application_name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s AND wait_event_type = 'Lock'",
            [application_name],
        )
        return cursor.fetchone()[0] > 0


# --- tests ------------------------------------------------------------------------------------------------------


def test_an_edit_through_the_api_reaches_readiness_within_seconds(planner, start_worker):
    phase, power = make_phase(0)  # queues the phase's first recompute; a worker takes it once started
    worker = start_worker()
    first = wait_for(recomputed(phase), "the first recompute", [worker])
    api = api_client_for(planner)
    readiness_url = f"/api/v1/phases/{phase.pk}/readiness/"
    assert "covered by committed supply 5.0 MVA" in utilities_text(first.criteria)
    queued_before = len(worker.received(RECOMPUTE))

    response = patch_capacity(api, power, "4.5")

    assert response.status_code == 200, response.content

    def updated():
        body = api.get(readiness_url).json()
        fresh = not body["stale"] and body["snapshot"]["fingerprint"] != first.fingerprint
        return body if fresh else None

    body = wait_for(updated, "the edit to reach the phase's readiness", [worker])
    assert "Power demand 5.0 MVA exceeds committed supply 4.5 MVA" in utilities_text(body["snapshot"]["criteria"])
    assert len(worker.received(RECOMPUTE)) == queued_before + 1  # one recompute for the edit, through the broker


def test_a_worker_killed_in_the_middle_of_a_recompute_loses_nothing(planner, start_worker):
    phase, power = make_phase(0)
    first_worker = start_worker()
    before = wait_for(recomputed(phase), "the first recompute", [first_worker])
    api = api_client_for(planner)

    # Hold a KEY SHARE lock on the phase's row from a connection of the test's own: the edit's UPDATE of the phase
    # (the stale flag, a non-key column) does not conflict with it, so the edit commits, but the recompute's
    # SELECT ... FOR UPDATE does, so the worker's task stops there, taken from the queue and not acknowledged.
    lock = psycopg.connect(database_url("innopole-test-lock"), autocommit=False)
    try:
        lock.execute("SELECT id FROM planning_phase WHERE id = %s FOR KEY SHARE", [phase.pk]).fetchall()
        response = patch_capacity(api, power, "4.5")
        assert response.status_code == 200, response.content
        wait_for(
            lambda: waiting_on_a_lock(first_worker.application_name),
            "the worker's recompute to wait for the phase's row",
            [first_worker],
        )
        task_id = first_worker.received(RECOMPUTE)[-1]
        first_worker.kill()
        killed_at = time.monotonic()
    finally:
        lock.rollback()
        lock.close()

    assert Phase.objects.get(pk=phase.pk).readiness_stale
    assert latest_snapshot(phase).fingerprint == before.fingerprint

    # Redis gives an unacknowledged task back once it is VISIBILITY_TIMEOUT old, when a worker looks: at its start.
    time.sleep(max(0.0, killed_at + VISIBILITY_TIMEOUT + 1 - time.monotonic()))
    second_worker = start_worker()
    after = wait_for(recomputed(phase, other_than=before), "the recompute to complete", [first_worker, second_worker])

    assert task_id in second_worker.received(RECOMPUTE), "the same task, given back by Redis"
    assert not ReadinessSweep.objects.exists()
    assert not first_worker.received(SWEEP) and not second_worker.received(SWEEP)
    assert "exceeds committed supply 4.5 MVA" in utilities_text(after.criteria)


def test_with_redis_stopped_edits_commit_and_the_sweep_catches_up_after(planner, client, broker, start_worker):
    plans = [make_phase(0), make_phase(1)]
    phases = [phase for phase, _ in plans]
    worker = start_worker()
    before = {p.pk: wait_for(recomputed(p), f"the first recompute of {p}", [worker]) for p in phases}
    counts = {p.pk: p.readiness_snapshots.count() for p in phases}
    api = api_client_for(planner)

    broker.stop()

    assert client.get("/healthz").json()["broker"]["status"] == "error"
    edits = [(plans[0][1], "4.5"), (plans[1][1], "4.0"), (plans[0][1], "4.8")]
    for utility, capacity in edits:
        started = time.monotonic()
        response = patch_capacity(api, utility, capacity)
        assert response.status_code == 200, response.content
        # Not a speed test: a guard against the enqueue hanging on kombu's retries (it gives up within a second).
        assert time.monotonic() - started < 15
    assert UtilityCapacity.objects.get(pk=plans[0][1].pk).capacity == Decimal("4.8")
    assert UtilityCapacity.objects.get(pk=plans[1][1].pk).capacity == Decimal("4.0")
    assert all(Phase.objects.get(pk=p.pk).readiness_stale for p in phases)
    assert {p.pk: latest_snapshot(p).fingerprint for p in phases} == {pk: s.fingerprint for pk, s in before.items()}
    assert {p.pk: p.readiness_snapshots.count() for p in phases} == counts

    broker.start()  # empty: Redis keeps nothing on disk, so whatever was queued before is gone too
    sweep_stale_readiness.delay()  # what beat sends every READINESS_SWEEP_SECONDS

    after = {p.pk: wait_for(recomputed(p, other_than=before[p.pk]), f"{p} caught up", [worker]) for p in phases}
    assert "exceeds committed supply 4.8 MVA" in utilities_text(after[phases[0].pk].criteria)
    assert "exceeds committed supply 4.0 MVA" in utilities_text(after[phases[1].pk].criteria)
    sweep = wait_for(ReadinessSweep.objects.filter(kind=ReadinessSweep.Kind.STALE).first, "the sweep's record")
    assert sweep.phases == 2
    health = client.get("/healthz").json()
    assert health["broker"]["status"] == "ok" and health["last_readiness_sweep"]["stale_phases"] == 0
    assert django_settings.CELERY_BEAT_SCHEDULE["readiness-sweep-stale"]["task"] == SWEEP
