"""A set refused at intake is recorded as received before it is answered: a worker can claim it in between.

Whichever of the two reaches the answer second must not answer it again (one ACRF per set).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cbss_batch import pipeline, worker
from cbss_batch.config import Settings, load_settings
from cbss_batch.intake import scan_inbox
from cbss_batch.store import claims
from cbss_batch.store.session import open_database
from tests.conftest import Workspace

NOTES = "NOTES.txt"  # not a transfer file name: refused at intake with ACRF-1xx


def _notes_in_inbox(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A file with an unreadable name in the inbox; the workspace's settings, run from its folder."""
    (workspace.inbox / "006400" / "INTEST").mkdir(parents=True, exist_ok=True)
    (workspace.inbox / "006400" / "INTEST" / NOTES).write_bytes(b"not a transfer file\n")
    monkeypatch.chdir(workspace.root)
    return load_settings(workspace.root / "config" / "cbss.toml", {"CBSS_DB_URL": workspace.db_url})


def _intake_with(settings: Settings, monkeypatch: pytest.MonkeyPatch, meanwhile: Any) -> list[object]:
    """Receive every inbox candidate; ``meanwhile(set_id)`` runs once, just before the intake answers."""
    real_reject = pipeline._reject
    pending = [meanwhile]

    def reject(settings: Settings, engine: Any, clock: pipeline.Clock, set_id: int, *args: Any, **kwargs: Any) -> Any:
        if pending:
            pending.pop()(set_id)
        return real_reject(settings, engine, clock, set_id, *args, **kwargs)

    monkeypatch.setattr(pipeline, "_reject", reject)
    engine = open_database(settings.database_url)
    try:
        clock = pipeline.Clock(settings.today)
        return [pipeline.receive(settings, engine, clock, candidate, None)
                for candidate in scan_inbox(settings.inbox, now=clock.now(), go_timeout=timedelta(hours=24))]
    finally:
        engine.dispose()


def _acrf_per_set(workspace: Workspace) -> list[tuple[object, ...]]:
    return workspace.sql("select s.state, count(m.id) from file_sets s left join outbound_messages m "
                         "on m.set_id = s.id and m.kind = 'ACRF' group by s.id, s.state")


def test_a_worker_that_answered_the_set_in_between_is_not_answered_twice(
        workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _notes_in_inbox(workspace, monkeypatch)
    answered: list[object] = []

    def another_worker_answers(set_id: int) -> None:
        engine = open_database(settings.database_url)
        try:
            answered.append(worker.process_claimed(
                settings, engine, pipeline.Clock(settings.today), "other-host:1", 60, set_id))
        finally:
            engine.dispose()

    outcomes = _intake_with(settings, monkeypatch, another_worker_answers)
    assert outcomes == [None]  # the intake saw the set answered and left it
    assert [getattr(o, "state", None) for o in answered] == ["rejected"]
    assert _acrf_per_set(workspace) == [("rejected", 1)]


def test_a_worker_holding_the_set_answers_it_and_the_intake_does_not(
        workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _notes_in_inbox(workspace, monkeypatch)
    held: list[claims.Claim] = []

    def another_worker_claims(set_id: int) -> None:
        engine = open_database(settings.database_url)
        try:
            with engine.begin() as conn:
                claim = claims.claim_next(conn, "other-host:1", 60, set_id=set_id)
            assert claim is not None
            held.append(claim)
        finally:
            engine.dispose()

    outcomes = _intake_with(settings, monkeypatch, another_worker_claims)
    assert outcomes == [None]
    assert _acrf_per_set(workspace) == [("received", 0)]  # left to the worker that holds it
    engine = open_database(settings.database_url)
    try:
        with claims.holding(held[0]):
            outcome = pipeline.process_set(settings, engine, pipeline.Clock(settings.today), held[0].set_id)
    finally:
        engine.dispose()
    assert outcome.state == "rejected"
    assert workspace.sql("select error_codes from file_sets") == [("ACRF-129",)]
    assert _acrf_per_set(workspace) == [("rejected", 1)]


def test_a_claim_holder_does_not_answer_a_set_answered_meanwhile(
        workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fence refuses a set that is no longer received, even to the holder of its current claim."""
    settings = _notes_in_inbox(workspace, monkeypatch)
    assert _intake_with(settings, monkeypatch, lambda set_id: None)[0] is not None
    (set_id,) = [int(str(r[0])) for r in workspace.sql("select id from file_sets")]
    workspace.sql("update file_sets set state = 'received' where id = :id", {"id": set_id})
    engine = open_database(settings.database_url)
    try:
        with engine.begin() as conn:
            claim = claims.claim_next(conn, "slow-host:1", 60, set_id=set_id)
        assert claim is not None
        workspace.sql("update file_sets set state = 'rejected' where id = :id", {"id": set_id})
        with claims.holding(claim), pytest.raises(claims.LeaseLost, match="answered meanwhile"):
            pipeline.process_set(settings, engine, pipeline.Clock(settings.today), set_id)
    finally:
        engine.dispose()
    assert _acrf_per_set(workspace) == [("rejected", 1)]
