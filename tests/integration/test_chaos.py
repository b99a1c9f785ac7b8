"""Chaos on PostgreSQL: workers killed at random and the server restarted mid-run change no answer.

Four ``cbss-batch worker`` processes share one PostgreSQL database and one workspace. While work
remains, a seeded random generator picks a worker every 0.5–1.5 s, kills it with SIGKILL and starts
another; once, when part of the sets are done, the PostgreSQL server itself is restarted (the
workers that die on the lost connection are simply started again). When the inbox and the
received sets are gone, workers run ``--until-idle`` to finish what the dead ones left, and the
result is compared with a quiet run of the same inbox (one worker on SQLite): every set in the same
state with the same codes, one ACRF per set and one NOTI per accepted set in the database and in the
outbox, the same answers once tickets are blanked, the same declarations, the same archive.

``--chaos-long`` runs 2 000 sets instead of 300; ``CBSS_CHAOS_SEED`` replays a seed the test printed.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.exc import SQLAlchemyError

from cbss_batch.faults import CRASH_ENV, CRASH_EXIT_CODE
from tests.builders import drop_set, make_dmfa
from tests.conftest import NewDbUrl, write_config
from tests.integration.test_workers import DAY, _rows

SENDERS = [f"{n:06d}" for n in range(6400, 6410)]
WORKERS = 4
LEASE = "3"
TICKET = re.compile(rb"CB\d{16}")


# --- the PostgreSQL server ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cluster:
    version: str
    name: str = "main"

    def ctl(self, action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, action],
                              capture_output=True, text=True, timeout=180)

    def ensure_up(self) -> None:
        """Start the cluster if it is down; wait until it accepts connections."""
        if self.ctl("status").returncode != 0:
            self.ctl("start")
        deadline = time.monotonic() + 60
        while subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode != 0:
            assert time.monotonic() < deadline, f"PostgreSQL {self.version}/{self.name} did not come back up"
            time.sleep(0.2)


def _cluster() -> Cluster:
    """The local cluster behind 127.0.0.1:5432; skip when pg_ctlcluster is not installed."""
    if shutil.which("pg_ctlcluster") is None or shutil.which("pg_isready") is None:
        pytest.skip("pg_ctlcluster/pg_isready not found (postgresql-common): the test restarts the PostgreSQL server")
    versions = sorted((p for p in Path("/etc/postgresql").glob("*") if (p / "main" / "postgresql.conf").is_file()),
                      key=lambda p: [int(x) for x in re.findall(r"\d+", p.name)])
    for path in versions:
        conf = (path / "main" / "postgresql.conf").read_text(encoding="utf-8", errors="replace")
        port = re.search(r"^\s*port\s*=\s*(\d+)", conf, re.MULTILINE)
        if port is None or port.group(1) == "5432":
            return Cluster(path.name)
    pytest.skip("no cluster 'main' listening on port 5432 under /etc/postgresql")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """The PostgreSQL cluster the test may restart; up again after the test, whatever happened."""
    found = _cluster()
    try:
        yield found
    finally:
        found.ensure_up()


# --- the inbox ---------------------------------------------------------------------------------------------


def _fill_inbox(root: Path, sets: int) -> int:
    """``sets`` one-worker DmfA sets over 10 senders, plus refused and partly refused ones; how many sets."""
    write_config(root)
    inbox = root / "inbox"
    for i in range(sets):
        drop_set(inbox, SENDERS[i % 10], make_dmfa(workers=1, quarter="20253", seed=i), day=DAY, seq=i // 10 + 1)
    for k in range(3):  # not XML: refused as a whole
        drop_set(inbox, SENDERS[k], b"this is not an XML document\n", day=DAY, seq=90_001 + k)
    for k, fault in enumerate(("bad_insz", "net_owed_off")):  # accepted sets with a refused declaration
        drop_set(inbox, SENDERS[5 + k], make_dmfa(workers=2, quarter="20253", seed=10_000 + k, faults=(fault,)),
                 day=DAY, seq=80_001)
    (inbox / SENDERS[9] / "INTEST" / "NOTES.txt").write_bytes(b"not a transfer file\n")  # unreadable name
    return sets + 3 + 2 + 1


def _worker(root: Path, url: str, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "cbss_batch", "--db", url, "worker", "--idle", "0.1",
                                 "--lease", LEASE, *args], cwd=root, stdout=out, stderr=subprocess.STDOUT)


def _inbox_files(root: Path) -> list[Path]:
    return [p for p in (root / "inbox").rglob("*") if p.is_file()]


def _progress(url: str) -> Counter[str] | None:
    """Sets per state, None while the database does not answer."""
    try:
        return Counter({str(state): int(str(n)) for state, n in
                        _rows(url, "select state, count(*) from file_sets group by state")})
    except SQLAlchemyError:
        return None


# --- the chaos ---------------------------------------------------------------------------------------------


@dataclass
class Chaos:
    rng: random.Random
    root: Path
    url: str
    logs: Path
    started: int = 0
    kills: int = 0
    deaths: Counter[int] = field(default_factory=Counter)  # exit codes of workers that stopped on their own
    restarted_server_at: float | None = None

    def start(self) -> subprocess.Popen[bytes]:
        self.started += 1
        return _worker(self.root, self.url, self.logs / f"worker-{self.started:04d}.log")


def _run_chaos(chaos: Chaos, cluster: Cluster, total: int, budget: float) -> None:
    rng, began = chaos.rng, time.monotonic()
    restart_after = int(total * rng.uniform(0.2, 0.5))  # finished sets before the server restart
    workers = [chaos.start() for _ in range(WORKERS)]
    next_kill = began + rng.uniform(0.5, 1.5)
    try:
        while True:
            states = _progress(chaos.url)
            if states is not None and states["received"] == 0 and not _inbox_files(chaos.root):
                break
            assert time.monotonic() - began < budget, f"chaos still running after {budget:.0f} s: {states}"
            done = sum(n for state, n in states.items() if state != "received") if states else 0
            if chaos.restarted_server_at is None and done >= restart_after:
                chaos.restarted_server_at = time.monotonic() - began
                result = cluster.ctl("restart")
                assert result.returncode == 0, f"pg_ctlcluster restart failed: {result.stderr}"
            for i, process in enumerate(workers):
                if process.poll() is not None:  # died on its own (database gone): start another
                    chaos.deaths[process.returncode] += 1
                    workers[i] = chaos.start()
            if time.monotonic() >= next_kill:
                i = rng.randrange(WORKERS)
                workers[i].send_signal(signal.SIGKILL)
                workers[i].wait(timeout=30)
                chaos.kills += 1
                workers[i] = chaos.start()
                next_kill = time.monotonic() + rng.uniform(0.5, 1.5)
            time.sleep(0.1)
    finally:
        for process in workers:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)


def _finish(root: Path, url: str, logs: Path) -> None:
    """Workers until idle (longer than a lease) until no set waits and every answer is delivered."""
    for round_ in range(5):
        finishers = [_worker(root, url, logs / f"finish-{round_}-{i}.log", "--until-idle", "5") for i in range(2)]
        for process in finishers:
            process.wait(timeout=600)
        waiting = _rows(url, "select (select count(*) from file_sets where state = 'received'), "
                             "(select count(*) from outbound_messages where state <> 'written')")
        if waiting == [(0, 0)] and not _inbox_files(root):
            return
    pytest.fail(f"work left after the chaos: (received sets, undelivered answers) = {waiting}")


# --- the comparison ----------------------------------------------------------------------------------------


def _sets(url: str) -> dict[tuple[str, str, str], tuple[object, ...]]:
    """(mailbox, folder, name) → (state, result code, error codes); each received set recorded once."""
    rows = _rows(url, "select mailbox, folder, answer_name, state, result_code, error_codes from file_sets")
    found = {(str(r[0]), str(r[1]), str(r[2])): r[3:] for r in rows}
    twice = Counter((r[0], r[1], r[2]) for r in rows) - Counter(found.keys())
    assert not twice, f"sets recorded more than once: {[(k, [r[3:] for r in rows if r[:3] == k]) for k in twice]}"
    return found


def _declarations(url: str) -> dict[tuple[str, str, str], list[tuple[object, ...]]]:
    found: dict[tuple[str, str, str], list[tuple[object, ...]]] = {}
    for r in _rows(url, "select s.mailbox, s.folder, s.answer_name, d.form_index, d.accepted, d.net_owed_computed "
                        "from declarations d join file_sets s on s.id = d.set_id"):
        found.setdefault((str(r[0]), str(r[1]), str(r[2])), []).append((r[3], bool(r[4]), r[5]))
    return {key: sorted(rows, key=repr) for key, rows in found.items()}


def _answers_per_set(url: str) -> Counter[tuple[str, str, int]]:
    """(set state, kind, answers of that kind) → number of sets."""
    rows = _rows(url, "select s.id, s.state, m.kind from file_sets s left join outbound_messages m on m.set_id = s.id")
    per_set: Counter[tuple[int, str, str]] = Counter((int(str(r[0])), str(r[1]), str(r[2])) for r in rows)
    return Counter((state, kind, n) for (_, state, kind), n in per_set.items())


def _outbox(root: Path, url: str) -> list[tuple[str, bytes]]:
    """The delivered answers as (kind, body with tickets blanked), sorted; checks names, GO markers, no .part."""
    files = [p.relative_to(root / "outbox") for p in (root / "outbox").rglob("*") if p.is_file()]
    assert not [p for p in files if p.name.endswith(".part")], "temporary files left in the outbox"
    answers = {p for p in files if not p.name.startswith("GO.")}
    markers = {p for p in files if p.name.startswith("GO.")}
    recorded = {Path(str(r[0]), str(r[1]), str(r[2]))
                for r in _rows(url, "select mailbox, folder, name from outbound_messages")}
    assert answers == recorded, (f"outbox and outbound_messages differ: only in the outbox "
                                 f"{sorted(answers - recorded)[:5]}, only recorded {sorted(recorded - answers)[:5]}")
    assert markers == {p.with_name("GO." + p.name.split(".", 1)[1]) for p in answers}
    return sorted((".".join(p.name.split(".")[:2]), TICKET.sub(b"CB#", (root / "outbox" / p).read_bytes()))
                  for p in answers)


def _same_answers(found: list[tuple[str, bytes]], expected: list[tuple[str, bytes]]) -> None:
    extra, missing = Counter(found) - Counter(expected), Counter(expected) - Counter(found)
    assert not extra and not missing, (f"{sum(extra.values())} answers unlike the quiet run's, e.g. "
                                       f"{list(extra)[:2]}; {sum(missing.values())} of its answers missing, e.g. "
                                       f"{list(missing)[:2]}")


def _archive(root: Path) -> list[str]:
    """The archived contents; a temporary copy a killed worker left (``.incoming-<pid>-…``) is not one."""
    folder = root / "var" / "archive"
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and not p.name.startswith(".incoming-"))


def test_killed_workers_and_a_restarted_server_give_the_answers_of_a_quiet_run(
        tmp_path: Path, pg_url: str, cluster: Cluster, chaos_long: bool) -> None:
    sets = 2000 if chaos_long else 300
    seed = int(os.environ.get("CBSS_CHAOS_SEED") or random.SystemRandom().randrange(2**32))
    print(f"chaos seed {seed} (replay: CBSS_CHAOS_SEED={seed}), {sets} sets")
    logs = tmp_path / "logs"
    logs.mkdir()

    quiet = tmp_path / "quiet"
    total = _fill_inbox(quiet, sets)
    root = tmp_path / "chaos"
    assert _fill_inbox(root, sets) == total
    quiet_url = f"sqlite:///{quiet / 'var' / 'cbss.db'}"
    subprocess.run([sys.executable, "-m", "cbss_batch", "--db", quiet_url, "init"], cwd=quiet, check=True,
                   capture_output=True)
    reference = _worker(quiet, quiet_url, logs / "quiet.log", "--until-idle", "2")

    try:
        chaos = Chaos(random.Random(seed), root, pg_url, logs)
        began = time.monotonic()
        _run_chaos(chaos, cluster, total, budget=3600 if chaos_long else 300)
        chaos_seconds = time.monotonic() - began
        cluster.ensure_up()
        _finish(root, pg_url, logs)
        assert reference.wait(timeout=3600 if chaos_long else 300) == 0, (logs / "quiet.log").read_text()
    finally:
        if reference.poll() is None:
            reference.kill()
            reference.wait()
    print(f"chaos: {chaos_seconds:.1f} s, {chaos.kills} workers killed, {chaos.started} started, server restarted "
          f"at {chaos.restarted_server_at} s, workers that stopped on their own by exit code "
          f"{dict(chaos.deaths)}; finished after {time.monotonic() - began:.1f} s")
    assert chaos.restarted_server_at is not None
    assert chaos.kills >= 3

    expected = _sets(quiet_url)
    assert len(expected) == total
    assert _rows(pg_url, "select count(*) from file_sets") == [(total,)]
    assert {state for state, *_ in expected.values()} == {"accepted", "rejected"}
    assert _sets(pg_url) == expected
    answers = _answers_per_set(pg_url)
    assert answers == _answers_per_set(quiet_url)
    accepted = sum(1 for state, *_ in expected.values() if state == "accepted")
    assert answers == {("accepted", "ACRF", 1): accepted, ("accepted", "NOTI", 1): accepted,
                       ("rejected", "ACRF", 1): total - accepted}
    assert _rows(pg_url, "select count(*) from outbound_messages where state <> 'written'") == [(0,)]
    _same_answers(_outbox(root, pg_url), _outbox(quiet, quiet_url))
    assert _declarations(pg_url) == _declarations(quiet_url)
    assert _archive(root) == _archive(quiet)
    leftovers = [p.name for folder in ("var/archive", "var/work") for p in (root / folder).rglob("*")
                 if p.name.startswith(".incoming-") or p.name.endswith(".part")]
    print(f"temporary files left by killed workers outside the outbox: {leftovers}")
    tracebacks = [p.name for p in sorted(logs.glob("*.log")) if "Traceback" in p.read_text(errors="replace")]
    assert not tracebacks, f"tracebacks in the worker logs: {tracebacks}"


def test_a_worker_killed_between_removing_a_sets_inbox_files_leaves_no_second_set(tmp_path: Path,
                                                                                  new_db_url: NewDbUrl) -> None:
    """Found by the chaos test: the GO left alone in the inbox became a second set, refused with ACRF-120."""
    root = tmp_path / "ws"
    write_config(root)
    url = new_db_url(root)
    subprocess.run([sys.executable, "-m", "cbss_batch", "--db", url, "init"], cwd=root, check=True, capture_output=True)
    fi, go = drop_set(root / "inbox", "006400", make_dmfa(workers=1, quarter="20253", seed=1), day=DAY)
    crashed = subprocess.run([sys.executable, "-m", "cbss_batch", "--db", url, "worker", "--until-idle", "0"],
                             cwd=root, env={**os.environ, CRASH_ENV: "after-record"}, capture_output=True)
    assert crashed.returncode == CRASH_EXIT_CODE
    fi.unlink()  # the FI removed, the worker killed before it removed the GO
    worker = _worker(root, url, tmp_path / "worker.log", "--until-idle", "1")
    assert worker.wait(timeout=120) == 0, (tmp_path / "worker.log").read_text()
    assert not go.exists()
    assert _rows(url, "select state, inbox_cleared from file_sets") == [("accepted", 1)]
    assert _answers_per_set(url) == {("accepted", "ACRF", 1): 1, ("accepted", "NOTI", 1): 1}
