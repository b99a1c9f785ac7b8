"""Fast staging writes: rows buffered as tuples and flushed with the backend's bulk path.

SQLite: ``executemany`` on the raw driver cursor inside the open transaction. PostgreSQL: psycopg
``COPY``. Keys are generated client-side from blocks reserved in ``counters``, so no
``RETURNING`` round trip is needed (PERFORMANCE.md).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, select, text, update

from cbss_batch.store.tables import counters

_BLOCK = 100_000


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
        self._next = 0
        self._end = 0

    def take(self) -> int:
        """The next key."""
        if self._next >= self._end:
            self._next = reserve_ids(self._conn, self._name, self._block)
            self._end = self._next + self._block
        value = self._next
        self._next += 1
        return value


class BulkWriter:
    """Buffers rows per table and writes them in batches through the driver's fast path."""

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

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        rows = self.rows[table]
        rows.append(row)
        if len(rows) >= self._batch_rows:
            self.flush()

    def flush_full(self) -> None:
        """Write everything once any buffer reached the batch size (callers append to ``rows`` directly)."""
        if any(len(rows) >= self._batch_rows for rows in self.rows.values()):
            self.flush()

    def flush(self) -> None:
        """Write every buffer, parents before children (the order the tables were given in)."""
        for table in self.rows:
            self._flush_table(table)

    def _flush_table(self, table: str) -> None:
        rows = self.rows[table]
        if not rows:
            return
        columns = self._columns[table]
        raw = self._conn.connection.driver_connection
        assert raw is not None
        if self._dialect == "postgresql":
            with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            cursor = raw.cursor()
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)  # noqa: S608
            cursor.close()
        self.written += len(rows)
        rows.clear()
