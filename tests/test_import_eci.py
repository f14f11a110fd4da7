"""`sampark import eci-constituencies`: the 2008 delimitation list (all India, or one state with --state)."""

from __future__ import annotations

import collections
import csv

import pytest

from sampark.territory.importers.base import WARNING
from sampark.territory.models import AssemblyConstituency, District, ParliamentaryConstituency, State

from .factories import ECI_HEADER, TERRITORY, changed_counts, eci_rows, imported, run, table_digest, write_csv

pytestmark = pytest.mark.django_db
ECI = TERRITORY[:4]  # LGD states (all India) and Bihar's districts, then the list with --state 10


@pytest.fixture(scope="class")
def eci(data_dir, django_db_setup, django_db_blocker):
    with imported(django_db_blocker, data_dir, ECI) as reports:
        yield reports


@pytest.fixture(scope="module")
def bihar_rows(data_dir) -> list[dict[str, str]]:
    with (data_dir / "eci" / "2008-constituencies.csv").open(encoding="utf-8", newline="") as fh:
        return [r for r in csv.DictReader(fh) if r["ST_CODE"] == "S04"]


@pytest.mark.realdata
class TestTheRealList:
    def test_it_imports_bihars_243_acs_in_40_pcs_with_their_reservations(self, eci, bihar_rows):
        report = eci["eci-constituencies"]
        assert report.issues == []
        assert changed_counts(report) == {
            "parliamentary constituencies": (40, 0),
            "assembly constituencies": (243, 0),
            "states": (0, 1),  # Bihar learns its ECI code
        }
        assert State.objects.get(lgd_code=10).eci_code == "S04"
        assert collections.Counter(AssemblyConstituency.objects.values_list("reservation", flat=True)) == {
            "": 203,
            "SC": 38,
            "ST": 2,
        }
        assert collections.Counter(
            ParliamentaryConstituency.objects.values_list("reservation", flat=True)
        ) == {
            "": 34,
            "SC": 6,
        }
        links = dict(AssemblyConstituency.objects.values_list("number", "pc__number"))
        assert links == {int(r["AC_CODE"]): int(r["PC_CODE"]) for r in bihar_rows}
        assert len(set(links.values())) == 40
        ramnagar = AssemblyConstituency.objects.get(number=2)
        assert (ramnagar.name_en, ramnagar.reservation, ramnagar.pc.name_en) == (
            "Ramnagar",
            "SC",
            "Valmiki Nagar",
        )

    @pytest.mark.parametrize("spec", ["S04", "10", "Bihar", "BIHAR"])
    def test_it_takes_the_state_as_eci_code_lgd_code_or_name(self, eci, data_dir, spec):
        before = table_digest()
        report = run("eci-constituencies", [data_dir / "eci/2008-constituencies.csv"], state=spec)
        assert report.issues == []
        assert report.counts["assembly constituencies"].unchanged == 243
        assert changed_counts(report) == {
            "parliamentary constituencies": (0, 0),
            "assembly constituencies": (0, 0),
        }
        assert table_digest() == before

    def test_it_keeps_the_district_and_hindi_name_that_other_imports_gave_an_ac(self, eci, data_dir):
        champaran = District.objects.get(lgd_code=211)
        AssemblyConstituency.objects.filter(number=1).update(district=champaran, name_hi="वाल्मीकिनगर")
        report = run("eci-constituencies", [data_dir / "eci/2008-constituencies.csv"], state="10")
        assert report.counts["assembly constituencies"].updated == 0
        ac = AssemblyConstituency.objects.get(number=1)
        assert (ac.district, ac.name_hi) == (champaran, "वाल्मीकिनगर")

    def test_it_imports_all_india_and_warns_about_the_states_merged_since_2008(self, eci, data_dir):
        report = run("eci-constituencies", [data_dir / "eci/2008-constituencies.csv"])
        assert report.errors == [] and report.committed
        # Dadra & Nagar Haveli and Daman & Diu are one union territory since 2020: their rows are skipped.
        assert [(i.file, i.line, i.field, i.severity) for i in report.warnings] == [
            ("2008-constituencies.csv", 817, "ST_NAME", WARNING),
            ("2008-constituencies.csv", 818, "ST_NAME", WARNING),
        ]
        assert "'DADRA AND NAGAR HAVELI' (U03)" in report.warnings[0].reason
        assert changed_counts(report) == {
            "parliamentary constituencies": (501, 0),
            "assembly constituencies": (3_880, 0),
            "states": (0, 32),
        }
        assert AssemblyConstituency.objects.count() == 4_123  # 4,125 rows less the two skipped
        assert State.objects.exclude(eci_code="").count() == 33
        codes = dict(State.objects.values_list("name_en", "eci_code"))
        assert (codes["Odisha"], codes["Delhi"], codes["Jammu And Kashmir"]) == ("S18", "U05", "S09")
        assert codes["Telangana"] == codes["Ladakh"] == ""  # not in the 2008 list

    def test_it_refuses_a_state_that_is_not_in_the_list(self, eci, data_dir):
        before = table_digest()
        report = run("eci-constituencies", [data_dir / "eci/2008-constituencies.csv"], state="Telangana")
        assert [(i.file, i.line, i.field) for i in report.errors] == [
            ("2008-constituencies.csv", None, "ST_CODE")
        ]
        assert "no row of this file is of the state Telangana" in report.errors[0].reason
        assert table_digest() == before


# --- small files ----------------------------------------------------------------------------------


def test_it_refuses_a_list_none_of_whose_states_is_in_the_database(tmp_path):
    State.objects.create(lgd_code=10, name_en="Bihar")
    path = write_csv(tmp_path / "eci.csv", ECI_HEADER, eci_rows("S99", "ATLANTIS", [(1, 1, "ONE", "")]))
    report = run("eci-constituencies", [path])
    assert [(i.line, i.field, i.severity) for i in report.issues] == [
        (2, "ST_NAME", WARNING),
        (None, "ST_CODE", "error"),
    ]
    assert "of a state in the database" in report.errors[0].reason
    assert not AssemblyConstituency.objects.exists() and not ParliamentaryConstituency.objects.exists()


def test_it_reports_an_unknown_reservation_and_a_bad_number_by_line(tmp_path):
    State.objects.create(lgd_code=10, name_en="Bihar")
    rows = eci_rows(
        acs=[(1, 1, "VALMIKI NAGAR", ""), (1, 2, "RAMNAGAR", "XX"), (1, "3a", "NARKATIAGANJ", "")]
    )
    report = run("eci-constituencies", [write_csv(tmp_path / "eci.csv", ECI_HEADER, rows, newline="\r\n")])
    assert [(i.file, i.line, i.field) for i in report.errors] == [
        ("eci.csv", 3, "AC_TYPE"),
        ("eci.csv", 4, "AC_CODE"),
    ]
    assert "unknown reservation 'XX'" in report.errors[0].reason
    assert "not a number: '3a'" in report.errors[1].reason
    assert not AssemblyConstituency.objects.exists()


def test_it_writes_each_pc_once_however_many_acs_it_has(tmp_path):
    State.objects.create(lgd_code=10, name_en="Bihar")
    rows = eci_rows(acs=[(1, 1, "VALMIKI NAGAR", ""), (1, 2, "RAMNAGAR", "SC"), (2, 10, "RAXAUL", "")])
    report = run("eci-constituencies", [write_csv(tmp_path / "eci.csv", ECI_HEADER, rows)], state="Bihar")
    assert changed_counts(report) == {
        "parliamentary constituencies": (2, 0),
        "assembly constituencies": (3, 0),
        "states": (0, 1),
    }
    assert dict(AssemblyConstituency.objects.values_list("number", "pc__number")) == {1: 1, 2: 1, 10: 2}


def test_it_warns_when_an_ac_repeats_with_different_values_and_keeps_the_first(tmp_path):
    State.objects.create(lgd_code=10, name_en="Bihar")
    rows = eci_rows(acs=[(1, 1, "VALMIKI NAGAR", ""), (1, 2, "RAMNAGAR", "SC"), (1, 1, "VALMIKINAGAR", "")])
    report = run("eci-constituencies", [write_csv(tmp_path / "eci.csv", ECI_HEADER, rows)], state="Bihar")
    assert report.committed and report.errors == []
    (warning,) = report.warnings
    assert (warning.file, warning.line, warning.field) == ("eci.csv", 4, "name_en")
    assert "of eci.csv:2 with a different name_en; the first was kept" in warning.reason
    assert AssemblyConstituency.objects.get(number=1).name_en == "Valmiki Nagar"


def test_it_says_nothing_when_a_row_repeats_identically(tmp_path):
    State.objects.create(lgd_code=10, name_en="Bihar")
    rows = eci_rows(acs=[(1, 1, "VALMIKI NAGAR", ""), (1, 1, "VALMIKI NAGAR", "")])
    report = run("eci-constituencies", [write_csv(tmp_path / "eci.csv", ECI_HEADER, rows)], state="Bihar")
    assert report.warnings == [] and AssemblyConstituency.objects.count() == 1
