"""The bulk writer on both back ends: rows in order, visible to the caller's next statement (on
PostgreSQL, the streamed table's COPY left open between batches ends first), errors, rollback."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Connection, func, select

from cbss_batch.store.bulk import BulkWriter
from cbss_batch.store.session import make_engine
from cbss_batch.store.tables import LEAF_TABLES, STAGING_TABLES, contributions, declarations, file_sets, natural_persons


def _set_and_declaration(conn: Connection) -> None:
    conn.execute(file_sets.insert().values(id=1, ticket="T1", mailbox="006400", folder="INTEST", answer_name="GO",
                                           environment="T", state="received", inbox_cleared=True,
                                           received_at=datetime(2026, 11, 28)))
    conn.execute(declarations.insert().values(id=1, set_id=1, ticket="T2", form_index=1, message_type="DMFA",
                                              accepted=True, result_code=1))


def _person(writer: BulkWriter, i: int, declaration_id: int | None = 1) -> None:
    person_id = writer.ids["natural_persons"].take()
    writer.rows["natural_persons"].append((person_id, 1, 1, i, f"850730033{i % 100:02d}", None, None, 10 + i))
    writer.rows["contributions"].append((declaration_id, person_id, 1, "495", "0", 100_000 + i, 38_070 + i, 20 + i,
                                         "worker"))
    writer.flush_full()


def test_rows_of_every_batch_are_there_for_the_callers_next_statement(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        _set_and_declaration(conn)
        writer = BulkWriter(conn, STAGING_TABLES, batch_rows=5, numbered_by_database=LEAF_TABLES)
        seen = []
        for i in range(53):
            _person(writer, i)
            if i % 10 == 9:  # between batches: every row written so far is there
                seen.append((conn.execute(select(func.count()).select_from(natural_persons)).scalar(),
                             conn.execute(select(func.count()).select_from(contributions)).scalar()))
        writer.flush()
        assert writer.written == 106
        assert seen == [(10, 10), (20, 20), (30, 30), (40, 40), (50, 50)]
    with engine.connect() as conn:
        assert conn.execute(select(contributions.c.amount).order_by(contributions.c.id)).scalars().all() == [
            38_070 + i for i in range(53)]
        assert conn.execute(select(natural_persons.c.line).order_by(natural_persons.c.id)).scalars().all() == [
            10 + i for i in range(53)]
    engine.dispose()


def test_an_error_in_a_batch_reaches_the_caller_and_nothing_is_committed(db_url: str) -> None:
    engine = make_engine(db_url)
    with pytest.raises(Exception) as failed, engine.begin() as conn:  # either driver's error
        _set_and_declaration(conn)
        writer = BulkWriter(conn, STAGING_TABLES, batch_rows=3, numbered_by_database=LEAF_TABLES)
        for i in range(4):
            _person(writer, i)
        for i in range(4, 8):
            _person(writer, i, declaration_id=None)  # a NOT NULL column left empty
        conn.execute(select(func.count()).select_from(contributions))
        writer.flush()
    assert "null" in str(failed.value).lower() and "declaration_id" in str(failed.value)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(file_sets)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(contributions)).scalar() == 0
    engine.dispose()


def test_a_rollback_in_the_middle_of_the_rows_leaves_nothing(db_url: str) -> None:
    engine = make_engine(db_url)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        _set_and_declaration(conn)
        writer = BulkWriter(conn, STAGING_TABLES, batch_rows=4, numbered_by_database=LEAF_TABLES)
        for i in range(41):
            _person(writer, i)
        raise RuntimeError("the document turned out invalid")
    with engine.begin() as conn:  # the connection is usable again
        assert conn.execute(select(func.count()).select_from(contributions)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(natural_persons)).scalar() == 0
    engine.dispose()


def test_a_row_failing_inside_a_multi_row_statement_leaves_nothing_after_the_rollback(db_url: str) -> None:
    # SQLite writes 50 rows a statement with INSERT OR FAIL: the rows before the failing one in the same
    # statement stay in the transaction until the caller rolls it back, which every caller does.
    engine = make_engine(db_url)
    with pytest.raises(Exception) as failed, engine.begin() as conn:
        _set_and_declaration(conn)
        writer = BulkWriter(conn, STAGING_TABLES, batch_rows=100, numbered_by_database=LEAF_TABLES)
        for i in range(120):
            _person(writer, i, declaration_id=None if i == 75 else 1)  # row 26 of the second statement
    assert "null" in str(failed.value).lower() and "declaration_id" in str(failed.value)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(contributions)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(natural_persons)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(file_sets)).scalar() == 0
    engine.dispose()
