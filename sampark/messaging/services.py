"""Outbox services: broadcasts (create with a set-based fan-out, pause, resume, cancel) and posts to
addresses that are not people (:func:`posts_queue`, e.g. a stream's Telegram channel posts).

Typed and keyword-only; each runs in one transaction and enqueues work only after it commits.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sampark.people.models import Channel
from sampark.people.scope import Action, Scope, scope_for

from . import audiences, tasks
from .models import Audience, Broadcast, Delivery, Message

Status = Delivery.Status


class BroadcastError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _channel_order(channels: list[str]) -> str:
    """SQL rank of a contact point's channel in the audience's preference order (for one_channel)."""
    cases = " ".join(f"WHEN '{c}' THEN {i}" for i, c in enumerate(channels) if c in Channel.values)
    return f"CASE channel {cases} ELSE {len(channels)} END"


def broadcast_create(
    *,
    by: Any,
    message: Message,
    units: list[str],
    channels: list[str],
    roles: list[str] | None = None,
    tags: list[str] | None = None,
    one_channel: bool = False,
    scheduled_at: datetime.datetime | None = None,
) -> Broadcast:
    """Create a broadcast and its deliveries in one transaction, then (after commit) start sending.

    ``by`` is the sending user (or a Scope, for system broadcasts and benchmarks): the audience is cut
    to its subtrees. Every recipient row is written by one ``INSERT … SELECT`` from the resolved
    audience query — never a Python loop over lakhs of rows.
    """
    unknown = [c for c in channels if c not in Channel.values]
    if unknown:
        raise BroadcastError("channels", _("unknown channel(s): %(c)s") % {"c": ", ".join(unknown)})
    if not (message.text_hi.strip() or message.text_en.strip() or message.wa_template_name):
        raise BroadcastError("text", _("write the message in Hindi or English"))
    scope = by if isinstance(by, Scope) else scope_for(by, Action.BROADCAST)
    if scope.nothing:
        raise BroadcastError("units", _("you hold no post that may send broadcasts"))
    now = timezone.now()
    if scheduled_at is not None and scheduled_at <= now:
        scheduled_at = None
    with transaction.atomic():
        if message.pk is None:
            message.save()
        audience = Audience.objects.create(
            units=list(units),
            roles=list(roles or []),
            tags=list(tags or []),
            channels=list(channels),
            one_channel=one_channel,
        )
        try:
            points = audiences.recipients(audience, sender=scope)
        except audiences.AudienceError as exc:
            raise BroadcastError(exc.field, exc.message) from exc
        broadcast = Broadcast.objects.create(
            message=message,
            audience=audience,
            status=Broadcast.Status.SCHEDULED if scheduled_at else Broadcast.Status.SENDING,
            created_by=None if isinstance(by, Scope) else by,
            scheduled_at=scheduled_at,
            started_at=None if scheduled_at else now,
        )
        broadcast.recipients = _fan_out(broadcast, points, channels, one_channel, scheduled_at or now, now)
        broadcast.save(update_fields=["recipients"])
        if not scheduled_at:
            sent_on = set(channels)
            transaction.on_commit(lambda: tasks.kick(sorted(sent_on)))
    return broadcast


def _fan_out(
    broadcast: Broadcast,
    points: Any,
    channels: list[str],
    one_channel: bool,
    due: datetime.datetime,
    now: datetime.datetime,
) -> int:
    """One ``INSERT … SELECT`` of every recipient row; returns how many were written."""
    select = points.order_by().values_list("id", "person_id", "channel", "person__language")
    inner, params = select.query.sql_with_params()
    if one_channel:
        # Each person's first channel in the audience's order: a window over the same rows.
        inner = (
            "SELECT id, person_id, channel, person__language FROM (SELECT q.*, ROW_NUMBER() OVER "
            f"(PARTITION BY person_id ORDER BY {_channel_order(channels)}) AS rank FROM ({inner}) q) r "
            "WHERE rank = 1"
        )
        columns = "s.id, s.person_id, s.channel, s.person__language"
    else:
        columns = "s.*"
    ops = connection.ops
    table = Delivery._meta.db_table
    sql = f"""
        INSERT INTO {table} (contact_point_id, person_id, channel, language, broadcast_id, text, status,
            attempts, next_attempt_at, lease_owner, provider_message_id, error_code, error_reason, queued_at)
        SELECT {columns}, %s, '', %s, 0, %s, '', '', '', '', %s FROM ({inner}) s
    """
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                broadcast.pk,
                Status.QUEUED,
                ops.adapt_datetimefield_value(due),
                ops.adapt_datetimefield_value(now),
                *params,
            ],
        )
        return cursor.rowcount


def _set_status(broadcast: Broadcast, status: str, **extra: Any) -> Broadcast:
    for name, value in {"status": status, **extra}.items():
        setattr(broadcast, name, value)
    broadcast.save(update_fields=["status", *extra])
    return broadcast


def broadcast_pause(*, broadcast: Broadcast, reason: str = "") -> Broadcast:
    """Stop claiming this broadcast's rows; rows in flight finish. Resume picks up where it stopped."""
    with transaction.atomic():
        broadcast = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        if broadcast.status not in (Broadcast.Status.SENDING, Broadcast.Status.SCHEDULED):
            raise BroadcastError("status", _("only a sending or scheduled broadcast can be paused"))
        return _set_status(broadcast, Broadcast.Status.PAUSED, pause_reason=reason)


def broadcast_resume(*, broadcast: Broadcast) -> Broadcast:
    with transaction.atomic():
        broadcast = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        if broadcast.status != Broadcast.Status.PAUSED:
            raise BroadcastError("status", _("only a paused broadcast can be resumed"))
        now = timezone.now()
        _set_status(
            broadcast, Broadcast.Status.SENDING, pause_reason="", started_at=broadcast.started_at or now
        )
        channels = list(
            broadcast.deliveries.filter(status=Status.QUEUED)
            .order_by()
            .values_list("channel", flat=True)
            .distinct()
        )
        transaction.on_commit(lambda: tasks.kick(channels))
        return broadcast


def broadcast_cancel(*, broadcast: Broadcast) -> int:
    """Cancel every row not yet handed to a provider; returns how many were cancelled."""
    with transaction.atomic():
        broadcast = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        if broadcast.status in (Broadcast.Status.CANCELLED, Broadcast.Status.DONE):
            raise BroadcastError("status", _("this broadcast has already ended"))
        now = timezone.now()
        cancelled = broadcast.deliveries.filter(status=Status.QUEUED).update(
            status=Status.CANCELLED, error_reason="cancelled by the sender", failed_at=now
        )
        _set_status(broadcast, Broadcast.Status.CANCELLED, finished_at=now)
        return cancelled


def start_due_broadcasts(*, now: datetime.datetime | None = None) -> list[int]:
    """Scheduled broadcasts whose time has come start sending (called every minute)."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Broadcast.objects.select_for_update()
            .filter(status=Broadcast.Status.SCHEDULED, scheduled_at__lte=now)
            .values_list("pk", flat=True)
        )
        if not due:
            return []
        Broadcast.objects.filter(pk__in=due).update(status=Broadcast.Status.SENDING, started_at=now)
        # Rows were queued for the scheduled time already; make them due now in case the clock jumped.
        Delivery.objects.filter(broadcast_id__in=due, status=Status.QUEUED).update(next_attempt_at=now)
        channels = list(
            Delivery.objects.filter(broadcast_id__in=due, status=Status.QUEUED)
            .order_by()
            .values_list("channel", flat=True)
            .distinct()
        )
        transaction.on_commit(lambda: tasks.kick(channels))
    return due


# --- posts to addresses ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Post:
    """One message to an address that is not a person (a Telegram channel or group, say)."""

    address: str
    text: str
    link: str = ""
    media_url: str = ""


def posts_queue(
    *,
    channel: str,
    posts: Sequence[Post],
    source: str,
    source_id: int,
    language: str = "hi",
    now: datetime.datetime | None = None,
) -> list[Delivery]:
    """Queue ``posts`` as outbox rows (claimed, sent, retried and swept like every delivery) in the
    caller's transaction; sending starts after it commits. ``source``/``source_id`` name what produced
    them (``"stream_tick"`` and the tick's id) so the caller can find them again (:func:`posts_of`)."""
    if channel not in Channel.values:
        raise BroadcastError("channel", _("unknown channel(s): %(c)s") % {"c": channel})
    if not source or len(source) > 20:
        raise BroadcastError("source", _("a post needs a source name of at most 20 characters"))
    blank = [p for p in posts if not p.address.strip()]
    if blank:
        raise BroadcastError("address", _("every post needs an address"))
    if any(not (p.text.strip() or p.link or p.media_url) for p in posts):
        raise BroadcastError("text", _("a post needs a text, a link or an image"))
    if not posts:
        return []
    now = now or timezone.now()
    with transaction.atomic():
        rows = Delivery.objects.bulk_create(
            Delivery(
                channel=channel,
                address=p.address.strip()[:254],
                text=p.text,
                link=p.link,
                media_url=p.media_url,
                language=language,
                source=source,
                source_id=source_id,
                next_attempt_at=now,
                queued_at=now,
            )
            for p in posts
        )
        transaction.on_commit(lambda: tasks.kick([channel]))
    return rows


def posts_of(*, source: str, source_ids: Sequence[int]) -> Any:
    """The outbox rows a source queued (a read-only queryset, newest first)."""
    return Delivery.objects.filter(source=source, source_id__in=list(source_ids)).order_by(
        "-queued_at", "-id"
    )
