"""Streaming parser for the raw CEO Bihar polling-station files (one CSV per district).

The files (``<CEO district no>-<district>.csv``) were typed by 38 district offices and it shows: three
header rows, the column-number row repeated mid-file, continuation rows that carry only elector
ranges, the AC field in a dozen formats, the M/A column in as many spellings, and coordinates as
decimals, DMS, ``26-5727``, ``84..490917``, swapped pairs, or prose. :func:`parse_ceo_file` turns one
file into :class:`RawStation` records, in file order, and reports every row it skips as a WARNING
:class:`~sampark.territory.importers.base.Issue` naming the file, line and field. It never invents a
station (a row needs a polling-station number and something else that makes it a booth) and never
drops one silently.

Coordinates are repaired only where the reading is unambiguous (see :func:`_read_coordinate`); a
point is kept only if it lies in the Bihar bounding box, directly or with latitude and longitude
swapped. Everything else is ``None`` with ``coordinate_quality`` saying why.

No Django models are used: this module is pure parsing. It is on the import's hot path, so the
per-row work is kept lean: repeated cells (AC field, M/A, Yes/No) are looked up in per-file caches,
plain decimals and ASCII text take fast paths, and the slow readers run only for the odd cell.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple
from unicodedata import normalize

from sampark.core import text as text_module
from sampark.core.text import clean
from sampark.territory.importers.base import WARNING, BadFile, Issue, csv_rows

__all__ = ["BIHAR_BBOX", "COORDINATE_QUALITIES", "RawStation", "parse_ceo_file"]

# No state has more than 403 assembly constituencies (UP); a larger leading number is not an AC, and
# an AC in range but absent from the database is the importer's error to report. Polling-station
# numbers fit Booth.number (a small integer); electors per booth are at most a few thousand.
MAX_AC_NUMBER = 999
MAX_PS_NUMBER = 32767
MAX_ELECTOR_SERIAL = 2_000_000_000

BIHAR_BBOX = (
    Decimal("24.2"),
    Decimal("27.6"),
    Decimal("83.3"),
    Decimal("88.3"),
)  # lat_min, lat_max, lon_min, lon_max

COORDINATE_QUALITIES = ("ok", "dms", "repaired", "swapped", "out_of_area", "unparseable", "missing")


class RawStation(NamedTuple):
    """One polling station as published, every field parsed. A NamedTuple: immutable, and built in
    well under a microsecond (a frozen dataclass cost ~5 µs a row, a third of the parse)."""

    file: str  # file name, e.g. "1-Paschim Champaran.csv"
    line: int  # physical line where the record starts (1-based, header lines count)
    district_number: int  # CEO district number from the file name
    district_name: str  # district name from the file name
    ac_number: int  # 1..MAX_AC_NUMBER, leading integer of the AC field (forward-filled if the field is empty)
    ac_field_raw: str
    ps_number: int
    ps_suffix: str  # upper-case letters after the number ("72.A" -> "A"), "" if none
    ps_raw: str
    kind: str  # "M" (main) or "A" (auxiliary)
    kind_raw: str
    name: str
    elector_from: int | None
    elector_to: int | None
    latitude: Decimal | None  # 6 decimal places; None unless trusted
    longitude: Decimal | None
    coordinate_quality: str  # one of COORDINATE_QUALITIES
    coordinate_raw: str  # f"{lat_raw},{lon_raw}" as published (cleaned), "" if both empty
    electricity: bool | None
    toilet: bool | None
    ramp: bool | None


# --- header -------------------------------------------------------------------------------------

# (key, label): the key must appear as whole words in the normalised column name; the label is
# what the CEO files call the column (used in messages and as Issue.field).
_COLUMNS = (
    ("ac", "ac no", "AC No. & Name"),
    ("ps", "polling station no", "Polling Station No."),
    ("name", "polling station name", "Polling Station Name"),
    ("kind", "main/auxiliary", "Main/Auxiliary Polling Station (M/A)"),
    ("from", "elector serial no from", "Elector Serial No. From"),
    ("to", "elector serial no to", "Elector Serial No. To"),
    ("lat", "latitude", "Latitude of Polling Station Building"),
    ("lon", "longitude", "Longitude of Polling Station Building"),
    ("electricity", "electricity", "Electricity facility at PS (Yes/No)"),
    ("toilet", "toilet", "Toilet Facility at PS (Yes/No)"),
    ("ramp", "ramp", "Ramp Facility at PS (Yes/No)"),
)
_LABEL = {name: label for name, _, label in _COLUMNS}
_EXPECTED = ", ".join(f'"{label}"' for _, _, label in _COLUMNS)
_HEADER_JUNK = re.compile(r"[^a-z0-9/]+")
_FILE_NAME = re.compile(r"(\d+)\s*-\s*(.*\S)\s*\.csv", re.IGNORECASE)


def _header_key(cell: str) -> str:
    return f" {_HEADER_JUNK.sub(' ', cell.lower()).strip()} "


def _column_positions(cells: list[str]) -> tuple[dict[str, int], list[str]]:
    """Positions of the expected columns in a candidate column-name row, and the labels missing."""
    keys = [_header_key(c) for c in cells]
    positions: dict[str, int] = {}
    missing: list[str] = []
    for name, key, label in _COLUMNS:
        needle = f" {key} "
        for i, k in enumerate(keys):
            if needle in k and i not in positions.values():
                positions[name] = i
                break
        else:
            missing.append(label)
    return positions, missing


# --- cells --------------------------------------------------------------------------------------


# The characters clean() deletes, found by one C scan: its per-character str.translate was most of
# the cost of the 22,000 Devanagari names, and only about 1,300 of them hold one.
_INVISIBLE = re.compile("[" + "".join(map(chr, text_module._INVISIBLE)) + "]")


def _clean(value: str) -> str:
    """:func:`sampark.core.text.clean`, with fast paths: for ASCII text (NFC and the invisible
    characters it removes are all non-ASCII, so only the whitespace collapsing applies) and for text
    without an invisible character (NFC, then the same collapsing: ``\\s`` and ``str.split`` agree on
    what is whitespace)."""
    if value.isascii():
        return " ".join(value.split())
    if _INVISIBLE.search(value):
        return clean(value)
    return " ".join(normalize("NFC", value).split())


_AC_NUMBER = re.compile(r"(\d{1,4})(?!\d)")
# "001", "1A", "72.A", "109(A)", "1 (A)", "116a", "9-A", "223'", "]101", "221]", "230."
_PS_NUMBER = re.compile(
    r"[\]\[)('`.\s]*(\d{1,5})\s*[.\-]?\s*(?:\(\s*([A-Za-z]{1,2})\s*\)|([A-Za-z]{1,2}))?[\]\[)('`.\s]*"
)


class _AcFields(dict[str, tuple[str, int | None]]):
    """raw AC field -> (cleaned field, its leading number or None); the field repeats on every row."""

    def __missing__(self, raw: str) -> tuple[str, int | None]:
        text = _clean(raw)
        m = _AC_NUMBER.match(text)
        value = self[raw] = (text, int(m[1]) if m else None)
        return value


class _Kinds(dict[str, tuple[str | None, str]]):
    """raw M/A cell -> ("M"/"A" or None if unreadable, cleaned cell)."""

    def __missing__(self, raw: str) -> tuple[str | None, str]:
        text = _clean(raw)
        word = text.lower()
        kind = None
        if word in ("m", "main", "man"):
            kind = "M"
        elif word == "a" or (word.startswith("au") and word.isalpha()):
            kind = "A"  # Auxiliary, AUXLIARY, Auxillary, Auxailiary, ...
        value = self[raw] = (kind, text)
        return value


class _YesNo(dict[str, bool | None]):
    """raw facility cell -> True (Yes/YES/yes/Y), False (No/NO/no/N) or None (empty, anything else)."""

    def __missing__(self, raw: str) -> bool | None:
        value = self[raw] = {"yes": True, "y": True, "no": False, "n": False}.get(raw.strip().lower())
        return value


_ELECTOR_TRIM = "`'\\&,;.:"
_ELECTOR_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+|\d+(?:\.0+)?")  # "1,007", "696.00"
_PLACEHOLDER = re.compile(r"[-.\s]*")


def _elector(raw: str) -> tuple[int | None, bool]:
    """(value, readable) for an elector serial cell that is not a plain number.

    A cell may list several ranges ("1\n 1066\n 1228", "535\n 1111 to1016"): the first is the booth's
    own range and the rest are later supplements, so the first number is taken. "-", "----" and "."
    are placeholders (None, readable); anything else unreadable is None and reported.
    """
    parts = raw.split()
    if not parts:
        return None, True
    token = parts[0].strip(_ELECTOR_TRIM)
    if _ELECTOR_NUMBER.fullmatch(token):
        return int(token.replace(",", "").split(".")[0]), True
    return None, bool(_PLACEHOLDER.fullmatch(raw))


# --- coordinates --------------------------------------------------------------------------------

_OK, _REPAIRED, _DMS = 0, 1, 2  # how a value was read; a pair is as bad as its worse half
_QUALITY = ("ok", "repaired", "dms")  # precedence: swapped > dms > repaired > ok

_PLAIN = re.compile(r"-?\d+(?:\.\d+)?")
# Both cells plain, tested in one call on the "lat,lon" text that is kept anyway: neither group can
# hold a comma, so this matches exactly when each cell on its own is _PLAIN.
_PLAIN_PAIR = re.compile(r"-?\d+(?:\.\d+)?,-?\d+(?:\.\d+)?")
_PREFIX = r"(?:(?:lat(?:itude)?|lon(?:g(?:itude)?)?|la|lo)\s*[-:.]?\s*)?(?:[ne](?![a-z])\s*[-:.]?\s*)?"
_DEG = "°º˚⁰"
# A decimal with a degree mark, N/E or a label: "25.7313ºN", "27.15000 N", "LA-25.3018", "84.97711235e".
_DECORATED = re.compile(rf"{_PREFIX}(\d+(?:\.\d+)?)\s*[{_DEG}]?\s*[ne]?", re.IGNORECASE)
# The same with stray punctuation around it: "25.613785,", "86.4866254-", "24.862380å", ".26.263".
_STRAY = re.compile(rf"[,;'\"`.\s]*{_PREFIX}(\d+\.\d+)\s*[{_DEG}]?\s*[ne]?[,;'\"`.\-å\s]*", re.IGNORECASE)
_HYPHEN_DECIMAL = re.compile(r"(\d{2})[-_](\d+)")  # "26-5727" -> 26.5727
_DOUBLE_DOT = re.compile(r"(\d+)\.\.(\d+)")  # "84..490917" -> 84.490917
# Degrees, minutes[, seconds] with the marks the offices used: 26⁰48'0"N, 25° 9'59.16"N, 25o29'39,
# 24⁰37 ᴵ03ᴵᴵ, 25°28ʹ22ʺ, N 025º24'52", 26 46'57.10224, Long- E 87°33'37.49''.
_MINUTE = "'’′ʹ´ᴵ"
_SECOND = "(?:\"|”|″|ʺ|''|’’|′′|ʹʹ|ᴵᴵ|'|’)"
_DMS_RE = re.compile(
    rf"{_PREFIX}(\d{{1,3}})\s*(?:[{_DEG}o]|\s|')\s*(\d{{1,2}}(?:\.\d+)?)\s*[{_MINUTE}]"
    rf"\s*(?:(\d{{1,2}}(?:\.\d+)?)\s*{_SECOND}?)?\s*[ne]?",
    re.IGNORECASE,
)
# Both numbers in one cell (copied into both columns): "25.62707ºN - 86.02251ºE", "25.61894 N 86.06068 E".
_PAIR_IN_ONE = re.compile(rf"(\d+\.\d+)\s*[{_DEG}]?\s*N\s*[-,/]?\s*(\d+\.\d+)\s*[{_DEG}]?\s*E", re.IGNORECASE)


def _read_coordinate(text: str) -> tuple[float, int] | None:
    """One cleaned, non-empty coordinate cell -> (degrees, how it was read), or None if unreadable.

    Nothing here guesses a digit or a decimal point: a decimal, bare or with a degree mark, N/E or a
    Lat/Long label, is ``_OK``; the same with stray punctuation around it, a hyphen or underscore for
    the decimal point ("26-5727") or a doubled point ("84..490917") is ``_REPAIRED``; degrees and
    minutes (and seconds) below 60 are ``_DMS``. "261648.29N" (packed DMS), "26.60'52''" (a point for the
    degree mark), "26°77'52\"" (77 minutes) and the like are unreadable.
    """
    if _PLAIN.fullmatch(text):
        return float(text), _OK
    m = _DECORATED.fullmatch(text)
    if m:
        return float(m[1]), _OK
    m = _HYPHEN_DECIMAL.fullmatch(text) or _DOUBLE_DOT.fullmatch(text)
    if m:
        return float(f"{m[1]}.{m[2]}"), _REPAIRED
    m = _STRAY.fullmatch(text)
    if m:
        return float(m[1]), _REPAIRED
    m = _DMS_RE.fullmatch(text)
    if m:
        degrees, minutes, seconds = int(m[1]), float(m[2]), float(m[3] or 0)
        # Decimal minutes are fine ("26°32.5'"), but not followed by seconds as well.
        if degrees <= 180 and minutes < 60 and seconds < 60 and not (m[3] and "." in m[2]):
            return degrees + minutes / 60 + seconds / 3600, _DMS
    return None


def _coordinates(
    lat_raw: str, lon_raw: str, bbox: tuple[float, float, float, float]
) -> tuple[Decimal | None, Decimal | None, str, str]:
    """(latitude, longitude, quality, coordinate_raw) from one row's two cells as published.

    Values are parsed as floats and quantised once, to 6 places, on the way out.
    """
    raw = f"{lat_raw},{lon_raw}"
    if _PLAIN_PAIR.fullmatch(raw):  # fast path: ~85% of rows
        lat, lon, how = float(lat_raw), float(lon_raw), _OK
    else:
        lat_text, lon_text = _clean(lat_raw), _clean(lon_raw)
        if not lat_text and not lon_text:
            return None, None, "missing", ""
        raw = f"{lat_text},{lon_text}"
        both = None
        if lat_text == lon_text or not (lat_text and lon_text):
            both = _PAIR_IN_ONE.fullmatch(lat_text or lon_text)
        if both:
            lat, lon, how = float(both[1]), float(both[2]), _REPAIRED
        else:
            read_lat = _read_coordinate(lat_text) if lat_text else None
            read_lon = _read_coordinate(lon_text) if lon_text else None
            if read_lat is None or read_lon is None:
                return None, None, "unparseable", raw
            (lat, lat_how), (lon, lon_how) = read_lat, read_lon
            how = max(lat_how, lon_how)
    lat_min, lat_max, lon_min, lon_max = bbox
    if lat_min <= lat <= lat_max and lon_min <= lon <= lon_max:
        quality = _QUALITY[how]
    elif lat_min <= lon <= lat_max and lon_min <= lat <= lon_max:
        lat, lon = lon, lat
        quality = "swapped"
    else:
        return None, None, "out_of_area", raw
    return Decimal(f"{lat:.6f}"), Decimal(f"{lon:.6f}"), quality, raw


# --- the parser ---------------------------------------------------------------------------------


def parse_ceo_file(
    path: Path, *, bbox: tuple[Decimal, Decimal, Decimal, Decimal] = BIHAR_BBOX
) -> Iterator[RawStation | Issue]:
    """Stream one raw CEO district file: yield every real polling station in file order, and an Issue
    (WARNING) for every junk row skipped (with file, line, field, reason). Raise BadFile for a file that
    is not a CEO polling-station file at all (wrong/missing header -> specific reason naming the expected
    columns), an empty file, or a file name that does not look like '<number>-<district>.csv'.

    The file name and the header are checked when this is called; the rows are read as the result is
    iterated, so a bad byte or an unterminated quote further down raises BadFile from the iteration.
    """
    path = Path(path)
    name = path.name
    m = _FILE_NAME.fullmatch(name)
    if not m or not int(m[1]):
        raise BadFile(
            Issue(
                name,
                None,
                "",
                "the file name does not look like '<CEO district number>-<district>.csv' "
                "(e.g. '1-Paschim Champaran.csv')",
            )
        )
    district_number, district_name = int(m[1]), clean(m[2])
    rows = csv_rows(path)
    positions, columns = _read_header(name, rows)
    float_bbox = (float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3]))
    return _stations(name, district_number, district_name, rows, positions, columns, float_bbox)


def _read_header(name: str, rows: Iterator[tuple[int, list[str]]]) -> tuple[dict[str, int], int]:
    """Consume the title and column-name rows; return the column positions and the number of columns.

    The column names must come first or after one title row; blank lines before them are ignored.
    """
    best: tuple[int, int, list[str], list[str]] | None = None  # (number missing, line, missing, cells)
    seen = 0
    for line, cells in rows:
        if not any(c.strip() for c in cells):
            continue
        positions, missing = _column_positions(cells)
        if not missing:
            return positions, len(cells)
        if best is None or len(missing) < best[0]:
            best = (len(missing), line, missing, cells)
        seen += 1
        if seen == 2:
            break
    if best is None:
        raise BadFile(Issue(name, None, "", "the file is empty"))
    _, line, missing, cells = best
    found = ", ".join(f'"{clean(c)}"' for c in cells if c.strip())
    raise BadFile(
        Issue(
            name,
            line,
            "header",
            f"not a CEO polling-station file: expected a row of column names "
            f"{_EXPECTED}; missing {', '.join(missing)}; found {found}",
        )
    )


def _stations(
    name: str,
    district_number: int,
    district_name: str,
    rows: Iterator[tuple[int, list[str]]],
    positions: dict[str, int],
    columns: int,
    bbox: tuple[float, float, float, float],
) -> Iterator[RawStation | Issue]:
    i_ac, i_ps, i_name, i_kind = positions["ac"], positions["ps"], positions["name"], positions["kind"]
    i_from, i_to, i_lat, i_lon = positions["from"], positions["to"], positions["lat"], positions["lon"]
    i_power, i_toilet, i_ramp = positions["electricity"], positions["toilet"], positions["ramp"]
    width = max(positions.values()) + 1
    ac_fields, kinds, yes_no = _AcFields(), _Kinds(), _YesNo()
    # (AC, PS number) of the stations yielded so far, packed in one int (PS <= MAX_PS_NUMBER < 2**16):
    # hashing an int is cheaper than building and hashing a tuple on every row.
    seen_ps: set[int] = set()
    new = tuple.__new__  # RawStation's generated __new__ is a Python call with 21 arguments; skip it
    last_ac: int | None = None
    last_lat = last_lon = None
    latitude = longitude = None
    quality = coordinate_raw = ""
    count = 0

    def warn(line: int, column: str, reason: str) -> Issue:
        return Issue(name, line, _LABEL.get(column, column), reason, WARNING)

    for line, cells in rows:
        if len(cells) != width:
            if not "".join(cells).strip():
                continue  # blank row
            if len(cells) > columns and any(c.strip() for c in cells[columns:]):
                yield warn(
                    line,
                    "",
                    f"skipped a row of {len(cells)} cells where {columns} were expected "
                    f"(an unquoted comma?): {_describe(cells, positions)}",
                )
                continue
            cells = cells[:width] + [""] * (width - len(cells))

        # The polling station number: a row without one is never a station.
        ps_raw = cells[i_ps]
        if ps_raw.isdecimal():
            ps_text, ps_number, ps_suffix = ps_raw, int(ps_raw), ""
            if ps_number == i_ps + 1 and _is_column_numbers(cells):
                continue  # the column-number row "1,2,...,11", repeated mid-file
        elif not ps_raw.strip():
            if cells[i_name].strip():
                yield warn(
                    line,
                    "ps",
                    "skipped a row with a name but no polling station number "
                    f"(name {_clean(cells[i_name])!r})",
                )
            elif "".join(cells).strip():
                ac_number = ac_fields[cells[i_ac]][1]
                if ac_number is not None and 1 <= ac_number <= MAX_AC_NUMBER:
                    last_ac = ac_number  # an AC heading row ("75-SAHARSA AC") opens a section
                yield warn(
                    line,
                    "",
                    "skipped a row with no polling station number and no name: "
                    f"{_describe(cells, positions)}",
                )
            continue
        else:
            ps_text = _clean(ps_raw)
            pm = _PS_NUMBER.fullmatch(ps_text)
            if not pm:
                yield warn(
                    line, "ps", f"skipped a row whose polling station number {ps_text!r} cannot be read"
                )
                continue
            ps_number, ps_suffix = int(pm[1]), (pm[2] or pm[3] or "").upper()
            if ps_number == i_ps + 1 and _is_column_numbers(cells):
                continue

        station_name = cells[i_name]  # _clean's ASCII path, inlined: one call fewer on most rows
        station_name = " ".join(station_name.split()) if station_name.isascii() else _clean(station_name)
        kind_raw, from_raw, to_raw = cells[i_kind], cells[i_from], cells[i_to]
        lat_raw, lon_raw = cells[i_lat], cells[i_lon]
        if not station_name and not any(v.strip() for v in (kind_raw, from_raw, to_raw, lat_raw, lon_raw)):
            yield warn(
                line,
                "name",
                f"skipped a row with only a polling station number ({ps_text!r}) and no "
                "name or other booth data",
            )
            continue
        if not ps_number:
            yield warn(line, "ps", f"skipped a row whose polling station number {ps_text!r} is 0")
            continue
        if ps_number > MAX_PS_NUMBER:
            yield warn(
                line, "ps", f"skipped a row whose polling station number {ps_text!r} is implausibly large"
            )
            continue

        # The assembly constituency, forward-filled from the row above when the field is empty.
        ac_text, ac_number = ac_fields[cells[i_ac]]
        if ac_number is None or not 1 <= ac_number <= MAX_AC_NUMBER:
            if ac_text:
                problem = (
                    "does not start with a number"
                    if ac_number is None
                    else f"is not an AC number (1..{MAX_AC_NUMBER})"
                )
                yield warn(line, "ac", f"skipped a row whose AC field {ac_text!r} {problem}")
                continue
            if last_ac is None:
                yield warn(line, "ac", "skipped a row with an empty AC field and no AC above it")
                continue
            ac_number = last_ac
            yield warn(line, "ac", f"empty AC field; took AC {ac_number} from the row above")
        last_ac = ac_number

        # Main or auxiliary; when unreadable, inferred from the numbering.
        kind, kind_text = kinds[kind_raw]
        key = ac_number << 16 | ps_number
        if kind is None:
            if key in seen_ps:
                kind, why = "A", "auxiliary: an earlier station of this AC has"
            else:
                kind, why = "M", "main: no earlier station of this AC has"
            yield warn(line, "kind", f"unreadable M/A value {kind_text!r}; inferred {why} number {ps_number}")
        seen_ps.add(key)

        if not station_name:
            yield warn(line, "name", f"polling station {ps_text!r} has no name")

        elector_from: int | None
        elector_to: int | None
        if from_raw.isdecimal():
            elector_from = int(from_raw)
        else:
            elector_from, readable = _elector(from_raw)
            if not readable:
                yield warn(line, "from", f"unreadable elector serial {_clean(from_raw)!r}; left empty")
        if to_raw.isdecimal():
            elector_to = int(to_raw)
        else:
            elector_to, readable = _elector(to_raw)
            if not readable:
                yield warn(line, "to", f"unreadable elector serial {_clean(to_raw)!r}; left empty")
        if (elector_from or 0) > MAX_ELECTOR_SERIAL or (elector_to or 0) > MAX_ELECTOR_SERIAL:
            yield warn(line, "from", "implausibly large elector serial; both left empty")
            elector_from = elector_to = None

        # Main and auxiliary booths in one building share coordinates: reuse the row above's reading.
        if lat_raw != last_lat or lon_raw != last_lon:
            last_lat, last_lon = lat_raw, lon_raw
            if lat_raw or lon_raw:
                latitude, longitude, quality, coordinate_raw = _coordinates(lat_raw, lon_raw, bbox)
            else:
                latitude = longitude = None
                quality, coordinate_raw = "missing", ""

        count += 1
        yield new(
            RawStation,
            (
                name,
                line,
                district_number,
                district_name,
                ac_number,
                ac_text,
                ps_number,
                ps_suffix,
                ps_text,
                kind,
                kind_text,
                station_name,
                elector_from,
                elector_to,
                latitude,
                longitude,
                quality,
                coordinate_raw,
                yes_no[cells[i_power]],
                yes_no[cells[i_toilet]],
                yes_no[cells[i_ramp]],
            ),
        )
    if not count:
        yield Issue(name, None, "", "no polling stations below the header", WARNING)


def _is_column_numbers(cells: list[str]) -> bool:
    return all(c.strip() == str(i) for i, c in enumerate(cells, start=1))


def _describe(cells: list[str], positions: dict[str, int]) -> str:
    """What a skipped row holds, for its warning: "Elector Serial No. From='1190', ..."."""
    parts = [
        f"{_LABEL[c]}={_clean(cells[i])!r}"
        for c, i in positions.items()
        if i < len(cells) and cells[i].strip()
    ]
    return ", ".join(parts)
