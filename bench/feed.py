"""The volunteer feed: first-load weight, and polls per second from 1,000 concurrent pollers on loopback.

Builds a throwaway SQLite home: the demo territory (small), a state stream, the streams of two districts
and of 50 booths with a dozen ticks each, 1,000 booth volunteers (20 per booth, four in five reading
Hindi) each with a personal feed link, and a click-to-chat assignment of 25 contacts for the first of
them. Serves the app with granian as ``sampark serve`` does (WSGI, 2 workers, 4 blocking threads each).

Measured:

(a) first-load weight: the feed page of the first volunteer (12 cards, 25 contacts) plus every
    stylesheet and script it references, fonts excluded — as bytes of content, and on the wire with
    the gzip whitenoise serves static files with (the HTML itself is sent uncompressed);
(b) polls/s and p50/p99 latency for 1,000 virtual users, each its own volunteer with its own token,
    each polling ``/f/<token>/poll/?after=<newest seen>`` back to back over its own keep-alive
    connection (aiohttp in a separate process, 1,000 connections). Two runs: *idle* — nothing new, every
    poll is a 204; *live* — a round of ticks is published every second meanwhile (each volunteer gets
    new cards about once a second: the poll renders them and counts the views, a write), so a real
    share of polls carries cards. Baseline: the same granian configuration and load against a bare
    WSGI callable answering 200 — the floor of server, loopback and client here.

At the real cadence (a poll every 10 s per open feed) 1,000 open feeds ask for 100 polls/s; the
figures say how many open feeds one machine carries.

The last line is ``feed: <n> polls/s (ratio <r> vs bare WSGI endpoint)`` for the live run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gzip
import multiprocessing
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import zoneinfo
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROOT, django_in_temp_home, machine
from webhooks import free_port

POLLERS = 1_000
BOOTHS = 50
IST = zoneinfo.ZoneInfo("Asia/Kolkata")
SLOGANS = [
    "बूथ चलो, हर घर तक पहुँचो — हर मतदाता से बात करो",
    "युवा साथी जुड़ेंगे, बिहार आगे बढ़ेगा",
    "हर बूथ पर दस साथी: यही हमारा लक्ष्य है",
    "गाँव-गाँव, पंचायत-पंचायत: संपर्क अभियान",
    "पढ़ाई, कमाई, दवाई — सबके लिए",
    "मतदान हमारा अधिकार है, ज़रूर वोट करें",
    "महिलाओं की सुरक्षा, सबकी ज़िम्मेदारी",
    "किसान का सम्मान, गाँव की शान",
    "सड़क, बिजली, पानी — हर गाँव तक",
    "एक बूथ, एक परिवार",
]


# --- the load generator (a process of its own) ------------------------------------------------------


def poll_load(base: str, tokens: list[str], after: int, seconds: float, conn: Any) -> None:
    """Each token polls back to back for ``seconds``; report the polls completed inside the window
    (latency, status) and the new cards they brought."""
    import aiohttp

    tick = re.compile(rb'data-tick="(\d+)"')

    async def run() -> tuple[list[tuple[float, int]], int]:
        done: list[tuple[float, int]] = []
        cards = 0
        connector = aiohttp.TCPConnector(limit=len(tokens), limit_per_host=len(tokens))
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=120)
        ) as session:
            stop_at = time.perf_counter() + seconds

            async def user(token: str) -> None:
                nonlocal cards
                newest = after
                while time.perf_counter() < stop_at:
                    start = time.perf_counter()
                    async with session.get(f"{base}/f/{token}/poll/?after={newest}") as response:
                        body = await response.read()
                    end = time.perf_counter()
                    if end > stop_at:
                        break  # finished after the window: not counted
                    done.append((end - start, response.status))
                    if response.status == 200:
                        found = [int(n) for n in tick.findall(body)]
                        cards += len(found)
                        newest = max([newest, *found])

            await asyncio.gather(*(user(token) for token in tokens))
        return done, cards

    conn.send(asyncio.run(run()))


def measure(base: str, tokens: list[str], after: int, seconds: float, warm_up: float) -> dict[str, Any]:
    """Warm the server up (connections, imports, caches; not timed), then poll for ``seconds``: polls
    completed inside the window per second, latency percentiles, status codes, new cards."""
    context = multiprocessing.get_context("spawn")
    result: dict[str, Any] = {}
    for phase, duration in (("warm-up", warm_up), ("run", seconds)):
        if duration <= 0:
            continue
        parent, child = context.Pipe()
        process = context.Process(target=poll_load, args=(base, tokens, after, duration, child))
        process.start()
        while not parent.poll(1.0):
            if not process.is_alive():
                raise RuntimeError(f"the load generator died (exit code {process.exitcode})")
        done, cards = parent.recv()
        process.join()
        if phase == "run":
            latencies = sorted(latency for latency, _status in done)
            codes: dict[int, int] = {}
            for _latency, status in done:
                codes[status] = codes.get(status, 0) + 1
            result = {
                "rate": len(done) / seconds,
                "p50": latencies[len(latencies) // 2] * 1000,
                "p99": latencies[int(len(latencies) * 0.99)] * 1000,
                "max": latencies[-1] * 1000,
                "codes": codes,
                "cards": cards,
                "polls": len(done),
            }
    return result


def start_granian(target: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """granian as ``sampark serve`` runs it (WSGI, 2 workers, 4 blocking threads each), with a listen
    backlog above the 1,000 connections opened at once (the default 1,024 is shared by the workers)."""
    process = subprocess.Popen(
        [
            sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
            "--workers", "2", "--no-ws", "--blocking-threads", "4", "--backlog", "4096",
            "--log-level", "warning", target,
        ],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"granian did not start on port {port}")


def describe(label: str, run: dict[str, Any], seconds: float) -> str:
    return (
        f"{label}: {run['polls']:,} polls in {seconds:.0f} s, {run['rate']:,.0f}/s, p50 {run['p50']:.1f} ms, "
        f"p99 {run['p99']:.1f} ms, max {run['max']:.0f} ms {run['codes']}"
    )


# --- the data -----------------------------------------------------------------------------------------


def build(now: datetime.datetime) -> tuple[list[str], int]:
    """The campaign described above; returns the tokens (the first volunteer's first) and the newest tick id."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from sampark.content import services as content
    from sampark.feed import services as feed
    from sampark.people import services as people
    from sampark.people.models import Role
    from sampark.people.scope import EVERYTHING
    from sampark.streams import services as streams
    from sampark.streams.models import Tick
    from sampark.territory.demo import build_demo
    from sampark.territory.models import Booth, District, State

    build_demo(scale="small", seed=1, hooks=False)
    users = get_user_model().objects
    writer = users.create_user("writer")
    reviewer = users.create_user("reviewer")
    chief = users.create_superuser("chief")
    items = []
    for i, slogan in enumerate(SLOGANS):
        item = content.item_create(
            by=writer,
            text_hi=slogan,
            text_en=f"Slogan {i}",
            hashtags="#BoothChalo #Bihar",
            link=f"https://example.org/campaign/{i}",
            ai_generated=i == 3,
        )
        content.item_submit(item=item, by=writer)
        items.append(content.item_approve(item=item, by=reviewer))
    booths = list(Booth.objects.filter(panchayat__isnull=False).order_by("pk")[:BOOTHS])
    units: list[Any] = [State.objects.get()]
    units += list(District.objects.filter(pk__in={b.district_id for b in booths}).order_by("pk")[:2])
    units += booths
    for n, unit in enumerate(units):
        streams.stream_create(by=EVERYTHING, name=f"stream {n}", unit=unit, items=items, now=now)
    for step in range(12):
        streams.publish_due(now=now + datetime.timedelta(seconds=31 * step))
    tokens = []
    for i in range(POLLERS):
        person = people.person_register(
            name=f"स्वयंसेवक {i}",
            phone=f"9{700000000 + i:09d}",
            age=25,
            home_booth=booths[i % BOOTHS],
            language="en" if i % 5 == 4 else "hi",
        )
        people.post_assign(person=person, role=Role.BOOTH_VOLUNTEER, unit=booths[i % BOOTHS])
        tokens.append(feed.link_issue(person=person)[1])
    for i in range(25):
        people.person_register(
            name=f"संपर्क {i:02d}", phone=f"9{600000000 + i:09d}", age=30, home_booth=booths[0]
        )
    feed.assignment_create(
        by=chief,
        title="दिवाली",
        template="नमस्ते {name} जी, दिवाली की शुभकामनाएँ!",
        unit_key=f"booth:{booths[0].code}",
    )
    call_command("collectstatic", interactive=False, verbosity=0)
    newest = Tick.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    return tokens, newest


def fetch(url: str, *, gzipped: bool = False) -> tuple[bytes, int]:
    """(content, bytes on the wire)."""
    headers = {"Accept-Encoding": "gzip"} if gzipped else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:  # noqa: S310 - loopback
        raw = response.read()
        encoded = response.headers.get("Content-Encoding") == "gzip"
    return (gzip.decompress(raw) if encoded else raw), len(raw)


def page_weight(base: str, token: str) -> tuple[int, int, dict[str, int]]:
    """(bytes of content, bytes on the wire, per part) of the first load, fonts excluded."""
    html, _wire = fetch(f"{base}/f/{token}/")
    text = html.decode()
    assert text.count('data-tick="') == 12 and text.count('href="chat/') == 25, "the page is full"
    parts = {"html": len(html)}
    wire = len(html)
    assets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', text) + re.findall(
        r'<script src="([^"]+)"', text
    )
    for asset in assets:
        body, sent = fetch(f"{base}{asset}", gzipped=True)
        parts[asset] = len(body)
        wire += sent
    return sum(parts.values()), wire, parts


# --- the run ------------------------------------------------------------------------------------------


def publish_while(stop: threading.Event, clock: Any, counter: list[int]) -> None:
    """Publish whatever is due at ``clock()`` four times a second until ``stop`` (a thread of its own)."""
    from django.db import connection

    from sampark.streams import services as streams

    while not stop.wait(0.25):
        counter[0] += len(streams.publish_due(now=clock()))
    connection.close()


def live_run(
    base: str, tokens: list[str], newest: int, seconds: float, clock: Any
) -> tuple[dict[str, Any], int]:
    stop, counter = threading.Event(), [0]
    thread = threading.Thread(target=publish_while, args=(stop, clock, counter))
    thread.start()
    try:
        return measure(base, tokens, newest, seconds, 0.0), counter[0]
    finally:
        stop.set()
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 s runs instead of 20 s")
    args = parser.parse_args()
    seconds, warm_up = (5.0, 2.0) if args.quick else (20.0, 4.0)
    home = django_in_temp_home("feed")
    from django.db import connection
    from django.db.models import Min, Sum

    from sampark.feed.models import FeedLink, TickReach
    from sampark.streams.models import Stream, Tick

    start = datetime.datetime.now(IST).replace(hour=8, minute=0, second=0, microsecond=0)
    built = time.perf_counter()
    tokens, newest = build(start)
    print(
        f"built: {POLLERS:,} volunteers with feed links in {BOOTHS} booths, in {time.perf_counter() - built:.1f} s"
    )
    connection.close()

    env = {**os.environ, "SAMPARK_HOME": str(home), "DJANGO_SETTINGS_MODULE": "config.settings"}
    port = free_port()
    bare = start_granian("bench._bare_wsgi:application", port, env)
    try:
        baseline = measure(f"http://127.0.0.1:{port}", tokens, newest, seconds, warm_up)
    finally:
        bare.terminate()
        bare.wait(timeout=10)
    print(describe("baseline bare WSGI endpoint (200 {})", baseline, seconds))

    port = free_port()
    app = start_granian("config.wsgi:application", port, env)
    base = f"http://127.0.0.1:{port}"
    try:
        weight, wire, parts = page_weight(base, tokens[0])
        print(
            f"first load (12 cards, 25 contacts; fonts excluded): {weight:,} bytes ({weight / 1024:.1f} KB; "
            f"budget 60 KB), {wire:,} bytes on the wire (static files gzipped by whitenoise, HTML as is) — {parts}"
        )
        idle = measure(base, tokens, 10**12, seconds, warm_up)  # above every tick: nothing is ever new
        print(describe("idle (nothing new: every poll a 204)", idle, seconds))

        # Real cadence: the streams' clock runs with the wall clock, each stream ticks every 20–30 s, and
        # a volunteer (state, district and booth streams) gets a new card about every 8 s.
        began = time.monotonic()
        sim = Stream.objects.aggregate(first=Min("next_tick_at"))["first"]  # streams tick as they fall due
        newest = Tick.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        live, published = live_run(
            base, tokens, newest, seconds, lambda: sim + datetime.timedelta(seconds=time.monotonic() - began)
        )
        print(
            describe(f"live, real cadence ({published / seconds:.1f} ticks/s published)", live, seconds)
            + f"; {live['codes'].get(200, 0) / live['polls']:.1%} brought {live['cards']:,} new cards"
        )

        # Burst: the streams' clock runs 31× the wall clock, so every stream ticks every second and
        # nearly every poll brings new cards to render and views to count.
        began = time.monotonic()
        sim += datetime.timedelta(seconds=3600)
        newest = Tick.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        burst, published = live_run(
            base,
            tokens,
            newest,
            seconds,
            lambda: sim + datetime.timedelta(seconds=31 * (time.monotonic() - began)),
        )
        print(
            describe(f"burst, every stream every second ({published / seconds:.0f} ticks/s)", burst, seconds)
            + f"; {burst['codes'].get(200, 0) / burst['polls']:.0%} brought {burst['cards']:,} new cards"
        )
    finally:
        app.terminate()
        app.wait(timeout=10)

    views = TickReach.objects.aggregate(n=Sum("views"))["n"] or 0
    used = FeedLink.objects.filter(last_used_at__isnull=False).count()
    print(
        f"counted: {views:,} first views in {TickReach.objects.count():,} (tick, booth) counters; {used:,} links used"
    )
    assert set(idle["codes"]) == {204}, idle["codes"]
    assert set(live["codes"]) <= {200, 204} and set(burst["codes"]) <= {200, 204}, (
        live["codes"],
        burst["codes"],
    )
    assert used == POLLERS, used
    print(
        f"at one poll per 10 s per open feed, this machine answers the polls of {live['rate'] * 10:,.0f} open "
        f"feeds at the real cadence ({burst['rate'] * 10:,.0f} if every poll brought cards)"
    )
    print(f"machine: {machine()}")
    connection.close()
    shutil.rmtree(home, ignore_errors=True)
    print(
        f"feed: {live['rate']:,.0f} polls/s (ratio {live['rate'] / baseline['rate']:.2f} vs bare WSGI endpoint)"
    )


if __name__ == "__main__":
    main()
