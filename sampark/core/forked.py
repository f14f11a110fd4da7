"""A generator run in a forked child process, its items handed back in order: two cores for one import.

The big imports are a Python half (parse and check every row) and an SQL half (write it). On two cores
the child runs the Python half of the next rows while this process runs the SQL of the previous ones.
Threads would not do: the SQL half needs the GIL between statements, and measured no overlap at all.

The child inherits everything by ``fork`` (lookups read from the database before it starts, settings,
the active language) and must never touch the database: it leaves with ``os._exit`` so that not even a
finaliser can close or use the parent's connection. What it yields is pickled through a pipe, so items
should be plain values (tuples of str/int/None), not Decimals or model instances by the lakh.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_ITEM, _DONE, _RAISED, _CRASH = "item", "done", "raised", "crash"


def can_fork() -> bool:
    """A child process is worth starting: ``fork`` exists (not on Windows) and there is a second core."""
    return "fork" in multiprocessing.get_all_start_methods() and (os.cpu_count() or 1) > 1


def forked(produce: Callable[[], Iterator[T]], *, ahead: int, what: str) -> Iterator[T]:
    """Yield what ``produce()`` yields, computed in a forked child that runs up to ``ahead`` items ahead.

    An exception raised in the child is raised here again when it can be pickled (e.g. an import's
    ``BadFile``), else as ``RuntimeError`` naming ``what``. Closing the generator early kills the child.
    """
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(produce, sender), daemon=True)
    child.start()
    sender.close()
    # A thread drains the pipe while this thread runs SQL (SQLite and psycopg release the GIL while a
    # statement runs), so the child never stalls on a full pipe: it stays up to ``ahead`` items ahead.
    pending: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=ahead)

    def drain() -> None:
        try:
            while True:
                message = receiver.recv()
                pending.put(message)
                if message[0] != _ITEM:
                    return
        except (EOFError, OSError):
            pending.put((_CRASH, "the child process ended without finishing"))

    drainer = threading.Thread(target=drain, name=f"forked-drain-{what}", daemon=True)
    drainer.start()
    try:
        while True:
            kind, payload = pending.get()
            if kind == _ITEM:
                yield payload
            elif kind == _DONE:
                return
            elif kind == _RAISED:
                raise payload
            else:
                raise RuntimeError(f"{what} failed in the child process: {payload}")
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receiver.close()  # the drainer, if still waiting, ends with EOFError/OSError
        while drainer.is_alive():
            try:  # make room, so a drainer blocked on a full queue can finish
                pending.get_nowait()
            except queue.Empty:
                drainer.join(timeout=0.1)


def _child(produce: Callable[[], Iterator[Any]], sender: Any) -> None:
    code = 0
    try:
        for item in produce():
            sender.send((_ITEM, item))
        sender.send((_DONE, None))
    except BaseException as exc:  # handed to the parent, which raises it there
        code = 1
        try:
            sender.send((_RAISED, exc))
        except Exception:  # not picklable
            sender.send((_CRASH, repr(exc)))
    finally:
        sender.close()
        os._exit(code)  # no atexit, no finalisers: the parent's database connection stays untouched
