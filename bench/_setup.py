"""Shared set-up for benchmarks: a throwaway SAMPARK_HOME, Django configured, migrations applied."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def django_in_temp_home(prefix: str) -> Path:
    """Point Sampark at a fresh temporary home (SQLite unless DATABASE_URL is set) and migrate."""
    home = Path(tempfile.mkdtemp(prefix=f"sampark-bench-{prefix}-"))
    os.environ["SAMPARK_HOME"] = str(home)
    os.environ.setdefault("SAMPARK_LANGUAGE", "en")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return home


def data_dir() -> Path:
    path = Path(os.environ.get("SAMPARK_DATA_DIR", ROOT.parent / "shared" / "data"))
    if not (path / "SOURCES.md").exists():
        sys.exit(f"real data not found at {path} (set SAMPARK_DATA_DIR)")
    return path


def machine() -> str:
    cpus = os.cpu_count()
    return f"{platform.machine()}, {cpus} CPUs, Python {platform.python_version()}"


ROWS = 10_00_000  # ten lakh volunteers


def write_volunteers_csv(path: Path, rows: int | None) -> int:
    """A volunteer CSV for the booths in the database, from the demo's generator (names in Devanagari
    and Latin, coordinators and booth volunteers, consent dates). ``rows``: cut at exactly that many,
    generating with one more volunteer per full booth than the demo (which gives ~9.5 lakh at state
    scale); None: the demo's own rows. Returns the number of data rows."""
    import csv
    import itertools
    import random

    from django.conf import settings

    from sampark.people.demo import _rows
    from sampark.territory.models import Booth

    booths = list(
        Booth.objects.order_by("ac_id", "number", "suffix").values_list(
            "code", "panchayat_id", "district_id", "block_id"
        )
    )
    target = settings.SAMPARK_TARGET_VOLUNTEERS_PER_BOOTH + (0 if rows is None else 1)
    generated = _rows(booths, random.Random(1), target)
    written = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "phone", "booth", "post", "age", "consent_source", "consent_at", "language"])
        for row in generated if rows is None else itertools.islice(generated, rows):
            writer.writerow(row)
            written += 1
    return written


def write_spread_volunteers_csv(path: Path, rows: int) -> int:
    """Exactly ``rows`` volunteers (the demo's generator) spread over the whole state: every k-th booth
    is used, k chosen so that the generated rows just exceed ``rows``, with more volunteers per booth
    when there are too few booths (the small demo). Coordinators come first, as in the demo. Returns
    the number of data rows written."""
    import csv
    import itertools
    import math
    import random

    from sampark.people.demo import _rows
    from sampark.territory.models import Booth

    booths = list(
        Booth.objects.order_by("ac_id", "number", "suffix").values_list(
            "code", "panchayat_id", "district_id", "block_id"
        )
    )
    target = 11  # ~10.2 volunteers a booth on average with the demo's variance
    stride = max(1, int(len(booths) * 10 / rows))
    if stride == 1:
        target = max(target, math.ceil(1.6 * rows / len(booths)))
    written = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "phone", "booth", "post", "age", "consent_source", "consent_at", "language"])
        for row in itertools.islice(_rows(booths[::stride], random.Random(1), target), rows):
            writer.writerow(row)
            written += 1
    if written < rows:
        raise RuntimeError(f"generated only {written:,} of {rows:,} volunteers")
    return written


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc), children first."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pid: int) -> tuple[str, float]:
    """(short command line, user + system CPU seconds so far) of one process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "", 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    words = [a.decode(errors="replace") for a in argv if a]
    name = " ".join(Path(w).name if i == 0 else w for i, w in enumerate(words[:4]))
    return name, (int(fields[11]) + int(fields[12])) / ticks
