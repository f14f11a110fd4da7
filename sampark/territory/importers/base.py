"""The import framework: streaming readers, line-numbered issues, one transaction per run.

An importer reads its files row by row (never the whole file), reports every problem as an
:class:`Issue` (file, line, field, reason), and writes through :class:`Upserter`, which makes a re-run
update rather than duplicate. :func:`run_import` wraps the whole run in one transaction: if any issue
is an error, everything is rolled back and the command exits non-zero.
"""

from __future__ import annotations

import csv
import gc
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from django.conf import settings
from django.db import models, transaction
from django.utils.translation import gettext as _

from sampark.core.numbers import group_indian
from sampark.territory.selectors import forget_counts

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Issue:
    file: str
    line: int | None
    field: str
    reason: str
    severity: str = ERROR

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.severity}: {self.field + ': ' if self.field else ''}{self.reason}"


class ImportFailed(Exception):
    """Raised inside the run's transaction to roll it back; carries the report."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{len(report.errors)} error(s)")
        self.report = report


class BadFile(Exception):
    """A whole file cannot be read (wrong header, bad encoding, truncated): reported as one issue."""

    def __init__(self, issue: Issue) -> None:
        super().__init__(str(issue))
        self.issue = issue

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised in a forked child too (core.forked), and pickled back to the parent whole.
        return (BadFile, (self.issue,))


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    kind: str
    files: list[str] = field(default_factory=list)
    rows_read: int = 0
    counts: dict[str, Counts] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    committed: bool = False

    def absorb(self, other: ImportReport) -> None:
        """Take over what a copy of this report found (one filled in a forked child process)."""
        if other is not self:
            self.rows_read = other.rows_read
            self.counts = other.counts
            self.issues = other.issues

    def count(self, label: str) -> Counts:
        return self.counts.setdefault(label, Counts())

    def add(self, issue: Issue) -> None:
        self.issues.append(issue)

    def error(self, file: str, line: int | None, field_name: str, reason: str) -> None:
        self.issues.append(Issue(file, line, field_name, reason, ERROR))

    def warning(self, file: str, line: int | None, field_name: str, reason: str) -> None:
        self.issues.append(Issue(file, line, field_name, reason, WARNING))

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == WARNING]

    @property
    def changed(self) -> int:
        return sum(c.created + c.updated for c in self.counts.values())


# --- reading ------------------------------------------------------------------------------------


# Bytes decoded at a time. Whole blocks, cut at a newline, are decoded and split into lines in C: a
# Python step per line was a tenth of parsing a CEO file. Memory stays bounded by the block size plus
# the longest line allowed (``SAMPARK_IMPORT_MAX_LINE_BYTES``): a longer line is an error as soon as that
# much of it has been read, never built whole.
BLOCK_BYTES = 1 << 20


class LineTooLong(ValueError):
    """Raised inside the CSV reader's input when a record grows past the cap (see :func:`csv_rows`)."""


def max_line_bytes() -> int:
    return int(settings.SAMPARK_IMPORT_MAX_LINE_BYTES)


def _line_too_long(name: str, line: int, cap: int) -> BadFile:
    return BadFile(
        Issue(
            name,
            line,
            "",
            _(
                "a line longer than %(cap)s bytes: is this the right file? (the limit is SAMPARK_IMPORT_MAX_LINE_BYTES)"
            )
            % {"cap": group_indian(cap)},
        )
    )


def decoded_lines(
    path: Path, *, block_bytes: int = BLOCK_BYTES, max_line: int | None = None
) -> Iterator[str]:
    """Yield a file's lines as text, strictly UTF-8 (BOM tolerated), naming the line of a bad byte.

    Lines end at ``\n`` only, as when iterating the file in binary (a lone ``\r`` stays in its line). A
    line longer than ``max_line`` bytes (default: the setting), its newline not counted, raises
    :class:`BadFile` naming it, after every line before it has been yielded.
    """
    cap = max_line_bytes() if max_line is None else max_line
    return chain.from_iterable(map(_lines, _decoded_blocks(path, block_bytes, cap)))


def _lines(text: str) -> io.StringIO:
    return io.StringIO(text, newline="\n")


def _long_line_at(data: bytes, cap: int) -> int | None:
    """Where the first line of ``data`` longer than ``cap`` bytes starts, if one does.

    Jumps from line start to the last newline within ``cap`` bytes (a C search), so a block of short
    lines costs a few steps per ``cap`` bytes, not one per line."""
    at, size = 0, len(data)
    while size - at > cap:
        newline = data.rfind(b"\n", at, at + cap + 1)
        if newline < 0:
            return at
        at = newline + 1
    return None


def _decoded_blocks(path: Path, block_bytes: int, cap: int) -> Iterator[str]:
    name = path.name
    lines_before = 0
    with path.open("rb") as fh:
        rest = fh.read(3)
        if rest == b"\xef\xbb\xbf":
            rest = b""
        while True:
            block = fh.read(block_bytes)
            data = rest + block
            if block:
                cut = data.rfind(b"\n") + 1  # a newline byte never occurs inside a UTF-8 sequence
                data, rest = data[:cut], data[cut:]
            else:
                rest = b""
            long_at = _long_line_at(data, cap)
            if long_at is not None:
                data = data[:long_at]  # the lines before it are read as usual
            elif len(rest) > cap:  # a line not even finished yet: read no more of it
                long_at = len(data)
            if data:
                try:
                    yield data.decode("utf-8")
                except UnicodeDecodeError as exc:
                    line_start = data.rfind(b"\n", 0, exc.start) + 1
                    raise BadFile(
                        Issue(
                            name,
                            lines_before + data.count(b"\n", 0, exc.start) + 1,
                            "",
                            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at column "
                            f"{exc.start - line_start + 1}); save the file as UTF-8",
                        )
                    ) from exc
                lines_before += data.count(b"\n")
            if long_at is not None:
                raise _line_too_long(name, lines_before + 1, cap)
            if not block:
                return


def _capped(lines: Iterable[str], budget: list[int]) -> Iterator[str]:
    """``lines``, counting their characters into ``budget[0]`` (reset by the reader at each record)."""
    cap = budget[1]
    for line in lines:
        budget[0] += len(line)
        if budget[0] > cap:
            raise LineTooLong
        yield line


def csv_rows(path: Path, *, max_line: int | None = None) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_number, cells)`` for each CSV record; the line is where the record starts.

    No line, and no record (one that runs over several lines inside quotes too), may be longer than
    ``max_line`` (default: ``SAMPARK_IMPORT_MAX_LINE_BYTES``; a record counts characters): so neither
    may any field. A longer one is a :class:`BadFile` naming the line where it starts.
    """
    if not path.exists():
        raise BadFile(Issue(str(path), None, "", "file not found"))
    if path.is_dir():
        raise BadFile(Issue(str(path), None, "", "is a directory, not a file"))
    cap = max_line_bytes() if max_line is None else max_line
    budget = [0, cap]  # characters of the record being read, and the most it may have
    reader = csv.reader(_capped(decoded_lines(path, max_line=cap), budget), strict=True)
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
            budget[0] = 0
    except LineTooLong:
        raise BadFile(
            Issue(
                path.name,
                start,
                "",
                _(
                    "the record starting on this line runs over %(cap)s characters: is a quote unclosed? "
                    "(the limit is SAMPARK_IMPORT_MAX_LINE_BYTES)"
                )
                % {"cap": group_indian(cap)},
            )
        ) from None
    except csv.Error as exc:
        # Name the line where the broken record starts: an unclosed quote makes the reader swallow
        # everything to the end of the file, so the line it stopped at is not where the problem is.
        raise BadFile(
            Issue(
                path.name,
                start,
                "",
                f"malformed CSV ({exc}) in the record starting here "
                f"(read to line {reader.line_num}); is the file truncated or a quote unclosed?",
            )
        ) from exc


class DictRows:
    """CSV rows as dicts keyed by a required header, validated up front."""

    def __init__(self, path: Path, *, required: Sequence[str]) -> None:
        self.path = path
        self.rows = csv_rows(path)
        # Blank lines before the header do not make a header: a file of only blank lines is empty.
        line, header = next(((n, cells) for n, cells in self.rows if any(c.strip() for c in cells)), (0, []))
        if not header:
            raise BadFile(Issue(path.name, None, "", "the file is empty"))
        # Repeated names (LGD's two "State Name" columns: English, then local) become "Name #2".
        self.header: list[str] = []
        for h in header:
            name = h.strip()
            n = 2
            while name in self.header:
                name = f"{h.strip()} #{n}"
                n += 1
            self.header.append(name)
        missing = [name for name in required if name not in self.header]
        if missing:
            raise BadFile(
                Issue(
                    path.name,
                    line,
                    "header",
                    f"missing column(s) {', '.join(missing)}; found "
                    f"{', '.join(self.header) or 'nothing'} — is this the right file?",
                )
            )

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        width = len(self.header)
        for line, cells in self.rows:
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != width:
                raise BadFile(
                    Issue(self.path.name, line, "", f"expected {width} columns, found {len(cells)}")
                )
            yield line, dict(zip(self.header, cells, strict=True))


# --- writing ------------------------------------------------------------------------------------

M = TypeVar("M", bound=models.Model)


class Upserter(Generic[M]):
    """Idempotent bulk writes keyed by a natural key.

    Loads the existing rows' keys and compared fields once, then buffers creates and updates and
    flushes them in batches. A row whose fields all equal what is stored is counted as unchanged and
    not written, so a second run of the same import changes nothing.
    """

    batch_size = 1000

    def __init__(
        self,
        model: type[M],
        *,
        key: Callable[[M], Any],
        fields: Sequence[str],
        counts: Counts,
        queryset: models.QuerySet[M] | None = None,
        report: ImportReport | None = None,
    ) -> None:
        self.model = model
        self.report = report
        self.key = key
        self.fields = list(fields)
        self.counts = counts
        source = queryset if queryset is not None else model._default_manager.all()
        self.existing: dict[Any, M] = {key(obj): obj for obj in source}
        self.to_create: list[M] = []
        self.to_update: list[M] = []
        self.seen: dict[Any, tuple[str, int | None]] = {}  # key → where this run first gave it

    def get(self, key: Any) -> M | None:
        return self.existing.get(key)

    def put(self, obj: M, *, file: str = "", line: int | None = None) -> M:
        """Create or update ``obj`` (a fresh instance with the fields set); returns the stored instance.

        A key given again in the same run keeps the first row; if the repeat says something different,
        that is a warning naming both lines, never a silent choice.
        """
        k = self.key(obj)
        current = self.existing.get(k)
        if k in self.seen:
            differs = [n for n in self.fields if getattr(current, n) != getattr(obj, n)]
            if differs and self.report is not None:
                first_file, first_line = self.seen[k]
                self.report.warning(
                    file,
                    line,
                    differs[0],
                    f"repeats {self.model._meta.verbose_name} {k} of {first_file}:{first_line} with a different "
                    f"{', '.join(differs)}; the first was kept",
                )
            return current  # type: ignore[return-value]
        self.seen[k] = (file, line)
        if current is None:
            self.existing[k] = obj
            self.to_create.append(obj)
            self.counts.created += 1
            if len(self.to_create) >= self.batch_size:
                self.flush()
            return obj
        changed = [n for n in self.fields if getattr(current, n) != getattr(obj, n)]
        if changed:
            for name in self.fields:
                setattr(current, name, getattr(obj, name))
            self.to_update.append(current)
            self.counts.updated += 1
            if len(self.to_update) >= self.batch_size:
                self.flush()
        else:
            self.counts.unchanged += 1
        return current

    def flush(self) -> None:
        if self.to_create:
            self.model._default_manager.bulk_create(self.to_create, batch_size=self.batch_size)
            self.to_create = []
        if self.to_update:
            self.model._default_manager.bulk_update(self.to_update, self.fields, batch_size=self.batch_size)
            self.to_update = []


# --- the run ------------------------------------------------------------------------------------


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a bulk load, as it was afterwards.

    A lakh-row import allocates millions of tuples and strings but makes no reference cycles worth
    collecting before it ends; the collector's passes over them (and over everything Django has
    loaded) measured about a tenth of the booth import. Reference counting still frees everything.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


Progress = Callable[[str, int | None], Callable[[int], None]]
"""``progress(description, total)`` returns an ``advance(n)`` callback (a rich progress bar in the CLI)."""


def no_progress(description: str, total: int | None) -> Callable[[int], None]:
    return lambda n: None


class Importer:
    """One kind of import. Subclasses set ``kind``/``help`` and implement :meth:`run`."""

    kind: ClassVar[str]
    help: ClassVar[str]

    def __init__(self, report: ImportReport, progress: Progress = no_progress, **options: Any) -> None:
        self.report = report
        self.progress = progress
        self.options = options

    @classmethod
    def add_arguments(cls, parser: Any) -> None:  # argparse parser
        """Extra command-line options of this kind."""

    def run(self, paths: Iterable[Path]) -> None:
        raise NotImplementedError


def run_import(
    importer_class: type[Importer],
    paths: Sequence[Path],
    *,
    progress: Progress = no_progress,
    dry_run: bool = False,
    **options: Any,
) -> ImportReport:
    """Run one import in one transaction; any error (or ``dry_run``) rolls everything back."""
    report = ImportReport(kind=importer_class.kind, files=[str(p) for p in paths])
    importer = importer_class(report, progress, **options)
    try:
        with transaction.atomic():
            try:
                importer.run(paths)
            except BadFile as exc:
                report.add(exc.issue)
            if report.errors or dry_run:
                raise ImportFailed(report)
    except ImportFailed:
        return report
    report.committed = True
    forget_counts()  # after the commit: cached booth counts are stale
    return report
