"""Delivering an answer to the outbox: once, atomically, and never over different bytes."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from cbss_batch import outbox
from cbss_batch.names import answer_name


def _answer(tmp_path: Path, content: bytes) -> tuple[Path, Path]:
    body = tmp_path / "work" / "body"
    body.parent.mkdir()
    body.write_bytes(content)
    return body, tmp_path / "outbox"


NAME = answer_name("ACRF", "999999", date(2026, 11, 28), 23, "T")


def test_an_answer_another_worker_delivers_meanwhile_is_not_a_conflict(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    body, folder = _answer(tmp_path, b"<ACRF/>")
    target = folder / str(NAME)
    real_exists = Path.exists
    looked = []

    def exists_then_delivered(path: Path, **kwargs: bool) -> bool:
        if path == target and not looked:  # our first look finds nothing; the other worker then renames its copy
            looked.append(path)
            found = real_exists(path, **kwargs)
            shutil.copyfile(body, target)
            return found
        return real_exists(path, **kwargs)

    monkeypatch.setattr(Path, "exists", exists_then_delivered)
    delivered = outbox.deliver(body, NAME, folder, compress_above=50_000_000)
    assert delivered == target and target.read_bytes() == b"<ACRF/>"
    assert sorted(p.name for p in folder.iterdir()) == sorted([str(NAME), str(NAME.with_prefix("GO"))])


def test_an_answer_under_a_name_taken_by_other_bytes_is_refused(tmp_path: Path) -> None:
    body, folder = _answer(tmp_path, b"<ACRF>ours</ACRF>")
    folder.mkdir()
    (folder / str(NAME)).write_bytes(b"<ACRF>theirs</ACRF>")
    with pytest.raises(outbox.OutboxConflict, match="already exists with other content"):
        outbox.deliver(body, NAME, folder, compress_above=50_000_000)
    assert (folder / str(NAME)).read_bytes() == b"<ACRF>theirs</ACRF>"
