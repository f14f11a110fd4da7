"""Read-only queries behind the broadcast pages and the phone simulator.

Who sees a broadcast (:func:`broadcasts_visible`): its creator; a superuser; and anyone whose view scope
contains an *active post* of the creator — so a district coordinator sees the broadcasts of the block and
panchayat coordinators of the district, and two coordinators of one block see each other's, but a block
coordinator does not see the district coordinator's (a district post is not inside a block), nor a
coordinator anything from another district. Broadcasts sent by the system (no creator) are seen by
superusers only. Only the creator or a superuser may pause, resume or cancel (:func:`may_act`).

A visible broadcast's progress and failure reasons are counted over all its deliveries (aggregates, no
person in them); a big broadcast's counts are shared between readers for a moment. Everything about a
person — the simulator's people, their deliveries and what they sent us — goes through ``visible_to(user)``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from sampark.people import coverage
from sampark.people import selectors as people_selectors
from sampark.people.models import Channel, ContactPoint, Person, Post
from sampark.people.scope import Action, scope_for
from sampark.transports import registry
from sampark.transports.base import Transport

from .models import Broadcast, Delivery, InboundMessage, Message

Status = Delivery.Status
PER_PAGE = 20
SIMULATOR_PEOPLE = 20
CHAT_LIMIT = 200
FAILURE_REASONS = 10
# Statuses after which a row needs nothing more from us (sent counts: the provider has it).
HANDLED = (Status.SENT, Status.DELIVERED, Status.READ, Status.FAILED, Status.CANCELLED)


# --- who sees and acts on what ------------------------------------------------------------------------


def broadcasts_visible(user: Any) -> QuerySet[Broadcast]:
    """The broadcasts ``user`` may see (see the module docstring for the rule), newest first."""
    broadcasts = Broadcast.objects.select_related("message", "audience", "created_by").order_by(
        "-created_at", "-id"
    )
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return broadcasts.none()
    if user.is_superuser:
        return broadcasts
    creators = (
        Post.objects.active(timezone.localdate())
        .visible_to(user, Action.VIEW)
        .filter(person__user__isnull=False)
        .values("person__user_id")
    )
    return broadcasts.filter(Q(created_by=user) | Q(created_by_id__in=creators))


def broadcast_for(user: Any, pk: int) -> Broadcast | None:
    return broadcasts_visible(user).filter(pk=pk).first()


def may_act(user: Any, broadcast: Broadcast) -> bool:
    """Pause, resume and cancel: the creator or a superuser only."""
    return bool(user.is_superuser or (broadcast.created_by_id and broadcast.created_by_id == user.pk))


def may_broadcast(user: Any) -> bool:
    return not scope_for(user, Action.BROADCAST).nothing


# --- progress -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class ChannelProgress:
    channel: str
    label: str
    counts: dict[int, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def cells(self) -> list[int]:
        return [self.counts.get(status, 0) for status in Status.values]


@dataclass(slots=True)
class Progress:
    rows: list[ChannelProgress]
    totals: dict[int, int]

    @property
    def total(self) -> int:
        return sum(self.totals.values())

    @property
    def cells(self) -> list[int]:
        return [self.totals.get(status, 0) for status in Status.values]

    @property
    def handled(self) -> int:
        return sum(self.totals.get(status, 0) for status in HANDLED)

    @property
    def percent(self) -> int:
        return int(100 * self.handled / self.total) if self.total else 0

    @property
    def sent(self) -> int:
        """Handed to the provider (sent, delivered or read)."""
        return sum(self.totals.get(status, 0) for status in (Status.SENT, Status.DELIVERED, Status.READ))

    @property
    def failed(self) -> int:
        return self.totals.get(Status.FAILED, 0)


def _channel_label(channel: str) -> str:
    return str(dict(Channel.choices).get(channel, channel))


def _channel_rank(channel: str) -> int:
    return registry.CHANNELS.index(channel) if channel in registry.CHANNELS else len(registry.CHANNELS)


# Counting a broadcast's rows by status reads every one of them (the index is not enough while the
# rows change: 2 lakh rows took 50-200 ms a count on a busy PostgreSQL), and every coordinator
# watching a big broadcast asks again every few seconds. Above PROGRESS_CACHE_ROWS recipients the
# counts are shared for PROGRESS_CACHE_SECONDS; small broadcasts are always counted afresh. Whole
# seconds: Django's Redis cache truncates a timeout to an int (0.5 → 0, gone at once).
PROGRESS_CACHE_ROWS = 10_000
PROGRESS_CACHE_SECONDS = 2


def _progress_key(broadcast: Broadcast) -> str | None:
    if broadcast.recipients < PROGRESS_CACHE_ROWS:
        return None
    return f"messaging:progress:{broadcast.pk}:{broadcast.created_at.timestamp():.6f}"


def progress(broadcast: Broadcast) -> Progress:
    """Rows per channel and status: one ``GROUP BY`` over the broadcast's rows (shared for a moment
    between readers of a big broadcast)."""
    key = _progress_key(broadcast)
    grouped = cache.get(key) if key else None
    if grouped is None:
        grouped = list(
            Delivery.objects.filter(broadcast=broadcast)
            .order_by()
            .values_list("channel", "status")
            .annotate(n=Count("id"))
        )
        if key:
            cache.set(key, grouped, PROGRESS_CACHE_SECONDS)
    rows: dict[str, ChannelProgress] = {}
    totals: dict[int, int] = {}
    for channel, status, n in grouped:
        row = rows.setdefault(channel, ChannelProgress(channel, _channel_label(channel)))
        row.counts[status] = n
        totals[status] = totals.get(status, 0) + n
    ordered = sorted(rows.values(), key=lambda r: _channel_rank(r.channel))
    return Progress(rows=ordered, totals=totals)


def progress_by_broadcast(broadcasts: Iterable[Broadcast]) -> dict[int, Progress]:
    """:class:`Progress` (totals only) of each broadcast: one ``GROUP BY`` for a page of the list (big
    broadcasts counted a moment ago come from the cache, shared with :func:`progress`)."""
    wanted = list(broadcasts)
    result = {b.pk: Progress(rows=[], totals={}) for b in wanted}
    keys = {b.pk: key for b in wanted if (key := _progress_key(b))}
    shared: dict[str, list[tuple[str, int, int]]] = cache.get_many(list(keys.values())) if keys else {}
    counted: dict[int, list[tuple[str, int, int]]] = {
        pk: shared[key] for pk, key in keys.items() if key in shared
    }
    ids = [b.pk for b in wanted if b.pk not in counted]
    if ids:
        fresh: dict[int, list[tuple[str, int, int]]] = {pk: [] for pk in ids}
        grouped = (
            Delivery.objects.filter(broadcast_id__in=ids)
            .order_by()
            .values_list("broadcast_id", "channel", "status")
            .annotate(n=Count("id"))
        )
        for pk, channel, status, n in grouped:
            fresh[pk].append((channel, status, n))
        if big := {keys[pk]: fresh[pk] for pk in ids if pk in keys}:
            cache.set_many(big, PROGRESS_CACHE_SECONDS)
        counted |= fresh
    for pk, grouped_rows in counted.items():
        totals = result[pk].totals
        for _channel, status, n in grouped_rows:
            totals[status] = totals.get(status, 0) + n
    return result


def failure_reasons(broadcast: Broadcast, *, limit: int = FAILURE_REASONS) -> list[dict[str, Any]]:
    """The commonest ``(error_code, error_reason)`` of the broadcast's failed rows, with counts."""
    rows = (
        Delivery.objects.filter(broadcast=broadcast, status=Status.FAILED)
        .order_by()
        .values("error_code", "error_reason")
        .annotate(n=Count("id"))
        .order_by("-n", "error_code", "error_reason")[:limit]
    )
    return [dict(row) for row in rows]


def audience_units(broadcast: Broadcast) -> list[str]:
    """The audience's units as the reader reads them (the key itself when a unit no longer parses)."""
    labels = []
    for key in broadcast.audience.units:
        try:
            labels.append(people_selectors.unit_label(coverage.parse_unit(key)))
        except coverage.UnknownUnit:
            labels.append(key)
    return labels


# --- compose ------------------------------------------------------------------------------------------


def compose_units(user: Any) -> list[tuple[str, str]]:
    """``(unit key, label)`` of the roots of the user's broadcast subtrees."""
    units = coverage.home_units(scope_for(user, Action.BROADCAST))
    return [(coverage.unit_key(unit), people_selectors.unit_label(unit)) for unit in units]


def channels_on() -> list[tuple[str, str]]:
    """``(channel, label)`` of the channels some transport carries, in the registry's order."""
    on = registry.configured()
    return [(channel, _channel_label(channel)) for channel in registry.CHANNELS if channel in on]


def _sms_parts() -> Callable[[str], int] | None:
    try:
        from sampark.transports.sms.transport import sms_segments
    except ImportError:  # pragma: no cover - the SMS package is part of the tree
        return None
    return sms_segments


# What a message costs in parts on a channel that bills by the part (only SMS does).
_PARTS: dict[str, Callable[[], Callable[[str], int] | None]] = {"sms": _sms_parts}


@dataclass(frozen=True, slots=True)
class LanguagePreview:
    language: str
    label: str
    text: str
    length: int
    cut: bool
    parts: int | None


@dataclass(frozen=True, slots=True)
class ChannelPreview:
    channel: str
    label: str
    max_length: int | None
    languages: list[LanguagePreview]


def previews(message: Message, channels: list[str]) -> list[ChannelPreview]:
    """What each language group would read on each of ``channels`` (cut to the channel's limit)."""
    carriers: dict[str, Transport] = registry.configured()
    result = []
    for channel in channels:
        transport = carriers.get(channel)
        if transport is None:
            continue
        limit = transport.max_length()
        parts_of = _PARTS[channel]() if channel in _PARTS else None
        languages = []
        for language, label in (("hi", _("Hindi readers")), ("en", _("English readers"))):
            full = message.text_for(language)
            text = full[:limit] if limit is not None else full
            # An SMS carries the link after the text (the SMS transport's rule): count it in the parts.
            billed = f"{text} {message.link}" if message.link else text
            languages.append(
                LanguagePreview(
                    language=language,
                    label=label,
                    text=text,
                    length=len(text),
                    cut=len(text) < len(full),
                    parts=parts_of(billed) if parts_of and text else None,
                )
            )
        result.append(ChannelPreview(channel, _channel_label(channel), limit, languages))
    return result


# --- the phone simulator ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonChoice:
    person: Person
    phone: str


def simulator_people(user: Any, query: str) -> list[PersonChoice]:
    """Up to 20 people ``user`` may see matching ``query`` (name in either script or number tail)."""
    flt = people_selectors.PeopleFilter(query=query)
    people = list(people_selectors.people_list(user, flt)[:SIMULATOR_PEOPLE])
    visible = people_selectors.phones_visible(user, [p.pk for p in people])
    return [PersonChoice(p, people_selectors.shown_phone(p.phone, visible=p.pk in visible)) for p in people]


def simulator_person(user: Any, pk: int) -> Person | None:
    return Person.objects.visible_to(user, Action.VIEW).select_related("home_booth").filter(pk=pk).first()


@dataclass(frozen=True, slots=True)
class PointChoice:
    point: ContactPoint
    label: str
    simulated: bool  # carried by the local outbox: a message "from the person" can be simulated


def simulator_points(user: Any, person: Person) -> list[PointChoice]:
    """The person's contact points (addresses masked unless the reader may see numbers)."""
    visible = person.pk in people_selectors.phones_visible(user, [person.pk])
    carriers = registry.configured()
    choices = []
    for point in ContactPoint.objects.visible_to(user, Action.VIEW).filter(person=person):
        transport = carriers.get(point.channel)
        address = people_selectors.shown_address(point, visible=visible)
        choices.append(
            PointChoice(
                point=point,
                label=f"{point.get_channel_display()} · {address}",
                simulated=transport is not None and transport.kind == "outbox",
            )
        )
    return sorted(choices, key=lambda c: _channel_rank(c.point.channel))


def may_simulate(user: Any, person: Person) -> bool:
    """Typing "as" a person changes their consent (STOP, START): the person themself, or someone who may
    change them — the same right as withdrawing their consent on the people pages."""
    return people_selectors.may_withdraw(user, person)


@dataclass(frozen=True, slots=True)
class ChatItem:
    """One bubble of the simulated phone: a delivery to the person or something they sent us."""

    at: datetime.datetime
    incoming: bool  # from the person to us
    channel: str
    channel_label: str
    text: str
    link: str = ""
    media_url: str = ""
    ai_generated: bool = False
    status: str = ""  # queued, sending, sent, delivered, read, failed, cancelled (deliveries)
    status_label: str = ""
    reason: str = ""
    action_label: str = ""  # what we did with an inbound message (unsubscribed …)
    pk: int = 0

    @property
    def key(self) -> str:
        return f"{'i' if self.incoming else 'd'}{self.pk}"

    @property
    def ticks(self) -> str:
        return {"sent": "✓", "delivered": "✓✓", "read": "✓✓"}.get(self.status, "")


_STATUS_NAME: dict[int, str] = {int(status): status.name.lower() for status in Status}


def chat(user: Any, person: Person, *, limit: int = CHAT_LIMIT) -> list[ChatItem]:
    """The last ``limit`` deliveries to ``person`` and messages from them, oldest first."""
    deliveries = (
        Delivery.objects.visible_to(user, Action.VIEW)
        .filter(person=person)
        .select_related("broadcast__message")
        .order_by("-queued_at", "-id")[:limit]
    )
    items = []
    for d in deliveries:
        m = d.broadcast.message if d.broadcast is not None else None
        items.append(
            ChatItem(
                at=d.sent_at or d.queued_at,
                incoming=False,
                channel=d.channel,
                channel_label=_channel_label(d.channel),
                text=m.text_for(d.language) if m is not None else d.text,
                link=m.link if m is not None else "",
                media_url=m.media_url if m is not None else "",
                ai_generated=m.ai_generated if m is not None else False,
                status=_STATUS_NAME[d.status],
                status_label=d.get_status_display(),
                reason=d.error_reason if d.status in (Status.FAILED, Status.CANCELLED) else "",
                pk=d.pk,
            )
        )
    inbound = (
        InboundMessage.objects.visible_to(user, Action.VIEW)
        .filter(contact_point__person=person)
        .order_by("-received_at", "-id")[:limit]
    )
    for i in inbound:
        items.append(
            ChatItem(
                at=i.received_at,
                incoming=True,
                channel=i.channel,
                channel_label=_channel_label(i.channel),
                text=i.text,
                action_label=i.get_action_display() if i.action else "",
                pk=i.pk,
            )
        )
    # Same instant: what the person sent comes before our answer to it.
    items.sort(key=lambda item: (item.at, not item.incoming, item.pk))
    return items[-limit:]
