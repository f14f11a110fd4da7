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

The last line is ``webhooks: <n> callbacks/s (ratio <r> vs bare WSGI endpoint)``.
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


def measure(
    url: str, bodies: list[bytes], warm_up: list[bytes], server: int
) -> tuple[float, float, float, dict[int, int], list[float], float]:
    """Warm the server up (imports, connections, caches in every worker; not timed), then time ``bodies``;
    the last value is the server's (process ``server`` and its children) CPU seconds per request."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=load, args=(url, warm_up, child))
    process.start()
    parent.recv()
    process.join()
    parent, child = context.Pipe()
    process = context.Process(target=load, args=(url, bodies, child))
    cpu_before = tree_cpu_seconds(server)
    process.start()
    seconds, latencies, codes, posted = parent.recv()
    cpu = (tree_cpu_seconds(server) - cpu_before) / len(bodies)
    process.join()
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    return len(bodies) / seconds, p50, p99, codes, sorted(posted), cpu


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
    port = free_port()
    bare = start_granian("bench._bare_wsgi:application", port, env)
    try:
        base_rate, base_p50, base_p99, base_codes, _posted, base_cpu = measure(
            f"http://127.0.0.1:{port}/webhooks/whatsapp/", bodies, warm_up, bare.pid
        )
    finally:
        bare.terminate()
        bare.wait(timeout=10)
    print(
        f"baseline bare WSGI endpoint: {base_rate:,.0f} requests/s, p50 {base_p50:.1f} ms, p99 {base_p99:.1f} ms, "
        f"server CPU {base_cpu * 1e6:.0f} us/request {base_codes}"
    )

    from sampark.core import loops
    from sampark.messaging import statuses

    stop = threading.Event()
    drainer = threading.Thread(target=loops.LOOPS["messaging.statuses"].fn, args=(stop,), daemon=True)
    drainer.start()
    port = free_port()
    app = start_granian("config.wsgi:application", port, env)
    sampler = Sampler()
    try:
        before = applied_statuses()
        sampler.start()
        rate, p50, p99, codes, posted, cpu = measure(
            f"http://127.0.0.1:{port}/webhooks/whatsapp/", bodies, warm_up, app.pid
        )
        deadline = time.monotonic() + 120
        while statuses.backlog() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)  # one more sample after the last batch
    finally:
        app.terminate()
        app.wait(timeout=10)
        sampler.stop.set()
        sampler.join()
        stop.set()
        drainer.join(timeout=10)
    # The warm-up's "sent" statuses change no row (already sent): only the measured ones are counted.
    lag = sorted(lags(posted, sampler.samples, before))
    read = Delivery.objects.filter(status=Delivery.Status.READ, delivered_at__isnull=False).count()
    print(
        f"status webhooks: {len(bodies):,} callbacks, {rate:,.0f}/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
        f"server CPU {cpu * 1e6:.0f} us/callback (the drain runs in this process, not counted) {codes}"
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
    print(f"webhooks: {rate:,.0f} callbacks/s (ratio {rate / base_rate:.2f} vs bare WSGI endpoint)")


if __name__ == "__main__":
    main()
