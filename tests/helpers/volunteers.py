"""The volunteer-import set-up shared by its tests (tests/test_import_volunteers*.py): the frozen day,
good rows, writing and running a file, and digests of the people tables. The territory and the frozen
clock are the conftest fixtures ``demo_territory`` and ``frozen_import_clock``."""

from __future__ import annotations

import datetime
import hashlib
import zoneinfo
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.db import connection

from sampark.people.importers import VolunteerImport
from sampark.people.models import BoothCoverage, Consent, ContactPoint, Person, Post
from sampark.territory.importers.base import ImportReport, run_import

TODAY = datetime.date(2026, 11, 10)
NOW = datetime.datetime(2026, 11, 10, 6, 30, tzinfo=datetime.UTC)
IST = zoneinfo.ZoneInfo("Asia/Kolkata")
HEADER = ("name", "phone", "booth", "post", "age", "consent_source", "consent_at", "language")
PEOPLE_MODELS = (Person, ContactPoint, Consent, Post, BoothCoverage)


def write(path: Path, *rows: Sequence[str], header: Sequence[str] = HEADER) -> Path:
    lines = [",".join(header), *(",".join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(*paths: Path, **options: Any) -> ImportReport:
    return run_import(VolunteerImport, list(paths), **options)


def people_digest() -> dict[str, tuple[int, str]]:
    """Row count and a hash of every column of every row (timestamps included), per people table."""
    result = {}
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in PEOPLE_MODELS:
            pk = model._meta.pk.column  # type: ignore[union-attr]
            cursor.execute(f"SELECT * FROM {qn(model._meta.db_table)} ORDER BY {qn(pk)}")
            rows = cursor.fetchall()
            result[model.__name__] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return result


def changes(report: ImportReport) -> dict[str, tuple[int, int]]:
    return {label: (c.created, c.updated) for label, c in report.counts.items()}


def counted(code: str) -> int:
    row = BoothCoverage.objects.filter(booth__code=code).first()
    return row.volunteers if row else 0


RAMESH = ("रमेश कुमार", "98765 43210", "1-1", "yuva saathi", "24", "form", "2026-10-02", "hi")
SUNITA = (
    "Sunita Devi",
    "+91 91234 56789",
    "1-1",
    "booth volunteer",
    "31",
    "referral",
    "2026-10-02 18:30",
    "en",
)
ANIL = ("Anil Yadav", "09988776655", "1-1A", "booth president", "40", "chat", "2026-09-30", "हिंदी")
MEENA = ("Meena Kumari", "919812345678", "1-2", "block coordinator", "29", "form", "2026-10-05", "hi")
GOOD = (RAMESH, SUNITA, ANIL, MEENA)
