"""Crash benchmark: a real worker process is killed with SIGKILL again and again during one WhatsApp
broadcast; afterwards nothing may be lost, and every message the fake provider got twice must be marked.

- A throwaway SAMPARK_HOME (SQLite, SqliteHuey) gets the small demo territory and N volunteers (default
  55,000; ``--quick``: 6,000), then one broadcast to all of them on WhatsApp.
- ``sampark worker`` (Huey consumer + loops) sends it to a fake Cloud API in this process, which counts
  what it accepts per recipient, at the sender's limit (1,000/s; ``--quick``: 400/s).
- Each time the fake has accepted another 1/(kills+1) of the broadcast, the worker's process group is
  killed with SIGKILL and a new worker started; once the dead worker's leases expire (3 s here) the
  minute sweep is run as the periodic task would (re-queue, mark ``maybe_duplicate``, kick).

Reported: lost (recipients never accepted, rows not sent: must be 0), duplicates (accepted more than
once), rows marked ``maybe_duplicate`` and duplicates *not* marked (must be 0). The physical bound is
what can be in flight at the instant of a kill: the sender's window (sent, outcome not yet committed),
which starts at ``SAMPARK_DISPATCH_CONCURRENCY`` (64) and grows to what the rate needs at the latency
seen, at most ``SAMPARK_DISPATCH_MAX_IN_FLIGHT``. The workers log at DEBUG each time a window grows;
the largest window seen is the bound per kill. The last line is
``crash: <duplicates per kill> duplicates per kill (ratio <r> vs <window> in flight)``.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROOT, machine

TOKEN = "crash-token"  # noqa: S105 - the fake's credential
NUMBER_ID = "5550001"


def sampark(env: dict[str, str], *args: str, timeout: float = 900) -> None:
    subprocess.run(
        [sys.executable, "-m", "sampark.cli", *args], cwd=ROOT, env=env, check=True, timeout=timeout,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "sampark.cli", "worker", "--threads", "2", "--no-periodic", "--max-delay", "0.2"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def largest_window(log: Path, floor: int) -> int:
    """The largest send window any worker grew to (its DEBUG lines), or the floor if none grew."""
    grown = re.findall(r"send window \d+ → (\d+)", log.read_text(encoding="utf-8", errors="replace"))
    return max([floor, *(int(n) for n in grown)])


def kill(process: subprocess.Popen[bytes], sig: int) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6,000 messages, 3 kills, 400/s")
    parser.add_argument("--recipients", type=int)
    parser.add_argument("--kills", type=int)
    parser.add_argument("--rate", type=int)
    args = parser.parse_args()
    total_wanted = args.recipients or (6_000 if args.quick else 55_000)
    kills_wanted = args.kills or (3 if args.quick else 6)
    rate = args.rate or (400 if args.quick else 1000)
    concurrency = 64

    home = Path(tempfile.mkdtemp(prefix="sampark-bench-crash-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAMPARK_", "DATABASE_URL", "REDIS_URL"))}
    env.update(
        SAMPARK_HOME=str(home),
        SAMPARK_LANGUAGE="en",
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONUNBUFFERED="1",
        SAMPARK_DISPATCH_CONCURRENCY=str(concurrency),
        SAMPARK_LOG_LEVEL="DEBUG",  # the window's growth lines
        SAMPARK_DISPATCH_LEASE_SECONDS="3",
        SAMPARK_NIGHT_SILENCE="false",
        SAMPARK_WHATSAPP_TOKEN=TOKEN,
        SAMPARK_WHATSAPP_PHONE_NUMBER_ID=NUMBER_ID,
        SAMPARK_WHATSAPP_APP_SECRET="crash-secret",  # noqa: S106 - the fake needs none
        SAMPARK_WHATSAPP_VERIFY_TOKEN="crash-verify",  # noqa: S106
        SAMPARK_WHATSAPP_RATE=str(rate),
        SAMPARK_WHATSAPP_ELIGIBILITY_ATTESTED="benchmark only",
    )
    from sampark.transports.fakes.server import LocalServer
    from sampark.transports.fakes.whatsapp import FakeWhatsApp

    fake = FakeWhatsApp(token=TOKEN, phone_number_id=NUMBER_ID)
    with LocalServer(fake.app) as server:
        env["SAMPARK_WHATSAPP_API_BASE"] = f"{server.url}/v23.0"
        os.environ.clear()
        os.environ.update(env)  # this process talks to the same database and queue as the worker
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.db import connection

        from sampark.messaging import dispatch, services, tasks
        from sampark.messaging.models import Delivery, Message
        from sampark.people.importers import VolunteerImport
        from sampark.people.scope import EVERYTHING
        from sampark.territory.demo import build_demo
        from sampark.territory.importers.base import run_import
        from sampark.territory.models import Booth

        sampark(env, "migrate", "--verbosity", "0")
        build_demo(scale="small", seed=1, hooks=False)
        codes = list(Booth.objects.order_by("pk").values_list("code", flat=True))
        people_csv = home / "volunteers.csv"
        with people_csv.open("w", encoding="utf-8", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(
                ["name", "phone", "booth", "post", "age", "consent_source", "consent_at", "language"]
            )
            for i in range(total_wanted):
                out.writerow([f"Saathi {i}", f"{9_100_000_000 + i}", codes[i % len(codes)], "booth_volunteer",
                              "24", "form", "2026-01-05", "hi"])  # fmt: skip
        assert run_import(VolunteerImport, [people_csv]).committed
        broadcast = services.broadcast_create(
            by=EVERYTHING, message=Message(text_hi="बूथ चलो"), units=["state"], channels=["whatsapp"]
        )  # enqueues its dispatch on commit: the worker picks it up
        total = broadcast.recipients
        print(f"broadcast of {total:,} WhatsApp messages at {rate}/s, {kills_wanted} kills, lease 3 s")

        started = time.monotonic()
        log = home / "worker.log"
        current = worker(env, log)
        kills = 0
        down_s = 0.0
        try:
            while kills < kills_wanted:
                threshold = total * (kills + 1) / (kills_wanted + 1)
                while len(fake.accepted) < threshold:
                    time.sleep(0.05)
                kill(current, signal.SIGKILL)
                kills += 1
                died = time.monotonic()
                current = worker(env, log)
                time.sleep(3.3)  # the dead worker's leases expire…
                dispatch.sweep()  # …and the minute sweep puts them back (marked), as the periodic task would
                tasks.kick(["whatsapp"])
                down_s += time.monotonic() - died
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                left = Delivery.objects.filter(status__in=(0, 1)).count()
                if not left:
                    break
                time.sleep(1.0)
                dispatch.sweep()
                tasks.kick(["whatsapp"])
        finally:
            kill(current, signal.SIGINT)
        elapsed = time.monotonic() - started

    accepted = Counter(r.payload["to"] for r in fake.accepted)
    rows = Delivery.objects.filter(broadcast=broadcast)
    not_sent = rows.exclude(status=Delivery.Status.SENT).count()
    lost = total - len(accepted) + not_sent
    duplicates = sum(accepted.values()) - len(accepted)
    twice = {to for to, n in accepted.items() if n > 1}
    marked = {
        address.lstrip("+")
        for address in rows.filter(maybe_duplicate=True).values_list("contact_point__address", flat=True)
    }
    unmarked = len(twice - marked)
    minimum_s = total / rate
    window = largest_window(home / "worker.log", concurrency)
    print(
        f"done in {elapsed:.1f} s (provider-limited minimum {minimum_s:.1f} s; {down_s:.1f} s of kills and restarts)"
    )
    print(f"lost: {lost} (recipients never accepted {total - len(accepted)}, rows not sent {not_sent})")
    print(
        f"duplicates: {duplicates} over {kills} kills = {duplicates / max(1, kills):.1f} per kill "
        f"(bound: largest window {window} × {kills} = {window * kills})"
    )
    print(f"rows marked maybe_duplicate: {len(marked)}; duplicates not marked: {unmarked}")
    print(f"machine: {machine()}")
    connection.close()
    shutil.rmtree(home, ignore_errors=True)
    ok = lost == 0 and duplicates <= window * kills and unmarked == 0
    per_kill = duplicates / max(1, kills)
    print(f"crash: {per_kill:.1f} duplicates per kill (ratio {per_kill / window:.2f} vs {window} in flight)")
    if not ok:
        raise SystemExit("crash: FAILED (lost, over the bound, or an unmarked duplicate)")


if __name__ == "__main__":
    main()
