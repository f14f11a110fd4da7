"""The ticker loop: publish due ticks the moment they fall due, for a bounded time.

One loop runs at a time, holding the :class:`TickerLease` row (renewed every turn, a few seconds
long). Between turns it sleeps until the earliest due tick, but never more than ``POLL_S`` (so new
and resumed streams are noticed): publication is at most ~``POLL_S`` late only when a stream was
created or resumed mid-sleep, otherwise within a few milliseconds of its due time.
"""

from __future__ import annotations

import datetime
import os
import socket
import time
import uuid
from collections.abc import Callable

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import services
from .models import TickerLease

POLL_S = 0.5
LEASE_S = 5.0
OWNER = f"{socket.gethostname()[:20]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def take_lease(owner: str, now: datetime.datetime) -> bool:
    """Hold (or renew) the ticker lease; False if another live loop holds it."""
    until = now + datetime.timedelta(seconds=LEASE_S)
    with transaction.atomic():
        TickerLease.objects.get_or_create(pk=1)
        taken = TickerLease.objects.filter(
            Q(owner=owner) | Q(until__isnull=True) | Q(until__lt=now), pk=1
        ).update(owner=owner, until=until)
    return taken == 1


def release_lease(owner: str) -> None:
    TickerLease.objects.filter(pk=1, owner=owner).update(until=None)


def lease_free(now: datetime.datetime) -> bool:
    lease = TickerLease.objects.filter(pk=1).first()
    return lease is None or lease.until is None or lease.until < now


def run(
    *,
    seconds: float,
    owner: str = OWNER,
    clock: Callable[[], datetime.datetime] = timezone.now,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> int:
    """Publish due ticks for ``seconds``; returns how many. Stops early if the lease is lost."""
    end = monotonic() + seconds
    published = 0
    try:
        while monotonic() < end:
            now = clock()
            if not take_lease(owner, now):
                break
            published += len(services.publish_due(now=now, clock=clock))
            nxt = services.next_due_at()
            wait = POLL_S if nxt is None else (nxt - clock()).total_seconds()
            sleep(min(POLL_S, max(0.0, wait), max(0.0, end - monotonic())))
    finally:
        release_lease(owner)
    return published
