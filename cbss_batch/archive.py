"""The archive of received bytes: content-addressed by SHA-256, written before anything else.

``var/archive/ab/abcdef…`` holds each distinct content once; the database maps every received
name to its hash. A received file is taken under a temporary name, fsynced, then renamed: a crash
leaves either nothing or a complete file, and archiving the same bytes twice is harmless. Nothing
here deletes.

A file this service owns, on the archive's file system, is taken by a hard link rather than copied
(a 400 MB set is then only read, to hash it, not written a second time): the inbox name is removed
once the set is recorded. A file owned by another account, or on another file system, is copied.
Every archived file is read-only and readable by its owner only: a sender that rewrites a file of
the same name in place while it is still in the inbox (its set not recorded yet) is refused instead of
changing archived bytes; it can remove the file and write a new one.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
from pathlib import Path
from typing import BinaryIO

from cbss_batch.durable import fsync_dir
from cbss_batch.errors import TransientError

_CHUNK = 1 << 20
ARCHIVED_MODE = 0o400  # read-only, owner only


class ArchiveFull(TransientError):
    """The archive's file system has no room for a received file; nothing of it is kept or recorded."""

    def __init__(self, name: str, archive_root: Path) -> None:
        super().__init__(f"no space left in the archive {archive_root} ([paths] archive) to copy {name}: free space "
                         "there or move the archive to a larger file system, then run again (the received files "
                         "stay where they are)")
        self.name, self.archive_root = name, archive_root


def archive_file(source: Path, archive_root: Path) -> tuple[str, int, Path]:
    """Archive ``source`` (a hard link or a copy); returns (sha256 hex, size in bytes, archive path)."""
    archive_root.mkdir(parents=True, exist_ok=True, mode=0o700)
    # one temporary name per process and thread: the parts of a set are archived side by side
    temp = archive_root / (f".incoming-{os.getpid()}-{threading.get_native_id()}-"
                           f"{source.name[:40].replace(os.sep, '_')}")
    src = _open_regular(source)
    try:
        # a name left by a process that died here may be a link to a received file: never written through
        temp.unlink(missing_ok=True)
        with src:
            sha, size = _hashed_in_place(src) if _link(src, source, temp) else _copied(src, temp)
        target = archive_root / sha[:2] / sha
        target.parent.mkdir(exist_ok=True, mode=0o700)
        if target.exists():
            temp.unlink()
        else:
            os.replace(temp, target)
            fsync_dir(target.parent)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise ArchiveFull(source.name, archive_root) from exc
        raise
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return sha, size, target


def _link(src: BinaryIO, source: Path, temp: Path) -> bool:
    """Make ``temp`` a hard link to the file open as ``src`` when it is ours and on this file system; whether it is."""
    opened = os.fstat(src.fileno())
    if opened.st_uid != os.geteuid():
        return False
    try:
        os.link(source, temp, follow_symlinks=False)
    except OSError:  # another file system (EXDEV), links refused (EPERM, EMLINK), source gone: copied
        return False
    linked = os.lstat(temp)
    if (linked.st_dev, linked.st_ino) != (opened.st_dev, opened.st_ino):  # replaced since it was opened
        temp.unlink()
        return False
    return True


def _hashed_in_place(src: BinaryIO) -> tuple[str, int]:
    """Hash the linked file through ``src`` (the inode checked); made read-only for its owner alone, synced."""
    os.fchmod(src.fileno(), ARCHIVED_MODE)
    found = _read_all(src)
    os.fsync(src.fileno())
    return found


def _copied(src: BinaryIO, temp: Path) -> tuple[str, int]:
    """Copy ``src`` to ``temp`` (a new file), hashing it on the way; read-only for its owner alone, synced."""
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        found = _read_all(src, out)
        out.flush()
        os.fchmod(out.fileno(), ARCHIVED_MODE)
        os.fsync(out.fileno())
    return found


def _read_all(src: BinaryIO, out: BinaryIO | None = None) -> tuple[str, int]:
    """Read ``src`` to its end (written to ``out`` on the way, if given); its SHA-256 (hex) and size."""
    digest = hashlib.sha256()
    size = 0
    while chunk := src.read(_CHUNK):
        digest.update(chunk)
        if out is not None:
            out.write(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _open_regular(source: Path) -> BinaryIO:
    """``source`` opened for reading if it is still a regular file: never through a symbolic link, never
    blocking on a FIFO (either may have replaced the file since the inbox was listed)."""
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise FileNotFoundError(errno.ENOENT, "replaced by a symbolic link since it was listed", str(source)) from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileNotFoundError(errno.ENOENT, "no longer a regular file", str(source))
    return os.fdopen(fd, "rb")
