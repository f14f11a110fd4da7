"""One dispatcher against a local fake WhatsApp Cloud API: messages/s unlimited, and the achieved rate
under an 80/s limit.

The fake (``sampark.transports.fakes.whatsapp``) runs in a process of its own on 127.0.0.1. Measured:

- baseline: a bare aiohttp client posting the same Cloud API payloads with the same concurrency to the
  same fake — the physical limit of client, loopback and server on this machine;
- ``dispatch.dispatch_channel("whatsapp")`` with no effective limit: claims under a lease, renders,
  sends through the WhatsApp transport, records every outcome and attempt — messages/s;
- the same under the default 80/s limit: the rate the fake actually saw (accepted requests over the
  time between the first and the last), target within ±2 % (the dispatcher keeps a 2 % margin in every
  window, so expect about −2 %), and the most arrivals in any closed 1 s window (must be ≤ 80).

The last line is ``dispatch: <msg/s> msg/s (ratio <r> vs bare aiohttp client)``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import multiprocessing
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import django_in_temp_home, machine

TOKEN = "bench-token"  # noqa: S105 - the fake's credential
NUMBER_ID = "1122334455"


def serve_fake(conn: Any) -> None:
    """The fake WhatsApp in this (child) process; reports its URL, then its counts when told to stop."""
    from sampark.transports.fakes.server import LocalServer
    from sampark.transports.fakes.whatsapp import FakeWhatsApp

    fake = FakeWhatsApp(token=TOKEN, phone_number_id=NUMBER_ID)
    with LocalServer(fake.app) as server:
        conn.send(server.url)
        while conn.recv() == "times":
            conn.send(sorted(r.at for r in fake.accepted))


async def bare_client(url: str, payloads: list[dict[str, Any]], concurrency: int) -> float:
    import aiohttp

    from sampark.core import http

    slots = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with http.async_session(connections=concurrency) as session:

        async def one(payload: dict[str, Any]) -> None:
            async with slots, session.post(url, json=payload, headers=headers) as response:
                await response.read()
                assert response.status == 200, response.status

        start = time.perf_counter()
        await asyncio.gather(*(one(p) for p in payloads))
        assert isinstance(session, aiohttp.ClientSession)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages, a shorter limited run")
    args = parser.parse_args()
    unlimited_n = 3_000 if args.quick else 20_000
    limited_s = 5 if args.quick else 15

    context = multiprocessing.get_context("spawn")  # the fake must not share this process's GIL
    parent, child = context.Pipe()
    fake = context.Process(target=serve_fake, args=(child,), daemon=True)
    fake.start()
    base_url = parent.recv()

    home = django_in_temp_home("dispatch")
    from django.conf import settings
    from django.db import connection

    from sampark.messaging import dispatch, services
    from sampark.messaging.models import Delivery, Message
    from sampark.people.models import ContactPoint
    from sampark.people.scope import EVERYTHING
    from sampark.territory.demo import build_demo
    from sampark.transports.whatsapp.transport import WhatsApp

    settings.SAMPARK_NIGHT_SILENCE = False  # measure whatever the hour
    build_demo(scale="small", seed=1)
    points = ContactPoint.objects.filter(channel="whatsapp", consent_live=True).count()
    assert points, "the demo has no WhatsApp contact points"

    def queue(total: int) -> int:
        queued = 0
        while queued < total:
            b = services.broadcast_create(
                by=EVERYTHING,
                message=Message(text_hi="नमस्ते साथियों, बूथ चलो"),
                units=["state"],
                channels=["whatsapp"],
            )
            queued += b.recipients
        return queued

    def transport(rate: int) -> WhatsApp:
        sender = WhatsApp(
            token=TOKEN,
            phone_number_id=NUMBER_ID,
            app_secret="s",  # noqa: S106 - the fake needs none
            verify_token="v",  # noqa: S106
            api_base=f"{base_url}/v23.0",
            rate=rate,
            attestation="bench",
        )
        # The bench sends several broadcasts to the same few thousand demo numbers; the pair-rate
        # spacing (one message per 6 s to a user) would measure the demo's size, not the dispatcher.
        sender.per_recipient_seconds = 0.0  # type: ignore[misc]
        return sender

    concurrency = settings.SAMPARK_DISPATCH_CONCURRENCY
    # Baseline: the same payloads, a bare client.
    addresses = list(ContactPoint.objects.filter(channel="whatsapp").values_list("address", flat=True))
    payloads = [
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": addresses[i % len(addresses)].lstrip("+"),
            "type": "text",
            "text": {"body": "नमस्ते साथियों, बूथ चलो", "preview_url": False},
        }
        for i in range(unlimited_n)
    ]
    base_s = asyncio.run(bare_client(f"{base_url}/v23.0/{NUMBER_ID}/messages", payloads, concurrency))
    base_rate = unlimited_n / base_s
    print(
        f"baseline bare aiohttp client, {concurrency} in flight: {unlimited_n:,} posts in {base_s:.2f} s = {base_rate:,.0f}/s"
    )

    # Unlimited (a limit far above what one worker can reach).
    queued = queue(unlimited_n)
    start = time.perf_counter()
    sent = 0
    while True:
        stats = dispatch.dispatch_channel("whatsapp", transport=transport(1000), budget_s=600)
        sent += stats.sent
        if not stats.claimed:
            break
    # 1,000/s is the Cloud API's ceiling per number; measure above it with an unreachable limit.
    unlimited_s = time.perf_counter() - start
    rate = sent / unlimited_s
    assert sent == queued, (sent, queued)
    print(f"dispatch at the 1,000/s limit: {sent:,} sent in {unlimited_s:.2f} s = {rate:,.0f}/s")

    Delivery.objects.all().delete()
    queue(unlimited_n)
    fast = transport(1000)
    fast._limit = type(fast.limit)(100_000)  # beyond the Cloud API's ceiling: what the dispatcher can do
    start = time.perf_counter()
    sent = 0
    while True:
        stats = dispatch.dispatch_channel("whatsapp", transport=fast, budget_s=600)
        sent += stats.sent
        if not stats.claimed:
            break
    free_s = time.perf_counter() - start
    free_rate = sent / free_s
    print(f"dispatch with no limit: {sent:,} sent in {free_s:.2f} s = {free_rate:,.0f}/s")

    # Limited: 80/s for limited_s seconds' worth of messages.
    Delivery.objects.all().delete()
    parent.send("times")
    before = len(parent.recv())
    n = 80 * limited_s
    queue(n)
    Delivery.objects.filter(
        pk__in=list(Delivery.objects.order_by("pk").values_list("pk", flat=True)[n:])
    ).delete()
    while dispatch.dispatch_channel("whatsapp", transport=transport(80), budget_s=600).claimed:
        pass
    parent.send("times")
    times = parent.recv()[before:]
    assert len(times) == n, (len(times), n)
    # As the fake saw them: the rate over the run (n requests span n-1 gaps), and the most in any one
    # second (a limit of 80/s must never let 81 through in a second).
    achieved = (n - 1) / (times[-1] - times[0])
    # Closed windows [t, t + 1 s] from every arrival (stricter than half-open ones).
    busiest = max(bisect.bisect_right(times, t + 1.0) - i for i, t in enumerate(times))
    print(
        f"dispatch under an 80/s limit: {n} messages over {times[-1] - times[0]:.2f} s, achieved "
        f"{achieved:.2f}/s ({(achieved / 80 - 1) * 100:+.1f} %); most in any 1 s window: {busiest}"
    )

    parent.send("stop")
    fake.join(timeout=10)
    print(f"machine: {machine()}")
    connection.close()
    shutil.rmtree(home, ignore_errors=True)
    print(f"dispatch: {free_rate:,.0f} msg/s (ratio {free_rate / base_rate:.2f} vs bare aiohttp client)")


if __name__ == "__main__":
    main()
