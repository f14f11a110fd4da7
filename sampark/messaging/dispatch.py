"""The dispatcher: claim due deliveries under a lease, send them under the sender's rate limit, record.

One call of :func:`dispatch_channel` works one channel for a bounded time:

    claim a batch ──► send it (event loop thread) ──► record every outcome ──► next batch
                  └─ meanwhile claim the next batch (this thread)

Rows are claimed by flipping them QUEUED → SENDING with this worker's lease in one statement (a guarded
``UPDATE … WHERE status = 0`` on SQLite, whose writers are serialised; ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), so two workers never hold the same row. A batch is recorded before the next one is sent:
a worker killed mid-batch loses nothing (the sweeper re-queues its expired leases) and at most that
batch can go out twice. Database work stays on the calling thread (and so in its transaction and
connection); the sends run on an asyncio loop in a helper thread, up to ``concurrency`` in flight.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone, translation

from sampark.core import http
from sampark.core.bulk import BulkInserter
from sampark.transports import registry
from sampark.transports.base import Outgoing, Transport, TransportError

from . import rate, statuses
from .models import Broadcast, Delivery, DeliveryAttempt, Message

log = logging.getLogger(__name__)
Status = Delivery.Status

WORKER = f"{socket.gethostname()[:16]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
BACKOFF_CAP_S = 3600.0


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    broadcast_id: int | None
    language: str
    text: str
    address: str
    attempts: int


@dataclass(slots=True)
class Outcome:
    delivery_id: int
    attempts: int
    started: datetime.datetime
    milliseconds: int
    provider_message_id: str = ""
    error: TransportError | None = None


@dataclass
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    paused_sender: bool = False
    seconds: float = 0.0
    next_due: datetime.datetime | None = None
    held_until: datetime.datetime | None = None  # when due rows were held back (closed, spacing)
    batches: int = 0
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
    """Lease up to ``limit`` due rows of ``channel``: rows of sending broadcasts whose contact point
    still has live consent, and replies — a reply (a STOP confirmation, say) only once no earlier
    message to its contact point is in flight, so it is the last thing the person gets. Each claim
    counts as an attempt. With ``spacing_s``, a contact point sent to less than that long ago, or
    already holding a row in flight, waits (the provider's per-recipient limit)."""
    ops = connection.ops
    d = Delivery._meta.db_table
    b = Broadcast._meta.db_table
    c = "people_contactpoint"
    lease_until = now + datetime.timedelta(seconds=settings.SAMPARK_DISPATCH_LEASE_SECONDS)
    broadcast_rows = "FALSE" if replies_only else "(b.status = 'sending' AND c.consent_live)"
    postgres = connection.vendor == "postgresql"
    spaced = ""
    spacing_params: list[Any] = []
    if spacing_s > 0:
        spaced = f"""AND NOT EXISTS (SELECT 1 FROM {d} y WHERE y.contact_point_id = d.contact_point_id
                     AND (y.status = 1 OR (y.status >= 2 AND y.sent_at > %s)))"""
        spacing_params = [ops.adapt_datetimefield_value(now - datetime.timedelta(seconds=spacing_s))]
    pick = f"""
        SELECT d.id FROM {d} d
        JOIN {c} c ON c.id = d.contact_point_id
        LEFT JOIN {b} b ON b.id = d.broadcast_id
        WHERE d.status = 0 AND d.channel = %s AND d.next_attempt_at <= %s
          AND ((d.broadcast_id IS NULL AND NOT EXISTS (
                    SELECT 1 FROM {d} x WHERE x.contact_point_id = d.contact_point_id AND x.status = 1))
               OR {broadcast_rows})
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
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return []
        marks = ", ".join(["%s"] * len(ids))
        cursor.execute(
            f"""SELECT d.id, d.broadcast_id, d.language, d.text, c.address, d.attempts
                FROM {d} d JOIN {c} c ON c.id = d.contact_point_id WHERE d.id IN ({marks}) ORDER BY d.id""",
            ids,
        )
        rows = [Claimed(*row) for row in cursor.fetchall()]
        if spacing_s <= 0:
            return rows
        # Two rows for one recipient in the same batch (two broadcasts): the later one waits its turn.
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
    """Builds each claimed row's :class:`Outgoing` from its broadcast's message (cached per run)."""

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


# --- sending ---------------------------------------------------------------------------------------


class SendLoop:
    """An asyncio loop in a helper thread with one aiohttp session (kept alive across batches)."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="dispatch-send", daemon=True)
        self.session: aiohttp.ClientSession | None = None

    def _run(self) -> None:
        # Reasons from transports are stored in English whatever the server's language (pages
        # translate what they show); the worker's default would store them in Hindi.
        translation.activate("en")
        self.loop.run_forever()

    def __enter__(self) -> SendLoop:
        self.thread.start()

        async def open_session() -> aiohttp.ClientSession:
            return http.async_session(connections=self.concurrency)

        self.session = self.submit(open_session()).result()
        return self

    def submit(self, coroutine: Coroutine[Any, Any, Any]) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def __exit__(self, *exc: object) -> None:
        if self.session is not None:
            self.submit(self.session.close()).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


async def send_all(
    transport: Transport,
    session: aiohttp.ClientSession,
    items: list[Outgoing],
    attempts: dict[int, int],
    limiter: rate.SenderLimiter,
    concurrency: int,
    pacer: rate.Pacer | None = None,
) -> list[Outcome]:
    """Send ``items`` with up to ``concurrency`` in flight, taking rate permits as they go out.
    Every item gets an :class:`Outcome`; unexpected exceptions count as transient errors."""
    slots = asyncio.Semaphore(concurrency)

    async def one(item: Outgoing) -> Outcome:
        started = timezone.now()
        clock = time.perf_counter()
        try:
            provider_id = await transport.send(session, item)
            error = None
        except TransportError as exc:
            provider_id, error = "", exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            provider_id, error = "", TransportError(f"network: {type(exc).__name__}", permanent=False)
        except Exception as exc:  # a bug in a transport must not lose the row: retried, and logged
            log.exception("transport %s raised", transport.kind)
            provider_id, error = "", TransportError(f"internal error: {type(exc).__name__}", permanent=False)
        finally:
            slots.release()
        ms = int((time.perf_counter() - clock) * 1000)
        return Outcome(item.delivery_id, attempts[item.delivery_id], started, ms, provider_id, error)

    tasks: list[asyncio.Task[Outcome]] = []
    step = limiter.weight
    for start in range(0, len(items), step):
        chunk = items[start : start + step]
        if pacer is not None:
            await pacer.wait(len(chunk))
        await limiter.acquire(len(chunk))
        for item in chunk:
            await slots.acquire()
            tasks.append(asyncio.create_task(one(item)))
    return list(await asyncio.gather(*tasks))


# --- recording -------------------------------------------------------------------------------------


def record(outcomes: list[Outcome], *, channel: str, worker: str, now: datetime.datetime) -> DispatchStats:
    """Write every outcome (and its attempt row) in one transaction; returns the tallies."""
    stats = DispatchStats()
    ops = connection.ops
    at = ops.adapt_datetimefield_value(now)
    d = Delivery._meta.db_table
    sent, retry, failed = [], [], []
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
        stats.reasons[e.code or reason[:40]] = stats.reasons.get(e.code or reason[:40], 0) + 1
        if e.pause_sender:
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
    with transaction.atomic(), connection.cursor() as cursor:
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
    stats.sent, stats.retried, stats.failed = len(sent), len(retry), len(failed)
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
    open_ids = set(
        Delivery.objects.filter(broadcast_id__in=ids, status__in=(Status.QUEUED, Status.SENDING))
        .order_by()
        .values_list("broadcast_id", flat=True)
        .distinct()
    )
    done = [i for i in ids if i not in open_ids]
    if done:
        Broadcast.objects.filter(pk__in=done, status=Broadcast.Status.SENDING).update(
            status=Broadcast.Status.DONE, finished_at=now
        )


# --- the loop --------------------------------------------------------------------------------------


def dispatch_channel(
    channel: str,
    *,
    budget_s: float = 25.0,
    batch: int | None = None,
    concurrency: int | None = None,
    worker: str = WORKER,
    transport: Transport | None = None,
) -> DispatchStats:
    """Work ``channel`` for about ``budget_s`` seconds (or until nothing is due); see the module doc."""
    transport = transport or registry.for_channel(channel)
    stats = DispatchStats()
    if transport is None:
        return stats
    batch = batch or settings.SAMPARK_DISPATCH_BATCH
    concurrency = concurrency or settings.SAMPARK_DISPATCH_CONCURRENCY
    limit = transport.limit
    limiter = rate.limiter_for(transport.sender, limit.count, limit.per_seconds)
    pacer = rate.Pacer(limit)
    renderer = Renderer(transport)
    started = time.perf_counter()

    spacing = transport.per_recipient_seconds

    def claim_next() -> list[Claimed]:
        now = timezone.now()
        closed = in_night_silence(now) or transport.closed_until(now)
        rows = claim(
            channel=channel,
            worker=worker,
            limit=batch,
            now=now,
            replies_only=closed is not None,
            spacing_s=spacing,
        )
        stats.claimed += len(rows)
        if not rows:
            # Due rows that were not claimed wait for the window to open, or for their recipient's turn.
            stats.held_until = closed or (now + datetime.timedelta(seconds=max(1.0, spacing)))
        return rows

    with SendLoop(concurrency) as loop:
        rows = claim_next()
        while rows:
            items = renderer.outgoing(rows)
            attempts = {r.id: r.attempts for r in rows}
            assert loop.session is not None
            sending = loop.submit(
                send_all(transport, loop.session, items, attempts, limiter, concurrency, pacer)
            )
            more = time.perf_counter() - started < budget_s
            upcoming = claim_next() if more else []
            outcomes = sending.result()
            done = record(outcomes, channel=channel, worker=worker, now=timezone.now())
            stats.batches += 1
            stats.sent += done.sent
            stats.retried += done.retried
            stats.failed += done.failed
            for k, v in done.reasons.items():
                stats.reasons[k] = stats.reasons.get(k, 0) + v
            if done.paused_sender:
                stats.paused_sender = True
                if upcoming:  # claimed for a sender that must stop: hand them back untouched
                    release([r.id for r in upcoming], worker=worker)
                break
            rows = upcoming
    stats.seconds = time.perf_counter() - started
    stats.next_due = next_due(channel)
    return stats


def release(ids: list[int], *, worker: str, due: datetime.datetime | None = None) -> None:
    """Give claimed rows back unsent (the claim's attempt does not count), due at ``due`` if given."""
    extra = {} if due is None else {"next_attempt_at": due}
    Delivery.objects.filter(pk__in=ids, status=Status.SENDING, lease_owner=worker).update(
        status=Status.QUEUED, lease_owner="", lease_until=None, attempts=F("attempts") - 1, **extra
    )


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
    """Re-queue rows whose lease expired (their worker died or hung); returns how many."""
    now = now or timezone.now()
    return Delivery.objects.filter(status=Status.SENDING, lease_until__lt=now).update(
        status=Status.QUEUED, lease_owner="", lease_until=None, next_attempt_at=now
    )
