"""`sampark import polling-stations` end to end on the real Bihar data, and the district crosswalk.

The whole documented pipeline (LGD → ECI → crosswalk → 38 raw CEO files → panchayat mapping →
boundaries) runs once, for the class of real-data tests (see ``tests/factories.py``); each of them
reads that result. The tests after the class write small files and start from an empty database.
The oracles are the derived files in the data folder, made independently of our importers:
``eci/bihar_assembly_constituencies.csv`` (AC → district) and
``polling_stations/bihar_polling_stations_normalized.csv`` (106,519 stations, keyed by file and record).

Our count is the oracle's less exactly two rows: 6-Supaul.csv line 4862 (``,001,,,,,,,,,``) and
37-Nawada.csv line 9993 (``,002,,,,,,,,,``) carry nothing but a number, after thousands of blank rows;
the oracle kept them as typeless, nameless stations, the importer reports them as junk (warnings with
file and line). Everything else in the oracle is a booth here, in the same AC and district.

Coordinates: the column keeps 6 decimals, so a published value with more is stored rounded to 6 places
(84,496 booths are published as plain decimals inside the state; 51,780 of their 168,992 values have
more than 6 decimals). Values that cannot be trusted (out of the state, unreadable, missing) are stored empty with
their quality flag and the text as published.
"""

from __future__ import annotations

import collections
import csv
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Count, F
from django.utils import translation

from sampark.territory.importers.base import WARNING, csv_rows
from sampark.territory.importers.ceo import BIHAR_BBOX
from sampark.territory.models import AssemblyConstituency, Booth, District, ParliamentaryConstituency

from .factories import (
    PIPELINE,
    RAW,
    ceo_file,
    ceo_row,
    changed_counts,
    imported,
    run,
    run_steps,
    small_bihar,
    table_digest,
    write_csv,
)

pytestmark = pytest.mark.django_db
JUNK_KEPT_BY_ORACLE = {("6-Supaul.csv", 4862), ("37-Nawada.csv", 9993)}
REAL_BOOTHS = 106_517
PLAIN = re.compile(r"-?\d+\.\d+")
HALF_Q = Decimal("0.0000005")  # half the last stored decimal place
# The CEO order of the last six districts is not the Census order (SOURCES.md): LGD code -> CEO number.
OUT_OF_ORDER = {611: 33, 199: 34, 189: 35, 196: 36, 210: 37, 198: 38}


@pytest.fixture(scope="class")
def pipeline(data_dir, django_db_setup, django_db_blocker):
    with imported(django_db_blocker, data_dir, PIPELINE) as reports:
        yield reports


@pytest.fixture(scope="module")
def oracle(data_dir: Path) -> dict[tuple[str, int], dict[str, str]]:
    """The normalized station list keyed by (file, physical line where the record starts).

    Its ``src_row`` counts CSV records; several names hold newlines, so records are mapped to lines.
    """
    raw = sorted((data_dir / RAW).glob("*.csv"))
    line_of = {(p.name, n): line for p in raw for n, (line, _cells) in enumerate(csv_rows(p), 1)}
    with (data_dir / "polling_stations" / "bihar_polling_stations_normalized.csv").open(
        encoding="utf-8"
    ) as fh:
        return {(r["src_file"], line_of[r["src_file"], int(r["src_row"])]): r for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def ac_oracle(data_dir: Path) -> dict[int, dict[str, str]]:
    with (data_dir / "eci" / "bihar_assembly_constituencies.csv").open(encoding="utf-8") as fh:
        return {int(r["ac_no"]): r for r in csv.DictReader(fh)}


@pytest.fixture(scope="class")
def stored(pipeline, django_db_blocker) -> dict[tuple[str, int], dict[str, Any]]:
    """Every booth as stored, keyed like the oracle by its source (file, line)."""
    with django_db_blocker.unblock():
        rows = Booth.objects.values(
            "source",
            "code",
            "number",
            "suffix",
            "suffix_assigned",
            "kind",
            "latitude",
            "longitude",
            "coordinate_quality",
            "coordinate_raw",
            "ac__number",
            "district__lgd_code",
            "district__ceo_number",
        )
        result: dict[tuple[str, int], dict[str, Any]] = {}
        for row in rows.iterator(chunk_size=10_000):
            file, _, line = row["source"].rpartition(":")
            result[file, int(line)] = dict(row)
        return result


@pytest.mark.realdata
class TestTheRealPipeline:
    """The 38 raw files of Bihar, after LGD, ECI and the crosswalk (and followed by the rest)."""

    # --- the real list ----------------------------------------------------------------------------

    def test_it_imports_every_real_station_of_the_oracle_but_two_junk_rows(self, pipeline, oracle, stored):
        assert len(oracle) == 106_519
        assert Booth.objects.count() == len(stored) == REAL_BOOTHS
        assert set(oracle) - set(stored) == JUNK_KEPT_BY_ORACLE
        assert set(stored) <= set(oracle)
        for key in JUNK_KEPT_BY_ORACLE:
            assert (oracle[key]["ps_name"], oracle[key]["ps_type"], oracle[key]["lat_raw"]) == ("", "", "")
        report = pipeline["polling-stations"]
        junk = {(i.file, i.line) for i in report.warnings if "only a polling station number" in i.reason}
        assert junk == JUNK_KEPT_BY_ORACLE
        assert report.counts["booths"].created == REAL_BOOTHS
        assert report.committed and report.errors == []

    def test_it_reports_every_skipped_row_as_a_warning_with_file_line_and_field(self, pipeline):
        report = pipeline["polling-stations"]
        assert len(report.warnings) == 539
        assert all(i.severity == WARNING and i.file.endswith(".csv") and i.line for i in report.issues)
        by_field = collections.Counter(i.field for i in report.warnings)
        assert by_field == {
            "": 503,  # rows with neither a number nor a name (489 of them Kaimur's continuation rows)
            "Main/Auxiliary Polling Station (M/A)": 26,  # kind inferred from the numbering
            "Polling Station Name": 4,  # 2 junk rows skipped, 2 stations kept without a name
            "AC No. & Name": 3,  # AC carried forward from the row above
            "Polling Station No.": 1,
            "Elector Serial No. From": 1,
            "Elector Serial No. To": 1,
        }

    def test_it_puts_each_booth_in_the_ac_and_district_of_its_source_row(self, stored, oracle):
        for key, booth in stored.items():
            row = oracle[key]
            assert booth["ac__number"] == int(row["ac_no"]), key
            assert booth["district__lgd_code"] == int(row["lgd_district_code"]), key
            assert booth["district__ceo_number"] == int(row["district_no"]), key
            assert booth["number"] == int(row["ps_no"] or booth["number"]), (
                key
            )  # 3 numbers the oracle left blank
            # A published suffix is kept unless an earlier row of the AC already has it; then, as for a
            # number repeated without one, the import gives the next free letter and says so.
            assert booth["suffix"] == row["ps_suffix"] or booth["suffix_assigned"], key
            published = {"Main": "M", "Auxiliary": "A"}.get(row["ps_type"])
            assert booth["kind"] == published or published is None, key

    def test_it_counts_main_and_auxiliary_booths(self, stored, oracle):
        assert dict(collections.Counter(b["kind"] for b in stored.values())) == {"M": 72_772, "A": 33_745}
        # The oracle: Main 72,758, Auxiliary 33,733 and 28 blank; 2 of the blank are the junk rows, the
        # other 26 were inferred from the numbering (14 main, 12 auxiliary), each with a warning.
        typed = collections.Counter(oracle[k]["ps_type"] for k in stored)
        assert typed == {"Main": 72_758, "Auxiliary": 33_733, "": 26}

    def test_it_gives_every_ac_its_stations(self, stored, oracle, ac_oracle):
        per_ac = collections.Counter(b["ac__number"] for b in stored.values())
        expected = {
            n: int(r["ps_rows_main_2020list"]) + int(r["ps_rows_auxiliary_2020list"])
            for n, r in ac_oracle.items()
        }
        short = {n: expected[n] - per_ac[n] for n in expected if per_ac[n] != expected[n]}
        assert sorted(per_ac) == list(range(1, 244))
        # Only the two ACs the oracle gave a junk row to (by carrying the AC forward) have one less.
        assert short == {int(oracle[key]["ac_no"]): 1 for key in JUNK_KEPT_BY_ORACLE}

    def test_it_links_every_ac_to_the_district_whose_file_lists_it(self, pipeline, ac_oracle):
        acs = AssemblyConstituency.objects.select_related("district")
        assert acs.count() == 243
        for ac in acs:
            row = ac_oracle[ac.number]
            assert ac.district.lgd_code == int(row["lgd_district_code"]), ac.number
            assert ac.district.ceo_number == int(row["ceo_district_no"]), ac.number
        # Where the Census order and the CEO order part (SOURCES.md), the ACs follow the CEO file.
        assert AssemblyConstituency.objects.get(number=214).district.name_en == "Arwal"  # CEO 33, Census 240
        assert (
            AssemblyConstituency.objects.get(number=239).district.name_en == "Nawada"
        )  # not JAMUI as in the GeoJSON
        assert AssemblyConstituency.objects.get(number=122).district.name_en == "Saran"  # not VAISHALI

    def test_it_keeps_the_acs_pcs_and_reservations_of_the_delimitation_list(self, pipeline):
        assert collections.Counter(AssemblyConstituency.objects.values_list("reservation", flat=True)) == {
            "": 203,
            "SC": 38,
            "ST": 2,
        }
        assert ParliamentaryConstituency.objects.count() == 40
        assert not AssemblyConstituency.objects.filter(pc__isnull=True).exists()
        assert AssemblyConstituency.objects.values("pc").distinct().count() == 40

    def test_it_puts_every_booth_in_its_acs_district(self, pipeline):
        assert not Booth.objects.exclude(district_id=F("ac__district_id")).exists()
        per_district = dict(District.objects.annotate(n=Count("booths")).values_list("ceo_number", "n"))
        assert set(per_district) == set(range(1, 39))
        assert sum(per_district.values()) == REAL_BOOTHS
        assert per_district[3] == 427  # Sheohar, the smallest file

    def test_it_gives_every_booth_a_unique_code_from_its_number(self, pipeline):
        assert Booth.objects.values("code").distinct().count() == REAL_BOOTHS
        for code, ac, number, suffix in Booth.objects.values_list("code", "ac__number", "number", "suffix")[
            :5000
        ]:
            assert code == f"{ac}-{number}{suffix}"
        # Auxiliary stations published under their main station's number (and 100 repeated main numbers)
        # get the next free letter, flagged as assigned by the import.
        assigned = collections.Counter(
            Booth.objects.filter(suffix_assigned=True).values_list("kind", flat=True)
        )
        assert assigned == {"A": 23_298, "M": 100}
        first = Booth.objects.get(code="1-1")
        assert (first.kind, first.suffix_assigned, first.source) == ("M", False, "1-Paschim Champaran.csv:4")
        aux = Booth.objects.get(code="1-1A")
        assert (aux.kind, aux.number, aux.suffix_assigned, aux.source) == (
            "A",
            1,
            True,
            "1-Paschim Champaran.csv:5",
        )

    def test_it_stores_sane_source_coordinates_exactly(self, stored, oracle):
        lat_min, lat_max, lon_min, lon_max = BIHAR_BBOX
        checked = exact_digits = 0
        for key, booth in stored.items():
            row = oracle[key]
            lat_raw, lon_raw = row["lat_raw"].strip(), row["lon_raw"].strip()
            if row["coord_flag"] != "ok" or not (PLAIN.fullmatch(lat_raw) and PLAIN.fullmatch(lon_raw)):
                continue
            lat, lon = Decimal(lat_raw), Decimal(lon_raw)
            if not (lat_min <= lat <= lat_max and lon_min <= lon <= lon_max):
                continue
            checked += 1
            # The column keeps 6 decimals (~0.1 m); half the published values have more, so those are
            # the source rounded to 6 places (either way on an exact tie), the others the source itself.
            for stored_value, source in ((booth["latitude"], lat), (booth["longitude"], lon)):
                if -int(source.as_tuple().exponent) <= 6:
                    assert stored_value == source, key
                else:
                    exact_digits += 1
                    assert abs(stored_value - source) <= HALF_Q, key
            assert booth["coordinate_quality"] == "ok", key
            assert booth["coordinate_raw"] == f"{lat_raw},{lon_raw}", key
        assert checked == 84_496  # plain decimals in the bbox that the oracle calls ok
        assert exact_digits == 51_780  # values given to more than 6 decimals

    def test_it_stores_untrusted_coordinates_empty_and_flagged(self, stored):
        lat_min, lat_max, lon_min, lon_max = BIHAR_BBOX
        quality = collections.Counter(b["coordinate_quality"] for b in stored.values())
        assert quality == {
            "ok": 85_714,
            "dms": 7_689,
            "repaired": 3_863,
            "swapped": 3_605,
            "out_of_area": 3_122,
            "unparseable": 2_331,
            "missing": 193,
        }
        for key, booth in stored.items():
            if booth["coordinate_quality"] in ("out_of_area", "unparseable", "missing"):
                assert (booth["latitude"], booth["longitude"]) == (None, None), key
                assert bool(booth["coordinate_raw"]) == (booth["coordinate_quality"] != "missing"), key
            else:
                assert lat_min <= booth["latitude"] <= lat_max and lon_min <= booth["longitude"] <= lon_max, (
                    key
                )
        # A swapped pair is stored the right way round: the published longitude is the latitude.
        plain_swapped = 0
        for key, booth in stored.items():
            lat_text, _, lon_text = booth["coordinate_raw"].partition(",")
            if (
                booth["coordinate_quality"] == "swapped"
                and PLAIN.fullmatch(lat_text)
                and PLAIN.fullmatch(lon_text)
            ):
                plain_swapped += 1
                assert abs(booth["latitude"] - Decimal(lon_text)) <= HALF_Q, key
                assert abs(booth["longitude"] - Decimal(lat_text)) <= HALF_Q, key
        assert plain_swapped == 2_939

    # --- idempotence and the command --------------------------------------------------------------

    def test_it_changes_nothing_when_every_importer_runs_again(self, pipeline, data_dir):
        before = table_digest()
        assert before["Booth"][0] == REAL_BOOTHS
        again = run_steps(data_dir, PIPELINE)
        for label, report in again.items():
            assert all(n == (0, 0) for n in changed_counts(report).values()), (label, changed_counts(report))
        assert again["polling-stations"].counts["booths"].unchanged == REAL_BOOTHS
        assert table_digest() == before

    def test_it_prints_the_summary_table_from_the_command(self, pipeline, data_dir, capsys):
        with translation.override("en"):
            call_command("import", "polling-stations", str(data_dir / RAW / "3-Sheohar.csv"))
        err = capsys.readouterr().err
        assert "Import polling-stations" in err
        assert re.search(r"booths\s*│\s*0\s*│\s*0\s*│\s*427\s*│", err)
        assert "427 rows read · 0 errors · 0 warnings" in err

    # --- the district crosswalk -------------------------------------------------------------------

    def test_it_numbers_all_38_districts_as_the_crosswalk_says(self, pipeline, data_dir):
        with (data_dir / "bihar_district_crosswalk.csv").open(encoding="utf-8") as fh:
            crosswalk = {int(r["lgd_district_code"]): int(r["ceo_district_no"]) for r in csv.DictReader(fh)}
        assert dict(District.objects.values_list("lgd_code", "ceo_number")) == crosswalk
        assert {code: crosswalk[code] for code in OUT_OF_ORDER} == OUT_OF_ORDER
        # Arithmetic on Census codes (CEO = Census − 202) would get exactly these six wrong.
        wrong = {d.lgd_code for d in District.objects.all() if int(d.census2011_code) - 202 != d.ceo_number}
        assert wrong == set(OUT_OF_ORDER)

    def test_it_matches_districts_by_file_name_without_the_crosswalk_and_warns(
        self, pipeline, ac_oracle, tmp_path
    ):
        """No crosswalk: each of the 38 file names ("1-Paschim Champaran", "31-Kaimur", …) finds its LGD
        district by name (PASHCHIM CHAMPARAN, KAIMUR (BHABUA), …), with a warning, and remembers the number."""
        expected = dict(District.objects.values_list("ceo_number", "lgd_code"))
        District.objects.update(ceo_number=None)
        first_ac = {}
        for number, row in sorted(ac_oracle.items(), reverse=True):
            first_ac[int(row["ceo_district_no"])] = (number, row["district_name"])
        files = [
            ceo_file(tmp_path, f"{ceo}-{district}.csv", [ceo_row(ac=f"{ac}-Test", ps="900")])
            for ceo, (ac, district) in sorted(first_ac.items())
        ]
        assert len(files) == 38
        report = run("polling-stations", files)
        assert report.errors == []
        by_name = [i for i in report.warnings if i.field == "file name"]
        assert len(by_name) == 38
        assert all("district matched by name" in i.reason and i.file.endswith(".csv") for i in by_name)
        assert dict(District.objects.values_list("ceo_number", "lgd_code")) == expected
        assert next(i for i in by_name if i.file == "31-Kaimur.csv").reason.startswith(
            "district matched by name to Kaimur (Bhabua) (LGD 200)"
        )


# --- small files ---------------------------------------------------------------------------------


def test_it_refuses_a_district_name_it_cannot_match(tmp_path):
    bihar = small_bihar()
    District.objects.update(ceo_number=None)
    path = ceo_file(tmp_path, "5-Madhubani.csv", [ceo_row(ac="1-Valmiki Nagar")])
    report = run("polling-stations", [path])
    assert [(i.file, i.line, i.field) for i in report.errors] == [("5-Madhubani.csv", None, "file name")]
    assert "no district with CEO number 5 or named 'Madhubani'" in report.errors[0].reason
    assert not Booth.objects.exists()
    assert not District.objects.filter(ceo_number__isnull=False).exists()
    assert bihar["acs"][1].booths.count() == 0


def test_it_moves_ceo_numbers_between_districts_in_one_crosswalk_run(tmp_path):
    small_bihar()  # Pashchim Champaran is CEO 1, Arwal CEO 33
    path = write_csv(
        tmp_path / "crosswalk.csv",
        ("lgd_district_code", "ceo_district_no", "census2011_code"),
        [(211, 33, 203), (611, 1, 240)],
    )
    report = run("district-crosswalk", [path])
    assert report.errors == [] and report.counts["districts"].updated == 2
    assert dict(District.objects.values_list("lgd_code", "ceo_number")) == {211: 33, 611: 1}
    assert run("district-crosswalk", [path]).counts["districts"].unchanged == 2


def test_it_reports_a_number_still_held_by_a_district_the_crosswalk_does_not_mention(tmp_path):
    small_bihar()  # Pashchim Champaran is CEO 1, Arwal CEO 33
    path = write_csv(
        tmp_path / "crosswalk.csv",
        ("lgd_district_code", "ceo_district_no", "census2011_code"),
        [(211, 33, 203)],
    )
    report = run("district-crosswalk", [path])
    (error,) = report.errors
    assert (error.file, error.line, error.field) == ("crosswalk.csv", 2, "ceo_district_no")
    assert "CEO number 33 is held by Arwal (LGD 611)" in error.reason
    assert not report.committed
    assert dict(District.objects.values_list("lgd_code", "ceo_number")) == {211: 1, 611: 33}


def test_it_rejects_a_crosswalk_that_repeats_a_number_or_names_an_unknown_district(tmp_path):
    small_bihar()
    path = write_csv(
        tmp_path / "crosswalk.csv",
        ("lgd_district_code", "ceo_district_no"),
        [(211, 2), (611, 2), (999, 3), (211, "x")],
    )
    report = run("district-crosswalk", [path])
    assert [(i.line, i.field) for i in report.errors] == [
        (3, "ceo_district_no"),
        (4, "lgd_district_code"),
        (5, "ceo_district_no"),
    ]
    assert "CEO number 2 already given at line 2" in report.errors[0].reason
    assert "unknown district '999'" in report.errors[1].reason
    assert not report.committed
    assert dict(District.objects.values_list("lgd_code", "ceo_number")) == {211: 1, 611: 33}


def test_it_keeps_lgds_census_code_when_the_crosswalk_disagrees(tmp_path):
    small_bihar()
    path = write_csv(
        tmp_path / "crosswalk.csv",
        ("lgd_district_code", "ceo_district_no", "census2011_code"),
        [(211, 1, 999)],
    )
    report = run("district-crosswalk", [path])
    assert [(i.line, i.field, i.severity) for i in report.issues] == [(2, "census2011_code", WARNING)]
    assert District.objects.get(lgd_code=211).census2011_code == "203"


def test_it_updates_only_the_stations_that_changed_when_a_file_is_imported_again(tmp_path):
    small_bihar()
    # 300 stations: more than one multi-row INSERT of core.bulk (256 rows) and a remainder.
    rows = [ceo_row(ps=str(n), name=f"Vidyalay {n}", lat="27.024146", lon="83.88296") for n in range(1, 301)]
    path = ceo_file(tmp_path, "1-Paschim Champaran.csv", rows)
    first = run("polling-stations", [path])
    assert not first.errors and first.counts["booths"].created == 300
    assert list(Booth.objects.order_by("id").values_list("code", flat=True)[:3]) == ["1-1", "1-2", "1-3"]
    assert Booth.objects.get(code="1-300").latitude == Decimal("27.024146")

    again = run("polling-stations", [path])
    booths = again.counts["booths"]
    assert (booths.created, booths.updated, booths.unchanged) == (0, 0, 300)

    rows[9] = ceo_row(ps="10", name="Vidyalay Das", lat="27.024146", lon="83.88296")
    rows[19] = ceo_row(ps="20", name="Vidyalay 20", lat="27.5", lon="83.88296")
    changed = run("polling-stations", [ceo_file(tmp_path, "1-Paschim Champaran.csv", rows)])
    booths = changed.counts["booths"]
    assert (booths.created, booths.updated, booths.unchanged) == (0, 2, 298)
    assert Booth.objects.get(code="1-10").name == "Vidyalay Das"
    assert Booth.objects.get(code="1-20").latitude == Decimal("27.500000")
    assert Booth.objects.count() == 300
