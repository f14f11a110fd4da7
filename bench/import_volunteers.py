"""`sampark import volunteers` of a 10-lakh-row CSV vs the physical floor, with peak memory.

Builds the state-scale demo territory (1.06 lakh booths, no people) in a throwaway SAMPARK_HOME, writes
a volunteer CSV of about ten lakh rows with the demo's generator (``--quick``: the small territory),
then measures, on the same SQLite database:

- baseline: a bare ``csv.reader`` pass + ``executemany`` of every row (8 text columns) into a plain
  table, streamed in chunks — the floor for reading and writing this many rows;
- the import into an empty registry (every check, the stage, people, contact points, consents, posts,
  the coverage rollup), and its peak RSS growth;
- the idempotent re-run (nothing changes).

The last line is ``import_volunteers: <seconds> s (ratio <r> vs csv+executemany)``.
"""

from __future__ import annotations

import argparse
import csv
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROWS, django_in_temp_home, machine, write_volunteers_csv


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_rss_mb() -> float:
    """Peak RSS of the largest child process (the forked parser/checker), 0 if none ran."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small territory (a few thousand rows)")
    args = parser.parse_args()
    home = django_in_temp_home("volunteers")
    from django.db import connection, transaction

    from sampark.core.numbers import group_indian
    from sampark.people.importers import VolunteerImport
    from sampark.people.models import Person
    from sampark.territory.demo import build_demo
    from sampark.territory.importers.base import run_import

    build_demo(scale="small" if args.quick else "state", seed=1, hooks=False)
    folder = Path(tempfile.mkdtemp(prefix="sampark-bench-csv-"))
    path = folder / "volunteers.csv"
    write_volunteers_csv(path, None if args.quick else ROWS)
    size_mb = path.stat().st_size / 1e6

    # Floor: parse and insert the same rows, streamed in chunks, no checks.
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_raw_volunteers (" + ", ".join(f"c{i} text" for i in range(8)) + ")"
        )
    sql = "INSERT INTO bench_raw_volunteers VALUES (" + ", ".join(["%s"] * 8) + ")"
    rows = 0
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor, path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        batch: list[list[str]] = []
        for row in reader:
            batch.append(row)
            if len(batch) == 5000:
                cursor.executemany(sql, batch)
                rows += len(batch)
                batch = []
        cursor.executemany(sql, batch)
        rows += len(batch)
    base_s = time.perf_counter() - start
    assert args.quick or rows == ROWS, f"the generator gave {rows} rows, not {ROWS}"
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_raw_volunteers")
    print(f"CSV: {group_indian(rows)} rows, {size_mb:.0f} MB")
    print(f"baseline csv.reader + executemany: {base_s:.2f} s")

    before = rss_mb()
    start = time.perf_counter()
    report = run_import(VolunteerImport, [path])
    first_s = time.perf_counter() - start
    assert report.committed and not report.errors, report.errors[:5]
    print(
        f"sampark import volunteers: {group_indian(Person.objects.count())} people in {first_s:.2f} s; "
        f"peak RSS +{rss_mb() - before:.0f} MB (total {rss_mb():.0f} MB; "
        f"forked child peak {child_rss_mb():.0f} MB)"
    )
    for label, counts in report.counts.items():
        print(f"  {label}: {counts.created} created, {counts.updated} updated, {counts.unchanged} unchanged")

    start = time.perf_counter()
    again = run_import(VolunteerImport, [path])
    rerun_s = time.perf_counter() - start
    print(f"re-run (idempotent): {rerun_s:.2f} s, {again.changed} rows changed")
    print(f"machine: {machine()}")
    connection.close()
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    print(f"import_volunteers: {first_s:.1f} s (ratio {first_s / base_s:.1f} vs csv+executemany)")


if __name__ == "__main__":
    main()
