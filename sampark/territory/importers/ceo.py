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

No Django models are used: this module is pure parsing, and runs at close to ``csv`` speed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from sampark.core.text import clean
from sampark.territory.importers.base import WARNING, BadFile, Issue, csv_rows

__all__ = ["BIHAR_BBOX", "COORDINATE_QUALITIES", "RawStation", "parse_ceo_file"]

BIHAR_BBOX = (
    Decimal("24.2"),
    Decimal("27.6"),
    Decimal("83.3"),
    Decimal("88.3"),
)  # lat_min, lat_max, lon_min, lon_max

COORDINATE_QUALITIES = ("ok", "dms", "repaired", "swapped", "out_of_area", "unparseable", "missing")


@dataclass(frozen=True, slots=True)
class RawStation:
    file: str  # file name, e.g. "1-Paschim Champaran.csv"
    line: int  # physical line where the record starts (1-based, header lines count)
    district_number: int  # CEO district number from the file name
    district_name: str  # district name from the file name
    ac_number: int  # 1..243, leading integer of the AC field (forward-filled if the field is empty)
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

_AC_NUMBER = re.compile(r"(\d{1,4})(?!\d)")
_PS_NUMBER = re.compile(
    r"[\]\[)('`.\s]*(\d{1,5})\s*[.\-]?\s*(?:\(\s*([A-Za-z]{1,2})\s*\)|([A-Za-z]{1,2}))?[\]\[)('`.\s]*"
)


def _kind(raw: str) -> str | None:
    """'M'/'A' for the spellings of Main/Auxiliary seen in the files, None if unreadable."""
    value = raw.strip().lower()
    if value in ("m", "main", "man"):
        return "M"
    if value == "a" or (value.startswith("au") and value.isalpha()):
        return "A"  # Auxiliary, AUXLIARY, Auxillary, Auxailiary, ...
    return None


_YES_NO = {"yes": True, "y": True, "no": False, "n": False}


def _yes_no(raw: str, cache: dict[str, bool | None]) -> bool | None:
    try:
        return cache[raw]
    except KeyError:
        value = cache[raw] = _YES_NO.get(raw.strip().lower())
        return value


_ELECTOR_TRIM = "`'\\&,;.:"
_ELECTOR_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+|\d+(?:\.0+)?")
_PLACEHOLDER = re.compile(r"[-.\s]*")


def _elector(raw: str) -> tuple[int | None, bool]:
    """(value, readable). A cell may list several ranges ("1\\n 1066"): the first one is the booth's
    own range, the rest are supplements, so the first number is taken."""
    if raw.isdigit():
        return int(raw), True
    parts = raw.split()
    if not parts:
        return None, True
    token = parts[0].strip(_ELECTOR_TRIM)
    if _ELECTOR_NUMBER.fullmatch(token):
        return int(token.replace(",", "").split(".")[0]), True
    return None, bool(_PLACEHOLDER.fullmatch(raw))  # "-", "----", "." are placeholders, not errors


# --- coordinates --------------------------------------------------------------------------------

_OK, _REPAIRED, _DMS = 0, 1, 2
_QUALITY = ("ok", "repaired", "dms")

_PLAIN = re.compile(r"-?\d+(?:\.\d+)?")
_LABEL_PREFIX = r"(?:(?:lat(?:itude)?|lon(?:g(?:itude)?)?|la|lo)\s*[-:.]?\s*)?(?:[ne](?![a-z])\s*[-:.]?\s*)?"
_DEG = "°º˚⁰"
# A decimal, possibly labelled: "25.7313ºN", "27.15000 N", "N 25.1", "LA-25.3018", "84.97711235e".
_DECORATED = re.compile(rf"{_LABEL_PREFIX}(\d+\.\d+)\s*[{_DEG}]?\s*[ne]?", re.IGNORECASE)
# The same with stray punctuation around it: "25.613785,", "86.4866254-", "24.862380å", ".26.263".
_STRAY = re.compile(
    rf"[,;'\"`.\s]*{_LABEL_PREFIX}(\d+\.\d+)\s*[{_DEG}]?\s*[ne]?[,;'\"`.\-å\s]*", re.IGNORECASE
)
_HYPHEN_DECIMAL = re.compile(r"(\d{2})[-_](\d+)")  # "26-5727" -> 26.5727
_DOUBLE_DOT = re.compile(r"(\d+)\.\.(\d+)")  # "84..490917" -> 84.490917
_MINUTE = "'’′ʹ´ᴵ"
_SECOND = "(?:\"|”|″|ʺ|''|’’|′′|ʹʹ|ᴵᴵ|'|’)"
# Degrees, minutes[, seconds] with any of the marks the offices used, optional label and N/E.
_DMS_RE = re.compile(
    rf"{_LABEL_PREFIX}(\d{{1,3}})\s*(?:[{_DEG}o]|\s|')\s*(\d{{1,2}}(?:\.\d+)?)\s*[{_MINUTE}]"
    rf"\s*(?:(\d{{1,2}}(?:\.\d+)?)\s*{_SECOND}?)?\s*[ne]?",
    re.IGNORECASE,
)
# Both numbers in one cell: "25.62707ºN - 86.02251ºE", "25.61894 N 86.06068 E".
_PAIR_IN_ONE = re.compile(rf"(\d+\.\d+)\s*[{_DEG}]?\s*N\s*[-,/]?\s*(\d+\.\d+)\s*[{_DEG}]?\s*E", re.IGNORECASE)

Reading = tuple[float, int, str | None]  # (degrees, _OK/_REPAIRED/_DMS, decimal digits if a decimal)


def _read_coordinate(text: str) -> Reading | None:
    """One cleaned, non-empty coordinate cell -> its reading, or None if it cannot be read.

    Readings, none of which guesses a digit: a decimal, optionally with a degree mark, N/E or a
    Lat/Long label ("ok"); the same with stray punctuation around it, a hyphen or underscore in place
    of the decimal point ("26-5727") or a doubled point ("84..490917") ("repaired");
    degrees-minutes[-seconds] with minutes and seconds below 60 ("dms").
    """
    if _PLAIN.fullmatch(text):
        return float(text), _OK, text
    m = _DECORATED.fullmatch(text)
    if m:
        return float(m[1]), _OK, m[1]
    m = _HYPHEN_DECIMAL.fullmatch(text) or _DOUBLE_DOT.fullmatch(text)
    if m:
        digits = f"{m[1]}.{m[2]}"
        return float(digits), _REPAIRED, digits
    m = _STRAY.fullmatch(text)
    if m:
        return float(m[1]), _REPAIRED, m[1]
    m = _DMS_RE.fullmatch(text)
    if m:
        degrees, minutes, seconds = int(m[1]), float(m[2]), float(m[3] or 0)
        # Decimal minutes are fine ("26°32.5'"), but not followed by seconds too.
        if degrees <= 180 and minutes < 60 and seconds < 60 and not (m[3] and "." in m[2]):
            return degrees + minutes / 60 + seconds / 3600, _DMS, None
    return None


_Q6 = Decimal("0.000001")


def _decimal(reading: Reading) -> Decimal:
    """6 decimal places: a published decimal is rounded on its own digits (exact), a computed one
    (DMS) through a 6-place string."""
    value, _, digits = reading
    if digits is not None:
        return Decimal(digits).quantize(_Q6, ROUND_HALF_UP)
    return Decimal(f"{value:.6f}")


def _coordinates(
    lat_raw: str, lon_raw: str, bbox: tuple[float, float, float, float]
) -> tuple[Decimal | None, Decimal | None, str, str]:
    """(latitude, longitude, quality, coordinate_raw) from one row's two cells as published."""
    if _PLAIN.fullmatch(lat_raw) and _PLAIN.fullmatch(lon_raw):  # fast path: most rows
        raw = f"{lat_raw},{lon_raw}"
        lat: Reading = (float(lat_raw), _OK, lat_raw)
        lon: Reading = (float(lon_raw), _OK, lon_raw)
    else:
        lat_text, lon_text = clean(lat_raw), clean(lon_raw)
        if not lat_text and not lon_text:
            return None, None, "missing", ""
        raw = f"{lat_text},{lon_text}"
        both = (
            _PAIR_IN_ONE.fullmatch(lat_text or lon_text)
            if lat_text == lon_text or not (lat_text and lon_text)
            else None
        )
        if both:
            lat, lon = (float(both[1]), _REPAIRED, both[1]), (float(both[2]), _REPAIRED, both[2])
        else:
            read_lat = _read_coordinate(lat_text) if lat_text else None
            read_lon = _read_coordinate(lon_text) if lon_text else None
            if read_lat is None or read_lon is None:
                return None, None, "unparseable", raw
            lat, lon = read_lat, read_lon
    lat_min, lat_max, lon_min, lon_max = bbox
    if lat_min <= lat[0] <= lat_max and lon_min <= lon[0] <= lon_max:
        quality = _QUALITY[max(lat[1], lon[1])]
    elif lat_min <= lon[0] <= lat_max and lon_min <= lat[0] <= lon_max:
        lat, lon = lon, lat
        quality = "swapped"
    else:
        return None, None, "out_of_area", raw
    return _decimal(lat), _decimal(lon), quality, raw


# --- the parser ---------------------------------------------------------------------------------


def parse_ceo_file(
    path: Path, *, bbox: tuple[Decimal, Decimal, Decimal, Decimal] = BIHAR_BBOX
) -> Iterator[RawStation | Issue]:
    """Stream one raw CEO district file: yield every real polling station in file order, and an Issue
    (WARNING) for every junk row skipped (with file, line, field, reason). Raise BadFile for a file that
    is not a CEO polling-station file at all (wrong/missing header -> specific reason naming the expected
    columns), an empty file, or a file name that does not look like '<number>-<district>.csv'.

    The file name and header are checked when this is called; the rows are read as the result is
    iterated (a bad byte or a truncated quote further down raises BadFile then).
    """
    path = Path(path)
    name = path.name
    m = _FILE_NAME.fullmatch(name)
    if not m or not clean(m[2]):
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
    """Consume the title and column-name rows; return the column positions and the number of
    columns, or raise BadFile."""
    best: tuple[int, int, list[str], list[str]] | None = None  # (missing count, line, missing, cells)
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
        if seen == 2:  # a title row may precede the column names, nothing else
            break
    if best is None:
        raise BadFile(Issue(name, None, "", "the file is empty"))
    _, line, missing, cells = best
    found = ", ".join(f'"{clean(c)}"' for c in cells if c.strip()) or "nothing"
    raise BadFile(
        Issue(
            name,
            line,
            "header",
            f"not a CEO polling-station file: the column-name row must have the "
            f"columns {_EXPECTED}; missing {', '.join(missing)}; found {found}",
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
    ac_cache: dict[str, tuple[str, int | None]] = {}
    kind_cache: dict[str, tuple[str | None, str]] = {}
    yes_no: dict[str, bool | None] = {}
    seen_ps: set[tuple[int, int]] = set()  # (AC, PS number) of the stations yielded so far
    last_ac: int | None = None
    count = 0

    def warn(line: int, column: str, reason: str) -> Issue:
        return Issue(name, line, _LABEL.get(column, column), reason, WARNING)

    for line, cells in rows:
        if len(cells) != width:
            if not any(c.strip() for c in cells):
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
        ps_raw = cells[i_ps]
        name_raw = cells[i_name]

        # Polling station number: rows without one are never stations.
        if ps_raw.isdigit() and ps_raw.isascii():
            ps_text, ps_number, ps_suffix = ps_raw, int(ps_raw), ""
            if ps_number == i_ps + 1 and _is_column_numbers(cells):
                continue  # the column-number row "1,2,...,11", repeated mid-file
        elif not ps_raw.strip():
            if name_raw.strip():
                yield warn(
                    line,
                    "ps",
                    f"skipped a row with a name but no polling station number (name {clean(name_raw)!r})",
                )
                continue
            if not any(c.strip() for c in cells):
                continue  # blank row
            ac_number = _ac_field(cells[i_ac], ac_cache)[1]
            if ac_number is not None and 1 <= ac_number <= 243:
                last_ac = ac_number  # an AC heading row ("75-SAHARSA AC") starts a section
            yield warn(
                line,
                "",
                f"skipped a row with no polling station number and no name: {_describe(cells, positions)}",
            )
            continue
        else:
            ps_text = clean(ps_raw)
            pm = _PS_NUMBER.fullmatch(ps_text)
            if not pm or not int(pm[1]):
                yield warn(
                    line, "ps", f"skipped a row whose polling station number {ps_text!r} cannot be read"
                )
                continue
            ps_number, ps_suffix = int(pm[1]), (pm[2] or pm[3] or "").upper()
            if ps_text == str(i_ps + 1) and _is_column_numbers(cells):
                continue

        station_name = clean(name_raw)
        kind_raw, from_raw, to_raw = cells[i_kind], cells[i_from], cells[i_to]
        lat_raw, lon_raw = cells[i_lat], cells[i_lon]
        if not station_name and not any(v.strip() for v in (kind_raw, from_raw, to_raw, lat_raw, lon_raw)):
            yield warn(
                line,
                "name",
                f"skipped a row with only a polling station number ({ps_text!r}): "
                "no name and no other booth data",
            )
            continue
        if ps_number == 0:
            yield warn(line, "ps", f"skipped a row whose polling station number {ps_text!r} is 0")
            continue

        # Assembly constituency, forward-filled from the row above when the field is empty.
        ac_text, ac_number = _ac_field(cells[i_ac], ac_cache)
        if not ac_text:
            if last_ac is None:
                yield warn(line, "ac", "skipped a row with an empty AC field and no AC above it")
                continue
            ac_number = last_ac
            yield warn(line, "ac", f"empty AC field; took AC {ac_number} from the row above")
        elif ac_number is None:
            yield warn(line, "ac", f"skipped a row whose AC field {ac_text!r} does not start with a number")
            continue
        elif not 1 <= ac_number <= 243:
            yield warn(
                line, "ac", f"skipped a row whose AC number {ac_number} (from {ac_text!r}) is not in 1..243"
            )
            continue
        last_ac = ac_number

        # Main or auxiliary; inferred from the numbering when unreadable.
        try:
            kind, kind_text = kind_cache[kind_raw]
        except KeyError:
            kind_text = clean(kind_raw)
            kind = _kind(kind_text)
            kind_cache[kind_raw] = kind, kind_text
        key = (ac_number, ps_number)
        if kind is None:
            if key in seen_ps:
                kind, why = "A", "an earlier station of this AC has"
            else:
                kind, why = "M", "no earlier station of this AC has"
            yield warn(
                line,
                "kind",
                f"unreadable M/A value {kind_text!r}; inferred "
                f"{'auxiliary' if kind == 'A' else 'main'} ({why} number {ps_number})",
            )
        seen_ps.add(key)

        if not station_name:
            yield warn(line, "name", f"polling station {ps_text!r} has no name")

        elector_from, readable = _elector(from_raw)
        if not readable:
            yield warn(line, "from", f"unreadable elector serial {clean(from_raw)!r}; left empty")
        elector_to, readable = _elector(to_raw)
        if not readable:
            yield warn(line, "to", f"unreadable elector serial {clean(to_raw)!r}; left empty")

        if lat_raw or lon_raw:
            latitude, longitude, quality, coordinate_raw = _coordinates(lat_raw, lon_raw, bbox)
        else:
            latitude = longitude = None
            quality, coordinate_raw = "missing", ""

        count += 1
        yield RawStation(
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
            _yes_no(cells[i_power], yes_no),
            _yes_no(cells[i_toilet], yes_no),
            _yes_no(cells[i_ramp], yes_no),
        )
    if not count:
        yield Issue(name, None, "", "no polling stations below the header", WARNING)


def _ac_field(raw: str, cache: dict[str, tuple[str, int | None]]) -> tuple[str, int | None]:
    """(cleaned AC field, its leading number or None); the field repeats, so it is cached."""
    try:
        return cache[raw]
    except KeyError:
        text = clean(raw)
        m = _AC_NUMBER.match(text)
        result = cache[raw] = (text, int(m[1]) if m else None)
        return result


def _is_column_numbers(cells: list[str]) -> bool:
    return all(c.strip() == str(i) for i, c in enumerate(cells, start=1))


def _describe(cells: list[str], positions: dict[str, int]) -> str:
    """What a skipped row holds, for its warning: "Elector Serial No. From='1190', ..."."""
    parts = [
        f"{_LABEL[column]}={clean(cells[i])!r}"
        for column, i in positions.items()
        if i < len(cells) and cells[i].strip()
    ]
    return ", ".join(parts) if parts else "nothing"
