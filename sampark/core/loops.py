"""Long-running loops of the worker process: a registry, filled by apps, run by ``sampark worker``.

A loop is a plain function ``fn(stop: threading.Event) -> None`` that runs until ``stop`` is set and
returns promptly after (it must not block longer than a second or two without looking at ``stop``).
Apps register theirs in ``AppConfig.ready()``; the worker runs every registered loop in a thread of
its own, supervised: a loop that raises is logged and started again after a short back-off. Loops are
never Huey tasks, so periodic or endless work can never hold (or starve) the task threads that send
broadcasts. A loop that must run once per deployment (the stream ticker) takes a named lease
(:mod:`sampark.core.leases`) itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

LoopFn = Callable[[threading.Event], None]


@dataclass(frozen=True, slots=True)
class LoopSpec:
    name: str  # e.g. "streams.ticker"
    fn: LoopFn


LOOPS: dict[str, LoopSpec] = {}


def register(name: str, fn: LoopFn) -> None:
    """Add a loop under ``name`` (once per name: a second registration replaces the first)."""
    LOOPS[name] = LoopSpec(name, fn)
