"""How long the territory of `sampark demo --scale state` takes, against the floor of inserting the same rows raw.

The people the demo adds go through the volunteer import, measured on its own by
``bench/import_volunteers.py``; this one builds the territory only (``build_demo(hooks=False)``).

Builds the state-scale demo (``--quick``: the small one) into a fresh SQLite database in a temporary
SAMPARK_HOME, then, inside a transaction that is rolled back, deletes the booths and panchayats and
times re-inserting exactly those rows with one prepared ``executemany``: the cost of the database
alone, without making up the territory. The last line is

    demo_state: <seconds> s (ratio <demo / raw> vs raw executemany)
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import django_in_temp_home


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small scale instead of state scale")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    home = django_in_temp_home("demo")  # fresh SAMPARK_HOME, Django set up, migrated
    from django.db import connection, transaction

    from sampark.core.numbers import group_indian
    from sampark.territory.demo import build_demo
    from sampark.territory.models import Booth, Panchayat

    scale = "small" if args.quick else "state"
    started = time.perf_counter()
    summary = build_demo(scale=scale, seed=args.seed, hooks=False)
    demo_seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"scale {scale}, seed {args.seed}: {group_indian(summary.booths)} booths "
        f"({group_indian(summary.main_booths)} main + {group_indian(summary.auxiliary_booths)} auxiliary), "
        f"{group_indian(summary.panchayats)} panchayats"
    )
    print(f"build_demo: {demo_seconds:.2f} s, peak RSS {peak_mb:.0f} MB")

    # Read every row (ids included) first, then delete and re-insert them; roll it all back.
    tables = []
    for model in (Panchayat, Booth):
        fields = model._meta.concrete_fields
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        marks = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {model._meta.db_table} ({columns}) VALUES ({marks})"
        tables.append((model, sql, list(model.objects.values_list(*[f.attname for f in fields]))))
    raw_seconds = 0.0
    with transaction.atomic(), connection.cursor() as cursor:
        for model in (Booth, Panchayat):
            cursor.execute(f"DELETE FROM {model._meta.db_table}")
        for model, sql, rows in tables:
            t0 = time.perf_counter()
            for start in range(0, len(rows), 5000):
                cursor.executemany(sql, rows[start : start + 5000])
            seconds = time.perf_counter() - t0
            raw_seconds += seconds
            print(
                f"raw executemany of {group_indian(len(rows))} {model._meta.model_name} rows: {seconds:.2f} s"
            )
        transaction.set_rollback(True)
    connection.close()
    shutil.rmtree(home, ignore_errors=True)
    print(f"demo_state: {demo_seconds:.1f} s (ratio {demo_seconds / raw_seconds:.1f} vs raw executemany)")


if __name__ == "__main__":
    main()
