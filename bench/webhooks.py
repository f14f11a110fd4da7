"""WhatsApp status callbacks per second on loopback, with latency and lag, vs a bare WSGI endpoint.

Serves the app with granian as ``sampark serve`` does (WSGI, 2 workers, a few blocking threads each)
on a throwaway SQLite home holding sent WhatsApp deliveries, then a load generator in its own process
posts signed Cloud API status webhooks ("delivered", then "read", one status per request as Meta sends
them), 32 in flight. The webhook only queues a status; the worker's ``messaging.statuses`` loop applies
the queue in batches — here it runs in a thread of this process (the worker's own loop function, as
the worker runs it), concurrently with the load. Measured: callbacks/s and p50/p99 request latency;
the lag from a provider's post to its status on the Delivery row (p50/p99/max: the k-th status posted
against the moment k statuses were on rows, sampled every 50 ms; statuses are applied in arrival
order); every status applied (checked in the database afterwards); the server's CPU per request
(granian and its workers, from /proc). Baseline: the same granian
configuration serving a bare WSGI callable that answers 200 to the same requests — the floor of
server, loopback and client here.

Both servers run side by side and are measured in alternating rounds (bare, app, bare, app, …; 5 by
default, ``--quick`` 2), each round posting the next slice of the statuses: on a shared host whose
speed drifts by a third from one minute to the next, one bare run followed by one app run measured the
drift as much as the code. Each round's ratio compares two measurements taken seconds apart; the
figure is the median round's. The last line is
``webhooks: <n> callbacks/s (ratio <r> vs bare WSGI endpoint)`` (n: all the app rounds' posts over
their time).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROOT, cpu_seconds, descendants, django_in_temp_home, machine

SECRET = "bench-app-secret"  # noqa: S105 - a throwaway home's webhook secret
CONCURRENCY = 32
SETTINGS = {
    "SAMPARK_WHATSAPP_TOKEN": "bench-token",
    "SAMPARK_WHATSAPP_PHONE_NUMBER_ID": "1122334455",
    "SAMPARK_WHATSAPP_APP_SECRET": SECRET,
    "SAMPARK_WHATSAPP_VERIFY_TOKEN": "bench-verify",
    "SAMPARK_WHATSAPP_API_BASE": "http://127.0.0.1:9/v23.0",  # never called
    "SAMPARK_WHATSAPP_ELIGIBILITY_ATTESTED": "benchmark only",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_granian(target: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
            "--workers", "2", "--no-ws", "--blocking-threads", "4", "--log-level", "warning", target,
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


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` and its children (granian's workers)."""
    return sum(cpu_seconds(each)[1] for each in [pid, *descendants(pid)])


def load(url: str, bodies: list[bytes], conn: Any) -> None:
    """The load generator (a process of its own): post every body, report (seconds, latencies, codes)."""
    import aiohttp

    from sampark.transports.fakes.whatsapp import sign

    async def run() -> tuple[float, list[float], dict[int, int], list[float]]:
        latencies: list[float] = []
        posted: list[float] = []  # wall-clock start of each request, to compare with the database
        codes: dict[int, int] = {}
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        for body in bodies:
            queue.put_nowait(body)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:

            async def worker() -> None:
                while not queue.empty():
                    body = queue.get_nowait()
                    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, SECRET)}
                    posted.append(time.time())
                    start = time.perf_counter()
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                    latencies.append(time.perf_counter() - start)
                    codes[response.status] = codes.get(response.status, 0) + 1

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            return time.perf_counter() - start, latencies, codes, posted

    conn.send(asyncio.run(run()))


def run_load(
    url: str, bodies: list[bytes], server: int
) -> tuple[float, list[float], dict[int, int], list[float], float]:
    """Post ``bodies`` from a process of its own: (seconds, latencies, answers by code, wall-clock
    start of each post, the server's — process ``server`` and its children — CPU seconds per request)."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=load, args=(url, bodies, child))
    cpu_before = tree_cpu_seconds(server)
    process.start()
    seconds, latencies, codes, posted = parent.recv()
    cpu = (tree_cpu_seconds(server) - cpu_before) / len(bodies)
    process.join()
    return seconds, latencies, codes, posted, cpu


def percentiles(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    return ordered[len(ordered) // 2] * 1000, ordered[int(len(ordered) * 0.99)] * 1000


def applied_statuses() -> int:
    """Statuses on Delivery rows: each delivered and each read stamp counts one."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(delivered_at), COUNT(read_at) FROM messaging_delivery WHERE provider_message_id <> ''"
        )
        delivered, read = cursor.fetchone()
    return int(delivered) + int(read)


class Sampler(threading.Thread):
    """Every 50 ms: (wall time, statuses applied so far)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.samples: list[tuple[float, int]] = []

    def run(self) -> None:
        from django.db import connection

        while not self.stop.is_set():
            self.samples.append((time.time(), applied_statuses()))
            self.stop.wait(0.05)
        connection.close()


def lags(posted: list[float], samples: list[tuple[float, int]], before: int) -> list[float]:
    """For the k-th status posted, the seconds until k statuses (beyond ``before``) were applied."""
    found: list[float] = []
    i = 0
    for k, at in enumerate(posted, start=1):
        while i < len(samples) and samples[i][1] - before < k:
            i += 1
        if i == len(samples):
            break
        found.append(max(samples[i][0] - at, 0.0))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 callbacks instead of 20,000")
    args = parser.parse_args()
    messages = 1_000 if args.quick else 10_000  # two statuses each
    os.environ.update(SETTINGS)
    home = django_in_temp_home("webhooks")
    from django.conf import settings
    from django.db import connection

    from sampark.messaging import services
    from sampark.messaging.models import Delivery, Message
    from sampark.people.scope import EVERYTHING
    from sampark.territory.demo import build_demo
    from sampark.transports.fakes.whatsapp import status_payload

    build_demo(scale="small", seed=1)
    while Delivery.objects.count() < messages:
        services.broadcast_create(
            by=EVERYTHING, message=Message(text_hi="नमस्ते"), units=["state"], channels=["whatsapp"]
        )
    ids = list(Delivery.objects.order_by("pk").values_list("pk", flat=True)[:messages])
    Delivery.objects.exclude(pk__in=ids).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE messaging_delivery SET status = 2, provider_message_id = 'wamid.bench.' || id, sent_at = queued_at"
        )
    connection.close()
    now = int(time.time())
    bodies = [status_payload(f"wamid.bench.{i}", "delivered", now + 1) for i in ids]
    bodies += [status_payload(f"wamid.bench.{i}", "read", now + 2) for i in ids]
    # "sent" again for rows already sent: the same path (find the row, change nothing).
    warm_up = [status_payload(f"wamid.bench.{i}", "sent", now) for i in ids[:500]]

    env = {**os.environ, "SAMPARK_HOME": str(home), "DJANGO_SETTINGS_MODULE": "config.settings"}
    from sampark.core import loops
    from sampark.messaging import statuses

    stop = threading.Event()
    drainer = threading.Thread(target=loops.LOOPS["messaging.statuses"].fn, args=(stop,), daemon=True)
    drainer.start()
    bare_port, app_port = free_port(), free_port()
    bare = start_granian("bench._bare_wsgi:application", bare_port, env)
    app = start_granian("config.wsgi:application", app_port, env)
    bare_url = f"http://127.0.0.1:{bare_port}/webhooks/whatsapp/"
    app_url = f"http://127.0.0.1:{app_port}/webhooks/whatsapp/"
    sampler = Sampler()
    rounds = 2 if args.quick else 5
    size = len(bodies) // rounds
    table: list[tuple[float, float, float, float]] = []  # per round: bare/s, app/s, bare cpu, app cpu
    bare_latencies: list[float] = []
    app_latencies: list[float] = []
    posted: list[float] = []
    codes: dict[int, int] = {}
    app_seconds = 0.0
    try:
        # Warm both up (imports, connections, caches in every worker; not timed).
        run_load(bare_url, warm_up, bare.pid)
        run_load(app_url, warm_up, app.pid)
        before = applied_statuses()
        sampler.start()
        for k in range(rounds):
            chunk = bodies[k * size : (k + 1) * size if k < rounds - 1 else len(bodies)]
            b_s, b_lat, b_codes, _b_posted, b_cpu = run_load(bare_url, chunk, bare.pid)
            a_s, a_lat, a_codes, a_posted, a_cpu = run_load(app_url, chunk, app.pid)
            assert b_codes == {200: len(chunk)}, b_codes
            for code, n in a_codes.items():
                codes[code] = codes.get(code, 0) + n
            bare_latencies += b_lat
            app_latencies += a_lat
            posted += a_posted
            app_seconds += a_s
            table.append((len(chunk) / b_s, len(chunk) / a_s, b_cpu, a_cpu))
            print(
                f"round {k + 1}: bare {len(chunk) / b_s:,.0f}/s ({b_cpu * 1e6:.0f} us/request), "
                f"status webhooks {len(chunk) / a_s:,.0f}/s ({a_cpu * 1e6:.0f} us/callback): "
                f"ratio {b_s / a_s:.2f}"
            )
        deadline = time.monotonic() + 120
        while statuses.backlog() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)  # one more sample after the last batch
    finally:
        for server in (bare, app):
            server.terminate()
            server.wait(timeout=10)
        sampler.stop.set()
        if sampler.is_alive():
            sampler.join()
        stop.set()
        drainer.join(timeout=10)
    posted.sort()
    rate = len(bodies) / app_seconds
    ratios = sorted(app_rate / bare_rate for bare_rate, app_rate, _b, _a in table)
    ratio = ratios[len(ratios) // 2]
    base_p50, base_p99 = percentiles(bare_latencies)
    p50, p99 = percentiles(app_latencies)
    base_rate = sorted(row[0] for row in table)[len(table) // 2]
    base_cpu = sorted(row[2] for row in table)[len(table) // 2]
    cpu = sorted(row[3] for row in table)[len(table) // 2]
    print(
        f"baseline bare WSGI endpoint: median round {base_rate:,.0f} requests/s, p50 {base_p50:.1f} ms, "
        f"p99 {base_p99:.1f} ms, server CPU {base_cpu * 1e6:.0f} us/request"
    )
    # The warm-up's "sent" statuses change no row (already sent): only the measured ones are counted.
    lag = sorted(lags(posted, sampler.samples, before))
    read = Delivery.objects.filter(status=Delivery.Status.READ, delivered_at__isnull=False).count()
    print(
        f"status webhooks: {len(bodies):,} callbacks, {rate:,.0f}/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
        f"server CPU {cpu * 1e6:.0f} us/callback in the median round (the drain runs in this process, "
        f"not counted) {codes}"
    )
    print(f"applied: {read:,} of {messages:,} deliveries read (with their delivered time)")
    assert codes == {200: len(bodies)}, codes
    assert read == messages, (read, messages)
    assert len(lag) == len(bodies), (len(lag), len(bodies))
    print(
        f"webhook lag (post -> status on its row): p50 {lag[len(lag) // 2]:.2f} s, "
        f"p99 {lag[int(len(lag) * 0.99)]:.2f} s, max {lag[-1]:.2f} s "
        f"(drain batch {settings.SAMPARK_STATUS_DRAIN_BATCH}, interval {settings.SAMPARK_STATUS_DRAIN_SECONDS} s)"
    )
    print(f"machine: {machine()}")
    connection.close()
    shutil.rmtree(home, ignore_errors=True)
    print(f"ratios by round: {', '.join(f'{r:.2f}' for r in ratios)} (median {ratio:.2f})")
    print(f"webhooks: {rate:,.0f} callbacks/s (ratio {ratio:.2f} vs bare WSGI endpoint)")


if __name__ == "__main__":
    main()
