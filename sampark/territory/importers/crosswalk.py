"""District code crosswalk: LGD code ↔ Census codes ↔ the state election office's (CEO) numbering.

The CEO numbers districts in its own order (1–32 happen to equal Census-2011 − 202, 33–38 do not), so
booth files named by CEO number are joined to LGD districts only through this explicit table.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sampark.territory.models import District

from .base import DictRows, Importer
from .common import census_code, parse_code


class DistrictCrosswalk(Importer):
    kind = "district-crosswalk"
    help = "District code crosswalk (lgd_district_code, ceo_district_no, census codes); districts first"
    columns = ("lgd_district_code", "ceo_district_no")

    def run(self, paths: Iterable[Path]) -> None:
        districts = {d.lgd_code: d for d in District.objects.all()}
        counts = self.report.count("districts")
        changed: list[District] = []
        seen_ceo: dict[tuple[int, int], tuple[str, int]] = {}  # (state, CEO number) → (file, line)
        in_file: set[int] = set()
        for path in paths:
            for line, row in DictRows(path, required=self.columns):
                self.report.rows_read += 1
                lgd, ceo = parse_code(row["lgd_district_code"]), parse_code(row["ceo_district_no"])
                district = districts.get(lgd or -1)
                if district is None:
                    self.report.error(
                        path.name,
                        line,
                        "lgd_district_code",
                        f"unknown district {row['lgd_district_code']!r}; import lgd-districts first",
                    )
                    continue
                if ceo is None:
                    self.report.error(
                        path.name, line, "ceo_district_no", f"not a number: {row['ceo_district_no']!r}"
                    )
                    continue
                if (district.state_id, ceo) in seen_ceo:
                    self.report.error(
                        path.name,
                        line,
                        "ceo_district_no",
                        f"CEO number {ceo} already given at line {seen_ceo[(district.state_id, ceo)][1]}",
                    )
                    continue
                seen_ceo[(district.state_id, ceo)] = (path.name, line)
                in_file.add(district.pk)
                census2011 = census_code(row.get("census2011_code", "")) or district.census2011_code
                if district.census2011_code and census2011 != district.census2011_code:
                    self.report.warning(
                        path.name,
                        line,
                        "census2011_code",
                        f"{census2011} differs from LGD's {district.census2011_code}; kept LGD's",
                    )
                    census2011 = district.census2011_code
                if (district.ceo_number, district.census2011_code) != (ceo, census2011):
                    district.ceo_number, district.census2011_code = ceo, census2011
                    changed.append(district)
                    counts.updated += 1
                else:
                    counts.unchanged += 1
        # A number this file gives may still be held by a district it does not mention (set earlier by
        # the polling-station import's name match, say): report it rather than break the constraint.
        for other in districts.values():
            key = (other.state_id, other.ceo_number)
            if other.pk not in in_file and other.ceo_number and key in seen_ceo:
                file, line = seen_ceo[key]  # type: ignore[index]
                self.report.error(
                    file,
                    line,
                    "ceo_district_no",
                    f"CEO number {other.ceo_number} is held by {other.name_en} (LGD {other.lgd_code}), "
                    "which this file does not mention",
                )
        if self.report.errors:
            return
        # Numbers may move between districts in one run: clear them first so the unique constraint holds.
        District.objects.filter(pk__in=[d.pk for d in changed]).update(ceo_number=None)
        District.objects.bulk_update(changed, ["ceo_number", "census2011_code"])
