"""The volunteer import gives the same result however it runs: checked in a second process, and
reconciled a few rows at a time, as ten-lakh-row files are."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sampark.core.forked import can_fork, forked
from sampark.people import importers
from sampark.people.importers import VolunteerImport
from sampark.people.models import ContactPoint, Person, Post
from tests.helpers.volunteers import (
    ANIL,
    GOOD,
    MEENA,
    RAMESH,
    SUNITA,
    changes,
    counted,
    people_digest,
    run,
    write,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("demo_territory", "english", "frozen_import_clock"),
]


@pytest.fixture(params=["serial", "child process"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # Reconcile every two rows, so a file of a few rows spans several chunks.
    monkeypatch.setattr(importers, "RECONCILE_EVERY", 2)
    monkeypatch.setattr(importers, "STAGE_CHUNK", 1)
    children: list[str] = []
    if request.param == "child process":
        if not can_fork():
            # Without fork the import silently checks in this process: say so (under CI=true a skip fails).
            pytest.skip("needs fork and a second core")
        monkeypatch.setattr(VolunteerImport, "parallel_min_bytes", 0)

        def counted_fork(produce: Any, *, ahead: int, what: str) -> Any:
            children.append(what)
            return forked(produce, ahead=ahead, what=what)

        monkeypatch.setattr(importers, "forked", counted_fork)
    else:
        monkeypatch.setattr(VolunteerImport, "parallel_min_bytes", 10**12)
    yield str(request.param)
    # The "child process" runs really checked their files in a child, not in a serial fallback.
    assert bool(children) is (request.param == "child process"), children


def test_it_imports_the_same_across_chunks_and_processes(tmp_path: Path, mode: str) -> None:
    # Ramesh again (identical) in a later chunk, and with a second post: one person, two posts.
    again = (*RAMESH[:3], "booth president", *RAMESH[4:])
    report = run(write(tmp_path / "v.csv", *GOOD, RAMESH, again))
    assert report.errors == [] and report.committed
    assert report.rows_read == 6
    assert changes(report) == {
        "people": (4, 0),
        "contact points": (8, 0),
        "consents": (8, 0),
        "posts": (5, 0),
    }
    assert Person.objects.count() == 4
    assert Post.objects.filter(person__phone="+919876543210").count() == 2
    assert ContactPoint.objects.filter(consent_live=True).count() == 8
    assert counted("1-1") == 2  # Ramesh (once, however often named) and Sunita
    before = people_digest()
    assert run(write(tmp_path / "v.csv", *GOOD, RAMESH, again)).changed == 0
    assert people_digest() == before


def test_a_conflict_in_a_later_chunk_writes_nothing(tmp_path: Path, mode: str) -> None:
    before = people_digest()
    conflicting = ("Someone Else", *RAMESH[1:])
    report = run(write(tmp_path / "v.csv", RAMESH, SUNITA, ANIL, MEENA, conflicting))
    assert [(i.line, i.field) for i in report.errors] == [(6, "phone")]
    assert "line 2" in report.errors[0].reason
    assert not report.committed
    assert people_digest() == before


def test_row_errors_and_unreadable_bytes_are_reported_the_same(
    tmp_path: Path, mode: str, settings: Any
) -> None:
    bad_age = (*SUNITA[:4], "16", *SUNITA[5:])
    report = run(write(tmp_path / "v.csv", RAMESH, bad_age, MEENA))
    assert [(i.file, i.line, i.field) for i in report.errors] == [("v.csv", 3, "age")]
    assert not report.committed and not Person.objects.exists()

    broken = tmp_path / "broken.csv"
    broken.write_bytes(write(tmp_path / "x.csv", RAMESH, SUNITA).read_bytes() + b"Ra\xffm,9123400001\n")
    report = run(broken)
    assert [(i.file, i.line) for i in report.errors] == [("broken.csv", 4)]
    assert "UTF-8" in report.errors[0].reason
    assert not Person.objects.exists()
