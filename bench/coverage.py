"""Coverage latency at state scale: 1.06 lakh booths, ~10 lakh volunteers, SQLite.

Builds ``sampark demo --scale state`` (``--quick``: the small demo) in a throwaway SAMPARK_HOME, then
times :func:`sampark.people.coverage.coverage_of` for the state (children: 38 districts) and for every
district (children: its blocks), repeatedly, and reports p50/p95. In the same run it times the raw
alternatives over the same tables:

- *set-based from source*: one raw ``GROUP BY`` computing the state's per-district figures straight from
  posts + contact points + booths (what coverage would cost without the maintained rollup);
- *floor*: a bare ``SELECT district_id, COUNT(*) FROM booth GROUP BY district_id`` (the cheapest
  grouping of the booth table there is).

The last line is ``coverage: <p95 ms> ms p95 (ratio <r> vs raw GROUP BY from source)``.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import django_in_temp_home, machine


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) >= 2 else samples[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small demo instead of state scale")
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()

    home = django_in_temp_home("coverage")
    from django.db import connection

    from sampark.core.numbers import group_indian
    from sampark.people.coverage import coverage_of
    from sampark.people.models import BoothCoverage, ContactPoint, Person, Post
    from sampark.territory.demo import build_demo
    from sampark.territory.models import Booth, District, State

    scale = "small" if args.quick else "state"
    started = time.perf_counter()
    build_demo(scale=scale, seed=1)
    print(f"demo --scale {scale}: {time.perf_counter() - started:.1f} s")
    state = State.objects.get()
    districts = list(District.objects.filter(state=state))
    print(
        f"{group_indian(Booth.objects.count())} booths, {group_indian(Person.objects.count())} people, "
        f"{group_indian(Post.objects.count())} posts, {group_indian(BoothCoverage.objects.count())} booths "
        "with volunteers"
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE") if connection.vendor == "sqlite" else None

    state_ms = timed(lambda: coverage_of(state), args.repeat)
    rng = random.Random(1)
    district_ms: list[float] = []
    for _ in range(args.repeat):
        district = rng.choice(districts)
        district_ms += timed(lambda d=district: coverage_of(d), 1)  # type: ignore[misc]
    alone_ms = timed(lambda: coverage_of(state, children=False), args.repeat)

    booths = connection.ops.quote_name(Booth._meta.db_table)
    posts = connection.ops.quote_name(Post._meta.db_table)
    points = connection.ops.quote_name(ContactPoint._meta.db_table)
    source_sql = f"""
        SELECT b.district_id, COUNT(*), SUM(CASE WHEN COALESCE(v.n, 0) >= 10 THEN 1 ELSE 0 END),
               COALESCE(SUM(v.n), 0)
        FROM {booths} b LEFT JOIN (
            SELECT p.booth_id, COUNT(DISTINCT p.person_id) AS n FROM {posts} p
            WHERE p.role = 'booth_volunteer' AND p.ended_on IS NULL
              AND EXISTS (SELECT 1 FROM {points} c WHERE c.person_id = p.person_id AND c.consent_live)
            GROUP BY p.booth_id) v ON v.booth_id = b.id
        WHERE b.state_id = %s GROUP BY b.district_id
    """
    floor_sql = f"SELECT district_id, COUNT(*) FROM {booths} GROUP BY district_id"

    def run(sql: str, params: list[object]) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()

    source_ms = timed(lambda: run(source_sql, [state.pk]), max(5, args.repeat // 8))
    floor_ms = timed(lambda: run(floor_sql, []), args.repeat)

    # The rollup must agree with the from-source answer.
    with connection.cursor() as cursor:
        cursor.execute(source_sql, [state.pk])
        from_source = {row[0]: (row[1], int(row[2]), int(row[3])) for row in cursor.fetchall()}
    ours = coverage_of(state)
    for child in ours.children:
        if child.unit is not None:
            assert from_source[child.unit.pk] == (child.booths, child.booths_at_target, child.volunteers), (
                child.key
            )

    def line(label: str, samples: list[float]) -> None:
        print(
            f"{label:<46} p50 {statistics.median(samples):7.1f} ms   p95 {p95(samples):7.1f} ms   (n={len(samples)})"
        )

    line("coverage_of(state) + 38 districts", state_ms)
    line("coverage_of(district) + its blocks", district_ms)
    line("coverage_of(state), no children", alone_ms)
    line("raw GROUP BY from source (posts+consent)", source_ms)
    line("floor: bare GROUP BY over booths", floor_ms)
    print(
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; machine: {machine()}"
    )
    connection.close()
    shutil.rmtree(home, ignore_errors=True)
    worst = max(p95(state_ms), p95(district_ms))
    print(
        f"coverage: {worst:.0f} ms p95 (ratio {worst / p95(source_ms):.2f} vs raw GROUP BY from source; "
        f"{worst / p95(floor_ms):.1f} vs bare booth GROUP BY)"
    )


if __name__ == "__main__":
    main()
