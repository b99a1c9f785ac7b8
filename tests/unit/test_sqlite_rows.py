"""The C SQLite writer (``cbss_batch/store/_sqlite_rows.c``) against the sqlite3 module it stands in for.

Every value must be stored as the sqlite3 module stores it (same value, same storage class), every
refusal must be the same exception, and the rows it leaves (values of other types, the last rows of a
batch) must reach the table through the sqlite3 module in their order.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sqlite3
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from cbss_batch import PURE_PYTHON_ENV, pure_python
from cbss_batch.store import bulk
from cbss_batch.store.session import make_engine
from cbss_batch.store.tables import LEAF_TABLES, STAGING_TABLES, contributions, metadata

if importlib.util.find_spec("cbss_batch.store._sqlite_rows") is None:
    pytest.skip("the C SQLite writer is not built here (no C compiler or SQLite headers at installation)",
                allow_module_level=True)

from cbss_batch.store import _sqlite_rows  # type: ignore[attr-defined]  # noqa: E402

# configured by bulk.py at import, unless CBSS_PURE_PYTHON is set: the tests below use it either way
_sqlite_rows.configure(sqlite3.Connection, sqlite3.IntegrityError, sqlite3.OperationalError, sqlite3.DataError)
ROOT = Path(__file__).resolve().parents[2]
READ = "SELECT a, b, c, typeof(a), typeof(b), typeof(c) FROM {} ORDER BY rowid"

VALUES = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30),
    st.sampled_from(["", "0", "00001014600", "\0", "É€😀", "'; DROP TABLE t; --"]),
)
ROWS = st.lists(st.tuples(VALUES, VALUES, VALUES), min_size=0, max_size=40)


@pytest.mark.skipif(pure_python(), reason=f"{PURE_PYTHON_ENV} is set")
def test_the_c_writer_is_the_one_in_use() -> None:
    assert bulk.WRITER == "c"
    assert bulk.SQLITE_ROWS is _sqlite_rows


def _pair() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute("CREATE TABLE ours (a, b, c)")
    db.execute("CREATE TABLE theirs (a, b, c)")
    return db


@settings(max_examples=300, deadline=None)
@given(ROWS, st.integers(min_value=1, max_value=7))
def test_rows_are_stored_as_the_sqlite3_module_stores_them(rows: list[tuple[Any, ...]], per: int) -> None:
    db = _pair()
    statement = _sqlite_rows.prepare(db, "INSERT INTO ours VALUES " + ", ".join(["(?, ?, ?)"] * per))
    done = _sqlite_rows.insert(db, statement, rows, per, 3)
    assert done == len(rows) - len(rows) % per  # every whole statement of rows: all of these types are its own
    db.executemany("INSERT INTO theirs VALUES (?, ?, ?)", rows[:done])
    assert db.execute(READ.format("ours")).fetchall() == db.execute(READ.format("theirs")).fetchall()


def test_nan_is_stored_as_the_sqlite3_module_stores_it() -> None:
    db = _pair()
    _sqlite_rows.insert(db, _sqlite_rows.prepare(db, "INSERT INTO ours VALUES (?, ?, ?)"),
                        [(math.nan, math.inf, -math.inf)], 1, 3)
    db.execute("INSERT INTO theirs VALUES (?, ?, ?)", (math.nan, math.inf, -math.inf))
    assert db.execute(READ.format("ours")).fetchall() == db.execute(READ.format("theirs")).fetchall()


@pytest.mark.parametrize("other", [b"bytes", True, Decimal("1.5"), date(2025, 7, 1), bytearray(b"x"), ("t",)])
def test_a_value_of_another_type_stops_the_writer_before_its_statement(other: Any) -> None:
    db = _pair()
    rows = [(1, 2, 3), (4, 5, 6), (7, other, 9), (10, 11, 12)]
    assert _sqlite_rows.insert(db, _sqlite_rows.prepare(db, "INSERT INTO ours VALUES (?, ?, ?), (?, ?, ?)"),
                               rows, 2, 3) == 2
    assert db.execute("SELECT a FROM ours ORDER BY rowid").fetchall() == [(1,), (4,)]


def test_a_row_of_another_shape_stops_the_writer_before_its_statement() -> None:
    db = _pair()
    statement = _sqlite_rows.prepare(db, "INSERT INTO ours VALUES (?, ?, ?)")
    assert _sqlite_rows.insert(db, statement, [(1, 2, 3), (4, 5), [6, 7, 8]], 1, 3) == 1


def test_refusals_are_the_sqlite3_module_s() -> None:
    db = _pair()
    statement = _sqlite_rows.prepare(db, "INSERT INTO ours VALUES (?, ?, ?)")
    for value in (2**63, -(2**63) - 1):
        with pytest.raises(OverflowError, match="too large to convert to SQLite INTEGER"):
            _sqlite_rows.insert(db, statement, [(1, value, 3)], 1, 3)
        with pytest.raises(OverflowError, match="too large to convert to SQLite INTEGER"):
            db.execute("INSERT INTO theirs VALUES (?, ?, ?)", (1, value, 3))
    with pytest.raises(UnicodeEncodeError):
        _sqlite_rows.insert(db, statement, [(1, "\ud800", 3)], 1, 3)
    with pytest.raises(UnicodeEncodeError):
        db.execute("INSERT INTO theirs VALUES (?, ?, ?)", (1, "\ud800", 3))
    db.execute("CREATE TABLE strict (a INTEGER PRIMARY KEY, b NOT NULL)")
    strict = _sqlite_rows.prepare(db, "INSERT OR FAIL INTO strict VALUES (?, ?), (?, ?)")
    with pytest.raises(sqlite3.IntegrityError, match="NOT NULL constraint failed: strict.b"):
        _sqlite_rows.insert(db, strict, [(1, "x"), (2, None)], 2, 2)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE constraint failed: strict.a"):
        _sqlite_rows.insert(db, strict, [(1, "x"), (1, "y")], 2, 2)
    # OR FAIL: the rows before the failing one stay, for the caller's transaction to roll back
    assert db.execute("SELECT a, b FROM strict").fetchall() == [(1, "x")]
    assert db.execute("SELECT count(*) FROM ours").fetchone() == (0,)


def test_statements_and_connections_are_checked() -> None:
    db, other = _pair(), _pair()
    statement = _sqlite_rows.prepare(db, "INSERT INTO ours VALUES (?, ?, ?)")
    with pytest.raises(ValueError, match="another connection"):
        _sqlite_rows.insert(other, statement, [(1, 2, 3)], 1, 3)
    with pytest.raises(ValueError, match="per x width"):
        _sqlite_rows.insert(db, statement, [(1, 2, 3)], 2, 3)
    with pytest.raises(TypeError, match="sqlite3.Connection"):
        _sqlite_rows.insert(object(), statement, [(1, 2, 3)], 1, 3)
    with pytest.raises(ValueError, match="exactly one statement"):
        _sqlite_rows.prepare(db, "INSERT INTO ours VALUES (1, 2, 3); DELETE FROM ours")
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        _sqlite_rows.prepare(db, "INSERT INTO missing VALUES (?)")
    other.close()
    with pytest.raises(ValueError, match="closed"):
        _sqlite_rows.prepare(other, "SELECT 1")
    db.close()
    del statement  # finalized after its connection was closed: SQLite frees the connection now


def _stage(url: str, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    engine = make_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        writer = bulk.BulkWriter(conn, STAGING_TABLES, batch_rows=1000, numbered_by_database=LEAF_TABLES)
        writer.rows["contributions"].extend(rows)
        writer.flush()
        assert writer.written == len(rows)
    with engine.connect() as conn:
        stored = [tuple(r) for r in conn.execute(select(contributions).order_by(contributions.c.id))]
        assert conn.execute(select(func.count()).select_from(contributions)).scalar() == len(rows)
    engine.dispose()
    return stored


def test_the_writer_stores_what_the_sqlite3_module_stores_with_the_rows_it_leaves(tmp_path: Path,
                                                                                   monkeypatch: Any) -> None:
    rows = [(1, i if i % 7 else None, 1, f"{800 + i % 50:03d}", "0" if i % 3 else None, 100_000 + i, 38_070 + i,
             20 + i, "worker") for i in range(237)]
    rows[120] = (*rows[120][:5], 5, *rows[120][6:])
    rows[160] = (*rows[160][:3], "É€", *rows[160][4:])
    rows[180] = (*rows[180][:6], True, *rows[180][7:])  # left to the sqlite3 module, with every row after it
    written: list[int] = []

    class Counted:  # the C writer, counting the rows it wrote itself
        prepare = staticmethod(_sqlite_rows.prepare)

        @staticmethod
        def insert(*args: Any) -> int:
            written.append(_sqlite_rows.insert(*args))
            return written[-1]

    monkeypatch.setattr(bulk, "SQLITE_ROWS", Counted)
    with_c = _stage(f"sqlite:///{tmp_path / 'c.db'}", rows)
    assert written == [150]  # three statements of 50; the one holding row 180 and the rest: the sqlite3 module
    monkeypatch.setattr(bulk, "SQLITE_ROWS", None)
    without = _stage(f"sqlite:///{tmp_path / 'python.db'}", rows)
    assert with_c == without
    assert [r[1:] for r in with_c] == [(1, r[1], 1, *r[3:6], 1 if r[6] is True else r[6], *r[7:]) for r in rows]


def test_the_sqlite3_module_is_used_when_asked_for() -> None:
    env = dict(os.environ, **{PURE_PYTHON_ENV: "1"})
    out = subprocess.run([sys.executable, "-c", "from cbss_batch.store import bulk; print(bulk.WRITER)"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "python"
