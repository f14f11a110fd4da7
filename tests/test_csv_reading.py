"""Reading files a block at a time gives exactly the lines (and the bad-byte positions) of reading them
line by line, whatever the block size, BOM, line endings or scripts."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sampark.territory.importers.base import BadFile, decoded_lines

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
