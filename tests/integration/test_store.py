"""The staging database on both back ends: migrations, bulk rows, a whole run."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from cbss_batch.store.bulk import BulkWriter, reserve_ids
from cbss_batch.store.session import SCHEMA_HEAD, current_revision, head_revision, make_engine, open_database
from cbss_batch.store.tables import (
    LEAF_TABLES,
    STAGING_TABLES,
    contributions,
    declarations,
    file_sets,
    natural_persons,
)
from tests.builders import drop_set, make_dmfa
from tests.conftest import TODAY, NewDbUrl, Workspace, write_config


def test_schema_head_constant_matches_the_migrations() -> None:
    assert head_revision("sqlite://") == SCHEMA_HEAD


def test_migrations_reach_head_and_are_idempotent(db_url: str) -> None:
    from cbss_batch.store.session import upgrade

    upgrade(db_url)
    engine = make_engine(db_url)
    assert current_revision(engine) == SCHEMA_HEAD
    engine.dispose()
    open_database(db_url).dispose()



def test_staging_rows_survive_the_migration_that_drops_their_foreign_keys(db_url: str) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from cbss_batch.store.session import alembic_config, upgrade

    command.downgrade(alembic_config(db_url), "20261128_11")
    engine = make_engine(db_url)
    with engine.begin() as conn:
        assert inspect(conn).get_foreign_keys("worker_records")  # still there before migration 12
        conn.execute(file_sets.insert().values(id=1, ticket="T1", mailbox="006400", folder="INTEST",
                                               answer_name="GO", environment="T", state="accepted",
                                               inbox_cleared=True, received_at=datetime(2026, 11, 28)))
        conn.execute(declarations.insert().values(id=1, set_id=1, ticket="T2", form_index=1, message_type="DMFA",
                                                  accepted=True, result_code=1))
        conn.execute(text("INSERT INTO natural_persons (id, declaration_id, set_id, sequence, insz, line) "
                          "VALUES (5, 1, 1, 1, '85073003328', 10)"))
        conn.execute(text("INSERT INTO worker_records (id, person_id, declaration_id, set_id, worker_code, line) "
                          "VALUES (7, 5, 1, 1, '495', 11)"))
    engine.dispose()
    upgrade(db_url)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert current_revision(engine) == SCHEMA_HEAD
        assert [t.name for t in STAGING_TABLES if inspect(conn).get_foreign_keys(t.name)] == []
        assert conn.execute(text("SELECT id, insz, line FROM natural_persons")).all() == [(5, "85073003328", 10)]
        assert conn.execute(text("SELECT id, person_id, worker_code FROM worker_records")).all() == [(7, 5, "495")]
    engine.dispose()

def test_contributions_are_indexed_by_line_and_only_employer_level_ones_by_declaration(db_url: str) -> None:
    from sqlalchemy import inspect

    engine = make_engine(db_url)
    with engine.connect() as conn:
        indexes = {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("contributions")}
        assert indexes == {"ix_contributions_unrelated": ["declaration_id"],
                           "ix_contributions_worker_record_id": ["worker_record_id"]}
        sql = {"sqlite": "SELECT sql FROM sqlite_master WHERE name = 'ix_contributions_unrelated'",
               "postgresql": "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_contributions_unrelated'"}
        definition = conn.execute(text(sql[conn.dialect.name])).scalar_one()
        assert "worker_record_id IS NULL" in definition
    engine.dispose()


def test_bulk_writer_stores_rows_and_numbers_leaf_rows(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(file_sets.insert().values(id=1, ticket="T1", mailbox="006400", folder="INTEST",
                                               answer_name="GO", environment="T", state="received",
                                               inbox_cleared=True, received_at=datetime(2026, 11, 28)))
        conn.execute(declarations.insert().values(id=1, set_id=1, ticket="T2", form_index=1, message_type="DMFA",
                                                  accepted=True, result_code=1))
        writer = BulkWriter(conn, STAGING_TABLES, batch_rows=7, numbered_by_database=LEAF_TABLES)
        for i in range(20):
            person_id = writer.ids["natural_persons"].take()
            writer.add("natural_persons", (person_id, 1, 1, i, f"850730033{i:02d}", None, None, 10 + i))
            writer.add("contributions", (1, person_id, 1, "495", "0", 100_000 + i, 38_070 + i, 20 + i, "worker"))
        writer.flush()
        assert writer.written == 40
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(natural_persons)).scalar() == 20
        amounts = conn.execute(select(contributions.c.amount).order_by(contributions.c.id)).scalars().all()
        assert amounts == [38_070 + i for i in range(20)]
        ids = conn.execute(select(contributions.c.id)).scalars().all()
        assert len(set(ids)) == 20
    engine.dispose()


def test_reserved_ids_never_repeat(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        first = reserve_ids(conn, "x", 10)
        second = reserve_ids(conn, "x", 5)
    with engine.begin() as conn:
        third = reserve_ids(conn, "x", 1)
    assert (first, second, third) == (1, 11, 16)
    engine.dispose()


def test_a_set_runs_end_to_end_on_each_backend(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "ws"
    write_config(root)
    ws = Workspace(root, db_url)
    assert ws.cli("init").exit_code == 0
    drop_set(ws.inbox, "006400", make_dmfa(workers=12, declarations=2, quarter="20253", faults=["bad_insz"]),
             day=TODAY.replace(day=20))
    result = ws.cli("--json", "run")
    assert result.exit_code == 0, result.output
    assert '"declarations_accepted": 1' in result.output
    assert '"declarations_refused": 1' in result.output
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from natural_persons")).scalar() == 12
        assert conn.execute(text("select count(*) from anomalies where code = '00024-004'")).scalar() == 1
    engine.dispose()
    assert ws.answers() == ["FO.ACRF.999999.20261128.00001.T", "FO.NOTI.999999.20261128.00002.T",
                            "GO.ACRF.999999.20261128.00001.T", "GO.NOTI.999999.20261128.00002.T"]


@pytest.mark.parametrize("parallel", [True, False], ids=["parallel-check", "in-stream-check"])
def test_both_validation_modes_give_the_same_answers(parallel: bool, tmp_path: Path, new_db_url: NewDbUrl) -> None:
    root = tmp_path / "ws"
    write_config(root, f"parallel_validation = {str(parallel).lower()}\nparallel_validation_min_bytes = 0\n")
    ws = Workspace(root, new_db_url(root))
    assert ws.cli("init").exit_code == 0
    drop_set(ws.inbox, "006400", make_dmfa(workers=3, quarter="20253"), day=TODAY.replace(day=20))
    drop_set(ws.inbox, "006400", make_dmfa(workers=3, quarter="20253", faults=["schema"]), day=TODAY.replace(day=20),
             seq=2)
    assert ws.cli("run").exit_code == 0
    from lxml import etree

    acrfs = [etree.parse(str(p)) for p in sorted(ws.out().glob("FO.ACRF.*"))]
    assert [a.findtext("Form/ReceptionResult/ResultCode") for a in acrfs] == ["1", "0"]
    assert [e.text for e in acrfs[1].iter("ErrorID")] == ["ACRF-091"]


@pytest.mark.parametrize(("cpus", "checks_in_a_second_process"), [(1, False), (2, True)])
def test_the_schema_is_checked_in_a_second_process_only_with_a_second_cpu(
        cpus: int, checks_in_a_second_process: bool, tmp_path: Path, new_db_url: NewDbUrl,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from cbss_batch import pipeline

    started: list[Path] = []
    real_start = pipeline.ParallelCheck.start

    def start(schema: Path, *args: object) -> object:
        started.append(schema)
        return real_start(schema, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "usable_cpus", lambda: cpus)
    monkeypatch.setattr(pipeline.ParallelCheck, "start", staticmethod(start))
    root = tmp_path / "ws"
    write_config(root, "parallel_validation = true\nparallel_validation_min_bytes = 0\n")
    ws = Workspace(root, new_db_url(root))
    assert ws.cli("init").exit_code == 0
    drop_set(ws.inbox, "006400", make_dmfa(workers=3, quarter="20253", faults=["schema"]), day=TODAY.replace(day=20))
    assert ws.cli("run").exit_code == 0
    assert len(started) == (1 if checks_in_a_second_process else 0)
    from lxml import etree

    acrf = etree.parse(str(next(ws.out().glob("FO.ACRF.*"))))
    assert [e.text for e in acrf.iter("ErrorID")] == ["ACRF-091"]  # found either way


def test_the_usable_cpus_are_those_this_process_may_run_on() -> None:
    from cbss_batch import pipeline

    assert pipeline.usable_cpus() == len(os.sched_getaffinity(0))


def test_migrations_build_exactly_the_tables_the_code_declares(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from cbss_batch.store.tables import metadata

    engine = make_engine(db_url)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert differences == []
