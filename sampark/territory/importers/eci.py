"""ECI delimitation list (2008): assembly and parliamentary constituencies with their reservations."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sampark.core.text import clean
from sampark.territory.models import AssemblyConstituency, ParliamentaryConstituency, Reservation, State

from .base import DictRows, Importer, Upserter
from .common import best_name_match, display_name, parse_code, resolve_state

_RESERVATIONS = {choice.value for choice in Reservation}
# States renamed since the 2008 delimitation list was published.
_RENAMED = {
    "ORISSA": "ODISHA",
    "PONDICHERRY": "PUDUCHERRY",
    "UTTARANCHAL": "UTTARAKHAND",
    "NCT OF DELHI": "DELHI",
}


class EciConstituencies(Importer):
    kind = "eci-constituencies"
    help = "ECI assembly + parliamentary constituencies (2008-constituencies.csv); states first"
    columns = ("ST_CODE", "ST_NAME", "PC_CODE", "PC_NAME", "PC_TYPE", "AC_CODE", "AC_NAME", "AC_TYPE")

    @classmethod
    def add_arguments(cls, parser: Any) -> None:
        parser.add_argument("--state", help="only this state: ECI code (S04), LGD code (10) or name")

    def _reservation(self, file: str, line: int, field: str, value: str) -> str:
        text = clean(value).upper()
        if text not in _RESERVATIONS:
            self.report.error(file, line, field, f"unknown reservation {value!r}")
            return ""
        return text

    def run(self, paths: Iterable[Path]) -> None:
        spec = self.options.get("state")
        only = resolve_state(spec) if spec else None
        states = list(State.objects.all())
        by_eci: dict[str, State | None] = {}
        seen_pcs: dict[tuple[int, int], ParliamentaryConstituency] = {}
        pcs = Upserter(
            ParliamentaryConstituency,
            report=self.report,
            key=lambda p: (p.state_id, p.number),
            fields=["name_en", "reservation"],
            counts=self.report.count("parliamentary constituencies"),
        )
        acs = Upserter(
            AssemblyConstituency,
            report=self.report,
            key=lambda a: (a.state_id, a.number),
            fields=["name_en", "reservation", "pc_id"],
            counts=self.report.count("assembly constituencies"),
        )
        for path in paths:
            matched = 0
            for line, row in DictRows(path, required=self.columns):
                self.report.rows_read += 1
                eci = clean(row["ST_CODE"]).upper()
                state = self._state_for(eci, row, states, by_eci, path, line, quiet=only is not None)
                if state is None or (only is not None and state.pk != only.pk):
                    continue
                matched += 1
                if state.eci_code != eci:  # remember the ECI code of each state imported
                    state.eci_code = eci
                    state.save(update_fields=["eci_code", "updated_at"])
                    self.report.count("states").updated += 1
                pc_no, ac_no = parse_code(row["PC_CODE"]), parse_code(row["AC_CODE"])
                if pc_no is None or ac_no is None:
                    field = "PC_CODE" if pc_no is None else "AC_CODE"
                    self.report.error(path.name, line, field, f"not a number: {row[field]!r}")
                    continue
                pc = seen_pcs.get((state.pk, pc_no))
                if pc is None:  # each PC is repeated on the rows of all its ACs; write it once
                    pc = seen_pcs[(state.pk, pc_no)] = pcs.put(
                        ParliamentaryConstituency(
                            state_id=state.pk,
                            number=pc_no,
                            name_en=display_name(row["PC_NAME"]),
                            reservation=self._reservation(path.name, line, "PC_TYPE", row["PC_TYPE"]),
                        )
                    )
                    if pc.pk is None:
                        pcs.flush()  # the AC row below needs the PC's id
                current = acs.get((state.pk, ac_no))
                acs.put(
                    AssemblyConstituency(
                        state_id=state.pk,
                        number=ac_no,
                        name_en=display_name(row["AC_NAME"]),
                        name_hi=current.name_hi if current else "",
                        district_id=current.district_id if current else None,
                        reservation=self._reservation(path.name, line, "AC_TYPE", row["AC_TYPE"]),
                        pc_id=pc.pk,
                    ),
                    file=path.name,
                    line=line,
                )
            if not matched:
                # Skipping unknown states is right for a few merged since 2008, but a file that imports
                # nothing at all is the wrong file, the wrong --state or a database without states.
                wanted = f"of the state {only.name_en}" if only else "of a state in the database"
                self.report.error(
                    path.name,
                    None,
                    "ST_CODE",
                    f"no row of this file is {wanted}; nothing to import "
                    "(is --state right, and were lgd-states imported?)",
                )
        pcs.flush()
        acs.flush()

    def _state_for(
        self,
        eci: str,
        row: dict[str, str],
        states: list[State],
        cache: dict[str, State | None],
        path: Path,
        line: int,
        quiet: bool = False,
    ) -> State | None:
        """Find the LGD state of an ECI state code (by ECI code, else by name), remembering the code."""
        if eci not in cache:
            name = clean(row["ST_NAME"]).upper().replace("&", "AND")
            name = _RENAMED.get(name, name)
            state = next((s for s in states if s.eci_code == eci), None) or best_name_match(
                name, [(s.name_en, s) for s in states], cutoff=0.9
            )
            if state is None and not quiet:
                # The 2008 list predates mergers (Dadra & Nagar Haveli + Daman & Diu, 2020): skip, say so.
                self.report.warning(
                    path.name,
                    line,
                    "ST_NAME",
                    f"no state named {row['ST_NAME']!r} ({eci}) in the database; its rows are "
                    "skipped (import lgd-states first, or the state was merged since 2008)",
                )
            cache[eci] = state
        return cache[eci]
