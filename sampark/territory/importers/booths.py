"""Polling stations from the raw CEO district files (all districts in one run).

Parsing (every messy format) lives in ``ceo.py``; this module joins each file to its district
(through the CEO number, set by the district crosswalk, or by name), each row to its AC, gives every
station a typeable code, and writes them idempotently.

Booth codes. ``<AC>-<PS><suffix>`` with the published suffix. The lists repeat a number without a
suffix for auxiliary stations (24,8xx rows in Bihar 2020) and, rarely, for two main stations; those
get the next free letter (``178-1A``, ``178-1B``) with ``suffix_assigned`` set, so the code is
unique, stable across re-imports of the same file, and the published number stays visible.

Writing. 1 lakh rows go through ``core.bulk.BulkInserter`` (multi-row INSERTs on SQLite, COPY on
PostgreSQL) rather than model instances, each file's rows on a ``WriteBehind`` thread while the next
file is parsed: the benchmark (bench/import_booths.py) holds this import to 2x a bare csv parse +
executemany. Nothing else touches the database until that thread is done: the few other writes (an
AC's district, a district's CEO number, changed booths) are made afterwards.
"""

from __future__ import annotations

import itertools
import string
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from sampark.core.bulk import BulkInserter
from sampark.core.forked import can_fork, forked
from sampark.territory.models import AssemblyConstituency, Booth, District

from .base import BadFile, Importer, ImportReport, Issue, gc_paused
from .ceo import RawStation, parse_ceo_file
from .common import best_name_match, resolve_state

# Compared and written on every import; block/panchayat (set by panchayat-mapping) and name_hi are not.
FIELDS = (
    "district_id",
    "ac_id",
    "number",
    "suffix",
    "suffix_assigned",
    "kind",
    "name",
    "latitude",
    "longitude",
    "coordinate_quality",
    "coordinate_raw",
    "electricity",
    "toilet",
    "ramp",
    "elector_from",
    "elector_to",
    "source",
)


def _letters() -> Iterator[str]:
    """A, B, …, Z, AA, AB, …: suffixes to give repeated numbers."""
    for size in itertools.count(1):
        for letters in itertools.product(string.ascii_uppercase, repeat=size):
            yield "".join(letters)


def assign_codes(ac_number: int, stations: list[RawStation]) -> list[tuple[str, str]]:
    """``(code, suffix)`` per station of one AC, in the given order.

    Published codes are reserved first (first occurrence wins); then stations without a free
    published code take, main stations first in file order, the plain number if free, else the next
    free letter.
    """
    used: set[str] = set()
    result: list[tuple[str, str]] = [("", "")] * len(stations)
    # Main stations first, then the rest, each in file order: two lists rather than a sort with a key
    # function (a Python call per station).
    pending_main: list[int] = []
    pending_rest: list[int] = []
    for i, st in enumerate(stations):
        suffix = st.ps_suffix
        if suffix:
            code = f"{ac_number}-{st.ps_number}{suffix}"  # Booth.make_code, inlined: 1 lakh calls
            if code not in used:
                used.add(code)
                result[i] = (code, suffix)
                continue
        (pending_main if st.kind == "M" else pending_rest).append(i)
    for pending in (pending_main, pending_rest):
        for i in pending:
            st = stations[i]
            prefix = f"{ac_number}-{st.ps_number}"
            if not st.ps_suffix and prefix not in used:
                used.add(prefix)
                result[i] = (prefix, "")
                continue
            for suffix in _letters():
                if prefix + suffix not in used:
                    used.add(prefix + suffix)
                    result[i] = (prefix + suffix, suffix)
                    break
    return result


_LATITUDE = 2 + FIELDS.index("latitude")  # in a stored row: (code, id, *FIELDS)


def _rounded(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A stored SQLite row with its coordinates rounded to the column's 6 places, as Django's converter
    would: SQLite's text-to-REAL conversion is not always correctly rounded (25.024146 comes back as
    25.024146000000002). A float that already equals ours is unchanged by this, so it is needed only
    for a row that compares unequal as fetched."""
    lat = _LATITUDE
    return (
        *row[:lat],
        *(None if v is None else round(float(v), 6) for v in row[lat : lat + 2]),
        *row[lat + 2 :],
    )


@dataclass
class _Outcome:
    """What the comparing child found besides new booths: its report, and the writes made at the end."""

    report: ImportReport
    saves: list[tuple[Any, list[str]]]  # (AC or district, update_fields)
    updates: list[tuple[Any, ...]]  # changed booths as (*FIELDS, updated_at, id)


class PollingStations(Importer):
    kind = "polling-stations"
    help = (
        "Raw CEO polling-station files, one per district ('<CEO no>-<district>.csv'); ACs and districts first"
    )

    @classmethod
    def add_arguments(cls, parser: Any) -> None:
        parser.add_argument("--state", help="the state (LGD code, ECI code or name); default: the only one")

    def run(self, paths: Iterable[Path]) -> None:
        with gc_paused():
            self._run(list(paths))

    def _run(self, paths: list[Path]) -> None:
        """Read the stored state, then parse and compare in a forked child (``core.forked``) while this
        process writes each file's new booths; the child's findings come back at the end."""
        state = resolve_state(self.options.get("state"))
        self.bbox = tuple(Decimal(str(v)) for v in settings.SAMPARK_COORDINATE_BBOX)
        self.districts = list(District.objects.filter(state=state))
        self.acs = {a.number: a for a in AssemblyConstituency.objects.filter(state=state)}
        self.existing = self._stored(state.pk)
        self.state_id = state.pk
        # Adapted once: the per-row datetime adapter was a tenth of the write time.
        self.now = connection.ops.adapt_datetimefield_value(timezone.now())
        inserter = BulkInserter(Booth, ["state", "code", *FIELDS], self.now)
        advance = self.progress("polling stations", len(paths))
        self.sqlite = connection.vendor == "sqlite"
        produce = partial(self._compared, paths)
        items = (
            forked(produce, ahead=len(paths) + 1, what="reading the polling-station files")
            if can_fork() and len(paths) > 1
            else produce()
        )
        outcome: _Outcome | None = None
        for item in items:
            if isinstance(item, _Outcome):
                outcome = item
            else:
                inserter.add_all(item)
                advance(1)
        assert outcome is not None
        self.report.absorb(outcome.report)
        for instance, fields in outcome.saves:
            instance.save(update_fields=fields)
        self._update(outcome.updates)

    def _compared(self, paths: list[Path]) -> Iterator[list[tuple[Any, ...]] | _Outcome]:
        """Per file, its new booths as ``(state_id, code, *FIELDS)`` rows; then an :class:`_Outcome`
        with the report and the other writes. No database: this runs in the child process."""
        acs, existing, now, state_id = self.acs, self.existing, self.now, self.state_id
        districts = self.districts
        by_ceo = {d.ceo_number: d for d in districts if d.ceo_number}
        counts = self.report.count("booths")
        ac_counts = self.report.count("assembly constituencies")
        # SQLite hands stored coordinates back as floats (see _stored): compare ours the same way.
        sqlite = self.sqlite
        ac_file: dict[int, str] = {}
        seen_codes: set[str] = set()
        updates: list[tuple[Any, ...]] = []
        saves: list[tuple[Any, list[str]]] = []
        try:
            for path in paths:
                by_ac: dict[int, list[RawStation]] = defaultdict(list)
                file_district: District | None = None
                rows_read = 0  # added to the report once per file (also when a bad byte ends the file)
                try:
                    for item in parse_ceo_file(path, bbox=self.bbox):  # type: ignore[arg-type]
                        if isinstance(item, Issue):
                            self.report.add(item)
                            continue
                        rows_read += 1
                        by_ac[item.ac_number].append(item)
                        if file_district is None:
                            file_district = self._district(item, by_ceo, districts, saves)
                            if file_district is None:
                                break
                finally:
                    self.report.rows_read += rows_read
                if file_district is None:
                    if by_ac:
                        continue
                    self.report.warning(path.name, None, "", "no polling stations in this file")
                    continue
                inserts: list[tuple[Any, ...]] = []
                created = updated = unchanged = 0  # added to the report's counts once per file, not per row
                for ac_number, stations in by_ac.items():
                    ac = acs.get(ac_number)
                    if ac is None:
                        self.report.error(
                            path.name,
                            stations[0].line,
                            "AC No. & Name",
                            f"unknown assembly constituency {ac_number} ({stations[0].ac_field_raw!r}); "
                            "import eci-constituencies first",
                        )
                        continue
                    if ac_number in ac_file:
                        self.report.error(
                            path.name,
                            stations[0].line,
                            "AC No. & Name",
                            f"AC {ac_number} is also listed in {ac_file[ac_number]}; an AC belongs to "
                            "one district file",
                        )
                        continue
                    ac_file[ac_number] = path.name
                    if ac.district_id != file_district.pk:
                        ac.district_id = file_district.pk
                        saves.append((ac, ["district", "updated_at"]))
                        ac_counts.updated += 1
                    district_id, ac_id = file_district.pk, ac.pk
                    codes = assign_codes(ac_number, stations)
                    seen_codes.update(map(itemgetter(0), codes))
                    for st, (code, suffix) in zip(stations, codes, strict=True):
                        # One unpacking instead of a dozen attribute reads per row (RawStation's order).
                        (
                            file,
                            line,
                            _,
                            _,
                            _,
                            _,
                            number,
                            ps_suffix,
                            _,
                            kind,
                            _,
                            name,
                            elector_from,
                            elector_to,
                            latitude,
                            longitude,
                            quality,
                            coordinate_raw,
                            electricity,
                            toilet,
                            ramp,
                        ) = st
                        current = existing.get(code)
                        if current is None:
                            # (state_id, code, *FIELDS), built once: the common case of a first import.
                            inserts.append(
                                (
                                    state_id,
                                    code,
                                    district_id,
                                    ac_id,
                                    number,
                                    suffix,
                                    suffix != ps_suffix,
                                    kind,
                                    name[:300],
                                    # Text, as Django's adapter would send a Decimal: it pickles
                                    # back from the child process five times faster.
                                    None if latitude is None else str(latitude),
                                    None if longitude is None else str(longitude),
                                    quality,
                                    coordinate_raw[:80],
                                    electricity,
                                    toilet,
                                    ramp,
                                    elector_from,
                                    elector_to,
                                    f"{file}:{line}",
                                )
                            )
                            created += 1
                            continue
                        values = (
                            district_id,
                            ac_id,
                            number,
                            suffix,
                            suffix != ps_suffix,
                            kind,
                            name[:300],
                            latitude,
                            longitude,
                            quality,
                            coordinate_raw[:80],
                            electricity,
                            toilet,
                            ramp,
                            elector_from,
                            elector_to,
                            f"{file}:{line}",
                        )
                        if sqlite:
                            as_stored = (
                                *values[:7],
                                None if latitude is None else float(latitude),
                                None if longitude is None else float(longitude),
                                *values[9:],
                            )
                            # Stored rows keep SQLite's raw floats; only a row that differs is looked at
                            # again with its coordinates rounded (see _stored), which is rare.
                            same = current[2:] == as_stored or _rounded(current)[2:] == as_stored
                        else:
                            same = current[2:] == values
                        if same:
                            unchanged += 1
                        else:
                            updates.append((*values, now, current[1]))
                            updated += 1
                counts.created += created
                counts.updated += updated
                counts.unchanged += unchanged
                yield inserts
        except BadFile as exc:  # the report so far comes back with it (raised here, it would be lost)
            self.report.add(exc.issue)
        else:
            self._report_missing(existing, seen_codes, set(ac_file), acs)
        yield _Outcome(self.report, saves, updates)

    def _district(
        self,
        st: RawStation,
        by_ceo: dict[int, District],
        districts: list[District],
        saves: list[tuple[Any, list[str]]],
    ) -> District | None:
        district = by_ceo.get(st.district_number)
        if district is not None:
            return district
        district = best_name_match(st.district_name, [(d.name_en, d) for d in districts])
        if district is None or district.ceo_number:
            self.report.error(
                st.file,
                None,
                "file name",
                f"no district with CEO number {st.district_number} or named {st.district_name!r}; "
                "import lgd-districts and the district-crosswalk first",
            )
            return None
        # Remember the match so the next run (and the AC → district link) does not depend on spelling.
        district.ceo_number = st.district_number
        saves.append((district, ["ceo_number", "updated_at"]))
        by_ceo[st.district_number] = district
        self.report.warning(
            st.file,
            None,
            "file name",
            f"district matched by name to {district.name_en} "
            f"(LGD {district.lgd_code}); import the district-crosswalk to be sure",
        )
        return district

    @staticmethod
    def _stored(state_id: int) -> dict[str, tuple[Any, ...]]:
        """``code → (code, id, *FIELDS)`` as stored, read with a plain cursor.

        Django's per-value converters (Decimal, bool) took 1.7 s for 1 lakh rows; raw values compare
        just as well: booleans come back as 0/1 (equal to False/True), coordinates as floats on SQLite
        (rounded only when a row seems to differ: see :func:`_rounded`) and Decimals on PostgreSQL.
        """
        meta = Booth._meta
        qn = connection.ops.quote_name
        names = ["code", "id", *FIELDS]
        columns = ", ".join(qn(str(meta.get_field(n).column)) for n in names)  # type: ignore[union-attr]
        state_column = qn(str(meta.get_field("state").column))  # type: ignore[union-attr]
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {columns} FROM {qn(meta.db_table)} WHERE {state_column} = %s", [state_id])
            rows = cursor.fetchall()
        return dict(zip(map(itemgetter(0), rows), rows, strict=True))

    @staticmethod
    def _update(updates: list[tuple[Any, ...]]) -> None:
        """Changed booths as ``(*FIELDS, updated_at, id)``."""
        if updates:
            meta = Booth._meta
            qn = connection.ops.quote_name
            columns = [str(meta.get_field(f).column) for f in [*FIELDS, "updated_at"]]  # type: ignore[union-attr]
            sets = ", ".join(f"{qn(c)} = %s" for c in columns)
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"UPDATE {qn(meta.db_table)} SET {sets} WHERE {qn(str(meta.pk.column))} = %s", updates
                )

    def _report_missing(
        self,
        existing: dict[str, tuple[Any, ...]],
        seen: set[str],
        ac_numbers: set[int],
        acs: dict[int, AssemblyConstituency],
    ) -> None:
        ac_ids = {acs[n].pk for n in ac_numbers}
        missing = [code for code, row in existing.items() if row[3] in ac_ids and code not in seen]
        if missing:
            # Booths are never deleted by an import: volunteers and history point at them.
            self.report.warning(
                "",
                None,
                "booth",
                f"{len(missing)} booth(s) in the database are no longer in "
                f"these files and were kept: {', '.join(sorted(missing)[:10])}…",
            )
