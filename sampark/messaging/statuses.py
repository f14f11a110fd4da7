"""Provider statuses applied to deliveries: queued by the webhook, applied in batches by a worker loop.

The webhook's part is :func:`enqueue`: one insert of what the provider reported into
:class:`QueuedStatus`, then 200. The ``messaging.statuses`` loop of the worker (:func:`drain_loop`)
applies the queue oldest first in set-based batches (:func:`drain`): one ``executemany`` of guarded
UPDATEs per batch, in the transaction that deletes the batch from the queue. A webhook therefore costs
one small write whatever the delivery table holds, and a status reaches its row within the loop's
interval plus one batch (``SAMPARK_STATUS_DRAIN_SECONDS``; bench/webhooks.py measures the lag).

Applying is monotonic and idempotent: a status only moves a row forward (sent → delivered → read; a
late "delivered" never undoes "read", a replay changes nothing), and "read" implies "delivered" (a
read that arrives first stamps ``delivered_at`` too, with the read's time: delivered at the latest
then). "failed" ends a row that was only sent; when a batch holds both a progress status and a failure
for one id, the progress wins (a delivered message did not fail). A status for an id we have not
recorded yet (a fast provider reports before the worker writes the id it got back) waits in
:class:`EarlyStatus`, once per id and status however often it is replayed, and is applied when the send
is recorded; ids that never appear are purged after a day.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from sampark.core.db import GroupedInsert, short_write
from sampark.transports.events import StatusEvent

from .models import Delivery, EarlyStatus, QueuedStatus

logger = logging.getLogger(__name__)

Status = Delivery.Status
RANK = {"sent": Status.SENT, "delivered": Status.DELIVERED, "read": Status.READ, "failed": Status.FAILED}
LABEL: dict[int, str] = {int(rank): name for name, rank in RANK.items()}
_CHUNK = 500  # ids per existence query: far below every backend's parameter limit
# Early statuses whose delivery row turned up without the dispatcher applying them (it checked before the
# webhook's transaction committed, on PostgreSQL) are picked up by the loop this often.
_SETTLE_EVERY_S = 30.0


# Raw SQL on purpose: this runs once per status webhook (thousands a second in a campaign) and the ORM's
# bulk_create cost more than the insert itself. Grouped: concurrent webhooks of a process share a commit.
# Not durable on PostgreSQL (decision 0005 §6): a status report is worth less than its wait for an fsync.
_QUEUE = GroupedInsert(
    f"INSERT INTO {QueuedStatus._meta.db_table} "
    "(channel, provider_message_id, status, at, error_code, error_reason, received_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s)",
    durable=False,
)


def enqueue(events: Sequence[StatusEvent]) -> int:
    """Queue a webhook's statuses for :func:`drain`; returns how many. Returns once they are committed."""
    adapt = connections[DEFAULT_DB_ALIAS].ops.adapt_datetimefield_value
    now = adapt(timezone.now())
    rows = [
        (
            event.channel[:10],
            event.provider_message_id[:128],
            int(RANK[event.status]),
            adapt(event.at),
            event.error_code[:20],
            event.error_reason[:300],
            now,
        )
        for event in events
        if event.provider_message_id and event.status in RANK
    ]
    if not rows:
        return 0
    _QUEUE.insert(rows)
    return len(rows)


# A status as the queue stores it: (channel, provider id, rank, at, error code, error reason), with
# ``at`` in the database's own form (a string on SQLite, a datetime on PostgreSQL). The drain applies
# rows as it reads them: converting every time to a datetime and back was a third of its CPU.
_Row = tuple[str, str, int, Any, str, str]


@dataclass(slots=True)
class _Target:
    """Everything a batch says about one provider message id, folded together (times in stored form:
    within one backend they order as the datetimes do)."""

    rank: int = 0  # the furthest progress status (sent/delivered/read), 0 for none
    sent_at: Any = None
    delivered_at: Any = None
    read_at: Any = None
    failure: _Row | None = None  # the earliest "failed"


def _earliest(current: Any, at: Any) -> Any:
    return at if current is None or at < current else current


def _fold(rows: Iterable[_Row]) -> tuple[dict[tuple[str, str], _Target], list[_Row]]:
    targets: dict[tuple[str, str], _Target] = {}
    kept: list[_Row] = []
    sent, delivered, failed = int(Status.SENT), int(Status.DELIVERED), int(Status.FAILED)
    for row in rows:
        channel, provider_id, rank, at = row[0], row[1], row[2], row[3]
        if rank not in LABEL or not provider_id:
            continue
        kept.append(row)
        target = targets.get((channel, provider_id))
        if target is None:
            target = targets[(channel, provider_id)] = _Target()
        if rank == failed:
            if target.failure is None or at < target.failure[3]:
                target.failure = row
            continue
        if rank > target.rank:
            target.rank = rank
        if rank == sent:
            target.sent_at = _earliest(target.sent_at, at)
        elif rank == delivered:
            target.delivered_at = _earliest(target.delivered_at, at)
        else:
            target.read_at = _earliest(target.read_at, at)
    for target in targets.values():
        if target.read_at is not None and target.delivered_at is None:
            target.delivered_at = target.read_at  # read implies delivered: at the latest when it was read
    return targets, kept


def _placeholders(n: int) -> str:
    return ", ".join(["%s"] * n)


def _known(cursor: Any, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (channel, provider id) pairs a delivery has. Raw SQL: the ORM's ``__in`` took
    longer to prepare its parameters than the database took to answer."""
    by_channel: dict[str, list[str]] = {}
    for channel, provider_id in keys:
        by_channel.setdefault(channel, []).append(provider_id)
    known: set[tuple[str, str]] = set()
    d = Delivery._meta.db_table
    for channel, ids in by_channel.items():
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            cursor.execute(
                f"SELECT provider_message_id FROM {d} WHERE channel = %s "
                f"AND provider_message_id IN ({_placeholders(len(chunk))})",
                [channel, *chunk],
            )
            known.update((channel, provider_id) for (provider_id,) in cursor.fetchall())
    return known


def _stored(events: Iterable[StatusEvent]) -> list[_Row]:
    adapt = connection.ops.adapt_datetimefield_value
    return [
        (
            e.channel,
            e.provider_message_id[:128],
            int(RANK[e.status]),
            adapt(e.at),
            e.error_code,
            e.error_reason,
        )
        for e in events
        if e.status in RANK and e.provider_message_id
    ]


def apply_statuses(events: Iterable[StatusEvent]) -> int:
    """Apply statuses now, set-based, in one transaction (the caller's, if one is open); returns how
    many rows moved. Statuses for ids no delivery has yet wait in :class:`EarlyStatus`."""
    return _apply(_stored(events))


def _apply(rows: Iterable[_Row]) -> int:
    targets, kept = _fold(rows)
    if not targets:
        return 0
    d = Delivery._meta.db_table
    progress = [
        (t.rank, t.sent_at, t.delivered_at, t.read_at, channel, provider_id, t.rank)
        for (channel, provider_id), t in targets.items()
        if t.rank
    ]
    failures = [
        (
            Status.FAILED,
            t.failure[3],
            t.failure[4][:20],
            t.failure[5][:300],
            channel,
            provider_id,
            Status.SENT,
        )
        for (channel, provider_id), t in targets.items()
        if t.failure is not None
    ]
    moved = 0
    with short_write(), connection.cursor() as cursor:
        known = _known(cursor, targets)
        # Forward only: the guard ``status < new`` makes a replay or a late status change nothing; the
        # COALESCEs keep the first time each stage was reported.
        if progress:
            cursor.executemany(
                f"""UPDATE {d} SET status = %s, sent_at = COALESCE(sent_at, %s),
                    delivered_at = COALESCE(delivered_at, %s), read_at = COALESCE(read_at, %s)
                    WHERE channel = %s AND provider_message_id = %s AND status < %s""",
                progress,
            )
            moved += max(cursor.rowcount, 0)
        if failures:
            cursor.executemany(
                f"""UPDATE {d} SET status = %s, failed_at = %s, error_code = %s, error_reason = %s
                    WHERE channel = %s AND provider_message_id = %s AND status = %s""",
                failures,
            )
            moved += max(cursor.rowcount, 0)
        early = _early_rows(row for row in kept if (row[0], row[1]) not in known)
        if early:
            EarlyStatus.objects.bulk_create(early, ignore_conflicts=True)
    return moved


def _as_datetime(stored: Any) -> datetime.datetime:
    """A time in the database's stored form as an aware datetime (Django stores UTC)."""
    if isinstance(stored, datetime.datetime):
        return stored if timezone.is_aware(stored) else stored.replace(tzinfo=datetime.UTC)
    parsed = parse_datetime(str(stored))
    if parsed is None:
        raise ValueError(f"not a stored time: {stored!r}")
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=datetime.UTC)


def _early_rows(rows: Iterable[_Row]) -> list[EarlyStatus]:
    """One waiting row per (channel, id, status), the earliest report of each."""
    now = timezone.now()
    earliest: dict[tuple[str, str, int], _Row] = {}
    for row in rows:
        key = (row[0], row[1], row[2])
        if key in earliest and earliest[key][3] <= row[3]:
            continue
        earliest[key] = row
    return [
        EarlyStatus(
            channel=channel,
            provider_message_id=provider_id,
            status=rank,
            at=_as_datetime(at),
            error_code=code[:20],
            error_reason=reason[:300],
            received_at=now,
        )
        for (channel, provider_id, rank, at, code, reason) in earliest.values()
    ]


def drain(*, limit: int | None = None) -> int:
    """Apply up to ``limit`` queued statuses, oldest first, and remove them from the queue, in one
    transaction; returns how many were taken (0: the queue is empty). Tests call this to see what
    their webhooks queued applied; the worker's loop calls it over and over."""
    limit = limit or settings.SAMPARK_STATUS_DRAIN_BATCH
    q = QueuedStatus._meta.db_table
    # Several workers drain at once on PostgreSQL: each takes rows the others do not hold.
    skip_locked = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    with short_write(), connection.cursor() as cursor:
        # Raw SQL, times left as stored: this runs for every status a campaign gets back (three per
        # message), and the ORM's row and datetime conversions were most of its cost.
        cursor.execute(
            f"SELECT id, channel, provider_message_id, status, at, error_code, error_reason FROM {q} "
            f"ORDER BY id LIMIT %s{skip_locked}",
            [limit],
        )
        batch = cursor.fetchall()
        if not batch:
            return 0
        _apply([row[1:] for row in batch])
        ids = [row[0] for row in batch]
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            cursor.execute(f"DELETE FROM {q} WHERE id IN ({_placeholders(len(chunk))})", chunk)
    return len(batch)


def drain_loop(stop: threading.Event) -> None:
    """The worker's ``messaging.statuses`` loop: drain until the queue is empty, then wait a moment."""
    limit = settings.SAMPARK_STATUS_DRAIN_BATCH
    settled = time.monotonic()
    while not stop.is_set():
        connection.close_if_unusable_or_obsolete()
        taken = drain(limit=limit)
        if time.monotonic() - settled >= _SETTLE_EVERY_S:
            settle_early()
            settled = time.monotonic()
        if taken < limit:
            stop.wait(settings.SAMPARK_STATUS_DRAIN_SECONDS)
    connection.close()


def backlog() -> int:
    """Statuses received and not applied yet."""
    return QueuedStatus.objects.count()


def apply_early(channel: str, provider_ids: list[str]) -> int:
    """Apply (and forget) statuses that arrived before these ids were recorded. Inside the caller's
    transaction; a cheap no-op when nothing is waiting (the usual case)."""
    if not provider_ids or not EarlyStatus.objects.filter(channel=channel).exists():
        return 0
    waiting = list(EarlyStatus.objects.filter(channel=channel, provider_message_id__in=provider_ids))
    return _apply_waiting(waiting)


def settle_early(*, limit: int = 1000) -> int:
    """Apply waiting statuses whose delivery row exists by now (the dispatcher looked for them before
    the webhook's transaction had committed); returns how many."""
    with transaction.atomic():
        waiting = list(
            EarlyStatus.objects.filter(
                Exists(
                    Delivery.objects.filter(
                        channel=OuterRef("channel"), provider_message_id=OuterRef("provider_message_id")
                    )
                )
            )[:limit]
        )
        return _apply_waiting(waiting)


def _apply_waiting(waiting: list[EarlyStatus]) -> int:
    if not waiting:
        return 0
    apply_statuses(
        StatusEvent(w.channel, w.provider_message_id, LABEL[w.status], w.at, w.error_code, w.error_reason)
        for w in waiting
    )
    EarlyStatus.objects.filter(pk__in=[w.pk for w in waiting]).delete()
    return len(waiting)


def purge_early(*, older_than: datetime.timedelta = datetime.timedelta(days=1)) -> int:
    return EarlyStatus.objects.filter(received_at__lt=timezone.now() - older_than).delete()[0]
