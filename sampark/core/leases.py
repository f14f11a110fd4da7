"""Named leases in the database: one holder at a time for once-per-deployment work.

``take`` both acquires and renews: it succeeds when the caller already holds the lease, or nobody
does, or the holder let it expire (its process died or hung). Each call is one guarded ``UPDATE``, so
two contenders on any number of machines never both succeed. Owners name one run of the work
(:func:`new_owner`), so a process that starts the work twice holds it at most once.
"""

from __future__ import annotations

import datetime
import os
import socket
import threading
import uuid

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from .models import Lease

# What this process believes it holds: lease name -> {owner: until}. A belief ends when the lease is
# released, lost, or its time runs out without a renewal (the worker's status file reports it; the soak
# test checks that across processes no two runs believe they hold one lease at once).
_held: dict[str, dict[str, datetime.datetime]] = {}
_held_lock = threading.Lock()


def _believe(name: str, owner: str, until: datetime.datetime | None) -> bool:
    with _held_lock:
        if until is not None:
            _held[name] = {owner: until}  # whoever took it, nobody else holds it now
        else:
            _held.setdefault(name, {}).pop(owner, None)
    return until is not None


def held(*, now: datetime.datetime | None = None) -> dict[str, list[str]]:
    """The leases this process's runs currently believe they hold (and whose time has not run out)."""
    now = now or timezone.now()
    with _held_lock:
        result = {
            name: sorted(o for o, until in owners.items() if until >= now) for name, owners in _held.items()
        }
    return {name: owners for name, owners in result.items() if owners}


def new_owner(name: str) -> str:
    """A fresh owner id for one run of ``name``: host, process, and a random part."""
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:10]}"


def take(name: str, owner: str, *, seconds: float, now: datetime.datetime | None = None) -> bool:
    """Hold (or renew) lease ``name`` for ``seconds`` from ``now``; False if another owner holds it."""
    now = now or timezone.now()
    until = now + datetime.timedelta(seconds=seconds)
    renewed = Lease.objects.filter(name=name, owner=owner, until__gte=now).update(until=until)
    if renewed:
        return _believe(name, owner, until)
    free = Q(until__isnull=True) | Q(until__lt=now) | Q(owner=owner)
    taken = Lease.objects.filter(free, name=name).update(
        owner=owner, until=until, taken_at=now, takeovers=F("takeovers") + 1
    )
    if taken:
        return _believe(name, owner, until)
    if Lease.objects.filter(name=name).exists():
        return _believe(name, owner, None)
    try:
        with transaction.atomic():
            Lease.objects.create(name=name, owner=owner, until=until, taken_at=now, takeovers=1)
    except IntegrityError:  # another contender created it first
        return _believe(name, owner, None)
    return _believe(name, owner, until)


def release(name: str, owner: str) -> None:
    """Give the lease up at once (a clean stop or a handover): the next contender need not wait."""
    _believe(name, owner, None)
    Lease.objects.filter(name=name, owner=owner).update(until=None)


def holder(name: str, *, now: datetime.datetime | None = None) -> str | None:
    """The live holder of ``name``, if any."""
    now = now or timezone.now()
    lease = Lease.objects.filter(name=name).first()
    if lease is None or lease.until is None or lease.until < now:
        return None
    return lease.owner
