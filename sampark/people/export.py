"""The people CSV: one row per person, streamed from a chunked iterator (prefetches run per chunk)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet

from . import coverage
from .models import Channel, Person

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


def row(person: Person) -> list[str]:
    """Phone numbers in full: the export needs a district coordinator's rank, which sees numbers too
    (``scope.ACTION_MIN_RANK``); posts as ``role@unit`` (active ones, in the exporter's scope); consent
    per channel ``yes`` (live), ``no`` (a contact point without live consent) or empty (none)."""
    consent: dict[str, str] = {}
    for point in getattr(person, "points", []):
        if point.consent_live:
            consent[point.channel] = "yes"
        else:
            consent.setdefault(point.channel, "no")
    posts = "; ".join(
        f"{post.role}@{coverage.unit_key(post.unit)}" for post in getattr(person, "active_posts", [])
    )
    return [
        _cell(person.name),
        str(person.phone),
        person.home_booth.code if person.home_booth else "",
        posts,
        *(consent.get(channel, "") for channel in Channel.values),
        person.language,
    ]


def csv_lines(people: QuerySet[Person] | Iterable[Any]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    # A byte-order mark so spreadsheet programs read the Devanagari as UTF-8.
    yield "\ufeff" + writer.writerow(HEADER)
    rows = people.iterator(chunk_size=CHUNK) if isinstance(people, QuerySet) else people
    for person in rows:
        yield writer.writerow(row(person))
