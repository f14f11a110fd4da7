"""The people CSV: one row per person, streamed a chunk at a time as plain values."""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterator
from itertools import islice
from typing import Any

from django.db.models import CharField, QuerySet
from django.db.models.functions import Cast

from .models import Channel, ContactPoint, Level, Person, Post
from .scope import Action

CHUNK = 2000
HEADER = (
    "name",
    "phone",
    "booth_code",
    "posts",
    *(f"consent_{channel}" for channel in Channel.values),
    "language",
)
# A cell starting with one of these is a formula to a spreadsheet: names are typed by anyone.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose ``write`` hands the line back, for :func:`csv.writer`."""

    def write(self, value: str) -> str:
        return value


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA) else value


def _unit(level: str, values: tuple[Any, ...]) -> str:
    """``coverage.unit_key`` from plain values (no model instances for ten lakh rows)."""
    state, district, ac, block_lgd, block_id, panchayat_lgd, panchayat_id, booth = values
    if level == Level.STATE:
        return f"state:{state}"
    if level == Level.DISTRICT:
        return f"district:{district}"
    if level == Level.AC:
        return f"ac:{ac}"
    if level == Level.BLOCK:
        return f"block:{block_lgd}" if block_lgd else f"block:#{block_id}"
    if level == Level.PANCHAYAT:
        return f"panchayat:{panchayat_lgd}" if panchayat_lgd else f"panchayat:#{panchayat_id}"
    return f"booth:{booth}"


def csv_lines(people: QuerySet[Person], *, user: Any, action: Action, day: datetime.date) -> Iterator[str]:
    """The CSV, a chunk of people at a time: their columns, then their posts and contact points for the
    chunk, all as plain values through the same scope (``visible_to``). Building model instances cost
    ~0.5 ms a person (14 s for a district of 25 thousand); values cost a fraction.

    Phone numbers in full: the export needs a district coordinator's rank, which sees numbers too
    (``scope.ACTION_MIN_RANK``); posts as ``role@unit`` (active ones, in the exporter's scope); consent
    per channel ``yes`` (live), ``no`` (a contact point without live consent) or empty (none).
    """
    writer = csv.writer(_Echo())
    # A byte-order mark so spreadsheet programs read the Devanagari as UTF-8.
    yield "\ufeff" + writer.writerow(HEADER)
    # The stored E.164 text as is: the phone field's converter would parse every number again.
    rows = (
        people.order_by("pk")
        .values_list("pk", "name", Cast("phone", CharField()), "home_booth__code", "language")
        .iterator(chunk_size=CHUNK)
    )
    while chunk := list(islice(rows, CHUNK)):
        ids = [person[0] for person in chunk]
        posts: dict[int, list[str]] = {}
        for person_id, role, level, *unit in (
            Post.objects.active(day)
            .visible_to(user, action)
            .filter(person_id__in=ids)
            .order_by("person_id", "id")
            .values_list(
                "person_id",
                "role",
                "level",
                "state__lgd_code",
                "district__lgd_code",
                "ac__number",
                "block__lgd_code",
                "block_id",
                "panchayat__lgd_code",
                "panchayat_id",
                "booth__code",
            )
        ):
            posts.setdefault(person_id, []).append(f"{role}@{_unit(level, tuple(unit))}")
        consent: dict[int, dict[str, str]] = {}
        for person_id, channel, live in (
            ContactPoint.objects.visible_to(user, action)
            .filter(person_id__in=ids)
            .values_list("person_id", "channel", "consent_live")
        ):
            mine = consent.setdefault(person_id, {})
            if live:
                mine[channel] = "yes"
            else:
                mine.setdefault(channel, "no")
        for person_id, name, phone, booth_code, language in chunk:
            mine = consent.get(person_id, {})
            yield writer.writerow(
                [
                    _cell(name),
                    phone,
                    booth_code or "",
                    "; ".join(posts.get(person_id, [])),
                    *(mine.get(channel, "") for channel in Channel.values),
                    language,
                ]
            )
