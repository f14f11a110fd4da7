"""Provider statuses applied to deliveries: idempotent, monotonic, never blocking the webhook.

A status only moves a row forward: sent → delivered → read (a late "delivered" never undoes "read",
a replay changes nothing). "failed" ends a row that was only sent. A status for an id we have not
recorded yet (a fast provider reports before the worker writes the id it got back) waits in
:class:`EarlyStatus` and is applied when the send is recorded; ids that never appear are purged.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db import connection
from django.utils import timezone

from sampark.core.db import short_write
from sampark.transports.events import StatusEvent

from .models import Delivery, EarlyStatus

Status = Delivery.Status
RANK = {"sent": Status.SENT, "delivered": Status.DELIVERED, "read": Status.READ, "failed": Status.FAILED}
_STAMP = {Status.SENT: "sent_at", Status.DELIVERED: "delivered_at", Status.READ: "read_at"}


def _apply(cursor: object, event: StatusEvent) -> bool | None:
    """Apply one event; True if a row changed, False if the row exists and is already past it, None if
    no row has this id."""
    status = RANK.get(event.status)
    if status is None:
        return False
    d = Delivery._meta.db_table
    at = connection.ops.adapt_datetimefield_value(event.at)
    if status == Status.FAILED:
        sql = f"""UPDATE {d} SET status = %s, failed_at = %s, error_code = %s, error_reason = %s
                  WHERE channel = %s AND provider_message_id = %s AND status = %s"""
        params = [
            status,
            at,
            event.error_code[:20],
            event.error_reason[:300],
            event.channel,
            event.provider_message_id,
            Status.SENT,
        ]
    else:
        stamp = _STAMP[status]
        sql = f"""UPDATE {d} SET status = %s, {stamp} = COALESCE({stamp}, %s)
                  WHERE channel = %s AND provider_message_id = %s AND status < %s"""
        params = [status, at, event.channel, event.provider_message_id, status]
    cursor.execute(sql, params)  # type: ignore[attr-defined]
    if cursor.rowcount:  # type: ignore[attr-defined]
        return True
    cursor.execute(  # type: ignore[attr-defined]
        f"SELECT 1 FROM {d} WHERE channel = %s AND provider_message_id = %s LIMIT 1",
        [event.channel, event.provider_message_id],
    )
    return False if cursor.fetchone() else None  # type: ignore[attr-defined]


def apply_statuses(events: Iterable[StatusEvent]) -> int:
    """Apply a webhook's statuses in one transaction; returns how many rows moved."""
    moved = 0
    early: list[EarlyStatus] = []
    now = timezone.now()
    with short_write(), connection.cursor() as cursor:
        for event in events:
            if not event.provider_message_id:
                continue
            result = _apply(cursor, event)
            if result:
                moved += 1
            elif result is None and event.status in RANK:
                early.append(
                    EarlyStatus(
                        channel=event.channel,
                        provider_message_id=event.provider_message_id[:128],
                        status=RANK[event.status],
                        at=event.at,
                        error_code=event.error_code[:20],
                        error_reason=event.error_reason[:300],
                        received_at=now,
                    )
                )
        if early:
            EarlyStatus.objects.bulk_create(early)
    return moved


def apply_early(channel: str, provider_ids: list[str]) -> int:
    """Apply (and forget) statuses that arrived before these ids were recorded. Inside the caller's
    transaction; a cheap no-op when nothing is waiting (the usual case)."""
    if not provider_ids or not EarlyStatus.objects.filter(channel=channel).exists():
        return 0
    waiting = list(
        EarlyStatus.objects.filter(channel=channel, provider_message_id__in=provider_ids).order_by(
            "status", "at"
        )
    )
    if not waiting:
        return 0
    label: dict[int, str] = {int(v): k for k, v in RANK.items()}
    apply_statuses(
        StatusEvent(w.channel, w.provider_message_id, label[w.status], w.at, w.error_code, w.error_reason)
        for w in waiting
    )
    EarlyStatus.objects.filter(pk__in=[w.pk for w in waiting]).delete()
    return len(waiting)


def purge_early(*, older_than: datetime.timedelta = datetime.timedelta(days=1)) -> int:
    return EarlyStatus.objects.filter(received_at__lt=timezone.now() - older_than).delete()[0]
