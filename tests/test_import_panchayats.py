"""`sampark import panchayat-mapping`: Devanagari booth → panchayat → block lists, matched by name only."""

from __future__ import annotations

import csv
import unicodedata

import pytest
from django.db.models import F

from sampark.territory.models import AssemblyConstituency, Block, Booth, Panchayat

from .factories import TERRITORY, Step, changed_counts, imported, run, small_bihar, table_digest, write_csv

pytestmark = pytest.mark.django_db
MAPPING = "polling_stations/hindi_panchayat_mapping"
# The mapping covers two districts: their CEO files are all the booths it can link to.
STEPS = (
    *TERRITORY,
    Step(
        "polling-stations",
        "polling-stations",
        (
            "polling_stations/bihar_ceo_raw/1-Paschim Champaran.csv",
            "polling_stations/bihar_ceo_raw/17-Saran.csv",
        ),
    ),
    Step("panchayat-mapping", "panchayat-mapping", (f"{MAPPING}/*.csv",)),
)
MAPPED_ACS = [*range(1, 10), *range(113, 123)]
HEADER = (
    "district_en",
    "subdivision_hi",
    "block_hi",
    "panchayat_hi",
    "ac_no_raw",
    "ac_no",
    "ac_name_hi",
    "ps_no_raw",
    "ps_name_hi",
    "json_id",
)


@pytest.fixture(scope="class")
def mapped(data_dir, django_db_setup, django_db_blocker):
    with imported(django_db_blocker, data_dir, STEPS) as reports:
        yield reports


def is_clean(text: str) -> bool:
    return (
        text == unicodedata.normalize("NFC", text)
        and "\u200d" not in text
        and "  " not in text
        and text == text.strip()
    )


@pytest.mark.realdata
class TestTheRealFiles:
    def test_it_matches_blocks_to_lgd_blocks_and_reports_the_one_it_cannot(self, mapped):
        report = mapped["panchayat-mapping"]
        assert report.errors == []
        unmatched = [i for i in report.warnings if i.field == "block_hi"]
        assert [(i.file, i.line) for i in unmatched] == [("saran_booth_panchayat_block.csv", 908)]
        # "Sadar" (headquarters) Chhapra is LGD's CHHAPRA: a naming difference, not a spelling one.
        assert "'सदर छपरा' matches no LGD block of Saran" in unmatched[0].reason
        assert Block.objects.get(lgd_code=Block.objects.get(name_hi="मशरक").lgd_code).name_en == "Mashrakh"
        assert report.counts["blocks"].created == 1
        assert report.counts["blocks"].updated == 19  # LGD blocks that had no Hindi name until now
        used = Block.objects.filter(panchayats__isnull=False).distinct()
        assert used.count() == 38
        assert set(used.filter(lgd_code__isnull=True).values_list("name_hi", flat=True)) == {"सदर छपरा"}
        assert Block.objects.get(lgd_code=1935).name_hi == "योगापट्टी"  # JOGAPATTI, matched by sound

    def test_it_joins_partial_block_entries_to_the_whole_block(self, mapped):
        assert not Block.objects.filter(name_hi__contains="अंशतः").exists()
        bagaha_2 = Block.objects.get(lgd_code=1929)
        assert bagaha_2.name_hi == "बगहा-2"
        # Rows of both "बगहा-2" and "बगहा-2 (अंशतः)" put their panchayats in the one LGD block.
        assert Panchayat.objects.filter(block=bagaha_2, name_hi="लक्ष्मीपुर रमपुरवा").exists()  # a partial row
        assert Panchayat.objects.filter(block=bagaha_2, name_hi="नगरपरिषद - बगहा").exists()  # a whole row

    def test_it_creates_every_panchayat_once_and_urban_bodies_as_such(self, mapped):
        assert mapped["panchayat-mapping"].counts["panchayats"].created == Panchayat.objects.count() == 635
        assert Panchayat.objects.filter(district__lgd_code=211).count() == 305  # Paschim Champaran
        assert Panchayat.objects.filter(district__lgd_code=218).count() == 330  # Saran
        assert Panchayat.objects.filter(kind="ulb").count() == 20
        kinds = dict(Panchayat.objects.values_list("name_hi", "kind"))
        assert kinds["नगर निगम बेतिया"] == kinds["रिविलगंज नगर पंचायत"] == kinds["नगर पंचायत मशरख"] == "ulb"
        assert kinds["धुमनगर"] == kinds["नगरा"] == kinds["श्रीनगर"] == "gp"
        assert not Panchayat.objects.exclude(district_id=F("block__district_id")).exists()

    def test_it_stores_hindi_names_in_nfc_without_joiners_or_stray_spaces(self, mapped):
        names = [
            *Panchayat.objects.values_list("name_hi", flat=True),
            *Block.objects.exclude(name_hi="").values_list("name_hi", flat=True),
            *AssemblyConstituency.objects.exclude(name_hi="").values_list("name_hi", flat=True),
        ]
        assert len(names) > 700 and all(is_clean(n) for n in names)
        assert Panchayat.objects.filter(name_hi="वाल्मीकिनगर").exists()  # 'वाल्\u200dमीकिनगर' in the file
        assert Panchayat.objects.filter(name_hi="नगर पंचायत दिघवारा").exists()  # 'नगर पंचायत  दिघवारा   '
        assert Panchayat.objects.filter(name_hi="अशोक नगर").exists()  # 'अशोक नगर '

    def test_it_names_the_mapped_acs_in_hindi_by_the_majority_of_rows(self, mapped, data_dir):
        with (data_dir / "eci" / "bihar_assembly_constituencies.csv").open(encoding="utf-8") as fh:
            expected = {int(r["ac_no"]): r["ac_name_hi"] for r in csv.DictReader(fh) if r["ac_name_hi"]}
        assert (
            dict(AssemblyConstituency.objects.exclude(name_hi="").values_list("number", "name_hi"))
            == expected
        )
        assert sorted(expected) == MAPPED_ACS
        assert AssemblyConstituency.objects.get(number=3).name_hi == "नरकटियागंज"  # 43 rows say AC 2's name

    def test_it_links_booths_only_by_a_confident_name_match(self, mapped):
        report = mapped["panchayat-mapping"]
        linked = Booth.objects.filter(panchayat__isnull=False)
        assert changed_counts(report)["booths"] == (0, 3_314)
        assert linked.count() == 3_314
        assert sorted(set(linked.values_list("ac__number", flat=True))) == MAPPED_ACS
        assert not linked.exclude(block_id=F("panchayat__block_id")).exists()
        assert not linked.exclude(district_id=F("panchayat__district_id")).exists()
        first = Booth.objects.select_related("panchayat", "block").get(code="1-1")
        assert first.name == "Utkramit madhya Vidyalay, Thadhi"  # "उत्क्रमित मध्य विद्यालय, ठाढ़ी" in the file
        assert (first.panchayat.name_hi, first.block.lgd_code) == ("लक्ष्मीपुर रमपुरवा", 1929)
        # Every AC says how many of its booths stay unlinked; none is guessed.
        per_ac = [i for i in report.warnings if i.field == "ps_name_hi"]
        assert len(per_ac) == 19
        unlinked = sum(int(i.reason.split(": ")[1].split(" of ")[0]) for i in per_ac)
        assert unlinked == Booth.objects.filter(ac__number__in=MAPPED_ACS, panchayat__isnull=True).count()
        # Seven rows of Saran AC 121 have no booth number: reported, not linked.
        no_number = [i.line for i in report.warnings if i.field == "ps_no_raw"]
        assert no_number == list(range(2559, 2566))

    def test_it_changes_nothing_on_a_second_run_and_still_reports_the_unmatched_blocks(
        self, mapped, data_dir
    ):
        before = table_digest()
        report = run("panchayat-mapping", sorted((data_dir / MAPPING).glob("*.csv")))
        assert all(n == (0, 0) for n in changed_counts(report).values()), changed_counts(report)
        assert report.counts["panchayats"].unchanged == 635
        assert report.counts["booths"].unchanged == 3_314
        assert [i.line for i in report.warnings if i.field == "block_hi"] == [908]
        assert table_digest() == before


# --- small files ----------------------------------------------------------------------------------


@pytest.fixture
def champaran(tmp_path):
    """Small Bihar with the LGD block Bagaha-II (no Hindi name yet) and four booths of AC 1."""
    bihar = small_bihar()
    block = Block.objects.create(district=bihar["champaran"], lgd_code=1929, name_en="Bagaha-II")
    ac = bihar["acs"][1]
    for number, name in (
        (1, "Utkramit madhya Vidyalay, Thadhi"),
        (2, "Prathmik Vidyalay Semraha"),
        (3, "Community Hall Bagaha"),
        (4, "Madhya Vidyalay Belaur"),
    ):
        Booth.objects.create(
            state=bihar["state"],
            district=bihar["champaran"],
            ac=ac,
            number=number,
            code=f"1-{number}",
            name=name,
        )
    return {**bihar, "block": block}


def mapping_file(tmp_path, rows):
    return write_csv(
        tmp_path / "mapping.csv",
        HEADER,
        [
            ("Paschim Champaran", "बगहा", block, panchayat, "001", "1", "वाल्मीकिनगर", ps, name, f"ps_{ps}")
            for block, panchayat, ps, name in rows
        ],
    )


def test_it_cleans_hindi_names_and_joins_a_partial_block(tmp_path, champaran):
    path = mapping_file(
        tmp_path,
        [
            ("बगहा-2 (अंशतः) ", "लक्ष्मीपुर  रमपुरवा\u200d ", "1", "उत्क्रमित मध्य विद्यालय, ठाढ़ी"),
            ("बगहा-\u200d2", "हरनाटा\u095c", "2", "प्राथमिक विद्यालय सेमरहाँ"),
            ("बगहा-2", "नगर  परिषद - बगहा", "4", "मध्य विद्यालय बेलौर"),
        ],
    )
    report = run("panchayat-mapping", [path])
    assert report.errors == []
    assert [i.field for i in report.warnings] == ["ps_name_hi"]  # booth 1-3 matches no row
    assert Block.objects.count() == 1  # the partial and the whole entry are the LGD block
    champaran["block"].refresh_from_db()
    assert champaran["block"].name_hi == "बगहा-2"
    assert dict(Panchayat.objects.values_list("name_hi", "kind")) == {
        "लक्ष्मीपुर रमपुरवा": "gp",
        "हरनाटा\u0921\u093c": "gp",  # U+095C is not NFC: it is stored as ड + nukta
        "नगर परिषद - बगहा": "ulb",
    }
    assert set(Panchayat.objects.values_list("block", flat=True)) == {champaran["block"].pk}


def test_it_links_a_booth_only_when_the_names_agree_and_the_rows_do_too(tmp_path, champaran):
    path = mapping_file(
        tmp_path,
        [
            ("बगहा-2", "लक्ष्मीपुर रमपुरवा", "1", "उत्क्रमित मध्य विद्यालय, ठाढ़ी"),  # names the booth 1-1
            ("बगहा-2", "सेमरा", "2", "प्राथमिक विद्यालय सेमरहाँ"),  # names 1-2 …
            ("बगहा-2", "बेलौर", "5", "प्राथमिक विद्यालय सेमरहाँ"),  # … and so does this row, in another panchayat
            ("बगहा-2", "बेलौर", "3", "पंचायत सरकार भवन"),  # a name no booth has: 1-3 stays unlinked
        ],
    )
    report = run("panchayat-mapping", [path])
    links = dict(Booth.objects.values_list("code", "panchayat__name_hi"))
    assert links == {"1-1": "लक्ष्मीपुर रमपुरवा", "1-2": None, "1-3": None, "1-4": None}
    assert changed_counts(report)["booths"] == (0, 1)
    assert "AC 1: 3 of 4 booths matched no row" in report.warnings[-1].reason


def test_it_reports_an_unknown_district_as_an_error_and_writes_nothing(tmp_path, champaran):
    path = write_csv(
        tmp_path / "mapping.csv",
        HEADER,
        [
            ("Paschim Champaran", "बगहा", "बगहा-2", "लक्ष्मीपुर रमपुरवा", "001", "1", "", "1", "विद्यालय", "ps_1"),
            ("Gotham", "बगहा", "बगहा-2", "हरनाटांड़", "001", "1", "", "2", "विद्यालय", "ps_2"),
        ],
    )
    report = run("panchayat-mapping", [path])
    assert [(i.file, i.line, i.field) for i in report.errors] == [("mapping.csv", 3, "district_en")]
    assert "no district 'Gotham' in Bihar" in report.errors[0].reason
    assert not Panchayat.objects.exists()
    assert Block.objects.get().name_hi == ""


def test_it_unlinks_a_booth_a_newer_file_no_longer_confirms(tmp_path, champaran):
    first = mapping_file(tmp_path, [("बगहा-2", "लक्ष्मीपुर रमपुरवा", "1", "उत्क्रमित मध्य विद्यालय, ठाढ़ी")])
    run("panchayat-mapping", [first])
    assert Booth.objects.get(code="1-1").panchayat.name_hi == "लक्ष्मीपुर रमपुरवा"
    # The newer list names booth 1 differently: the old link must not survive the re-import.
    second = mapping_file(tmp_path, [("बगहा-2", "लक्ष्मीपुर रमपुरवा", "1", "पंचायत सरकार भवन")])
    report = run("panchayat-mapping", [second])
    booth = Booth.objects.get(code="1-1")
    assert (booth.panchayat_id, booth.block_id) == (None, None)
    assert changed_counts(report)["booths"] == (0, 1)
    assert "AC 1: 4 of 4 booths matched no row" in report.warnings[-1].reason
