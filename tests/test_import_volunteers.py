"""`sampark import volunteers`: people, contact points, consents and posts from CSV, idempotent by phone;
a re-import updates people and moves posts but never resurrects a withdrawn consent; every bad file gets
an error naming its file, line and field, and imports nothing."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from sampark.core.text import search_key
from sampark.people import services
from sampark.people.models import BoothCoverage, Channel, Consent, ContactPoint, Level, Person, Post, Role
from sampark.territory.models import Booth
from tests.helpers.volunteers import (
    ANIL,
    GOOD,
    HEADER,
    IST,
    MEENA,
    NOW,
    RAMESH,
    SUNITA,
    TODAY,
    changes,
    counted,
    people_digest,
    run,
    write,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english", "frozen_import_clock")]

# --- the happy path -----------------------------------------------------------------------------------


def test_it_imports_people_contact_points_consents_and_posts(
    demo_territory: None, tmp_path: Path, settings: Any
) -> None:
    settings.SAMPARK_CONSENT_NOTICE_VERSION = "notice-3"
    report = run(write(tmp_path / "volunteers.csv", *GOOD))
    assert report.errors == [] and report.warnings == []
    assert report.committed and report.rows_read == 4
    assert changes(report) == {
        "people": (4, 0),
        "contact points": (8, 0),
        "consents": (8, 0),
        "posts": (4, 0),
    }

    ramesh = Person.objects.get(phone="+919876543210")
    assert ramesh.name == "रमेश कुमार" and ramesh.name_key == search_key("रमेश कुमार")
    assert ramesh.home_booth == Booth.objects.get(code="1-1")
    assert (ramesh.age, ramesh.age_on, ramesh.birth_date, ramesh.language) == (24, TODAY, None, "hi")
    assert ramesh.source == "form"
    assert Person.objects.get(phone="+919988776655").language == "hi"
    assert Person.objects.get(phone="+919123456789").language == "en"
    for person in Person.objects.all():
        points = {p.channel: p for p in person.contact_points.all()}
        assert set(points) == {Channel.SMS, Channel.WHATSAPP}
        assert all(p.address == str(person.phone) and p.consent_live for p in points.values())
    consent = Consent.objects.get(contact_point__person=ramesh, contact_point__channel=Channel.SMS)
    assert consent.given_at == datetime.datetime(2026, 10, 2, tzinfo=IST)
    assert (consent.source, consent.notice_version, consent.notice_language) == ("form", "notice-3", "hi")
    assert consent.withdrawn_at is None
    sunita = Consent.objects.filter(contact_point__person__phone="+919123456789").first()
    assert sunita is not None and sunita.given_at == datetime.datetime(2026, 10, 2, 18, 30, tzinfo=IST)
    assert sunita.source == "referral" and sunita.notice_language == "en"

    booth = Booth.objects.get(code="1-1")
    post = Post.objects.get(person=ramesh)
    assert (post.role, post.level, post.booth_id, post.started_on, post.ended_on) == (
        Role.BOOTH_VOLUNTEER,
        Level.BOOTH,
        booth.pk,
        TODAY,
        None,
    )
    assert (post.state_id, post.district_id, post.ac_id, post.block_id, post.panchayat_id) == (
        booth.state_id,
        booth.district_id,
        booth.ac_id,
        booth.block_id,
        booth.panchayat_id,
    )
    assert Post.objects.get(person__phone="+919988776655").role == Role.BOOTH_PRESIDENT
    # Two volunteers at 1-1; a president and a coordinator are not counted.
    assert set(BoothCoverage.objects.values_list("booth__code", "volunteers")) == {("1-1", 2)}


def test_a_second_run_of_the_same_file_changes_nothing(demo_territory: None, tmp_path: Path) -> None:
    path = write(tmp_path / "volunteers.csv", *GOOD)
    assert run(path).committed
    before = people_digest()
    again = run(path)
    assert again.committed and again.errors == [] and again.warnings == []
    assert changes(again) == {"people": (0, 0), "contact points": (0, 0), "consents": (0, 0), "posts": (0, 0)}
    assert again.counts["people"].unchanged == 4 and again.counts["posts"].unchanged == 4
    assert people_digest() == before


def test_the_same_person_twice_with_two_posts_gets_both(demo_territory: None, tmp_path: Path) -> None:
    president = (*RAMESH[:3], "booth president", *RAMESH[4:])
    report = run(write(tmp_path / "v.csv", RAMESH, president))
    assert report.errors == []
    assert changes(report)["people"] == (1, 0)
    assert set(Post.objects.values_list("role", flat=True)) == {Role.BOOTH_VOLUNTEER, Role.BOOTH_PRESIDENT}
    assert counted("1-1") == 1


def test_a_changed_name_and_booth_update_the_person_and_move_the_post(
    demo_territory: None, tmp_path: Path
) -> None:
    assert run(write(tmp_path / "first.csv", *GOOD)).committed
    assert (counted("1-1"), counted("1-3")) == (2, 0)
    moved = ("Ramesh Kumar Yadav", RAMESH[1], "1-3", *RAMESH[3:])
    report = run(write(tmp_path / "second.csv", moved, SUNITA, ANIL, MEENA))
    assert report.errors == []
    assert changes(report) == {
        "people": (0, 1),
        "contact points": (0, 0),
        "consents": (0, 0),
        "posts": (1, 1),
    }
    ramesh = Person.objects.get(phone="+919876543210")
    assert (ramesh.name, ramesh.name_key, ramesh.home_booth.code) == (
        "Ramesh Kumar Yadav",
        "ramesh kumar yadav",
        "1-3",
    )
    old, new = Post.objects.filter(person=ramesh).order_by("pk")
    assert (old.booth.code, old.ended_on) == ("1-1", TODAY)
    assert (new.booth.code, new.ended_on, new.started_on) == ("1-3", None, TODAY)
    assert (counted("1-1"), counted("1-3")) == (1, 1)
    # Again: nothing more to do.
    before = people_digest()
    assert changes(run(write(tmp_path / "third.csv", moved, SUNITA, ANIL, MEENA)))["posts"] == (0, 0)
    assert people_digest() == before


def test_a_consent_withdrawn_after_the_files_is_not_resurrected(demo_territory: None, tmp_path: Path) -> None:
    path = write(tmp_path / "volunteers.csv", *GOOD)
    assert run(path).committed
    ramesh = Person.objects.get(phone="+919876543210")
    assert services.consent_withdraw_all(person=ramesh, via="sms STOP") == 2
    assert counted("1-1") == 1
    consents = Consent.objects.count()

    report = run(path)
    assert report.committed and report.errors == []
    [warning] = report.warnings
    assert (warning.file, warning.line, warning.field) == ("volunteers.csv", 2, "consent_at")
    assert "withdrawn" in warning.reason
    assert not ContactPoint.objects.filter(person=ramesh, consent_live=True).exists()
    assert Consent.objects.count() == consents
    assert not Consent.objects.filter(contact_point__person=ramesh, withdrawn_at__isnull=True).exists()
    assert counted("1-1") == 1


def test_a_consent_given_again_after_the_withdrawal_is_recorded(demo_territory: None, tmp_path: Path) -> None:
    assert run(write(tmp_path / "first.csv", *GOOD)).committed
    ramesh = Person.objects.get(phone="+919876543210")
    services.consent_withdraw_all(person=ramesh, at=NOW - datetime.timedelta(days=5))
    later = (*RAMESH[:6], "2026-11-09 10:00", RAMESH[7])
    report = run(write(tmp_path / "second.csv", later))
    assert report.errors == [] and report.warnings == []
    assert changes(report)["consents"] == (2, 0)
    assert ContactPoint.objects.filter(person=ramesh, consent_live=True).count() == 2
    assert Consent.objects.filter(contact_point__person=ramesh).count() == 4
    assert counted("1-1") == 2


@pytest.mark.parametrize(
    ("post", "level", "kept"),
    [
        ("block coordinator", Level.BLOCK, ("state_id", "district_id", "block_id")),
        ("प्रखंड संयोजक", Level.BLOCK, ("state_id", "district_id", "block_id")),
        ("panchayat_coordinator", Level.PANCHAYAT, ("state_id", "district_id", "block_id", "panchayat_id")),
        ("ac coordinator", Level.AC, ("state_id", "district_id", "ac_id")),
        ("district coordinator", Level.DISTRICT, ("state_id", "district_id")),
        ("state coordinator", Level.STATE, ("state_id",)),
    ],
)
def test_a_coordinator_row_gets_a_post_at_the_booths_ancestor(
    demo_territory: None, tmp_path: Path, post: str, level: str, kept: tuple[str, ...]
) -> None:
    report = run(write(tmp_path / "v.csv", (*MEENA[:3], post, *MEENA[4:])))
    assert report.errors == []
    booth = Booth.objects.get(code=MEENA[2])
    [made] = Post.objects.all()
    assert made.level == level
    columns = ("state_id", "district_id", "ac_id", "block_id", "panchayat_id", "booth_id")
    expected = {c: (getattr(booth, "pk" if c == "booth_id" else c) if c in kept else None) for c in columns}
    assert {c: getattr(made, c) for c in columns} == expected
    assert not BoothCoverage.objects.exists()


def test_a_person_made_reachable_again_by_an_import_counts_at_their_other_booths(
    demo_territory: None, tmp_path: Path
) -> None:
    elsewhere = Booth.objects.get(code="2-1")
    person = services.person_register(
        name="Ramesh Kumar", phone=RAMESH[1], age=24, channels=[Channel.SMS], consent_at=NOW
    )
    services.post_assign(person=person, role=Role.BOOTH_VOLUNTEER, unit=elsewhere, started_on=TODAY)
    services.consent_withdraw_all(person=person, at=NOW - datetime.timedelta(hours=1))
    assert counted("2-1") == 0
    # A file whose consent predates the withdrawal adds no consent on any channel …
    stale = run(write(tmp_path / "old.csv", (*RAMESH[:3], "booth president", *RAMESH[4:])))
    assert stale.errors == []
    assert not ContactPoint.objects.filter(person=person, consent_live=True).exists()
    assert counted("2-1") == 0
    # … one given after it adds a WhatsApp contact point with live consent, and they count again at
    # their other booth too.
    fresh = (
        *RAMESH[:3],
        "booth president",
        *RAMESH[4:6],
        "2026-11-10 11:45",
        RAMESH[7],
    )  # IST, after the withdrawal
    report = run(write(tmp_path / "v.csv", fresh))
    assert report.errors == []
    assert ContactPoint.objects.filter(person=person, consent_live=True, channel=Channel.WHATSAPP).exists()
    assert counted("2-1") == 1


def test_moving_someone_whose_booth_post_starts_later_cancels_that_post(
    demo_territory: None, tmp_path: Path
) -> None:
    person = services.person_register(name="Ramesh Kumar", phone=RAMESH[1], age=24, consent_at=NOW)
    later = TODAY + datetime.timedelta(days=3)
    post = services.post_assign(
        person=person, role=Role.BOOTH_VOLUNTEER, unit=Booth.objects.get(code="1-1"), started_on=later
    )
    report = run(write(tmp_path / "v.csv", ("Ramesh Kumar", RAMESH[1], "1-3", *RAMESH[3:])))
    assert report.committed and report.errors == []
    post.refresh_from_db()
    assert post.ended_on is not None and not post.is_active(later)
    assert Post.objects.filter(person=person, booth__code="1-3", ended_on__isnull=True).exists()


# --- the bad-input corpus -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    write: Callable[[Path], Path]
    line: int | None
    field: str
    words: str


def rows(
    *data: Sequence[str], header: Sequence[str] = HEADER, name: str = "bad.csv"
) -> Callable[[Path], Path]:
    return lambda folder: write(folder / name, *data, header=header)


def replaced(row: Sequence[str], column: str, value: str) -> tuple[str, ...]:
    cells = list(row)
    cells[HEADER.index(column)] = value
    return tuple(cells)


def raw(content: bytes, name: str = "bad.csv") -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content)
        return path

    return make


OK_LINES = (SUNITA, ANIL)  # lines 2 and 3; the bad row is line 4
CASES = {
    "invalid number": Bad(rows(*OK_LINES, replaced(RAMESH, "phone", "12345")), 4, "phone", "valid"),
    "landline": Bad(rows(*OK_LINES, replaced(RAMESH, "phone", "0612-2345678")), 4, "phone", "landline"),
    "no number": Bad(rows(*OK_LINES, replaced(RAMESH, "phone", "")), 4, "phone", "no phone number"),
    "under 18": Bad(rows(*OK_LINES, replaced(RAMESH, "age", "17")), 4, "age", "under 18"),
    "no age": Bad(rows(*OK_LINES, replaced(RAMESH, "age", "")), 4, "age", "date of birth or an age"),
    "bad age": Bad(rows(*OK_LINES, replaced(RAMESH, "age", "twenty")), 4, "age", "whole number"),
    "unknown booth": Bad(rows(*OK_LINES, replaced(RAMESH, "booth", "1-999")), 4, "booth", "no booth 1-999"),
    "unknown post": Bad(rows(*OK_LINES, replaced(RAMESH, "post", "sarpanch")), 4, "post", "unknown post"),
    "conflicting duplicate": Bad(
        rows(RAMESH, SUNITA, replaced(RAMESH, "name", "Suresh Kumar")), 4, "phone", "as line 2"
    ),
    "missing consent source": Bad(
        rows(*OK_LINES, replaced(RAMESH, "consent_source", "")), 4, "consent_source", "missing consent"
    ),
    "unknown consent source": Bad(
        rows(*OK_LINES, replaced(RAMESH, "consent_source", "phone call")), 4, "consent_source", "unknown"
    ),
    "missing consent date": Bad(
        rows(*OK_LINES, replaced(RAMESH, "consent_at", "")), 4, "consent_at", "missing consent date"
    ),
    "unreadable consent date": Bad(
        rows(*OK_LINES, replaced(RAMESH, "consent_at", "02/10/2026")), 4, "consent_at", "not a date"
    ),
    "future consent date": Bad(
        rows(*OK_LINES, replaced(RAMESH, "consent_at", "2026-11-11")), 4, "consent_at", "future"
    ),
    "bad language": Bad(rows(*OK_LINES, replaced(RAMESH, "language", "fr")), 4, "language", "hi or en"),
    "empty name": Bad(rows(*OK_LINES, replaced(RAMESH, "name", "  ")), 4, "name", "name is required"),
    "wrong header": Bad(rows(RAMESH, header=("naam", *HEADER[1:])), 1, "header", "missing column(s) name"),
    "empty file": Bad(raw(b""), None, "", "empty"),
    "only blank lines": Bad(raw(b"\n\n  \n"), None, "", "empty"),
    "not UTF-8": Bad(
        raw(
            (",".join(HEADER) + "\n" + ",".join(SUNITA) + "\n").encode()
            + "Ram\xe9sh,9876543210,1-1,,24,form,2026-10-02,hi\n".encode("latin-1")
        ),
        3,
        "",
        "not UTF-8",
    ),
    "too few columns": Bad(rows(*OK_LINES, RAMESH[:7]), 4, "", "expected 8 columns, found 7"),
    "too many columns": Bad(rows(*OK_LINES, (*RAMESH, "extra")), 4, "", "expected 8 columns, found 9"),
    "unclosed quote": Bad(
        raw((",".join(HEADER) + '\n"Ramesh,98765 43210\n').encode()), 2, "", "malformed CSV"
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_a_bad_file_gets_one_error_naming_file_line_and_field_and_imports_nothing(
    demo_territory: None, tmp_path: Path, case: str
) -> None:
    bad = CASES[case]
    # Something already imported must stay exactly as it was.
    assert run(write(tmp_path / "earlier.csv", MEENA)).committed
    before = people_digest()
    path = bad.write(tmp_path)
    report = run(path)
    assert not report.committed
    [error] = report.errors
    assert (error.file, error.line, error.field) == (path.name, bad.line, bad.field), str(error)
    assert bad.words in error.reason, str(error)
    assert people_digest() == before


def test_every_bad_row_of_a_file_is_reported_in_one_run(demo_territory: None, tmp_path: Path) -> None:
    path = write(
        tmp_path / "many.csv",
        replaced(RAMESH, "phone", "0612-2345678"),
        replaced(SUNITA, "age", "15"),
        ANIL,
        replaced(MEENA, "booth", "9-9999"),
    )
    report = run(path)
    assert not report.committed
    assert [(e.line, e.field) for e in report.errors] == [(2, "phone"), (3, "age"), (5, "booth")]
    assert not Person.objects.exists()


def test_a_row_with_several_problems_names_each_field(demo_territory: None, tmp_path: Path) -> None:
    row = ("", "12345", "1-999", "sarpanch", "17", "", "", "fr")
    report = run(write(tmp_path / "bad.csv", row))
    assert {e.field for e in report.errors} >= {
        "name",
        "phone",
        "booth",
        "post",
        "consent_source",
        "consent_at",
        "language",
    }
    assert {e.line for e in report.errors} == {2}


def test_a_bad_second_file_rolls_back_the_good_first_one(demo_territory: None, tmp_path: Path) -> None:
    good = write(tmp_path / "good.csv", *GOOD)
    bad = write(
        tmp_path / "bad.csv", replaced(RAMESH, "phone", "9876543210"), replaced(RAMESH, "phone", "12")
    )
    report = run(good, bad)
    assert not report.committed
    assert [(e.file, e.line) for e in report.errors] == [("bad.csv", 3)]
    assert not Person.objects.exists() and not BoothCoverage.objects.exists()


def test_a_dry_run_writes_nothing(demo_territory: None, tmp_path: Path) -> None:
    report = run(write(tmp_path / "v.csv", *GOOD), dry_run=True)
    assert report.errors == [] and not report.committed
    assert report.counts["people"].created == 4
    assert not Person.objects.exists()


# --- the command --------------------------------------------------------------------------------------


def test_the_command_imports_a_good_file(demo_territory: None, tmp_path: Path) -> None:
    call_command("import", "volunteers", str(write(tmp_path / "v.csv", *GOOD)), verbosity=0)
    assert Person.objects.count() == 4
    assert counted("1-1") == 2


def test_the_command_fails_on_errors_and_writes_nothing(demo_territory: None, tmp_path: Path) -> None:
    path = write(tmp_path / "v.csv", RAMESH, replaced(SUNITA, "phone", "0612-2345678"))
    report_path = tmp_path / "issues.csv"
    with pytest.raises(CommandError) as caught:
        call_command("import", "volunteers", str(path), "--report", str(report_path), verbosity=0)
    assert "1" in str(caught.value)
    assert not Person.objects.exists()
    lines = report_path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "file,line,field,severity,reason"
    assert lines[1].startswith("v.csv,3,phone,error,")


def test_the_command_refuses_an_unknown_state(demo_territory: None, tmp_path: Path) -> None:
    with pytest.raises(CommandError):
        call_command(
            "import", "volunteers", str(write(tmp_path / "v.csv", *GOOD)), "--state", "99", verbosity=0
        )
    assert not Person.objects.exists()
