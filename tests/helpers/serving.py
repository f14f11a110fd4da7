"""Running the real `sampark serve` in tests: start it in a session of its own, wait for it, read its
worker's status files, stop it, and check nothing is left behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Nothing listens on ``port``: connecting is refused, and a server could bind it again (with
    SO_REUSEADDR, as every server does: the test's own closed connections linger in TIME_WAIT)."""
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def embedded_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(SAMPARK_HOME=str(home), SAMPARK_LANGUAGE="hi", PYTHONUNBUFFERED="1", **extra)
    return env


def start_serve(home: Path, port: int, *args: str, **extra_env: str) -> subprocess.Popen[str]:
    """`sampark serve` as its own session and process group (a terminal's Ctrl-C reaches the group)."""
    return subprocess.Popen(
        [sys.executable, "-m", "sampark.cli", "serve", "--port", str(port), "--web-workers", "1", *args],
        cwd=ROOT,
        env=embedded_env(home, **extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_until_up(proc: subprocess.Popen[str], port: int, *, seconds: float = 120) -> str:
    """The login page's HTML once the server answers."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as response:
                return response.read().decode()
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(proc.stdout.read() if proc.stdout else "serve exited") from None
            time.sleep(0.3)
    raise AssertionError(f"serve did not answer on {port} within {seconds} s")


def descendants(pid: int) -> list[int]:
    """Living (non-zombie) descendants of ``pid``, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            if fields and fields[0] != "Z":
                parents[int(entry)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found += kids
        frontier += kids
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, exited but not yet reaped, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split()[0] != "Z"


def worker_statuses(home: Path) -> list[dict[str, object]]:
    """The status files of the worker processes that are alive."""
    result = []
    for path in sorted((home / "run").glob("worker-*.json")):
        with contextlib.suppress(OSError, ValueError):
            status = json.loads(path.read_text())
            if alive(int(status["pid"])):
                result.append(status)
    return result


def stop_group(proc: subprocess.Popen[str], sig: int = signal.SIGINT) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def kill_everything(proc: subprocess.Popen[str], tree: list[int]) -> None:
    """The test's own safety net: nothing it started outlives it, whatever failed."""
    for pid in [proc.pid, *tree, *descendants(proc.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
