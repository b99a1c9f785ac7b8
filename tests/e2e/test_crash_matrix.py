"""Crash-point matrix: the process dies at every step boundary, runs again, and ends where a quiet run ends.

For each named crash point and each message type, ``cbss-batch run`` is started in a subprocess with
``CBSS_TEST_CRASH_AT=<point>`` (``os._exit`` there: no cleanup, no flush), then run again normally.
The final database (sets, declarations, anomalies, answers recorded), the outbox bytes and the
archive must equal those of an uninterrupted run of the same inbox: no set lost, no answer missing
or doubled.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from cbss_batch.dimona_builder import DimonaForm, make_dimona
from cbss_batch.drs_builder import make_risk_declaration
from cbss_batch.faults import CRASH_ENV, CRASH_EXIT_CODE
from tests.builders import drop_set, make_dmfa
from tests.conftest import TODAY, NewDbUrl, Workspace, write_config

DAY = TODAY.replace(day=20)

POINTS = ("after-archive", "after-record", "after-claim", "mid-load", "set-staged", "after-commit",
          "outbox-before-rename", "outbox-before-go")
MESSAGES = {
    "DMFA": lambda: make_dmfa(workers=4, declarations=2, quarter="20253", seed=7),
    "DIMN": lambda: make_dimona([DimonaForm(action="IN", starting_date=date(2026, 9, 1)),
                                 DimonaForm(action="IN", insz="85073003427", starting_date=date(2026, 9, 2))]),
    "WECH": lambda: make_risk_declaration("WECH001"),
    "BAD": lambda: b"<DmfAOriginal><Form>",  # refused at once: a negative ACRF
}
REACHES = {  # the points a message type passes through (the others: the run ends normally)
    "DMFA": set(POINTS),
    "DIMN": set(POINTS) - {"mid-load"},
    "WECH": set(POINTS) - {"mid-load"},
    "BAD": set(POINTS) - {"mid-load", "set-staged"},
}


def _cli(ws: Workspace, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cbss_batch", "--db", ws.db_url, *args], cwd=ws.root,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=120)


def _workspace(ws: Workspace, kind: str) -> Workspace:
    write_config(ws.root)
    assert ws.cli("init").exit_code == 0  # in this process: only the runs need one of their own to crash
    file_type = "DMFA" if kind == "BAD" else kind
    drop_set(ws.inbox, "006400", MESSAGES[kind](), day=DAY, file_type=file_type)
    return ws


# On PostgreSQL the numbers a crashed transaction took from the counters are not given back (a gap, never
# a value used twice: cbss_batch/store/bulk.py reserve_ids): tickets, Dimona period ids and answer sequence
# numbers may differ from a quiet run's there, so both sides of the comparison blank them.
_COUNTED_TEXT = [(re.compile(r"CB\d{16}"), "CB#"), (re.compile(r"^\d{12}$"), "#"),
                 (re.compile(r"(?<=\.\d{8}\.)\d{5}(?=\.)"), "#")]
_COUNTED_BYTES = [(re.compile(rb"CB\d{16}"), b"CB#"), (re.compile(rb"(?<=<DimonaPeriodId>)\d{12}"), b"#")]


def _blanked(value: object) -> object:
    if isinstance(value, str):
        for pattern, blank in _COUNTED_TEXT:
            value = pattern.sub(blank, value)
    return value


def _state(ws: Workspace, *, blank_counted: bool = False) -> dict[str, object]:
    """What a run leaves: database rows that matter, outbox bytes, archive contents (no ids, no times);
    ``blank_counted``: without the numbers taken from counters."""
    rows = {
        "sets": ws.sql("select ticket, state, result_code, error_codes, inbox_cleared from file_sets order by ticket"),
        "declarations": ws.sql("select ticket, accepted, net_owed_computed, persons from declarations "
                               "order by ticket"),
        "dimona": ws.sql("select ticket, accepted, period_id from dimona_declarations order by ticket"),
        "periods": ws.sql("select period_id, version, is_cancelled from employment_periods order by period_id"),
        "risks": ws.sql("select ticket, accepted from risk_declarations order by ticket"),
        "anomalies": ws.sql("select ticket, code, anomaly_class, line from anomalies order by ticket, code, line"),
        "answers": ws.sql("select name, kind, state, sha256 from outbound_messages order by name"),
        "facts": ws.sql("select kind, mutation, ticket from fact_events order by id"),
        "rows": ws.sql("select (select count(*) from worker_records), (select count(*) from occupations), "
                       "(select count(*) from remunerations)"),
    }
    root = ws.root
    bodies = {str(p.relative_to(root / "outbox")): p.read_bytes()
              for p in sorted((root / "outbox").rglob("*")) if p.is_file()}
    if blank_counted:
        rows = {key: [tuple(_blanked(v) for v in row) for row in found] for key, found in rows.items()}
        rows["answers"] = [row[:3] for row in rows["answers"]]  # the bodies are compared below, blanked
        for pattern, blank in _COUNTED_BYTES:
            bodies = {name: pattern.sub(blank, body) for name, body in bodies.items()}
        bodies = {str(_blanked(name)): body for name, body in bodies.items()}
    outbox = {name: hashlib.sha256(body).hexdigest() for name, body in bodies.items()}
    archive = sorted(p.name for p in (root / "var" / "archive").rglob("*") if p.is_file())
    inbox = sorted(str(p.relative_to(root / "inbox")) for p in (root / "inbox").rglob("*") if p.is_file())
    return {**rows, "outbox": outbox, "archive": archive, "inbox": inbox}


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Workspace]:
    """Workspaces after an uninterrupted run on SQLite, per message type: the reference for both backends
    (the state compared holds no ids and no times, and ``Workspace.sql`` reads both backends alike)."""
    done = {}
    for kind in MESSAGES:
        root = tmp_path_factory.mktemp(f"quiet-{kind}")
        ws = _workspace(Workspace(root, f"sqlite:///{root / 'var' / 'cbss.db'}"), kind)
        assert _cli(ws, "run").returncode == 0
        done[kind] = ws
    return done


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("kind", list(MESSAGES))
def test_a_crash_at_any_point_ends_like_a_quiet_run(tmp_path: Path, new_db_url: NewDbUrl,
                                                   quiet: dict[str, Workspace], kind: str, point: str) -> None:
    root = tmp_path / "ws"
    ws = _workspace(Workspace(root, new_db_url(root)), kind)
    crashed = _cli(ws, "run", env={CRASH_ENV: point})
    if point in REACHES[kind]:
        assert crashed.returncode == CRASH_EXIT_CODE, (crashed.returncode, crashed.stderr)
    else:
        assert crashed.returncode == 0, crashed.stderr
    again = _cli(ws, "run")
    assert again.returncode == 0, again.stderr
    blank = ws.backend == "postgresql"
    state = _state(ws, blank_counted=blank)
    expected = _state(quiet[kind], blank_counted=blank)
    for key in expected:
        assert state[key] == expected[key], key
    assert not [name for name in state["outbox"] if name.endswith(".part")]  # type: ignore[union-attr]


def test_every_point_of_the_matrix_is_reached_by_some_message() -> None:
    assert set().union(*REACHES.values()) == set(POINTS)
