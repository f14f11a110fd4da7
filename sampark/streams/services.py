"""Streams: create, pause, resume, and publish the ticks that are due — each exactly once.

A tick is published in one transaction that re-reads its stream under a lock, writes the ``Tick`` row
(unique per stream and number), queues the Telegram posts in the messaging outbox and moves ``next_tick_at`` on; two tickers,
or a ticker restarted after a crash, therefore never publish a tick twice, and a tick that fell due
while no ticker ran is published late (its lateness recorded) rather than lost. The next due time is
drawn from the previous *due* time, not the publication, so lateness never accumulates; after an outage
longer than ``CATCH_UP_LIMIT`` gaps the stream resumes from now instead of publishing the backlog in one
burst. Gaps are uniform in [min, max] seconds, from a generator seeded by stream and tick number
(reproducible); due times falling outside the active hours (India time) move to the next start.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sampark.content.models import Item
from sampark.messaging import services as outbox
from sampark.people.models import Level
from sampark.people.scope import Action, Scope, scope_for
from sampark.people.services import unit_columns
from sampark.territory.models import AssemblyConstituency, Block, Booth, District, Panchayat, State

from . import wakeup
from .models import Stream, StreamEntry, Tick

TICK_SOURCE = "stream_tick"  # the outbox rows of a tick: source, and the tick's id
CATCH_UP_LIMIT = 5  # gaps: beyond this much backlog a stream restarts its cadence from now
_LEVEL: dict[type, str] = {
    State: Level.STATE,
    District: Level.DISTRICT,
    AssemblyConstituency: Level.AC,
    Block: Level.BLOCK,
    Panchayat: Level.PANCHAYAT,
    Booth: Level.BOOTH,
}


class StreamError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# --- schedule --------------------------------------------------------------------------------------


def _active(stream: Stream, at: datetime.datetime) -> datetime.datetime:
    """``at`` if inside the stream's active hours (local time), else the next start of them."""
    local = timezone.localtime(at)
    start, end = stream.active_from, stream.active_until
    clock = local.time()
    inside = (start <= clock < end) if start < end else (clock >= start or clock < end)
    if inside:
        return at
    day = local.date() if clock < start else local.date() + datetime.timedelta(days=1)
    return datetime.datetime.combine(day, start, tzinfo=local.tzinfo)


def gap_seconds(stream: Stream, number: int) -> float:
    """The gap after tick ``number``: uniform in [min, max], reproducible per stream and tick."""
    rng = random.Random(f"{stream.pk}:{number}:gap")
    return rng.uniform(stream.min_seconds, stream.max_seconds)


def following(
    stream: Stream, number: int, due: datetime.datetime, now: datetime.datetime
) -> datetime.datetime:
    """When tick ``number + 1`` is due, tick ``number`` having been due at ``due``."""
    nxt = due + datetime.timedelta(seconds=gap_seconds(stream, number))
    if (now - nxt).total_seconds() > CATCH_UP_LIMIT * stream.max_seconds:
        nxt = now + datetime.timedelta(seconds=gap_seconds(stream, number))
    return _active(stream, nxt)


# --- choosing the item -----------------------------------------------------------------------------


def _approved_entries(stream: Stream) -> list[tuple[int, int]]:
    """(position, item id) of the stream's approved items, in order."""
    return list(
        StreamEntry.objects.filter(stream=stream, item__state=Item.State.APPROVED)
        .order_by("position")
        .values_list("position", "item_id")
    )


def pick_item(stream: Stream, number: int) -> int | None:
    """The item for tick ``number``: the next approved one after the last published (in order), or a
    random approved one not published in the last ``no_repeat_within`` ticks (rotating)."""
    entries = _approved_entries(stream)
    if not entries:
        return None
    recent = list(
        Tick.objects.filter(stream=stream)
        .order_by("-number")
        .values_list("item_id", flat=True)[: max(1, stream.no_repeat_within)]
    )
    if stream.order == Stream.Order.ORDERED:
        positions = {item: position for position, item in entries}
        last = positions.get(recent[0]) if recent else None
        later = [item for position, item in entries if last is None or position > last]
        return later[0] if later else entries[0][1]
    fresh = [item for _position, item in entries if item not in recent[: stream.no_repeat_within]]
    if not fresh:  # fewer items than the no-repeat window: the least recently published one
        order = {item: i for i, item in enumerate(recent)}
        return max((item for _p, item in entries), key=lambda item: order.get(item, len(recent)))
    return random.Random(f"{stream.pk}:{number}:item").choice(fresh)


# --- publishing ------------------------------------------------------------------------------------


def publish_due(
    *,
    now: datetime.datetime | None = None,
    clock: Callable[[], datetime.datetime] | None = None,
    limit: int = 200,
) -> list[Tick]:
    """Publish every tick due at ``now`` (each in its own transaction); returns them.

    Each tick is stamped with ``clock()`` when its transaction runs (default: the real time), so when
    several fall due together the later ones show their true lateness; a frozen ``now`` (tests) stamps
    them all with it.
    """
    frozen = now
    stamp = clock or ((lambda: frozen) if frozen is not None else timezone.now)
    now = now or stamp()
    due = list(
        Stream.objects.filter(status=Stream.Status.ACTIVE, next_tick_at__lte=now)
        .order_by("next_tick_at")
        .values_list("pk", flat=True)[:limit]
    )
    published = []
    for pk in due:
        tick = _publish(pk, stamp())
        if tick is not None:
            published.append(tick)
    return published


def _publish(stream_id: int, now: datetime.datetime) -> Tick | None:
    with transaction.atomic():
        locked = Stream.objects.filter(pk=stream_id, status=Stream.Status.ACTIVE, next_tick_at__lte=now)
        if connection.vendor == "postgresql":
            locked = locked.select_for_update(skip_locked=True)
        # On SQLite the IMMEDIATE transaction already holds the write lock: this re-read is current.
        stream = locked.first()
        if stream is None or stream.next_tick_at is None:
            return None  # another ticker published it meanwhile
        due = stream.next_tick_at
        opens = _active(stream, now)
        if opens != now:
            # Due just before the active hours ended, but not published by then: it waits for the morning.
            stream.next_tick_at = opens
            stream.save(update_fields=["next_tick_at", "updated_at"])
            return None
        number = stream.ticks + 1
        item_id = pick_item(stream, number)
        if item_id is None:
            # Nothing approved to carry: the stream waits a gap and looks again (no tick is skipped).
            stream.next_tick_at = following(stream, stream.ticks, due, now)
            stream.save(update_fields=["next_tick_at", "updated_at"])
            return None
        tick = Tick.objects.create(
            stream=stream,
            number=number,
            item_id=item_id,
            due_at=due,
            published_at=now,
            lateness_ms=int((now - due).total_seconds() * 1000),
        )
        stream.ticks = number
        stream.next_tick_at = following(stream, number, due, now)
        stream.save(update_fields=["ticks", "next_tick_at", "updated_at"])
        if stream.telegram_chats:
            # Through the one outbox: claimed, retried, swept and recorded like every delivery.
            item = tick.item
            outbox.posts_queue(
                channel="telegram",
                posts=[
                    outbox.Post(
                        address=str(chat), text=item.text_for("hi"), link=item.link, media_url=item.image_url
                    )
                    for chat in stream.telegram_chats
                ],
                source=TICK_SOURCE,
                source_id=tick.pk,
                now=now,
            )
        return tick


def next_due_at() -> datetime.datetime | None:
    """The earliest due time of any running stream."""
    return (
        Stream.objects.filter(status=Stream.Status.ACTIVE, next_tick_at__isnull=False)
        .order_by("next_tick_at")
        .values_list("next_tick_at", flat=True)
        .first()
    )


# --- managing streams ------------------------------------------------------------------------------


def stream_create(
    *,
    by: Any,
    name: str,
    unit: Any,
    items: Sequence[Item],
    order: str = Stream.Order.ORDERED,
    min_seconds: int = 20,
    max_seconds: int = 30,
    active_from: datetime.time = datetime.time(6, 0),
    active_until: datetime.time = datetime.time(22, 0),
    to_feed: bool = True,
    telegram_chats: Iterable[str] = (),
    no_repeat_within: int = 10,
    now: datetime.datetime | None = None,
) -> Stream:
    """A running stream of ``items`` (approved ones) for ``unit``, first tick due now (or when its
    active hours begin). ``by``: a user (needs BROADCAST scope over the unit) or a Scope."""
    scope = by if isinstance(by, Scope) else scope_for(by, Action.BROADCAST)
    if not scope.contains(unit):
        raise StreamError("unit", _("you may run streams only inside your own area"))
    if not 1 <= min_seconds <= max_seconds:
        raise StreamError("min_seconds", _("the shortest gap must be at least 1 s and not above the longest"))
    if not (to_feed or list(telegram_chats)):
        raise StreamError("to_feed", _("publish to the feed or to at least one Telegram channel"))
    items = list(items)
    if not items:
        raise StreamError("items", _("choose at least one item"))
    unapproved = [item for item in items if item.state != Item.State.APPROVED]
    if unapproved:
        raise StreamError("items", _("only approved items may be streamed"))
    now = now or timezone.now()
    with transaction.atomic():
        stream = Stream(
            name=name.strip()[:120],
            level=_LEVEL[type(unit)],
            order=order,
            no_repeat_within=no_repeat_within,
            min_seconds=min_seconds,
            max_seconds=max_seconds,
            active_from=active_from,
            active_until=active_until,
            to_feed=to_feed,
            telegram_chats=[str(c) for c in telegram_chats],
            created_by=None if isinstance(by, Scope) else by,
            **unit_columns(unit),
        )
        stream.next_tick_at = _active(stream, now)
        stream.save()
        StreamEntry.objects.bulk_create(
            StreamEntry(stream=stream, item=item, position=i) for i, item in enumerate(items, start=1)
        )
        transaction.on_commit(wakeup.wake_ticker)  # its first tick is due now
    return stream


def unit_of(stream: Stream) -> Any:
    """The territory unit a stream is for."""
    return getattr(stream, stream.level)


def _may_manage(by: Any, stream: Stream) -> None:
    scope = by if isinstance(by, Scope) else scope_for(by, Action.BROADCAST)
    if not scope.contains(unit_of(stream)):
        raise StreamError("unit", _("only coordinators of this stream's area may pause or resume it"))


def stream_pause(*, stream: Stream, by: Any) -> Stream:
    """No more ticks until resumed; ``by`` needs BROADCAST scope over the stream's unit."""
    _may_manage(by, stream)
    Stream.objects.filter(pk=stream.pk).update(status=Stream.Status.PAUSED, next_tick_at=None)
    stream.refresh_from_db()
    return stream


def stream_resume(*, stream: Stream, by: Any, now: datetime.datetime | None = None) -> Stream:
    """Running again, first tick due now (or when the active hours begin)."""
    _may_manage(by, stream)
    now = now or timezone.now()
    with transaction.atomic():
        stream = Stream.objects.select_for_update().get(pk=stream.pk)
        stream.status = Stream.Status.ACTIVE
        stream.next_tick_at = _active(stream, now)
        stream.save(update_fields=["status", "next_tick_at", "updated_at"])
        transaction.on_commit(wakeup.wake_ticker)
    return stream


def streams_for_booth(booth: Booth) -> Any:
    """The feed streams a volunteer of ``booth`` sees: the booth's own and every ancestor's."""
    from django.db.models import Q

    condition = Q(level=Level.STATE, state_id=booth.state_id) | Q(
        level=Level.DISTRICT, district_id=booth.district_id
    )
    condition |= Q(level=Level.AC, ac_id=booth.ac_id) | Q(level=Level.BOOTH, booth_id=booth.pk)
    if booth.block_id:
        condition |= Q(level=Level.BLOCK, block_id=booth.block_id)
    if booth.panchayat_id:
        condition |= Q(level=Level.PANCHAYAT, panchayat_id=booth.panchayat_id)
    return Stream.objects.filter(condition, to_feed=True)
