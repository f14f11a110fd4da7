"""`sampark import volunteers FILE…` — the volunteer registry from CSV, set-based and idempotent by phone.

Columns (header names, any order; see the README): ``name, phone, booth, post, age, consent_source,
consent_at, language`` and optionally ``birth_date, gender, channels``.

Every row is checked in Python (phone, age, booth, post, consent, language) while it streams into a
temporary *stage* table, so memory stays flat however long the file. Then a few ``INSERT … SELECT`` /
``UPDATE … FROM`` statements reconcile the stage with the registry: new people, changed people, contact
points, consents, posts, and finally the coverage rollup. A 10-lakh-row file is a few dozen statements,
not millions of ORM saves. All of it runs inside the import's one transaction: any error, nothing stays.

Re-importing never resurrects a withdrawn consent: a consent row is added only when the file's consent
is newer than everything recorded for that contact point (a withdrawal after it wins).
"""

from __future__ import annotations

import datetime
import os
import secrets
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from sampark.core.forked import can_fork, forked
from sampark.core.text import clean, search_key
from sampark.territory.importers.base import BadFile, Importer, Issue, csv_rows, gc_paused
from sampark.territory.models import Booth, State

from . import services
from .models import ROLE_LEVEL, Channel, Consent, ContactPoint, Language, Level, Person, Post, Role
from .models import Source as ConsentSource
from .phones import InvalidPhone, normalise_mobile

REQUIRED = ("name", "phone", "booth", "post", "age", "consent_source", "consent_at", "language")
OPTIONAL = ("birth_date", "gender", "channels")
MAX_ERRORS = 1000  # past this, the file is the wrong file: stop reading
STAGE_CHUNK = 5000
RECONCILE_EVERY = 100_000  # rows per reconciled chunk
CHILD_BATCHES_AHEAD = 24  # checked batches (of STAGE_CHUNK rows) the child may run ahead: bounded memory
IMPORT_CACHE_KB = 256 * 1024

POST_ALIASES: dict[str, str] = {
    "": Role.BOOTH_VOLUNTEER,
    "volunteer": Role.BOOTH_VOLUNTEER,
    "booth volunteer": Role.BOOTH_VOLUNTEER,
    "yuva saathi": Role.BOOTH_VOLUNTEER,
    "yuva sathi": Role.BOOTH_VOLUNTEER,
    "युवा साथी": Role.BOOTH_VOLUNTEER,
    "booth president": Role.BOOTH_PRESIDENT,
    "बूथ अध्यक्ष": Role.BOOTH_PRESIDENT,
    "panchayat coordinator": Role.PANCHAYAT_COORDINATOR,
    "पंचायत संयोजक": Role.PANCHAYAT_COORDINATOR,
    "block coordinator": Role.BLOCK_COORDINATOR,
    "प्रखंड संयोजक": Role.BLOCK_COORDINATOR,
    "ac coordinator": Role.AC_COORDINATOR,
    "विधानसभा संयोजक": Role.AC_COORDINATOR,
    "district coordinator": Role.DISTRICT_COORDINATOR,
    "जिला संयोजक": Role.DISTRICT_COORDINATOR,
    "state coordinator": Role.STATE_COORDINATOR,
    "प्रदेश संयोजक": Role.STATE_COORDINATOR,
}
POST_ALIASES.update({role.value: role.value for role in Role})
POST_ALIASES.update({role.value.replace("_", " "): role.value for role in Role})

LANGUAGE_ALIASES = {
    "hi": Language.HINDI,
    "hindi": Language.HINDI,
    "हिंदी": Language.HINDI,
    "हिन्दी": Language.HINDI,
    "en": Language.ENGLISH,
    "english": Language.ENGLISH,
    "अंग्रेज़ी": Language.ENGLISH,
    "अंग्रेजी": Language.ENGLISH,
}
GENDER_ALIASES = {
    "": "",
    "f": "f",
    "female": "f",
    "महिला": "f",
    "m": "m",
    "male": "m",
    "पुरुष": "m",
    "x": "x",
    "other": "x",
    "अन्य": "x",
}
SOURCE_ALIASES = {s.value: s.value for s in ConsentSource} | {
    "फॉर्म": ConsentSource.FORM,
    "चैट": ConsentSource.CHAT,
    "रेफरल": ConsentSource.REFERRAL,
}
PHONE_CHANNELS = (Channel.SMS, Channel.WHATSAPP)

# Booth-level roles have their post at the person's booth; higher ones at that booth's ancestor.
_LEVEL_COLUMNS = ("state_id", "district_id", "ac_id", "block_id", "panchayat_id", "booth_id")
_LEVEL_DEPTH = {
    Level.STATE: ("state_id",),
    Level.DISTRICT: ("state_id", "district_id"),
    Level.AC: ("state_id", "district_id", "ac_id"),
    Level.BLOCK: ("state_id", "district_id", "block_id"),
    Level.PANCHAYAT: ("state_id", "district_id", "block_id", "panchayat_id"),
    Level.BOOTH: _LEVEL_COLUMNS,
}

STAGE_COLUMNS = (
    ("line", "integer"),
    ("phone", "text"),
    ("name", "text"),
    ("name_key", "text"),
    ("booth_id", "bigint"),
    ("role", "text"),
    ("level", "text"),
    ("age", "integer"),
    ("birth_date", "date"),
    ("gender", "text"),
    ("language", "text"),
    ("source", "text"),
    ("consent_at", "timestamptz"),
    ("sms", "boolean"),
    ("whatsapp", "boolean"),
    # The phone was not registered before this run (set while staging).
    ("fresh", "boolean"),
)
# Set after staging: a later row of the same phone (person fields come from the first), and a later
# row of the same phone and post.
STAGE_FLAGS = ("repeat", "role_repeat")

# A post's unit columns from its booth (``b``) and level: the booth's ancestors down to the post's level.
POST_UNIT_SQL = {
    "state_id": "b.state_id",
    "district_id": "CASE WHEN s.level <> 'state' THEN b.district_id END",
    "ac_id": "CASE WHEN s.level IN ('ac', 'booth') THEN b.ac_id END",
    "block_id": "CASE WHEN s.level IN ('block', 'panchayat', 'booth') THEN b.block_id END",
    "panchayat_id": "CASE WHEN s.level IN ('panchayat', 'booth') THEN b.panchayat_id END",
    "booth_id": "CASE WHEN s.level = 'booth' THEN b.id END",
}


MIN_AGE, MAX_AGE = services.MIN_AGE, 120
SMS, WHATSAPP = Channel.SMS.value, Channel.WHATSAPP.value
PHONE_CHANNEL_NAMES = frozenset((SMS, WHATSAPP))
UTC = datetime.UTC


def _alias(table: Mapping[str, str], text: str) -> str | None:
    """``text`` looked up in an alias table, exactly first and then normalised (Devanagari, spaces)."""
    found = table.get(text.strip().lower())
    if found is None:
        found = table.get(clean(text).lower())
    return found


class VolunteerImport(Importer):
    kind = "volunteers"
    # Files at least this big are checked in a second process (see _checked_in_child).
    parallel_min_bytes = 4_000_000
    help = (
        "Volunteers and coordinators from CSV (name, phone, booth, post, age, consent_source, consent_at, "
        "language; optional birth_date, gender, channels), idempotent by phone."
    )

    @classmethod
    def add_arguments(cls, parser: Any) -> None:
        parser.add_argument("--state", type=int, help="LGD code of the booths' state (default: the only one)")

    # --- reading --------------------------------------------------------------------------------------

    def run(self, paths: Iterable[Path]) -> None:
        self.today = timezone.localdate()
        self.now = timezone.now()
        self.latest = self.now + datetime.timedelta(minutes=5)  # clocks differ; later is the future
        self.error_count = 0
        self.placements: dict[tuple[int, str], bool] = {}
        self.consent_times: dict[str, tuple[Any, str]] = {}
        self.zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        self.state = self._state()
        self.booths = {
            code: tuple(row)
            for code, *row in Booth.objects.filter(state=self.state).values_list(
                "code", *_LEVEL_COLUMNS[:-1], "id"
            )
        }
        self.postgres = connection.vendor == "postgresql"
        # A real table, not TEMPORARY: SQLite keeps temporary tables in memory here (temp_store=MEMORY),
        # and ten lakh staged rows must not live in RAM. Unique per run; dropped at the end.
        self.stage = f"sampark_volunteer_stage_{os.getpid()}_{secrets.token_hex(4)}"
        # Rows are reconciled a chunk at a time (so a second process can check the next rows meanwhile,
        # see _stage_file); every staged row also lands in ``stage_all`` for the whole-file checks.
        self.stage_all = f"{self.stage}_all"
        self.chunk_rows = 0
        self.touched: set[int] = set()
        self._create_stage()
        if not self.postgres:
            # One transaction writes millions of rows: a page cache big enough for the people tables'
            # index pages keeps SQLite from spilling and re-reading them (bounded: 256 MB, this run only).
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA cache_size")
                previous_cache = cursor.fetchone()[0]
                cursor.execute(f"PRAGMA cache_size = -{IMPORT_CACHE_KB}")
        try:
            with gc_paused():
                for path in paths:
                    self._stage_file(path)
                self._flush_chunk()
                # The whole-file check runs even after row errors, so one run reports everything it can.
                self._check_conflicts()
                if not self.report.errors:
                    self._finish()
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {self.stage}")
                cursor.execute(f"DROP TABLE IF EXISTS {self.stage_all}")
                if not self.postgres:
                    cursor.execute(f"PRAGMA cache_size = {int(previous_cache)}")

    def _state(self) -> State:
        code = self.options.get("state")
        if code:
            state = State.objects.filter(lgd_code=code).first()
            if state is None:
                raise BadFile(
                    Issue("--state", None, "state", _("no state with LGD code %(code)s") % {"code": code})
                )
            return state
        ids = list(Booth.objects.order_by().values_list("state_id", flat=True).distinct()[:2])
        if len(ids) != 1:
            raise BadFile(
                Issue(
                    "--state", None, "state", _("booths of several states (or none) are loaded: give --state")
                )
            )
        return State.objects.get(pk=ids[0])

    def _create_stage(self) -> None:
        types = {"timestamptz": "timestamp with time zone"} if self.postgres else {}
        columns = ", ".join(
            [f"{name} {types.get(kind, kind)}" for name, kind in STAGE_COLUMNS]
            + [f"{flag} boolean NOT NULL DEFAULT FALSE" for flag in STAGE_FLAGS]
        )
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {self.stage} ({columns})")
            cursor.execute(f"CREATE INDEX {self.stage}_phone ON {self.stage} (phone, line)")
            cursor.execute(f"CREATE TABLE {self.stage_all} ({columns})")

    def _stage_file(self, path: Path) -> None:
        rows = csv_rows(path)
        header_line, header = next(((n, c) for n, c in rows if any(x.strip() for x in c)), (0, []))
        if not header:
            raise BadFile(Issue(path.name, None, "", _("the file is empty")))
        names = [clean(h).lower().replace(" ", "_") for h in header]
        missing = [name for name in REQUIRED if name not in names]
        if missing:
            raise BadFile(
                Issue(
                    path.name,
                    header_line,
                    "header",
                    _("missing column(s) %(missing)s; found %(found)s — is this the volunteer file?")
                    % {"missing": ", ".join(missing), "found": ", ".join(names) or "nothing"},
                )
            )
        positions = tuple(names.index(name) if name in names else -1 for name in (*REQUIRED, *OPTIONAL))
        advance = self.progress(_("Checking %(file)s") % {"file": path.name}, None)
        if can_fork() and path.stat().st_size >= self.parallel_min_bytes:
            getattr(rows, "close", lambda: None)()  # the child reads the file itself
            batches = self._checked_in_child(path, header_line, positions, len(names))
        else:
            batches = self._checked(rows, positions, len(names))
        report = self.report
        try:
            for batch, problems, read in batches:
                report.rows_read += read
                for line, field_name, reason in problems:
                    report.error(path.name, line, field_name, reason)
                self.error_count += len(problems)
                if self.error_count >= MAX_ERRORS:
                    line = problems[-1][0]
                    report.error(
                        path.name, line, "", _("%(n)s errors: stopped reading here") % {"n": self.error_count}
                    )
                    return
                self._stage(batch)
                advance(len(batch))
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()

    def _checked(
        self, rows: Iterator[tuple[int, list[str]]], positions: tuple[int, ...], width: int
    ) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[int, str, str]], int]]:
        """``(good rows, problems as (line, field, reason), rows read)`` a chunk at a time. Pure: no
        database, so it can run in a child process (:meth:`_checked_in_child`)."""
        batch: list[tuple[Any, ...]] = []
        problems: list[tuple[int, str, str]] = []
        read = 0
        for line, cells in rows:
            if not any(cells):  # a blank line, or only commas
                continue
            read += 1
            if len(cells) != width:
                problems.append(
                    (line, "", _("expected %(n)s columns, found %(m)s") % {"n": width, "m": len(cells)})
                )
            else:
                row = self._row(line, cells, positions)
                if type(row) is tuple:
                    batch.append(row)
                else:
                    problems.extend((line, field_name, reason) for field_name, reason in row)  # type: ignore[union-attr]
            if len(batch) >= STAGE_CHUNK or problems:
                yield batch, problems, read
                batch, problems, read = [], [], 0
        yield batch, problems, read

    def _checked_in_child(
        self, path: Path, header_line: int, positions: tuple[int, ...], width: int
    ) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[int, str, str]], int]]:
        """:meth:`_checked` run in a forked child (``core.forked``) while this process writes and
        reconciles: the Python checks of the next rows overlap the SQL of the previous chunk. The child
        reads the file itself; one it cannot read raises the same :class:`BadFile` as the serial path."""

        def produce() -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[int, str, str]], int]]:
            rows = (item for item in csv_rows(path) if item[0] > header_line)
            return self._checked(rows, positions, width)

        return forked(produce, ahead=CHILD_BATCHES_AHEAD, what=f"checking {path.name}")

    def _row(
        self, line: int, cells: list[str], positions: tuple[int, ...]
    ) -> tuple[Any, ...] | list[tuple[str, str]]:
        """One checked row for the stage, or the list of ``(field, reason)`` problems with it.

        The common, clean row takes a straight path (ten lakh rows: every microsecond is ten seconds);
        anything odd falls back to the careful normalisation and a specific reason.
        """
        (
            name_i,
            phone_i,
            booth_i,
            post_i,
            age_i,
            source_i,
            consent_i,
            language_i,
            birth_i,
            gender_i,
            channels_i,
        ) = positions
        problems: list[tuple[str, str]] = []
        name = clean(cells[name_i])
        if not name:
            problems.append(("name", _("a name is required")))
        elif len(name) > 200:
            problems.append(("name", _("longer than 200 characters")))
        phone = ""
        try:
            phone = normalise_mobile(cells[phone_i])
        except InvalidPhone as exc:
            problems.append(("phone", str(exc)))
        code = cells[booth_i].strip().upper()
        booth = self.booths.get(code)
        if booth is None:
            code = clean(code).replace(" ", "")
            booth = self.booths.get(code)
            if booth is None:
                problems.append(
                    (
                        "booth",
                        _("no booth %(code)s in %(state)s")
                        % {"code": code or "''", "state": self.state.name},
                    )
                )
        role = _alias(POST_ALIASES, cells[post_i])
        if role is None:
            problems.append(("post", _("unknown post %(post)r") % {"post": cells[post_i]}))
        birth_date = None
        age = None
        birth_text = cells[birth_i].strip() if birth_i >= 0 else ""
        if birth_text:
            try:
                birth_date = datetime.date.fromisoformat(birth_text)
            except ValueError:
                problems.append(("birth_date", _("not a date (YYYY-MM-DD)")))
        age_text = cells[age_i].strip()
        if age_text:
            if age_text.isdigit():
                age = int(age_text)
            else:
                problems.append(("age", _("not a whole number of years")))
        if not problems and (birth_date is not None or age is None or not MIN_AGE <= age <= MAX_AGE):
            try:
                services.check_age(birth_date=birth_date, age=age, today=self.today)
            except services.PeopleError as exc:
                problems.append((exc.field or "age", str(exc)))
        source = _alias(SOURCE_ALIASES, cells[source_i])
        if source is None:
            problems.append(
                (
                    "consent_source",
                    _("missing or unknown consent source (form, import, chat or referral)")
                    if cells[source_i].strip()
                    else _("missing consent: nobody is registered without it"),
                )
            )
        consent_at = self._consent_at(cells[consent_i], problems)
        language = _alias(LANGUAGE_ALIASES, cells[language_i])
        if language is None:
            problems.append(("language", _("language must be hi or en")))
        gender = _alias(GENDER_ALIASES, cells[gender_i]) if gender_i >= 0 else ""
        if gender is None:
            problems.append(("gender", _("gender must be f, m or x (or empty)")))
        sms = whatsapp = True
        channels_text = cells[channels_i].strip().lower() if channels_i >= 0 else ""
        if channels_text:
            channels = {c.strip() for c in channels_text.replace(";", ",").split(",") if c.strip()}
            if not channels <= PHONE_CHANNEL_NAMES:
                problems.append(("channels", _("a phone number can only consent to sms and whatsapp")))
            sms, whatsapp = SMS in channels, WHATSAPP in channels
        if problems:
            return problems
        assert booth is not None and role is not None and consent_at is not None
        level = ROLE_LEVEL[role]
        if not self._placeable(booth, level):
            return [
                (
                    "post",
                    _("booth %(code)s is not linked to a %(level)s, so this post has no unit")
                    % {"code": code, "level": Level(level).label},
                )
            ]
        return (
            line,
            phone,
            name,
            search_key(name),
            booth[5],
            role,
            level,
            age if birth_date is None else None,
            birth_date if birth_date is None or self.postgres else birth_date.isoformat(),
            gender,
            language,
            source,
            consent_at,
            sms,
            whatsapp,
        )

    def _placeable(self, booth: tuple[Any, ...], level: str) -> bool:
        """Whether ``booth`` is linked to a unit of ``level`` (a block coordinator's booth must be in a
        block). Cached: a few thousand distinct answers."""
        key = (booth[5], level)
        known = self.placements.get(key)
        if known is None:
            deepest = _LEVEL_DEPTH[Level(level)][-1]
            known = self.placements[key] = booth[_LEVEL_COLUMNS.index(deepest)] is not None
        return known

    def _consent_at(self, text: str, problems: list[tuple[str, str]]) -> Any:
        """The consent time as the stage stores it (aware on PostgreSQL, naive UTC text on SQLite — what
        ``adapt_datetimefield_value`` gives, ten times faster), or ``None`` after noting the problem.

        Cached by text: forms are imported in batches, so the same dates and times repeat.
        """
        found = self.consent_times.get(text)
        if found is None:
            found = self._parse_consent_at(text.strip())
            if len(self.consent_times) < 100_000:
                self.consent_times[text] = found
        value, problem = found
        if problem:
            problems.append(("consent_at", problem))
        return value

    def _parse_consent_at(self, text: str) -> tuple[Any, str]:
        if not text:
            return None, _("missing consent date: nobody is registered without consent")
        try:
            value = datetime.datetime.fromisoformat(text)
        except ValueError:
            return None, _("not a date or date-time (YYYY-MM-DD or YYYY-MM-DD HH:MM)")
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.zone)
        if value > self.latest:
            return None, _("in the future")
        if self.postgres:
            return value, ""
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" "), ""

    def _stage(self, batch: list[tuple[Any, ...]]) -> None:
        """Write checked rows to the stage, each marked *fresh* when its phone is not registered yet.

        Fresh rows (all of a first import) take the fast path in :meth:`_reconcile`: no existence probes,
        contact points written with their consent in one go.
        """
        if not batch:
            return
        people = Person._meta.db_table
        phones = [row[1] for row in batch]
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT phone FROM {people} WHERE phone IN ({', '.join(['%s'] * len(phones))})", phones
            )
            known = {phone for (phone,) in cursor.fetchall()}
            rows = [(*row, row[1] not in known) for row in batch]
            columns = ", ".join(name for name, _kind in STAGE_COLUMNS)
            if self.postgres:
                with cursor.cursor.copy(f"COPY {self.stage} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(STAGE_COLUMNS))
                cursor.executemany(f"INSERT INTO {self.stage} ({columns}) VALUES ({marks})", rows)
        self.chunk_rows += len(rows)
        if self.chunk_rows >= RECONCILE_EVERY:
            self._flush_chunk()

    def _flush_chunk(self) -> None:
        """Reconcile the staged chunk (unless errors already doom the run), then keep its rows in
        ``stage_all`` and empty the chunk. The next rows' *fresh* flags then see this chunk's people."""
        if not self.chunk_rows:
            return
        if not self.report.errors:
            self._mark_repeats()
            self._check_foreign_contact_points()
            if not self.report.errors:
                self._reconcile()
        self._execute(f"INSERT INTO {self.stage_all} SELECT * FROM {self.stage}")
        self._execute(f"DELETE FROM {self.stage}")
        self.chunk_rows = 0

    # --- checks across rows ---------------------------------------------------------------------------

    def _fetch(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(sql, list(params))
            return cursor.fetchall()

    def _execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, list(params))
            return cursor.rowcount

    def _mark_repeats(self) -> None:
        """Within the chunk, mark later rows of the same phone (the person comes from the first) and of
        the same phone and post (the same person twice with different posts is two posts)."""
        if not self._fetch(f"SELECT phone FROM {self.stage} GROUP BY phone HAVING COUNT(*) > 1 LIMIT 1"):
            return  # the usual case: one row per phone, nothing to mark
        self._execute(
            f"""UPDATE {self.stage} SET repeat = TRUE WHERE EXISTS (SELECT 1 FROM {self.stage} f
                WHERE f.phone = {self.stage}.phone AND f.line < {self.stage}.line)"""
        )
        self._execute(
            f"""UPDATE {self.stage} SET role_repeat = TRUE WHERE EXISTS (SELECT 1 FROM {self.stage} f
                WHERE f.phone = {self.stage}.phone AND f.role = {self.stage}.role AND f.line < {self.stage}.line)"""
        )

    def _check_conflicts(self) -> None:
        """The same phone twice in the file with a different person (name, booth, age, …) is an error
        naming both lines. Across the whole file, so a repeat in a later chunk is caught too (its chunk
        may already be written: the error rolls the run back)."""
        all_rows = self.stage_all
        self._execute(f"CREATE INDEX {all_rows}_phone ON {all_rows} (phone, line)")
        file = ", ".join(Path(p).name for p in self.report.files)
        conflicts = self._fetch(
            f"""
            SELECT a.line, MIN(b.line) FROM {all_rows} a JOIN {all_rows} b ON b.phone = a.phone AND b.line < a.line
            WHERE a.name <> b.name OR a.booth_id <> b.booth_id OR a.language <> b.language
               OR a.gender <> b.gender OR {self._differs("a.age", "b.age")} OR {self._differs("a.birth_date", "b.birth_date")}
            GROUP BY a.line ORDER BY a.line LIMIT {MAX_ERRORS}
            """
        )
        for line, first in conflicts:
            self.report.error(
                file,
                line,
                "phone",
                _("the same mobile number as line %(first)s with a different name, booth, age or language")
                % {"first": first},
            )

    def _differs(self, a: str, b: str) -> str:
        return f"{a} IS DISTINCT FROM {b}" if self.postgres else f"{a} IS NOT {b}"

    def _check_foreign_contact_points(self) -> None:
        """A number that is already another person's contact point cannot become this row's person."""
        points = ContactPoint._meta.db_table
        people = Person._meta.db_table
        # One equality probe of the (channel, address) index per channel: with ``channel IN (…)`` in a
        # join, SQLite scanned every contact point for every chunk (1.8 s a lakh rows).
        owned_elsewhere = " OR ".join(
            f"""EXISTS (SELECT 1 FROM {points} c JOIN {people} p ON p.id = c.person_id
                        WHERE c.channel = %s AND c.address = s.phone AND p.phone <> s.phone)"""
            for _channel in PHONE_CHANNELS
        )
        rows = self._fetch(
            f"SELECT s.line FROM {self.stage} s WHERE {owned_elsewhere} ORDER BY s.line LIMIT {MAX_ERRORS}",
            PHONE_CHANNELS,
        )
        file = ", ".join(Path(p).name for p in self.report.files)
        for (line,) in rows:
            self.report.error(file, line, "phone", _("this number is a contact of another person"))

    # --- reconciling the stage with the registry -----------------------------------------------------

    def _reconcile(self) -> None:
        """Apply the stage: fresh people by plain ``INSERT … SELECT``; known people by careful statements
        that update only what differs and never duplicate a contact point, consent or post."""
        ops = connection.ops
        now = ops.adapt_datetimefield_value(self.now)
        today = ops.adapt_datefield_value(self.today)
        people = Person._meta.db_table
        points = ContactPoint._meta.db_table
        consents = Consent._meta.db_table
        posts = Post._meta.db_table
        stage = self.stage
        file = ", ".join(Path(p).name for p in self.report.files)
        known = self._fetch(f"SELECT COUNT(*) FROM {stage} WHERE NOT fresh")[0][0] > 0

        # Known people first: booth-level posts of people who moved booth are ended (they stop counting at
        # the old booth), changed people updated.
        old_booths: list[tuple[Any, ...]] = []
        ended = 0
        counts = self.report.count(_("people"))
        if known:
            old_booths = self._fetch(
                f"""
                SELECT DISTINCT p.booth_id FROM {posts} p JOIN {people} pe ON pe.id = p.person_id
                JOIN {stage} s ON s.phone = pe.phone AND s.level = %s AND s.role = p.role
                WHERE NOT s.fresh AND p.level = %s AND p.booth_id <> s.booth_id
                  AND (p.ended_on IS NULL OR p.ended_on > %s)
                """,
                [Level.BOOTH, Level.BOOTH, today],
            )
            ended = self._execute(
                f"""
                UPDATE {posts}
                SET ended_on = CASE WHEN started_on > %s THEN started_on ELSE %s END, updated_at = %s
                WHERE level = %s AND (ended_on IS NULL OR ended_on > %s) AND EXISTS (
                    SELECT 1 FROM {people} pe JOIN {stage} s ON s.phone = pe.phone
                    WHERE pe.id = {posts}.person_id AND NOT s.fresh AND s.level = %s
                      AND s.role = {posts}.role AND s.booth_id <> {posts}.booth_id)
                """,
                # A post that had not started yet ends on its first day: it never was held.
                [today, today, now, Level.BOOTH, today, Level.BOOTH],
            )
            counts.updated += self._execute(
                f"""
                UPDATE {people} SET name = s.name, name_key = s.name_key, home_booth_id = s.booth_id,
                    language = s.language, gender = s.gender, birth_date = s.birth_date,
                    age = s.age, age_on = CASE WHEN s.age IS NULL THEN NULL ELSE {self._date} END, updated_at = %s
                FROM {stage} s
                WHERE {people}.phone = s.phone AND NOT s.fresh AND NOT s.repeat
                  AND ({people}.name <> s.name OR {self._differs(f"{people}.home_booth_id", "s.booth_id")}
                       OR {people}.language <> s.language OR {people}.gender <> s.gender
                       OR {self._differs(f"{people}.birth_date", "s.birth_date")}
                       OR {self._differs(f"{people}.age", "s.age")})
                """,
                [today, now],
            )
        counts.created += self._execute(
            f"""
            INSERT INTO {people} (name, name_key, phone, birth_date, age, age_on, gender, language,
                                  home_booth_id, source, created_at, updated_at)
            SELECT s.name, s.name_key, s.phone, s.birth_date, s.age,
                   CASE WHEN s.age IS NULL THEN NULL ELSE {self._date} END, s.gender, s.language, s.booth_id,
                   s.source, %s, %s
            FROM {stage} s WHERE s.fresh AND NOT s.repeat
            """,
            [today, now, now],
        )

        point_counts = self.report.count(_("contact points"))
        consent_counts = self.report.count(_("consents"))
        notice = services.notice_version()
        for channel in PHONE_CHANNELS:
            # Fresh people: a contact point per consented channel, live, and its consent.
            point_counts.created += self._execute(
                f"""
                INSERT INTO {points} (person_id, channel, address, wa_user_id, consent_live, created_at, updated_at)
                SELECT p.id, %s, s.phone, '', TRUE, %s, %s
                FROM {stage} s JOIN {people} p ON p.phone = s.phone
                WHERE s.fresh AND NOT s.repeat AND s.{channel}
                """,
                [channel, now, now],
            )
            consent_counts.created += self._execute(
                f"""
                INSERT INTO {consents} (contact_point_id, given_at, source, notice_version, notice_language,
                                        withdrawn_at, withdrawn_via)
                SELECT c.id, s.consent_at, s.source, %s, s.language, NULL, ''
                FROM {stage} s JOIN {points} c ON c.channel = %s AND c.address = s.phone
                WHERE s.fresh AND NOT s.repeat AND s.{channel}
                """,
                [notice, channel],
            )
            if not known:
                continue
            point_counts.created += self._execute(
                f"""
                INSERT INTO {points} (person_id, channel, address, wa_user_id, consent_live, created_at, updated_at)
                SELECT p.id, %s, s.phone, '', FALSE, %s, %s
                FROM {stage} s JOIN {people} p ON p.phone = s.phone
                WHERE NOT s.fresh AND NOT s.repeat AND s.{channel} AND NOT EXISTS (
                    SELECT 1 FROM {points} c WHERE c.channel = %s AND c.address = s.phone)
                """,
                [channel, now, now, channel],
            )
            # A consent only when the file's is newer than anything recorded for the person: a withdrawal
            # after it — on any channel — wins, so a re-import never resurrects or extends consent.
            added = self._execute(
                f"""
                INSERT INTO {consents} (contact_point_id, given_at, source, notice_version, notice_language,
                                        withdrawn_at, withdrawn_via)
                SELECT c.id, s.consent_at, s.source, %s, s.language, NULL, ''
                FROM {stage} s JOIN {points} c ON c.channel = %s AND c.address = s.phone
                WHERE NOT s.fresh AND NOT s.repeat AND s.{channel} AND NOT EXISTS (
                    SELECT 1 FROM {consents} k WHERE k.contact_point_id = c.id
                      AND (k.withdrawn_at IS NULL OR k.given_at >= s.consent_at))
                  AND NOT EXISTS (
                    SELECT 1 FROM {consents} k JOIN {points} o ON o.id = k.contact_point_id
                    WHERE o.person_id = c.person_id AND k.withdrawn_at >= s.consent_at)
                """,
                [notice, channel],
            )
            consent_counts.created += added
            if added:
                self._execute(
                    f"""
                    UPDATE {points} SET consent_live = TRUE
                    WHERE channel = %s AND consent_live = FALSE
                      AND address IN (SELECT phone FROM {stage} WHERE NOT fresh)
                      AND EXISTS (SELECT 1 FROM {consents} k
                                  WHERE k.contact_point_id = {points}.id AND k.withdrawn_at IS NULL)
                    """,
                    [channel],
                )
        if known:
            # Per channel, an equality probe of the (channel, address) index (see the foreign check).
            latest: dict[int, Any] = {}
            for channel in PHONE_CHANNELS:
                for line, withdrawn in self._fetch(
                    f"""
                    SELECT s.line, MAX(k.withdrawn_at) FROM {stage} s
                    JOIN {points} c ON c.channel = %s AND c.address = s.phone AND c.consent_live = FALSE
                    JOIN {consents} k ON k.contact_point_id = c.id
                    WHERE NOT s.fresh AND NOT s.repeat GROUP BY s.line ORDER BY s.line LIMIT 100
                    """,
                    [channel],
                ):
                    if latest.get(line) is None or (withdrawn is not None and withdrawn > latest[line]):
                        latest[line] = withdrawn
            stale = sorted(latest.items())[:100]
            for line, withdrawn in stale:
                self.report.warning(
                    file,
                    line,
                    "consent_at",
                    _("consent was withdrawn (%(when)s) after the consent in this file; it stays withdrawn")
                    % {"when": str(withdrawn)[:16]},
                )

        post_counts = self.report.count(_("posts"))
        post_counts.updated += ended
        booth_table = connection.ops.quote_name(Booth._meta.db_table)
        unit_sql = ", ".join(POST_UNIT_SQL[column] for column in _LEVEL_COLUMNS)
        insert_posts = f"""
            INSERT INTO {posts} (person_id, role, level, state_id, district_id, ac_id, block_id, panchayat_id,
                                 booth_id, started_on, ended_on, referred_by_id, created_at, updated_at)
            SELECT pe.id, s.role, s.level, {unit_sql}, %s, NULL, NULL, %s, %s
            FROM {stage} s JOIN {people} pe ON pe.phone = s.phone JOIN {booth_table} b ON b.id = s.booth_id
            WHERE NOT s.role_repeat"""
        post_counts.created += self._execute(f"{insert_posts} AND s.fresh", [today, now, now])
        if known:
            same_unit = " AND ".join(
                self._same(f"p.{column}", POST_UNIT_SQL[column]) for column in _LEVEL_COLUMNS
            )
            post_counts.created += self._execute(
                f"""{insert_posts} AND NOT s.fresh AND NOT EXISTS (
                    SELECT 1 FROM {posts} p WHERE p.person_id = pe.id AND p.role = s.role AND {same_unit}
                      AND (p.ended_on IS NULL OR p.ended_on > %s))
                """,
                [today, now, now, today],
            )
        # Booths whose counts may change: the chunk's, the booths people moved away from, and — for
        # known people, whose new live consent makes them count again — every booth they serve.
        self.touched.update(row[0] for row in self._fetch(f"SELECT DISTINCT booth_id FROM {stage}"))
        self.touched.update(booth_id for (booth_id,) in old_booths)
        if known:
            self.touched.update(
                row[0]
                for row in self._fetch(
                    f"""
                    SELECT DISTINCT p.booth_id FROM {posts} p JOIN {people} pe ON pe.id = p.person_id
                    JOIN {stage} s ON s.phone = pe.phone
                    WHERE NOT s.fresh AND p.booth_id IS NOT NULL
                    """
                )
            )

    def _finish(self) -> None:
        """Counts of what stayed unchanged, and the coverage rollup of every touched booth."""
        people = self.report.count(_("people"))
        distinct = self._fetch(f"SELECT COUNT(DISTINCT phone) FROM {self.stage_all}")[0][0]
        people.unchanged = distinct - people.created - people.updated
        posts = self.report.count(_("posts"))
        posts.unchanged = self._fetch(f"SELECT COUNT(*) FROM {self.stage_all}")[0][0] - posts.created
        if self.report.changed or posts.updated:
            services.recount_booths(self.touched, day=self.today)

    @property
    def _date(self) -> str:
        """A date parameter inside CASE, where PostgreSQL cannot infer its type from a column."""
        return "%s::date" if self.postgres else "%s"

    def _same(self, a: str, b: str) -> str:
        return f"{a} IS NOT DISTINCT FROM {b}" if self.postgres else f"{a} IS {b}"
