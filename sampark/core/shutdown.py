"""One process-wide stop flag: set by the worker's signal handler, read by every long-running piece.

A dispatch run, the ticker and every other loop check :func:`stopping` between steps and wind down
(finish or release what they hold) instead of being cut off by a SIGKILL. Tests and benchmarks may call
:func:`request_stop` / :func:`reset` directly.
"""

from __future__ import annotations

import threading

_stop = threading.Event()


def request_stop() -> None:
    """Ask everything in this process to wind down (first SIGINT/SIGTERM)."""
    _stop.set()


def stopping() -> bool:
    return _stop.is_set()


def wait(seconds: float) -> bool:
    """Sleep up to ``seconds``, waking at once when a stop is requested; True if stopping."""
    return _stop.wait(max(0.0, seconds))


def reset() -> None:
    """Clear the flag (tests; a process that stops never starts again)."""
    _stop.clear()
