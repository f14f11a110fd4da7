"""Killing the worker with SIGKILL mid-broadcast and starting it again loses nothing; at most what was
in flight at each kill goes out twice, and every message that did is marked ``maybe_duplicate``.

Real processes against a database of their own: ``sampark demo`` builds the small organisation, a
WhatsApp broadcast is created (which enqueues its dispatch on commit), ``sampark worker`` processes
send it to a fake Cloud API on 127.0.0.1 at a bounded rate, and the test kills the workers three times
— each time the fake has accepted another quarter of the broadcast, so every kill lands mid-way
whatever the machine's speed — restarting them and running the minute sweep (re-queue expired leases
and mark them, kick due channels) as the periodic task would. Embedded mode: one worker, SQLite +
SqliteHuey. Distributed mode (CI's second run): two workers, a fresh PostgreSQL database and a Redis
database of their own. What is asserted is the outcome (nothing lost, duplicates within the bound,
each one marked), not how many kills fitted into some time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sampark.transports.fakes.server import LocalServer
from sampark.transports.fakes.whatsapp import FakeWhatsApp

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 64  # the default: the bound on what a kill can catch in flight
KILLS = 3
RATE = 150  # messages/s: the broadcast takes ~15 s


def _run(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sampark.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


def _shell(env: dict[str, str], code: str) -> Any:
    out = _run(env, "shell", "-c", code)
    return json.loads(out.strip().splitlines()[-1])


def _consumer(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sampark.cli", "worker", "--threads", "2", "--max-delay", "0.5", "--no-periodic"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def _kill(process: subprocess.Popen[bytes], sig: int) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    process.wait(timeout=30)


@pytest.fixture
def work_env(tmp_path):
    """The environment of the worker processes: their own database and queue, WhatsApp configured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMPARK_WHATSAPP")}
    env.update(
        SAMPARK_HOME=str(tmp_path),
        PYTHONUNBUFFERED="1",
        SAMPARK_DISPATCH_CONCURRENCY=str(CONCURRENCY),
        SAMPARK_DISPATCH_LEASE_SECONDS="3",
        SAMPARK_NIGHT_SILENCE="false",
        SAMPARK_WHATSAPP_TOKEN="crash-token",
        SAMPARK_WHATSAPP_PHONE_NUMBER_ID="5550001",
        SAMPARK_WHATSAPP_APP_SECRET="crash-secret",
        SAMPARK_WHATSAPP_VERIFY_TOKEN="crash-verify",
        SAMPARK_WHATSAPP_RATE=str(RATE),
        SAMPARK_WHATSAPP_ELIGIBILITY_ATTESTED="test only",
    )
    database = None
    if os.environ.get("DATABASE_URL"):
        import psycopg

        base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
        database = f"sampark_crash_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        env["DATABASE_URL"] = f"{base}/{database}"
        env.setdefault("SAMPARK_SECRET_KEY", "crash-test-only")
    if os.environ.get("REDIS_URL"):
        import redis

        env["REDIS_URL"] = os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/14"
        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    yield env
    if database is not None:
        import psycopg

        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


COUNTS = (
    "import json; from sampark.messaging.models import Delivery as D; "
    "print(json.dumps({str(s): n for s, n in __import__('collections').Counter("
    "D.objects.values_list('status', flat=True)).items()}))"
)
SWEEP = (
    "import json; from sampark.messaging import dispatch, tasks; n = dispatch.sweep(); "
    "tasks.kick(['whatsapp']); print(json.dumps(n))"
)


MARKED = (
    "import json; from sampark.messaging.models import Delivery as D; "
    "print(json.dumps(list(D.objects.filter(maybe_duplicate=True).values_list('contact_point__address', flat=True))))"
)


def test_sigkill_mid_broadcast_loses_nothing_and_marks_every_message_sent_twice(work_env):
    fake = FakeWhatsApp(token="crash-token", phone_number_id="5550001")
    consumers = 2 if os.environ.get("DATABASE_URL") else 1
    with LocalServer(fake.app) as server:
        env = {**work_env, "SAMPARK_WHATSAPP_API_BASE": f"{server.url}/v23.0"}
        _run(env, "migrate", "--verbosity", "0")
        _run(env, "demo", "--scale", "small", "--seed", "3", timeout=300)
        total = _shell(
            env,
            "import json; from sampark.messaging import services; from sampark.messaging.models import Message; "
            "from sampark.people.scope import EVERYTHING; "
            "b = services.broadcast_create(by=EVERYTHING, message=Message(text_hi='बूथ चलो'), units=['state'], "
            "channels=['whatsapp']); print(json.dumps(b.recipients))",
        )
        assert total > 1000

        workers = [_consumer(env) for _ in range(consumers)]
        deadline = time.monotonic() + 240
        try:
            for kill in range(1, KILLS + 1):
                # Each kill once another quarter has gone: mid-broadcast by construction.
                while len(fake.accepted) < total * kill / (KILLS + 1):
                    assert time.monotonic() < deadline, f"stalled at {len(fake.accepted)} of {total}"
                    time.sleep(0.05)
                for worker in workers:
                    _kill(worker, signal.SIGKILL)
                workers = [_consumer(env) for _ in range(consumers)]
                time.sleep(3.2)  # the dead workers' leases expire…
                _shell(env, SWEEP)  # …and the minute sweep puts their rows back, marked
            counts: dict[str, int] = {}
            while time.monotonic() < deadline:
                counts = _shell(env, COUNTS)
                if not counts.get("0") and not counts.get("1"):
                    break
                time.sleep(2)
                _shell(env, SWEEP)
            marked = {address.lstrip("+") for address in _shell(env, MARKED)}
        finally:
            for worker in workers:
                _kill(worker, signal.SIGINT)

    # Nothing lost: every delivery was sent (the fake never fails here), none left queued or leased.
    assert counts == {str(2): total}, counts
    accepted = Counter(r.payload["to"] for r in fake.accepted)
    assert len(accepted) == total
    duplicates = sum(accepted.values()) - total
    # At most what each worker had in flight (its concurrency) at each kill went out twice…
    assert duplicates <= KILLS * consumers * CONCURRENCY, duplicates
    # …and every message that did is marked on its row (the sweeper re-queued it as a possible one).
    twice = {to for to, n in accepted.items() if n > 1}
    assert twice <= marked, sorted(twice - marked)[:5]
