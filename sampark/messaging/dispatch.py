"""The dispatcher: claim due outbox rows under a lease, send them under the sender's rate limit, record.

Every message that leaves goes through here — a broadcast's deliveries, replies, and address rows such
as Telegram channel posts (see :class:`~sampark.messaging.models.Delivery`) — with one claim, one
retry policy (:func:`backoff`, ``retry_after``, ``SAMPARK_DISPATCH_MAX_ATTEMPTS``) and one sweep.

One call of :func:`dispatch_channel` works one channel for a bounded time:

    claim a lot ──► Sender (event loop thread: up to a window in flight, a permit per request)
        ▲                 │ outcomes, as each response arrives
        └── refill ◄── record every ~100 ms (this thread, one transaction per group)

Rows are claimed by flipping them QUEUED → SENDING with this worker's lease in one statement (a guarded
``UPDATE … WHERE status = 0`` on SQLite, whose writers are serialised; ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), so two workers never hold the same row. Outcomes are committed in small groups as they
come (every ``SAMPARK_DISPATCH_RECORD_SECONDS`` or half the concurrency's worth, whichever is first),
so a worker killed at any instant re-sends at most what was in flight or not yet recorded then (the
sender's window: ``SAMPARK_DISPATCH_CONCURRENCY``, grown to what the rate needs at the latency seen,
at most ``SAMPARK_DISPATCH_MAX_IN_FLIGHT``; see :class:`~sampark.messaging.sending.Window`); the sweeper re-queues its expired leases and marks them
``maybe_duplicate`` (with an ``expired`` attempt row), since any of them may have gone out. A live
run renews its leases every third of their length, so only a dead or hung worker's rows expire. Lots are
small (twice the reserve — 0.25 s of sending at the sender's rate, at least ``concurrency`` — refilled
when fewer than the reserve wait) so few rows are held unsent.

Database work stays on the calling thread (and so in its transaction and connection); the sends run on
an asyncio loop in a helper thread (:mod:`sampark.messaging.sending`). A stop request
(:func:`sampark.core.shutdown.stopping`) ends a run within the grace: nothing more is claimed or sent,
sends in flight get ``SAMPARK_DISPATCH_STOP_GRACE_SECONDS`` to finish, the rest are cut off and
re-queued as possible duplicates, and rows claimed but never sent are released.
"""

from __future__ import annotations

import datetime
import logging
import math
import os
import queue
import random
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from sampark.core import shutdown
from sampark.core.bulk import BulkInserter
from sampark.core.db import short_write
from sampark.transports import registry
from sampark.transports.base import Outgoing, Transport, TransportError

from . import rate, statuses
from .models import Broadcast, Delivery, DeliveryAttempt, Message
from .sending import Outcome, Sender, SendLoop

__all__ = ["Claimed", "DispatchStats", "Outcome", "claim", "dispatch_channel", "record", "release", "sweep"]

log = logging.getLogger(__name__)
Status = Delivery.Status
Clock = Callable[[], datetime.datetime]

WORKER = f"{socket.gethostname()[:16]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
BACKOFF_CAP_S = 3600.0
RESERVE_S = 0.25  # claimed rows kept waiting for the sender: this long of sending at its rate


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    broadcast_id: int | None
    language: str
    text: str
    address: str
    attempts: int
    link: str = ""
    media_url: str = ""


@dataclass
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cut_off: int = 0  # in flight when a stop's grace ran out: re-queued as possible duplicates
    released: int = 0  # claimed but never sent (a pause, a stop): back in the queue untouched
    paused_sender: bool = False
    stopped: bool = False  # ended early by a stop request
    seconds: float = 0.0
    next_due: datetime.datetime | None = None
    held_until: datetime.datetime | None = None  # when due rows were held back (closed, spacing)
    batches: int = 0  # lots claimed
    window: int = 0  # the most sends that were out at once may have been (the run's crash bound)
    reasons: dict[str, int] = field(default_factory=dict)


def backoff(attempts: int, rng: random.Random = random.SystemRandom()) -> float:  # noqa: B008
    """Seconds before retry ``attempts`` (1, 2, …): exponential from SAMPARK_DISPATCH_BACKOFF_SECONDS
    (5 s), capped at an hour, with jitter between half and the whole delay so a burst of failures does
    not retry in step."""
    delay = min(BACKOFF_CAP_S, settings.SAMPARK_DISPATCH_BACKOFF_SECONDS * 2 ** max(0, attempts - 1))
    return delay * (0.5 + rng.random() / 2)


def in_night_silence(now: datetime.datetime) -> datetime.datetime | None:
    """When the Election Commission's night hours (22:00-06:00 by default) end, if ``now`` is inside."""
    if not settings.SAMPARK_NIGHT_SILENCE:
        return None
    start, end = settings.SAMPARK_NIGHT_HOURS
    local = timezone.localtime(now)
    hour = local.hour
    inside = (start <= hour or hour < end) if start > end else (start <= hour < end)
    if not inside:
        return None
    day = local.date() if hour < end else local.date() + datetime.timedelta(days=1)
    return datetime.datetime.combine(day, datetime.time(end), tzinfo=local.tzinfo)


# --- claiming --------------------------------------------------------------------------------------


def claim(
    *,
    channel: str,
    worker: str,
    limit: int,
    now: datetime.datetime,
    replies_only: bool = False,
    spacing_s: float = 0.0,
) -> list[Claimed]:
    """Lease up to ``limit`` due rows of ``channel``:

    - rows of sending broadcasts whose contact point still has live consent;
    - replies (no broadcast, a contact point) — only once no earlier message to that contact point is
      in flight, so a STOP confirmation is the last thing the person gets;
    - address rows (no contact point: a channel post) — unless ``replies_only`` (night silence, a closed
      window), which holds everything but replies.

    Each claim counts as an attempt. With ``spacing_s``, a recipient (contact point, or address for an
    address row) sent to less than that long ago, or already holding a row in flight, waits (the
    provider's per-recipient limit)."""
    ops = connection.ops
    d = Delivery._meta.db_table
    b = Broadcast._meta.db_table
    c = "people_contactpoint"
    lease_until = now + datetime.timedelta(seconds=settings.SAMPARK_DISPATCH_LEASE_SECONDS)
    # Scalar subqueries, not joins: the database then walks ``delivery_due_order`` in the claim's
    # order and stops at ``limit``. With the broadcast and contact point joined, PostgreSQL hash-joined
    # and sorted every due row of the broadcast for each lot (0.3-0.9 s a claim at 1.9 lakh rows).
    broadcast_rows = (
        "FALSE"
        if replies_only
        else f"""(d.broadcast_id IS NOT NULL
                  AND (SELECT b.status FROM {b} b WHERE b.id = d.broadcast_id) = 'sending'
                  AND (SELECT c.consent_live FROM {c} c WHERE c.id = d.contact_point_id))"""
    )
    address_rows = "FALSE" if replies_only else "(d.broadcast_id IS NULL AND d.contact_point_id IS NULL)"
    postgres = connection.vendor == "postgresql"
    spaced = ""
    spacing_params: list[Any] = []
    if spacing_s > 0:
        recent = "(y.status = 1 OR (y.status >= 2 AND y.sent_at > %s))"
        # Two conditions, not one with OR, so each can use its index (contact point; channel + address).
        # Scalar subqueries with LIMIT 1, not NOT EXISTS: PostgreSQL turns a top-level NOT EXISTS into
        # an anti-join, and with statistics it chose to scan the whole delivery table once per claim
        # for "in flight or sent recently" (15 ms at 60,000 rows, 154 ms a claim mid-broadcast, growing
        # with the table); a scalar subquery stays a per-row probe of the contact point's index, and
        # the walk still stops at the lot size (2.7 ms).
        spaced = f"""AND (SELECT 1 FROM {d} y WHERE y.contact_point_id = d.contact_point_id
                         AND {recent} LIMIT 1) IS NULL
                     AND (d.contact_point_id IS NOT NULL OR (SELECT 1 FROM {d} y
                         WHERE y.contact_point_id IS NULL AND y.channel = d.channel
                         AND y.address = d.address AND {recent} LIMIT 1) IS NULL)"""
        since = ops.adapt_datetimefield_value(now - datetime.timedelta(seconds=spacing_s))
        spacing_params = [since, since]
    pick = f"""
        SELECT d.id FROM {d} d
        WHERE d.status = 0 AND d.channel = %s AND d.next_attempt_at <= %s
          AND ((d.broadcast_id IS NULL AND d.contact_point_id IS NOT NULL AND NOT EXISTS (
                    SELECT 1 FROM {d} x WHERE x.contact_point_id = d.contact_point_id AND x.status = 1))
               OR {broadcast_rows} OR {address_rows})
          {spaced}
        ORDER BY d.next_attempt_at, d.id
        LIMIT %s{" FOR UPDATE OF d SKIP LOCKED" if postgres else ""}
    """
    lease = "status = 1, lease_owner = %s, lease_until = %s, attempts = attempts + 1"
    if postgres:
        # A CTE runs the locking pick once. Inside ``IN (…)`` PostgreSQL may run it again per row, each
        # run skipping the rows the last one locked: a batch of 3 claimed 7 rows.
        sql = f"""WITH picked AS ({pick})
                  UPDATE {d} SET {lease} FROM picked WHERE {d}.id = picked.id RETURNING {d}.id"""
        params = [
            channel,
            ops.adapt_datetimefield_value(now),
            *spacing_params,
            limit,
            worker,
            ops.adapt_datetimefield_value(lease_until),
        ]
    else:
        # SQLite serialises writers (IMMEDIATE transactions): the guarded UPDATE is the claim.
        sql = f"UPDATE {d} SET {lease} WHERE id IN ({pick}) AND status = 0 RETURNING id"
        params = [
            worker,
            ops.adapt_datetimefield_value(lease_until),
            channel,
            ops.adapt_datetimefield_value(now),
            *spacing_params,
            limit,
        ]
    with short_write(), connection.cursor() as cursor:  # SQLite: queued fairly with the other writers
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return []
        marks = ", ".join(["%s"] * len(ids))
        cursor.execute(
            f"""SELECT d.id, d.broadcast_id, d.language, d.text,
                       CASE WHEN d.contact_point_id IS NULL THEN d.address ELSE c.address END,
                       d.attempts, d.link, d.media_url
                FROM {d} d LEFT JOIN {c} c ON c.id = d.contact_point_id
                WHERE d.id IN ({marks}) ORDER BY d.id""",
            ids,
        )
        rows = [Claimed(*row) for row in cursor.fetchall()]
        if spacing_s <= 0:
            return rows
        # Two rows for one recipient in the same lot (two broadcasts): the later one waits its turn.
        first: dict[str, Claimed] = {}
        later = []
        for row in rows:
            if row.address in first:
                later.append(row.id)
            else:
                first[row.address] = row
        if later:
            release(later, worker=worker, due=now + datetime.timedelta(seconds=spacing_s))
        return list(first.values())


# --- rendering -------------------------------------------------------------------------------------


class Renderer:
    """Builds each claimed row's :class:`Outgoing`: a broadcast's from its message (cached per run),
    a reply's or an address row's from the row itself."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.messages: dict[int, Message] = {}

    def outgoing(self, rows: Sequence[Claimed]) -> list[Outgoing]:
        wanted = {r.broadcast_id for r in rows if r.broadcast_id is not None} - set(self.messages)
        if wanted:
            for broadcast in Broadcast.objects.filter(pk__in=wanted).select_related("message"):
                self.messages[broadcast.pk] = broadcast.message
        limit = self.transport.max_length()
        result = []
        for row in rows:
            if row.broadcast_id is None:
                result.append(
                    Outgoing(
                        delivery_id=row.id,
                        address=row.address,
                        text=row.text,
                        language=row.language,
                        link=row.link,
                        media_url=row.media_url,
                        promotional=False,
                    )
                )
                continue
            m = self.messages[row.broadcast_id]
            text = m.text_for(row.language)
            if limit is not None:
                text = text[:limit]
            result.append(
                Outgoing(
                    delivery_id=row.id,
                    address=row.address,
                    text=text,
                    language=row.language,
                    link=m.link,
                    media_url=m.media_url,
                    subject=m.subject,
                    template_name=m.wa_template_name,
                    template_language=m.wa_template_language or row.language,
                    template_params=tuple(str(p) for p in m.wa_template_params),
                    dlt_template_id=m.sms_dlt_template_id,
                    promotional=m.sms_promotional,
                )
            )
        return result


# --- recording -------------------------------------------------------------------------------------


def record(outcomes: list[Outcome], *, channel: str, worker: str, now: datetime.datetime) -> DispatchStats:
    """Write every outcome (and its attempt row) in one transaction; returns the tallies.

    Sent rows are SENT; transient errors go back to QUEUED with backoff (or ``retry_after``); permanent
    ones, and transient ones past the last attempt, FAIL with code and reason; a ``pause_sender`` error
    re-queues its row and pauses the sender's broadcasts; a send cut off by a stop is re-queued due now
    and marked ``maybe_duplicate`` (the provider may have it). Only rows still leased to ``worker`` move.
    """
    stats = DispatchStats()
    ops = connection.ops
    at = ops.adapt_datetimefield_value(now)
    d = Delivery._meta.db_table
    sent, retry, failed, cut = [], [], [], []
    attempts: list[tuple[Any, ...]] = []
    pause: TransportError | None = None
    max_attempts = settings.SAMPARK_DISPATCH_MAX_ATTEMPTS
    for o in outcomes:
        started = ops.adapt_datetimefield_value(o.started)
        e = o.error
        if e is None:
            sent.append((o.provider_message_id, at, o.delivery_id, worker))
            attempts.append((o.delivery_id, started, worker, "sent", "", "", o.milliseconds))
            continue
        reason = e.reason[:300]
        key = e.code or reason[:40]
        stats.reasons[key] = stats.reasons.get(key, 0) + 1
        if o.cut_off:
            cut.append((at, e.code, reason, o.delivery_id, worker))
            attempts.append((o.delivery_id, started, worker, "stopped", e.code, reason, o.milliseconds))
        elif e.pause_sender:
            pause = e
            # Not this row's fault: back in the queue, due when the broadcast is resumed.
            retry.append((at, e.code, reason, o.delivery_id, worker))
            attempts.append((o.delivery_id, started, worker, "retry", e.code, reason, o.milliseconds))
        elif e.permanent or o.attempts >= max_attempts:
            if not e.permanent:
                reason = f"gave up after {o.attempts} attempts: {reason}"[:300]
            failed.append((at, e.code, reason, o.delivery_id, worker))
            attempts.append((o.delivery_id, started, worker, "failed", e.code, reason, o.milliseconds))
        else:
            wait = e.retry_after if e.retry_after is not None else backoff(o.attempts)
            due = ops.adapt_datetimefield_value(now + datetime.timedelta(seconds=wait))
            retry.append((due, e.code, reason, o.delivery_id, worker))
            attempts.append((o.delivery_id, started, worker, "retry", e.code, reason, o.milliseconds))
    mine = "id = %s AND status = 1 AND lease_owner = %s"
    # short_write: on SQLite, queued fairly with the webhooks' and the drain's writes instead of
    # retrying on SQLite's sleeping busy handler while they keep winning the lock.
    with short_write(), connection.cursor() as cursor:
        if sent:
            cursor.executemany(
                f"""UPDATE {d} SET status = 2, provider_message_id = %s, sent_at = %s, lease_owner = '',
                    lease_until = NULL, error_code = '', error_reason = '' WHERE {mine}""",
                sent,
            )
        if retry:
            cursor.executemany(
                f"""UPDATE {d} SET status = 0, next_attempt_at = %s, error_code = %s, error_reason = %s,
                    lease_owner = '', lease_until = NULL WHERE {mine}""",
                retry,
            )
        if cut:
            cursor.executemany(
                f"""UPDATE {d} SET status = 0, next_attempt_at = %s, error_code = %s, error_reason = %s,
                    lease_owner = '', lease_until = NULL, maybe_duplicate = TRUE WHERE {mine}""",
                cut,
            )
        if failed:
            cursor.executemany(
                f"""UPDATE {d} SET status = 5, failed_at = %s, error_code = %s, error_reason = %s,
                    lease_owner = '', lease_until = NULL WHERE {mine}""",
                failed,
            )
        BulkInserter(
            DeliveryAttempt, ["delivery", "at", "worker", "outcome", "code", "reason", "milliseconds"], at
        ).add_all(attempts)
        if sent:
            statuses.apply_early(channel, [row[0] for row in sent])
        if pause is not None:
            _pause_sender(channel, pause)
        _finish_broadcasts({o.delivery_id for o in outcomes}, now)
    stats.sent, stats.retried, stats.failed, stats.cut_off = len(sent), len(retry), len(failed), len(cut)
    stats.paused_sender = pause is not None
    return stats


def _pause_sender(channel: str, error: TransportError) -> None:
    reason = f"{channel}: {error.reason}"[:300]
    paused = (
        Broadcast.objects.filter(
            status=Broadcast.Status.SENDING, deliveries__channel=channel, deliveries__status=Status.QUEUED
        )
        .distinct()
        .values_list("pk", flat=True)
    )
    count = Broadcast.objects.filter(pk__in=list(paused)).update(
        status=Broadcast.Status.PAUSED, pause_reason=reason
    )
    # The alert: an error in the log (and the broadcast pages show the reason).
    log.error("paused %d broadcast(s) on %s: %s (code %s)", count, channel, error.reason, error.code)


def _finish_broadcasts(delivery_ids: set[int], now: datetime.datetime) -> None:
    """Broadcasts of these rows with nothing left queued or in flight are done."""
    ids = list(
        Delivery.objects.filter(pk__in=delivery_ids, broadcast__isnull=False)
        .order_by()
        .values_list("broadcast_id", flat=True)
        .distinct()
    )
    if not ids:
        return
    # One probe of the (broadcast, status) index per broadcast, not a DISTINCT over its open rows: that
    # read every row still queued (lakhs in a state-wide broadcast) on each record, about ten times a
    # second, inside the write transaction (bench/campaign_day.py).
    done = [
        i
        for i in ids
        if not Delivery.objects.filter(broadcast_id=i, status__in=(Status.QUEUED, Status.SENDING)).exists()
    ]
    if done:
        Broadcast.objects.filter(pk__in=done, status=Broadcast.Status.SENDING).update(
            status=Broadcast.Status.DONE, finished_at=now
        )


# --- the loop --------------------------------------------------------------------------------------


def _merge(into: DispatchStats, done: DispatchStats) -> None:
    into.sent += done.sent
    into.retried += done.retried
    into.failed += done.failed
    into.cut_off += done.cut_off
    into.paused_sender = into.paused_sender or done.paused_sender
    for k, v in done.reasons.items():
        into.reasons[k] = into.reasons.get(k, 0) + v


def _collect(
    outcomes: queue.SimpleQueue[Outcome],
    wait_s: float,
    *,
    until: Callable[[], bool] | None = None,
    most: int = 0,
) -> list[Outcome]:
    """The outcomes that arrive within ``wait_s``; returns sooner once ``until()`` holds (checked
    at least every 10 ms), so the caller can refill the sender's backlog in time, or once ``most``
    have arrived."""
    deadline = time.monotonic() + wait_s
    got: list[Outcome] = []
    while True:
        if (until is not None and until()) or (most and len(got) >= most):
            break
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            got.append(outcomes.get(timeout=min(left, 0.01)))
        except queue.Empty:
            continue
        while True:  # whatever else is already there, without waiting
            try:
                got.append(outcomes.get_nowait())
            except queue.Empty:
                break
    return got


def dispatch_channel(
    channel: str,
    *,
    budget_s: float = 25.0,
    batch: int | None = None,
    concurrency: int | None = None,
    worker: str = WORKER,
    transport: Transport | None = None,
    clock: Clock = timezone.now,
    permits: rate.Permits | None = None,
) -> DispatchStats:
    """Work ``channel`` for about ``budget_s`` seconds (or until nothing is due, the sender must pause,
    or a stop is requested); see the module doc. ``clock`` is the wall clock of claims and records
    (tests inject one); ``permits`` replaces the sender's rate permits (tests)."""
    transport = transport or registry.for_channel(channel)
    stats = DispatchStats()
    if transport is None:
        return stats
    concurrency = concurrency or settings.SAMPARK_DISPATCH_CONCURRENCY
    # Small lots, refilled when fewer than ``reserve`` wait: every row claimed but not yet sent is one
    # the sweeper must treat as a possible duplicate if this worker dies. The reserve is what the
    # sender sends in RESERVE_S (at least ``concurrency``): long enough to ride out this thread
    # waiting for SQLite's write lock behind a status drain or a webhook group commit. With a reserve
    # of 64 a 1,000/s sender ran dry for tens of milliseconds at a time on a busy machine, and each
    # dry spell longer than the pacer's catch-up cost its slots (bench/campaign_day.py: 768/s).
    most_claimed = batch or settings.SAMPARK_DISPATCH_BATCH
    limit = transport.limit
    reserve = max(concurrency, min(most_claimed, math.ceil(limit.per_second * RESERVE_S)))
    lot = max(1, min(most_claimed, 2 * reserve))
    flush_s = settings.SAMPARK_DISPATCH_RECORD_SECONDS
    # Also committed once half the concurrency's worth has come back: a kill then re-sends at most
    # what was in flight plus that many, whatever the rate (at 1,000/s, 0.1 s alone would be 100).
    group = max(1, concurrency // 2)
    grace_s = settings.SAMPARK_DISPATCH_STOP_GRACE_SECONDS
    if permits is None:
        limiter = rate.limiter_for(transport.sender, limit.count, limit.per_seconds)
        permits = rate.Permits(limit, limiter)
    renderer = Renderer(transport)
    started = time.perf_counter()
    spacing = transport.per_recipient_seconds
    pending: set[int] = set()  # claimed here, no outcome recorded yet

    def claim_next() -> list[Claimed]:
        now = clock()
        closed = in_night_silence(now) or transport.closed_until(now)
        rows = claim(
            channel=channel,
            worker=worker,
            limit=lot,
            now=now,
            replies_only=closed is not None,
            spacing_s=spacing,
        )
        stats.claimed += len(rows)
        if rows:
            stats.batches += 1
        else:
            # Due rows that were not claimed wait for the window to open, or for their recipient's turn.
            stats.held_until = closed or (now + datetime.timedelta(seconds=max(1.0, spacing)))
        return rows

    def write(outcomes: list[Outcome]) -> None:
        if not outcomes:
            return
        _merge(stats, record(outcomes, channel=channel, worker=worker, now=clock()))
        pending.difference_update(o.delivery_id for o in outcomes)
        loop.call(sender.recorded, len(outcomes))

    most = max(concurrency, settings.SAMPARK_DISPATCH_MAX_IN_FLIGHT)
    with SendLoop(most) as loop:
        assert loop.session is not None
        sender = Sender(transport, loop.session, permits, concurrency=concurrency, most=most, wall=clock)
        loop.submit(sender.start()).result()
        claiming = not shutdown.stopping()
        stop_at: float | None = None
        cut = False
        unrecorded: list[Outcome] = []
        flushed = time.monotonic()

        lease_s = settings.SAMPARK_DISPATCH_LEASE_SECONDS
        renewed = time.monotonic()

        def hungry() -> bool:
            return claiming and sender.backlog < reserve

        while True:
            if claiming and (
                sender.halted or shutdown.stopping() or time.perf_counter() - started >= budget_s
            ):
                claiming = False
            if hungry():
                rows = claim_next()
                if rows:
                    pending.update(r.id for r in rows)
                    items = list(zip(renderer.outgoing(rows), [r.attempts for r in rows], strict=True))
                    loop.run(sender.add, items)  # waited for: the backlog counts them at once
                else:
                    claiming = False
            unrecorded += _collect(
                sender.outcomes, flush_s - (time.monotonic() - flushed), until=hungry, most=group
            )
            if time.monotonic() - flushed >= flush_s or len(unrecorded) >= group or not claiming:
                write(unrecorded)
                unrecorded = []
                flushed = time.monotonic()
            if pending and time.monotonic() - renewed >= lease_s / 3:
                # Still working on them: a slow run's rows must not look abandoned to the sweeper
                # (which would re-queue them, and they would go out twice).
                renew(sorted(pending), worker=worker, until=clock() + datetime.timedelta(seconds=lease_s))
                renewed = time.monotonic()
            if shutdown.stopping():
                if stop_at is None:
                    stop_at = time.monotonic()
                    stats.stopped = True
                    loop.call(sender.halt, "stop")
                elif not cut and time.monotonic() - stop_at >= grace_s:
                    cut = True
                    loop.call(sender.cut_off)
            if not claiming and not pending:
                break
            if sender.halted and loop.run(sender.all_done):
                break
        loop.call(sender.halt, "done")
        loop.submit(sender.finished()).result(timeout=10)
        write(unrecorded + _collect(sender.outcomes, 0.0))
        while True:  # anything that was still on its way from the loop
            rest = _collect(sender.outcomes, 0.01)
            if not rest:
                break
            write(rest)
    if sender.window is not None:
        stats.window = sender.window.size
    if sender.halt_reason == "pause_sender":
        stats.paused_sender = True
    if pending:
        # Claimed, never handed to the provider (a pause, a stop, the end of the budget): untouched.
        release(sorted(pending), worker=worker)
        stats.released = len(pending)
    stats.seconds = time.perf_counter() - started
    stats.next_due = next_due(channel)
    return stats


def renew(ids: list[int], *, worker: str, until: datetime.datetime) -> None:
    """Extend this worker's lease on rows it still holds."""
    for start in range(0, len(ids), 500):
        Delivery.objects.filter(
            pk__in=ids[start : start + 500], status=Status.SENDING, lease_owner=worker
        ).update(lease_until=until)


def release(ids: list[int], *, worker: str, due: datetime.datetime | None = None) -> None:
    """Give claimed rows back unsent (the claim's attempt does not count), due at ``due`` if given."""
    extra = {} if due is None else {"next_attempt_at": due}
    for start in range(0, len(ids), 500):
        Delivery.objects.filter(
            pk__in=ids[start : start + 500], status=Status.SENDING, lease_owner=worker
        ).update(status=Status.QUEUED, lease_owner="", lease_until=None, attempts=F("attempts") - 1, **extra)


def next_due(channel: str) -> datetime.datetime | None:
    """When the earliest queued row of ``channel`` is due (None when nothing is queued)."""
    row = (
        Delivery.objects.filter(status=Status.QUEUED, channel=channel)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    return row


def sweep(*, now: datetime.datetime | None = None) -> int:
    """Re-queue rows whose lease expired (their worker died or hung); returns how many.

    Any of them may have reached the provider before the worker died (its outcome was not yet
    recorded), so each is marked ``maybe_duplicate`` and gets an ``expired`` attempt row naming the
    worker that held it: a later second send of the same message can be counted, not guessed."""
    now = now or timezone.now()
    reason = "lease expired while the row may have been in flight"
    with transaction.atomic():
        expired = Delivery.objects.filter(status=Status.SENDING, lease_until__lt=now)
        if connection.vendor == "postgresql":
            expired = expired.select_for_update(skip_locked=True)
        held = list(expired.values_list("pk", "lease_owner"))
        count = 0
        for start in range(0, len(held), 500):
            ids = [pk for pk, _owner in held[start : start + 500]]
            count += Delivery.objects.filter(pk__in=ids, status=Status.SENDING, lease_until__lt=now).update(
                status=Status.QUEUED,
                lease_owner="",
                lease_until=None,
                next_attempt_at=now,
                maybe_duplicate=True,
            )
        at = connection.ops.adapt_datetimefield_value(now)
        BulkInserter(DeliveryAttempt, ["delivery", "at", "worker", "outcome", "code", "reason"], at).add_all(
            [(pk, at, owner[:40], DeliveryAttempt.Outcome.EXPIRED, "lease", reason) for pk, owner in held]
        )
    return count
