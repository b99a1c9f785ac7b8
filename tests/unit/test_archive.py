"""The archive takes a received file by a hard link when it can, by a copy otherwise; both give the same record."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from cbss_batch import archive
from cbss_batch.archive import archive_file

CONTENT = b"<DmfAOriginal>" + b"x" * 3_000_000 + b"</DmfAOriginal>"  # several read chunks


def _received(tmp_path: Path, content: bytes = CONTENT, name: str = "FI.DMFA.006400.20261129.00001.T.1.1") -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    path = inbox / name
    path.write_bytes(content)
    path.chmod(0o644)
    return path


def test_an_own_file_is_linked_made_read_only_and_outlives_its_inbox_name(tmp_path: Path) -> None:
    source = _received(tmp_path)
    sha, size, target = archive_file(source, tmp_path / "archive")
    assert (sha, size) == (hashlib.sha256(CONTENT).hexdigest(), len(CONTENT))
    assert target == tmp_path / "archive" / sha[:2] / sha
    assert os.stat(target).st_ino == os.stat(source).st_ino  # no second copy of the bytes
    assert stat.S_IMODE(target.stat().st_mode) == 0o400
    source.unlink()  # what the intake does once the set is recorded
    assert target.read_bytes() == CONTENT
    assert [p.name for p in (tmp_path / "archive").rglob(".incoming-*")] == []


def test_a_file_of_another_account_is_copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _received(tmp_path)
    monkeypatch.setattr(archive.os, "geteuid", lambda: os.stat(source).st_uid + 1)
    sha, size, target = archive_file(source, tmp_path / "archive")
    assert (sha, size) == (hashlib.sha256(CONTENT).hexdigest(), len(CONTENT))
    assert os.stat(target).st_ino != os.stat(source).st_ino
    assert stat.S_IMODE(target.stat().st_mode) == 0o400
    assert stat.S_IMODE(source.stat().st_mode) == 0o644  # the sender's file is left as it was
    assert target.read_bytes() == CONTENT


def test_a_file_on_another_file_system_is_copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _received(tmp_path)

    def cross_device(*_args: object, **_kwargs: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(archive.os, "link", cross_device)
    sha, _, target = archive_file(source, tmp_path / "archive")
    assert os.stat(target).st_ino != os.stat(source).st_ino
    assert target.read_bytes() == CONTENT and sha == hashlib.sha256(CONTENT).hexdigest()


def test_a_file_replaced_between_opening_and_linking_is_copied_from_what_was_opened(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _received(tmp_path)
    other = _received(tmp_path, b"<other/>", "other.xml")
    real_link = os.link

    def link_the_replacement(src: Path, dst: Path, *, follow_symlinks: bool = True) -> None:
        real_link(other, dst, follow_symlinks=follow_symlinks)  # as if the name now pointed to another file

    monkeypatch.setattr(archive.os, "link", link_the_replacement)
    sha, _, target = archive_file(source, tmp_path / "archive")
    assert sha == hashlib.sha256(CONTENT).hexdigest() and target.read_bytes() == CONTENT
    assert os.stat(other).st_nlink == 1  # the wrong link was removed
    assert other.read_bytes() == b"<other/>"


def test_a_temporary_name_left_by_a_dead_process_is_never_written_through(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _received(tmp_path)
    victim = _received(tmp_path, b"<archived before/>", "victim.xml")
    root = tmp_path / "archive"
    root.mkdir()
    monkeypatch.setattr(archive.threading, "get_native_id", lambda: 7)
    left = root / f".incoming-{os.getpid()}-7-{source.name}"
    os.link(victim, left)  # a crash between the link and the rename left this name
    monkeypatch.setattr(archive.os, "geteuid", lambda: os.stat(source).st_uid + 1)  # the copying path
    archive_file(source, root)
    assert victim.read_bytes() == b"<archived before/>"
    assert not left.exists()


def test_the_same_content_twice_is_archived_once(tmp_path: Path) -> None:
    first = archive_file(_received(tmp_path, name="a"), tmp_path / "archive")
    second = archive_file(_received(tmp_path, name="b"), tmp_path / "archive")
    assert first == second
    assert len([p for p in (tmp_path / "archive").rglob("*") if p.is_file()]) == 1
