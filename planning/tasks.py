"""Background jobs of planning: a few lines around a service each. Tasks take ids and are safe to run twice.

Retries: only on errors that can pass by themselves — the database or the broker/cache unreachable or restarting
(`TRANSIENT_ERRORS`) — with exponential back-off. Any other exception is a bug or bad data: retrying it would turn
one clear failure into minutes of noise, so the task fails at once (and the periodic sweep tries the phase again).
"""

from celery import shared_task
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import services
from .models import Phase, ReadinessSweep

TRANSIENT_ERRORS = (
    DatabaseOperationalError,  # connection lost, server restarting, lock or statement timeout, serialisation
    DatabaseInterfaceError,  # connection already closed
    BrokerOperationalError,  # the broker unreachable
    RedisConnectionError,  # the cache (Redis) unreachable
    RedisTimeoutError,
)
RETRY = {"autoretry_for": TRANSIENT_ERRORS, "retry_backoff": True, "retry_backoff_max": 300, "max_retries": 8}


@shared_task(acks_late=True, **RETRY)
def recompute_phase_readiness(phase_id: int) -> str | None:
    """Recompute one phase queued after a change, unless it is no longer stale: a recompute since then covered it
    (a recompute holds the phase's row lock, which every change marking it stale waits for). Tasks run in-process
    (`make run`, tests) otherwise ran once per change of a transaction that touched a phase many times."""
    services.readiness_unqueue(phase_id=phase_id)
    phase = Phase.objects.filter(pk=phase_id).first()
    if phase is None:
        return None  # deleted since: nothing to do
    if not phase.readiness_stale:
        return None
    return services.readiness_recompute(phase=phase).state


@shared_task(acks_late=True, **RETRY)
def sweep_stale_readiness() -> int:
    """Recompute every stale phase (catches up after a broker outage or a lost task). Every minute."""
    return services.readiness_sweep(kind=ReadinessSweep.Kind.STALE)


@shared_task(acks_late=True, **RETRY)
def recompute_all_readiness() -> int:
    """Recompute every phase, its schedule first: dates move on (work not done is forecast from today, an item
    becomes overdue with no change to any row). Nightly."""
    return services.readiness_sweep(kind=ReadinessSweep.Kind.ALL)
