"""The content hash computed alongside the staging: the same digest as a plain pass, its errors raised at result()."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cbss_batch.durable import BackgroundDigest, sha256_of


def test_parts_are_hashed_as_one_stream_by_a_thread(tmp_path: Path) -> None:
    parts = [tmp_path / f"part{i}" for i in range(3)]
    for i, part in enumerate(parts):
        part.write_bytes(bytes([i]) * (3 << 20))  # several read chunks each
    expected = hashlib.sha256(b"".join(p.read_bytes() for p in parts)).hexdigest()
    assert BackgroundDigest(parts).result() == expected == sha256_of(parts)


def test_a_known_digest_is_taken_as_it_is(tmp_path: Path) -> None:
    digest = BackgroundDigest([tmp_path / "never-read"], known="ab" * 32)
    assert digest.result() == "ab" * 32


def test_an_unreadable_part_fails_at_result(tmp_path: Path) -> None:
    digest = BackgroundDigest([tmp_path / "missing"])
    with pytest.raises(FileNotFoundError):
        digest.result()
