"""Workers: claim received sets from the database, process them, deliver their answers; several per database.

Each worker loops: the one that holds the intake lock takes the ready sets of the inbox (archive,
record — they become claimable) and delivers answers a crashed worker left behind; then every worker
claims the oldest received set nobody holds (``SELECT … FOR UPDATE SKIP LOCKED``), processes it with a
heartbeat extending its lease, and commits its effects together with the set's completion and its
answers (transactional outbox) only if its claim still holds (fencing token). A worker that dies
leaves its set claimed until the lease runs out; then another worker takes it over and processes it
from the archive, with the same result. ``--concurrency N`` runs N such loops in N processes.

On PostgreSQL any number of workers on any number of hosts may share the database (the inbox,
archive, work and outbox folders are then shared folders). On SQLite one worker at a time: a second
one refuses to start.
"""

from __future__ import annotations

import fcntl
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import IO

from sqlalchemy import Engine

from cbss_batch import pipeline
from cbss_batch.config import Settings
from cbss_batch.errors import BatchError
from cbss_batch.faults import crash_point
from cbss_batch.intake import scan_inbox
from cbss_batch.leadership import named_lock
from cbss_batch.store import claims
from cbss_batch.store.session import STORE_ERRORS, open_database

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerOptions:
    lease_seconds: float = 60.0
    idle_seconds: float = 2.0  # pause when there is nothing to do
    until_idle: float | None = None  # stop after this long without work (tests, benchmarks, batch runs)


@dataclass(slots=True)
class WorkerReport:
    sets: int = 0
    chunks: int = 0
    lost: int = 0


class WorkerBusy(BatchError):
    """SQLite allows one worker at a time."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_owner_prefix() -> str:
    """What the claims of ``cbss-batch run`` on this host start with."""
    return f"run {socket.gethostname()}:"


def run_workers(settings: Settings, options: WorkerOptions, concurrency: int) -> WorkerReport:
    """Run ``concurrency`` worker loops (processes) until SIGTERM/SIGINT, or until idle if asked."""
    engine = open_database(settings.database_url)
    guard = _sqlite_guard(engine)
    engine.dispose()
    try:
        if concurrency == 1:
            return _serve(settings, options)
        return _serve_many(settings, options, concurrency)
    finally:
        if guard is not None:
            guard.close()


def _sqlite_guard(engine: Engine) -> IO[str] | None:
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database or ""
    path = Path(database).with_name(Path(database).name + ".worker.lock")
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise WorkerBusy(f"another worker already runs on the SQLite database {database} (lock {path}); SQLite "
                         "allows one worker at a time: use PostgreSQL for several") from None
    return handle


def _serve_many(settings: Settings, options: WorkerOptions, concurrency: int) -> WorkerReport:
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_child, args=(settings, options), name=f"cbss-worker-{i}")
                 for i in range(concurrency)]
    for process in processes:
        process.start()

    def forward(signum: int, frame: FrameType | None) -> None:
        for process in processes:
            if process.pid is not None:
                os.kill(process.pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for process in processes:
            process.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    failed = [p.name for p in processes if p.exitcode not in (0, None)]
    if failed:
        raise BatchError(f"worker processes {', '.join(failed)} stopped with an error; see the log")
    return WorkerReport()


def _child(settings: Settings, options: WorkerOptions) -> None:
    from cbss_batch.logging_setup import configure_logging

    configure_logging(0)
    _serve(settings, options)


def _serve(settings: Settings, options: WorkerOptions) -> WorkerReport:
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    engine = open_database(settings.database_url)
    intake = named_lock(engine, "worker intake", int(options.lease_seconds))
    report = WorkerReport()
    owner = worker_name()
    clock = pipeline.Clock(settings.today)
    idle_since = time.monotonic()
    log.info("worker %s started (lease %.0f s)", owner, options.lease_seconds)
    try:
        while not stop.is_set():
            did = False
            if intake.acquire():
                try:
                    did = _take_inbox(settings, engine, clock) or did
                    pipeline.deliver_pending(settings, engine, clock)
                finally:
                    intake.release()
            if process_next(settings, engine, clock, owner, options.lease_seconds, report):
                did = True
            if did:
                idle_since = time.monotonic()
            elif options.until_idle is not None and time.monotonic() - idle_since >= options.until_idle:
                break
            else:
                stop.wait(options.idle_seconds)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        intake.release()
        engine.dispose()
    log.info("worker %s stopped: %d sets and %d chunks processed, %d lost to another worker", owner, report.sets,
             report.chunks, report.lost)
    return report


INTAKE_BATCH = 2  # sets taken from the inbox per pass: the others need not wait for a long intake


def _take_inbox(settings: Settings, engine: Engine, clock: pipeline.Clock) -> bool:
    """Archive and record a few ready sets of the inbox (they become claimable); True if there were any."""
    taken = 0
    go_timeout = timedelta(hours=settings.intake.go_timeout_hours)
    # As `run` does: a worker that died while removing a recorded set's inbox files may have left the GO
    # alone; scanned as it is, it would become a second set, refused with ACRF-120.
    pipeline._clear_leftovers(settings, engine)
    for candidate in scan_inbox(settings.inbox, now=datetime.now(), go_timeout=go_timeout):
        try:
            pipeline.receive(settings, engine, clock, candidate, None)
        except FileNotFoundError:
            continue  # changed while being read: the next pass takes it
        taken += 1
        if taken >= INTAKE_BATCH:
            break
    return taken > 0


def process_next(settings: Settings, engine: Engine, clock: pipeline.Clock, owner: str, lease_seconds: float,
                 report: WorkerReport) -> bool:
    """Process a free chunk of a large set, else claim the oldest free received set; False when nothing was free."""
    with engine.begin() as conn:
        chunk = claims.claim_chunk(conn, owner, lease_seconds)
    if chunk is not None:
        if _process_chunk(settings, engine, clock, chunk, lease_seconds):
            report.chunks += 1
        else:
            report.lost += 1
        return True
    with engine.begin() as conn:
        claim = claims.claim_next(conn, owner, lease_seconds)
    if claim is None:
        return False
    try:
        if _process_claim(settings, engine, clock, claim, lease_seconds, cut=True) is not None:
            report.sets += 1
        else:
            report.lost += 1
    finally:
        pipeline.deliver_pending(settings, engine, clock, set_id=claim.set_id)
    return True


def process_claimed(settings: Settings, engine: Engine, clock: pipeline.Clock, owner: str, lease_seconds: float,
                    set_id: int, stale_owners: str | None = None) -> pipeline.SetOutcome | None:
    """Claim set ``set_id`` and process it; None when another worker holds it (or took it over)."""
    with engine.begin() as conn:
        claim = claims.claim_next(conn, owner, lease_seconds, set_id=set_id, stale_owners=stale_owners)
    if claim is None:
        log.info("set %d is being processed by another worker; left to it", set_id)
        return None
    return _process_claim(settings, engine, clock, claim, lease_seconds)


def process_free_chunks(settings: Settings, engine: Engine, clock: pipeline.Clock, owner: str,
                        lease_seconds: float) -> int:
    """Process every chunk nobody holds (``run`` finishes what workers cut and left); the number processed."""
    done = 0
    while True:
        with engine.begin() as conn:
            chunk = claims.claim_chunk(conn, owner, lease_seconds)
        if chunk is None:
            return done
        done += _process_chunk(settings, engine, clock, chunk, lease_seconds)


def _process_chunk(settings: Settings, engine: Engine, clock: pipeline.Clock, claim: claims.ChunkClaim,
                   lease_seconds: float) -> bool:
    """Process a claimed chunk under a heartbeat; False when the chunk was taken over meanwhile."""
    from cbss_batch.chunking.work import process_chunk

    heartbeat = _Heartbeat(engine, claim, lease_seconds)
    heartbeat.start()
    try:
        process_chunk(settings, engine, clock.today(), clock.now(), claim)
        return True
    except claims.LeaseLost as exc:
        log.warning("%s", exc)
        return False
    except STORE_ERRORS:
        with engine.begin() as conn:
            claims.release(conn, claim)
        raise
    finally:
        heartbeat.stop()


def _process_claim(settings: Settings, engine: Engine, clock: pipeline.Clock, claim: claims.Claim,
                   lease_seconds: float, *, cut: bool = False) -> pipeline.SetOutcome | None:
    crash_point("after-claim")  # claimed, nothing done: the claim must run out or be taken over
    heartbeat = _Heartbeat(engine, claim, lease_seconds)
    heartbeat.start()
    try:
        with claims.holding(claim):
            outcome = pipeline.process_set(settings, engine, clock, claim.set_id, cut=cut)
        crash_point("after-commit")  # the set's effects and answers committed, nothing delivered
        return outcome
    except claims.LeaseLost as exc:
        log.warning("%s", exc)
        return None
    except STORE_ERRORS:
        with engine.begin() as conn:
            claims.release(conn, claim)
        raise
    finally:
        heartbeat.stop()


class _Heartbeat(threading.Thread):
    """Extends the lease of a claim every third of the lease while the set is processed."""

    def __init__(self, engine: Engine, claim: claims.Claim | claims.ChunkClaim, lease_seconds: float) -> None:
        super().__init__(name=f"lease-{claim.set_id}", daemon=True)
        self._engine, self._claim, self._lease = engine, claim, lease_seconds
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self._lease / 3):
            try:
                with self._engine.begin() as conn:
                    if not claims.extend(conn, self._claim, self._lease):
                        return  # finished, or taken over: the fence decides at commit
            except STORE_ERRORS as exc:
                log.warning("lease of set %d not extended: %s", self._claim.set_id, exc)

    def stop(self) -> None:
        self._stopped.set()
        self.join()
