"""Shared fixtures: a workspace per test (config, inbox, outbox, database), the official folder, the CLI.

Every test that uses ``workspace``, ``db_url`` or ``new_db_url`` runs once per database backend,
``[sqlite]`` and ``[postgresql]``. A test tied to one backend says so with
``@pytest.mark.backend("sqlite", reason="...")``. A PostgreSQL test gets a database of its own: a copy
of a template migrated once per session, emptied after the test for the next one (``PgDatabases``).
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from cbss_batch.cli import cli

# Shared machines vary in speed: no per-example deadline, a fixed number of examples.
hypothesis_settings.register_profile("cbss", deadline=None, max_examples=100)
hypothesis_settings.load_profile("cbss")

PROJECT = Path(__file__).resolve().parents[1]
OFFICIAL = PROJECT.parent / "shared" / "official"
TODAY = date(2026, 11, 28)


@pytest.fixture
def official() -> Path:
    """The official reference folder beside the project; skip when it is not there."""
    if not OFFICIAL.is_dir():
        pytest.skip(f"official reference data not found at {OFFICIAL}")
    return OFFICIAL


@dataclass
class Workspace:
    root: Path
    db_url: str

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return "sqlite" if self.db_url.startswith("sqlite") else "postgresql"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    def out(self, sender: str = "006400", folder: str = "OUTTEST") -> Path:
        return self.outbox / sender / folder

    def cli(self, *args: str) -> Result:
        """Run ``cbss-batch`` in this workspace, as an operator would from its folder."""
        previous = Path.cwd()
        os.chdir(self.root)
        try:
            return CliRunner().invoke(cli, ["--db", self.db_url, *args], catch_exceptions=False)
        finally:
            os.chdir(previous)

    def answers(self, sender: str = "006400", folder: str = "OUTTEST") -> list[str]:
        out = self.out(sender, folder)
        return sorted(p.name for p in out.iterdir()) if out.is_dir() else []

    def sql(self, statement: str, params: Mapping[str, object] | None = None) -> list[tuple[object, ...]]:
        """Run one statement (``:name`` parameters) on this workspace's database and commit; its rows."""
        return run_sql(self.db_url, statement, params)

    def sql_script(self, statements: str) -> None:
        """Run several statements separated by ``;`` in one transaction (tampering with the store)."""
        engine = create_engine(self.db_url, poolclass=NullPool)
        try:
            with engine.begin() as conn:
                for statement in filter(None, (s.strip() for s in statements.split(";"))):
                    conn.execute(text(statement))
        finally:
            engine.dispose()


def _as_sqlite_gives_it(value: object) -> object:
    """A value read from either backend as SQLite's driver returns it: SQLAlchemy stores dates and
    times there as ISO text and booleans as 0/1, so one assertion holds on both backends."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def run_sql(url: str, statement: str, params: Mapping[str, object] | None = None) -> list[tuple[object, ...]]:
    """Run one statement on the database at ``url`` in its own transaction; its rows (none for a write)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), dict(params or {}))
            if not result.returns_rows:
                return []
            return [tuple(_as_sqlite_gives_it(v) for v in row) for row in result]
    finally:
        engine.dispose()


UNSIGNED = "signature_required_in_production = false"


def write_config(root: Path, extra: str = "", *, signatures: bool = False) -> Path:
    """A workspace configuration with a fixed processing date.

    Production (R) sets need signatures by default; tests about other things send them unsigned,
    so the requirement is off unless ``signatures`` (tests/integration/test_signatures.py).
    """
    if not signatures and "signature_required_in_production" not in extra:
        extra = (extra.replace("[intake]\n", f"[intake]\n{UNSIGNED}\n", 1) if "[intake]" in extra
                 else f"{extra}\n[intake]\n{UNSIGNED}\n")
    path = root / "config" / "cbss.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[runtime]\ntoday = "{TODAY.isoformat()}"\nbatch_rows = 1000\n{extra}', encoding="utf-8")
    return path


BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that needs a database runs once per backend, or only on the backend its mark names:
    ``@pytest.mark.backend("sqlite", reason="what ties the test to it")``."""
    if "backend" not in metafunc.fixturenames:
        return
    backends: tuple[str, ...] = BACKENDS
    mark = metafunc.definition.get_closest_marker("backend")
    if mark is not None:
        backends = tuple(mark.args)
        if not backends or not set(backends) <= set(BACKENDS) or not mark.kwargs.get("reason"):
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: write @pytest.mark.backend(<one of "
                                    f"{', '.join(BACKENDS)}>, reason=...)")
    metafunc.parametrize("backend", backends)


@pytest.fixture
def workspace(tmp_path: Path, new_db_url: NewDbUrl) -> Iterator[Workspace]:
    """An initialised workspace in a temporary folder, on the test's backend (SQLite or PostgreSQL)."""
    root = tmp_path / "ws"
    write_config(root)
    ws = Workspace(root, new_db_url(root))
    result = ws.cli("init")
    assert result.exit_code == 0, result.output
    yield ws


PG_ADMIN_URL = os.environ.get("CBSS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_available() -> str | None:
    """None when the test PostgreSQL answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means: no server to test against
        return f"PostgreSQL not reachable at {PG_ADMIN_URL} ({exc.__class__.__name__}); .ci/run starts it"


def _require_pg() -> None:
    """Skip when the test PostgreSQL is not there; under CI, fail: CI must test both backends."""
    reason = _pg_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def _pg_dsn(name: str) -> str:
    """The psycopg connection string of database ``name`` on the test server."""
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


def _pg_url(name: str) -> str:
    """The SQLAlchemy URL of database ``name`` on the test server."""
    return _pg_dsn(name).replace("postgresql://", "postgresql+psycopg://", 1)


def _pg_admin(*statements: str) -> None:
    """Run statements on the test server's maintenance database, outside a transaction (CREATE DATABASE)."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]  # names made here, not user input


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test session; its SQLAlchemy URL."""
    _require_pg()
    name = f"cbss_test_{os.getpid()}"
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    yield _pg_url(name)
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A PostgreSQL database migrated to the newest schema once per session; its name. The tests'
    databases are copies of it (``CREATE DATABASE … TEMPLATE``): no migrations to run again."""
    from cbss_batch.store.session import upgrade

    _require_pg()
    name = f"cbss_template_{os.getpid()}"
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    upgrade(_pg_url(name))  # disposes of its engine: no connection is left to block the copies
    yield name
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PgDatabases:
    """Databases at the newest schema for the session's PostgreSQL tests: copies of the migrated
    template, each emptied after its test and handed to the next one. Deleting a test's rows takes
    milliseconds, where CREATE DATABASE writes the whole template (catalogs and all) and DROP DATABASE
    removes it again: on the suite, minutes."""

    def __init__(self, template: str) -> None:
        from cbss_batch.store.tables import metadata

        self._template = template
        self._prefix = f"cbss_test_{os.getpid()}_"
        self._numbers = itertools.count(1)
        self._free: list[str] = []
        with psycopg.connect(_pg_dsn(template)) as conn:
            self._tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
            sequences = [r[0] for r in conn.execute("SELECT sequencename FROM pg_sequences "
                                                    "WHERE schemaname = 'public'")]
        # children before parents (foreign keys); the schema's version stays
        declared = [t.name for t in reversed(metadata.sorted_tables) if t.name in self._tables]
        others = sorted(self._tables - set(declared) - {"alembic_version"})
        self._empty = [*(f'DELETE FROM "{name}"' for name in [*others, *declared]),
                       *(f'ALTER SEQUENCE "{name}" RESTART' for name in sequences)]

    def take(self) -> str:
        """The name of a database at the newest schema with no rows, now the test's own."""
        if self._free:
            return self._free.pop()
        name = f"{self._prefix}{next(self._numbers)}"
        _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
        return name

    def give_back(self, name: str) -> None:
        """Empty a test's database for the next test, under a new name: a process the test left behind
        that connects again later (between two polls, say) finds no database instead of writing into
        the next test's. One that something still uses (a process the test left running, a connection
        it did not close) is dropped instead: renaming a database in use fails."""
        fresh = f"{self._prefix}{next(self._numbers)}"
        try:
            with psycopg.connect(_pg_dsn(name), autocommit=True) as conn:
                if not self._only_user(conn):
                    raise _StillUsed(name)
            _pg_admin(f'ALTER DATABASE "{name}" RENAME TO "{fresh}"')
        except (psycopg.Error, _StillUsed):
            self.drop(name)
            return
        try:
            with psycopg.connect(_pg_dsn(fresh), autocommit=True) as conn:
                made_at_run_time = [  # the scheduler's job store
                    r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                    if r[0] not in self._tables]
                with conn.transaction():
                    conn.execute("SET LOCAL lock_timeout = '5s'")
                    for statement in [*(f'DROP TABLE "{t}" CASCADE' for t in made_at_run_time), *self._empty]:
                        conn.execute(statement)  # type: ignore[arg-type]  # names from the catalogue
        except psycopg.Error:
            self.drop(fresh)
            return
        self._free.append(fresh)

    @staticmethod
    def _only_user(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
        """True when no other session is on this database (a client that just closed may take a moment)."""
        for _ in range(10):
            others = conn.execute("SELECT count(*) FROM pg_stat_activity "
                                  "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()
            if others == (0,):
                return True
            time.sleep(0.02)
        return False

    def drop(self, name: str) -> None:
        """Drop a test's database; WITH (FORCE) cuts off whatever still uses it."""
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        """Drop every database made here."""
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            made = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)",
                                               (self._prefix,))]
        _pg_admin(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in made))


class _StillUsed(Exception):
    """A test's database has other sessions on it."""


@pytest.fixture(scope="session")
def pg_databases(pg_template: str) -> Iterator[PgDatabases]:
    """Databases at the newest schema for PostgreSQL tests (see ``PgDatabases``)."""
    databases = PgDatabases(pg_template)
    yield databases
    databases.close()


@pytest.fixture
def pg_url(pg_databases: PgDatabases) -> Iterator[str]:
    """A PostgreSQL database of its own at the newest schema, for a test about PostgreSQL itself
    (several workers, a server restart, cut connections); its URL. Dropped afterwards, never reused:
    a worker the test could not stop must not write into another test's database."""
    name = pg_databases.take()
    yield _pg_url(name)
    pg_databases.drop(name)


class NewDbUrl:
    """Fresh databases on one backend (the ``new_db_url`` fixture): call it with a workspace folder for
    a database URL. SQLite: ``<root>/var/cbss.db``, created by ``cbss-batch init``. PostgreSQL: a
    database of its own at the newest schema and without rows, given back after the test."""

    def __init__(self, databases: PgDatabases | None) -> None:
        self._databases, self._taken = databases, list[str]()

    def __call__(self, root: Path) -> str:
        if self._databases is None:
            return f"sqlite:///{root / 'var' / 'cbss.db'}"
        self._taken.append(self._databases.take())
        return _pg_url(self._taken[-1])

    def give_back(self, url: str) -> None:
        """Done with this database before the test ends (SQLite: nothing to do)."""
        name = url.rsplit("/", 1)[-1]
        if self._databases is not None and name in self._taken:
            self._taken.remove(name)
            self._databases.give_back(name)

    def give_all_back(self) -> None:
        if self._databases is not None:
            for name in self._taken:
                self._databases.give_back(name)
        self._taken.clear()


@pytest.fixture
def new_db_url(backend: str, request: pytest.FixtureRequest) -> Iterator[NewDbUrl]:
    """Fresh databases on the test's backend for workspace folders (see ``NewDbUrl``)."""
    databases = NewDbUrl(request.getfixturevalue("pg_databases") if backend == "postgresql" else None)
    yield databases
    databases.give_all_back()


@pytest.fixture
def db_url(backend: str, tmp_path: Path, new_db_url: NewDbUrl) -> str:
    """A fresh database at the newest schema on the test's backend; its URL."""
    from cbss_batch.store.session import upgrade

    if backend == "postgresql":
        return new_db_url(tmp_path)  # already at the newest schema
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    return url


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--chaos-long", action="store_true", default=False,
                     help="run the chaos test of tests/integration/test_chaos.py at its long size (2 000 sets)")


@pytest.fixture
def chaos_long(request: pytest.FixtureRequest) -> bool:
    """True when ``--chaos-long`` asks for the long chaos run."""
    return bool(request.config.getoption("--chaos-long"))
