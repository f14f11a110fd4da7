"""Read-only queries behind the volunteer feed and the coordinator pages.

A volunteer's feed is the ticks of ``streams_for_booth(home booth)`` — their booth's streams and every
ancestor's — newest first; nothing else is ever looked up for a feed token. The first page reads each
stream's newest ticks through the ``(stream, published_at)`` index (a handful of streams per booth,
each an index range of ``limit`` rows); a poll asks only for ticks above the newest id shown, a range
of the primary key that is empty nearly every time. Coordinators see assignments inside their
broadcast scope (and their own), people through ``visible_to`` like every people page.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import Case, CharField, Count, Q, QuerySet, Value, When
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from sampark.content.models import Item
from sampark.people.models import Person
from sampark.people.scope import Action, scope_for
from sampark.streams.models import Tick
from sampark.streams.services import streams_for_booth
from sampark.territory.models import Booth, Panchayat

from .models import Acknowledgement, Assignment, AssignmentContact, FeedLink

FEED_SIZE = 12  # cards on a page: with a batch of 25 contacts the first load stays well under 60 KB
# Above this many streams for one booth, one query over all of them beats one query per stream.
PER_STREAM_UP_TO = 8
OPEN = (AssignmentContact.Status.PENDING, AssignmentContact.Status.SENT)
Status = AssignmentContact.Status


# --- the feed ---------------------------------------------------------------------------------------


class _Attr(str):
    """A parameter slot of a compiled query that takes the booth attribute of this name."""


# Stand-ins for a booth's ids while compiling; negative, so no real id or literal can be mistaken for one.
_MARKERS = {
    "pk": -970_001,
    "state_id": -970_002,
    "district_id": -970_003,
    "ac_id": -970_004,
    "block_id": -970_005,
    "panchayat_id": -970_006,
}


@lru_cache(maxsize=16)
def _streams_sql(vendor: str, has_block: bool, has_panchayat: bool) -> tuple[str, tuple[Any, ...]]:
    """``streams_for_booth``'s own query, compiled once per shape of booth (with or without a block and
    a panchayat) with marker ids in the booth's place; the parameters name the booth attribute each
    marker stood for. A poll then pays for neither the ORM's query building (0.6 ms) nor a copy of the
    rule: the streams app still decides which streams a booth sees."""
    values = dict(_MARKERS)
    if not has_block:
        values["block_id"] = None  # type: ignore[assignment]
    if not has_panchayat:
        values["panchayat_id"] = None  # type: ignore[assignment]
    booth = Booth(**values)
    sql, params = streams_for_booth(booth).values("pk").query.sql_with_params()
    names = {marker: _Attr(name) for name, marker in _MARKERS.items()}
    return sql, tuple(names.get(param, param) if isinstance(param, int) else param for param in params)


class TickRow(NamedTuple):
    """A tick as a poll needs it: enough to count the view and to find its card already rendered."""

    pk: int
    item_id: int
    version: Any  # the item's last change: a card is rendered again after any edit


def new_ticks(booth: Booth | None, after: int, limit: int = FEED_SIZE) -> list[TickRow]:
    """The newest ticks above ``after`` in the streams ``booth`` sees, newest first, items still
    approved (a poll: nearly always none). One statement over the tick primary key, built once."""
    if booth is None:
        return []
    sql, slots = _streams_sql(connection.vendor, booth.block_id is not None, booth.panchayat_id is not None)
    params = [getattr(booth, slot) if isinstance(slot, _Attr) else slot for slot in slots]
    q = connection.ops.quote_name
    tick, item = q(Tick._meta.db_table), q(Item._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.id, t.item_id, i.updated_at, i.state FROM {tick} t JOIN {item} i ON i.id = t.item_id "
            f"WHERE t.id > %s AND t.stream_id IN ({sql}) ORDER BY t.id DESC LIMIT %s",
            [after, *params, limit],
        )
        rows = cursor.fetchall()
    return [
        TickRow(pk, item_id, version) for pk, item_id, version, state in rows if state == Item.State.APPROVED
    ]


def feed_ticks(
    booth: Booth | None, *, after: int | None = None, before: int | None = None, limit: int = FEED_SIZE
) -> list[Tick]:
    """The newest ``limit`` ticks of the streams of ``booth`` and its ancestors (with their items),
    newest first; only those above tick id ``after`` (a poll) or below ``before`` (an older page).
    Ticks of items retired since are left out: a takedown empties every feed at its next load."""
    if booth is None:
        return []
    ticks: list[Tick]
    if after is not None:
        ids = [row.pk for row in new_ticks(booth, after, limit)]
        ticks = list(Tick.objects.filter(pk__in=ids).select_related("item")) if ids else []
    else:
        stream_ids = list(streams_for_booth(booth).values_list("pk", flat=True))
        if not stream_ids:
            return []
        below = Q(pk__lt=before) if before is not None else Q()
        if len(stream_ids) <= PER_STREAM_UP_TO:
            ticks = []
            for stream_id in stream_ids:
                ticks += (
                    Tick.objects.filter(below, stream_id=stream_id)
                    .select_related("item")
                    .order_by("-published_at", "-pk")[:limit]
                )
        else:
            ticks = list(
                Tick.objects.filter(below, stream_id__in=stream_ids)
                .select_related("item")
                .order_by("-pk")[:limit]
            )
    ticks = [tick for tick in ticks if tick.item.state == Item.State.APPROVED]
    ticks.sort(key=lambda tick: (tick.published_at, tick.pk), reverse=True)
    return ticks[:limit]


def tick_for(booth: Booth | None, tick_id: int) -> Tick | None:
    """A tick of one of the streams ``booth`` sees (with its item), or ``None``."""
    if booth is None:
        return None
    return (
        Tick.objects.filter(pk=tick_id, stream__in=streams_for_booth(booth).values("pk"))
        .select_related("item")
        .first()
    )


def volunteer(person_id: int) -> Person:
    """The whole person behind a feed link (the link lookup carries only ids and language)."""
    return Person.objects.select_related("home_booth").get(pk=person_id)


def acknowledged(person: Person, tick_ids: list[int]) -> set[int]:
    return set(
        Acknowledgement.objects.filter(person=person, tick_id__in=tick_ids).values_list("tick_id", flat=True)
    )


@dataclass
class Batch:
    """A volunteer's open contacts of one assignment (to do first, then sent and awaiting a reply)."""

    assignment: Assignment
    rows: list[AssignmentContact] = field(default_factory=list)
    done: int = 0
    total: int = 0

    @property
    def pending(self) -> int:
        return sum(1 for row in self.rows if row.status == Status.PENDING)


def batches_for(volunteer: Person, *, limit: int = 200) -> list[Batch]:
    """The volunteer's own assignment contacts, newest assignment first; at most ``batch_size`` open
    rows each. Contacts whose consent was withdrawn meanwhile (anywhere: a STOP on SMS, another
    volunteer's "asked to stop") drop out at once."""
    rows = list(
        AssignmentContact.objects.filter(
            volunteer=volunteer, status__in=OPEN, contact_point__consent_live=True
        )
        .select_related("assignment", "contact_point__person")
        .order_by("-assignment_id", "status", "pk")[:limit]
    )
    batches: dict[int, Batch] = {}
    for row in rows:
        batch = batches.setdefault(row.assignment_id, Batch(row.assignment))
        if len(batch.rows) < row.assignment.batch_size:
            batch.rows.append(row)
    counts = (
        AssignmentContact.objects.filter(volunteer=volunteer, assignment_id__in=list(batches))
        .order_by()
        .values("assignment_id", "status")
        .annotate(n=Count("pk"))
    )
    for count in counts:
        batch = batches[count["assignment_id"]]
        batch.total += count["n"]
        if count["status"] not in OPEN:
            batch.done += count["n"]
    return list(batches.values())


def contact_for(volunteer: Person, contact_id: int) -> AssignmentContact | None:
    """One of the volunteer's own assignment contacts (with its assignment, contact point and person)."""
    return (
        AssignmentContact.objects.filter(pk=contact_id, volunteer=volunteer)
        .select_related("assignment", "contact_point__person")
        .first()
    )


# --- coordinators -----------------------------------------------------------------------------------


def person_for(user: Any, person_id: int) -> Person | None:
    return (
        Person.objects.visible_to(user, Action.VIEW).select_related("home_booth").filter(pk=person_id).first()
    )


def may_change(user: Any, person: Person) -> bool:
    return Person.objects.visible_to(user, Action.CHANGE).filter(pk=person.pk).exists()


def live_link(person: Person, now: datetime.datetime | None = None) -> FeedLink | None:
    now = now or timezone.now()
    return FeedLink.objects.filter(person=person, revoked_at__isnull=True, expires_at__gt=now).first()


def may_assign(user: Any) -> bool:
    return not scope_for(user, Action.BROADCAST).nothing


def assignments_visible(user: Any) -> QuerySet[Assignment]:
    """Assignments the user created, and those of booths and panchayats inside their broadcast scope.

    An assignment names its unit by its canonical key (``booth:<code>``, ``panchayat:<LGD>`` or
    ``panchayat:#<id>``), so "inside the scope" compares it with the keys of the booths and panchayats
    in scope — two subqueries over indexed ancestor columns, the same subtrees ``Scope.contains`` uses.
    """
    scope = scope_for(user, Action.BROADCAST)
    if scope.everything:
        return Assignment.objects.all()
    mine = Q(created_by_id=user.pk) if user.is_authenticated else Q(pk__in=[])
    if scope.nothing:
        return Assignment.objects.filter(mine)
    text = CharField()
    booths = (
        Booth.objects.filter(scope.booths_q())
        .annotate(key=Concat(Value("booth:"), "code", output_field=text))
        .values("key")
    )
    in_scope = Q(pk__in=sorted(scope.panchayats)) | Q(district_id__in=sorted(scope.districts))
    in_scope |= Q(block_id__in=sorted(scope.blocks)) | Q(district__state_id__in=sorted(scope.states))
    panchayats = (
        Panchayat.objects.filter(in_scope)
        .annotate(
            key=Case(
                When(
                    lgd_code__isnull=False,
                    then=Concat(Value("panchayat:"), Cast("lgd_code", output_field=text), output_field=text),
                ),
                default=Concat(Value("panchayat:#"), Cast("pk", output_field=text), output_field=text),
                output_field=text,
            )
        )
        .values("key")
    )
    return Assignment.objects.filter(mine | Q(unit_key__in=booths) | Q(unit_key__in=panchayats))


def assignment_for(user: Any, pk: int) -> Assignment | None:
    return assignments_visible(user).select_related("created_by").filter(pk=pk).first()


@dataclass
class VolunteerProgress:
    person: Person
    counts: dict[str, int]
    total: int
    link: FeedLink | None

    @property
    def cells(self) -> list[tuple[str, int]]:
        return [(status, self.counts[status]) for status in Status.values]


@dataclass
class Progress:
    counts: dict[str, int]  # status → contacts, every status present
    total: int
    volunteers: list[VolunteerProgress]

    @property
    def done(self) -> int:
        return self.total - self.counts[Status.PENDING]

    @property
    def cells(self) -> list[tuple[str, int]]:
        return [(status, self.counts[status]) for status in Status.values]


def progress(assignment: Assignment) -> Progress:
    """Contacts per status, overall and per volunteer (with whether each has a live feed link)."""
    per_volunteer: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(Status.values, 0))
    rows = (
        AssignmentContact.objects.filter(assignment=assignment)
        .order_by()
        .values("volunteer_id", "status")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        per_volunteer[row["volunteer_id"]][row["status"]] = row["n"]
    people = Person.objects.in_bulk(list(per_volunteer))
    now = timezone.now()
    links = {
        link.person_id: link
        for link in FeedLink.objects.filter(
            person_id__in=list(per_volunteer), revoked_at__isnull=True, expires_at__gt=now
        )
    }
    totals = dict.fromkeys(Status.values, 0)
    volunteers = []
    for person_id, counts in per_volunteer.items():
        for status, n in counts.items():
            totals[status] += n
        volunteers.append(
            VolunteerProgress(people[person_id], counts, sum(counts.values()), links.get(person_id))
        )
    volunteers.sort(key=lambda v: (v.person.name_key, v.person.pk))
    return Progress(totals, sum(totals.values()), volunteers)


def progress_by_assignment(ids: list[int]) -> dict[int, tuple[int, int]]:
    """(done, total) per assignment, for a list page."""
    result = dict.fromkeys(ids, (0, 0))
    rows = (
        AssignmentContact.objects.filter(assignment_id__in=ids)
        .order_by()
        .values("assignment_id")
        .annotate(total=Count("pk"), done=Count("pk", filter=~Q(status=Status.PENDING)))
    )
    for row in rows:
        result[row["assignment_id"]] = (row["done"], row["total"])
    return result
