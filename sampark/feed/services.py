"""Every change the volunteer feed makes: personal links, shares, "I posted it", view counts and
click-to-chat assignments. Typed, keyword-only, transactional; views only parse and call these.

**Links.** A link's token is 24 random bytes (``secrets.token_urlsafe``: 32 URL-safe characters, 192
bits); only its SHA-256 is stored, under a unique index, so a database dump opens no feed and a lookup
is one index probe. A random secret looked up by its hash needs no signature: a forged token simply
has no row (and a timing probe learns nothing, since the attacker cannot steer the hash). Issuing a
link revokes the person's live one in the same transaction (rotation); the partial unique constraint
``feed_link_live`` keeps it at one live link per person even under races.

**View counts.** :class:`~sampark.feed.models.TickReach` counts first views per tick and booth. "First"
comes from a watermark on the link, ``seen_tick_id``: tick ids grow in publication order (one ticker
publishes, under a lease), and a feed always shows the newest ticks, so the ticks above the watermark
are exactly the ones this person has not been shown before. Counting moves the watermark with a
compare-and-set UPDATE, then runs one ``INSERT … ON CONFLICT DO UPDATE SET views = views + 1`` for all
the shown ticks (SQLite ≥ 3.24 and PostgreSQL): two statements whatever the number of ticks, and none
at all on a reload or a poll that brings no new tick. No row per view: ten lakh
volunteers × a tick every 25 s would be billions of rows a day.

**Assignments.** A unit's consenting WhatsApp contacts (placed as every audience is: home booth or an
active post in the unit) are ordered by name and cut into consecutive batches of ``batch_size``;
batch *k* goes to volunteer *k mod V* (volunteers ordered by id), so every contact is assigned and
each volunteer's share differs by at most one batch. A volunteer marks each contact by hand; "asked
to stop" withdraws that contact point's consent at once.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sampark.content.models import Item
from sampark.core.db import short_write
from sampark.core.text import clean
from sampark.people import coverage
from sampark.people import services as people
from sampark.people.models import Channel, ContactPoint, Person, Post, Role
from sampark.people.scope import Action, Scope, scope_for
from sampark.streams.models import Tick
from sampark.territory.models import Booth, Panchayat

from .models import Acknowledgement, Assignment, AssignmentContact, FeedLink, Share, TickReach

TOKEN_BYTES = 24
# token_urlsafe(24) is exactly 32 characters of [A-Za-z0-9_-]; anything else is refused unhashed.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
LAST_USED_EVERY = datetime.timedelta(minutes=1)
MAX_LINK_DAYS = 366
MAX_BATCH = 200
AI_LABEL = "AI-generated / कृत्रिम"  # the same words everywhere, in both languages, never translated
VOLUNTEER_ROLES = (Role.BOOTH_VOLUNTEER, Role.BOOTH_PRESIDENT)
Status = AssignmentContact.Status
Target = Share.Target


class FeedError(ValueError):
    """A change refused for a reason the user can act on (a translated sentence), naming its field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# --- links ------------------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


@transaction.atomic
def link_issue(
    *, person: Person, by: Any = None, days: int = 180, now: datetime.datetime | None = None
) -> tuple[FeedLink, str]:
    """A new personal link for ``person`` and its token (shown once, never stored); the live link, if
    any, is revoked in the same transaction. ``by``: the user issuing it, who must be allowed to change
    the person (``None``: the system — commands, benchmarks)."""
    if by is not None and not Person.objects.visible_to(by, Action.CHANGE).filter(pk=person.pk).exists():
        raise FeedError("person", _("you may issue feed links only to people you may change"))
    if not 1 <= days <= MAX_LINK_DAYS:
        raise FeedError("days", _("a link lasts from 1 to %(n)s days") % {"n": MAX_LINK_DAYS})
    now = now or timezone.now()
    live = FeedLink.objects.select_for_update().filter(person=person, revoked_at__isnull=True)
    seen = max((link.seen_tick_id for link in live), default=0)
    live.update(revoked_at=now)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = FeedLink.objects.create(
        person=person,
        token_hash=token_hash(token),
        expires_at=now + datetime.timedelta(days=days),
        seen_tick_id=seen,  # a new link is not a new person: ticks seen stay seen
    )
    return link, token


def link_revoke(*, person: Person, now: datetime.datetime | None = None) -> int:
    """Revoke the person's live link (the URL stops working at once); returns how many were revoked."""
    return FeedLink.objects.filter(person=person, revoked_at__isnull=True).update(
        revoked_at=now or timezone.now()
    )


@dataclass(frozen=True, slots=True)
class FeedAccess:
    """What a valid token opens, read in one statement: the link, and lean stand-ins for its person and
    home booth carrying only ids and language — enough for a poll, a share, a mark. A page that shows
    the person's name loads the full person (:func:`person_for_token`)."""

    link: FeedLink  # pk, person_id, seen_tick_id
    person: Person  # pk, language, home_booth_id
    booth: Booth | None  # pk and ancestor ids


@cache
def _access_sql() -> str:
    """The token lookup: a join by primary keys from the unique token hash. Plain SQL, written once:
    it runs on every poll of every open feed, and building it with the ORM cost 20× more (344 µs
    against 16 µs, bench/feed.py's machine)."""
    q = connection.ops.quote_name
    link, person, booth = (q(m._meta.db_table) for m in (FeedLink, Person, Booth))
    return (
        f"SELECT l.id, l.person_id, l.seen_tick_id, l.last_used_at IS NULL OR l.last_used_at <= %s, "
        f"p.language, b.id, b.state_id, b.district_id, b.ac_id, b.block_id, b.panchayat_id "
        f"FROM {link} l JOIN {person} p ON p.id = l.person_id LEFT JOIN {booth} b ON b.id = p.home_booth_id "
        f"WHERE l.token_hash = %s AND l.revoked_at IS NULL AND l.expires_at > %s"
    )


def link_for_token(token: str, now: datetime.datetime) -> FeedAccess | None:
    """What ``token`` opens: its live, unexpired link; ``None`` for a malformed, unknown, revoked or
    expired token (all alike: the feed answers 404 to each). Records the use at most once a minute,
    so a feed polled every 10 s costs one write a minute, not six."""
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        return None
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(_access_sql(), [adapt(now - LAST_USED_EVERY), token_hash(token), adapt(now)])
        row = cursor.fetchone()
    if row is None:
        return None
    link_id, person_id, seen, stale, language, booth_id, *ancestors = row
    if stale:
        with short_write():
            FeedLink.objects.filter(pk=link_id).update(last_used_at=now)
    booth = None
    if booth_id is not None:
        state_id, district_id, ac_id, block_id, panchayat_id = ancestors
        booth = Booth(
            pk=booth_id,
            state_id=state_id,
            district_id=district_id,
            ac_id=ac_id,
            block_id=block_id,
            panchayat_id=panchayat_id,
        )
    return FeedAccess(
        link=FeedLink(pk=link_id, person_id=person_id, seen_tick_id=seen),
        person=Person(pk=person_id, language=language, home_booth_id=booth_id),
        booth=booth,
    )


def person_for_token(token: str, now: datetime.datetime) -> Person | None:
    """The person ``token`` opens the feed of (with their home booth), or ``None``."""
    access = link_for_token(token, now)
    if access is None:
        return None
    return Person.objects.select_related("home_booth").get(pk=access.person.pk)


# --- sharing ----------------------------------------------------------------------------------------


def web_url(value: str) -> str:
    """``value`` if it is an http(s) address, else empty: an item's link and image become ``href`` and
    ``src`` on the feed, where ``javascript:`` and the like must never reach."""
    return value if value.lower().startswith(("https://", "http://")) else ""


def share_text(item: Item, language: str) -> str:
    """What a volunteer shares: the label for synthetic content, the text in their language, the
    hashtags and the link, one per line (the Copy button joins the card's lines the same way)."""
    lines = [AI_LABEL] if item.ai_generated else []
    lines += [item.text_for(language), item.hashtags, web_url(item.link)]
    return "\n".join(line for line in lines if line)


def _query(**params: str) -> str:
    return urlencode(params, quote_via=quote)


def share_url(target: str, text: str, link: str = "") -> str:
    """The public share intent of ``target`` for ``text`` (which already ends with ``link`` when there is
    one). Telegram and Facebook need a URL: Telegram gets the text as its URL when there is no link;
    Facebook shares only a link, so there is no Facebook intent without one (empty string)."""
    if target == Target.WHATSAPP:
        return f"https://wa.me/?{_query(text=text)}"
    if target == Target.TELEGRAM:
        if not link:
            return f"https://t.me/share/url?{_query(url=text)}"
        body = text.removesuffix(link).rstrip("\n")
        return f"https://t.me/share/url?{_query(url=link, text=body)}"
    if target == Target.X:
        return f"https://twitter.com/intent/tweet?{_query(text=text)}"
    if target == Target.FACEBOOK:
        return f"https://www.facebook.com/sharer/sharer.php?{_query(u=link)}" if link else ""
    raise FeedError("target", _("unknown share target"))


def wa_me_link(number: str, text: str) -> str:
    """Click-to-chat: WhatsApp opens a chat with ``number`` (E.164, any punctuation) with ``text`` typed
    in; a human presses send."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return f"https://wa.me/{digits}?{_query(text=text)}"


def share_record(*, person: Person, tick: Tick, target: str) -> Share:
    if target not in Target.values:
        raise FeedError("target", _("unknown share target"))
    return Share.objects.create(
        person=person, tick=tick, item_id=tick.item_id, booth_id=person.home_booth_id, target=target
    )


def acknowledge(*, person: Person, tick: Tick) -> Acknowledgement:
    """ "I posted it": once per person and tick; pressing it again returns the first one."""
    existing = Acknowledgement.objects.filter(person=person, tick=tick).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Acknowledgement.objects.create(
                person=person, tick=tick, item_id=tick.item_id, booth_id=person.home_booth_id
            )
    except IntegrityError:  # a double tap raced us to it
        return Acknowledgement.objects.get(person=person, tick=tick)


# --- view counts ------------------------------------------------------------------------------------


class Shown(Protocol):
    """A tick as shown: a :class:`Tick` or a lean row of one."""

    @property
    def pk(self) -> Any: ...

    @property
    def item_id(self) -> Any: ...


def count_views(*, person: Person, ticks: Sequence[Shown], link: FeedLink | None = None) -> int:
    """Count ``ticks`` as shown to ``person`` (through ``link``, default their live link): each tick
    above the link's watermark adds one view for the person's home booth. Returns how many ticks were
    counted — 0 when every one was shown before (also by another tab of the same person)."""
    link = link or FeedLink.objects.filter(person=person, revoked_at__isnull=True).first()
    if link is None or not ticks:
        return 0
    for _attempt in range(3):
        seen = link.seen_tick_id
        fresh = [tick for tick in ticks if tick.pk > seen]
        if not fresh:
            return 0  # the common case of a reload: no write at all
        newest = max(tick.pk for tick in fresh)
        # short_write: a poll that counts waits its turn on the fair writers' lock, not on SQLite's
        # sleeping busy handler behind a broadcast's records and status drains (polls p99 ~0.5 s).
        with short_write():
            # Compare-and-set on the watermark: of two tabs of one person counting at once, one moves
            # it; the other reads it again and counts only what is still above it.
            moved = FeedLink.objects.filter(pk=link.pk, seen_tick_id=seen).update(seen_tick_id=newest)
            if moved:
                link.seen_tick_id = newest
                if person.home_booth_id is not None:
                    _add_views(fresh, person.home_booth_id)
                return len(fresh) if person.home_booth_id is not None else 0
        link.seen_tick_id = (
            FeedLink.objects.filter(pk=link.pk).values_list("seen_tick_id", flat=True).first() or 0
        )
    return 0


def _add_views(ticks: Sequence[Shown], booth_id: int) -> None:
    """One view more for each tick from ``booth_id``: a single upsert, whatever the number of ticks."""
    table = connection.ops.quote_name(TickReach._meta.db_table)
    rows = ", ".join(["(%s, %s, %s, 1)"] * len(ticks))
    params: list[int] = []
    for tick in ticks:
        params += [tick.pk, tick.item_id, booth_id]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (tick_id, item_id, booth_id, views) VALUES {rows} "
            f"ON CONFLICT (tick_id, booth_id) DO UPDATE SET views = {table}.views + 1",
            params,
        )


# --- click-to-chat assignments ----------------------------------------------------------------------


def personalise(template: str, name: str) -> str:
    """``{name}`` becomes ``name``; nothing else in the template means anything (no ``str.format``: a
    stray brace or ``{0.__class__}`` typed by a coordinator is just text)."""
    return template.replace("{name}", name)


def _unit_scope(unit: Booth | Panchayat) -> Scope:
    if isinstance(unit, Booth):
        return Scope(booths=frozenset([unit.pk]))
    return Scope(panchayats=frozenset([unit.pk]))


def assignment_unit(key: str) -> Booth | Panchayat:
    """The booth or panchayat ``key`` names (``booth:1-2``, ``panchayat:5001``, ``panchayat:#7``)."""
    try:
        unit = coverage.parse_unit(key)
    except coverage.UnknownUnit as exc:
        raise FeedError("unit_key", str(exc)) from exc
    if not isinstance(unit, Booth | Panchayat):
        raise FeedError("unit_key", _("an assignment is for one booth or one panchayat"))
    return unit


def volunteers_of(unit: Booth | Panchayat, *, day: datetime.date | None = None) -> list[int]:
    """Ids of the people with an active booth volunteer or booth president post in ``unit``."""
    posts = Post.objects.active(day or timezone.localdate()).filter(role__in=VOLUNTEER_ROLES)
    posts = posts.filter(booth_id=unit.pk) if isinstance(unit, Booth) else posts.filter(panchayat_id=unit.pk)
    return sorted(set(posts.values_list("person_id", flat=True)))


def split(contacts: Sequence[int], volunteers: Sequence[int], batch_size: int) -> list[tuple[int, int]]:
    """(contact, volunteer) pairs: consecutive batches of ``batch_size``, batch k to volunteer k mod V."""
    return [(contact, volunteers[(i // batch_size) % len(volunteers)]) for i, contact in enumerate(contacts)]


@transaction.atomic
def assignment_create(
    *, by: Any, title: str, template: str, unit_key: str, batch_size: int = 25
) -> Assignment:
    """A click-to-chat assignment over the consenting WhatsApp contacts of a booth or panchayat (people
    placed there, the volunteers themselves left out), split among its booth volunteers and booth
    presidents. ``by``: the user creating it, whose broadcast scope must contain the unit."""
    scope = scope_for(by, Action.BROADCAST)
    title = clean(title)[:120]
    template = "\n".join(clean(line) for line in (template or "").splitlines()).strip()
    if not title:
        raise FeedError("title", _("give the assignment a title"))
    if not template:
        raise FeedError("template", _("write the message"))
    if not 1 <= batch_size <= MAX_BATCH:
        raise FeedError("batch_size", _("a batch has from 1 to %(n)s contacts") % {"n": MAX_BATCH})
    unit = assignment_unit(unit_key)
    if not scope.contains(unit):
        raise FeedError("unit_key", _("you may create assignments only inside your own area"))
    volunteers = volunteers_of(unit)
    if not volunteers:
        raise FeedError("unit_key", _("nobody holds a booth volunteer or booth president post here"))
    contacts = list(
        ContactPoint.objects.visible_to(_unit_scope(unit))
        .filter(channel=Channel.WHATSAPP, consent_live=True)
        .exclude(person_id__in=volunteers)
        .order_by("person__name_key", "person_id", "pk")
        .values_list("pk", flat=True)
    )
    if not contacts:
        raise FeedError("unit_key", _("nobody here has live consent for WhatsApp"))
    assignment = Assignment.objects.create(
        title=title, template=template, created_by=by, unit_key=coverage.unit_key(unit), batch_size=batch_size
    )
    AssignmentContact.objects.bulk_create(
        AssignmentContact(assignment=assignment, contact_point_id=contact, volunteer_id=volunteer)
        for contact, volunteer in split(contacts, volunteers, batch_size)
    )
    return assignment


@transaction.atomic
def assignment_mark(*, volunteer: Person, contact: AssignmentContact, status: str) -> AssignmentContact:
    """The assigned volunteer records what happened. "Asked to stop" withdraws the contact point's
    consent (``via="assignment"``) and cannot be changed afterwards: the person said no."""
    if status not in Status.values:
        raise FeedError("status", _("unknown status"))
    row = AssignmentContact.objects.select_for_update().filter(pk=contact.pk).first()
    if row is None or row.volunteer_id != volunteer.pk:
        raise FeedError("volunteer", _("this contact is assigned to someone else"))
    if row.status == Status.STOPPED and status != Status.STOPPED:
        raise FeedError("status", _("this person asked to stop; their consent is withdrawn"))
    if status == Status.STOPPED and row.status != Status.STOPPED:
        point = ContactPoint.objects.get(pk=row.contact_point_id)
        people.consent_withdraw(contact_point=point, via="assignment")
    row.status = status
    row.save(update_fields=["status", "updated_at"])
    contact.status = row.status
    return row
