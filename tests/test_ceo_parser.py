"""The raw CEO polling-station parser (sampark/territory/importers/ceo.py).

Unit tests write small CSV files in the CEO layout to ``tmp_path``; the ``realdata`` tests parse all 38
district files and compare with ``bihar_polling_stations_normalized.csv``, a flattening of the same
files made independently (the "oracle").

Where the parser and the oracle disagree, the raw rows were read and the parser is right in every
class (each is asserted below, by count, so a change in behaviour shows up here):

1. **Two junk rows the oracle kept as stations** (6-Supaul.csv line 4862: ``,001,,,,,,,,,`` and
   37-Nawada.csv line 9993: ``,002,,,,,,,,,``). Both sit at the end of the file after thousands of blank
   rows and carry nothing but a number; the oracle forward-filled an AC and typed them blank. The
   parser skips them with a warning: 106,517 stations, not 106,519.
2. **PS numbers the oracle left blank**: ``]101`` and ``221]`` (16-Siwan.csv lines 1527, 1728) and
   ``223'`` (7-Araria.csv line 2157) are 101, 221 and 223 with a stray bracket or quote.
3. **Kind (M/A) of the 26 real rows the oracle typed blank**: inferred (with a warning) from the
   numbering: auxiliary if an earlier station of the AC has the same number, else main. 12 A, 14 M.
4. **Coordinates the oracle accepted from impossible DMS** (249 rows, e.g. ``25º54'98"``,
   ``85º44'99"``, ``25°60'87"``): minutes or seconds of 60 or more are not DMS; the parser calls them
   "unparseable" rather than guess what was meant.
5. **Coordinates only the parser reads** (3,149 rows the oracle called unparsable): the same value
   with decoration or stray punctuation (``25.613785,``, ``86.4866254-``, ``25.7313ºN``, ``LA-25.3018``,
   ``24.862380å``), DMS written with other marks (``25o29'39``, ``24⁰37 ᴵ03ᴵᴵ``, ``25°28ʹ22ʺ``,
   ``N 025º24'52"``, ``26 46'57.10224``), and both numbers in one cell (``25.62707ºN - 86.02251ºE``). No
   digit or decimal point is invented; everything else stays None.
6. **Quality labels only**, no coordinates either way: ``84..490917`` is "repaired" here ("ok" in the
   oracle, 16 rows); 27 rows the oracle parsed to an out-of-area number (``26°5267255``, ``866542..16E``)
   and 9 with impossible DMS it flagged out of area (``87°86'56.9''``) are "unparseable" here; 6 rows it
   called unparsable (``25.36186,`` with ``89.3415``, ``-86.5228173``) read fine here and are out of area.
7. **Names and text fields** are NFC-normalised with zero-width joiners removed (``sampark.core.text.clean``);
   the oracle kept the joiners (2,125 Devanagari names). Same text otherwise.

The oracle's ``src_row`` counts CSV records (header rows included), not lines; the parser reports the
physical line where a record starts (several files have names with embedded newlines), so the tests
map one to the other.
"""

from __future__ import annotations

import collections
import csv
import io
import re
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from sampark.core.text import clean
from sampark.territory.importers.base import WARNING, BadFile, Issue, csv_rows
from sampark.territory.importers.ceo import (
    BIHAR_BBOX,
    RawStation,
    _clean,
    parse_ceo_file,
)

TITLE = "Polling Station (Main and Auxiliary) Details" + "," * 10
HEADER = (
    "AC No. & Name,Polling Station No.,Polling Station Name,Main/Auxiliary Polling Station (M/A),"
    "Elector Serial No. From,Elector Serial No. To,Latitude of Polling Station Building,"
    "Longitude of Polling Station Building,Electricity facility at PS (Yes/No),"
    "Toilet Facility at PS (Yes/No),Ramp Facility at PS (Yes/No)"
)
NUMBERS = ",".join(str(i) for i in range(1, 12))
AC = "1-Valmiki Nagar [1-Paschim Champaran]"
FIRST = 4  # the first data line: title, column names and column numbers come first


def row(
    ps: str = "001",
    name: str = "Utkramit Madhya Vidyalay",
    kind: str = "Main",
    lat: str = "27.41216",
    lon: str = "83.88296",
    *,
    ac: str = AC,
    frm: str = "1",
    to: str = "522",
    yes: tuple[str, str, str] = ("Yes", "Yes", "Yes"),
) -> list[str]:
    return [ac, ps, name, kind, frm, to, lat, lon, *yes]


def write(tmp_path: Path, rows: Sequence[Sequence[str]], name: str = "1-Paschim Champaran.csv") -> Path:
    """A CEO file: the three header lines, then ``rows`` (lists are CSV-quoted, strings written as is)."""
    out = io.StringIO()
    out.write(f"{TITLE}\r\n{HEADER}\r\n{NUMBERS}\r\n")
    writer = csv.writer(out, lineterminator="\r\n")
    for r in rows:
        if isinstance(r, str):
            out.write(r + "\r\n")
        else:
            writer.writerow(r)
    path = tmp_path / name
    path.write_bytes(out.getvalue().encode("utf-8"))
    return path


def parse(path: Path, **kwargs: object) -> tuple[list[RawStation], list[Issue]]:
    stations: list[RawStation] = []
    issues: list[Issue] = []
    for item in parse_ceo_file(path, **kwargs):  # type: ignore[arg-type]
        (stations if isinstance(item, RawStation) else issues).append(item)  # type: ignore[arg-type]
    return stations, issues


def one(tmp_path: Path, r: list[str]) -> RawStation:
    stations, _ = parse(write(tmp_path, [r]))
    assert len(stations) == 1
    return stations[0]


# --- a plain row ---------------------------------------------------------------------------------


def test_it_parses_a_plain_row_into_every_field(tmp_path):
    stations, issues = parse(write(tmp_path, [row()]))
    assert issues == []
    assert stations == [
        RawStation(
            file="1-Paschim Champaran.csv",
            line=4,
            district_number=1,
            district_name="Paschim Champaran",
            ac_number=1,
            ac_field_raw=AC,
            ps_number=1,
            ps_suffix="",
            ps_raw="001",
            kind="M",
            kind_raw="Main",
            name="Utkramit Madhya Vidyalay",
            elector_from=1,
            elector_to=522,
            latitude=Decimal("27.412160"),
            longitude=Decimal("83.882960"),
            coordinate_quality="ok",
            coordinate_raw="27.41216,83.88296",
            electricity=True,
            toilet=True,
            ramp=True,
        )
    ]


def test_it_returns_ordinary_frozen_stations(tmp_path):
    st = one(tmp_path, row())
    assert type(st) is RawStation
    with pytest.raises(AttributeError):
        st.line = 5  # type: ignore[misc]
    values = tuple(getattr(st, f) for f in RawStation._fields)
    assert RawStation(*values) == st
    assert hash(RawStation(*values)) == hash(st)


def test_it_reads_the_district_from_a_file_name_with_a_space(tmp_path):
    st = one(tmp_path, row())
    assert (st.district_number, st.district_name) == (1, "Paschim Champaran")
    path = write(tmp_path, [row(ac="240-Sikandra (SC) [38-Jamui]")], name="38-Jamui.csv")
    stations, _ = parse(path)
    assert (stations[0].district_number, stations[0].district_name, stations[0].file) == (
        38,
        "Jamui",
        "38-Jamui.csv",
    )


def test_it_cleans_the_name(tmp_path):
    st = one(tmp_path, row(name="  Madhya  Vidyalay\n Thadhi \u200b"))
    assert st.name == "Madhya Vidyalay Thadhi"
    st = one(tmp_path, row(name="उत्\u200dक्रमित  मध्\u200dय विद्यालय"))
    assert st.name == "उत्क्रमित मध्य विद्यालय"


@pytest.mark.parametrize(
    "text", ["", " a  b ", "a\tb\nc", "x\x1cy", "\x0b", "Rajkiya (Purvi Bhag) , kamra-1"]
)
def test_its_ascii_fast_path_cleans_like_clean(text):
    assert _clean(text) == clean(text)


@pytest.mark.parametrize(
    "text",
    [
        "उत्क्रमित  मध्य\u00a0विद्यालय ",  # no invisible character: NFC + collapsing only
        "उत्\u200dक्रमित  मध्\u200dय विद्यालय",  # joiners: the full clean()
        "\u0915\u093c\u093e\u0932\u0940",  # a combining nukta
        "\u00adमध्य\u2060 \ufeff",
        "\u3000 a\u2028b\u0085c ",  # Unicode spaces and line separators
        "Café  \u200b",
    ],
)
def test_its_non_ascii_fast_path_cleans_like_clean(text):
    assert _clean(text) == clean(text)


# --- polling station numbers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "number", "suffix"),
    [
        ("001", 1, ""),
        ("1A", 1, "A"),
        ("72.A", 72, "A"),
        ("109(A)", 109, "A"),
        ("1 (A)", 1, "A"),
        ("116a", 116, "A"),
        ("9-A", 9, "A"),
        ("001 A", 1, "A"),
        (" 231 A ", 231, "A"),
        ("138 K", 138, "K"),
        ("223'", 223, ""),
        ("]101", 101, ""),
        ("221]", 221, ""),
        ("230.", 230, ""),
    ],
)
def test_it_parses_ps_number_with_dot_suffix_and_every_other_form(tmp_path, raw, number, suffix):
    st = one(tmp_path, row(ps=raw))
    assert (st.ps_number, st.ps_suffix, st.ps_raw) == (number, suffix, raw.strip())


@pytest.mark.parametrize("raw", ["12/13", "A1", "one", "1-2"])
def test_it_warns_and_skips_a_ps_number_it_cannot_read(tmp_path, raw):
    stations, issues = parse(write(tmp_path, [row(ps=raw), row(ps="2")]))
    assert [s.ps_number for s in stations] == [2]
    assert [(i.line, i.field, i.severity) for i in issues] == [(FIRST, "Polling Station No.", WARNING)]
    assert repr(raw) in issues[0].reason


# --- the AC field ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "number"),
    [
        ("1-Valmiki Nagar [1-Paschim Champaran]", 1),
        ("36, Madhubani", 36),
        ("203\n RAMGHARH", 203),
        ("39-Phulparas Constituency", 39),
        ("209 Kargahar", 209),
        ("136-Sarairanjan [19-Samastipur", 136),
        ("205-Bhabua(31-kaimur)", 205),
        ("34- BABUBARHI", 34),
        ("40-Laukaha (05-Madhubani)", 40),
        ("203 RAMGHARH-31 KAIMUR", 203),
        ("243", 243),
    ],
)
def test_it_reads_the_ac_number_from_every_ac_field_format(tmp_path, field, number):
    st = one(tmp_path, row(ac=field))
    assert st.ac_number == number
    assert st.ac_field_raw == clean(field)


def test_it_forward_fills_an_empty_ac_field_with_a_warning(tmp_path):
    stations, issues = parse(
        write(tmp_path, [row(ac="31-Harlakhi"), row(ps="116a", kind="Auxiliary", ac="")])
    )
    assert [(s.ac_number, s.ac_field_raw) for s in stations] == [(31, "31-Harlakhi"), (31, "")]
    assert [(i.line, i.field) for i in issues] == [(FIRST + 1, "AC No. & Name")]
    assert "AC 31" in issues[0].reason


def test_it_skips_an_empty_ac_field_with_nothing_above_it(tmp_path):
    stations, issues = parse(write(tmp_path, [row(ac=""), row()]))
    assert [s.line for s in stations] == [FIRST + 1]
    assert [(i.line, i.field) for i in issues] == [(FIRST, "AC No. & Name")]


@pytest.mark.parametrize("field", ["1000-Nowhere", "0-Zero", "Valmiki Nagar", "]"])
def test_it_warns_and_skips_an_ac_field_without_an_ac_number(tmp_path, field):
    stations, issues = parse(write(tmp_path, [row(ac=field), row(ps="2")]))
    assert [s.ps_number for s in stations] == [2]
    assert [(i.line, i.field) for i in issues] == [(FIRST, "AC No. & Name")]
    assert repr(field) in issues[0].reason


# --- main or auxiliary ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("Main", "M"),
        ("M", "M"),
        ("main", "M"),
        ("MAIN", "M"),
        ("Main ", "M"),
        ("Man", "M"),
        ("Auxiliary", "A"),
        ("A", "A"),
        ("AUXLIARY", "A"),
        ("AUXILIARY", "A"),
        ("Auxillary", "A"),
        ("Auxailiary", "A"),
        ("auxiliary", "A"),
    ],
)
def test_it_maps_every_spelling_of_main_and_auxiliary(tmp_path, raw, kind):
    stations, issues = parse(write(tmp_path, [row(kind=raw)]))
    assert (stations[0].kind, stations[0].kind_raw, issues) == (kind, raw.strip(), [])


def test_it_infers_an_unreadable_kind_from_the_numbering_with_a_warning(tmp_path):
    rows = [
        row(ps="5"),
        row(ps="5", kind=""),  # an earlier station of AC 1 has number 5: auxiliary
        row(ps="6", kind="Main/Auxiliary"),  # no earlier 6: main
        row(ps="6", kind="99"),  # now there is: auxiliary
        row(ps="5", kind=" ", ac="2-Ramnagar (SC)"),  # number 5 in another AC: main
    ]
    stations, issues = parse(write(tmp_path, rows))
    assert [(s.ac_number, s.ps_number, s.kind, s.kind_raw) for s in stations] == [
        (1, 5, "M", "Main"),
        (1, 5, "A", ""),
        (1, 6, "M", "Main/Auxiliary"),
        (1, 6, "A", "99"),
        (2, 5, "M", ""),
    ]
    assert [(i.line, i.field) for i in issues] == [
        (FIRST + n, "Main/Auxiliary Polling Station (M/A)") for n in (1, 2, 3, 4)
    ]
    assert "inferred auxiliary" in issues[0].reason
    assert "inferred main" in issues[1].reason
    assert "'Main/Auxiliary'" in issues[1].reason


# --- coordinates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lat", "lon", "latitude", "longitude", "quality"),
    [
        ("27.41216", "83.88296", "27.412160", "83.882960", "ok"),
        ("25.65777778", "86.83305556", "25.657778", "86.833056", "ok"),
        ("25.7313ºN", "86.0478ºE", "25.731300", "86.047800", "ok"),
        ("27.15000 N", "84.04536 E", "27.150000", "84.045360", "ok"),
        ("25.603783°", "87.62048°", "25.603783", "87.620480", "ok"),
        ("LA-25.3018", "LO-83.6886", "25.301800", "83.688600", "ok"),
        ("24.83275305", "84.97711235e", "24.832753", "84.977112", "ok"),
        ("26⁰48'0\"N", "84⁰30'18\"E", "26.800000", "84.505000", "dms"),
        ("25°16'20.01\"N", "86° 6'40.28\"E", "25.272225", "86.111189", "dms"),
        ("25° 19' 12''", "85° 21' 39''", "25.320000", "85.360833", "dms"),
        ("26º48'06\"N", "84º31'19\"E", "26.801667", "84.521944", "dms"),
        ("25o29'39", "85o27'3", "25.494167", "85.450833", "dms"),
        ("24⁰37 ᴵ03ᴵᴵ", "86⁰08 ᴵ39ᴵᴵ", "24.617500", "86.144167", "dms"),
        ("25°28ʹ22ʺ", "86°1ʹ19ʺ", "25.472778", "86.021944", "dms"),
        ("N 025º24'52\"", "E 084º31'12\"", "25.414444", "84.520000", "dms"),
        ("26 46'57.10224", "84 53'9.63996", "26.782528", "84.886011", "dms"),
        ("25°13’31’’ N", "85°33’23” E", "25.225278", "85.556389", "dms"),
        ("26-5727", "84-4862", "26.572700", "84.486200", "repaired"),
        ("27.001526", "84..490917", "27.001526", "84.490917", "repaired"),
        ("25.613785,", "87.5920716", "25.613785", "87.592072", "repaired"),
        ("25.9924346", "86.4866254-", "25.992435", "86.486625", "repaired"),
        ("24.862380å", "85.908406 å", "24.862380", "85.908406", "repaired"),
        ("25.62707ºN - 86.02251ºE", "25.62707ºN - 86.02251ºE", "25.627070", "86.022510", "repaired"),
        ("86.7747662", "25.8535736", "25.853574", "86.774766", "swapped"),
        ("84-4862", "26-5727", "26.572700", "84.486200", "swapped"),  # swapped beats repaired
        ("84°30'18\"E", "26°48'0\"N", "26.800000", "84.505000", "swapped"),  # swapped beats dms
        ("26°48'0\"N", "84-4862", "26.800000", "84.486200", "dms"),  # dms beats repaired
    ],
)
def test_it_reads_every_coordinate_format(tmp_path, lat, lon, latitude, longitude, quality):
    st = one(tmp_path, row(lat=lat, lon=lon))
    assert (st.latitude, st.longitude, st.coordinate_quality) == (
        Decimal(latitude),
        Decimal(longitude),
        quality,
    )
    assert st.latitude.as_tuple().exponent == -6  # type: ignore[union-attr]
    assert st.coordinate_raw == f"{clean(lat)},{clean(lon)}"


@pytest.mark.parametrize(
    ("lat", "lon", "quality"),
    [
        ("", "", "missing"),
        ("  ", "", "missing"),
        ("25.9", "", "unparseable"),
        ("CHALANT", "CHALANT", "unparseable"),
        ("25º54'98\"", "85º44'39\"", "unparseable"),  # 98 seconds
        ("26°77'52\"", "85°41'19\"", "unparseable"),  # 77 minutes
        ("26.60'73''N", "85.84'41''E", "unparseable"),  # a point where the degree mark belongs
        ("24099'22.52\"N", "84023'55.38\"E", "unparseable"),  # degree mark typed as 0
        ("26.83.8496", "84.346153", "unparseable"),
        ("84.57096 2", "25.9", "unparseable"),
        ("3.00E+08", "87.217", "unparseable"),
        ("-25.8729903", "86.5867965", "out_of_area"),  # never guess a sign
        ("261648.29N", "863544.18E", "out_of_area"),  # packed DMS: never guess
        ("84334495", "26.905851", "out_of_area"),  # never guess a decimal point
        ("25.36186", "89.3415", "out_of_area"),
        ("30.2315", "83.7298", "out_of_area"),
    ],
)
def test_it_keeps_no_coordinates_it_cannot_trust(tmp_path, lat, lon, quality):
    st = one(tmp_path, row(lat=lat, lon=lon))
    assert (st.latitude, st.longitude, st.coordinate_quality) == (None, None, quality)
    assert st.coordinate_raw == ("" if quality == "missing" else f"{clean(lat)},{clean(lon)}")


def test_it_checks_coordinates_against_the_given_bbox(tmp_path):
    path = write(tmp_path, [row(lat="12.97", lon="77.59")])
    (st,), _ = parse(path)
    assert st.coordinate_quality == "out_of_area"
    bangalore = (Decimal("12"), Decimal("14"), Decimal("77"), Decimal("78"))
    (st,), _ = parse(path, bbox=bangalore)
    assert (st.latitude, st.longitude, st.coordinate_quality) == (
        Decimal("12.970000"),
        Decimal("77.590000"),
        "ok",
    )
    assert BIHAR_BBOX[0] == Decimal("24.2")
    assert BIHAR_BBOX[1:] == (Decimal("27.6"), Decimal("83.3"), Decimal("88.3"))


def test_it_reuses_a_shared_reading_without_mixing_rows(tmp_path):
    rows = [
        row(lat="26-5727", lon="84-4862"),
        row(ps="1A", lat="26-5727", lon="84-4862"),
        row(ps="2", lat="", lon=""),
    ]
    stations, _ = parse(write(tmp_path, rows))
    assert [(s.latitude, s.coordinate_quality) for s in stations] == [
        (Decimal("26.572700"), "repaired"),
        (Decimal("26.572700"), "repaired"),
        (None, "missing"),
    ]


# --- the other cells ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("Yes", True),
        ("YES", True),
        ("yes", True),
        ("Y", True),
        ("yes ", True),
        ("No", False),
        ("NO", False),
        ("N", False),
        ("no", False),
        (" NO", False),
        ("", None),
        ("N/A", None),
        ("NIL", None),
        ("N0", None),
        ("1", None),
    ],
)
def test_it_reads_yes_and_no(tmp_path, raw, value):
    st = one(tmp_path, row(yes=(raw, "Yes", "No")))
    assert (st.electricity, st.toilet, st.ramp) == (value, True, False)


@pytest.mark.parametrize(
    ("frm", "to", "values"),
    [
        ("1", "522", (1, 522)),
        ("01", "", (1, None)),
        ("1", "1,007", (1, 1007)),
        ("1\n 1066\n 1228", "375\n 1227\n 1362", (1, 375)),  # the booth's own range comes first
        ("1", "535\n 1111 to1016", (1, 535)),
        ("`564", "782\\", (564, 782)),
        ("1", "696.00", (1, 696)),
        ("1012,\n 1024", "----", (1012, None)),
        ("-", ".", (None, None)),
    ],
)
def test_it_reads_elector_serials(tmp_path, frm, to, values):
    stations, issues = parse(write(tmp_path, [row(frm=frm, to=to)]))
    assert ((stations[0].elector_from, stations[0].elector_to), issues) == (values, [])


def test_it_warns_on_an_unreadable_elector_serial(tmp_path):
    stations, issues = parse(write(tmp_path, [row(frm="6+45")]))
    assert (stations[0].elector_from, stations[0].elector_to) == (None, 522)
    assert [(i.line, i.field) for i in issues] == [(FIRST, "Elector Serial No. From")]
    assert "'6+45'" in issues[0].reason


# --- junk rows ------------------------------------------------------------------------------------


def test_it_skips_blank_rows_and_repeated_column_number_rows_silently(tmp_path):
    rows = [row(ps="1"), "", ",,,,,,,,,,", NUMBERS, " 1, 2,3,4,5,6,7,8,9,10,11", row(ps="2")]
    stations, issues = parse(write(tmp_path, rows))
    assert [(s.ps_number, s.line) for s in stations] == [(1, FIRST), (2, FIRST + 5)]
    assert issues == []


def test_it_warns_and_skips_continuation_rows_with_only_elector_ranges(tmp_path):
    rows = [
        row(ps="197", ac="203-Ramgarh"),
        ",,,,1011,1029,25.3198,83.7586,,,",  # Kaimur: the rest of the booth's serials
        "203-Ramgarh,,,,1190,1192,,,,,",
        row(ps="197(A)", ac="203-Ramgarh", kind="A"),
    ]
    stations, issues = parse(write(tmp_path, rows))
    assert [(s.ps_number, s.ps_suffix, s.line) for s in stations] == [(197, "", FIRST), (197, "A", FIRST + 3)]
    assert [(i.line, i.field, i.severity) for i in issues] == [
        (FIRST + 1, "", WARNING),
        (FIRST + 2, "", WARNING),
    ]
    assert "no polling station number and no name" in issues[0].reason
    assert "Elector Serial No. From='1011'" in issues[0].reason


def test_it_warns_and_skips_ac_heading_rows_and_stray_cells(tmp_path):
    rows = ["75-SAHARSA AC,,,,,,,,,,", ",,,76-SIMRI BAKHTIARPUR,,,,,,,", "],,,,,,,,,,", row(ps="1", ac="")]
    stations, issues = parse(write(tmp_path, rows))
    assert [(s.ac_number, s.ps_number) for s in stations] == [(75, 1)]  # the heading opens AC 75
    assert [i.line for i in issues] == [FIRST, FIRST + 1, FIRST + 2, FIRST + 3]
    assert issues[-1].field == "AC No. & Name"


def test_it_warns_and_skips_a_row_with_a_name_but_no_ps_number(tmp_path):
    stations, issues = parse(
        write(tmp_path, [row(ps="", name="Madhya Vidyalay Nayagaon", kind="", ac=""), row()])
    )
    assert [s.line for s in stations] == [FIRST + 1]
    assert [(i.line, i.field) for i in issues] == [(FIRST, "Polling Station No.")]
    assert "Madhya Vidyalay Nayagaon" in issues[0].reason


def test_it_warns_and_skips_a_row_with_only_a_ps_number(tmp_path):
    rows = [row(ps="1"), ",002,,,,,,,,,"]  # the tail of 37-Nawada.csv
    stations, issues = parse(write(tmp_path, rows))
    assert [s.ps_number for s in stations] == [1]
    assert [(i.line, i.field) for i in issues] == [(FIRST + 1, "Polling Station Name")]


def test_it_keeps_a_nameless_station_that_has_other_data_and_warns(tmp_path):
    stations, issues = parse(write(tmp_path, [row(ps="220", name="", kind="Auxiliary")]))
    assert [(s.ps_number, s.name, s.kind) for s in stations] == [(220, "", "A")]
    assert [(i.line, i.field) for i in issues] == [(FIRST, "Polling Station Name")]


def test_it_reports_the_physical_line_where_a_record_starts(tmp_path):
    rows = [
        row(ps="1", name="Rajkiya madhya\nvidyalaya Adauri\n(Purvi Bhag)"),
        row(ps="2"),
        row(ps="3", ac="22\nSheohar"),
    ]
    stations, _ = parse(write(tmp_path, rows))
    assert [(s.ps_number, s.line) for s in stations] == [(1, 4), (2, 7), (3, 8)]
    assert stations[0].name == "Rajkiya madhya vidyalaya Adauri (Purvi Bhag)"


def test_it_tolerates_short_rows(tmp_path):
    stations, issues = parse(write(tmp_path, ["1-Valmiki Nagar,5,Prathmik Vidyalay,Main,1,600"]))
    assert [(s.ps_number, s.elector_to, s.coordinate_quality, s.ramp) for s in stations] == [
        (5, 600, "missing", None)
    ]
    assert issues == []


def test_it_warns_and_skips_a_row_with_extra_cells(tmp_path):
    rows = [[*row(ps="1"), "Bhag"], [*row(ps="2"), "", ""]]
    stations, issues = parse(write(tmp_path, rows))
    assert [s.ps_number for s in stations] == [2]
    assert [i.line for i in issues] == [FIRST]
    assert "12 cells" in issues[0].reason


# --- files that are not CEO files -----------------------------------------------------------------


def test_it_rejects_a_file_with_the_wrong_header(tmp_path):
    path = tmp_path / "1-Paschim Champaran.csv"
    path.write_text("district_no,ac_no,ps_no,latitude\n1,1,1,27.4\n", encoding="utf-8")
    with pytest.raises(BadFile) as exc:
        parse_ceo_file(path)
    issue = exc.value.issue
    assert (issue.file, issue.line, issue.field, issue.severity) == (
        "1-Paschim Champaran.csv",
        1,
        "header",
        "error",
    )
    assert '"AC No. & Name"' in issue.reason
    assert "Polling Station No." in issue.reason
    assert "ac_no" in issue.reason  # what was found


def test_it_rejects_a_header_missing_one_column(tmp_path):
    path = tmp_path / "1-Paschim Champaran.csv"
    path.write_text(f"{TITLE}\n{HEADER.replace('Ramp Facility', 'Remarks')}\n{NUMBERS}\n", encoding="utf-8")
    with pytest.raises(BadFile) as exc:
        parse_ceo_file(path)
    assert exc.value.issue.line == 2
    assert "missing Ramp Facility at PS (Yes/No)" in exc.value.issue.reason


def test_it_accepts_a_header_without_the_title_row(tmp_path):
    path = tmp_path / "1-Paschim Champaran.csv"
    path.write_text(f"{HEADER}\n{','.join(row())}\n", encoding="utf-8")
    stations, _ = parse(path)
    assert [(s.ps_number, s.line) for s in stations] == [(1, 2)]


@pytest.mark.parametrize("content", [b"", b"\n\n", b"\xef\xbb\xbf"])
def test_it_rejects_an_empty_file(tmp_path, content):
    path = tmp_path / "1-Paschim Champaran.csv"
    path.write_bytes(content)
    with pytest.raises(BadFile) as exc:
        parse_ceo_file(path)
    assert exc.value.issue.reason == "the file is empty"


def test_it_warns_about_a_file_with_no_stations(tmp_path):
    stations, issues = parse(write(tmp_path, []))
    assert stations == []
    assert [(i.line, i.severity, i.reason) for i in issues] == [
        (None, WARNING, "no polling stations below the header")
    ]


def test_it_rejects_non_utf8_bytes_with_the_line_number(tmp_path):
    path = write(tmp_path, [row(ps="1"), row(ps="2")])
    path.write_bytes(path.read_bytes().replace(b"Utkramit", b"Utkr\xe4mit"))
    with pytest.raises(BadFile) as exc:
        parse(path)
    assert exc.value.issue.line == FIRST
    assert "not UTF-8" in exc.value.issue.reason
    header = tmp_path / "2-Purvi Champaran.csv"
    header.write_bytes(b"Polling Station (Main and Auxiliary) D\xe9tails\n")
    with pytest.raises(BadFile) as exc:
        parse_ceo_file(header)  # the header is read when called
    assert exc.value.issue.line == 1


def test_it_rejects_a_truncated_file_with_an_unterminated_quote(tmp_path):
    path = write(tmp_path, [row(ps="1"), '1-Valmiki Nagar,2,"Madhya Vidyalay, Thadhi'])
    items = parse_ceo_file(path)
    assert isinstance(next(items), RawStation)
    with pytest.raises(BadFile) as exc:
        next(items)
    assert "malformed CSV" in exc.value.issue.reason
    assert exc.value.issue.line is not None


@pytest.mark.parametrize(
    "name", ["Paschim Champaran.csv", "1_Paschim.csv", "1-.csv", "0-Nowhere.csv", "1-Paschim.txt"]
)
def test_it_rejects_a_bad_file_name(tmp_path, name):
    path = write(tmp_path, [row()], name=name)
    with pytest.raises(BadFile) as exc:
        parse_ceo_file(path)
    assert (exc.value.issue.file, exc.value.issue.line) == (name, None)
    assert "<CEO district number>-<district>.csv" in exc.value.issue.reason


def test_it_rejects_a_missing_file(tmp_path):
    with pytest.raises(BadFile) as exc:
        parse_ceo_file(tmp_path / "1-Paschim Champaran.csv")
    assert exc.value.issue.reason == "file not found"


# --- the real files -------------------------------------------------------------------------------

# The oracle's blank-type rows: file -> lines (physical). The two junk rows are dropped (class 1).
JUNK_KEPT_BY_ORACLE = {("6-Supaul.csv", 4862), ("37-Nawada.csv", 9993)}
PS_BLANK_IN_ORACLE = {("16-Siwan.csv", 1527): 101, ("16-Siwan.csv", 1728): 221, ("7-Araria.csv", 2157): 223}
PLAIN = re.compile(r"-?\d+\.\d+")


@pytest.fixture(scope="module")
def real(data_dir: Path) -> dict[str, object]:
    """Everything parsed once: stations by (file, line), issues, the oracle by (file, line), timings."""
    raw_dir = data_dir / "polling_stations" / "bihar_ceo_raw"
    files = sorted(raw_dir.glob("*.csv"))
    started = time.perf_counter()
    stations: dict[tuple[str, int], RawStation] = {}
    issues: list[Issue] = []
    for path in files:
        for item in parse_ceo_file(path):
            if isinstance(item, RawStation):
                stations[item.file, item.line] = item
            else:
                issues.append(item)
    parse_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for path in files:  # a bare csv.reader pass, for scale
        with path.open(encoding="utf-8", newline="") as fh:
            for _ in csv.reader(fh):
                pass
    csv_seconds = time.perf_counter() - started
    # The oracle's src_row is the record number; the parser reports the line the record starts on.
    line_of = {
        (path.name, number): line for path in files for number, (line, _) in enumerate(csv_rows(path), 1)
    }
    oracle = {}
    with (data_dir / "polling_stations" / "bihar_polling_stations_normalized.csv").open(
        encoding="utf-8"
    ) as fh:
        for r in csv.DictReader(fh):
            oracle[r["src_file"], line_of[r["src_file"], int(r["src_row"])]] = r
    print(f"\nparsed 38 CEO files in {parse_seconds:.2f}s; a bare csv.reader pass took {csv_seconds:.2f}s")
    return {"files": files, "stations": stations, "issues": issues, "oracle": oracle}


@pytest.mark.realdata
def test_real_files_yield_the_oracles_stations_less_two_junk_rows(real):
    stations, oracle = real["stations"], real["oracle"]
    assert len(real["files"]) == 38
    assert len(oracle) == 106_519
    assert len(stations) == 106_517
    assert set(oracle) - set(stations) == JUNK_KEPT_BY_ORACLE  # class 1
    assert set(stations) <= set(oracle)
    for key in JUNK_KEPT_BY_ORACLE:
        assert (oracle[key]["ps_name"], oracle[key]["ps_type"], oracle[key]["latitude"]) == ("", "", "")


@pytest.mark.realdata
def test_real_main_and_auxiliary_counts_match_the_oracle(real):
    stations, oracle = real["stations"], real["oracle"]
    assert collections.Counter(r["ps_type"] for r in oracle.values()) == {
        "Main": 72_758,
        "Auxiliary": 33_733,
        "": 28,
    }
    typed: collections.Counter[str] = collections.Counter()
    inferred: collections.Counter[str] = collections.Counter()
    for key, st in stations.items():
        published = {"Main": "M", "Auxiliary": "A"}.get(oracle[key]["ps_type"])
        if published:
            assert st.kind == published, key
            typed[st.kind] += 1
        else:
            inferred[st.kind] += 1  # class 3
    assert typed == {"M": 72_758, "A": 33_733}
    assert inferred == {"M": 14, "A": 12}
    assert collections.Counter(st.kind for st in stations.values()) == {"M": 72_772, "A": 33_745}
    kind_warnings = [i for i in real["issues"] if i.field == "Main/Auxiliary Polling Station (M/A)"]
    assert len(kind_warnings) == 26


@pytest.mark.realdata
def test_real_rows_agree_with_the_oracle_on_ac_ps_number_and_suffix(real):
    stations, oracle = real["stations"], real["oracle"]
    differ = {}
    for key, st in stations.items():
        r = oracle[key]
        assert int(r["ac_no"]) == st.ac_number, key
        assert r["ps_suffix"] == st.ps_suffix, key
        if r["ps_no"] != str(st.ps_number):
            differ[key] = (r["ps_no"], st.ps_number)
    assert differ == {key: ("", number) for key, number in PS_BLANK_IN_ORACLE.items()}  # class 2


@pytest.mark.realdata
def test_real_coordinates_agree_with_the_oracle(real):
    stations, oracle = real["stations"], real["oracle"]
    q = Decimal("0.000001")
    both = only_oracle = only_parser = 0
    for key, st in stations.items():
        r = oracle[key]
        if r["latitude"] and st.latitude is not None:
            both += 1
            assert (Decimal(r["latitude"]).quantize(q), Decimal(r["longitude"]).quantize(q)) == (
                st.latitude,
                st.longitude,
            ), key
        elif r["latitude"]:  # class 4: the oracle read DMS with 60 or more minutes or seconds
            only_oracle += 1
            assert r["coord_flag"] == "dms_converted_ok", key
            parts = [float(p) for p in re.findall(r"\d+(?:\.\d+)?", f"{r['lat_raw']} {r['lon_raw']}")]
            assert any(p >= 60 for p in parts[1:3] + parts[4:6]), key
            assert st.coordinate_quality == "unparseable", key
        elif st.latitude is not None:  # class 5
            only_parser += 1
            assert r["coord_flag"] == "unparsable_or_missing", key
            assert st.coordinate_quality in ("ok", "dms", "repaired", "swapped"), key
    assert (both, only_oracle, only_parser) == (97_722, 249, 3_149)
    assert sum(1 for r in oracle.values() if r["latitude"]) == 97_971
    with_coordinates = sum(1 for st in stations.values() if st.latitude is not None)
    assert with_coordinates == 100_871


@pytest.mark.realdata
def test_real_coordinate_quality_matches_the_oracles_flag(real):
    expected = {  # oracle coord_flag -> qualities the parser may give
        "ok": {"ok", "repaired"},  # "84..490917" is a repair here (class 6)
        "dms_converted_ok": {"dms", "unparseable"},
        "swapped_fixed": {"swapped"},
        "hyphen_decimal_fixed_ok": {"repaired"},
        "hyphen_decimal_fixed_swapped_fixed": {"swapped"},
        "dms_converted_swapped_fixed": {"swapped"},
        "outside_bihar_bbox": {"out_of_area", "unparseable"},
        "hyphen_decimal_fixed_outside_bihar_bbox": {"out_of_area"},
        "dms_converted_outside_bihar_bbox": {"out_of_area", "unparseable"},
        "unparsable_or_missing": {
            "unparseable",
            "missing",
            "ok",
            "dms",
            "repaired",
            "swapped",
            "out_of_area",
        },
    }
    counts: collections.Counter[str] = collections.Counter()
    for key, st in real["stations"].items():
        flag = real["oracle"][key]["coord_flag"]
        assert st.coordinate_quality in expected[flag], (key, flag, st.coordinate_quality)
        counts[st.coordinate_quality] += 1
    assert counts == {
        "ok": 85_714,
        "dms": 7_689,
        "repaired": 3_863,
        "swapped": 3_605,
        "out_of_area": 3_122,
        "unparseable": 2_331,
        "missing": 193,
    }


@pytest.mark.realdata
def test_real_plain_in_bbox_decimals_are_kept_as_published(real):
    checked = 0
    for st in real["stations"].values():
        lat, _, lon = st.coordinate_raw.partition(",")
        if not (PLAIN.fullmatch(lat) and PLAIN.fullmatch(lon)):
            continue
        lat_d, lon_d = Decimal(lat), Decimal(lon)
        lat_min, lat_max, lon_min, lon_max = BIHAR_BBOX
        if lat_min <= lat_d <= lat_max and lon_min <= lon_d <= lon_max:
            checked += 1
            assert st.coordinate_quality == "ok"
            assert abs(st.latitude - lat_d) <= Decimal("0.0000005")  # type: ignore[operator]
            assert abs(st.longitude - lon_d) <= Decimal("0.0000005")  # type: ignore[operator]
    assert checked > 84_000


@pytest.mark.realdata
def test_real_files_have_243_acs_each_in_one_file(real):
    files_of = collections.defaultdict(set)
    for st in real["stations"].values():
        files_of[st.ac_number].add(st.file)
        assert str(st.district_number) == st.file.split("-", 1)[0]
    assert sorted(files_of) == list(range(1, 244))
    assert {ac: files for ac, files in files_of.items() if len(files) != 1} == {}


@pytest.mark.realdata
def test_real_warnings_account_for_every_skipped_row(real):
    by_reason: collections.Counter[str] = collections.Counter()
    for issue in real["issues"]:
        assert issue.severity == WARNING
        assert issue.line is not None
        by_reason[issue.reason.split(":")[0].split(" (")[0].split(";")[0]] += 1
    assert by_reason == {
        "skipped a row with no polling station number and no name": 503,  # 489 of them in Kaimur
        "skipped a row with a name but no polling station number": 1,
        "skipped a row with only a polling station number": 2,  # class 1
        "empty AC field": 3,
        "unreadable M/A value ''": 24,
        "unreadable M/A value '99'": 1,
        "unreadable M/A value 'Main/Auxiliary'": 1,
        "polling station '220' has no name": 1,
        "polling station '221' has no name": 1,
        "unreadable elector serial '6+45'": 1,
        "unreadable elector serial '6+89'": 1,
    }
    # 503 + 1 + 2 skipped rows, the 5 repeated column-number rows skipped silently, 106,517 stations:
    # together the 107,028 non-blank rows below the headers that SOURCES.md counts.
    assert 503 + 1 + 2 + 5 + len(real["stations"]) == 107_028


def test_it_skips_a_polling_station_number_too_large_for_a_booth(tmp_path):
    stations, issues = parse(write(tmp_path, [row(ps="40001")]))
    assert stations == []
    (issue,) = [i for i in issues if "implausibly large" in i.reason]
    assert issue.line == 4 and issue.field == "Polling Station No."


def test_it_empties_implausible_elector_serials(tmp_path):
    stations, issues = parse(write(tmp_path, [row(frm="1", to="99999999999")]))
    (st,) = stations
    assert (st.elector_from, st.elector_to) == (None, None)
    assert [i.line for i in issues if "implausibly large" in i.reason] == [4]
