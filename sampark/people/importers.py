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
import zoneinfo
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from sampark.core.text import clean, latin_key
from sampark.territory.importers.base import BadFile, Importer, Issue, csv_rows
from sampark.territory.models import Booth, State

from . import services
from .models import ROLE_LEVEL, Channel, Consent, ContactPoint, Language, Level, Person, Post, Role
from .models import Source as ConsentSource
from .phones import InvalidPhone, normalise_mobile

REQUIRED = ("name", "phone", "booth", "post", "age", "consent_source", "consent_at", "language")
OPTIONAL = ("birth_date", "gender", "channels")
MAX_ERRORS = 1000  # past this, the file is the wrong file: stop reading
STAGE_CHUNK = 5000

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

STAGE = "sampark_volunteer_stage"
STAGE_COLUMNS = (
    ("line", "integer"),
    ("phone", "text"),
    ("name", "text"),
    ("name_key", "text"),
    ("booth_id", "bigint"),
    ("role", "text"),
    ("level", "text"),
    ("state_id", "bigint"),
    ("district_id", "bigint"),
    ("ac_id", "bigint"),
    ("block_id", "bigint"),
    ("panchayat_id", "bigint"),
    ("post_booth_id", "bigint"),
    ("age", "integer"),
    ("birth_date", "date"),
    ("gender", "text"),
    ("language", "text"),
    ("source", "text"),
    ("consent_at", "timestamptz"),
    ("sms", "boolean"),
    ("whatsapp", "boolean"),
)


class TooManyErrors(Exception):
    pass


def _parse_day(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


class VolunteerImport(Importer):
    kind = "volunteers"
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
        self.zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        self.state = self._state()
        self.booths = {
            code: row
            for code, *row in Booth.objects.filter(state=self.state).values_list(
                "code", *_LEVEL_COLUMNS[:-1], "id"
            )
        }
        vendor = connection.vendor
        self.postgres = vendor == "postgresql"
        self._create_stage()
        try:
            for path in paths:
                self._stage_file(path)
            # Cross-row checks run even after row errors, so one run reports everything it can.
            self._check_duplicates()
            self._check_foreign_contact_points()
            if self.report.errors:
                return
            self._reconcile()
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")

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
        columns = ", ".join(f"{name} {types.get(kind, kind)}" for name, kind in STAGE_COLUMNS)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
            cursor.execute(f"CREATE TEMPORARY TABLE {STAGE} ({columns})")

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
        index = {name: names.index(name) for name in (*REQUIRED, *OPTIONAL) if name in names}
        advance = self.progress(_("Checking %(file)s") % {"file": path.name}, None)
        batch: list[tuple[Any, ...]] = []
        width = len(names)
        for line, cells in rows:
            if not any(c.strip() for c in cells):
                continue
            self.report.rows_read += 1
            if len(cells) != width:
                self.report.error(
                    path.name,
                    line,
                    "",
                    _("expected %(n)s columns, found %(m)s") % {"n": width, "m": len(cells)},
                )
            else:
                row = self._row(path.name, line, {name: cells[i] for name, i in index.items()})
                if row is not None:
                    batch.append(row)
            if len(self.report.errors) >= MAX_ERRORS:
                self.report.error(
                    path.name,
                    line,
                    "",
                    _("%(n)s errors: stopped reading here") % {"n": len(self.report.errors)},
                )
                return
            if len(batch) >= STAGE_CHUNK:
                self._stage(batch)
                advance(len(batch))
                batch = []
        self._stage(batch)
        advance(len(batch))

    def _row(self, file: str, line: int, raw: dict[str, str]) -> tuple[Any, ...] | None:
        """One checked row for the stage, or ``None`` after reporting why not."""
        errors_before = len(self.report.errors)

        def error(field: str, reason: str) -> None:
            self.report.error(file, line, field, reason)

        name = clean(raw["name"])
        if not name:
            error("name", _("a name is required"))
        elif len(name) > 200:
            error("name", _("longer than 200 characters"))
        phone = ""
        try:
            phone = normalise_mobile(raw["phone"])
        except InvalidPhone as exc:
            error("phone", str(exc))
        code = clean(raw["booth"]).upper().replace(" ", "")
        booth = self.booths.get(code)
        if booth is None:
            error(
                "booth",
                _("no booth %(code)s in %(state)s") % {"code": code or "''", "state": self.state.name},
            )
        role = POST_ALIASES.get(clean(raw["post"]).lower())
        if role is None:
            error("post", _("unknown post %(post)r") % {"post": raw["post"]})
        birth_date = None
        age = None
        if raw.get("birth_date", "").strip():
            try:
                birth_date = _parse_day(raw["birth_date"].strip())
            except ValueError:
                error("birth_date", _("not a date (YYYY-MM-DD)"))
        age_text = raw["age"].strip()
        if age_text:
            if age_text.isdigit():
                age = int(age_text)
            else:
                error("age", _("not a whole number of years"))
        if len(self.report.errors) == errors_before:
            try:
                services.check_age(birth_date=birth_date, age=age, today=self.today)
            except services.PeopleError as exc:
                error(exc.field or "age", str(exc))
        source = SOURCE_ALIASES.get(clean(raw["consent_source"]).lower())
        if source is None:
            error(
                "consent_source",
                _("missing or unknown consent source (form, import, chat or referral)")
                if raw["consent_source"].strip()
                else _("missing consent: nobody is registered without it"),
            )
        consent_at = self._consent_at(raw["consent_at"], error)
        language = LANGUAGE_ALIASES.get(clean(raw["language"]).lower())
        if language is None:
            error("language", _("language must be hi or en"))
        gender = GENDER_ALIASES.get(clean(raw.get("gender", "")).lower())
        if gender is None:
            error("gender", _("gender must be f, m or x (or empty)"))
        channels = {
            c.strip().lower() for c in raw.get("channels", "").replace(";", ",").split(",") if c.strip()
        }
        if not channels:
            channels = {Channel.SMS.value, Channel.WHATSAPP.value}
        if not channels <= {Channel.SMS.value, Channel.WHATSAPP.value}:
            error("channels", _("a phone number can only consent to sms and whatsapp"))
        if len(self.report.errors) != errors_before:
            return None
        assert booth is not None and role is not None
        level = ROLE_LEVEL[role]
        keep = _LEVEL_DEPTH[Level(level)]
        unit = dict(zip(_LEVEL_COLUMNS, booth, strict=True))
        if unit[keep[-1]] is None:
            error(
                "post",
                _("booth %(code)s is not linked to a %(level)s, so this post has no unit")
                % {"code": code, "level": Level(level).label},
            )
            return None
        placed = [unit[c] if c in keep else None for c in _LEVEL_COLUMNS]
        ops = connection.ops
        return (
            line,
            phone,
            name,
            latin_key(name),
            unit["booth_id"],
            role,
            level,
            *placed,
            age if birth_date is None else None,
            ops.adapt_datefield_value(birth_date),
            gender,
            language,
            source,
            ops.adapt_datetimefield_value(consent_at),
            Channel.SMS.value in channels,
            Channel.WHATSAPP.value in channels,
        )

    def _consent_at(self, text: str, error: Any) -> datetime.datetime:
        text = text.strip()
        if not text:
            error("consent_at", _("missing consent date: nobody is registered without consent"))
            return self.now
        try:
            value = datetime.datetime.fromisoformat(text.replace("T", " ").replace("Z", "+00:00"))
        except ValueError:
            error("consent_at", _("not a date or date-time (YYYY-MM-DD or YYYY-MM-DD HH:MM)"))
            return self.now
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.zone)
        if value > self.now + datetime.timedelta(minutes=5):
            error("consent_at", _("in the future"))
        return value

    def _stage(self, batch: list[tuple[Any, ...]]) -> None:
        if not batch:
            return
        with connection.cursor() as cursor:
            if self.postgres:
                columns = ", ".join(name for name, _kind in STAGE_COLUMNS)
                with cursor.cursor.copy(f"COPY {STAGE} ({columns}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(STAGE_COLUMNS))
                cursor.executemany(f"INSERT INTO {STAGE} VALUES ({marks})", batch)

    # --- checks across rows ---------------------------------------------------------------------------

    def _fetch(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(sql, list(params))
            return cursor.fetchall()

    def _execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, list(params))
            return cursor.rowcount

    def _check_duplicates(self) -> None:
        """The same phone twice with a different person (name, booth, age, …) is an error naming both lines;
        the same person twice with different posts is two posts."""
        self._execute(f"CREATE INDEX {STAGE}_phone ON {STAGE} (phone, line)")
        file = ", ".join(Path(p).name for p in self.report.files)
        conflicts = self._fetch(
            f"""
            SELECT a.line, MIN(b.line) FROM {STAGE} a JOIN {STAGE} b ON b.phone = a.phone AND b.line < a.line
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
        points = ContactPoint._meta.db_table
        people = Person._meta.db_table
        rows = self._fetch(
            f"""
            SELECT s.line FROM {STAGE} s
            JOIN {points} c ON c.address = s.phone AND c.channel IN (%s, %s)
            JOIN {people} p ON p.id = c.person_id
            WHERE p.phone <> s.phone ORDER BY s.line LIMIT {MAX_ERRORS}
            """,
            PHONE_CHANNELS,
        )
        file = ", ".join(Path(p).name for p in self.report.files)
        for (line,) in rows:
            self.report.error(file, line, "phone", _("this number is a contact of another person"))

    # --- reconciling the stage with the registry -----------------------------------------------------

    def _reconcile(self) -> None:
        ops = connection.ops
        now = ops.adapt_datetimefield_value(self.now)
        today = ops.adapt_datefield_value(self.today)
        people = Person._meta.db_table
        points = ContactPoint._meta.db_table
        consents = Consent._meta.db_table
        posts = Post._meta.db_table
        first = f"s.line = (SELECT MIN(f.line) FROM {STAGE} f WHERE f.phone = s.phone)"

        # Booth-level posts of people who moved booth: ended, so they stop counting at the old booth.
        old_booths = self._fetch(
            f"""
            SELECT DISTINCT p.booth_id FROM {posts} p JOIN {people} pe ON pe.id = p.person_id
            JOIN {STAGE} s ON s.phone = pe.phone AND s.level = %s AND s.role = p.role
            WHERE p.level = %s AND p.booth_id <> s.booth_id AND (p.ended_on IS NULL OR p.ended_on > %s)
            """,
            [Level.BOOTH, Level.BOOTH, today],
        )
        ended = self._execute(
            f"""
            UPDATE {posts} SET ended_on = %s, updated_at = %s
            WHERE level = %s AND (ended_on IS NULL OR ended_on > %s) AND EXISTS (
                SELECT 1 FROM {people} pe JOIN {STAGE} s ON s.phone = pe.phone
                WHERE pe.id = {posts}.person_id AND s.level = %s AND s.role = {posts}.role
                  AND s.booth_id <> {posts}.booth_id)
            """,
            [today, now, Level.BOOTH, today, Level.BOOTH],
        )
        counts = self.report.count(_("people"))
        counts.updated = self._execute(
            f"""
            UPDATE {people} SET name = s.name, name_key = s.name_key, home_booth_id = s.booth_id,
                language = s.language, gender = s.gender, birth_date = s.birth_date,
                age = s.age, age_on = CASE WHEN s.age IS NULL THEN NULL ELSE {self._date} END, updated_at = %s
            FROM {STAGE} s
            WHERE {people}.phone = s.phone AND {first}
              AND ({people}.name <> s.name OR {self._differs(f"{people}.home_booth_id", "s.booth_id")}
                   OR {people}.language <> s.language OR {people}.gender <> s.gender
                   OR {self._differs(f"{people}.birth_date", "s.birth_date")}
                   OR {self._differs(f"{people}.age", "s.age")})
            """,
            [today, now],
        )
        counts.created = self._execute(
            f"""
            INSERT INTO {people} (name, name_key, phone, birth_date, age, age_on, gender, language,
                                  home_booth_id, source, created_at, updated_at)
            SELECT s.name, s.name_key, s.phone, s.birth_date, s.age,
                   CASE WHEN s.age IS NULL THEN NULL ELSE {self._date} END, s.gender, s.language, s.booth_id, s.source, %s, %s
            FROM {STAGE} s
            WHERE {first} AND NOT EXISTS (SELECT 1 FROM {people} p WHERE p.phone = s.phone)
            """,
            [today, now, now],
        )
        distinct = self._fetch(f"SELECT COUNT(DISTINCT phone) FROM {STAGE}")[0][0]
        counts.unchanged = distinct - counts.created - counts.updated

        point_counts = self.report.count(_("contact points"))
        consent_counts = self.report.count(_("consents"))
        notice = services.notice_version()
        for channel in PHONE_CHANNELS:
            point_counts.created += self._execute(
                f"""
                INSERT INTO {points} (person_id, channel, address, wa_user_id, consent_live, created_at, updated_at)
                SELECT p.id, %s, s.phone, '', FALSE, %s, %s
                FROM {STAGE} s JOIN {people} p ON p.phone = s.phone
                WHERE {first} AND s.{channel} AND NOT EXISTS (
                    SELECT 1 FROM {points} c WHERE c.channel = %s AND c.address = s.phone)
                """,
                [channel, now, now, channel],
            )
            # A consent only when the file's is newer than anything recorded on that contact point:
            # a later withdrawal (or a live consent) wins, so a re-import never resurrects consent.
            added = self._execute(
                f"""
                INSERT INTO {consents} (contact_point_id, given_at, source, notice_version, notice_language,
                                        withdrawn_at, withdrawn_via)
                SELECT c.id, s.consent_at, s.source, %s, s.language, NULL, ''
                FROM {STAGE} s JOIN {points} c ON c.channel = %s AND c.address = s.phone
                WHERE {first} AND s.{channel} AND NOT EXISTS (
                    SELECT 1 FROM {consents} k WHERE k.contact_point_id = c.id
                      AND (k.withdrawn_at IS NULL OR k.withdrawn_at >= s.consent_at OR k.given_at >= s.consent_at))
                """,
                [notice, channel],
            )
            consent_counts.created += added
            if added:
                self._execute(
                    f"""
                    UPDATE {points} SET consent_live = TRUE
                    WHERE channel = %s AND consent_live = FALSE AND EXISTS (
                        SELECT 1 FROM {consents} k WHERE k.contact_point_id = {points}.id AND k.withdrawn_at IS NULL)
                    """,
                    [channel],
                )
        stale = self._fetch(
            f"""
            SELECT s.line, MAX(k.withdrawn_at) FROM {STAGE} s
            JOIN {points} c ON c.address = s.phone AND c.channel IN (%s, %s) AND c.consent_live = FALSE
            JOIN {consents} k ON k.contact_point_id = c.id
            WHERE {first} GROUP BY s.line ORDER BY s.line LIMIT 100
            """,
            PHONE_CHANNELS,
        )
        file = ", ".join(Path(p).name for p in self.report.files)
        for line, withdrawn in stale:
            self.report.warning(
                file,
                line,
                "consent_at",
                _("consent was withdrawn (%(when)s) after the consent in this file; it stays withdrawn")
                % {"when": str(withdrawn)[:16]},
            )

        post_counts = self.report.count(_("posts"))
        post_counts.updated = ended
        same_unit = " AND ".join(f"{self._same(f'p.{column}', f's.{column}')}" for column in _LEVEL_COLUMNS)
        post_counts.created = self._execute(
            f"""
            INSERT INTO {posts} (person_id, role, level, state_id, district_id, ac_id, block_id, panchayat_id,
                                 booth_id, started_on, ended_on, referred_by_id, created_at, updated_at)
            SELECT pe.id, s.role, s.level, s.state_id, s.district_id, s.ac_id, s.block_id, s.panchayat_id,
                   s.post_booth_id, %s, NULL, NULL, %s, %s
            FROM {STAGE} s JOIN {people} pe ON pe.phone = s.phone
            WHERE s.line = (SELECT MIN(f.line) FROM {STAGE} f WHERE f.phone = s.phone AND f.role = s.role)
              AND NOT EXISTS (
                SELECT 1 FROM {posts} p WHERE p.person_id = pe.id AND p.role = s.role AND {same_unit.replace("s.booth_id", "s.post_booth_id")}
                  AND (p.ended_on IS NULL OR p.ended_on > %s))
            """,
            [today, now, now, today],
        )
        post_counts.unchanged = self._fetch(f"SELECT COUNT(*) FROM {STAGE}")[0][0] - post_counts.created
        if (
            counts.created
            or counts.updated
            or point_counts.created
            or consent_counts.created
            or post_counts.created
            or ended
        ):
            booths = [row[0] for row in self._fetch(f"SELECT DISTINCT booth_id FROM {STAGE}")]
            services.recount_booths([*booths, *(b for (b,) in old_booths)], day=self.today)

    @property
    def _date(self) -> str:
        """A date parameter inside CASE, where PostgreSQL cannot infer its type from a column."""
        return "%s::date" if self.postgres else "%s"

    def _same(self, a: str, b: str) -> str:
        return f"{a} IS NOT DISTINCT FROM {b}" if self.postgres else f"{a} IS {b}"


def sample_rows() -> Iterator[str]:
    """The README's example file, also used by the tests."""
    yield "name,phone,booth,post,age,consent_source,consent_at,language"
    yield "रमेश कुमार,98765 43210,178-1,yuva saathi,24,form,2026-10-02,hi"
    yield "Sunita Devi,+91 91234 56789,178-1A,booth_president,31,referral,2026-10-02 18:30,en"
