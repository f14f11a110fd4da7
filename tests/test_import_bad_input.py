"""The bad-input corpus: every kind of broken file gets one specific error and leaves the database as it was.

For polling stations and the LGD/ECI lists, each bad file (the wrong file, a truncated one, a wrong
header, bytes that are not UTF-8, an unknown AC/state/district, an empty file, a missing file) is
imported alone and after a good file in the same run. The run must report exactly one error naming
the file, line and field, the command must fail (CommandError, so a non-zero exit), and every
territory table must hash the same before and after: nothing half-written.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from sampark.territory.models import AssemblyConstituency, Booth, District, State

from .factories import (
    CEO_FIRST_LINE,
    CEO_HEADER,
    ECI_HEADER,
    LGD_BLOCK_HEADER,
    LGD_DISTRICT_HEADER,
    ceo_file,
    ceo_row,
    eci_rows,
    lgd_districts,
    lgd_states,
    run,
    small_bihar,
    table_digest,
    write_csv,
)

pytestmark = pytest.mark.django_db
ARWAL = "214-Arwal [33-Arwal]"


@dataclass(frozen=True)
class Case:
    """A bad file: how to write it, and the issue it must get (file, line, field, part of the reason)."""

    kind: str
    write: Callable[[Path], Path]
    file: str | None  # None: the full path (a missing file is named as given)
    line: int | None
    field: str
    reason: str
    options: tuple[str, ...] = ()


def good_file(kind: str, directory: Path) -> Path:
    """A file of ``kind`` that imports cleanly into :func:`small_bihar` (and changes it)."""
    directory.mkdir(exist_ok=True)
    if kind == "polling-stations":
        return ceo_file(
            directory,
            "1-Paschim Champaran.csv",
            [
                ceo_row(ps="1"),
                ceo_row(ps="1", kind="Auxiliary"),
                ceo_row(ac="2-Ramnagar", ps="1"),
            ],
        )
    if kind == "lgd-states":
        return lgd_states(directory / "1-state.csv")
    if kind == "lgd-districts":
        return lgd_districts(
            directory / "2-district.csv",
            [(10, "BIHAR", 211, "PASHCHIM CHAMPARAN"), (10, "BIHAR", 212, "PATNA")],
        )
    if kind == "lgd-blocks":
        return write_csv(
            directory / "blocks.csv",
            LGD_BLOCK_HEADER,
            [(1, 10, "BIHAR", 211, "PASHCHIM CHAMPARAN", 1928, 1, "BAGAHA-I ", "बगहा-1")],
        )
    return write_csv(
        directory / "eci.csv",
        ECI_HEADER,
        eci_rows(acs=[(1, 1, "VALMIKI NAGAR", ""), (1, 3, "NARKATIAGANJ", "")]),
        newline="\r\n",
    )


def text(name: str, content: str) -> Callable[[Path], Path]:
    def make(directory: Path) -> Path:
        path = directory / name
        path.write_text(content, encoding="utf-8")
        return path

    return make


def raw(name: str, content: bytes) -> Callable[[Path], Path]:
    def make(directory: Path) -> Path:
        path = directory / name
        path.write_bytes(content)
        return path

    return make


def ceo(name: str, *rows: str) -> Callable[[Path], Path]:
    return lambda directory: ceo_file(directory, name, rows)


def missing(name: str) -> Callable[[Path], Path]:
    return lambda directory: directory / name


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


TITLE = "Polling Station (Main and Auxiliary) Details" + "," * 10
NUMBERS = ",".join(str(i) for i in range(1, 12))
DISTRICTS = ",".join(LGD_DISTRICT_HEADER)
ECI = ",".join(ECI_HEADER)
GOOD_ECI_ROW = "S04,BR,BIHAR,1,VALMIKI NAGAR,,2,RAMNAGAR,SC"

CASES = {
    # --- polling stations (raw CEO district files) ---
    "ceo-wrong-file": Case(
        "polling-stations",
        text("2-district.csv", lines(DISTRICTS, "10,BIHAR,211,PASHCHIM CHAMPARAN,1,203")),
        "2-district.csv",
        1,
        "header",
        "not a CEO polling-station file",
    ),
    "ceo-wrong-file-name": Case(
        "polling-stations",
        ceo("booths.csv", ceo_row(ac=ARWAL)),
        "booths.csv",
        None,
        "",
        "does not look like '<CEO district number>-<district>.csv'",
    ),
    "ceo-truncated": Case(
        "polling-stations",
        text(
            "33-Arwal.csv",
            lines(TITLE, CEO_HEADER, NUMBERS, ceo_row(ac=ARWAL)) + f'{ARWAL},2,"Madhya Vidyalay, Kinja',
        ),
        "33-Arwal.csv",
        CEO_FIRST_LINE + 1,
        "",
        "malformed CSV",
    ),
    "ceo-wrong-header": Case(
        "polling-stations",
        text(
            "33-Arwal.csv",
            lines(TITLE, CEO_HEADER.replace("Ramp Facility", "Remarks"), NUMBERS, ceo_row(ac=ARWAL)),
        ),
        "33-Arwal.csv",
        2,
        "header",
        "missing Ramp Facility at PS (Yes/No)",
    ),
    "ceo-not-utf8": Case(
        "polling-stations",
        raw(
            "33-Arwal.csv",
            lines(TITLE, CEO_HEADER, NUMBERS, ceo_row(ac=ARWAL), ceo_row(ac=ARWAL, ps="2", name="Kinja"))
            .encode()
            .replace(b"Kinja", b"K\xefnja"),
        ),
        "33-Arwal.csv",
        CEO_FIRST_LINE + 1,
        "",
        "not UTF-8 text (byte 0xef at column",
    ),
    "ceo-unknown-ac": Case(
        "polling-stations",
        ceo("33-Arwal.csv", ceo_row(ac=ARWAL), ceo_row(ac="5-Lauriya", ps="1")),
        "33-Arwal.csv",
        CEO_FIRST_LINE + 1,
        "AC No. & Name",
        "unknown assembly constituency 5 ('5-Lauriya')",
    ),
    "ceo-empty": Case(
        "polling-stations", raw("33-Arwal.csv", b""), "33-Arwal.csv", None, "", "the file is empty"
    ),
    "ceo-missing": Case("polling-stations", missing("33-Arwal.csv"), None, None, "", "file not found"),
    # --- LGD districts ---
    "lgd-wrong-file": Case(
        "lgd-districts",
        text(
            "2-district.csv",
            lines(",".join(LGD_BLOCK_HEADER), "1,10,BIHAR,211,PASHCHIM CHAMPARAN,1928,1,BAGAHA-I,"),
        ),
        "2-district.csv",
        1,
        "header",
        "missing column(s) Census 2001 Code, Census 2011 Code",
    ),
    "lgd-truncated-in-a-quote": Case(
        "lgd-districts",
        text("2-district.csv", lines(DISTRICTS, "10,BIHAR,212,PATNA,28,230") + '10,"BIHAR,21'),
        "2-district.csv",
        3,
        "",
        "malformed CSV",
    ),
    "lgd-truncated-in-a-row": Case(
        "lgd-districts",
        text("2-district.csv", lines(DISTRICTS, "10,BIHAR,212,PATNA,28,230", "10,BIHAR,21")),
        "2-district.csv",
        3,
        "",
        "expected 6 columns, found 3",
    ),
    "lgd-wrong-header": Case(
        "lgd-districts",
        text(
            "2-district.csv",
            lines(DISTRICTS.replace("District Code", "Dist Code"), "10,BIHAR,212,PATNA,28,230"),
        ),
        "2-district.csv",
        1,
        "header",
        "missing column(s) District Code",
    ),
    "lgd-not-utf8": Case(
        "lgd-districts",
        raw(
            "2-district.csv",
            lines(DISTRICTS, "10,BIHAR,212,PATNA,28,230", "10,BIHAR,213,PURBI CHAMPARAN,2,204")
            .encode()
            .replace(b"PURBI", b"P\xdcRBI"),
        ),
        "2-district.csv",
        3,
        "",
        "not UTF-8 text (byte 0xdc at column 15)",
    ),
    "lgd-unknown-state": Case(
        "lgd-districts",
        text("2-district.csv", lines(DISTRICTS, "10,BIHAR,212,PATNA,28,230", "99,ATLANTIS,900,POSEIDONIA,,")),
        "2-district.csv",
        3,
        "State Code",
        "unknown state '99'; import lgd-states first",
    ),
    "lgd-blank-lines-only": Case(
        "lgd-districts", text("2-district.csv", "\n\n"), "2-district.csv", None, "", "the file is empty"
    ),
    "lgd-empty": Case(
        "lgd-districts", raw("2-district.csv", b""), "2-district.csv", None, "", "the file is empty"
    ),
    "lgd-missing": Case("lgd-districts", missing("2-district.csv"), None, None, "", "file not found"),
    "lgd-states-wrong-file": Case(
        "lgd-states",
        text("1-state.csv", lines(DISTRICTS, "10,BIHAR,212,PATNA,28,230")),
        "1-state.csv",
        1,
        "header",
        "missing column(s) State or UT",
    ),
    "lgd-blocks-unknown-district": Case(
        "lgd-blocks",
        text("blocks.csv", lines(",".join(LGD_BLOCK_HEADER), "1,10,BIHAR,299,NOWHERE,5000,1,X,")),
        "blocks.csv",
        2,
        "District Code",
        "unknown district '299'; import lgd-districts first",
    ),
    "lgd-state-not-in-file": Case(
        "lgd-districts",
        text("2-district.csv", lines(DISTRICTS, "9,UTTAR PRADESH,150,AGRA,,")),
        "2-district.csv",
        None,
        "State Code",
        "no row of this file is in the state 'Bihar'",
        ("--state", "Bihar"),
    ),
    # --- ECI delimitation list ---
    "eci-wrong-file": Case(
        "eci-constituencies",
        text("eci.csv", lines(DISTRICTS, "10,BIHAR,212,PATNA,28,230")),
        "eci.csv",
        1,
        "header",
        "missing column(s) ST_CODE",
    ),
    "eci-truncated": Case(
        "eci-constituencies",
        text("eci.csv", lines(ECI, GOOD_ECI_ROW) + 'S04,BR,"BIHAR,1,VALMIKI'),
        "eci.csv",
        3,
        "",
        "malformed CSV",
    ),
    "eci-wrong-header": Case(
        "eci-constituencies",
        text("eci.csv", lines(ECI.replace("AC_TYPE", "AC_KIND"), GOOD_ECI_ROW)),
        "eci.csv",
        1,
        "header",
        "missing column(s) AC_TYPE",
    ),
    "eci-not-utf8": Case(
        "eci-constituencies",
        raw("eci.csv", lines(ECI, GOOD_ECI_ROW).encode().replace(b"RAMNAGAR", b"R\xc4MNAGAR")),
        "eci.csv",
        2,
        "",
        "not UTF-8 text (byte 0xc4",
    ),
    "eci-unknown-reservation": Case(
        "eci-constituencies",
        text("eci.csv", lines(ECI, GOOD_ECI_ROW.replace(",SC", ",XY"))),
        "eci.csv",
        2,
        "AC_TYPE",
        "unknown reservation 'XY'",
    ),
    "eci-empty": Case(
        "eci-constituencies", raw("eci.csv", b"\xef\xbb\xbf"), "eci.csv", None, "", "the file is empty"
    ),
    "eci-missing": Case("eci-constituencies", missing("eci.csv"), None, None, "", "file not found"),
}


def options(case: Case) -> dict[str, str]:
    pairs = dict(zip(case.options[::2], case.options[1::2], strict=True))
    return {name.lstrip("-").replace("-", "_"): value for name, value in pairs.items()}


@pytest.mark.parametrize("after_a_good_file", [False, True], ids=["alone", "after-a-good-file"])
@pytest.mark.parametrize("name", list(CASES))
def test_it_rejects_a_bad_file_with_one_specific_error_and_writes_nothing(tmp_path, name, after_a_good_file):
    case = CASES[name]
    small_bihar()
    (tmp_path / "bad").mkdir()
    bad = case.write(tmp_path / "bad")
    paths = [good_file(case.kind, tmp_path / "good"), bad] if after_a_good_file else [bad]
    before = table_digest()

    report = run(case.kind, paths, **options(case))

    assert [(i.file, i.line, i.field, i.severity) for i in report.errors] == [
        (case.file or str(bad), case.line, case.field, "error"),
    ]
    assert case.reason in report.errors[0].reason
    assert not report.committed
    assert table_digest() == before
    with translation.override("en"), pytest.raises(CommandError, match=r"^1 error\(s\): nothing was written"):
        call_command("import", case.kind, *map(str, paths), *case.options, verbosity=0)
    assert table_digest() == before


@pytest.mark.parametrize(
    "kind", ["polling-stations", "lgd-states", "lgd-districts", "lgd-blocks", "eci-constituencies"]
)
def test_its_good_files_do_change_the_database(tmp_path, kind):
    """The corpus's "good" files really write, so "unchanged" above means rolled back, not ignored."""
    small_bihar()
    before = table_digest()
    report = run(kind, [good_file(kind, tmp_path)])
    assert report.errors == [] and report.committed and report.changed > 0
    assert table_digest() != before


def test_it_names_the_line_where_an_unclosed_quote_starts_not_the_end_of_the_file(tmp_path):
    small_bihar()
    path = text(
        "2-district.csv", lines(DISTRICTS, '10,BIHAR,212,"PATNA,28,230', *["10,BIHAR,213,X,2,204"] * 20)
    )
    report = run("lgd-districts", [path(tmp_path)])
    assert [(i.line, i.field) for i in report.errors] == [(2, "")]
    assert "read to line 22" in report.errors[0].reason
    assert not District.objects.filter(lgd_code__in=[212, 213]).exists()


def test_it_reports_junk_rows_as_warnings_and_keeps_the_real_stations(tmp_path):
    small_bihar()
    path = ceo_file(
        tmp_path,
        "1-Paschim Champaran.csv",
        [
            ceo_row(ps="1"),
            ",,,,1190,1250,,,,,",  # a continuation row: only an elector range
            ceo_row(ps="2", lat="26°48'0\"N", lon="84..490917"),
            ceo_row(ps="3", lat="91.5", lon="12.0"),
            ",004,,,,,,,,,",  # only a number
        ],
    )
    report = run("polling-stations", [path])
    assert report.errors == [] and report.committed
    assert [(i.file, i.line, i.field) for i in report.warnings] == [
        ("1-Paschim Champaran.csv", 5, ""),
        ("1-Paschim Champaran.csv", 8, "Polling Station Name"),
    ]
    booths = {b.code: b for b in Booth.objects.all()}
    assert sorted(booths) == ["1-1", "1-2", "1-3"]
    assert (booths["1-2"].coordinate_quality, str(booths["1-2"].latitude)) == ("dms", "26.800000")
    assert (booths["1-3"].latitude, booths["1-3"].longitude, booths["1-3"].coordinate_quality) == (
        None,
        None,
        "out_of_area",
    )
    assert booths["1-3"].coordinate_raw == "91.5,12.0"


# --- the command ----------------------------------------------------------------------------------


def test_it_writes_nothing_on_a_dry_run_and_says_so(tmp_path, capsys):
    small_bihar()
    before = table_digest()
    with translation.override("en"):
        call_command("import", "polling-stations", str(good_file("polling-stations", tmp_path)), "--dry-run")
    err = capsys.readouterr().err
    assert "Dry run: nothing was written." in err
    assert "3 rows read · 0 errors · 0 warnings" in err
    assert table_digest() == before


def test_it_writes_every_issue_to_the_report_file(tmp_path):
    small_bihar()
    bad = ceo_file(
        tmp_path, "1-Paschim Champaran.csv", [ceo_row(ps="1"), ceo_row(ac="5-Lauriya"), ",,,,1,2,,,,,"]
    )
    report_path = tmp_path / "report.csv"
    with translation.override("en"), pytest.raises(CommandError):
        call_command("import", "polling-stations", str(bad), "--report", str(report_path), verbosity=0)
    with report_path.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["file", "line", "field", "severity", "reason"]
    assert sorted(tuple(r[:4]) for r in rows[1:]) == [
        ("1-Paschim Champaran.csv", "5", "AC No. & Name", "error"),
        ("1-Paschim Champaran.csv", "6", "", "warning"),
    ]
    assert not Booth.objects.exists()
    assert AssemblyConstituency.objects.get(number=1).district is None
    assert State.objects.count() == 1
