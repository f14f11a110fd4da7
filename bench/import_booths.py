"""Import of the raw CEO polling-station files vs the physical limit on the same engine.

Baseline: a bare ``csv.reader`` pass over the same files plus ``executemany`` of every row (11 text
columns, no parsing) into a plain table of the same database. Measured: ``sampark import
polling-stations`` (parse every messy field, assign codes, compare with stored rows, write) on an
empty booth table, then the idempotent re-run. Prints peak RSS growth.

    .venv/bin/python bench/import_booths.py [--quick]
"""

from __future__ import annotations

import argparse
import csv
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import data_dir, django_in_temp_home, machine


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_rss_mb() -> float:
    """Peak RSS of the largest child process (the forked parser/checker), 0 if none ran."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def baseline(files: list[Path]) -> tuple[float, int]:
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_rows")
        cursor.execute(
            "CREATE TABLE bench_raw_rows (id integer PRIMARY KEY, "
            + ", ".join(f"c{i} text" for i in range(11))
            + ")"
        )
    sql = (
        "INSERT INTO bench_raw_rows ("
        + ", ".join(f"c{i}" for i in range(11))
        + ") VALUES ("
        + ", ".join(["%s"] * 11)
        + ")"
    )
    rows = 0
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for path in files:
            with path.open(encoding="utf-8", newline="") as fh:
                batch = [(r + [""] * 11)[:11] for r in csv.reader(fh)]
            cursor.executemany(sql, batch)
            rows += len(batch)
    elapsed = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_raw_rows")
    return elapsed, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="4 district files instead of 38")
    args = parser.parse_args()
    data = data_dir()
    django_in_temp_home("booths")
    from django.core.management import call_command

    from sampark.territory.importers.base import run_import
    from sampark.territory.importers.booths import PollingStations
    from sampark.territory.models import Booth

    for kind, path, extra in (
        ("lgd-states", data / "lgd/1-state.csv", []),
        ("lgd-districts", data / "lgd/2-district.csv", ["--state", "10"]),
        ("eci-constituencies", data / "eci/2008-constituencies.csv", ["--state", "10"]),
        ("district-crosswalk", data / "bihar_district_crosswalk.csv", []),
    ):
        call_command("import", kind, str(path), *extra, verbosity=0)

    files = sorted((data / "polling_stations/bihar_ceo_raw").glob("*.csv"))
    if args.quick:
        files = files[:4]
    for path in files:  # both sides read the files from the OS cache: warm it before either is timed
        path.read_bytes()
    base_s, base_rows = baseline(files)
    print(f"baseline csv.reader + executemany: {base_rows:,} rows in {base_s:.2f} s")

    before = rss_mb()
    start = time.perf_counter()
    report = run_import(PollingStations, files)
    first_s = time.perf_counter() - start
    assert report.committed and not report.errors, report.errors[:5]
    booths = Booth.objects.count()
    print(
        f"sampark import polling-stations: {booths:,} booths in {first_s:.2f} s "
        f"({len(report.warnings)} warnings); peak RSS +{rss_mb() - before:.0f} MB (total {rss_mb():.0f} MB; "
        f"forked child peak {child_rss_mb():.0f} MB)"
    )

    start = time.perf_counter()
    again = run_import(PollingStations, files)
    rerun_s = time.perf_counter() - start
    changed = again.changed
    print(f"re-run (idempotent): {rerun_s:.2f} s, {changed} rows changed")
    print(f"machine: {machine()}; files: {len(files)}")
    print(f"import_booths: {first_s:.2f} s (ratio {first_s / base_s:.2f} vs csv+executemany)")


if __name__ == "__main__":
    main()
