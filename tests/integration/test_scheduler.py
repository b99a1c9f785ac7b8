"""`cbss-batch scheduler`: real processes on real databases — one leader, takeover, late runs, clean stops."""

from __future__ import annotations

import fcntl
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from cbss_batch import jobs
from cbss_batch.config import load_settings
from cbss_batch.scheduler import crontab_weekdays, plan_jobs, sync_jobs
from tests.builders import drop_set, make_dmfa
from tests.conftest import TODAY, Workspace, write_config

CYCLE_EVERY_SECOND = """
[scheduler]
lease_seconds = {lease}
[[scheduler.jobs]]
name = "mailboxes"
kind = "cycle"
every_seconds = {every}
"""


class Scheduler:
    """One `cbss-batch scheduler` process with its log in a file."""

    def __init__(self, ws: Workspace, log: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CBSS_")}
        self.log = log
        with log.open("wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "cbss_batch", "--db", ws.db_url, "scheduler"],
                                         cwd=ws.root, env=env, stdout=subprocess.DEVNULL, stderr=err)
        self.pid = self.proc.pid

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def wait_for(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        """The first match of ``pattern`` in the log, once it is there."""
        match: re.Match[str] | None = None

        def seen() -> bool:
            nonlocal match
            match = re.search(pattern, self.text())
            return match is not None

        wait_until(seen, timeout, f"{pattern!r} in the log of pid {self.pid}", self)
        assert match is not None
        return match

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)


def wait_until(condition: Callable[[], bool], timeout: float, what: str, *procs: Scheduler) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- pid {p.pid} (exit {p.proc.poll()}):\n{p.text()}" for p in procs)
            pytest.fail(f"timed out after {timeout} s waiting for {what}\n{logs}")
        time.sleep(0.1)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[[Workspace], Scheduler]]:
    """Start schedulers; any still running at the end is killed."""
    started: list[Scheduler] = []

    def start_one(ws: Workspace) -> Scheduler:
        started.append(Scheduler(ws, tmp_path / f"scheduler-{len(started) + 1}.log"))
        return started[-1]

    yield start_one
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait(10)


# The leader and standby tests below are PostgreSQL's advisory lock (SQLite's lock file: further down).
@pytest.fixture
def pg_workspace(tmp_path: Path, pg_url: str) -> Workspace:
    """An initialised workspace on a fresh PostgreSQL database."""
    root = tmp_path / "pgws"
    write_config(root)
    ws = Workspace(root, pg_url)
    assert ws.cli("init").exit_code == 0
    return ws


def configure(ws: Workspace, extra: str) -> None:
    write_config(ws.root, extra)


def job_runs(url: str) -> list[Any]:
    """Runs started by scheduled jobs, oldest first."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT pid, job, status FROM runs WHERE job IS NOT NULL ORDER BY id")))
    finally:
        engine.dispose()


def runs_by(url: str, pid: int) -> list[Any]:
    return [r for r in job_runs(url) if r.pid == pid]


def test_one_scheduler_runs_the_jobs_and_a_standby_takes_over_when_it_dies(
        pg_workspace: Workspace, start: Callable[[Workspace], Scheduler]) -> None:
    lease = 3
    configure(pg_workspace, CYCLE_EVERY_SECOND.format(lease=lease, every=1))
    first, second = start(pg_workspace), start(pg_workspace)
    procs = (first, second)
    wait_until(lambda: sum("now active on this database" in p.text() for p in procs) == 1
               and sum("another scheduler is active on this database; standing by" in p.text() for p in procs) == 1,
               20, "one active scheduler and one standing by", *procs)
    leader, standby = (first, second) if "now active" in first.text() else (second, first)
    wait_until(lambda: len(job_runs(pg_workspace.db_url)) >= 3, 20, "three scheduled runs", *procs)
    assert {r.pid for r in job_runs(pg_workspace.db_url)} == {leader.pid}
    assert "job mailboxes started" not in standby.text()

    leader.stop(signal.SIGKILL)
    killed_at = time.monotonic()
    wait_until(lambda: any(r.status == "ok" for r in runs_by(pg_workspace.db_url, standby.pid)), 20,
               "a run by the standby", standby)
    assert time.monotonic() - killed_at < lease + 3  # the lock went with the connection: no lease to expire
    assert "now active on this database" in standby.text()
    assert {r.pid for r in job_runs(pg_workspace.db_url)} == {leader.pid, standby.pid}
    assert standby.stop() == 0


def test_leader_that_loses_its_lock_connection_stops_leading(pg_workspace: Workspace,
                                                              start: Callable[[Workspace], Scheduler]) -> None:
    configure(pg_workspace, CYCLE_EVERY_SECOND.format(lease=3, every=1))
    scheduler = start(pg_workspace)
    scheduler.wait_for("this scheduler is now active on this database")
    engine = create_engine(pg_workspace.db_url, poolclass=NullPool)
    with engine.begin() as conn:  # the database drops the leader's lock connection (restart, network, admin)
        assert conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                                 "AND granted AND database = (SELECT oid FROM pg_database "
                                 "WHERE datname = current_database())")).scalars().all() == [True]
    engine.dispose()
    scheduler.wait_for(r"lost the scheduler lock \(advisory lock -?\d+ in database \w+\); no new jobs start here")
    wait_until(lambda: scheduler.text().count("this scheduler is now active on this database") == 2, 20,
               "the lock taken again", scheduler)
    runs_before = len(job_runs(pg_workspace.db_url))
    wait_until(lambda: len(job_runs(pg_workspace.db_url)) > runs_before, 20, "runs after taking the lock again",
               scheduler)
    assert scheduler.stop() == 0


def _backdate_stored_job(url: str, job_id: str, next_run: datetime) -> None:
    """Pretend the scheduler has been down: move the stored job's next run time into the past."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            state = pickle.loads(conn.execute(text("SELECT job_state FROM apscheduler_jobs WHERE id = :id"),
                                              {"id": job_id}).scalar_one())
            state["next_run_time"] = next_run
            conn.execute(text("UPDATE apscheduler_jobs SET job_state = :state, next_run_time = :at WHERE id = :id"),
                         {"state": pickle.dumps(state), "at": next_run.timestamp(), "id": job_id})
    finally:
        engine.dispose()


def _stored_next_run(url: str, job_id: str) -> float:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return float(conn.execute(text("SELECT next_run_time FROM apscheduler_jobs WHERE id = :id"),
                                      {"id": job_id}).scalar_one())
    finally:
        engine.dispose()


def test_runs_missed_while_down_are_executed_late_once(workspace: Workspace,
                                                       start: Callable[[Workspace], Scheduler]) -> None:
    configure(workspace, CYCLE_EVERY_SECOND.format(lease=3, every=3600))
    first = start(workspace)
    first.wait_for(r"scheduled job mailboxes \(cycle, every 3600 s\): next run")
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    # Down for two hours and a minute: the runs due 2 h 1 min, 1 h 1 min and 1 min ago were missed.
    _backdate_stored_job(workspace.db_url, "mailboxes", datetime.now(UTC) - timedelta(hours=2, minutes=1))

    second = start(workspace)
    second.wait_for(r"job mailboxes: 3 run\(s\) missed since .* while no scheduler was active; it runs once now")
    late = second.wait_for(r"job mailboxes ran (\d+) s late \(scheduled ")
    assert 55 <= int(late.group(1)) <= 120  # coalesced into the latest missed run, not the oldest
    wait_until(lambda: len(runs_by(workspace.db_url, second.pid)) == 1, 20, "the late run", second)
    time.sleep(2)  # a second late run would start at once; give it the chance
    assert [(r.job, r.status) for r in runs_by(workspace.db_url, second.pid)] == [("mailboxes", "ok")]
    assert len(re.findall(r"job mailboxes ran \d+ s late", second.text())) == 1
    assert _stored_next_run(workspace.db_url, "mailboxes") > time.time() + 3000  # back on the hourly schedule
    assert second.stop() == 0


def test_sigterm_lets_the_running_job_finish_and_exits_0(workspace: Workspace,
                                                         start: Callable[[Workspace], Scheduler]) -> None:
    configure(workspace, CYCLE_EVERY_SECOND.format(lease=3, every=1))
    lock_path = workspace.root / "var" / "work" / "run.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a manual `cbss-batch run` in progress: the job waits for it
        scheduler = start(workspace)
        scheduler.wait_for(r"job mailboxes started")
        scheduler.proc.send_signal(signal.SIGTERM)
        scheduler.wait_for(r"stopping: no new jobs start; waiting for the job in progress")
        time.sleep(1)
        assert scheduler.proc.poll() is None  # still waiting for its job
        assert job_runs(workspace.db_url) == []
    assert scheduler.proc.wait(30) == 0
    assert [(r.pid, r.status) for r in job_runs(workspace.db_url)] == [(scheduler.pid, "ok")]
    assert "scheduler stopped" in scheduler.text()


@pytest.mark.backend("sqlite", reason="the lock file SQLite's leadership uses; PostgreSQL's: "
                                     "test_one_scheduler_runs_the_jobs_and_a_standby_takes_over_when_it_dies")
def test_second_scheduler_on_sqlite_stands_by_until_the_first_stops(
        workspace: Workspace, start: Callable[[Workspace], Scheduler]) -> None:
    configure(workspace, CYCLE_EVERY_SECOND.format(lease=2, every=1))
    first = start(workspace)
    first.wait_for("this scheduler is now active on this database")
    second = start(workspace)
    second.wait_for("another scheduler is active on this database; standing by")
    wait_until(lambda: len(job_runs(workspace.db_url)) >= 2, 20, "two scheduled runs", first, second)
    assert {r.pid for r in job_runs(workspace.db_url)} == {first.pid}
    assert "now active" not in second.text()

    assert first.stop() == 0
    second.wait_for("this scheduler is now active on this database")
    wait_until(lambda: len(runs_by(workspace.db_url, second.pid)) >= 1, 20, "a run by the second", second)
    assert second.stop() == 0


def test_a_failing_job_is_logged_and_the_scheduler_carries_on(workspace: Workspace,
                                                               start: Callable[[Workspace], Scheduler]) -> None:
    configure(workspace, CYCLE_EVERY_SECOND.format(lease=3, every=1))
    (workspace.root / "var" / "work" / "run.lock").mkdir(parents=True)  # the cycle cannot take its lock
    scheduler = start(workspace)
    wait_until(lambda: len(re.findall(r"job mailboxes \(scheduled [^)]*\) failed: IsADirectoryError",
                                      scheduler.text())) >= 2, 20, "two failed runs", scheduler)
    assert scheduler.proc.poll() is None
    assert "Traceback" not in scheduler.text()
    assert scheduler.stop() == 0


@pytest.mark.parametrize(("jobs_toml", "message"), [
    ('[[scheduler.jobs]]\nname = "mailboxes"\nkind = "cycle"\ncron = "61 * * * *"\n',
     "scheduler job 'mailboxes': cron '61 * * * *' is not valid"),
    ('[[scheduler.jobs]]\nname = "weekly"\nkind = "housekeeping"\ncron = "0 3 * * 8"\n',
     "cron '0 3 * * 8' is not valid"),
    ("", "no jobs to schedule; add [[scheduler.jobs]]"),
], ids=["minute-out-of-range", "weekday-out-of-range", "no-jobs"])
def test_bad_schedule_exits_1_with_an_error_line(workspace: Workspace, jobs_toml: str, message: str) -> None:
    configure(workspace, f"[scheduler]\n{jobs_toml}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CBSS_")}
    result = subprocess.run([sys.executable, "-m", "cbss_batch", "--db", workspace.db_url, "scheduler"],
                            cwd=workspace.root, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ")
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(("field", "expected"), [
    ("*", "*"),
    ("1-5", "mon,tue,wed,thu,fri"),
    ("0", "sun"),
    ("7", "sun"),
    ("5-7", "sun,fri,sat"),
    ("*/2", "sun,tue,thu,sat"),
    ("1,3", "mon,wed"),
    ("mon-fri", "mon-fri"),
    ("sat,0", "sun,sat"),
], ids=["any", "weekdays", "zero-is-sunday", "seven-is-sunday", "to-sunday", "step", "list", "names", "mixed"])
def test_crontab_weekday_numbers_start_on_sunday(field: str, expected: str) -> None:
    assert crontab_weekdays(field) == expected


@contextmanager
def _paused_scheduler(url: str) -> Iterator[Any]:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    from cbss_batch.store.session import make_engine

    engine = make_engine(url)
    scheduler = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(engine=engine)})
    scheduler.start(paused=True)
    try:
        yield scheduler
    finally:
        scheduler.shutdown()
        engine.dispose()  # no connection left open for the garbage collector to find


def test_restart_keeps_unchanged_jobs_and_replaces_changed_ones(workspace: Workspace,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workspace.root)
    options = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}
    jobs_toml = ('[scheduler]\n[[scheduler.jobs]]\nname = "a"\nkind = "cycle"\nevery_seconds = {every}\n'
                 '[[scheduler.jobs]]\nname = "{second}"\nkind = "housekeeping"\ncron = "30 3 * * *"\n')
    configure(workspace, jobs_toml.format(every=600, second="b"))
    settings = load_settings(None, {"CBSS_DB_URL": workspace.db_url})
    with _paused_scheduler(workspace.db_url) as scheduler:
        sync_jobs(scheduler, plan_jobs(settings, None), options)
        first_a = scheduler.get_job("a").next_run_time

    time.sleep(1.1)  # an interval trigger made now would start later
    with _paused_scheduler(workspace.db_url) as scheduler:
        sync_jobs(scheduler, plan_jobs(settings, None), options)
        assert scheduler.get_job("a").next_run_time == first_a  # unchanged: the stored schedule is kept

    configure(workspace, jobs_toml.format(every=900, second="c"))
    settings = load_settings(None, {"CBSS_DB_URL": workspace.db_url})
    with _paused_scheduler(workspace.db_url) as scheduler:
        sync_jobs(scheduler, plan_jobs(settings, None), {**options, "misfire_grace_time": 120})
        assert scheduler.get_job("a").next_run_time > first_a  # changed interval: a new schedule
        assert str(scheduler.get_job("a").trigger) == "interval[0:15:00]"
        assert sorted(j.id for j in scheduler.get_jobs()) == ["a", "c"]  # b is no longer configured
        assert scheduler.get_job("c").misfire_grace_time == 120
        assert scheduler.get_job("c").args == (str(settings.config_path), None, "c")


def test_housekeeping_removes_old_delivered_bodies_and_stale_partials_only(
        workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(workspace, '[scheduler]\nhousekeeping_days = 30\n'
                         '[[scheduler.jobs]]\nname = "tidy"\nkind = "housekeeping"\ncron = "30 3 * * *"\n')
    drop_set(workspace.inbox, "006400", make_dmfa(workers=2, quarter="20253"), day=TODAY.replace(day=20))
    assert workspace.cli("run").exit_code == 0
    engine = create_engine(workspace.db_url, poolclass=NullPool)
    with engine.begin() as conn:
        bodies = dict(conn.execute(text("SELECT kind, body_path FROM outbound_messages")).all())
        conn.execute(text("UPDATE outbound_messages SET written_at = :old WHERE kind = 'ACRF'"),
                     {"old": datetime(2026, 10, 1, 12)})
        pending_body = workspace.root / "var" / "work" / "006400" / "OUTTEST" / "FO.ACRF.999999.20261001.00099.T"
        pending_body.write_bytes(b"<pending/>")
        conn.execute(text(
            "INSERT INTO outbound_messages (mailbox, folder, kind, name, body_path, sha256, size, state, created_at, "
            "push_failures) VALUES ('006400', 'OUTTEST', 'ACRF', :name, :path, :sha, 10, 'pending', :old, 0)"),
            {"name": pending_body.name, "path": str(pending_body), "sha": "0" * 64, "old": datetime(2026, 9, 1)})
        archived = [Path(p) for (p,) in conn.execute(text("SELECT archive_path FROM received_files"))]
    engine.dispose()
    folder = workspace.inbox / "006400" / "IN"
    folder.mkdir(parents=True)
    stale, hidden_stale, fresh, old_file = (folder / "FI.DMFA.006400.20261120.00002.R.1.1.part",
                                            folder / ".FI.DMFA.006400.20261120.00003.R.1.1.part",
                                            folder / "FI.DMFA.006400.20261128.00004.R.1.1.part",
                                            folder / "GO.DMFA.006400.20261120.00005.R.1")
    archive, work = workspace.root / "var" / "archive", workspace.root / "var" / "work"
    dead_copy, fresh_copy = archive / ".incoming-4242-FI.DMFA.x", archive / ".incoming-4243-FI.DMFA.y"
    dead_body = work / "006400" / "OUTTEST" / "FO.NOTI.999999.20261001.00098.T.part"
    dead_delivery = workspace.out() / "FO.NOTI.999999.20261001.00097.T.4242.part"
    two_days_ago = time.time() - 2 * 86400
    for path in (stale, hidden_stale, fresh, old_file, dead_copy, fresh_copy, dead_body, dead_delivery):
        path.write_bytes(b"x")
        if path not in (fresh, fresh_copy):
            os.utime(path, (two_days_ago, two_days_ago))

    monkeypatch.chdir(workspace.root)
    for name in [k for k in os.environ if k.startswith("CBSS_")]:
        monkeypatch.delenv(name)
    jobs.run_job(str(workspace.root / "config" / "cbss.toml"), workspace.db_url, "tidy")

    assert not Path(bodies["ACRF"]).exists()  # delivered 58 days before the processing date
    assert Path(bodies["NOTI"]).exists()  # delivered today
    assert pending_body.exists()  # not delivered yet
    assert archived and all(p.is_file() for p in archived)
    assert sorted(p.name for p in folder.iterdir()) == sorted([fresh.name, old_file.name])
    # temporary copies a killed process left: removed when a day old, the archive itself untouched
    assert not dead_copy.exists() and not dead_body.exists() and not dead_delivery.exists()
    assert fresh_copy.exists()
    assert workspace.answers() == [  # the outbox copies stay
        "FO.ACRF.999999.20261128.00001.T", "FO.NOTI.999999.20261128.00002.T",
        "GO.ACRF.999999.20261128.00001.T", "GO.NOTI.999999.20261128.00002.T"]
