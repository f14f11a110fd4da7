"""Booth → panchayat → block lists in Devanagari (district web portals, 2025 numbering).

These files carry no codes, only Hindi names, so everything is matched by name:
- the district by its English name;
- each block to an LGD block of that district (Hindi name when LGD has one, else a transliterated
  loose key, else one clear fuzzy winner); blocks that cannot be matched are created without an LGD
  code and reported, partial entries such as ``बगहा-2 (अंशतः)`` ("partly") join the whole block;
- panchayats (or urban bodies: नगर निगम / नगर परिषद / नगर पंचायत) are created under their block;
- booths: the files number booths as in 2025, our booth list may be older, so a booth is linked only
  when a row of the same AC, at a nearby number, names the same polling station (a fuzzy match with a
  clear margin), and all such rows agree on its panchayat. Everything else is reported, never guessed.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from sampark.core.text import clean, latin_key
from sampark.territory.hooks import booth_links_changed
from sampark.territory.models import AssemblyConstituency, Block, Booth, District, Panchayat

from .base import DictRows, Importer, Upserter
from .common import best_name_match, display_name, resolve_state

_PARTLY = re.compile(r"\(\s*अंशतः\s*\)")
# "नगर पंचायत X" / "X नगर पंचायत", but not a village whose name ends in -नगर ("धुमनगर पंचायत").
_URBAN = re.compile(r"^नगर\s*(निगम|परिषद|पंचायत)|(?:^|\s)नगर\s*(निगम|परिषद|पंचायत)$")
_LEADING_INT = re.compile(r"^\s*(\d+)")

# A 2025 row and a booth of the older list name the same station when their transliterated names
# score at least this (token-sort ratio, 0–100) and beat the runner-up by the margin; booths are
# searched within this many numbers of the row's number (renumbering shifts, it does not shuffle).
MATCH_SCORE = 85
MATCH_MARGIN = 5
NUMBER_WINDOW = 60


@dataclass
class _Row:
    file: str
    line: int
    ac_number: int
    ps_number: int
    name_key: str
    panchayat: Panchayat


class PanchayatMapping(Importer):
    kind = "panchayat-mapping"
    help = "Devanagari booth → panchayat → block lists (*_booth_panchayat_block.csv); blocks and booths first"
    columns = ("district_en", "block_hi", "panchayat_hi", "ac_no", "ps_no_raw", "ps_name_hi")

    @classmethod
    def add_arguments(cls, parser: Any) -> None:
        parser.add_argument("--state", help="the state (LGD code, ECI code or name); default: the only one")

    def run(self, paths: Iterable[Path]) -> None:
        state = resolve_state(self.options.get("state"))
        districts = list(District.objects.filter(state=state))
        acs = {a.number: a for a in AssemblyConstituency.objects.filter(state=state)}
        blocks_by_district: dict[int, list[Block]] = defaultdict(list)
        for known in Block.objects.filter(district__state=state):
            blocks_by_district[known.district_id].append(known)
        block_cache: dict[tuple[int, str], Block] = {}
        panchayats = Upserter(
            Panchayat,
            report=self.report,
            key=lambda p: (p.block_id, p.name_hi),
            fields=["name_en", "kind", "district_id"],
            counts=self.report.count("panchayats"),
            queryset=Panchayat.objects.filter(district__state=state),
        )
        block_counts = self.report.count("blocks")
        rows: list[_Row] = []
        ac_names: dict[int, Counter[str]] = defaultdict(Counter)
        for path in paths:
            district_cache: dict[str, District | None] = {}
            for line, row in DictRows(path, required=self.columns):
                self.report.rows_read += 1
                district_en = clean(row["district_en"])
                if district_en not in district_cache:
                    district_cache[district_en] = best_name_match(
                        district_en, [(d.name_en, d) for d in districts]
                    )
                district = district_cache[district_en]
                if district is None:
                    self.report.error(
                        path.name, line, "district_en", f"no district {district_en!r} in {state.name_en}"
                    )
                    continue
                block_hi = clean(_PARTLY.sub("", clean(row["block_hi"])))
                panchayat_hi = clean(row["panchayat_hi"])
                if not block_hi or not panchayat_hi:
                    field = "block_hi" if not block_hi else "panchayat_hi"
                    self.report.warning(path.name, line, field, "empty; row skipped")
                    continue
                block = block_cache.get((district.pk, block_hi))
                if block is None:
                    block = block_cache[(district.pk, block_hi)] = self._block(
                        district, block_hi, blocks_by_district[district.pk], path.name, line, block_counts
                    )
                kind = Panchayat.Kind.URBAN if _URBAN.search(panchayat_hi) else Panchayat.Kind.GRAM_PANCHAYAT
                panchayat = panchayats.put(
                    Panchayat(
                        district_id=district.pk,
                        block_id=block.pk,
                        name_hi=panchayat_hi,
                        name_en=display_name(latin_key(panchayat_hi).title()),
                        kind=kind,
                    ),
                    file=path.name,
                    line=line,
                )
                ac_no = _LEADING_INT.match(row["ac_no"])
                ps_no = _LEADING_INT.match(row["ps_no_raw"])
                if ac_no is None or int(ac_no.group(1)) not in acs:
                    self.report.warning(
                        path.name, line, "ac_no", f"unknown AC {row['ac_no']!r}; booth not linked"
                    )
                    continue
                if ps_no is None:
                    self.report.warning(
                        path.name,
                        line,
                        "ps_no_raw",
                        f"no polling station number ({row['ps_no_raw']!r}); booth not linked",
                    )
                    continue
                if clean(row.get("ac_name_hi", "")):
                    ac_names[int(ac_no.group(1))][clean(row["ac_name_hi"])] += 1
                rows.append(
                    _Row(
                        path.name,
                        line,
                        int(ac_no.group(1)),
                        int(ps_no.group(1)),
                        latin_key(row["ps_name_hi"]),
                        panchayat,
                    )
                )
        panchayats.flush()
        self._name_acs(acs, ac_names)
        self._link_booths(rows, acs)
        booth_links_changed()  # rows that copied booth links (people's posts, coverage) follow them

    def _block(
        self, district: District, name_hi: str, candidates: list[Block], file: str, line: int, counts: Any
    ) -> Block:
        by_hindi = [b for b in candidates if b.name_hi and clean(b.name_hi) == name_hi]
        block: Block | None = (
            by_hindi[0]
            if len(by_hindi) == 1
            else best_name_match(
                name_hi,
                [(b.name_en, b) for b in candidates] + [(b.name_hi, b) for b in candidates if b.name_hi],
            )
        )
        if block is not None and block.lgd_code is not None:
            if not block.name_hi:
                block.name_hi = name_hi
                block.save(update_fields=["name_hi", "updated_at"])
                counts.updated += 1
            return block
        if block is not None:  # kept by an earlier run: still not an LGD block, so say so again
            self.report.warning(
                file,
                line,
                "block_hi",
                f"block {name_hi!r} matches no LGD block of {district.name_en}; kept without an LGD code",
            )
            return block
        block, created = Block.objects.get_or_create(
            district=district,
            lgd_code=None,
            name_hi=name_hi,
            defaults={"name_en": display_name(latin_key(name_hi).title())},
        )
        if created:
            counts.created += 1
            candidates.append(block)
        self.report.warning(
            file,
            line,
            "block_hi",
            f"block {name_hi!r} matches no LGD block of {district.name_en}; kept without an LGD code",
        )
        return block

    def _name_acs(self, acs: dict[int, AssemblyConstituency], names: dict[int, Counter[str]]) -> None:
        # A few rows carry a neighbouring AC's name (43 rows of AC 3 say AC 2's): take each AC's majority.
        counts = self.report.count("assembly constituencies")
        for number, counter in names.items():
            ac = acs[number]
            name_hi = counter.most_common(1)[0][0]
            if ac.name_hi != name_hi:
                ac.name_hi = name_hi
                ac.save(update_fields=["name_hi", "updated_at"])
                counts.updated += 1

    def _link_booths(self, rows: list[_Row], acs: dict[int, AssemblyConstituency]) -> None:
        counts = self.report.count("booths")
        by_ac: dict[int, list[_Row]] = defaultdict(list)
        for row in rows:
            by_ac[row.ac_number].append(row)
        advance = self.progress("linking booths", len(by_ac))
        for ac_number, ac_rows in by_ac.items():
            booths = list(
                Booth.objects.filter(ac=acs[ac_number])
                .order_by("number", "suffix")
                .only("id", "number", "name", "panchayat_id", "block_id")
            )
            keys = [latin_key(b.name) for b in booths]
            numbers = [b.number for b in booths]  # sorted: the window is a slice
            votes: dict[int, set[int]] = defaultdict(set)
            for row in ac_rows:
                window = range(
                    bisect_left(numbers, row.ps_number - NUMBER_WINDOW),
                    bisect_right(numbers, row.ps_number + NUMBER_WINDOW),
                )
                found = process.extract(
                    row.name_key, {i: keys[i] for i in window}, scorer=fuzz.token_sort_ratio, limit=2
                )
                if (
                    not found
                    or found[0][1] < MATCH_SCORE
                    or (len(found) > 1 and found[0][1] - found[1][1] < MATCH_MARGIN)
                ):
                    continue
                votes[found[0][2]].add(row.panchayat.pk)
            panchayat_blocks = {r.panchayat.pk: r.panchayat.block_id for r in ac_rows}
            changed = []
            linked = 0
            for index, booth in enumerate(booths):
                panchayat_ids = votes.get(index, set())
                if len(panchayat_ids) != 1:
                    # No confident match, or rows disagree: unlinked, also when an earlier run of an
                    # older file had linked it, so the result never depends on import history.
                    if booth.panchayat_id is not None:
                        booth.panchayat_id = booth.block_id = None
                        changed.append(booth)
                    continue
                linked += 1
                (panchayat_id,) = panchayat_ids
                if (booth.panchayat_id, booth.block_id) != (panchayat_id, panchayat_blocks[panchayat_id]):
                    booth.panchayat_id, booth.block_id = panchayat_id, panchayat_blocks[panchayat_id]
                    changed.append(booth)
            Booth.objects.bulk_update(changed, ["panchayat_id", "block_id"], batch_size=1000)
            counts.updated += len(changed)
            counts.unchanged += linked - sum(1 for b in changed if b.panchayat_id is not None)
            unlinked = len(booths) - linked
            if unlinked:
                self.report.warning(
                    ac_rows[0].file,
                    None,
                    "ps_name_hi",
                    f"AC {ac_number}: {unlinked} of {len(booths)} booths matched no row by name "
                    "and number, or rows disagreed; their panchayat stays unknown",
                )
            advance(1)
