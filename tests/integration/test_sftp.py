"""Pull → process → push against a real OpenSSH sshd on a loopback port, with the faults of the real world."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cbss_batch.errors import BatchError
from tests.builders import drop_set, make_dmfa
from tests.conftest import TODAY, NewDbUrl, Workspace, write_config
from tests.sshd import LoopbackSshd, sshd_binary

pytestmark = pytest.mark.skipif(sshd_binary() is None,
                                reason="OpenSSH sshd is not installed: run scripts/install-sshd (.ci/run does)")

DAY = TODAY.replace(day=20)
SFTP = "[sftp]\nsettle_seconds = 0.05\nread_timeout_seconds = 2\nconnect_timeout_seconds = 3\n" \
       "retry_base_seconds = 0\npush_attempts = 2\n"


@dataclass
class Remote:
    """The sshd and the remote side of the mailboxes it serves (``<root>/<sender>/IN|INTEST|OUT|OUTTEST``)."""

    sshd: LoopbackSshd
    root: Path

    def folder(self, sender: str, name: str) -> Path:
        return self.root / sender / name

    def names(self, sender: str, name: str) -> list[str]:
        folder = self.folder(sender, name)
        return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def register(ws_root: Path, remote: Remote, sender: str, *, port: int | None = None, extra: str = "") -> None:
    folder = ws_root / "config" / "senders"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("IN", "INTEST", "OUT", "OUTTEST"):
        remote.folder(sender, name).mkdir(parents=True, exist_ok=True)
    base = remote.root / sender
    (folder / f"{sender}.toml").write_text(
        f'number = "{sender}"\n[mandates]\nall_employers = true\n[mailbox]\nhost = "127.0.0.1"\n'
        f'port = {port or remote.sshd.port}\nuser = "{remote.sshd.user}"\nkey_file = "{remote.sshd.client_key}"\n'
        f'in = "{base}/IN"\nintest = "{base}/INTEST"\nout = "{base}/OUT"\nouttest = "{base}/OUTTEST"\n{extra}',
        encoding="utf-8")


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Remote]:
    sshd = LoopbackSshd(tmp_path / "sshd").start()
    try:
        yield Remote(sshd, tmp_path / "remote")
    finally:
        sshd.stop()


@pytest.fixture
def ws(tmp_path: Path, remote: Remote, new_db_url: NewDbUrl) -> Workspace:
    root = tmp_path / "ws"
    write_config(root, SFTP)
    (root / "config" / "known_hosts").write_text(remote.sshd.known_hosts_line, encoding="ascii")
    register(root, remote, "006400")
    workspace = Workspace(root, new_db_url(root))
    assert workspace.cli("init").exit_code == 0
    return workspace


def failing_run(ws: Workspace, *args: str) -> str:
    """Run a cycle that must end with exit 1 (``cbss-batch`` prints the message as ``Error: …``)."""
    with pytest.raises(BatchError) as caught:
        ws.cli(*args, "run")
    return str(caught.value)


ANSWERS = ["FO.ACRF.999999.20261128.00001.T", "FO.NOTI.999999.20261128.00002.T",
           "GO.ACRF.999999.20261128.00001.T", "GO.NOTI.999999.20261128.00002.T"]


def test_full_cycle_pulls_processes_and_pushes_answers(ws: Workspace, remote: Remote) -> None:
    sent = drop_set(remote.root, "006400", make_dmfa(workers=3, quarter="20253"), day=DAY)
    result = ws.cli("--json", "run")
    assert result.exit_code == 0, result.output
    assert '"sets_pulled": 1' in result.output and '"answers_pushed": 2' in result.output
    assert remote.names("006400", "INTEST") == []  # removed from the mailbox once safely here
    assert remote.names("006400", "OUTTEST") == ANSWERS
    assert ws.answers() == ANSWERS  # the local outbox keeps its copy
    for name in ANSWERS:
        assert (remote.folder("006400", "OUTTEST") / name).read_bytes() == (ws.out() / name).read_bytes()
    assert ws.sql("select state from file_sets") == [("accepted",)]
    assert ws.sql("select name, state from pulled_files order by name") == [
        (p.name, "removed") for p in sorted(sent)]
    assert ws.sql("select count(*) from outbound_messages where pushed_at is not null") == [(2,)]
    # a second cycle has nothing to pull and pushes nothing twice
    again = ws.cli("--json", "run")
    assert '"sets_pulled": 0' in again.output and '"answers_pushed": 0' in again.output
    assert remote.names("006400", "OUTTEST") == ANSWERS


def test_pulled_files_can_be_moved_to_a_done_folder(tmp_path: Path, remote: Remote, new_db_url: NewDbUrl) -> None:
    root = tmp_path / "ws2"
    write_config(root, SFTP)
    (root / "config" / "known_hosts").write_text(remote.sshd.known_hosts_line, encoding="ascii")
    register(root, remote, "006400", extra='after_pull = "move"\ndone = "archived"\n')
    ws = Workspace(root, new_db_url(root))
    ws.cli("init")
    sent = drop_set(remote.root, "006400", make_dmfa(workers=1, quarter="20253"), day=DAY)
    assert ws.cli("run").exit_code == 0
    assert remote.names("006400", "INTEST") == []
    assert sorted(p.name for p in (remote.folder("006400", "INTEST") / "archived").iterdir()) == sorted(
        p.name for p in sent)


def test_go_before_the_last_part_waits_for_it(ws: Workspace, remote: Remote) -> None:
    content = make_dmfa(workers=4, quarter="20253")
    files = drop_set(remote.root, "006400", content, day=DAY, parts=2)
    last_part = files[1]
    held = last_part.read_bytes()
    last_part.unlink()  # the sender's GO arrived before its second part
    first = ws.cli("--json", "run")
    assert '"sets_pulled": 0' in first.output
    assert remote.names("006400", "OUTTEST") == []
    assert len(remote.names("006400", "INTEST")) == 2  # nothing taken, nothing half-visible locally
    assert not any((ws.inbox / "006400" / "INTEST").glob("*")) if (ws.inbox / "006400" / "INTEST").exists() else True
    last_part.write_bytes(held)
    second = ws.cli("--json", "run")
    assert '"sets_pulled": 1' in second.output
    assert ws.sql("select state, parts from file_sets") == [("accepted", 2)]
    assert remote.names("006400", "OUTTEST") == ANSWERS


def test_unknown_host_key_refuses_the_connection(ws: Workspace, remote: Remote) -> None:
    (ws.root / "config" / "known_hosts").write_text("", encoding="ascii")
    drop_set(remote.root, "006400", make_dmfa(workers=1, quarter="20253"), day=DAY)
    assert "is not in" in failing_run(ws)
    assert len(remote.names("006400", "INTEST")) == 2  # untouched


def test_changed_host_key_refuses_the_connection_then_trust_records_it(ws: Workspace, remote: Remote) -> None:
    other = LoopbackSshd(remote.sshd.folder.parent / "other")
    (ws.root / "config" / "known_hosts").write_text(other.known_hosts_line.replace(str(other.port),
                                                                                    str(remote.sshd.port)))
    drop_set(remote.root, "006400", make_dmfa(workers=1, quarter="20253"), day=DAY)
    assert "CHANGED" in failing_run(ws)
    assert ws.sql("select count(*) from file_sets") == [(0,)]
    trusted = ws.cli("mailbox", "trust", "006400", "--yes")
    assert trusted.exit_code == 0, trusted.output
    assert "SHA256:" in trusted.output
    assert ws.cli("run").exit_code == 0
    assert remote.names("006400", "OUTTEST") == ANSWERS


def test_trust_with_a_wrong_fingerprint_records_nothing(ws: Workspace, remote: Remote) -> None:
    known = ws.root / "config" / "known_hosts"
    known.write_text("", encoding="ascii")
    with pytest.raises(BatchError, match="nothing recorded"):
        ws.cli("mailbox", "trust", "006400", "--fingerprint", "SHA256:not-the-key")
    assert known.read_text() == ""


# paramiko's prefetch thread dies with the connection it was reading; that is the fault being tested
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_connection_dropped_mid_download_loses_and_duplicates_nothing(ws: Workspace, remote: Remote,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    drop_set(remote.root, "006400", make_dmfa(workers=6000, quarter="20253"), day=DAY)  # ~20 MB
    local = ws.inbox / "006400" / "INTEST"
    cut = threading.Event()

    def cut_when_downloading() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if local.is_dir() and any(p.name.endswith(".part") and p.stat().st_size > 0 for p in local.iterdir()):
                remote.sshd.kill_sessions()
                cut.set()
                return
            time.sleep(0.002)

    watcher = threading.Thread(target=cut_when_downloading)
    watcher.start()
    with caplog.at_level(logging.ERROR):
        failing_run(ws)
    watcher.join()
    assert cut.is_set()
    assert any("mailbox 006400: pull stopped" in r.getMessage() for r in caplog.records)
    assert not [p for p in local.iterdir()] if local.is_dir() else True  # no half file left visible
    assert len(remote.names("006400", "INTEST")) == 2  # still in the mailbox
    second = ws.cli("run")
    assert second.exit_code == 0, second.output
    assert ws.sql("select state from file_sets") == [("accepted",)]
    assert remote.names("006400", "OUTTEST") == ANSWERS


# paramiko's prefetch thread dies with the connection it was reading; that is the fault being tested
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_stalled_server_times_out_and_the_next_mailbox_is_served(tmp_path: Path, ws: Workspace, remote: Remote,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    stalled = LoopbackSshd(tmp_path / "stalled-sshd").start()
    try:
        register(ws.root, Remote(stalled, remote.root), "005500")
        with (ws.root / "config" / "known_hosts").open("a") as known:
            known.write(stalled.known_hosts_line)
        drop_set(remote.root, "005500", make_dmfa(workers=6000, quarter="20253"), day=DAY)
        drop_set(remote.root, "006400", make_dmfa(workers=2, quarter="20253"), day=DAY)
        local = ws.inbox / "005500" / "INTEST"

        def stall_when_downloading() -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if local.is_dir() and any(p.name.endswith(".part") for p in local.iterdir()):
                    stalled.pause_sessions()
                    return
                time.sleep(0.002)

        watcher = threading.Thread(target=stall_when_downloading)
        watcher.start()
        started = time.monotonic()
        with caplog.at_level(logging.ERROR):
            failing_run(ws)
        watcher.join()
        assert time.monotonic() - started < 20  # the read timeout (2 s) fired
        assert any("mailbox 005500" in r.getMessage() and "timeout" in r.getMessage() for r in caplog.records)
        assert remote.names("006400", "OUTTEST") == ANSWERS  # the other mailbox was served
        stalled.resume_sessions()
        stalled.kill_sessions()
        second = ws.cli("run")
        assert second.exit_code == 0, second.output
        assert remote.names("005500", "OUTTEST") == ANSWERS
        assert ws.sql("select mailbox, state from file_sets order by mailbox") == [
            ("005500", "accepted"), ("006400", "accepted")]
    finally:
        stalled.stop()


def test_permission_denied_on_remove_does_not_process_twice(ws: Workspace, remote: Remote,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    remote.sshd.restart("-P remove,rename,posix-rename")
    drop_set(remote.root, "006400", make_dmfa(workers=1, quarter="20253"), day=DAY)
    with caplog.at_level(logging.ERROR):
        failing_run(ws)
    assert any("permission denied while removing" in r.getMessage() for r in caplog.records)
    assert ws.sql("select state from file_sets") == [("accepted",)]  # the pulled set was processed once
    remote.sshd.restart()
    second = ws.cli("--json", "run")
    assert second.exit_code == 0, second.output
    assert '"sets_pulled": 1' in second.output  # only the removal was finished
    assert ws.sql("select count(*) from file_sets") == [(1,)]
    assert remote.names("006400", "INTEST") == []
    assert remote.names("006400", "OUTTEST") == ANSWERS


def test_read_only_mailbox_keeps_answers_until_the_upload_works(ws: Workspace, remote: Remote,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    drop_set(ws.inbox, "006400", make_dmfa(workers=1, quarter="20253"), day=DAY)  # dropped locally
    remote.sshd.restart("-R")
    with caplog.at_level(logging.ERROR):
        failing_run(ws)
    assert any("could not push" in r.getMessage() and "permission denied" in r.getMessage()
               for r in caplog.records)
    assert remote.names("006400", "OUTTEST") == []
    assert ws.sql("select push_failures, pushed_at is null from outbound_messages order by id") == [
        (1, 1), (1, 1)]
    remote.sshd.restart()
    second = ws.cli("run")
    assert second.exit_code == 0, second.output
    assert remote.names("006400", "OUTTEST") == ANSWERS
    assert ws.sql("select count(*) from outbound_messages where pushed_at is null") == [(0,)]


def test_upload_interrupted_mid_file_is_completed_once(ws: Workspace, remote: Remote) -> None:
    drop_set(ws.inbox, "006400", make_dmfa(workers=1, quarter="20253"), day=DAY)
    remote.sshd.stop()  # the server is gone: answers wait in the outbox
    assert "cannot connect" in failing_run(ws)
    remote.sshd.start()
    # what an upload cut in the middle leaves: a partial hidden file, and the answer already complete
    out = remote.folder("006400", "OUTTEST")
    (out / ".FO.NOTI.999999.20261128.00002.T.part").write_bytes(b"<NOTIFICATION")
    (out / "FO.ACRF.999999.20261128.00001.T").write_bytes((ws.out() / "FO.ACRF.999999.20261128.00001.T").read_bytes())
    second = ws.cli("run")
    assert second.exit_code == 0, second.output
    assert remote.names("006400", "OUTTEST") == ANSWERS
    for name in ANSWERS:
        assert (out / name).read_bytes() == (ws.out() / name).read_bytes()
    assert ws.sql("select count(*) from audit_events where event = 'answer-pushed'") == [(2,)]


def test_mailbox_check_lists_remote_folders(ws: Workspace, remote: Remote) -> None:
    drop_set(remote.root, "006400", make_dmfa(workers=1, quarter="20253"), day=DAY)
    result = ws.cli("mailbox", "check")
    assert result.exit_code == 0, result.output
    assert "006400 127.0.0.1" in result.output and "INTEST 2 files" in result.output


def test_extracts_are_pushed_to_an_institution_mailbox(ws: Workspace, remote: Remote) -> None:
    out = remote.root / "pensions" / "OUTTEST"
    out.mkdir(parents=True)
    folder = ws.root / "config" / "institutions"
    folder.mkdir(parents=True)
    (folder / "pensions.toml").write_text(
        'name = "pensions"\nlocal = false\n[[subscriptions]]\nkind = "dmfa"\n[mailbox]\nhost = "127.0.0.1"\n'
        f'port = {remote.sshd.port}\nuser = "{remote.sshd.user}"\nkey_file = "{remote.sshd.client_key}"\n'
        f'outtest = "{out}"\n', encoding="utf-8")
    drop_set(remote.root, "006400", make_dmfa(workers=2, quarter="20253"), day=DAY)
    assert ws.cli("run").exit_code == 0
    result = ws.cli("extract")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["FO.EXTR.999999.20261128.00001.T",
                                                    "GO.EXTR.999999.20261128.00001.T"]
    assert not (ws.outbox / "institutions" / "pensions").exists()  # local = false
    assert ws.sql("select count(*) from extracts where pushed_at is not null") == [(1,)]
    (out / "FO.EXTR.999999.20261128.00001.T").unlink()
    assert ws.cli("resend", "FO.EXTR.999999.20261128.00001.T").exit_code == 0
    assert ws.cli("extract").exit_code == 0  # the resent extract is pushed again
    assert sorted(p.name for p in out.iterdir()) == ["FO.EXTR.999999.20261128.00001.T",
                                                    "GO.EXTR.999999.20261128.00001.T"]


def test_a_crash_between_push_and_its_record_does_not_deliver_twice(ws: Workspace, remote: Remote) -> None:
    import os
    import subprocess
    import sys

    from cbss_batch.faults import CRASH_ENV, CRASH_EXIT_CODE

    drop_set(remote.root, "006400", make_dmfa(workers=2, quarter="20253"), day=DAY)
    command = [sys.executable, "-m", "cbss_batch", "--db", ws.db_url, "run"]
    crashed = subprocess.run(command, cwd=ws.root, env={**os.environ, CRASH_ENV: "push-before-record"},
                             capture_output=True, text=True, timeout=120)
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr
    assert remote.names("006400", "OUTTEST") == ["FO.ACRF.999999.20261128.00001.T", "GO.ACRF.999999.20261128.00001.T"]
    assert ws.sql("select count(*) from outbound_messages where pushed_at is not null") == [(0,)]
    uploads = (remote.folder("006400", "OUTTEST") / "FO.ACRF.999999.20261128.00001.T").stat().st_mtime_ns
    again = subprocess.run(command, cwd=ws.root, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert remote.names("006400", "OUTTEST") == ANSWERS
    assert (remote.folder("006400", "OUTTEST") / "FO.ACRF.999999.20261128.00001.T").stat().st_mtime_ns == uploads
    assert ws.sql("select count(*) from outbound_messages where pushed_at is not null") == [(2,)]
