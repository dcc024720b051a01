"""A counter of changes to the data, for caches of figures computed from it.

A cache keyed by `generation()` is never older than the data it summarises: every committed change moves the
counter on (`changed()`, called by the model signals a consumer connects and by the writes that send none — bulk
updates of flags and of the schedule's results), and a key built on the old value is never read again. The counter
lives in the cache itself, so every process that shares the cache (Redis in production) sees the same one; it
starts from the clock, so a counter lost with an evicted or restarted cache cannot come back to a value an older
entry was stored under.
"""

import time

from django.core.cache import cache
from django.db import transaction

KEY = "data-generation"


def generation() -> int:
    """The current value of the counter (set from the clock when the cache has none)."""
    value = cache.get(KEY)
    if value is None:
        cache.add(KEY, time.time_ns(), None)
        value = cache.get(KEY)
    return value


def changed(*args, using: str | None = None, **kwargs) -> None:
    """Move the counter on once the current transaction commits (at once outside one; never if it rolls back).

    Takes and ignores a signal's arguments, so it can be connected to `post_save` and `post_delete` directly."""
    transaction.on_commit(_bump, using=using, robust=True)


def _bump() -> None:
    try:
        cache.incr(KEY)
    except ValueError:  # no counter (evicted, or never read): a fresh one from the clock is past every old value
        cache.set(KEY, time.time_ns(), None)
