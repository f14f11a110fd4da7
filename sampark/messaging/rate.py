"""One pyrate-limiter bucket per sender, shared by every worker process.

Embedded: an SQLite file of its own under SAMPARK_HOME (WAL, with pyrate's file lock so processes
never both take the last permit). Distributed: Redis. Buckets are per *sender* (``wa:<number id>``,
``tg:<bot>``), never per recipient (STACK.md).

Permits are taken ``weight`` at a time for fast senders: one SQLite permit costs ~0.26 ms, which at
1,000 msg/s would be a quarter of a core; ten at a time it is negligible, and a 1,000/s limit stays a
1,000/s limit. Each bucket also holds a tenth of the limit per tenth of the window, so sends are
spread evenly. ``buffer_ms=1``: pyrate's default 50 ms of slack after each wait measured 75/s under an 80/s limit
(with the tenth-of-a-second rate below: 5 ms gave 75.9/s, 1 ms 79.4/s).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from pyrate_limiter import Duration, Limiter, Rate

from sampark.transports.base import Limit

BUFFER_MS = 1


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
    window_ms = int(Duration.SECOND * per_seconds)
    # A tenth of the limit per tenth of the window as well: the provider sees an even stream, not the
    # whole second's allowance in one burst and then silence.
    rates = [Rate(max(1, count // 10), max(1, window_ms // 10)), Rate(count, window_ms)]
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
