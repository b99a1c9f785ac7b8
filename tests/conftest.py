"""Shared fixtures: a workspace per test (config, inbox, outbox, SQLite), the official folder, the CLI."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cbss_batch.cli import cli

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


def write_config(root: Path, extra: str = "") -> Path:
    """A workspace configuration with a fixed processing date."""
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
