"""Bulk inserts of lakhs of rows, below the ORM.

``bulk_create`` builds a model instance per row and, on SQLite, sends at most 999 parameters (~40
booths) per statement: for 1 lakh booths that measured ~21 s. ``BulkInserter`` sends tuples instead:
multi-row ``INSERT … VALUES (…), (…)`` statements of a few hundred rows per chunk on SQLite, one
``COPY`` stream per chunk on PostgreSQL (where row-by-row INSERTs took ~30 s for 1 lakh). It runs on
the current connection, so inside the caller's transaction. Column names come from the model's
``_meta``: a renamed field fails loudly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from itertools import chain, islice, repeat
from operator import add
from typing import Any

from django.db import connection, models

CHUNK = 5000
# Rows per multi-row INSERT on SQLite. One statement of 256 rows bound at once measured 15-30% faster
# than executemany of a one-row statement (1 lakh booths: ~0.9-1.2 s against ~1.3-1.7 s, raw sqlite3),
# about the same from 200 to 1,000 rows; at 52 rows (Django's 999-parameter cap) there was no gain.
ROWS_PER_STATEMENT = 256


class BulkInserter:
    """Insert rows giving ``fields`` (names or attnames, in order) as driver-ready values.

    Values are int, str, bool, Decimal, None, or a primary key for a foreign key. Timestamps
    (``auto_now``/``auto_now_add``) are one ``now`` (already adapted with
    ``connection.ops.adapt_datetimefield_value``); every other column gets its model default.
    """

    def __init__(
        self, model: type[models.Model], fields: Sequence[str], now: Any, *, chunk: int = CHUNK
    ) -> None:
        concrete = {f.name: f for f in model._meta.concrete_fields}
        concrete.update({f.attname: f for f in model._meta.concrete_fields})
        given = [concrete[name] for name in fields]
        rest = [f for f in model._meta.concrete_fields if f not in given and not f.primary_key]
        self.fixed = tuple(
            now
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
            else f.get_db_prep_save(f.get_default(), connection)
            for f in rest
        )
        quote = connection.ops.quote_name
        columns = ", ".join(quote(str(f.column)) for f in [*given, *rest])
        table = quote(model._meta.db_table)
        self.copy_sql = f"COPY {table} ({columns}) FROM STDIN"
        # On SQLite the values every row shares are literals in the statement, quoted as the schema
        # editor quotes defaults: no tuple concatenation per row, and five fewer parameters to bind per
        # booth. COPY needs every value in every row.
        self.tail: tuple[Any, ...] = self.fixed
        self.width = len(given)  # parameters per row on SQLite
        if connection.vendor == "sqlite":
            quote_value = connection.schema_editor().quote_value
            one_row = ", ".join(["?"] * len(given) + [quote_value(v) for v in self.fixed])
            self.tail = ()
            self.insert_sql = f"INSERT INTO {table} ({columns}) VALUES "
            self.one_row = f"({one_row})"
            connection.ensure_connection()
            limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            self.per_statement = max(1, min(ROWS_PER_STATEMENT, limit // max(1, self.width)))
        self.chunk = chunk
        self.buffer: list[tuple[Any, ...]] = []
        self.count = 0

    def add(self, row: tuple[Any, ...]) -> None:
        self.buffer.append(row + self.tail)
        if len(self.buffer) >= self.chunk:
            self.flush()

    def add_all(self, rows: Iterable[tuple[Any, ...]]) -> None:
        # A chunk at a time, extended in C (with the shared tail appended by map + operator.add on
        # PostgreSQL), rather than a Python call to add() per row: that was an eighth of the booth import.
        tail = self.tail
        rows = iter(rows)
        while True:
            room = self.chunk - len(self.buffer)
            self.buffer.extend(map(add, islice(rows, room), repeat(tail)) if tail else islice(rows, room))
            if len(self.buffer) < self.chunk:
                break
            self.flush()
        self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor, cursor.cursor.copy(self.copy_sql) as copy:  # type: ignore[attr-defined]
                for row in self.buffer:
                    copy.write_row(row)
        else:
            self._insert_sqlite(self.buffer)
        self.count += len(self.buffer)
        self.buffer = []

    def _insert_sqlite(self, rows: list[tuple[Any, ...]]) -> None:
        """Multi-row INSERTs straight on the driver's connection: the statement is already in ``?``
        style, and Django's cursor would rewrite ``%s`` with a regex over the whole statement on every
        call (~36 kB per statement of booths). Database errors still come out as Django's.

        Full statements of :attr:`per_statement` rows, then the remainder through ``executemany`` of
        the one-row statement: a multi-row statement for every remainder size measured +12 MB peak
        RSS, the driver caching one large compiled statement per size."""
        n = self.per_statement
        full = len(rows) - len(rows) % n
        with connection.wrap_database_errors:
            raw = connection.connection
            if full:
                sql = self.insert_sql + ", ".join([self.one_row] * n)
                for start in range(0, full, n):
                    # One flat parameter list per statement, built in C.
                    raw.execute(sql, list(chain.from_iterable(rows[start : start + n])))
            if full < len(rows):
                raw.executemany(self.insert_sql + self.one_row, rows[full:])
