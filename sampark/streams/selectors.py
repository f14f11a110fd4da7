"""Reading streams and the war room, every query scoped to the reader.

Who sees what:

- **See a stream** (list, detail, war room): its unit lies inside the reader's VIEW scope (the subtrees
  of their active posts; superusers everything) — :func:`streams_visible`, the one queryset every page
  and the admin use. Anything else is a 404.
- **Create** a stream: a BROADCAST scope (panchayat coordinators and above), and the unit inside it
  (checked again by :func:`sampark.streams.services.stream_create`).
- **Pause and resume**: the stream's unit inside the reader's BROADCAST scope (:func:`may_manage`) —
  a block coordinator may stop the streams of their block, not the district's.
- **War room figures**: feed views, share taps and acknowledgements counted over the booths of the
  reader's VIEW scope only (the ``booth`` column every reach row carries); top sharers are named only
  when the reader may see that person, everyone else is one "others" line.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.db.models import Case, Count, F, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Sum, When
from django.utils import timezone
from django.utils.translation import gettext as _

from sampark.content.models import Item
from sampark.feed.models import Acknowledgement, Share, TickReach
from sampark.people import coverage
from sampark.people import selectors as people_selectors
from sampark.people.models import Person
from sampark.people.scope import Action, Scope, scope_for
from sampark.territory.models import AssemblyConstituency, Block, Booth, District, Panchayat, State

from .models import Stream, Tick

PER_PAGE = 20
RECENT_TICKS = 50
ON_TIME_MS = 1000  # a tick published more than a second after it was due is late
UNIT_FIELDS = ("state", "district", "ac", "block", "panchayat", "booth")
RECENT_ITEMS = 20
TOP_SHARERS = 10
SHARERS_DAYS = 7


# --- who sees and acts on what ------------------------------------------------------------------------


def _scoped(queryset: QuerySet[Stream], scope: Scope) -> QuerySet[Stream]:
    if scope.everything:
        return queryset
    if scope.nothing:
        return queryset.none()
    # The stream carries its unit's ancestor columns (as a post does): "inside my subtrees" is an OR of
    # a few IN conditions, the same test as ``Scope.contains`` on the unit.
    return queryset.filter(scope.q("", "booth_id"))


def streams_visible(user: Any) -> QuerySet[Stream]:
    """The streams whose unit lies inside ``user``'s VIEW scope, by name."""
    streams = Stream.objects.select_related(*UNIT_FIELDS).order_by("name", "id")
    return _scoped(streams, scope_for(user, Action.VIEW))


def stream_for(user: Any, pk: int) -> Stream | None:
    return streams_visible(user).filter(pk=pk).first()


def may_create(user: Any) -> bool:
    return not scope_for(user, Action.BROADCAST).nothing


def stream_unit(stream: Stream) -> Any:
    """The unit a stream publishes to (its deepest ancestor column, named by its level)."""
    return getattr(stream, stream.level)


def may_manage(user: Any, stream: Stream) -> bool:
    """Pause and resume: the stream's unit inside the reader's BROADCAST scope."""
    return scope_for(user, Action.BROADCAST).contains(stream_unit(stream))


def unit_choices(user: Any) -> list[tuple[str, str]]:
    """``(unit key, label)`` of the roots of the user's BROADCAST subtrees: where they may stream."""
    units = coverage.home_units(scope_for(user, Action.BROADCAST))
    return [(coverage.unit_key(unit), people_selectors.unit_label(unit)) for unit in units]


# --- the list and a stream ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamRow:
    stream: Stream
    unit_label: str
    last_lateness_ms: int | None

    @property
    def last_late(self) -> bool:
        return self.last_lateness_ms is not None and self.last_lateness_ms > ON_TIME_MS


def stream_rows(streams: Iterable[Stream]) -> list[StreamRow]:
    return [
        StreamRow(s, people_selectors.unit_label(stream_unit(s)), getattr(s, "last_lateness_ms", None))
        for s in streams
    ]


def with_last_lateness(streams: QuerySet[Stream]) -> QuerySet[Stream]:
    """``last_lateness_ms``: the lateness of each stream's latest tick (from the recent-ticks index)."""
    latest = Tick.objects.filter(stream=OuterRef("pk")).order_by("-published_at").values("lateness_ms")[:1]
    return streams.annotate(last_lateness_ms=Subquery(latest))


def recent_ticks(stream: Stream, *, limit: int = RECENT_TICKS) -> list[Tick]:
    return list(
        Tick.objects.filter(stream=stream).select_related("item").order_by("-published_at", "-id")[:limit]
    )


def queue(stream: Stream) -> list[Any]:
    """The stream's entries in order, with their items."""
    return list(stream.entries.select_related("item").order_by("position"))


# --- war room: streams today --------------------------------------------------------------------------


def _day(now: datetime.datetime | None = None) -> tuple[datetime.datetime, datetime.datetime]:
    """Midnight to midnight of today, India time."""
    local = timezone.localtime(now or timezone.now())
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + datetime.timedelta(days=1)


def percentile(histogram: list[tuple[int, int]], fraction: float) -> int | None:
    """Nearest-rank percentile over ``(value, count)`` pairs sorted by value."""
    total = sum(n for _value, n in histogram)
    if not total:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for value, n in histogram:
        seen += n
        if seen >= rank:
            return value
    return histogram[-1][0]


# Lateness grouped (bucket ids never overlap) exactly to the millisecond below a second (on-time ticks: their spread is the
# point), by the second below a minute and by the minute beyond: a day of ticks is at most a
# thousand-odd groups per stream however many ticks there are. Each group reports its largest
# lateness, so a percentile is exact below a second and at most a bucket's width high above it.
_BUCKET = Case(
    When(lateness_ms__lt=1000, then=F("lateness_ms")),
    When(lateness_ms__lt=60_000, then=F("lateness_ms") / 1000 + 1000),  # 1001 … 1059
    default=F("lateness_ms") / 60_000 + 2000,  # 2001 …
    output_field=IntegerField(),
)


@dataclass(slots=True)
class StreamDay:
    stream: Stream
    unit_label: str
    ticks: int = 0
    on_time: int = 0
    p50_ms: int | None = None
    p99_ms: int | None = None

    @property
    def on_time_percent(self) -> float | None:
        return round(100 * self.on_time / self.ticks, 1) if self.ticks else None

    @property
    def late(self) -> int:
        return self.ticks - self.on_time


def streams_today(user: Any, *, now: datetime.datetime | None = None) -> list[StreamDay]:
    """Each visible stream's ticks today: count, on time (≤ 1 s late), p50 and p99 lateness.

    Three queries: the streams, counts per stream, and lateness per stream and bucket (``_BUCKET``)
    from which the percentiles are read — no tick row comes to Python.
    """
    streams = list(streams_visible(user))
    days = {s.pk: StreamDay(s, people_selectors.unit_label(stream_unit(s))) for s in streams}
    if not days:
        return []
    start, end = _day(now)
    today = Tick.objects.filter(stream_id__in=list(days), published_at__gte=start, published_at__lt=end)
    counts = (
        today.order_by()
        .values("stream_id")
        .annotate(n=Count("id"), on_time=Sum(Case(When(lateness_ms__lte=ON_TIME_MS, then=1), default=0)))
    )
    for row in counts:
        days[row["stream_id"]].ticks = row["n"]
        days[row["stream_id"]].on_time = int(row["on_time"] or 0)
    histograms: dict[int, list[tuple[int, int]]] = {}
    buckets = (
        today.order_by()
        .annotate(bucket=_BUCKET)
        .values("stream_id", "bucket")
        .annotate(n=Count("id"), top=Max("lateness_ms"))
        .values_list("stream_id", "top", "n")
    )
    for stream_id, top, n in buckets:
        histograms.setdefault(stream_id, []).append((top, n))
    for stream_id, histogram in histograms.items():
        histogram.sort()
        days[stream_id].p50_ms = percentile(histogram, 0.50)
        days[stream_id].p99_ms = percentile(histogram, 0.99)
    active_first: dict[str, int] = {Stream.Status.ACTIVE: 0, Stream.Status.PAUSED: 1}
    return sorted(days.values(), key=lambda d: (active_first.get(d.stream.status, 2), d.stream.name))


# --- war room: reach by item and by area --------------------------------------------------------------

# kind of area → (the booth column that places a reach row in it, the booth column of its children,
# the children's model); a booth has no children.
_DRILL: dict[type[models.Model], tuple[str, str | None, type[models.Model] | None]] = {
    State: ("state_id", "district_id", District),
    District: ("district_id", "block_id", Block),
    AssemblyConstituency: ("ac_id", "id", Booth),
    Block: ("block_id", "panchayat_id", Panchayat),
    Panchayat: ("panchayat_id", "id", Booth),
    Booth: ("id", None, None),
}


def area_allowed(user: Any, area: Any) -> bool:
    """Drill into ``area`` only where the reader sees at least one of its booths."""
    scope = scope_for(user, Action.VIEW)
    if scope.nothing:
        return False
    column = _DRILL[type(area)][0]
    return Booth.objects.filter(scope.booths_q(), **{column: area.pk}).exists()


def _booth_path(column: str) -> str:
    return "booth_id" if column == "id" else f"booth__{column}"


def _reach_condition(scope: Scope, area: Any) -> Q:
    """Reach rows (views, shares, acknowledgements) from booths in scope (and in ``area``)."""
    condition = Q() if scope.everything else scope.q("booth__", "id")
    if area is not None:
        condition &= Q(**{_booth_path(_DRILL[type(area)][0]): area.pk})
    return condition


@dataclass(slots=True)
class Reach:
    views: int = 0
    shares: dict[str, int] = field(default_factory=dict)
    acknowledgements: int = 0

    @property
    def share_total(self) -> int:
        return sum(self.shares.values())

    def share_cells(self) -> list[int]:
        return [self.shares.get(target, 0) for target in Share.Target.values]


@dataclass(slots=True)
class ItemReach:
    item: Item
    reach: Reach


@dataclass(slots=True)
class AreaReach:
    key: str  # the unit key to drill into ("" for booths not placed in a child unit)
    label: str
    reach: Reach
    drillable: bool


@dataclass(slots=True)
class Sharer:
    name: str
    shares: int


@dataclass(slots=True)
class WarRoom:
    area: Any
    area_label: str
    child_kind: str
    streams: list[StreamDay]
    items: list[ItemReach]
    selected: Item | None
    areas: list[AreaReach]
    sharers: list[Sharer]
    others_people: int
    others_shares: int
    targets: list[tuple[str, str]]
    sharers_days: int = SHARERS_DAYS


def _reach_by(
    by: str, condition: Q, item_ids: list[int]
) -> tuple[dict[Any, int], dict[Any, dict[str, int]], dict[Any, int]]:
    """Views, shares by target and acknowledgements of ``item_ids`` under ``condition``, grouped by
    ``by`` (``item_id``, or a booth column placing the rows in areas): three GROUP BY queries."""
    views = {
        row[by]: int(row["n"] or 0)
        for row in TickReach.objects.filter(condition, item_id__in=item_ids)
        .order_by()
        .values(by)
        .annotate(n=Sum("views"))
    }
    shares: dict[Any, dict[str, int]] = {}
    for row in (
        Share.objects.filter(condition, item_id__in=item_ids)
        .order_by()
        .values(by, "target")
        .annotate(n=Count("id"))
    ):
        shares.setdefault(row[by], {})[row["target"]] = row["n"]
    acks = {
        row[by]: row["n"]
        for row in Acknowledgement.objects.filter(condition, item_id__in=item_ids)
        .order_by()
        .values(by)
        .annotate(n=Count("id"))
    }
    return views, shares, acks


def _area_label(unit: Any) -> str:
    if isinstance(unit, Booth):
        return f"{unit.code} {unit.display_name}"
    return str(unit)


def _child_kind_label(model: type[models.Model] | None) -> str:
    labels: dict[type[models.Model] | None, str] = {
        District: _("District"),
        Block: _("Block"),
        Panchayat: _("Panchayat"),
        Booth: _("Booth"),
        None: _("Booth"),  # drilled into a booth: its own row
    }
    return labels.get(model, _("Area"))


# Items whose text has been public: approved now, or once (retired). A draft's text — even one that was
# approved before its latest edit — is for the content library's writers only.
PUBLISHED = (Item.State.APPROVED, Item.State.RETIRED)


def published_item(pk: int) -> Item | None:
    return Item.objects.filter(pk=pk, state__in=PUBLISHED).first()


def recent_items() -> list[Item]:
    return list(Item.objects.filter(state=Item.State.APPROVED).order_by("-approved_at", "-id")[:RECENT_ITEMS])


def war_room(
    user: Any, *, area: Any = None, item: Item | None = None, now: datetime.datetime | None = None
) -> WarRoom:
    """Streams today, reach of recent approved items, reach by area and top sharers — all counted over
    the reader's booths (and ``area``'s, when drilled into; callers check :func:`area_allowed`)."""
    scope = scope_for(user, Action.VIEW)
    now = now or timezone.now()
    if area is None:
        child_column: str | None = "district_id"
        child_model: type[models.Model] | None = District
    else:
        _column, child_column, child_model = _DRILL[type(area)]
    items = recent_items()
    if item is not None and item.pk not in {i.pk for i in items}:
        items.insert(0, item)
    room = WarRoom(
        area=area,
        area_label=people_selectors.unit_label(area) if area is not None else _("All of my area"),
        child_kind=_child_kind_label(child_model),
        streams=streams_today(user, now=now),
        items=[],
        selected=item,
        areas=[],
        sharers=[],
        others_people=0,
        others_shares=0,
        targets=[(value, str(label)) for value, label in Share.Target.choices],
    )
    if scope.nothing:
        room.items = [ItemReach(i, Reach()) for i in items]
        return room
    condition = _reach_condition(scope, area)
    ids = [i.pk for i in items]
    views, shares, acks = _reach_by("item_id", condition, ids)
    room.items = [
        ItemReach(i, Reach(views.get(i.pk, 0), shares.get(i.pk, {}), acks.get(i.pk, 0))) for i in items
    ]
    chosen = [item.pk] if item is not None else ids
    # A booth is its own (only) row when drilled into; otherwise one row per child unit.
    group = _booth_path(child_column) if child_column else "booth_id"
    views, shares, acks = _reach_by(group, condition, chosen)
    room.areas = _area_rows(views, shares, acks, child_model or Booth, drillable=child_model is not Booth)
    _sharers(room, user, condition, item, now)
    return room


def _area_rows(
    views: dict[Any, int],
    shares: dict[Any, dict[str, int]],
    acks: dict[Any, int],
    model: type[models.Model],
    *,
    drillable: bool,
) -> list[AreaReach]:
    keys = set(views) | set(shares) | set(acks)
    units = {u.pk: u for u in model._default_manager.filter(pk__in=[k for k in keys if k is not None])}
    rows = []
    for key in keys:
        reach = Reach(views.get(key, 0), shares.get(key, {}), acks.get(key, 0))
        unit = units.get(key)
        if unit is None:
            rows.append(AreaReach("", _("(not placed)"), reach, drillable=False))
        else:
            rows.append(AreaReach(coverage.unit_key(unit), _area_label(unit), reach, drillable=drillable))
    rows.sort(key=lambda r: (-r.reach.views, -r.reach.share_total, r.label.casefold()))
    return rows


def _sharers(room: WarRoom, user: Any, condition: Q, item: Item | None, now: datetime.datetime) -> None:
    """The people with the most share taps in the last ``SHARERS_DAYS`` days: named when the reader may
    see them, the rest summed as "others"."""
    recent = Share.objects.filter(condition, at__gte=now - datetime.timedelta(days=SHARERS_DAYS))
    if item is not None:
        recent = recent.filter(item_id=item.pk)
    visible = Person.objects.visible_to(user, Action.VIEW).values("pk")
    named = (
        recent.filter(person_id__in=visible)
        .order_by()
        .values("person_id", "person__name")
        .annotate(n=Count("id"))
        .order_by("-n", "person__name", "person_id")[:TOP_SHARERS]
    )
    room.sharers = [Sharer(row["person__name"], row["n"]) for row in named]
    every = recent.order_by().aggregate(shares=Count("id"), people=Count("person_id", distinct=True))
    seen = (
        recent.filter(person_id__in=visible)
        .order_by()
        .aggregate(shares=Count("id"), people=Count("person_id", distinct=True))
    )
    room.others_shares = every["shares"] - seen["shares"]
    room.others_people = every["people"] - seen["people"]
