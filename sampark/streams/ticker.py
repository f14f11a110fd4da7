"""The stream ticker: publish due ticks the moment they fall due, once per deployment.

:func:`serve` is a worker loop (registered with :mod:`sampark.core.loops`, run by ``sampark worker`` in
a thread of its own, never a Huey task). Every worker process runs one, and they contend for the
``streams.ticker`` lease; the holder publishes, the others wait to take over. Each *run* of the loop
has its own owner id, so one process can never hold the lease twice over.

The holder sleeps until the earliest due tick, waking early only to renew its lease (every third of
its length), when a stream is created or resumed (:func:`wake`, called by a task), or to stop. With no
stream due it makes one query per renewal, not one every half second. After
``SAMPARK_TICKER_HANDOVER_SECONDS`` it releases the lease and contends again with a fresh owner id:
the takeover path then runs every few minutes in every deployment, not only on the rare day a worker
dies.
"""

from __future__ import annotations

import datetime
import logging
import random
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from sampark.core import leases

from . import services, wakeup

log = logging.getLogger(__name__)
LEASE = "streams.ticker"

_wake = wakeup.event


def wake() -> None:
    """Make this process's ticker look at the streams now (a stream was created or resumed)."""
    _wake.set()


def take_lease(owner: str, now: datetime.datetime) -> bool:
    return leases.take(LEASE, owner, seconds=settings.SAMPARK_LEASE_SECONDS, now=now)


def release_lease(owner: str) -> None:
    leases.release(LEASE, owner)


def lease_free(now: datetime.datetime) -> bool:
    return leases.holder(LEASE, now=now) is None


def run(
    *,
    seconds: float,
    owner: str,
    stop: threading.Event | None = None,
    clock: Callable[[], datetime.datetime] = timezone.now,
    sleep: Callable[[float], object] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> int:
    """Hold the lease and publish due ticks for up to ``seconds``; returns how many were published.

    Returns early when the lease is held by someone else (or lost) or ``stop`` is set. ``sleep`` waits
    up to its argument (default: on the wake event, so :func:`wake` and stop interrupt it)."""
    stop = stop or threading.Event()
    renew_every = settings.SAMPARK_LEASE_SECONDS / 3

    def default_sleep(s: float) -> None:
        # In slices, so a stop is seen within a quarter of a second (no query is made meanwhile).
        deadline = monotonic() + s
        while not stop.is_set() and not _wake.is_set() and monotonic() < deadline:
            _wake.wait(min(0.25, max(0.0, deadline - monotonic())))
        _wake.clear()

    nap = sleep or default_sleep
    end = monotonic() + seconds
    published = 0
    renewed_at: float | None = None
    try:
        while monotonic() < end and not stop.is_set():
            if renewed_at is None or monotonic() - renewed_at >= renew_every:
                if not take_lease(owner, clock()):
                    break
                renewed_at = monotonic()
            published += len(services.publish_due(clock=clock))
            nxt = services.next_due_at()
            wait = renew_every if nxt is None else (nxt - clock()).total_seconds()
            until_renewal = renew_every - (monotonic() - renewed_at)
            nap(max(0.0, min(wait, until_renewal, end - monotonic())))
    finally:
        if renewed_at is not None:
            release_lease(owner)
    return published


def serve(stop: threading.Event) -> None:
    """The worker loop: contend for the lease; while holding it, publish; hand over now and then."""
    while not stop.is_set():
        close_old_connections()
        owner = leases.new_owner(LEASE)
        published = run(seconds=settings.SAMPARK_TICKER_HANDOVER_SECONDS, owner=owner, stop=stop)
        if published:
            log.info("ticker %s published %d ticks", owner, published)
        # Holding or not, wait a little before contending again: a holder that just handed over
        # gives the others a chance, and a waiting process asks again before the holder's lease
        # could expire unseen.
        _wait(stop, random.uniform(0.2, 0.5) * settings.SAMPARK_LEASE_SECONDS / 3)


def _wait(stop: threading.Event, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < deadline:
        _wake.wait(min(0.25, max(0.0, deadline - time.monotonic())))
        if _wake.is_set() and not stop.is_set():
            return
