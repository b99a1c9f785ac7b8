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
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from cbss_batch.dimona_builder import DimonaForm, make_dimona
from cbss_batch.drs_builder import make_risk_declaration
from cbss_batch.faults import CRASH_ENV, CRASH_EXIT_CODE
from tests.builders import drop_set, make_dmfa
from tests.conftest import TODAY, write_config

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


def _cli(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cbss_batch", *args], cwd=root, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=120)


def _workspace(root: Path, kind: str) -> Path:
    write_config(root)
    assert _cli(root, "init").returncode == 0
    file_type = "DMFA" if kind == "BAD" else kind
    drop_set(root / "inbox", "006400", MESSAGES[kind](), day=DAY, file_type=file_type)
    return root


def _state(root: Path) -> dict[str, object]:
    """What a run leaves: database rows that matter, outbox bytes, archive contents (no ids, no times)."""
    with sqlite3.connect(root / "var" / "cbss.db") as conn:
        rows = {
            "sets": conn.execute("select ticket, state, result_code, error_codes, inbox_cleared from file_sets "
                                 "order by ticket").fetchall(),
            "declarations": conn.execute("select ticket, accepted, net_owed_computed, persons from declarations "
                                         "order by ticket").fetchall(),
            "dimona": conn.execute("select ticket, accepted, period_id from dimona_declarations order by ticket")
            .fetchall(),
            "periods": conn.execute("select period_id, version, is_cancelled from employment_periods "
                                    "order by period_id").fetchall(),
            "risks": conn.execute("select ticket, accepted from risk_declarations order by ticket").fetchall(),
            "anomalies": conn.execute("select ticket, code, anomaly_class, line from anomalies "
                                      "order by ticket, code, line").fetchall(),
            "answers": conn.execute("select name, kind, state, sha256 from outbound_messages order by name")
            .fetchall(),
            "facts": conn.execute("select kind, mutation, ticket from fact_events order by id").fetchall(),
            "rows": conn.execute("select (select count(*) from worker_records), (select count(*) from occupations), "
                                 "(select count(*) from remunerations)").fetchall(),
        }
    outbox = {str(p.relative_to(root / "outbox")): hashlib.sha256(p.read_bytes()).hexdigest()
              for p in sorted((root / "outbox").rglob("*")) if p.is_file()}
    archive = sorted(p.name for p in (root / "var" / "archive").rglob("*") if p.is_file())
    inbox = sorted(str(p.relative_to(root / "inbox")) for p in (root / "inbox").rglob("*") if p.is_file())
    return {**rows, "outbox": outbox, "archive": archive, "inbox": inbox}


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    """The end state of an uninterrupted run, per message type."""
    states = {}
    for kind in MESSAGES:
        root = _workspace(tmp_path_factory.mktemp(f"quiet-{kind}"), kind)
        assert _cli(root, "run").returncode == 0
        states[kind] = _state(root)
    return states


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("kind", list(MESSAGES))
def test_a_crash_at_any_point_ends_like_a_quiet_run(tmp_path: Path, quiet: dict[str, dict[str, object]],
                                                   kind: str, point: str) -> None:
    root = _workspace(tmp_path / "ws", kind)
    crashed = _cli(root, "run", env={CRASH_ENV: point})
    if point in REACHES[kind]:
        assert crashed.returncode == CRASH_EXIT_CODE, (crashed.returncode, crashed.stderr)
    else:
        assert crashed.returncode == 0, crashed.stderr
    again = _cli(root, "run")
    assert again.returncode == 0, again.stderr
    state = _state(root)
    expected = quiet[kind]
    for key in expected:
        assert state[key] == expected[key], key
    assert not [name for name in state["outbox"] if name.endswith(".part")]  # type: ignore[union-attr]


def test_every_point_of_the_matrix_is_reached_by_some_message() -> None:
    assert set().union(*REACHES.values()) == set(POINTS)
