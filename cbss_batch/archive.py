"""The archive of received bytes: content-addressed by SHA-256, written before anything else.

``var/archive/ab/abcdef…`` holds each distinct content once; the database maps every received
name to its hash. Writes go to a temporary name, are fsynced, then renamed: a crash leaves either
nothing or a complete copy, and archiving the same bytes twice is harmless. Nothing here deletes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cbss_batch.durable import fsync_dir

_CHUNK = 1 << 20


def archive_file(source: Path, archive_root: Path) -> tuple[str, int, Path]:
    """Copy ``source`` into the archive; returns (sha256 hex, size in bytes, archive path)."""
    archive_root.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest = hashlib.sha256()
    size = 0
    temp = archive_root / f".incoming-{os.getpid()}-{source.name[:40].replace(os.sep, '_')}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        target = archive_root / sha[:2] / sha
        target.parent.mkdir(exist_ok=True, mode=0o700)
        if target.exists():
            temp.unlink()
        else:
            os.replace(temp, target)
            fsync_dir(target.parent)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return sha, size, target
