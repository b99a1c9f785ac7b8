"""Several workers on one PostgreSQL: every set processed once, a killed worker's set taken over."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import text

from cbss_batch.faults import PAUSE_ENV, PAUSE_FILE_ENV
from cbss_batch.store.session import make_engine
from tests.builders import drop_set, make_dmfa
from tests.conftest import TODAY, write_config

DAY = TODAY.replace(day=20)


def _worker(root: Path, db_url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "cbss_batch", "--db", db_url, "worker", "--idle", "0.1", *args],
                            cwd=root, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _rows(db_url: str, sql: str) -> list[tuple[object, ...]]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def _answers(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root / "outbox")): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((root / "outbox").rglob("*")) if p.is_file()}


# Several workers need PostgreSQL (FOR UPDATE SKIP LOCKED); on SQLite a second worker refuses (below).
def test_four_workers_process_two_hundred_sets_each_exactly_once(tmp_path: Path, pg_url: str) -> None:
    root = tmp_path / "ws"
    write_config(root)
    senders = [f"{n:06d}" for n in range(6400, 6410)]
    for i in range(200):
        drop_set(root / "inbox", senders[i % 10], make_dmfa(workers=1, quarter="20253", seed=i), day=DAY,
                 seq=i // 10 + 1)
    workers = [_worker(root, pg_url, "--until-idle", "3", "--lease", "20") for _ in range(4)]
    try:
        for process in workers:
            out, err = process.communicate(timeout=240)
            assert process.returncode == 0, err
    finally:  # a failed worker must not leave the others running into the next tests
        for process in workers:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert _rows(pg_url, "select state, count(*) from file_sets group by state") == [("accepted", 200)]
    per_set = _rows(pg_url, "select set_id, kind, count(*) from outbound_messages group by set_id, kind")
    assert Counter((kind, n) for _, kind, n in per_set) == {("ACRF", 1): 200, ("NOTI", 1): 200}
    assert _rows(pg_url, "select count(*) from outbound_messages where state <> 'written'") == [(0,)]
    files = _answers(root)
    assert len([f for f in files if "/FO.ACRF." in f]) == 200
    assert len([f for f in files if "/FO.NOTI." in f]) == 200
    assert not [f for f in files if f.endswith(".part")]
    owners = {r[0] for r in _rows(pg_url, "select claimed_by from file_sets")}
    assert len(owners) >= 2  # the work was shared
    assert _rows(pg_url, "select max(claim_token) from file_sets") == [(1,)]  # nobody lost a claim


def test_a_worker_killed_mid_set_is_taken_over_with_the_same_result(tmp_path: Path, pg_url: str,
                                                                    pg_database: str) -> None:
    content = make_dmfa(workers=40, declarations=3, quarter="20253", seed=1)

    def workspace(name: str) -> Path:
        root = tmp_path / name
        write_config(root)
        drop_set(root / "inbox", "006400", content, day=DAY, parts=2)
        return root

    # the reference: one worker, no interruption (SQLite: another database, same inputs)
    quiet = workspace("quiet")
    subprocess.run([sys.executable, "-m", "cbss_batch", "--db", f"sqlite:///{quiet / 'var' / 'cbss.db'}", "init"],
                   cwd=quiet, check=True, capture_output=True)
    reference = _worker(quiet, f"sqlite:///{quiet / 'var' / 'cbss.db'}", "--until-idle", "1")
    reference.communicate(timeout=120)
    assert reference.returncode == 0

    root = workspace("chaos")
    marker = tmp_path / "paused"
    victim = _worker(root, pg_url, "--lease", "3", env={PAUSE_ENV: "set-staged", PAUSE_FILE_ENV: str(marker)})
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline, "the worker never reached the middle of a set"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    assert _rows(pg_url, "select state from file_sets order by id") == [("received",)]
    started = time.monotonic()
    rescuer = _worker(root, pg_url, "--lease", "3", "--until-idle", "8")  # waits out the dead lease
    out, err = rescuer.communicate(timeout=120)
    assert rescuer.returncode == 0, err
    assert time.monotonic() - started < 60
    assert _rows(pg_url, "select state, claim_token from file_sets") == [("accepted", 2)]
    # What an uninterrupted run answers. On PostgreSQL the dead worker's ticket and answer numbers are
    # not given again (counters never go back), so those numbers are left out of the comparison.
    assert _normalised(root) == _normalised(quiet)
    assert _rows(pg_url, "select d.form_index, d.net_owed_computed, d.accepted, d.persons from declarations d "
                         "order by d.form_index") == _quiet_rows(quiet)
    assert _rows(pg_url, "select count(*) from worker_records") == _rows(
        f"sqlite:///{quiet / 'var' / 'cbss.db'}", "select count(*) from worker_records")


def _quiet_rows(root: Path) -> list[tuple[object, ...]]:
    return _rows(f"sqlite:///{root / 'var' / 'cbss.db'}", "select d.form_index, d.net_owed_computed, d.accepted, "
                 "d.persons from declarations d order by d.form_index")


def _normalised(root: Path) -> list[tuple[str, bytes]]:
    """Each answer as (kind, bytes) with declaration tickets and answer sequence numbers blanked."""
    out = []
    for path in sorted((root / "outbox").rglob("*")):
        if path.is_file():
            kind = ".".join(path.name.split(".")[:2])
            body = re.sub(rb"CB\d{16}", b"CB#", path.read_bytes())
            out.append((kind, body))
    return sorted(out)


# One backend by nature: the refusal is SQLite's (one writer).
def test_a_second_worker_on_sqlite_refuses_to_start(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    write_config(root)
    url = f"sqlite:///{root / 'var' / 'cbss.db'}"
    subprocess.run([sys.executable, "-m", "cbss_batch", "--db", url, "init"], cwd=root, check=True,
                   capture_output=True)
    first = _worker(root, url)
    try:
        time.sleep(1.5)
        second = _worker(root, url, "--until-idle", "0")
        _, err = second.communicate(timeout=60)
        assert second.returncode == 1
        assert "another worker already runs on the SQLite database" in err
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert first.returncode == 0
