"""Fast staging writes: rows buffered as tuples and flushed with the backend's bulk path.

SQLite: multi-row ``INSERT OR FAIL … VALUES (…), (…), …`` statements (``SQLITE_ROWS_PER_INSERT`` rows
each) run with ``executemany`` on the raw driver cursor inside the open transaction: one statement step
per 50 rows instead of one per row costs about 40 % less CPU than a per-row ``executemany`` (the same
rows, in the same order, with the same values). ``OR FAIL`` spares SQLite the statement journal a plain
multi-row ``INSERT`` keeps to undo its own earlier rows when a later one fails (a copy of every page it
changes, written to a temporary file: ~15 % of the staging time of a large set, measured); a failing
statement's earlier rows stay in the transaction instead, and every caller rolls the whole transaction
back on any error. PostgreSQL: psycopg ``COPY``. Keys are generated
client-side from blocks reserved in ``counters``, so no ``RETURNING`` round trip is needed
(PERFORMANCE.md).
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import Callable
from itertools import chain
from types import ModuleType
from typing import Any

from sqlalchemy import Connection, Table, event, select, text, update

from cbss_batch import pure_python
from cbss_batch.store.tables import counters

log = logging.getLogger(__name__)

_BLOCK = 100_000
SQLITE_ROWS_PER_INSERT = 50  # measured: 25 and 100-200 were no better; the bound-variable limit is far above


def reserve_ids(conn: Connection, name: str, count: int) -> int:
    """Reserve ``count`` consecutive values of counter ``name``; returns the first one.

    On PostgreSQL the reservation is its own short transaction: workers processing sets in parallel
    never wait for each other's counters (a set that rolls back leaves a gap, never a reused value).
    On SQLite it belongs to the caller's transaction (there is one writer at a time anyway).
    """
    if conn.dialect.name == "postgresql":
        with conn.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as own:
            last = own.execute(text(
                "INSERT INTO counters (name, value) VALUES (:name, :count) ON CONFLICT (name) "
                "DO UPDATE SET value = counters.value + EXCLUDED.value RETURNING value"),
                {"name": name, "count": count}).scalar_one()
        return int(last) - count + 1
    current = conn.execute(select(counters.c.value).where(counters.c.name == name).with_for_update()).scalar()
    if current is None:
        conn.execute(counters.insert().values(name=name, value=count))
        return 1
    conn.execute(update(counters).where(counters.c.name == name).values(value=current + count))
    return int(current) + 1


class IdSource:
    """Client-side primary keys for one table, reserved in blocks."""

    def __init__(self, conn: Connection, name: str, block: int = _BLOCK) -> None:
        self._conn, self._name, self._block = conn, name, block
        # take() is a C-level next() over the reserved blocks, one after the other: a block is reserved
        # when the previous one runs out (and the first one at the first take), as before.
        self.take: Callable[[], int] = chain.from_iterable(iter(self._reserve, None)).__next__

    def _reserve(self) -> range:
        first = reserve_ids(self._conn, self._name, self._block)
        return range(first, first + self._block)


class BulkWriter:
    """Buffers rows per table and writes them in batches through the driver's fast path.

    On PostgreSQL one table's rows are streamed: the table with the most rows at the first batch
    (``contributions`` for a DmfA; the staging tables declare no foreign keys, so no table waits for
    another) goes through a COPY left open between batches, so the server stores them while the caller
    goes on reading (a COPY is only checked, and waited for, when it ends).
    It ends at the next batch, at ``flush``, and before any other statement, commit or rollback on the
    connection (where it is aborted).
    """

    def __init__(self, conn: Connection, tables: tuple[Table, ...], batch_rows: int,
                 numbered_by_database: tuple[Table, ...] = ()) -> None:
        self._conn = conn
        self._batch_rows = batch_rows
        self._dialect = conn.dialect.name
        self._columns = {t.name: tuple(c.name for c in t.columns if not (t in numbered_by_database and c.name == "id"))
                         for t in tables}
        self.rows: dict[str, list[tuple[Any, ...]]] = {t.name: [] for t in tables}
        self.ids = {t.name: IdSource(conn, f"id:{t.name}") for t in tables if t not in numbered_by_database}
        self.written = 0
        self._buffers = list(self.rows.values())
        self._inserts: dict[tuple[str, int], str] = {}
        self._prepared: dict[str, tuple[Any, Any]] = {}  # table -> (driver connection, statement of _sqlite_rows)
        self._streamed: str | None = None  # the table streamed, chosen at the first batch
        self._stream: Any = None  # (cursor, copy) of the COPY open on the streamed table
        self._listening = False

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        rows = self.rows[table]
        rows.append(row)
        if len(rows) >= self._batch_rows:
            self._write(final=False)

    def flush_full(self) -> None:
        """Write everything once any buffer reached the batch size (callers append to ``rows`` directly)."""
        if max(map(len, self._buffers)) >= self._batch_rows:
            self._write(final=False)

    def flush(self) -> None:
        """Write every buffer, parents before children (the order the tables were given in)."""
        self._write(final=True)

    def _write(self, *, final: bool) -> None:
        raw = self._conn.connection.driver_connection
        assert raw is not None
        if self._dialect != "postgresql":
            for table, rows in self.rows.items():
                if rows:
                    self._insert_sqlite(raw, table, self._columns[table], rows)
                    self.written += len(rows)
                    rows.clear()
            return
        self._end_stream()
        if self._streamed is None and not final:
            self._streamed = max(self.rows, key=lambda name: len(self.rows[name]))
        for table, rows in self.rows.items():
            if rows and (final or table != self._streamed):
                columns = self._columns[table]
                with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                self.written += len(rows)
                rows.clear()
        if final:
            self._stop_listening()
            return
        rows = self.rows[self._streamed] if self._streamed is not None else []
        if rows:
            self._listen()
            columns = self._columns[self._streamed]  # type: ignore[index]
            cursor = raw.cursor()
            opened = cursor.copy(f"COPY {self._streamed} ({', '.join(columns)}) FROM STDIN")
            copy = opened.__enter__()
            self._stream = (cursor, opened)
            for row in rows:
                copy.write_row(row)
            self.written += len(rows)
            rows.clear()

    def _end_stream(self, failure: BaseException | None = None) -> None:
        """End the COPY left open (checked by the server now: its error is raised here), or abort it."""
        if self._stream is None:
            return
        cursor, opened = self._stream
        self._stream = None
        try:
            if failure is None:
                opened.__exit__(None, None, None)
            else:
                opened.__exit__(type(failure), failure, None)  # COPY aborted with the error
        finally:
            cursor.close()

    # Nothing else may run on the connection while the COPY is open.

    def _listen(self) -> None:
        if not self._listening:
            event.listen(self._conn, "before_cursor_execute", self._before_statement)
            event.listen(self._conn, "commit", self._before_statement)
            event.listen(self._conn, "rollback", self._before_rollback)
            self._listening = True

    def _stop_listening(self) -> None:
        if self._listening:
            event.remove(self._conn, "before_cursor_execute", self._before_statement)
            event.remove(self._conn, "commit", self._before_statement)
            event.remove(self._conn, "rollback", self._before_rollback)
            self._listening = False

    def _before_statement(self, *_args: Any) -> None:
        self._end_stream()

    def _before_rollback(self, *_args: Any) -> None:
        try:
            self._end_stream(RuntimeError("the transaction is rolled back"))
        except Exception:  # noqa: S110 - rolled back anyway: the COPY's own error does not matter any more
            pass

    def _insert_sqlite(self, raw: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        """Insert ``rows`` in order, ``SQLITE_ROWS_PER_INSERT`` rows per statement."""
        width = len(columns)
        if set(map(len, rows)) != {width}:  # rows are flattened below: a short row would shift the others
            raise ValueError(f"a {table} row does not have the {width} values of {', '.join(columns)}")
        per = SQLITE_ROWS_PER_INSERT
        if SQLITE_ROWS is not None and len(rows) >= per and type(raw) is sqlite3.Connection:
            # whole statements' worth of rows bound from the tuples; what it leaves (the last rows, or rows
            # from one holding a value of another type on) goes through the sqlite3 module below
            done = SQLITE_ROWS.insert(raw, self._statement(raw, table, columns), rows, per, width)
            if done:
                rows = rows[done:]
        values = list(chain.from_iterable(rows))
        step = per * width
        whole = len(values) - len(values) % step
        cursor = raw.cursor()
        try:
            if whole:
                cursor.executemany(self._insert(table, columns, per),
                                   [values[i:i + step] for i in range(0, whole, step)])
            if whole < len(values):
                cursor.execute(self._insert(table, columns, (len(values) - whole) // width), values[whole:])
        finally:
            cursor.close()

    def _statement(self, raw: Any, table: str, columns: tuple[str, ...]) -> Any:
        """The prepared ``SQLITE_ROWS_PER_INSERT``-row insert of ``table`` on ``raw`` (kept while the writer is)."""
        kept = self._prepared.get(table)
        if kept is None or kept[0] is not raw:
            kept = (raw, SQLITE_ROWS.prepare(raw, self._insert(table, columns, SQLITE_ROWS_PER_INSERT)))
            self._prepared[table] = kept
        return kept[1]

    def _insert(self, table: str, columns: tuple[str, ...], count: int) -> str:
        """``INSERT OR FAIL INTO table (columns) VALUES (?, …), …`` for ``count`` rows (cached)."""
        sql = self._inserts.get((table, count))
        if sql is None:
            marks = "(" + ", ".join("?" * len(columns)) + ")"
            sql = f"INSERT OR FAIL INTO {table} ({', '.join(columns)}) VALUES {', '.join([marks] * count)}"  # noqa: S608
            self._inserts[(table, count)] = sql
        return sql


# The C writer (``_sqlite_rows.c``) binds the rows' values straight from their tuples instead of through
# the sqlite3 module's adaptation of each value and a flattened parameter list: the writes of a
# 100 000-worker set took 1.88 s of CPU instead of 2.29 s (``scripts/bench --writer``). It works on the
# connection the sqlite3 module opened, so it is used only when it calls the same SQLite library, finds
# the connection's handle where this CPython keeps it, and stores a sample exactly as the sqlite3 module
# does; ``CBSS_PURE_PYTHON=1`` turns it off.
_SAMPLE_ROWS = [
    (1, None, "", "x", -1, 0.5),
    (2**63 - 1, -(2**63), "É\u20ac\U0001f600", "a\0b", 0, -0.0),
    (3, 7, "0123456789" * 50, None, 12_345_678_901, 1e300),
    (4, -5, " padded ", "'; DROP TABLE t; --", None, None),
]


def _c_writer() -> ModuleType | None:
    """The C writer, configured, when it is built, allowed and writes the sample as the sqlite3 module does."""
    if pure_python():
        return None
    if not (3, 11) <= sys.version_info[:2] <= (3, 13):  # where the connection's handle is known to be
        return None
    try:
        from cbss_batch.store import _sqlite_rows  # type: ignore[attr-defined]
    except ImportError:
        log.debug("the C SQLite writer is not built; staging rows are written through the sqlite3 module")
        return None
    try:
        _sqlite_rows.configure(sqlite3.Connection, sqlite3.IntegrityError, sqlite3.OperationalError,
                               sqlite3.DataError)
        problem = _same_library(_sqlite_rows) or _same_rows(_sqlite_rows)
    except (sqlite3.Error, TypeError, ValueError, RuntimeError, OverflowError) as exc:
        problem = str(exc)
    if problem:
        log.warning("the C SQLite writer cannot be used (%s); staging rows are written through the sqlite3 "
                    "module", problem)
        return None
    return _sqlite_rows


def _same_library(module: Any) -> str | None:
    """Why the C writer does not share the sqlite3 module's SQLite library, or None: the memory a
    database of the sqlite3 module holds must show in the library the writer calls."""
    before = module.memory_used()
    probe = sqlite3.connect(":memory:")
    try:
        probe.execute("CREATE TABLE t (x)")
        probe.execute("INSERT INTO t VALUES (?)", (b"\x01" * 2_000_000,))
        grown = module.memory_used() - before
    finally:
        probe.close()
    return None if grown >= 1_000_000 else ("it does not share the sqlite3 module's SQLite library (or that "
                                            "library keeps no memory statistics)")


def _same_rows(module: Any) -> str | None:
    """Why the C writer stores the sample otherwise than the sqlite3 module, or None."""
    probe = sqlite3.connect(":memory:", isolation_level=None)
    try:
        probe.execute("CREATE TABLE ours (a, b, c, d, e, f)")
        probe.execute("CREATE TABLE theirs (a, b, c, d, e, f)")
        probe.execute("CREATE TABLE strict (a NOT NULL)")
        two_rows = module.prepare(probe, "INSERT OR FAIL INTO ours VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)")
        rows = [*_SAMPLE_ROWS, (5, b"bytes", "left to the sqlite3 module", None, None, None), _SAMPLE_ROWS[0]]
        done = module.insert(probe, two_rows, rows, 2, 6)
        if done != len(_SAMPLE_ROWS):
            return f"it wrote {done} of the {len(_SAMPLE_ROWS)} sample rows it can write"
        probe.executemany("INSERT INTO theirs VALUES (?, ?, ?, ?, ?, ?)", _SAMPLE_ROWS)
        read = ("SELECT a, b, c, d, e, f, typeof(a), typeof(b), typeof(c), typeof(d), typeof(e), typeof(f) "
                "FROM {} ORDER BY rowid")
        ours = probe.execute(read.format("ours")).fetchall()
        if ours != probe.execute(read.format("theirs")).fetchall():
            return "it stores the sample rows otherwise"
        try:
            module.insert(probe, module.prepare(probe, "INSERT OR FAIL INTO strict VALUES (?)"), [(None,)], 1, 1)
        except sqlite3.IntegrityError as exc:
            if "NOT NULL" not in str(exc):
                return f"a NOT NULL violation was reported as {exc}"
        else:
            return "a NOT NULL violation was not reported"
    finally:
        probe.close()
    return None


SQLITE_ROWS: Any = _c_writer()
WRITER = "python" if SQLITE_ROWS is None else "c"
