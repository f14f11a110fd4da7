"""`sampark serve` as `make run` uses it: a fresh home, the demo, web + worker, clean Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(os.environ.get("DATABASE_URL") is not None, reason="embedded mode only")
def test_it_serves_the_demo_with_a_worker_and_stops_both_on_ctrl_c(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(SAMPARK_HOME=str(tmp_path), SAMPARK_LANGUAGE="hi", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sampark.cli",
            "serve",
            "--seed-demo",
            "--port",
            str(port),
            "--web-workers",
            "1",
            "--task-workers",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    child_pids: list[int] = []
    try:
        deadline = time.monotonic() + 120
        login_page = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as response:
                    login_page = response.read().decode()
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.5)
        assert 'lang="hi"' in login_page
        css = re.search(r'href="(/static/vendor/bootstrap[^"]+\.css)"', login_page)
        assert css, "bootstrap is linked from our own static files"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{css.group(1)}", timeout=5) as response:
            assert response.status == 200 and b"Bootstrap" in response.read(2000)
        # Both children are running: granian (web) and the Huey consumer (worker).
        children = subprocess.run(["pgrep", "-P", str(proc.pid), "-a"], capture_output=True, text=True).stdout
        assert "granian" in children and "run_huey" in children
        child_pids = [int(line.split()[0]) for line in children.splitlines()]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        output.append(out)
    text = "".join(output)
    assert proc.returncode == 0, text
    assert f"http://127.0.0.1:{port}/" in text
    login, scoped = (tmp_path / "demo-login.txt").read_text().strip().splitlines()
    assert re.fullmatch(r"demo / \S{8,}", login)
    # Scoped demo logins (a district and a block coordinator, a booth volunteer) share the password.
    assert scoped == f"district, block, saathi / {login.split(' / ')[1]}"
    assert login in text and scoped in text  # the logins are printed
    # Nothing left behind: both children have exited.
    for pid in child_pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
