"""An aiohttp application served on 127.0.0.1 from a background thread, for fake providers.

``with LocalServer(app) as server: server.url`` — the port is chosen by the OS; the server stops
(and its thread ends) when the block exits. Handlers run on the server's own event loop.
:class:`ChildServer` runs a fake in a process of its own, for tests that measure arrival times.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
import threading
from types import TracebackType
from typing import Any

from aiohttp import web


class LocalServer:
    def __init__(self, app: web.Application, *, host: str = "127.0.0.1") -> None:
        self.app = app
        self.host = host
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> LocalServer:
        self._thread = threading.Thread(target=self._run, name="fake-provider", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("the fake provider did not start within 10 s")
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, 0, backlog=1024)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)


def _serve_child(conn: Any, factory: str, options: dict[str, Any]) -> None:
    module, _, name = factory.partition(":")
    fake = getattr(importlib.import_module(module), name)(**options)
    with LocalServer(fake.app) as server:
        conn.send(server.url)
        while (command := conn.recv()) != "stop":
            if command == "received":
                conn.send([(r.number, r.at, r.payload, r.wamid, r.fault) for r in fake.received])


class ChildServer:
    """A fake provider (``"module:Class"`` built with ``options``) in a spawned process of its own.

    Its clock and answers are then not held back by the test's own threads (the GIL): arrival times
    taken in-process jittered by tens of milliseconds, which is the very thing a rate test measures.
    ``received()`` returns ``(number, at, payload, wamid, fault)`` for every request so far.
    """

    def __init__(self, factory: str, **options: Any) -> None:
        self.factory = factory
        self.options = options
        self.url = ""
        self._context = multiprocessing.get_context("spawn")
        self._conn: Any = None
        self._process: Any = None

    def __enter__(self) -> ChildServer:
        self._conn, child = self._context.Pipe()
        self._process = self._context.Process(
            target=_serve_child, args=(child, self.factory, self.options), daemon=True
        )
        self._process.start()
        if not self._conn.poll(30):
            raise RuntimeError("the fake provider did not start within 30 s")
        self.url = self._conn.recv()
        return self

    def received(self) -> list[tuple[int, float, dict[str, Any], str, str]]:
        self._conn.send("received")
        return list(self._conn.recv())

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._conn.send("stop")
            self._process.join(timeout=10)
