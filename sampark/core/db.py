"""Database helpers shared by apps."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction

_threads = threading.Lock()
_lock_fd: int | None = None


def _process_lock_fd() -> int:
    global _lock_fd
    if _lock_fd is None:
        _lock_fd = os.open(settings.SAMPARK_HOME / "sqlite-writers.lock", os.O_RDWR | os.O_CREAT, 0o600)
    return _lock_fd


@contextmanager
def short_write() -> Iterator[None]:
    """A small write transaction from a busy request path (webhooks).

    On SQLite, writers first queue on a lock that wakes the next waiter the moment it is free: the
    threads of a process on a mutex, the processes on an ``flock``. Waiting on SQLite's busy handler
    instead means sleeping 1, 2, 5, 10, 15, 20, 25 … ms between tries while others keep winning the
    lock, which put the 99th percentile of status webhooks at ~130 ms. Inside an already open
    transaction (which may hold SQLite's lock) it only opens a savepoint: waiting there could deadlock.
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        with transaction.atomic():
            yield
        return
    with _threads:
        fd = _process_lock_fd()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            with transaction.atomic():
                yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


class _Slot:
    __slots__ = ("done", "failed", "rows")

    def __init__(self, rows: Sequence[Sequence[Any]]) -> None:
        self.rows = rows
        self.done = False
        self.failed = False


class GroupedInsert:
    """One INSERT statement shared by the threads of a process: group commit without a timer.

    A thread queues its rows and waits for the write turn; the thread that gets it inserts every row
    queued by then, from all threads, in one :func:`short_write` transaction, and the others find
    theirs written and return at once. Nobody waits for a batch to fill: a lone request commits its
    own row straight away, while under load the rows of requests that arrived during one commit share
    the next. Each caller returns only once its rows are committed (a webhook answers 200 only for what
    is stored). If a shared commit fails, each of its other callers inserts its own rows alone, so one
    bad row fails only its own request. Inside an open transaction (tests, callers that must write
    atomically with more) rows are inserted directly, in that transaction.

    ``durable=False`` (PostgreSQL only) commits without waiting for the WAL to reach the disk
    (``synchronous_commit = off`` for that transaction alone): a crash of the database server — not of
    ours — may lose the last few hundred milliseconds of such rows, never corrupt anything. That is what
    the embedded mode's SQLite (WAL, ``synchronous=NORMAL``) promises for every write; decision 0005 §6
    says which rows may take it (provider status reports: the message itself is already sent).
    """

    def __init__(self, sql: str, *, durable: bool = True) -> None:
        self.sql = sql
        self.durable = durable
        self._qmark_sql = sql.replace("%s", "?")  # the sqlite3 module's own placeholders
        self._queued: list[_Slot] = []
        self._queue_lock = threading.Lock()
        self._turn = threading.Lock()

    def insert(self, rows: Sequence[Sequence[Any]]) -> None:
        db = connections[DEFAULT_DB_ALIAS]  # once: every attribute of the ``connection`` proxy is a lookup
        if db.in_atomic_block:
            with short_write(), db.cursor() as cursor:
                cursor.executemany(self.sql, rows)
            return
        self._grouped(rows)

    def _write(self, rows: Sequence[Sequence[Any]]) -> None:
        """One transaction inserting ``rows``, outside any other (``insert`` checked)."""
        db = connections[DEFAULT_DB_ALIAS]
        if db.vendor != "sqlite":
            with short_write(), db.cursor() as cursor:
                if not self.durable and db.vendor == "postgresql":
                    # Each group commit otherwise waits for an fsync (1 ms quiet, several under load)
                    # while the next group queues behind it.
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
                cursor.executemany(self.sql, rows)
            return
        # On SQLite, straight on the driver's connection (in autocommit mode outside an atomic block):
        # Django's atomic() and cursor wrappers cost several times the insert itself, thousands of
        # times a second. Errors still pass through Django's wrapper (mapped, and the connection
        # marked for the end-of-request health check).
        db.ensure_connection()
        raw = db.connection
        with _threads:
            fd = _process_lock_fd()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                with db.wrap_database_errors:
                    raw.execute("BEGIN IMMEDIATE")
                    try:
                        raw.executemany(self._qmark_sql, rows)
                        raw.execute("COMMIT")
                    except BaseException:
                        raw.execute("ROLLBACK")
                        raise
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _grouped(self, rows: Sequence[Sequence[Any]]) -> None:
        slot = _Slot(rows)
        with self._queue_lock:
            self._queued.append(slot)
        with self._turn:
            if slot.done:
                return
            if slot.failed:  # a shared commit with someone else's row failed: try ours alone
                self._write(rows)
                return
            with self._queue_lock:
                batch, self._queued = self._queued, []
            try:
                self._write([row for queued in batch for row in queued.rows])
            except Exception:
                if len(batch) == 1:
                    raise
                for queued in batch:
                    queued.failed = True
            else:
                for queued in batch:
                    queued.done = True
                return
            self._write(rows)  # as the others will: ours alone
