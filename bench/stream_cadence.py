"""Stream cadence: how late the real ticker publishes when many streams run at once, vs a bare sleep loop.

A throwaway home (SQLite unless DATABASE_URL is set) with a few approved items and N streams (default
20; ``--quick`` 5) on a short jittered cadence (2–4 s, so a run holds many ticks), active all day, their
first ticks all due at the same instant (as every stream's are when active hours open at 06:00). Then
the real ticker loop (:func:`sampark.streams.ticker.run`, lease and all) runs in this process for 120 s
(``--quick`` 30 s).

Measured: each tick's lateness at its commit (the clock read right after the publication's transaction
returns) and as the ticker records it (``Tick.lateness_ms``: publication time is the ticker turn's
clock, so a burst of ticks published in one turn is recorded a little early); p50/p90/p99/max over all
ticks, ticks per stream; checked: every tick once (numbers 1…n per stream), every gap between a
stream's consecutive due times inside [min, max]. Baseline: one thread doing nothing but
``time.sleep`` until each of the same due times in turn — the physical floor of waking on time here.

The last line is ``stream_cadence: p99 <x> ms lateness (ratio <r> vs bare sleep loop)``; target p99
under 1,000 ms (a tick more than a second late counts as late in the war room).
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import math
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import django_in_temp_home, machine

MIN_S, MAX_S = 2, 4
ITEMS = 6
TARGET_MS = 1000.0


def pct(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (as the war room reads it)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def summary(values: list[float]) -> str:
    return (
        f"p50 {pct(values, 0.50):,.1f} ms, p90 {pct(values, 0.90):,.1f} ms, "
        f"p99 {pct(values, 0.99):,.1f} ms, max {max(values):,.1f} ms"
    )


def bare_sleep_loop(offsets: list[float]) -> list[float]:
    """Sleep until each offset (seconds from a start a second from now); lateness of each wake in ms."""
    start = time.time() + 1.0
    lateness = []
    for offset in offsets:
        target = start + offset
        wait = target - time.time()
        if wait > 0:
            time.sleep(wait)
        lateness.append((time.time() - target) * 1000)
    return lateness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 streams for 30 s instead of 20 for 120 s")
    parser.add_argument("--streams", type=int, help="number of concurrent streams")
    parser.add_argument("--seconds", type=float, help="how long the ticker runs")
    args = parser.parse_args()
    n_streams = args.streams or (5 if args.quick else 20)
    seconds = args.seconds or (30.0 if args.quick else 120.0)

    home = django_in_temp_home("stream-cadence")
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from sampark.content import services as content
    from sampark.people.scope import EVERYTHING
    from sampark.streams import services, ticker
    from sampark.streams.models import Stream, Tick
    from sampark.territory.models import State

    state = State.objects.create(lgd_code=10, name_en="Bihar", name_hi="बिहार")
    users = get_user_model().objects
    writer = users.create_user("writer")  # no password: never logs in
    reviewer = users.create_user("reviewer")
    items = []
    for i in range(ITEMS):
        item = content.item_create(by=writer, text_hi=f"नारा {i}", text_en=f"Slogan {i}")
        content.item_submit(item=item, by=writer)
        items.append(content.item_approve(item=item, by=reviewer))

    # Every first tick due at the same instant, a moment after set-up: the worst burst there is.
    first_due = timezone.now() + datetime.timedelta(seconds=1)
    for i in range(n_streams):
        services.stream_create(
            by=EVERYTHING,
            name=f"Stream {i + 1}",
            unit=state,
            items=items,
            order=Stream.Order.ORDERED if i % 2 == 0 else Stream.Order.ROTATING,
            no_repeat_within=3,
            min_seconds=MIN_S,
            max_seconds=MAX_S,
            # The same start and end: active all day, whenever the benchmark runs.
            active_from=datetime.time(0, 0),
            active_until=datetime.time(0, 0),
            now=first_due,
        )

    # The clock right after each publication's transaction: the moment the tick is really out.
    committed: dict[int, float] = {}
    publish = services._publish

    def timed_publish(stream_id: int, now: datetime.datetime) -> Tick | None:
        tick = publish(stream_id, now)
        if tick is not None:
            committed[tick.pk] = time.time()
        return tick

    services._publish = timed_publish  # type: ignore[assignment]
    print(
        f"stream cadence: {n_streams} streams ({MIN_S}–{MAX_S} s jittered, {ITEMS} items), "
        f"real ticker loop for {seconds:.0f} s, {connection.vendor}"
    )
    published = ticker.run(seconds=seconds)
    services._publish = publish  # type: ignore[assignment]

    ticks = list(Tick.objects.order_by("stream_id", "number"))
    assert published == len(ticks) == len(committed), (published, len(ticks), len(committed))
    per_stream: dict[int, list[Tick]] = {}
    for tick in ticks:
        per_stream.setdefault(tick.stream_id, []).append(tick)
    assert len(per_stream) == n_streams, f"only {len(per_stream)} of {n_streams} streams ticked"
    gaps = []
    for stream_ticks in per_stream.values():
        assert [t.number for t in stream_ticks] == list(range(1, len(stream_ticks) + 1)), (
            "a tick twice or lost"
        )
        gaps += [(b.due_at - a.due_at).total_seconds() for a, b in itertools.pairwise(stream_ticks)]
    outside = [g for g in gaps if not MIN_S - 1e-5 <= g <= MAX_S + 1e-5]
    counts = [len(t) for t in per_stream.values()]
    expected = (seconds - 1) / ((MIN_S + MAX_S) / 2) + 1
    print(
        f"ticks: {len(ticks):,}, each once; per stream min {min(counts)}, mean {statistics.mean(counts):.1f}, "
        f"max {max(counts)} (expected ~{expected:.0f})"
    )
    print(
        f"gaps between a stream's due times: {len(gaps) - len(outside):,} of {len(gaps):,} within "
        f"[{MIN_S}, {MAX_S}] s (min {min(gaps):.3f} s, max {max(gaps):.3f} s)"
    )
    assert not outside, f"{len(outside)} gaps outside [{MIN_S}, {MAX_S}] s: {outside[:5]}"

    at_commit = [(committed[t.pk] - t.due_at.timestamp()) * 1000 for t in ticks]
    recorded = [float(t.lateness_ms) for t in ticks]
    burst = [(committed[t.pk] - t.due_at.timestamp()) * 1000 for t in ticks if t.number == 1]
    print(f"lateness at commit: {summary(at_commit)}")
    print(f"lateness recorded by the ticker: {summary(recorded)}")
    print(f"first burst ({n_streams} ticks due at once): last one out {max(burst):,.1f} ms after due")
    late = sum(1 for x in at_commit if x > TARGET_MS)
    print(f"late (over 1 s): {late} of {len(ticks):,}")

    first = min(t.due_at.timestamp() for t in ticks)
    offsets = sorted(t.due_at.timestamp() - first for t in ticks)
    print(f"baseline: a bare time.sleep loop waking at the same {len(offsets):,} due times …")
    bare = bare_sleep_loop(offsets)
    print(f"bare sleep loop lateness: {summary(bare)}")
    print(f"machine: {machine()}")

    p99, bare_p99 = pct(at_commit, 0.99), pct(bare, 0.99)
    verdict = "met" if p99 < TARGET_MS else "MISSED"
    print(f"target p99 < {TARGET_MS:,.0f} ms: {verdict}")
    connection.close()
    shutil.rmtree(home, ignore_errors=True)
    print(
        f"stream_cadence: p99 {p99:,.1f} ms lateness (ratio {p99 / max(bare_p99, 1e-3):,.1f} vs bare sleep loop)"
    )
    if p99 >= TARGET_MS:
        sys.exit(1)


if __name__ == "__main__":
    main()
