"""Shared fixtures: a workspace per test (config, inbox, outbox, SQLite), the official folder, the CLI."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import settings as hypothesis_settings

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


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    """An initialised workspace on SQLite in a temporary folder."""
    root = tmp_path / "ws"
    write_config(root)
    ws = Workspace(root, f"sqlite:///{root / 'var' / 'cbss.db'}")
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


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test session; its SQLAlchemy URL."""
    reason = _pg_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    import psycopg

    name = f"cbss_test_{os.getpid()}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database on each backend."""
    from cbss_batch.store.session import make_engine, upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("pg_database")
        engine = make_engine(url)
        with engine.begin() as conn:
            from sqlalchemy import text

            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade(url)
    yield url


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--chaos-long", action="store_true", default=False,
                     help="run the chaos test of tests/integration/test_chaos.py at its long size (2 000 sets)")


@pytest.fixture
def chaos_long(request: pytest.FixtureRequest) -> bool:
    """True when ``--chaos-long`` asks for the long chaos run."""
    return bool(request.config.getoption("--chaos-long"))
