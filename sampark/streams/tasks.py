"""Background work of streams: the ticker loop, its watchdog, and Telegram channel posts."""

from __future__ import annotations

import asyncio
import datetime
import logging

from django.db import close_old_connections
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from sampark.core import http
from sampark.transports import registry
from sampark.transports.base import Outgoing, TransportError

from . import ticker
from .models import ChannelPost

log = logging.getLogger(__name__)
LOOP_S = 600.0  # one ticker task runs this long, then hands over to a fresh one


@db_task(retries=0)
def run_ticker() -> int:
    published = ticker.run(seconds=LOOP_S)
    if ticker.lease_free(timezone.now()):
        run_ticker()  # hand over at once: the watchdog would leave up to a minute without ticks
    return published


@db_periodic_task(crontab(minute="*"))
def ticker_watchdog() -> bool:
    """Start a ticker loop if none holds the lease (first start, or its worker died)."""
    close_old_connections()
    if ticker.lease_free(timezone.now()):
        run_ticker()
        return True
    return False


@db_task(retries=0)
def post_to_channels(tick_id: int) -> int:
    """Post a tick to its Telegram channels; transient failures are retried with backoff."""
    transport = registry.for_channel("telegram")
    posts = list(
        ChannelPost.objects.filter(tick_id=tick_id, status=ChannelPost.Status.QUEUED).select_related(
            "tick__item"
        )
    )
    if transport is None or not posts:
        return 0

    async def send_all() -> list[tuple[ChannelPost, str, TransportError | None]]:
        results: list[tuple[ChannelPost, str, TransportError | None]] = []
        async with http.async_session(connections=4) as session:
            for post in posts:
                item = post.tick.item
                outgoing = Outgoing(
                    delivery_id=post.pk, address=post.chat_id, text=item.text_for("hi"), link=item.link,
                    media_url=item.image_url, promotional=False,
                )  # fmt: skip
                try:
                    results.append((post, await transport.send(session, outgoing), None))
                except TransportError as exc:
                    results.append((post, "", exc))
        return results

    sent = 0
    retry_at: datetime.datetime | None = None
    for post, provider_id, error in asyncio.run(send_all()):
        post.attempts += 1
        if error is None:
            post.status, post.provider_message_id, post.error = ChannelPost.Status.SENT, provider_id, ""
            sent += 1
        elif error.permanent or post.attempts >= 5:
            post.status, post.error = ChannelPost.Status.FAILED, error.reason[:300]
        else:
            wait = error.retry_after if error.retry_after is not None else 5.0 * 2 ** (post.attempts - 1)
            post.next_attempt_at = timezone.now() + datetime.timedelta(seconds=wait)
            post.error = error.reason[:300]
            retry_at = min(retry_at or post.next_attempt_at, post.next_attempt_at)
        post.save(update_fields=["attempts", "status", "provider_message_id", "error", "next_attempt_at"])
    if retry_at is not None:
        post_to_channels.schedule((tick_id,), eta=retry_at)
    return sent
