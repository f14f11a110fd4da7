"""The sending side of a dispatch run: an asyncio loop in a helper thread, a window of sender tasks.

The database thread (:func:`sampark.messaging.dispatch.dispatch_channel`) hands claimed messages to a
:class:`Sender` and reads their :class:`Outcome` back from a thread-safe queue as each response arrives.
Each sender task takes the next message, waits for its rate permit (only then: see ``rate.Permits``)
and sends it; nothing is sent after :meth:`Sender.halt`:

- a ``pause_sender`` answer (WhatsApp 131048) halts the sender on the loop itself, at once, so no request
  leaves after the first such answer — only those already in flight finish;
- a stop request halts it from the database thread; sends still in flight after the grace are cut off
  (:meth:`Sender.cut_off`) and come back as outcomes with ``cut_off`` set (they may have gone out).

Messages handed over but never started have no outcome: the database thread releases them.

How many sends may be out at once (sent, outcome not yet committed) is a :class:`Window`: it starts at
``SAMPARK_DISPATCH_CONCURRENCY`` and grows, by Little's law, to what the sender's rate needs at the
latency it sees (request plus commit), never past ``SAMPARK_DISPATCH_MAX_IN_FLIGHT``. A fixed 64 would
cap a 1,000/s WhatsApp number at 64 / 0.3 s ≈ 210/s against a provider answering in 300 ms; a fixed
512 would put 512 messages at risk of a second send on every kill even when 64 suffice. The window is
also the crash bound: a kill re-sends at most what the window held at that instant.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import aiohttp
from django.utils import translation

from sampark.core import http
from sampark.transports.base import Outgoing, Transport, TransportError

from . import rate

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Outcome:
    delivery_id: int
    attempts: int
    started: datetime.datetime
    milliseconds: int
    provider_message_id: str = ""
    error: TransportError | None = None
    cut_off: bool = False  # cancelled in flight by a stop: the provider may have it


class Window:
    """Room for sends that are out (sent, outcome not committed): ``floor`` at first, grown to
    ``rate × cycle × HEADROOM`` (Little's law; ``cycle`` an average of send start → commit) up to ``cap``.

    Only grows within a run (a run is bounded, about 25 s): shrinking would mean waiting for sends
    to come back, and a window too big for a fast provider is never filled anyway — the sender's
    rate, not the window, then decides how many are out. Used on the loop only.
    """

    HEADROOM = 1.25  # latency varies; a window sized for the average starves on every slow spell
    SMOOTHING = 0.2  # weight of each new group's cycle in the running average

    def __init__(self, floor: int, cap: int, rate_per_s: float) -> None:
        self.size = max(1, floor)
        self.cap = max(self.size, cap)
        self.rate_per_s = rate_per_s
        self.cycle_s: float | None = None
        self._room = asyncio.Semaphore(self.size)
        self._starts: collections.deque[float] = collections.deque()

    async def enter(self) -> None:
        await self._room.acquire()

    def leave_unsent(self) -> None:
        """A task took room but sent nothing (halted while it waited): give the room back."""
        self._room.release()

    def sent(self) -> None:
        """A request starts now (its room was taken before the permit)."""
        self._starts.append(time.monotonic())

    def committed(self, n: int) -> None:
        """``n`` outcomes were committed: their room is free, and their cycle tells how big to be."""
        now = time.monotonic()
        oldest: float | None = None
        for _ in range(min(n, len(self._starts))):
            oldest = self._starts.popleft()  # roughly first out, first back: good enough for an average
        for _ in range(n):
            self._room.release()
        if oldest is None:
            return
        cycle = now - oldest
        self.cycle_s = (
            cycle if self.cycle_s is None else self.cycle_s + self.SMOOTHING * (cycle - self.cycle_s)
        )
        wanted = min(self.cap, math.ceil(self.rate_per_s * self.cycle_s * self.HEADROOM))
        if wanted > self.size:
            for _ in range(wanted - self.size):
                self._room.release()
            # At DEBUG: bench/crash.py reads the largest window of a killed run from this line.
            log.debug("send window %d → %d (cycle %.0f ms)", self.size, wanted, self.cycle_s * 1000)
            self.size = wanted  # only ever grows: the largest the run reached, its crash bound


class SendLoop:
    """An asyncio loop in a helper thread with one aiohttp session (kept alive across messages)."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="dispatch-send", daemon=True)
        self.session: aiohttp.ClientSession | None = None

    def _run(self) -> None:
        # Reasons from transports are stored in English whatever the server's language (pages
        # translate what they show); the worker's default would store them in Hindi.
        translation.activate("en")
        self.loop.run_forever()

    def __enter__(self) -> SendLoop:
        self.thread.start()

        async def open_session() -> aiohttp.ClientSession:
            return http.async_session(connections=self.concurrency)

        self.session = self.submit(open_session()).result()
        return self

    def submit(self, coroutine: Coroutine[Any, Any, Any]) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def call(self, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function(*args)`` on the loop soon; do not wait."""
        self.loop.call_soon_threadsafe(function, *args)

    def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run ``function(*args)`` on the loop and wait for its result."""

        async def call() -> Any:
            return function(*args)

        return self.submit(call()).result(timeout=10)

    def __exit__(self, *exc: object) -> None:
        if self.session is not None:
            self.submit(self.session.close()).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class Sender:
    """Tasks on a :class:`SendLoop` sending what :meth:`add` hands them, as many at once as the
    :class:`Window` allows (``concurrency`` at first, at most ``most``).

    Only :meth:`add`, :meth:`halt`, :meth:`cut_off` (through ``SendLoop.call``), :attr:`backlog`,
    :attr:`halted` and :attr:`outcomes` are for the database thread; the rest runs on the loop.
    """

    def __init__(
        self,
        transport: Transport,
        session: aiohttp.ClientSession,
        permits: rate.Permits,
        *,
        concurrency: int,
        most: int | None = None,
        wall: Callable[[], datetime.datetime],
    ) -> None:
        self.transport = transport
        self.session = session
        self.permits = permits
        self.concurrency = concurrency
        self.most = max(concurrency, most or concurrency)
        self.wall = wall
        self.outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self.halted = False
        self.halt_reason = ""
        self._queue: asyncio.Queue[tuple[Outgoing, int]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._idle: set[asyncio.Task[Any]] = set()  # waiting for a message or a permit: nothing sent
        # Sent but not yet committed, in flight or waiting for the database thread: at most the
        # window, so a kill at any instant can catch no more than that (the crash bound), however
        # slow a commit is.
        self.window: Window | None = None

    @property
    def backlog(self) -> int:
        """Messages handed over and not yet started (read from any thread: a plain length)."""
        return self._queue.qsize() if self._queue is not None else 0

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        limit = self.transport.limit
        self.window = Window(self.concurrency, self.most, limit.per_second)
        # One task per place the window may grow to: an idle task costs a few hundred bytes.
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self.most)]

    def add(self, items: Iterable[tuple[Outgoing, int]]) -> None:
        assert self._queue is not None
        if self.halted:
            return  # never started: released by the database thread
        for item in items:
            self._queue.put_nowait(item)

    def halt(self, reason: str = "") -> None:
        """Send nothing more: tasks waiting for a message or a permit end now; sends in flight finish."""
        if self.halted:
            return
        self.halted = True
        self.halt_reason = reason
        for task in list(self._idle):
            task.cancel()

    def cut_off(self) -> None:
        """Cancel the sends still in flight (after a stop's grace); each reports a ``cut_off`` outcome."""
        self.halt("stop")
        for task in self._tasks:
            task.cancel()

    def recorded(self, n: int) -> None:
        """``n`` outcomes were committed: room for as many more sends (call on the loop)."""
        assert self.window is not None
        self.window.committed(n)

    def all_done(self) -> bool:
        """Whether every task has ended (call on the loop)."""
        return all(task.done() for task in self._tasks)

    async def finished(self) -> None:
        """Wait until every task has ended (after :meth:`halt`)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _work(self) -> None:
        assert self._queue is not None
        me = asyncio.current_task()
        assert me is not None
        while not self.halted:
            self._idle.add(me)
            window = self.window
            assert window is not None
            entered = False
            try:
                await window.enter()
                entered = True
                item, attempts = await self._queue.get()
                # The permit is taken now that this request can go at once, not before.
                await self.permits.take()
            except asyncio.CancelledError:
                if entered:
                    window.leave_unsent()
                raise
            finally:
                self._idle.discard(me)
            if self.halted:
                window.leave_unsent()
                return  # the permit came after a halt: this message never left (released)
            window.sent()
            outcome = await self._send(item, attempts)
            self.outcomes.put(outcome)
            if outcome.error is not None and outcome.error.pause_sender:
                # Here on the loop, before any other task can start a request: nothing more leaves.
                self.halt("pause_sender")
            if outcome.cut_off:
                return

    async def _send(self, item: Outgoing, attempts: int) -> Outcome:
        started = self.wall()
        clock = time.perf_counter()
        provider_id, error, cut = "", None, False
        try:
            provider_id = await self.transport.send(self.session, item)
        except TransportError as exc:
            error = exc
        except asyncio.CancelledError:
            cut = True
            error = TransportError("cut off by a stop while in flight", permanent=False, code="stopped")
        except Exception as exc:  # a bug in a transport must not lose the row: retried, and logged
            log.exception("transport %s raised", self.transport.kind)
            error = TransportError(f"internal error: {type(exc).__name__}", permanent=False)
        ms = int((time.perf_counter() - clock) * 1000)
        return Outcome(item.delivery_id, attempts, started, ms, provider_id, error, cut)
