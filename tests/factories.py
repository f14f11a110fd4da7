"""Helpers for the import tests: run an import kind, the real-data pipeline, table digests, small files.

The real-data pipeline runs in the order the data needs (LGD → ECI → crosswalk → polling stations →
panchayat mapping → boundaries). :func:`imported` runs (part of) it once for a test class, inside one
outer transaction that is rolled back when the class is done: the tests of the class share the result
(pytest-django rolls each test's own changes back to a savepoint, as usual) and every later test
starts from an empty database.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from django.db import connection, models, transaction

from sampark.territory.importers.base import ImportReport, run_import
from sampark.territory.importers.registry import IMPORTERS
from sampark.territory.models import (
    AssemblyConstituency,
    Block,
    Booth,
    District,
    Geometry,
    Panchayat,
    ParliamentaryConstituency,
    State,
)

T = TypeVar("T")

TERRITORY_MODELS: tuple[type[models.Model], ...] = (
    State,
    District,
    Block,
    ParliamentaryConstituency,
    AssemblyConstituency,
    Panchayat,
    Booth,
    Geometry,
)


@dataclass(frozen=True)
class Step:
    """One `sampark import` of the real pipeline: the kind, paths under the data folder (globs), options."""

    label: str
    kind: str
    paths: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)

    def files(self, data_dir: Path) -> list[Path]:
        found: list[Path] = []
        for pattern in self.paths:
            matches = sorted(data_dir.glob(pattern))
            assert matches, f"{pattern} not found under {data_dir}"
            found.extend(matches)
        return found


RAW = "polling_stations/bihar_ceo_raw"
PIPELINE: tuple[Step, ...] = (
    Step("lgd-states", "lgd-states", ("lgd/1-state.csv",)),
    Step("lgd-districts", "lgd-districts", ("lgd/2-district.csv",), {"state": "10"}),
    Step("lgd-blocks", "lgd-blocks", ("lgd/blocks.csv",), {"state": "10"}),
    Step("eci-constituencies", "eci-constituencies", ("eci/2008-constituencies.csv",), {"state": "10"}),
    Step("district-crosswalk", "district-crosswalk", ("bihar_district_crosswalk.csv",)),
    Step("polling-stations", "polling-stations", (f"{RAW}/*.csv",)),
    Step("panchayat-mapping", "panchayat-mapping", ("polling_stations/hindi_panchayat_mapping/*.csv",)),
    Step(
        "district boundaries",
        "boundaries",
        ("geo/ht_bihar_districts_2011.geojson",),
        {"level": "district", "key": "censuscode"},
    ),
    Step(
        "ac boundaries",
        "boundaries",
        ("geo/ht_bihar_assembly_constituencies.geojson",),
        {"level": "ac", "key": "AC_NO"},
    ),
    Step(
        "block boundaries",
        "boundaries",
        ("geo/ht_bihar_blocks_2011.geojson",),
        {"level": "block", "key": "block"},
    ),
)
# Everything the territory down to ACs needs (no booths): quick, for the LGD/ECI/boundary modules.
TERRITORY = PIPELINE[:5]


def run(kind: str, paths: Sequence[Path | str], **options: Any) -> ImportReport:
    """One `sampark import <kind>` run, as the command does it but returning the report."""
    return run_import(IMPORTERS[kind], [Path(p) for p in paths], **options)


def run_steps(data_dir: Path, steps: Sequence[Step]) -> dict[str, ImportReport]:
    """Run steps in order; every one must succeed (a failing step stops the run with its errors)."""
    reports = {}
    for s in steps:
        report = run(s.kind, s.files(data_dir), **s.options)
        assert not report.errors, f"{s.label}: {[str(i) for i in report.errors[:5]]}"
        reports[s.label] = report
    return reports


@contextmanager
def kept_while(django_db_blocker: Any, build: Callable[[], T]) -> Iterator[T]:
    """Run ``build`` once in an outer transaction kept open while the caller's tests run, then roll back.

    For class- or module-scoped fixtures: the tests' own transactions nest inside it as savepoints, and
    every later test starts from an empty database.
    """
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = build()
            # Check the deferred foreign keys now, once, in the outer transaction. Left pending, they
            # would be re-checked (PostgreSQL) at every test's teardown, since each test's rollback to
            # its savepoint puts them back in the queue: seconds per test for a lakh booths.
            connection.check_constraints()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    try:
        yield built
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@contextmanager
def imported(
    django_db_blocker: Any, data_dir: Path, steps: Sequence[Step]
) -> Iterator[dict[str, ImportReport]]:
    """Run ``steps`` of the real pipeline once for a class (see :func:`kept_while`)."""
    with kept_while(django_db_blocker, lambda: run_steps(data_dir, steps)) as reports:
        yield reports


def table_digest() -> dict[str, tuple[int, str]]:
    """Row count and a hash of every column of every row (timestamps included), per territory table.

    Raw SQL: the values as the database returns them, without Django's converters, which would make
    hashing the 1 lakh booths several times slower.
    """
    result = {}
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in TERRITORY_MODELS:
            meta = model._meta
            pk = (meta.pk.column if meta.pk else None) or "id"
            cursor.execute(f"SELECT * FROM {qn(meta.db_table)} ORDER BY {qn(pk)}")
            digest = hashlib.sha256()
            count = 0
            while rows := cursor.fetchmany(10_000):
                digest.update(repr(rows).encode())
                count += len(rows)
            result[model.__name__] = (count, digest.hexdigest())
    return result


def changed_counts(report: ImportReport) -> dict[str, tuple[int, int]]:
    """``{label: (created, updated)}`` of a report, for asserting a re-run changed nothing."""
    return {label: (c.created, c.updated) for label, c in report.counts.items()}


# --- small source files ---------------------------------------------------------------------------


def write_csv(
    path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]], *, newline: str = "\n"
) -> Path:
    """A UTF-8 CSV file (``newline="\\r\\n"`` for the files that have CRLF line endings)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator=newline)
        writer.writerow(header)
        writer.writerows(rows)
    return path


LGD_STATE_HEADER = (
    "S.No.",
    "State Code",
    "State Version",
    "State Name",
    "State Name",
    "Census 2001 Code",
    "Census 2011 Code",
    "State or UT",
)
LGD_DISTRICT_HEADER = (
    "State Code",
    "State Name",
    "District Code",
    "District Name",
    "Census 2001 Code",
    "Census 2011 Code",
)
LGD_BLOCK_HEADER = (
    "S.No.",
    "State Code",
    "State Name",
    "District Code",
    "District Name",
    "Block Code",
    "Block Version",
    "Block Name ",
    "Block Name",
)
ECI_HEADER = (
    "ST_CODE",
    "ST_ABBR",
    "ST_NAME",
    "PC_CODE",
    "PC_NAME",
    "PC_TYPE",
    "AC_CODE",
    "AC_NAME",
    "AC_TYPE",
)
CEO_TITLE = "Polling Station (Main and Auxiliary) Details" + "," * 10
CEO_HEADER = (
    "AC No. & Name,Polling Station No.,Polling Station Name,Main/Auxiliary Polling Station (M/A),"
    "Elector Serial No. From,Elector Serial No. To,Latitude of Polling Station Building,"
    "Longitude of Polling Station Building,Electricity facility at PS (Yes/No),"
    "Toilet Facility at PS (Yes/No),Ramp Facility at PS (Yes/No)"
)
CEO_FIRST_LINE = 4  # title, column names and the "1,2,…,11" row come first


def lgd_states(path: Path, rows: Sequence[tuple[int, str]] = ((10, "BIHAR"), (9, "UTTAR PRADESH"))) -> Path:
    """1-state.csv layout; rows are (code, name)."""
    return write_csv(
        path,
        LGD_STATE_HEADER,
        [(i, code, 1, name, name, code, code, "S") for i, (code, name) in enumerate(rows, 1)],
    )


def lgd_districts(path: Path, rows: Sequence[tuple[int, str, int, str]]) -> Path:
    """2-district.csv layout; rows are (state code, state name, district code, district name)."""
    return write_csv(path, LGD_DISTRICT_HEADER, [(s, sn, d, dn, "", "") for s, sn, d, dn in rows])


def eci_rows(
    state: str = "S04", name: str = "BIHAR", acs: Sequence[tuple[int, int | str, str, str]] = ()
) -> list[tuple[Any, ...]]:
    """2008-constituencies.csv rows; acs are (pc, ac, ac name, ac type)."""
    return [(state, "BR", name, pc, f"PC {pc}", "", ac, ac_name, ac_type) for pc, ac, ac_name, ac_type in acs]


def ceo_row(
    ac: str = "1-Valmiki Nagar [1-Paschim Champaran]",
    ps: str = "1",
    name: str = "Prathmik Vidyalay",
    kind: str = "Main",
    lat: str = "27.41216",
    lon: str = "83.88296",
) -> str:
    """One data row of a raw CEO district file."""
    cells = [ac, ps, name, kind, "1", "900", lat, lon, "Yes", "No", "Y"]
    out = []
    for cell in cells:
        out.append(f'"{cell}"' if "," in cell or "\n" in cell else cell)
    return ",".join(out)


def ceo_file(directory: Path, name: str, rows: Sequence[str]) -> Path:
    """A raw CEO district file named ``<CEO no>-<district>.csv`` with its three header rows."""
    path = directory / name
    numbers = ",".join(str(i) for i in range(1, 12))
    path.write_text("\n".join([CEO_TITLE, CEO_HEADER, numbers, *rows]) + "\n", encoding="utf-8")
    return path


def small_bihar() -> dict[str, Any]:
    """Bihar with two districts (CEO 1 Pashchim Champaran, CEO 33 Arwal), one PC and three ACs (1, 2, 214)."""
    state = State.objects.create(lgd_code=10, name_en="Bihar", eci_code="S04")
    champaran = District.objects.create(
        state=state, lgd_code=211, name_en="Pashchim Champaran", census2011_code="203", ceo_number=1
    )
    arwal = District.objects.create(
        state=state, lgd_code=611, name_en="Arwal", census2011_code="240", ceo_number=33
    )
    pc = ParliamentaryConstituency.objects.create(state=state, number=1, name_en="Valmiki Nagar")
    acs = {
        n: AssemblyConstituency.objects.create(state=state, number=n, name_en=name, pc=pc)
        for n, name in ((1, "Valmiki Nagar"), (2, "Ramnagar"), (214, "Arwal"))
    }
    return {"state": state, "champaran": champaran, "arwal": arwal, "pc": pc, "acs": acs}
