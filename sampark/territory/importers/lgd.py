"""Local Government Directory (LGD) lists: states, districts, blocks (all-India CSVs)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sampark.core.text import clean, has_devanagari
from sampark.territory.models import Block, District, State

from .base import DictRows, Importer, Upserter
from .common import census_code, display_name, parse_code, state_matches


class _StateFilter(Importer):
    @classmethod
    def add_arguments(cls, parser: Any) -> None:
        parser.add_argument(
            "--state",
            help="only this state: LGD code (10), name (Bihar), or an ECI code (S04) "
            "once eci-constituencies has recorded it",
        )

    def rows(self, path: Path, columns: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
        """The rows of ``path`` in the ``--state`` (all without one); a file with none of them is an error,
        since a mistyped state would otherwise import nothing and report success."""
        spec = clean(self.options.get("state") or "")
        # LGD files carry no ECI codes: an ECI code means the state that eci-constituencies gave it.
        known = State.objects.filter(eci_code__iexact=spec).first() if spec and not spec.isdigit() else None
        lgd_code = str(known.lgd_code) if known else ""
        matched = 0
        for line, row in DictRows(path, required=columns):
            self.report.rows_read += 1
            if spec and not (
                (lgd_code and clean(row["State Code"]) == lgd_code)
                or state_matches(spec, lgd_code=row["State Code"], name=row["State Name"])
            ):
                continue
            matched += 1
            yield line, row
        if spec and not matched:
            self.report.error(
                path.name,
                None,
                "State Code",
                f"no row of this file is in the state {spec!r} "
                "(--state takes the LGD code, e.g. 10, or the name, e.g. Bihar)",
            )


def _hindi(local: str, current: str) -> str:
    """The local-language column when it is really Devanagari, else keep what an admin typed."""
    text = clean(local)
    return text if has_devanagari(text) else current


class LgdStates(_StateFilter):
    kind = "lgd-states"
    help = "LGD states and union territories (1-state.csv)"
    columns = ("State Code", "State Name", "Census 2001 Code", "Census 2011 Code", "State or UT")

    def run(self, paths: Iterable[Path]) -> None:
        upsert = Upserter(
            State,
            report=self.report,
            key=lambda s: s.lgd_code,
            counts=self.report.count("states"),
            fields=["name_en", "name_hi", "census2001_code", "census2011_code", "is_union_territory"],
        )
        for path in paths:
            for line, row in self.rows(path, self.columns):
                code = parse_code(row["State Code"])
                if code is None:
                    self.report.error(path.name, line, "State Code", f"not a code: {row['State Code']!r}")
                    continue
                current = upsert.get(code)
                upsert.put(
                    State(
                        lgd_code=code,
                        name_en=display_name(row["State Name"]),
                        name_hi=_hindi(row.get("State Name #2", ""), current.name_hi if current else ""),
                        census2001_code=census_code(row["Census 2001 Code"]),
                        census2011_code=census_code(row["Census 2011 Code"]),
                        is_union_territory=clean(row["State or UT"]).upper() == "U",
                        eci_code=current.eci_code if current else "",
                    ),
                    file=path.name,
                    line=line,
                )
        upsert.flush()


class LgdDistricts(_StateFilter):
    kind = "lgd-districts"
    help = "LGD districts (2-district.csv); states must be imported first"
    columns = (
        "State Code",
        "State Name",
        "District Code",
        "District Name",
        "Census 2001 Code",
        "Census 2011 Code",
    )

    def run(self, paths: Iterable[Path]) -> None:
        states = {s.lgd_code: s for s in State.objects.all()}
        upsert = Upserter(
            District,
            report=self.report,
            key=lambda d: d.lgd_code,
            counts=self.report.count("districts"),
            fields=["state_id", "name_en", "name_hi", "census2001_code", "census2011_code"],
        )
        for path in paths:
            for line, row in self.rows(path, self.columns):
                state = states.get(parse_code(row["State Code"]) or -1)
                code = parse_code(row["District Code"])
                if state is None:
                    self.report.error(
                        path.name,
                        line,
                        "State Code",
                        f"unknown state {row['State Code']!r}; import lgd-states first",
                    )
                    continue
                if code is None:
                    self.report.error(
                        path.name, line, "District Code", f"not a code: {row['District Code']!r}"
                    )
                    continue
                current = upsert.get(code)
                upsert.put(
                    District(
                        state_id=state.pk,
                        lgd_code=code,
                        name_en=display_name(row["District Name"]),
                        name_hi=current.name_hi if current else "",
                        census2001_code=census_code(row["Census 2001 Code"]),
                        census2011_code=census_code(row["Census 2011 Code"]),
                        ceo_number=current.ceo_number if current else None,
                    ),
                    file=path.name,
                    line=line,
                )
        upsert.flush()


class LgdBlocks(_StateFilter):
    kind = "lgd-blocks"
    help = "LGD blocks (blocks.csv); districts must be imported first"
    columns = ("State Code", "State Name", "District Code", "Block Code", "Block Version", "Block Name")

    def run(self, paths: Iterable[Path]) -> None:
        districts = {d.lgd_code: d for d in District.objects.all()}
        upsert = Upserter(
            Block,
            report=self.report,
            key=lambda b: b.lgd_code,
            counts=self.report.count("blocks"),
            queryset=Block.objects.filter(lgd_code__isnull=False),
            fields=["district_id", "name_en", "name_hi", "lgd_version"],
        )
        first_seen: dict[int, tuple[int, int]] = {}
        for path in paths:
            for line, row in self.rows(path, self.columns):
                district = districts.get(parse_code(row["District Code"]) or -1)
                code = parse_code(row["Block Code"])
                if district is None:
                    self.report.error(
                        path.name,
                        line,
                        "District Code",
                        f"unknown district {row['District Code']!r}; import lgd-districts first",
                    )
                    continue
                if code is None:
                    self.report.error(path.name, line, "Block Code", f"not a code: {row['Block Code']!r}")
                    continue
                if code in first_seen and first_seen[code][0] != district.lgd_code:
                    # LGD lists a few block codes under two districts (Assam); keep the first, say so.
                    self.report.warning(
                        path.name,
                        line,
                        "Block Code",
                        f"block {code} is listed again under district {district.lgd_code} "
                        f"(first at line {first_seen[code][1]}); kept the first",
                    )
                    continue
                first_seen[code] = (district.lgd_code, line)
                # The English column's header has a trailing space ("Block Name "), the local one not;
                # after stripping, the English is "Block Name" and the local "Block Name #2".
                current = upsert.get(code)
                upsert.put(
                    Block(
                        district_id=district.pk,
                        lgd_code=code,
                        name_en=display_name(row["Block Name"]),
                        name_hi=_hindi(row.get("Block Name #2", ""), current.name_hi if current else ""),
                        lgd_version=parse_code(row["Block Version"]),
                    ),
                    file=path.name,
                    line=line,
                )
        upsert.flush()
