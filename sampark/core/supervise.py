"""A small process supervisor for `sampark serve`: start children, restart the ones that die, stop
them all cleanly — and leave nothing behind.

- Children stay in serve's process group, so a Ctrl-C in the terminal (or a signal to the whole group,
  as systemd's control-group kill sends) reaches each of them at once; serve forwards the first
  signal too (for a signal sent to serve alone, as `kill <pid>` or a container runtime does). The
  worker counts signals within a fraction of a second as one, so the two copies do not look like a
  second, impatient, Ctrl-C.
- On Linux serve is a *child subreaper*: processes its children leave behind (granian's workers when
  granian itself exits early) are re-parented to serve, not to init, so serve can find, stop and reap
  them. At the end every descendant still alive gets SIGKILL and is reaped.
- A child that exits while serve is not stopping is started again: at once if it had run for a while
  (a kill, an out-of-memory), after a back-off (1 s doubling) if it died within seconds of its start;
  five such quick exits within a minute stop serve with an error instead of looping for ever.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

PR_SET_CHILD_SUBREAPER = 36
RESTARTS_PER_MINUTE = 5
QUICK_EXIT_S = 10.0  # a child that exits sooner after its start is crash-looping


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    exits: list[float] = field(default_factory=list)  # quick exits (crash loops), monotonic times
    restart_at: float | None = None
    started_at: float = 0.0

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv)
        self.restart_at = None
        self.started_at = time.monotonic()


def become_subreaper() -> bool:
    """Make orphaned descendants re-parent to this process (Linux); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _parents(*, zombies: bool) -> dict[int, int]:
    """pid -> parent pid of every process, from /proc ({} where there is no /proc)."""
    parents: dict[int, int] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return parents
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses: split after its last ")".
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and (zombies or fields[0] != "Z"):
            parents[int(entry)] = int(fields[1])
    return parents


def descendants(root: int) -> list[int]:
    """Every living descendant of ``root``, parents before their children."""
    parents = _parents(zombies=False)
    found: list[int] = []
    frontier = [root]
    while frontier:
        pid = frontier.pop(0)
        kids = [p for p, parent in parents.items() if parent == pid]
        found.extend(kids)
        frontier.extend(kids)
    return found


def _direct_children(pid: int) -> set[int]:
    """Children of ``pid``, zombies included (they are what waitpid collects)."""
    return {p for p, parent in _parents(zombies=True).items() if parent == pid}


class Supervisor:
    def __init__(
        self, children: list[Child], *, stop_seconds: float, log: Callable[[str], object] = print
    ) -> None:
        self.children = children
        self.stop_seconds = stop_seconds
        self.log = log
        self.signals: list[int] = []

    def _on_signal(self, signum: int, frame: object) -> None:
        self.signals.append(signum)
        if len(self.signals) > 1:
            self._kill_all()  # the second signal: now
            os._exit(128 + signum)

    def run(self) -> int:
        """Supervise until a signal or a child that keeps dying; returns the exit status."""
        become_subreaper()
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        for child in self.children:
            child.start()
        code = 0
        try:
            while not self.signals:
                code = self._watch()
                if code:
                    break
                time.sleep(0.2)
        finally:
            self._stop()
        return code

    def _watch(self) -> int:
        now = time.monotonic()
        for child in self.children:
            if child.process is not None and child.process.poll() is not None:
                status = child.process.returncode
                child.process = None
                # A child that ran a good while before it died (killed, out of memory) is simply started
                # again; one that dies on start-up again and again backs off, then gives up.
                quick = now - child.started_at < QUICK_EXIT_S
                child.exits = [t for t in child.exits if now - t < 60] + ([now] if quick else [])
                if len(child.exits) >= RESTARTS_PER_MINUTE:
                    self.log(
                        _("%(name)s exited %(count)d times in a minute; stopping.")
                        % {"name": child.name, "count": len(child.exits)}
                    )
                    return 1
                delay = min(30.0, 2.0 ** (len(child.exits) - 1)) if quick else 0.5
                self.log(
                    _("%(name)s exited with status %(code)s; starting it again in %(delay).1f s.")
                    % {"name": child.name, "code": status, "delay": delay}
                )
                child.restart_at = now + delay
            if child.process is None and child.restart_at is not None and now >= child.restart_at:
                child.start()
        self._reap_orphans()
        return 0

    def _ours(self) -> set[int]:
        return {c.process.pid for c in self.children if c.process is not None}

    def _reap_orphans(self) -> None:
        """Collect exited processes re-parented to us (we are their subreaper), never our own children."""
        for pid in _direct_children(os.getpid()) - self._ours():
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)

    def _stop(self) -> None:
        running = [c.process for c in self.children if c.process is not None and c.process.poll() is None]
        for process in running:
            # SIGTERM: both granian and our worker take it as "stop gracefully".
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_seconds
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.log(
                    _("process %(pid)s did not stop in %(seconds).0f s; killing it.")
                    % {"pid": process.pid, "seconds": self.stop_seconds}
                )
        self._kill_all()

    def _kill_all(self) -> None:
        """SIGKILL every descendant still alive, and reap them all."""
        me = os.getpid()
        for pid in reversed(descendants(me)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for child in self.children:
            if child.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.process.wait(timeout=5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            left = _direct_children(me)
            if not left:
                break
            for pid in left:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
            time.sleep(0.05)
