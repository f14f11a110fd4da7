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
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from pyrate_limiter import Duration, Limiter, Rate

from sampark.transports.base import Limit

BUFFER_MS = 1


class Pacer:
    """Even spacing for one worker's sends: ``count`` per ``per_seconds``, on a schedule kept across
    batches. The shared bucket caps what all workers together send; alone it measured a few percent
    under the limit (each wait ends a little late, and the lateness adds up), while sends on a fixed
    schedule land within 1 % of it. A worker that fell behind (between batches, say) starts a fresh
    schedule rather than bursting to catch up."""

    def __init__(
        self,
        limit: Limit,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = limit.per_seconds / limit.count
        self.next_at: float | None = None
        self.clock = clock
        self.sleep = sleep

    async def wait(self, n: int) -> None:
        """Return when the next ``n`` sends may go."""
        now = self.clock() if self.clock else asyncio.get_running_loop().time()
        if self.next_at is None or self.next_at < now - self.interval:
            self.next_at = now
        if self.next_at > now:
            await self.sleep(self.next_at - now)
        self.next_at += n * self.interval


@dataclass(frozen=True)
class SenderLimiter:
    limiter: Limiter
    key: str
    weight: int  # permits taken per acquisition

    async def acquire(self, n: int) -> None:
        await self.limiter.try_acquire_async(self.key, weight=n)


def permits_per_take(limit: Limit) -> int:
    per_second = limit.count / limit.per_seconds
    return max(1, min(50, int(per_second // 100)))


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
