"""`sampark serve` as `make run` uses it: a fresh home, the demo, web + worker; and as an operator
stops it: one Ctrl-C or SIGTERM stops everything within 10 s, a second stops it at once, a killed
worker is started again, and nothing is left running or holding the port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.helpers.serving import (
    alive,
    descendants,
    free_port,
    kill_everything,
    port_is_free,
    start_serve,
    stop_group,
    wait_until_up,
    worker_statuses,
)

pytestmark = pytest.mark.skipif(os.environ.get("DATABASE_URL") is not None, reason="embedded mode only")


def _wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_it_serves_the_demo_with_a_worker_and_stops_both_on_ctrl_c(tmp_path):
    port = free_port()
    proc = start_serve(tmp_path, port, "--seed-demo", "--task-workers", "2")
    tree: list[int] = []
    try:
        login_page = wait_until_up(proc, port)
        assert 'lang="hi"' in login_page
        css = re.search(r'href="(/static/vendor/bootstrap[^"]+\.css)"', login_page)
        assert css, "bootstrap is linked from our own static files"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{css.group(1)}", timeout=5) as response:
            assert response.status == 200 and b"Bootstrap" in response.read(2000)
        # Both children are running: granian (web) and our worker (Huey consumer + loops).
        children = subprocess.run(["pgrep", "-P", str(proc.pid), "-a"], capture_output=True, text=True).stdout
        assert "granian" in children and "sampark.cli worker" in children
        assert _wait_for(lambda: worker_statuses(tmp_path), 15), "the worker writes its status file"
        tree = descendants(proc.pid)
    finally:
        stop_group(proc, signal.SIGINT)  # what a terminal's Ctrl-C does
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            kill_everything(proc, tree)
            out, _ = proc.communicate()
    assert proc.returncode == 0, out
    assert f"http://127.0.0.1:{port}/" in out
    login, scoped = (tmp_path / "demo-login.txt").read_text().strip().splitlines()
    assert re.fullmatch(r"demo / \S{8,}", login)
    # Scoped demo logins (a district and a block coordinator, a booth volunteer) share the password.
    assert scoped == f"district, block, saathi / {login.split(' / ')[1]}"
    assert login in out and scoped in out  # the logins are printed
    assert not [pid for pid in tree if alive(pid)], "nothing left behind"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """One migrated home for the stop tests (each serve start then only checks the migrations)."""
    return tmp_path_factory.mktemp("serve-home")


@dataclass
class Served:
    proc: subprocess.Popen[str]
    port: int
    tree: list[int]  # serve's descendants once everything runs


@pytest.fixture
def served(home) -> Iterator[Served]:
    """`sampark serve` up, with its worker's status written; whatever the test leaves running is killed."""
    port = free_port()
    proc = start_serve(home, port)
    running = Served(proc, port, [])
    try:
        wait_until_up(proc, port)
        assert _wait_for(lambda: worker_statuses(home), 15)
        running.tree = descendants(proc.pid)
        yield running
    finally:
        kill_everything(proc, running.tree)


@pytest.mark.parametrize(
    ("how", "sig"),
    [
        ("to the process group, as a terminal's Ctrl-C", signal.SIGINT),
        ("to serve alone, as systemd", signal.SIGTERM),
    ],
)
def test_one_signal_stops_web_and_worker_within_ten_seconds_leaving_nothing(home, served, how, sig):
    assert len(served.tree) >= 3, served.tree  # the worker, granian and granian's worker process
    started = time.monotonic()
    if sig == signal.SIGINT:
        stop_group(served.proc, sig)
    else:
        served.proc.send_signal(sig)
    served.proc.wait(timeout=15)
    took = time.monotonic() - started
    assert took <= 10, f"stopped in {took:.1f} s ({how})"
    assert served.proc.returncode == 0
    assert not [pid for pid in served.tree if alive(pid)], f"left running after a signal {how}"
    assert port_is_free(served.port)
    assert worker_statuses(home) == []


def test_a_second_signal_stops_everything_at_once(served):
    stop_group(served.proc, signal.SIGINT)
    time.sleep(0.8)  # a person pressing Ctrl-C again
    second = time.monotonic()
    stop_group(served.proc, signal.SIGINT)
    served.proc.wait(timeout=15)
    took = time.monotonic() - second
    assert took <= 1.5, f"{took:.1f} s after the second signal"
    assert not [pid for pid in served.tree if alive(pid)]
    assert port_is_free(served.port)


def test_a_worker_killed_by_sigkill_is_started_again(home, served):
    first = worker_statuses(home)[0]["pid"]
    os.kill(int(first), signal.SIGKILL)
    assert _wait_for(lambda: [s for s in worker_statuses(home) if s["pid"] != first], 20), (
        "a new worker took the place of the killed one"
    )
    assert [s["pid"] for s in worker_statuses(home)] != [first]
    with urllib.request.urlopen(f"http://127.0.0.1:{served.port}/login/", timeout=5) as response:
        assert response.status == 200  # the web never stopped
    tree = descendants(served.proc.pid)
    served.proc.send_signal(signal.SIGTERM)
    served.proc.wait(timeout=15)
    out = served.proc.stdout.read() if served.proc.stdout else ""
    # serve said so (in Hindi or English): the worker, and the signal that ended it.
    assert [line for line in out.splitlines() if line.startswith("worker") and "-9" in line], out
    assert not [pid for pid in tree if alive(pid)]
