"""The readiness tasks' retry policy: errors that can pass are retried, programming errors fail at once.

The tasks run in Celery's eager mode (as in every test), where a retry re-runs the task in-process: counting the
runs shows the policy without a broker. The errors are real ones, raised by the database, not mocked.
"""

import psycopg
import pytest
from celery.signals import task_prerun
from django.db import OperationalError, connection

from innopole.celery import app as celery_app
from planning.models import Phase
from planning.tasks import RETRY, recompute_phase_readiness
from tests.factories import PhaseFactory


@pytest.fixture
def runs():
    """The task ids of every run of `recompute_phase_readiness` (a retry is one more run)."""
    seen: list[str] = []

    def record(sender=None, task_id=None, **kwargs):
        if sender.name == recompute_phase_readiness.name:
            seen.append(task_id)

    # An eager retry re-applies the task with the app's default `throw`: keep every outcome in the result instead.
    propagates = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    task_prerun.connect(record, weak=False)
    yield seen
    task_prerun.disconnect(record)
    celery_app.conf.task_eager_propagates = propagates


@pytest.mark.django_db
def test_a_programming_error_fails_at_once_without_a_retry(runs):
    # A phase id that is not a number: Django raises ValueError, the kind of bug no retry can cure.
    result = recompute_phase_readiness.apply(args=["phase-one"])

    assert result.state == "FAILURE" and isinstance(result.result, ValueError)
    assert len(runs) == 1


@pytest.mark.django_db(transaction=True)
def test_a_database_error_that_can_pass_is_retried_with_back_off(runs):
    phase = PhaseFactory()
    runs.clear()  # the recompute its creation queued (committed at once here) ran already
    Phase.objects.filter(pk=phase.pk).update(readiness_stale=True)  # as a change committed since would leave it
    # Another session holds the phase's row lock, and ours gives up waiting at once: PostgreSQL's
    # lock_not_available, which Django raises as OperationalError (it passes once the other session commits).
    params = connection.get_connection_params()
    holder = psycopg.connect(
        **{k: v for k, v in params.items() if k in {"host", "port", "user", "password", "dbname"}}, autocommit=False
    )
    try:
        holder.execute(f"SELECT 1 FROM {Phase._meta.db_table} WHERE id = %s FOR UPDATE", [phase.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '50ms'")
        result = recompute_phase_readiness.apply(args=[phase.pk])
    finally:
        holder.rollback()
        holder.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")

    assert result.state == "FAILURE" and isinstance(result.result, OperationalError)
    assert "lock timeout" in str(result.result)
    assert len(runs) == 1 + RETRY["max_retries"]
    assert RETRY["retry_backoff"] and RETRY["retry_backoff_max"] == 300


@pytest.mark.django_db(transaction=True)
def test_a_task_for_a_phase_a_recompute_has_covered_since_does_nothing(runs):
    phase = PhaseFactory()  # its creation's recompute ran on commit: the phase is no longer stale
    assert Phase.objects.get(pk=phase.pk).readiness_stale is False
    snapshots = phase.readiness_snapshots.count()

    assert recompute_phase_readiness.apply(args=[phase.pk]).result is None
    assert phase.readiness_snapshots.count() == snapshots

    Phase.objects.filter(pk=phase.pk).update(readiness_stale=True)
    assert recompute_phase_readiness.apply(args=[phase.pk]).result is not None
    assert Phase.objects.get(pk=phase.pk).readiness_stale is False
