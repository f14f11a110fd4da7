"""The worker process: Huey's consumer for tasks, plus every registered loop in a supervised thread.

``sampark worker`` (and ``sampark serve``, which starts one) runs :func:`run`:

- Huey's consumer with ``threads`` task threads (dispatch runs, the minute sweep, small tasks). No
  long-running loop ever takes one of them, so a broadcast's dispatch task starts as soon as the
  queue is polled (``max_delay``, 1 s) whatever the periodic work is doing.
- One thread per loop in :data:`sampark.core.loops.LOOPS` (the stream ticker, …). A loop that raises
  is logged and started again after a back-off (1 s doubling to 30 s); one that returns is restarted.
- A status file ``SAMPARK_HOME/run/worker-<pid>.json``, rewritten every second: the loops alive and
  the leases this process believes it holds. Operators (and the soak test) read it.

Stopping: the first SIGINT or SIGTERM requests a stop (:mod:`sampark.core.shutdown`): dispatch runs
finish or release what they hold, loops return, the task threads finish their task; after
``SAMPARK_STOP_SECONDS`` whatever is left is abandoned (its rows' leases expire and the sweeper
re-queues them). A second signal exits at once.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils.module_loading import autodiscover_modules
from huey.contrib.djhuey import HUEY

from . import leases, loops, shutdown

log = logging.getLogger("sampark.worker")
BACKOFF_MAX_S = 30.0
HEALTH_CHECK_S = 10.0
# Signals this close together are one stop request (a Ctrl-C reaches both serve and its children, and
# serve forwards it too).
DUPLICATE_SIGNAL_S = 0.5


class LoopThread:
    """One registered loop, run in a thread and started again whenever it ends before a stop."""

    def __init__(self, spec: loops.LoopSpec, stop: threading.Event) -> None:
        self.spec = spec
        self.stop = stop
        self.restarts = 0
        self.thread = threading.Thread(target=self._run, name=f"loop:{spec.name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        backoff = 1.0
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                self.spec.fn(self.stop)
            except Exception:
                log.exception("loop %s failed; starting it again in %.0f s", self.spec.name, backoff)
            else:
                if self.stop.is_set():
                    break
                log.warning("loop %s returned; starting it again", self.spec.name)
            finally:
                connections.close_all()
            if time.monotonic() - started > 60:
                backoff = 1.0  # it ran a good while: a fresh failure starts the back-off again
            self.restarts += 1
            self.stop.wait(backoff)
            backoff = min(BACKOFF_MAX_S, backoff * 2)


def status_path(pid: int | None = None) -> Path:
    return settings.SAMPARK_HOME / "run" / f"worker-{pid or os.getpid()}.json"


def read_statuses() -> list[dict[str, Any]]:
    """The status of every worker on this machine whose process is alive."""
    result = []
    for path in sorted((settings.SAMPARK_HOME / "run").glob("worker-*.json")):
        try:
            status = json.loads(path.read_text(encoding="utf-8"))
            os.kill(int(status["pid"]), 0)
        except (OSError, ValueError, KeyError):
            continue
        result.append(status)
    return result


def _write_status(threads: Iterable[LoopThread], started: float, state: str) -> None:
    path = status_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    status = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": started,
        "written": time.time(),
        "state": state,
        "loops": {t.spec.name: {"alive": t.thread.is_alive(), "restarts": t.restarts} for t in threads},
        "leases": leases.held(),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status), encoding="utf-8")
    tmp.replace(path)  # readers never see half a file


def run(*, threads: int, periodic: bool = True, max_delay: float = 1.0) -> int:
    """Run the worker until a signal stops it; returns the exit status."""
    autodiscover_modules("tasks")
    consumer = HUEY.create_consumer(
        workers=threads,
        worker_type="thread",
        periodic=periodic,
        initial_delay=0.1,
        max_delay=max_delay,
        check_worker_health=True,
    )
    consumer.start()  # starts the task threads and the scheduler; sets Huey's signal handlers …

    stop = threading.Event()
    received: list[int] = []

    first_at: list[float] = []

    def on_signal(signum: int, frame: object) -> None:
        now = time.monotonic()
        if first_at and now - first_at[0] < DUPLICATE_SIGNAL_S:
            return  # the same stop arriving twice (the terminal's and serve's copy), not a second one
        first_at.append(now)
        received.append(signum)
        if len(received) > 1:
            # A second signal: the operator wants it gone now. Rows in flight keep their lease until
            # it expires; the sweeper re-queues them.
            os._exit(128 + signum)
        shutdown.request_stop()
        stop.set()

    # … which we replace: both SIGINT and SIGTERM (systemd, containers) stop gracefully, a second one
    # at once. (Huey's own handling makes SIGTERM abrupt and waits without bound on SIGINT.)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    started = time.time()
    loop_threads = [LoopThread(spec, stop) for spec in loops.LOOPS.values()]
    for t in loop_threads:
        t.start()
    log.info("worker %s: %d task threads, loops: %s", os.getpid(), threads, ", ".join(loops.LOOPS) or "none")
    last_check = time.monotonic()
    try:
        while not stop.wait(1.0):
            _write_status(loop_threads, started, "running")
            if time.monotonic() - last_check >= HEALTH_CHECK_S:
                last_check = time.monotonic()
                consumer.check_worker_health()  # a task thread that died is replaced
    finally:
        _write_status(loop_threads, started, "stopping")
        deadline = time.monotonic() + settings.SAMPARK_STOP_SECONDS
        consumer.stop_flag.set()
        pending = [t.thread for t in loop_threads] + [p for _, p in consumer.worker_threads]
        pending.append(consumer.scheduler)
        for thread in pending:
            thread.join(max(0.0, deadline - time.monotonic()))
        left = [t.name for t in pending if t.is_alive()]
        if left:
            log.warning("worker %s: stopped with %s still running", os.getpid(), ", ".join(left))
        else:
            log.info("worker %s: stopped cleanly", os.getpid())
        status_path().unlink(missing_ok=True)
    return 0
