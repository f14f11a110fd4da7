"""Killing the worker with SIGKILL mid-broadcast and starting it again loses nothing; at most the batch
in flight at each kill goes out twice.

Real processes against a database of their own: ``sampark demo`` builds the small organisation, a
WhatsApp broadcast is created (which enqueues its dispatch on commit), Huey consumers send it to a fake
Cloud API on 127.0.0.1 at a bounded rate, and the test kills the consumers at random moments three
times, restarting them and running the minute sweep (re-queue expired leases, kick due channels) as
the periodic task would. Embedded mode: one consumer, SQLite + SqliteHuey. Distributed mode (CI's
second run): two consumers, a fresh PostgreSQL database and a Redis database of their own. Bounded:
about 2,000 messages, three kills, two minutes at most.
"""

from __future__ import annotations

import json
import os
import random
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
BATCH = 50
KILLS = 3
RATE = 150  # messages/s: the broadcast takes ~15 s, so the kills land mid-way


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
        [sys.executable, "-m", "sampark.cli", "run_huey", "--workers", "2", "--worker-type", "thread",
         "--max-delay", "0.5", "--no-periodic"],
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
        SAMPARK_DISPATCH_BATCH=str(BATCH),
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


def test_sigkill_mid_broadcast_loses_nothing_and_duplicates_at_most_the_batch_in_flight(work_env):
    rng = random.Random(4)
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
        kills = 0
        after_first_kill: dict[str, int] = {}
        deadline = time.monotonic() + 120
        try:
            while kills < KILLS and time.monotonic() < deadline:
                time.sleep(rng.uniform(1.5, 3.5))
                for worker in workers:
                    _kill(worker, signal.SIGKILL)
                kills += 1
                workers = [_consumer(env) for _ in range(consumers)]
                time.sleep(3.2)  # the dead workers' leases expire…
                _shell(env, SWEEP)  # …and the minute sweep puts their rows back
                if kills == 1:
                    after_first_kill = _shell(env, COUNTS)
            counts: dict[str, int] = {}
            while time.monotonic() < deadline:
                counts = _shell(env, COUNTS)
                if not counts.get("0") and not counts.get("1"):
                    break
                time.sleep(2)
                _shell(env, SWEEP)
        finally:
            for worker in workers:
                _kill(worker, signal.SIGINT)

    assert kills == KILLS
    # The first kill really came mid-broadcast: some sent, some still to go.
    assert after_first_kill.get("2", 0) > 0 and after_first_kill.get("0", 0) > 0, after_first_kill
    # Nothing lost: every delivery was sent (the fake never fails here), none left queued or leased.
    assert counts == {str(2): total}, counts
    accepted = Counter(r.payload["to"] for r in fake.accepted)
    assert len(accepted) == total
    duplicates = sum(accepted.values()) - total
    # At most the batch each consumer had in flight at each kill went out twice.
    assert duplicates <= KILLS * consumers * BATCH, duplicates
