"""The sending side of a dispatch run: an asyncio loop in a helper thread, ``concurrency`` sender tasks.

The database thread (:func:`sampark.messaging.dispatch.dispatch_channel`) hands claimed messages to a
:class:`Sender` and reads their :class:`Outcome` back from a thread-safe queue as each response arrives.
Each sender task takes the next message, waits for its rate permit (only then: see ``rate.Permits``)
and sends it; nothing is sent after :meth:`Sender.halt`:

- a ``pause_sender`` answer (WhatsApp 131048) halts the sender on the loop itself, at once, so no request
  leaves after the first such answer — only those already in flight finish;
- a stop request halts it from the database thread; sends still in flight after the grace are cut off
  (:meth:`Sender.cut_off`) and come back as outcomes with ``cut_off`` set (they may have gone out).

Messages handed over but never started have no outcome: the database thread releases them.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
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
    """``concurrency`` tasks on a :class:`SendLoop` sending what :meth:`add` hands them.

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
        wall: Callable[[], datetime.datetime],
    ) -> None:
        self.transport = transport
        self.session = session
        self.permits = permits
        self.concurrency = concurrency
        self.wall = wall
        self.outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self.halted = False
        self.halt_reason = ""
        self._queue: asyncio.Queue[tuple[Outgoing, int]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._idle: set[asyncio.Task[Any]] = set()  # waiting for a message or a permit: nothing sent
        # Sent but not yet committed, in flight or waiting for the database thread: at most
        # ``concurrency``, so a kill at any instant can catch no more than that (the crash bound),
        # however slow a commit is.
        self._room: asyncio.Semaphore | None = None

    @property
    def backlog(self) -> int:
        """Messages handed over and not yet started (read from any thread: a plain length)."""
        return self._queue.qsize() if self._queue is not None else 0

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._room = asyncio.Semaphore(self.concurrency)
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self.concurrency)]

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
        assert self._room is not None
        for _ in range(n):
            self._room.release()

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
            try:
                assert self._room is not None
                await self._room.acquire()
                item, attempts = await self._queue.get()
                # The permit is taken now that this request can go at once, not before.
                await self.permits.take()
            finally:
                self._idle.discard(me)
            if self.halted:
                return  # the permit came after a halt: this message never left (released)
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
