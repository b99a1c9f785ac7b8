"""One active scheduler per database: whoever holds the scheduler lock runs the jobs, the others stand by.

PostgreSQL: a session-level advisory lock on a dedicated connection; the server releases it when that
connection ends (the process died, or the network went away). SQLite: an exclusive ``flock`` on a file
beside the database; the kernel releases it when the process dies. The leader checks its lock every few
seconds and stops leading when it is gone; a standby tries again at the same pace.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from cbss_batch.errors import ConfigError

log = logging.getLogger(__name__)

# pg_try_advisory_lock takes a signed 64-bit key: the first 8 bytes of a fixed name's SHA-256.
LOCK_NAME = "cbss-batch scheduler"
ADVISORY_KEY = int.from_bytes(hashlib.sha256(LOCK_NAME.encode()).digest()[:8], "big", signed=True)


class SchedulerLock(Protocol):
    """The right to run the scheduled jobs of one database."""

    where: str  # what holds the lock, for log lines

    def acquire(self) -> bool:
        """True when this process now holds the lock (or already held it)."""
        ...

    def is_held(self) -> bool:
        """False once the lock is lost; then ``acquire`` may be tried again."""
        ...

    def release(self) -> None:
        """Give the lock up; safe to repeat."""
        ...


def scheduler_lock(engine: Engine, lease_seconds: int) -> SchedulerLock:
    """The scheduler lock of the database behind ``engine``."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine, lease_seconds)
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            raise ConfigError("the scheduler needs a database file or PostgreSQL, not an in-memory SQLite "
                              "database; set [database].url or CBSS_DB_URL")
        return FileLock(Path(database).with_name(Path(database).name + ".scheduler.lock"))
    raise ConfigError(f"the scheduler supports PostgreSQL and SQLite, not {engine.dialect.name}; "
                      "set [database].url or CBSS_DB_URL")


def named_lock(engine: Engine, name: str, lease_seconds: int) -> SchedulerLock:
    """Another database-wide lock of the same kind, for ``name`` (e.g. the workers' intake)."""
    if engine.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"cbss-batch {name}".encode()).digest()[:8], "big", signed=True)
        return AdvisoryLock(engine, lease_seconds, key=key)
    database = engine.url.database or "cbss"
    return FileLock(Path(database).with_name(Path(database).name + "." + name.replace(" ", "-") + ".lock"))


def holder_description() -> str:
    """This process as the log lines name it."""
    return f"pid {os.getpid()} on {socket.gethostname()}"


class FileLock:
    """An exclusive ``flock`` on ``<database>.scheduler.lock`` (SQLite)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        self._handle: IO[str] | None = None

    def acquire(self) -> bool:
        if self._handle is not None:
            return True
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{holder_description()}\n")  # for an operator who wonders who holds it
        handle.flush()
        self._handle = handle
        return True

    def is_held(self) -> bool:
        if self._handle is None:
            return False
        try:
            # A lock file removed or replaced by hand no longer excludes anyone: treat it as lost.
            held = os.fstat(self._handle.fileno()).st_ino == self.path.stat().st_ino
        except OSError:
            held = False
        if not held:
            self.release()
        return held

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the descriptor releases the flock
            self._handle = None


class AdvisoryLock:
    """A session-level ``pg_try_advisory_lock`` held on a connection of its own (PostgreSQL)."""

    def __init__(self, engine: Engine, lease_seconds: int, key: int = ADVISORY_KEY) -> None:
        self.key = key
        self.where = f"advisory lock {key} in database {engine.url.database}"
        connect_args: dict[str, object] = {}
        if engine.dialect.driver in ("psycopg", "psycopg2"):
            # libpq keepalives: a dead network is noticed within about one lease, not hours later.
            connect_args = {"connect_timeout": max(2, lease_seconds), "keepalives": 1,
                            "keepalives_idle": max(1, lease_seconds // 3), "keepalives_interval": 1,
                            "keepalives_count": 3}
        self._engine = create_engine(engine.url, poolclass=NullPool, connect_args=connect_args)
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        if self._conn is not None and self.is_held():
            return True
        try:
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError as exc:
            log.warning("cannot reach the database for the scheduler lock: %s", _first_line(exc))
            return False
        try:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar())
        except SQLAlchemyError as exc:
            log.warning("cannot take the scheduler lock: %s", _first_line(exc))
            got = False
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def is_held(self) -> bool:
        if self._conn is None:
            return False
        try:
            held = bool(self._conn.execute(text(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = pg_backend_pid())")).scalar())
        except SQLAlchemyError as exc:
            log.warning("the scheduler lock connection failed: %s", _first_line(exc))
            held = False
        if not held:
            self._drop()
        return held

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
        except SQLAlchemyError:
            log.debug("unlock failed; closing the connection releases the lock", exc_info=True)
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except SQLAlchemyError:
                log.debug("closing the lock connection failed", exc_info=True)


def _first_line(exc: BaseException) -> str:
    text_ = str(exc)
    return text_.splitlines()[0] if text_ else exc.__class__.__name__
