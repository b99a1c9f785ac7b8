"""Outages: the database unreachable at start or gone mid-run, the archive's disk full.

Each time ``cbss-batch run`` stops with exit code 1 and one ``Error:`` line saying what to do,
leaves no half-written file behind (outbox, archive), keeps what it received, and the next run,
once the cause is gone, completes the set with its ACRF and NOTI.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from cbss_batch.store.session import upgrade
from tests.builders import drop_set, make_dmfa
from tests.conftest import NewDbUrl, write_config
from tests.integration.test_workers import DAY, _rows


def _cbss(root: Path, db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cbss_batch", "--db", db_url, *args], cwd=root,
                          capture_output=True, text=True, timeout=600)


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one ``Error:`` line of a failed command (exit code 1, no traceback)."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def _answers(root: Path) -> list[str]:
    """Answer kinds in the outbox, e.g. ``["FO.ACRF", "FO.NOTI", "GO.ACRF", "GO.NOTI"]``."""
    return sorted(".".join(Path(name).name.split(".")[:2]) for name in _files(root / "outbox"))


@contextmanager
def _tmpfs(folder: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted at ``folder`` for the block; skip when this process may not mount one."""
    if shutil.which("mount") is None or shutil.which("umount") is None:
        pytest.skip("mount/umount not found: the test needs a tmpfs of its own")
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs at {folder} ({mounted.stderr.strip() or 'mount failed'}): "
                    "the test needs root with CAP_SYS_ADMIN")
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], check=True)  # still busy: detach it anyway


def _remount(folder: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(folder)], check=True, capture_output=True)


# --- (a) the database unreachable at start -------------------------------------------------------------------


def _workspace(root: Path) -> list[Path]:
    write_config(root)
    return drop_set(root / "inbox", "006400", make_dmfa(workers=2, quarter="20253", seed=1), day=DAY)


def _assert_untouched(root: Path, dropped: list[Path], contents: list[bytes]) -> None:
    assert [p.read_bytes() for p in dropped] == contents  # the set waits in the inbox as it came
    assert _files(root / "outbox") == []
    assert _files(root / "var" / "archive") == []


# One backend by nature: a PostgreSQL server that does not answer (SQLite has no server).
def test_run_stops_with_one_error_line_when_postgresql_is_unreachable(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    dropped = _workspace(root)
    contents = [p.read_bytes() for p in dropped]
    result = _cbss(root, "postgresql+psycopg://postgres@127.0.0.1:1/x", "run")
    error = _error_line(result)
    assert error.startswith("Error: cannot reach the database at postgresql+psycopg://postgres@127.0.0.1:1/x: ")
    assert "Connection refused" in error
    assert error.endswith("; check [database].url or CBSS_DB_URL")
    _assert_untouched(root, dropped, contents)


@contextmanager
def _read_only_folder(folder: Path, prepare: bool) -> Iterator[Path]:
    """A folder nobody may write to (a read-only tmpfs for root, mode 0555 otherwise); ``prepare``: with an
    initialised database in it."""
    if os.geteuid() != 0:
        folder.mkdir(parents=True)
        if prepare:
            upgrade(f"sqlite:///{folder / 'cbss.db'}")
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    with _tmpfs(folder, "size=8m,mode=0755"):
        if prepare:
            upgrade(f"sqlite:///{folder / 'cbss.db'}")
        _remount(folder, "ro")
        yield folder


# One backend by nature: the embedded database file in a folder nobody may write to.
@pytest.mark.parametrize("initialised", [False, True], ids=["new-database", "initialised-database"])
def test_run_stops_with_one_error_line_when_the_sqlite_folder_is_read_only(tmp_path: Path,
                                                                           initialised: bool) -> None:
    root = tmp_path / "ws"
    dropped = _workspace(root)
    contents = [p.read_bytes() for p in dropped]
    with _read_only_folder(tmp_path / "db", prepare=initialised) as folder:
        database = folder / "cbss.db"
        result = _cbss(root, f"sqlite:///{database}", "run")
        assert database.exists() == initialised
    error = _error_line(result)
    if initialised:
        assert error == (f"Error: cannot reach the database at sqlite:///{database}: (sqlite3.OperationalError) "
                         "unable to open database file; check [database].url or CBSS_DB_URL")
    else:
        reason = "Read-only file system" if os.geteuid() == 0 else "Permission denied"
        assert error == (f"Error: cannot create the SQLite database {database}: {reason}; make its folder writable "
                         "by this account, or set [database].url or CBSS_DB_URL")
    _assert_untouched(root, dropped, contents)


# --- (b) the database gone mid-run ---------------------------------------------------------------------------


STAGING = ("select count(*) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() "
           "and xact_start is not null and state in ('active', 'idle in transaction') and query ilike 'copy %'")
TERMINATE = ("select count(*) filter (where pg_terminate_backend(pid)) from pg_stat_activity "
             "where datname = current_database() and pid <> pg_backend_pid()")


# One backend by nature: server connections cut by pg_terminate_backend in the middle of a COPY.
def test_run_stops_cleanly_when_its_database_connections_are_cut_while_staging(tmp_path: Path,
                                                                               pg_url: str) -> None:
    root = tmp_path / "ws"
    write_config(root)
    drop_set(root / "inbox", "006400", make_dmfa(workers=3000, quarter="20253", seed=5), day=DAY)
    err = tmp_path / "run.err"
    with err.open("w") as stderr:
        run = subprocess.Popen([sys.executable, "-m", "cbss_batch", "--db", pg_url, "run"], cwd=root,
                               stdout=subprocess.DEVNULL, stderr=stderr, text=True)
    try:
        # The set's staging transaction has sent its first COPY (rows written, far from committed):
        # every connection of the run is cut there, as a server restart or a network cut would.
        with psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
            deadline = time.monotonic() + 180
            while not admin.execute(STAGING).fetchone()[0]:  # type: ignore[index]
                assert run.poll() is None, f"the run ended before staging: {err.read_text()}"
                assert time.monotonic() < deadline, "the run never started staging"
                time.sleep(0.02)
            terminated = admin.execute(TERMINATE).fetchone()[0]  # type: ignore[index]
        assert terminated >= 1
        run.wait(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    error = _error_line(subprocess.CompletedProcess(run.args, run.returncode, "", err.read_text()))
    assert error.startswith("Error: database failure: ")
    assert error.endswith("check the database (cbss-batch db current) and run again")
    assert _files(root / "outbox") == []  # no answer, whole or half
    assert _rows(pg_url, "select state, claimed_by from file_sets") == [("received", None)]  # claim given back
    assert _rows(pg_url, "select count(*) from declarations") == [(0,)]
    assert _rows(pg_url, "select status from runs order by id") == [("failed",)]

    again = _cbss(root, pg_url, "run")
    assert again.returncode == 0, again.stderr
    assert _answers(root) == ["FO.ACRF", "FO.NOTI", "GO.ACRF", "GO.NOTI"]
    assert _rows(pg_url, "select state from file_sets") == [("accepted",)]
    assert _rows(pg_url, "select kind, state from outbound_messages order by kind") == [("ACRF", "written"),
                                                                                        ("NOTI", "written")]
    assert _rows(pg_url, "select count(*), sum(persons) from declarations") == [(1, 3000)]


# --- (c) the archive's disk full -----------------------------------------------------------------------------


def test_run_stops_with_a_clear_error_when_the_archive_is_full_and_completes_once_there_is_room(
        tmp_path: Path, new_db_url: NewDbUrl) -> None:
    archive = tmp_path / "archive"
    with _tmpfs(archive, "size=512k"):
        root = tmp_path / "ws"
        write_config(root, f'[paths]\narchive = "{archive}"\n')
        url = new_db_url(root)
        assert _cbss(root, url, "init").returncode == 0
        content = make_dmfa(workers=300, quarter="20253", seed=3)
        assert len(content) > 2 * 512 * 1024
        dropped = drop_set(root / "inbox", "006400", content, day=DAY)

        result = _cbss(root, url, "run")
        error = _error_line(result)
        assert error == (f"Error: no space left in the archive {archive} ([paths] archive) to copy {dropped[0].name}: "
                         "free space there or move the archive to a larger file system, then run again (the "
                         "received files stay where they are)")
        assert [p.name for p in archive.rglob("*")] == []  # no temporary copy, nothing half archived
        assert dropped[0].read_bytes() == content and dropped[1].exists()
        assert _rows(url, "select count(*) from file_sets") == [(0,)]
        assert _rows(url, "select status from runs") == [("failed",)]
        assert _files(root / "outbox") == []

        _remount(archive, "size=8m")
        again = _cbss(root, url, "run")
        assert again.returncode == 0, again.stderr
        assert _answers(root) == ["FO.ACRF", "FO.NOTI", "GO.ACRF", "GO.NOTI"]
        assert _rows(url, "select state from file_sets") == [("accepted",)]
        assert _files(root / "inbox") == []
        archived = [p for p in archive.rglob("*") if p.is_file()]
        assert sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in archived) == sorted(p.name for p in archived)
        assert sorted(p.stat().st_size for p in archived) == [0, len(content)]
