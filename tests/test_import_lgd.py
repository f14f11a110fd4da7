"""`sampark import lgd-states | lgd-districts | lgd-blocks`: the all-India LGD lists, `--state` to restrict."""

from __future__ import annotations

import collections

import pytest

from sampark.territory.importers.base import WARNING
from sampark.territory.models import Block, District, State

from .factories import (
    LGD_BLOCK_HEADER,
    TERRITORY,
    changed_counts,
    imported,
    lgd_districts,
    lgd_states,
    run,
    table_digest,
    write_csv,
)

pytestmark = pytest.mark.django_db
LGD = TERRITORY[:3]  # states (all India), Bihar's districts, Bihar's blocks


@pytest.fixture(scope="class")
def lgd(data_dir, django_db_setup, django_db_blocker):
    with imported(django_db_blocker, data_dir, LGD) as reports:
        yield reports


@pytest.mark.realdata
class TestTheRealLists:
    def test_it_imports_all_36_states_and_union_territories(self, lgd):
        assert lgd["lgd-states"].counts["states"].created == State.objects.count() == 36
        assert State.objects.filter(is_union_territory=True).count() == 8
        bihar = State.objects.get(lgd_code=10)
        assert (bihar.name_en, bihar.census2001_code, bihar.census2011_code) == ("Bihar", "10", "10")
        # The "local" name column of 1-state.csv holds English again: no Hindi name is made of it.
        assert not State.objects.exclude(name_hi="").exists()
        # LGD writes "00" where a state (Telangana, Ladakh) has no Census-2011 code yet.
        assert State.objects.get(lgd_code=36).census2011_code == ""
        assert State.objects.get(name_en="The Dadra And Nagar Haveli And Daman And Diu").is_union_territory

    def test_it_restricts_districts_to_the_state_given_by_code(self, lgd):
        report = lgd["lgd-districts"]
        assert (report.rows_read, report.counts["districts"].created) == (763, 38)
        assert set(District.objects.values_list("state__lgd_code", flat=True)) == {10}
        assert District.objects.count() == 38

    def test_it_restricts_the_same_way_by_name(self, lgd, data_dir):
        before = table_digest()
        report = run("lgd-districts", [data_dir / "lgd/2-district.csv"], state="bihar")
        assert changed_counts(report) == {"districts": (0, 0)}
        assert report.counts["districts"].unchanged == 38
        assert table_digest() == before

    def test_it_refuses_a_state_that_matches_no_row(self, lgd, data_dir):
        before = table_digest()
        report = run("lgd-districts", [data_dir / "lgd/2-district.csv"], state="S04")
        assert [(i.file, i.line, i.field) for i in report.errors] == [("2-district.csv", None, "State Code")]
        assert "no row of this file is in the state 'S04'" in report.errors[0].reason
        assert not report.committed
        assert table_digest() == before

    def test_it_takes_an_eci_code_once_the_eci_import_recorded_it(self, lgd, data_dir):
        State.objects.filter(lgd_code=10).update(eci_code="S04")
        report = run("lgd-districts", [data_dir / "lgd/2-district.csv"], state="S04")
        assert report.errors == [] and report.counts["districts"].unchanged == 38

    def test_it_title_cases_district_names_and_keeps_census_codes(self, lgd):
        names = dict(District.objects.values_list("lgd_code", "name_en"))
        assert names[211] == "Pashchim Champaran"
        assert names[213] == "Purbi Champaran"
        assert names[200] == "Kaimur (Bhabua)"
        arwal, jehanabad = District.objects.get(lgd_code=611), District.objects.get(lgd_code=199)
        # The two share a Census-2001 code (Arwal was cut out of Jehanabad); 2011 tells them apart.
        assert (arwal.census2001_code, arwal.census2011_code) == ("33", "240")
        assert (jehanabad.census2001_code, jehanabad.census2011_code) == ("33", "239")

    def test_it_imports_bihars_534_blocks_with_hindi_names_where_lgd_has_them(self, lgd):
        assert lgd["lgd-blocks"].counts["blocks"].created == Block.objects.count() == 534
        # The local column is filled for 205 of them, but for two it is Latin again ("Colgong" for
        # Kahalgaon, "PAKRIBARAWAN"): those are not Hindi names and are not stored as such.
        assert Block.objects.exclude(name_hi="").count() == 203
        assert Block.objects.get(lgd_code=1674).name_hi == ""
        assert set(Block.objects.values_list("district__state__lgd_code", flat=True)) == {10}
        per_district = collections.Counter(Block.objects.values_list("district__lgd_code", flat=True))
        assert len(per_district) == 38 and per_district[211] == 18  # Pashchim Champaran
        kusheshwar = Block.objects.get(lgd_code=1727)
        assert (kusheshwar.name_en, kusheshwar.name_hi, kusheshwar.district.lgd_code) == (
            "Kusheshwar Asthan",
            "कुशेश्वर स्थान",
            195,
        )
        assert Block.objects.get(lgd_code=1929).name_en == "Bagaha-II"  # roman numerals stay upper case
        assert Block.objects.filter(name_en="Kahalgaon").count() == 1  # already mixed case: kept
        assert set(Block.objects.values_list("lgd_version", flat=True)) <= {1, 2, 3, 4}

    def test_it_changes_nothing_on_a_second_run(self, lgd, data_dir):
        before = table_digest()
        again = {s.label: run(s.kind, s.files(data_dir), **s.options) for s in LGD}
        assert {label: changed_counts(r) for label, r in again.items()} == {
            "lgd-states": {"states": (0, 0)},
            "lgd-districts": {"districts": (0, 0)},
            "lgd-blocks": {"blocks": (0, 0)},
        }
        assert table_digest() == before

    def test_it_keeps_a_hindi_name_given_later_when_lgd_has_none(self, lgd, data_dir):
        block = Block.objects.get(lgd_code=2072)  # MASHRAKH, Saran: no Hindi name in LGD
        assert block.name_hi == ""
        Block.objects.filter(pk=block.pk).update(name_hi="मशरक")
        report = run("lgd-blocks", [data_dir / "lgd/blocks.csv"], state="10")
        assert report.counts["blocks"].updated == 0
        assert Block.objects.get(pk=block.pk).name_hi == "मशरक"

    def test_it_warns_about_assams_block_codes_listed_under_two_districts(self, lgd, data_dir):
        assert run("lgd-districts", [data_dir / "lgd/2-district.csv"], state="Assam").errors == []
        report = run("lgd-blocks", [data_dir / "lgd/blocks.csv"], state="18")
        assert report.errors == [] and report.committed
        assert len(report.warnings) == 10
        assert {(i.file, i.field, i.severity) for i in report.warnings} == {
            ("blocks.csv", "Block Code", WARNING)
        }
        assert all(i.line and "kept the first" in i.reason for i in report.warnings)
        assert report.counts["blocks"].created == 240  # 250 rows, 10 of them repeats
        assert Block.objects.filter(district__state__lgd_code=18).count() == 240


# --- small files ----------------------------------------------------------------------------------


def test_it_takes_a_hindi_name_only_from_a_devanagari_local_column(tmp_path):
    path = write_csv(
        tmp_path / "blocks.csv",
        LGD_BLOCK_HEADER,
        [
            (1, 10, "BIHAR", 211, "PASHCHIM CHAMPARAN", 1928, 1, "BAGAHA-I", "बगहा-\u200d1"),
            (2, 10, "BIHAR", 211, "PASHCHIM CHAMPARAN", 1929, 1, "BAGAHA-II ", "BAGAHA-II"),
        ],
    )
    run("lgd-states", [lgd_states(tmp_path / "1-state.csv")])
    run(
        "lgd-districts",
        [lgd_districts(tmp_path / "2-district.csv", [(10, "BIHAR", 211, "PASHCHIM CHAMPARAN")])],
    )
    report = run("lgd-blocks", [path])
    assert report.errors == [] and report.counts["blocks"].created == 2
    assert dict(Block.objects.values_list("lgd_code", "name_hi")) == {1928: "बगहा-1", 1929: ""}
    assert dict(Block.objects.values_list("lgd_code", "name_en")) == {1928: "Bagaha-I", 1929: "Bagaha-II"}


def test_it_stores_no_census_code_where_lgd_writes_zero(tmp_path):
    run("lgd-states", [lgd_states(tmp_path / "1-state.csv")])
    path = write_csv(
        tmp_path / "2-district.csv",
        (
            "State Code",
            "State Name",
            "District Code",
            "District Name",
            "Census 2001 Code",
            "Census 2011 Code",
        ),
        [
            (9, "UTTAR PRADESH", 999, "NEW DISTRICT", "", "0"),
            (9, "UTTAR PRADESH", 998, "OLD DISTRICT", "09", "0153"),
        ],
    )
    assert run("lgd-districts", [path]).errors == []
    assert dict(District.objects.values_list("lgd_code", "census2011_code")) == {999: "", 998: "0153"}
    assert District.objects.get(lgd_code=998).census2001_code == "09"
