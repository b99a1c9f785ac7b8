"""Engine creation and migrations (Alembic ``upgrade head``); the schema never comes from create_all."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from cbss_batch.errors import DatabaseError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

STORE_ERRORS = (SQLAlchemyError,)  # what the command line reports as a database failure

SCRIPT_LOCATION = "cbss_batch.store:migrations"
# Page cache per SQLite connection: with the default 2 MiB, staging a large set took ~10 % longer;
# 16 MiB gained nothing more.
SQLITE_CACHE_KIB = 8192
# The newest migration of this version; a test keeps it equal to Alembic's head. Checking it needs no
# Alembic import, which keeps every command but init/db quick to start.
SCHEMA_HEAD = "20261129_13"


def make_engine(url: str) -> Engine:
    """An engine for the URL; SQLite gets WAL, a busy timeout and its folder created (owner-only)."""
    if url.startswith("sqlite:///") and ":memory:" not in url:
        path = Path(url[len("sqlite:///"):])
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not path.exists():
                path.touch(mode=0o600)  # personal data: readable by the service account only
        except OSError as exc:
            raise DatabaseError(f"cannot create the SQLite database {path}: {exc.strerror or exc}; make its folder "
                                "writable by this account, or set [database].url or CBSS_DB_URL") from exc
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    # The driver's own transaction handling is switched off: SQLAlchemy emits BEGIN itself so that
    # every transaction takes the write lock at once (BEGIN IMMEDIATE) and never deadlocks on upgrade.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # 8 KiB pages for a new database (no effect on an existing one): staging a large set ~2 % faster than 4 KiB.
    cursor.execute("PRAGMA page_size=8192")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # An 8 MiB page cache (the default is 2 MiB): staging a large set changes the last pages of some fifteen
    # tables and indexes at once, and a smaller cache writes the same pages to the WAL again and again.
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at our migrations and the given database."""
    from alembic.config import Config  # Alembic is loaded only by the commands that migrate or check

    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Bring the database schema to the newest migration; safe to repeat."""
    from alembic import command

    try:
        command.upgrade(alembic_config(url), "head")
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot migrate the database at {_safe(url)}: {exc.__class__.__name__}: "
                            f"{str(exc).splitlines()[0]}") from exc


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, None when it has none."""
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot reach the database at {_safe(str(engine.url))}: "
                            f"{str(exc).splitlines()[0]}; check [database].url or CBSS_DB_URL") from exc


def head_revision(url: str) -> str | None:
    """The newest migration shipped with this version."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def open_database(url: str) -> Engine:
    """An engine for a database that is at the newest schema, else DatabaseError saying what to run."""
    engine = make_engine(url)
    current = current_revision(engine)
    head = SCHEMA_HEAD
    if current != head:
        engine.dispose()
        raise DatabaseError(f"the database at {_safe(url)} is at schema {current or 'none'}, "
                            f"this version needs {head}; run `cbss-batch init` (or `cbss-batch db upgrade`)")
    return engine


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}" if ":" in creds else url
    return url
