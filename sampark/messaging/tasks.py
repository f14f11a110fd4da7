"""Background work of messaging. Tasks take channel names or ids, never objects, and call services.

``dispatch`` works one channel for a bounded time and then hands over (unless the worker is stopping): to itself again at once when
rows are still due, or scheduled for when the next retry falls due. Several may run at once (two
consumers, several workers): each claims different rows. ``sweep`` (every minute) re-queues expired
leases, starts scheduled broadcasts and kicks every channel with due rows, so a lost enqueue or a
killed worker delays a message by at most a minute and loses nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from django.db import close_old_connections
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from sampark.core import shutdown

from . import dispatch as dispatcher
from . import services, statuses
from .models import Delivery

log = logging.getLogger(__name__)


def kick(channels: Iterable[str]) -> None:
    """Start (or add) a dispatch run for each channel. Call after commit."""
    for channel in sorted(set(channels)):
        dispatch(channel)


# One dispatch run per channel at a time in this process. Kicks come from every broadcast and from the
# minute sweep; without this, each added a chain of runs that handed over to itself, and a long
# broadcast on one channel took every task thread — a broadcast on another channel then waited for a
# free one (starved by periodic work). A kick that finds its channel busy leaves a note instead; the
# run in progress sees it when it ends and hands over, so no kick is ever lost.
_running: set[str] = set()
_kicked: set[str] = set()
_flight = threading.Lock()


def _begin(channel: str) -> bool:
    with _flight:
        if channel in _running:
            _kicked.add(channel)
            return False
        _running.add(channel)
        _kicked.discard(channel)
        return True


def _end(channel: str) -> bool:
    """Leave the channel; True if a kick arrived meanwhile (new rows may have missed this run)."""
    with _flight:
        _running.discard(channel)
        kicked = channel in _kicked
        _kicked.discard(channel)
        return kicked


@db_task(retries=0)
def dispatch(channel: str) -> dict[str, int]:
    if not _begin(channel):
        return {"claimed": 0, "sent": 0, "retried": 0, "failed": 0}
    try:
        stats = dispatcher.dispatch_channel(channel)
    finally:
        kicked = _end(channel)
    now = timezone.now()
    # Stopping: hand nothing over (the next worker's sweep kicks every channel with due rows).
    if not stats.paused_sender and not shutdown.stopping():
        # After a kick during the run, look again: its rows may have been committed after the run's
        # last look.
        due = dispatcher.next_due(channel) if kicked else stats.next_due
        if due is None:
            pass
        elif due <= now and (stats.claimed or kicked):
            dispatch(channel)  # more is due: hand over to a fresh task (others get a turn between)
        elif due > now:
            dispatch.schedule((channel,), eta=due)
        elif stats.held_until is not None:
            # Due but held back (night silence, the SMS window, a recipient's turn): come back then.
            dispatch.schedule((channel,), eta=max(stats.held_until, now))
    if stats.claimed:
        log.info(
            "dispatch %s: %d claimed, %d sent, %d retried, %d failed in %.1f s (window %d)",
            channel,
            stats.claimed,
            stats.sent,
            stats.retried,
            stats.failed,
            stats.seconds,
            stats.window,
        )
    return {"claimed": stats.claimed, "sent": stats.sent, "retried": stats.retried, "failed": stats.failed}


@db_periodic_task(crontab(minute="*"))
def sweep() -> int:
    close_old_connections()
    requeued = dispatcher.sweep()
    services.start_due_broadcasts()
    due = (
        Delivery.objects.filter(status=Delivery.Status.QUEUED, next_attempt_at__lte=timezone.now())
        .order_by()
        .values_list("channel", flat=True)
        .distinct()
    )
    kick(list(due))
    if requeued:
        log.warning("sweep: re-queued %d deliveries whose lease expired", requeued)
    return requeued


@db_periodic_task(crontab(minute="17"))
def purge_early_statuses() -> int:
    return statuses.purge_early()
