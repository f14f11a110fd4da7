"""One pyrate-limiter bucket per sender, shared by every worker process.

Embedded: an SQLite file of its own under SAMPARK_HOME (WAL, with pyrate's file lock so processes
never both take the last permit). Distributed: Redis. Buckets are per *sender* (``wa:<number id>``,
``tg:<bot>``), never per recipient (STACK.md).

The bucket is the cap across workers; each worker also spaces its own sends on a schedule
(:class:`Pacer`), which is what makes the achieved rate the limit: the bucket alone ran 2-6 % under it
(every wait ends a little late, and the lateness adds up) and let a whole second's allowance out in
one burst. Permits are taken ``weight`` at a time for fast senders: one SQLite permit costs ~0.26 ms,
which at 1,000 msg/s would be a quarter of a core. ``buffer_ms=1`` rather than pyrate's 50 ms of
slack after each wait.

:class:`Permits` is what a sender task awaits right before its request goes out (never earlier: a
permit taken while the request still waits for a free connection lets requests bunch up later). It
combines the pacer, the shared bucket and a :class:`SlidingWindow` of this worker's own send times, which
holds the limit in *every* window, not only on average: at exactly 80/s with even spacing, the 81st
request lands 1.000 s after the first, and a millisecond of jitter at the provider puts 81 in one
second (bench/dispatch.py saw it). The window keeps any ``count + 1`` sends at least ``per_seconds``
plus a margin (:data:`MARGIN`: 2 % of it, at least 10 ms) apart, and the pacer spaces sends on the
same stretched schedule, so sends stay even: the rate is 98 % of the limit, and a provider sees the
limit held in every window as long as the requests' jitter on the way stays under the margin (in a
test with the fake in this process's own threads it reached 20-40 ms; in a process of its own ~1 ms).
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from pyrate_limiter import Duration, Limiter, Rate

from sampark.transports.base import Limit

BUFFER_MS = 1
MARGIN = 0.02  # of a limit's period: slack kept in every window for jitter between us and the provider
MARGIN_MIN_S = 0.010
CATCH_UP = 0.20  # of a limit's period: how late a send may be and the schedule still kept (Pacer)


def margin_for(limit: Limit) -> float:
    return max(MARGIN_MIN_S, limit.per_seconds * MARGIN)


class Pacer:
    """Even spacing for one worker's sends: ``count`` per ``per_seconds``, on a schedule kept across
    batches. The shared bucket caps what all workers together send; alone it measured a few percent
    under the limit (each wait ends a little late, and the lateness adds up), while sends on a fixed
    schedule land within 1 % of it. A send late by up to :data:`CATCH_UP` of the period (an event
    loop busy for a few milliseconds, or the sending thread off its core for a hundred on a busy
    machine) keeps the schedule, so the next sends catch up; a worker further behind (idle between
    broadcasts, say) starts a fresh schedule rather than bursting. Forgetting every lateness over one
    slot cost 13 % of a 1,000/s sender on a busy machine (bench/campaign_day.py: 870/s); keeping only
    5 % of the period still lost every stall longer than 50 ms (tests/test_rate.py: 825/s with a 150 ms
    stall every 700 sends, 948/s with 20 %). Catching up never breaks the limit: :class:`SlidingWindow`
    holds it in every window, so a catch-up is at most a fifth of a second's allowance sent early."""

    def __init__(
        self,
        limit: Limit,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        margin_s: float = 0.0,
    ) -> None:
        self.interval = (limit.per_seconds + margin_s) / limit.count
        self.catch_up_s = max(self.interval, CATCH_UP * limit.per_seconds)
        self.next_at: float | None = None
        self.clock = clock
        self.sleep = sleep

    async def wait(self, n: int) -> None:
        """Return when the next ``n`` sends may go."""
        now = self.clock() if self.clock else asyncio.get_running_loop().time()
        if self.next_at is None or self.next_at < now - self.catch_up_s:
            self.next_at = now
        if self.next_at > now:
            await self.sleep(self.next_at - now)
        self.next_at += n * self.interval


class SlidingWindow:
    """At most ``count`` sends in any ``per_seconds + margin`` of this worker's clock."""

    def __init__(
        self,
        limit: Limit,
        *,
        margin_s: float | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.count = limit.count
        margin = margin_for(limit) if margin_s is None else margin_s
        self.span = limit.per_seconds + margin
        self.times: deque[float] = deque(maxlen=limit.count)
        self.clock = clock
        self.sleep = sleep

    def _now(self) -> float:
        return self.clock() if self.clock else asyncio.get_running_loop().time()

    async def wait(self) -> None:
        """Return when one more send keeps every window within the limit (and count it as sent)."""
        now = self._now()
        if len(self.times) == self.count:
            free_at = self.times[0] + self.span
            if free_at > now:
                await self.sleep(free_at - now)
                now = max(self._now(), free_at)
        self.times.append(now)


class Permits:
    """Everything a send waits for, taken one send at a time just before the request: the pacer's
    schedule, the shared bucket (``weight`` permits per acquisition, banked here) and the window."""

    def __init__(
        self,
        limit: Limit,
        limiter: SenderLimiter | None,
        *,
        pacer: Pacer | None = None,
        window: SlidingWindow | None = None,
    ) -> None:
        self.limiter = limiter
        self.weight = limiter.weight if limiter is not None else 1
        self.pacer = pacer or Pacer(limit, margin_s=margin_for(limit))
        self.window = window or SlidingWindow(limit)
        self.banked = 0
        self._lock: asyncio.Lock | None = None

    async def take(self) -> None:
        if self._lock is None:  # made on the loop that uses it
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.banked == 0:
                await self.pacer.wait(self.weight)
                if self.limiter is not None:
                    await self.limiter.acquire(self.weight)
                self.banked = self.weight
            self.banked -= 1
            await self.window.wait()


@dataclass(frozen=True)
class SenderLimiter:
    limiter: Limiter
    key: str
    weight: int  # permits taken per acquisition

    async def acquire(self, n: int) -> None:
        await self.limiter.try_acquire_async(self.key, weight=n)


def permits_per_take(limit: Limit) -> int:
    return max(1, min(50, int(limit.per_second // 100)))


@cache
def limiter_for(sender: str, count: int, per_seconds: float) -> SenderLimiter:
    # The cap across workers; each worker spaces its own sends evenly (Pacer).
    rates = [Rate(count, int(Duration.SECOND * per_seconds))]
    redis_url = getattr(settings, "REDIS_URL", "")
    if redis_url:
        import redis
        from pyrate_limiter import RedisBucket

        client = redis.Redis.from_url(redis_url)
        bucket = RedisBucket.init(rates, client, f"sampark:rate:{sender}:{count}:{per_seconds}")
    else:
        from pyrate_limiter import SQLiteBucket

        table = "rate_" + re.sub(r"\W", "_", f"{sender}_{count}_{per_seconds}")
        bucket = SQLiteBucket.init_from_file(
            rates,
            table=table,
            db_path=str(settings.SAMPARK_RATE_LIMIT_DB),
            create_new_table=True,
            use_file_lock=True,
        )
    limit = Limit(count, per_seconds)
    return SenderLimiter(Limiter(bucket, buffer_ms=BUFFER_MS), sender, permits_per_take(limit))
