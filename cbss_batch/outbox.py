"""Delivery of answers to ``outbox/<sender>/OUT|OUTTEST``: temporary name, fsync, rename, then GO.

An answer's body is prepared in ``var/work`` and recorded in the database in the same transaction
as the outcome it reports (transactional outbox); delivery copies it here. Delivering again after a
crash finds the file already complete and only adds what is missing, so nothing is sent twice and
no file is ever rewritten in place. Above the size threshold the answer travels as ``CO.…`` (ZIP).
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

from cbss_batch.durable import fsync_dir, sha256_of
from cbss_batch.errors import BatchError
from cbss_batch.faults import crash_point
from cbss_batch.names import FileName


class OutboxConflict(BatchError):
    """An answer's name is taken in the outbox by a different file."""


def deliver(body: Path, name: FileName, folder: Path, *, compress_above: int,
            sign: Callable[[Path], bytes] | None = None) -> Path:
    """Place ``body`` in ``folder`` as ``name`` (or its ``CO`` form), then its ``FS`` signature when
    ``sign`` is given, then its GO marker; the path of the delivered file."""
    folder.mkdir(parents=True, exist_ok=True)
    if body.stat().st_size > compress_above:
        target_name = name.with_prefix("CO")
        target = folder / str(target_name)
        if not target.exists():
            _write_zip(body, str(name), target)
    else:
        target = folder / str(name)
        # One look: another worker delivering the same answer may rename its copy in place at any moment
        # (looking twice took its arrival between the looks for a conflict). Replacing its copy with
        # ours is harmless: the same bytes, renamed atomically.
        if not target.exists():
            _copy_atomic(body, target)
        elif sha256_of(target) != sha256_of(body):
            raise OutboxConflict(f"{target} already exists with other content and outbox files are never "
                                 "rewritten: the outbox and the database disagree (was the database reset?); "
                                 "move the old file away and run again")
    crash_point("outbox-before-go")  # the answer in place, its GO marker not yet
    if sign is not None:
        signature = folder / str(name.with_prefix("FS"))
        if not signature.exists():
            _write_atomic(sign(target), signature)
    marker = folder / str(name.with_prefix("GO"))
    if not marker.exists():
        _copy_atomic(None, marker)
    return target


def _copy_atomic(source: Path | None, target: Path) -> None:
    temp = target.with_name(f"{target.name}.{os.getpid()}.part")  # two workers never share a temporary file
    with temp.open("wb") as out:
        if source is not None:
            with source.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())
    crash_point("outbox-before-rename")  # a complete temporary file, not yet under its name
    try:
        os.replace(temp, target)
    except FileNotFoundError:
        if not target.exists():
            raise  # our temporary file vanished and nobody delivered the answer: let the run say so
    fsync_dir(target.parent)
    _remove_stale_temporaries(target)


def _remove_stale_temporaries(target: Path) -> None:
    """Temporary copies of ``target`` left by a process that died before its rename."""
    for stale in target.parent.glob(glob.escape(target.name) + ".*.part"):
        stale.unlink(missing_ok=True)


def _write_atomic(data: bytes, target: Path) -> None:
    temp = target.with_name(f"{target.name}.{os.getpid()}.part")
    with temp.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, target)
    fsync_dir(target.parent)


def _write_zip(source: Path, inner_name: str, target: Path) -> None:
    temp = target.with_name(f"{target.name}.{os.getpid()}.part")
    with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(source, arcname=inner_name)
    with temp.open("rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, target)
    fsync_dir(target.parent)


def write_body(path: Path, data: bytes) -> tuple[str, int]:
    """Write an answer body durably; returns (sha256, size)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".part")
    with temp.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, path)
    return hashlib.sha256(data).hexdigest(), len(data)


def seal_body(path: Path) -> tuple[str, int]:
    """Fsync a body written by a streaming writer; returns (sha256, size)."""
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())
    return sha256_of(path), path.stat().st_size
