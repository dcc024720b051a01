"""Background jobs of planning: a few lines around a service each. Tasks take ids and are safe to run twice."""

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from . import services
from .models import Phase

RETRY = {"autoretry_for": (Exception,), "retry_backoff": True, "retry_backoff_max": 300, "max_retries": 8}
LAST_SWEEP_KEY = "readiness:last-sweep"


@shared_task(acks_late=True, **RETRY)
def recompute_phase_readiness(phase_id: int) -> str | None:
    """Recompute one phase (queued after a change; a second run finds the same fingerprint and stores nothing)."""
    cache.delete(services.PENDING_KEY.format(phase_id))
    phase = Phase.objects.filter(pk=phase_id).first()
    if phase is None:
        return None  # deleted since: nothing to do
    return services.readiness_recompute(phase=phase).state


@shared_task(acks_late=True, **RETRY)
def sweep_stale_readiness() -> int:
    """Recompute every stale phase (catches up after a broker outage or a lost task). Periodic."""
    count = 0
    for phase in Phase.objects.filter(readiness_stale=True).order_by("pk"):
        services.readiness_recompute(phase=phase)
        count += 1
    cache.set(LAST_SWEEP_KEY, timezone.now().isoformat(), None)
    return count


@shared_task(acks_late=True, **RETRY)
def recompute_all_readiness() -> int:
    """Recompute every phase: dates move on (a milestone becomes overdue with no change to any row). Nightly."""
    count = 0
    for phase in Phase.objects.order_by("pk"):
        services.readiness_recompute(phase=phase)
        count += 1
    cache.set(LAST_SWEEP_KEY, timezone.now().isoformat(), None)
    return count
