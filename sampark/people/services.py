"""Every change to people, consent and posts; each keeps the coverage rollup exact in the same transaction.

Typed, keyword-only, transactional. Views, commands, tasks, the importer and the admin call these; no
``save()`` override or signal does business logic.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sampark.core.text import clean, search_key
from sampark.territory.models import AssemblyConstituency, Block, Booth, District, Panchayat, State

from .models import (
    COUNTED_ROLES,
    ROLE_LEVEL,
    BoothCoverage,
    Channel,
    Consent,
    ContactPoint,
    Language,
    Level,
    Person,
    Post,
    Source,
    Tag,
)
from .phones import InvalidPhone, normalise_mobile

MIN_AGE = 18
# Past this many booths a full set-based recount is cheaper than a long IN list.
RECOUNT_ALL_ABOVE = 5000


class PeopleError(ValueError):
    """A change refused for a reason the user can act on (a translated sentence)."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def check_age(*, birth_date: datetime.date | None, age: int | None, today: datetime.date) -> None:
    """Refuse under-18s (the DPDP Act needs verifiable parental consent for children) and unknown ages."""
    if birth_date is not None:
        years = today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))
        if birth_date > today:
            raise PeopleError(_("the date of birth is in the future"), field="birth_date")
    elif age is not None:
        years = age
    else:
        raise PeopleError(_("give a date of birth or an age"), field="age")
    if years < MIN_AGE:
        raise PeopleError(_("under 18: children cannot be registered"), field="age")
    if years > 120:
        raise PeopleError(_("an age over 120 is not plausible"), field="age")


def notice_version() -> str:
    return str(settings.SAMPARK_CONSENT_NOTICE_VERSION)


@transaction.atomic
def person_register(
    *,
    name: str,
    phone: str,
    birth_date: datetime.date | None = None,
    age: int | None = None,
    gender: str = "",
    language: str = Language.HINDI,
    home_booth: Booth | None = None,
    source: str = Source.FORM,
    referred_by: Person | None = None,
    channels: Iterable[str] = (Channel.SMS, Channel.WHATSAPP),
    consent_at: datetime.datetime | None = None,
    recorded_by: Any = None,
    today: datetime.date | None = None,
) -> Person:
    """A new person with a consent on each of ``channels`` (their phone for SMS and WhatsApp).

    Nobody is registered without consent: ``channels`` must not be empty.
    """
    today = today or timezone.localdate()
    name = clean(name)
    if not name:
        raise PeopleError(_("a name is required"), field="name")
    try:
        e164 = normalise_mobile(phone)
    except InvalidPhone as exc:
        raise PeopleError(str(exc), field="phone") from exc
    check_age(birth_date=birth_date, age=age, today=today)
    channels = list(channels)
    if not channels:
        raise PeopleError(_("consent for at least one channel is required"), field="consent")
    if Person.objects.filter(phone=e164).exists():
        raise PeopleError(_("this mobile number is already registered"), field="phone")
    person = Person.objects.create(
        name=name,
        name_key=search_key(name),
        phone=e164,
        birth_date=birth_date,
        age=age if birth_date is None else None,
        age_on=today if birth_date is None else None,
        gender=gender,
        language=language,
        home_booth=home_booth,
        source=source,
        referred_by=referred_by,
    )
    for channel in channels:
        if channel not in (Channel.SMS, Channel.WHATSAPP):
            raise PeopleError(_("a phone number gives consent for SMS and WhatsApp only"), field="channels")
        point = ContactPoint.objects.create(person=person, channel=channel, address=e164)
        consent_give(
            contact_point=point,
            given_at=consent_at or timezone.now(),
            source=source,
            language=language,
            recorded_by=recorded_by,
        )
    return person


@transaction.atomic
def person_update(
    *, person: Person, name: str | None = None, home_booth: Booth | None = None, language: str | None = None
) -> Person:
    if name is not None:
        person.name = clean(name)
        person.name_key = search_key(person.name)
    if language is not None:
        person.language = language
    if home_booth is not None:
        person.home_booth = home_booth
    person.save()
    return person


@transaction.atomic
def consent_give(
    *,
    contact_point: ContactPoint,
    given_at: datetime.datetime,
    source: str,
    language: str,
    notice: str | None = None,
    recorded_by: Any = None,
) -> Consent:
    """Record consent on one contact point; giving it again while live returns the live consent."""
    point = ContactPoint.objects.select_for_update().get(pk=contact_point.pk)
    live = point.consents.filter(withdrawn_at__isnull=True).first()
    if live is not None:
        return live
    consent = Consent.objects.create(
        contact_point=point,
        given_at=given_at,
        source=source,
        notice_version=notice or notice_version(),
        notice_language=language,
        recorded_by=recorded_by,
    )
    if not point.consent_live:
        ContactPoint.objects.filter(pk=point.pk).update(consent_live=True)
        contact_point.consent_live = True
        _recount_person(point.person_id)
    return consent


@transaction.atomic
def consent_withdraw(
    *, contact_point: ContactPoint, at: datetime.datetime | None = None, via: str = "web"
) -> Consent | None:
    """Withdraw the live consent of one contact point (one action, as easy as giving); ``None`` if none."""
    point = ContactPoint.objects.select_for_update().get(pk=contact_point.pk)
    live = point.consents.filter(withdrawn_at__isnull=True).first()
    if live is None:
        return None
    live.withdrawn_at = at or timezone.now()
    live.withdrawn_via = via[:40]
    live.save(update_fields=["withdrawn_at", "withdrawn_via"])
    ContactPoint.objects.filter(pk=point.pk).update(consent_live=False)
    contact_point.consent_live = False
    _recount_person(point.person_id)
    return live


@transaction.atomic
def consent_withdraw_all(*, person: Person, at: datetime.datetime | None = None, via: str = "web") -> int:
    """Withdraw every live consent of a person; returns how many were withdrawn."""
    withdrawn = 0
    for point in person.contact_points.filter(consent_live=True):
        if consent_withdraw(contact_point=point, at=at, via=via) is not None:
            withdrawn += 1
    return withdrawn


def consent_withdraw_people(
    *, person_ids: Iterable[int], at: datetime.datetime | None = None, via: str = "web"
) -> int:
    """Withdraw every live consent of many people at once, set-based (a bulk opt-out); returns how many
    consents were withdrawn. Same outcome as :func:`consent_withdraw` on each contact point."""
    ids = sorted(set(person_ids))
    if not ids:
        return 0
    at = at or timezone.now()
    withdrawn = 0
    with transaction.atomic():
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            withdrawn += Consent.objects.filter(
                contact_point__person_id__in=chunk, withdrawn_at__isnull=True
            ).update(withdrawn_at=at, withdrawn_via=via[:40])
            ContactPoint.objects.filter(person_id__in=chunk, consent_live=True).update(consent_live=False)
        booths = Post.objects.filter(person_id__in=ids[:RECOUNT_ALL_ABOVE], role__in=COUNTED_ROLES)
        recount_booths(
            None if len(ids) > RECOUNT_ALL_ABOVE else booths.values_list("booth_id", flat=True).distinct()
        )
    return withdrawn


# --- posts ------------------------------------------------------------------------------------------

Unit = State | District | AssemblyConstituency | Block | Panchayat | Booth

_UNIT_LEVEL: dict[type[models.Model], str] = {
    State: Level.STATE,
    District: Level.DISTRICT,
    AssemblyConstituency: Level.AC,
    Block: Level.BLOCK,
    Panchayat: Level.PANCHAYAT,
    Booth: Level.BOOTH,
}


def unit_columns(unit: Unit) -> dict[str, int | None]:
    """The unit and its ancestors as the ``*_id`` columns a post (or any placed row) carries."""
    if isinstance(unit, State):
        return {"state_id": unit.pk}
    if isinstance(unit, District):
        return {"state_id": unit.state_id, "district_id": unit.pk}
    if isinstance(unit, AssemblyConstituency):
        return {"state_id": unit.state_id, "district_id": unit.district_id, "ac_id": unit.pk}
    if isinstance(unit, Block):
        return {"state_id": unit.district.state_id, "district_id": unit.district_id, "block_id": unit.pk}
    if isinstance(unit, Panchayat):
        return {
            "state_id": unit.district.state_id,
            "district_id": unit.district_id,
            "block_id": unit.block_id,
            "panchayat_id": unit.pk,
        }
    if isinstance(unit, Booth):
        return {
            "state_id": unit.state_id,
            "district_id": unit.district_id,
            "ac_id": unit.ac_id,
            "block_id": unit.block_id,
            "panchayat_id": unit.panchayat_id,
            "booth_id": unit.pk,
        }
    raise TypeError(f"not a territory unit: {unit!r}")


@transaction.atomic
def post_assign(
    *,
    person: Person,
    role: str,
    unit: Unit,
    started_on: datetime.date | None = None,
    ended_on: datetime.date | None = None,
    referred_by: Person | None = None,
) -> Post:
    """Give ``person`` the post ``role`` at ``unit`` (which must be of the role's level)."""
    level = ROLE_LEVEL.get(role)
    if level is None:
        raise PeopleError(_("unknown post"), field="post")
    if _UNIT_LEVEL.get(type(unit)) != level:
        raise PeopleError(_("this post is held at a different level of the territory"), field="unit")
    started_on = started_on or timezone.localdate()
    if ended_on is not None and ended_on < started_on:
        raise PeopleError(_("a post cannot end before it starts"), field="ended_on")
    post = Post.objects.create(
        person=person,
        role=role,
        level=level,
        started_on=started_on,
        ended_on=ended_on,
        referred_by=referred_by,
        **unit_columns(unit),
    )
    if post.booth_id is not None and role in COUNTED_ROLES:
        recount_booths([post.booth_id])
    return post


@transaction.atomic
def post_end(*, post: Post, ended_on: datetime.date | None = None) -> Post:
    """End a post (``ended_on`` is the first day without it; default today)."""
    ended_on = ended_on or timezone.localdate()
    if ended_on < post.started_on:
        raise PeopleError(_("a post cannot end before it starts"), field="ended_on")
    post.ended_on = ended_on
    post.save(update_fields=["ended_on", "updated_at"])
    if post.booth_id is not None and post.role in COUNTED_ROLES:
        recount_booths([post.booth_id])
    return post


# --- coverage rollup --------------------------------------------------------------------------------


def _recount_person(person_id: int) -> None:
    booth_ids = list(
        Post.objects.filter(person_id=person_id, role__in=COUNTED_ROLES, booth__isnull=False)
        .values_list("booth_id", flat=True)
        .distinct()
    )
    if booth_ids:
        recount_booths(booth_ids)


def recount_booths(booth_ids: Iterable[int] | None = None, *, day: datetime.date | None = None) -> None:
    """Rewrite :class:`BoothCoverage` from the posts and consents, set-based, for some booths or all.

    A booth's count is the number of distinct people with an active counted post there and at least one
    contact point with live consent. Runs on the caller's connection, so inside its transaction.
    """
    day = day or timezone.localdate()
    ids = None if booth_ids is None else sorted(set(booth_ids))
    if ids is not None and len(ids) > RECOUNT_ALL_ABOVE:
        ids = None
    if ids == []:
        return
    quote = connection.ops.quote_name
    coverage = quote(BoothCoverage._meta.db_table)
    posts = quote(Post._meta.db_table)
    points = quote(ContactPoint._meta.db_table)
    booths = quote(Booth._meta.db_table)
    roles = list(COUNTED_ROLES)
    when = connection.ops.adapt_datefield_value(day)
    only = ""
    params: list[Any] = [*roles, when, when, True]
    if ids is not None:
        only = f"AND p.booth_id IN ({', '.join(['%s'] * len(ids))})"
        params += ids
    with connection.cursor() as cursor:
        if ids is None:
            cursor.execute(f"DELETE FROM {coverage}")
        else:
            cursor.execute(f"DELETE FROM {coverage} WHERE booth_id IN ({', '.join(['%s'] * len(ids))})", ids)
        cursor.execute(
            f"""
            INSERT INTO {coverage} (booth_id, volunteers, state_id, district_id, ac_id, block_id, panchayat_id)
            SELECT p.booth_id, COUNT(DISTINCT p.person_id), b.state_id, b.district_id, b.ac_id, b.block_id,
                   b.panchayat_id
            FROM {posts} p JOIN {booths} b ON b.id = p.booth_id
            WHERE p.role IN ({", ".join(["%s"] * len(roles))})
              AND p.started_on <= %s AND (p.ended_on IS NULL OR p.ended_on > %s)
              AND EXISTS (SELECT 1 FROM {points} c WHERE c.person_id = p.person_id AND c.consent_live = %s)
              {only}
            GROUP BY p.booth_id, b.state_id, b.district_id, b.ac_id, b.block_id, b.panchayat_id
            """,
            params,
        )


def refresh_placements() -> int:
    """Re-copy booth ancestors onto booth-level posts and coverage rows after booths were relinked to
    blocks and panchayats (the panchayat mapping import calls this through its hook). Set-based; returns
    how many rows changed."""
    quote = connection.ops.quote_name
    booths = quote(Booth._meta.db_table)
    differs = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    changed = 0
    with connection.cursor() as cursor:
        for table, key in (
            (quote(Post._meta.db_table), "booth_id"),
            (quote(BoothCoverage._meta.db_table), "booth_id"),
        ):
            cursor.execute(
                f"""
                UPDATE {table} SET block_id = b.block_id, panchayat_id = b.panchayat_id,
                                   district_id = b.district_id, ac_id = b.ac_id
                FROM {booths} b
                WHERE b.id = {table}.{key}
                  AND ({table}.block_id {differs} b.block_id OR {table}.panchayat_id {differs} b.panchayat_id
                       OR {table}.district_id {differs} b.district_id OR {table}.ac_id {differs} b.ac_id)
                """
            )
            changed += cursor.rowcount
    return changed


def booths_with_posts_changing_on(day: datetime.date) -> list[int]:
    """Booths whose counted posts start or end on ``day`` (the nightly refresh recounts them)."""
    return list(
        Post.objects.filter(role__in=COUNTED_ROLES, booth__isnull=False)
        .filter(models.Q(started_on=day) | models.Q(ended_on=day))
        .values_list("booth_id", flat=True)
        .distinct()
    )


@transaction.atomic
def tags_set(*, person: Person, names: Iterable[str]) -> list[Tag]:
    """Give ``person`` exactly these tags (created when new; names cleaned, matched in any case)."""
    tags: list[Tag] = []
    for raw in names:
        name = clean(raw)[:60]
        if not name:
            continue
        tag = Tag.objects.filter(name__iexact=name).first() or Tag.objects.create(name=name)
        if tag not in tags:
            tags.append(tag)
    person.tags.set(tags)
    return tags
