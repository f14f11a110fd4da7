"""Reading files a block at a time gives exactly the lines (and the bad-byte positions) of reading them
line by line, whatever the block size, BOM, line endings or scripts; a line or record over the cap is
an error naming its line, found without ever holding the whole line."""

from __future__ import annotations

import csv
import io
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from sampark.territory.importers.base import BadFile, csv_rows, decoded_lines


@pytest.fixture(autouse=True, scope="module")
def _english() -> Iterator[None]:
    """Reasons are checked in English (the default language is Hindi); module-wide, as hypothesis wants."""
    with translation.override("en"):
        yield


PIECES = [b"a", b"\n", b"\r", b"\r\n", b",", b'"', "क्ष".encode(), "\u2028".encode(), b"\x0c", b" "]


def _split_newline_only(data: bytes) -> list[bytes]:
    """The reference: lines as iterating the file in binary gives them (ending at b"\\n" only)."""
    parts = data.split(b"\n")
    lines = [p + b"\n" for p in parts[:-1]]
    return [*lines, parts[-1]] if parts[-1] else lines


@settings(max_examples=300, deadline=None)
@given(
    bom=st.booleans(),
    pieces=st.lists(st.sampled_from(PIECES), max_size=60),
    block=st.sampled_from([1, 2, 3, 5, 64, 1 << 20]),
)
def test_blocks_give_the_same_lines_as_reading_line_by_line(tmp_path_factory, bom, pieces, block):
    data = (b"\xef\xbb\xbf" if bom else b"") + b"".join(pieces)
    path = tmp_path_factory.mktemp("lines") / "f.csv"
    path.write_bytes(data)
    expected = [p.decode("utf-8") for p in _split_newline_only(data[3:] if bom else data)]
    assert list(decoded_lines(path, block_bytes=block)) == expected


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.lists(st.sampled_from(PIECES[:1] + PIECES[4:]), max_size=8), min_size=1, max_size=8),
    where=st.floats(min_value=0, max_value=1),
    block=st.sampled_from([1, 3, 64]),
)
def test_a_bad_byte_is_named_by_its_line_and_column(tmp_path_factory, lines, where, block):
    data = b"\n".join(b"".join(line) for line in lines)
    at = int(where * len(data))
    data = data[:at] + b"\xff" + data[at:]
    path: Path = tmp_path_factory.mktemp("bad") / "f.csv"
    path.write_bytes(data)
    # Where the line-by-line reference fails (inside a multi-byte letter, that letter's first byte).
    for number, raw in enumerate(data.split(b"\n"), 1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line, column, byte = number, exc.start + 1, raw[exc.start]
            break
    with pytest.raises(BadFile) as caught:
        list(decoded_lines(path, block_bytes=block))
    assert caught.value.issue.line == line
    assert f"(byte 0x{byte:02x} at column {column})" in caught.value.issue.reason


@settings(max_examples=300, deadline=None)
@given(
    bom=st.booleans(),
    pieces=st.lists(st.sampled_from(PIECES), max_size=60),
    block=st.sampled_from([1, 2, 3, 5, 64, 1 << 20]),
    cap=st.integers(min_value=1, max_value=12),
)
def test_the_lines_before_a_line_over_the_cap_are_read_then_that_line_is_named(
    tmp_path_factory, bom, pieces, block, cap
):
    data = (b"\xef\xbb\xbf" if bom else b"") + b"".join(pieces)
    path = tmp_path_factory.mktemp("cap") / "f.csv"
    path.write_bytes(data)
    lines = _split_newline_only(data[3:] if bom else data)
    too_long = next((n for n, raw in enumerate(lines) if len(raw.removesuffix(b"\n")) > cap), None)
    read: list[str] = []
    if too_long is None:
        read.extend(decoded_lines(path, block_bytes=block, max_line=cap))
    else:
        with pytest.raises(BadFile) as caught:
            read.extend(decoded_lines(path, block_bytes=block, max_line=cap))
        assert caught.value.issue.line == too_long + 1
        assert f"longer than {cap} bytes" in caught.value.issue.reason
    assert read == [raw.decode("utf-8") for raw in lines[:too_long]]


def test_a_line_megabytes_long_is_refused_without_ever_being_held_whole(tmp_path):
    path = tmp_path / "huge.csv"
    line = b"x" * (6 << 20)  # 6 MB on one line: 96 times the cap
    path.write_bytes(b"name,phone\nRam,9876543210\n" + line + b",1\nSita,9876543211\n")
    tracemalloc.start()
    try:
        rows: list[tuple[int, list[str]]] = []
        with pytest.raises(BadFile) as caught:
            rows.extend(csv_rows(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == [(1, ["name", "phone"]), (2, ["Ram", "9876543210"])]
    assert str(caught.value.issue) == (
        "huge.csv:3: error: a line longer than 65,536 bytes: is this the right file? "
        "(the limit is SAMPARK_IMPORT_MAX_LINE_BYTES)"
    )
    # At most three copies of a block (1 MB) and the cap (the block, the block joined to what came before
    # it, the unfinished line): never the whole 6 MB line, which reading it whole would hold twice.
    assert peak < 4 << 20, peak


def test_a_record_over_the_cap_across_quoted_line_breaks_is_named_by_its_first_line(tmp_path):
    path = tmp_path / "quoted.csv"
    field = "\n".join(["न" * 50] * 30)  # 30 short lines inside one quoted field: 1,529 characters
    path.write_text(f'text_hi,topic\nबूथ चलो,x\n"{field}",y\nअगला,z\n', encoding="utf-8")
    with pytest.raises(BadFile) as caught:
        list(csv_rows(path, max_line=1024))
    assert caught.value.issue.line == 3
    assert "runs over 1,024 characters" in caught.value.issue.reason
    # Under the cap it is one record of thirty lines.
    assert [line for line, _cells in csv_rows(path, max_line=2048)] == [1, 2, 3, 33]


@settings(max_examples=200, deadline=None)
@given(
    records=st.lists(
        st.lists(st.text(alphabet='ab,\n"क', max_size=12), min_size=1, max_size=4), min_size=1, max_size=8
    ),
    cap=st.integers(min_value=4, max_value=40),
)
def test_every_record_under_the_cap_is_read_and_the_first_over_it_is_named(tmp_path_factory, records, cap):
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(records)
    path = tmp_path_factory.mktemp("rec") / "f.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    # The reference, record by record as the csv module writes them: the first line over the cap (in
    # bytes, its newline not counted) is named itself; a record whose lines add up to more characters
    # than the cap, before any such line, is named by the line it starts on.
    expected, start, error_line = [], 1, None
    for cells in records:
        one = io.StringIO()
        csv.writer(one, lineterminator="\n").writerow(cells)
        lines = one.getvalue().splitlines(keepends=True)
        total = 0
        for number, text in enumerate(lines, start):
            if len(text.removesuffix("\n").encode()) > cap:
                error_line = number
                break
            total += len(text)
            if total > cap:
                error_line = start
                break
        if error_line is not None:
            break
        expected.append((start, cells))
        start += len(lines)
    got: list[tuple[int, list[str]]] = []
    if error_line is None:
        got.extend(csv_rows(path, max_line=cap))
    else:
        with pytest.raises(BadFile) as caught:
            got.extend(csv_rows(path, max_line=cap))
        assert caught.value.issue.line == error_line
    assert got == expected
