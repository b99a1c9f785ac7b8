"""Pull complete sets from a sender's SFTP mailbox into ``inbox/<sender>/IN|INTEST``.

Only complete sets are taken: the ``GO`` is there, every ``FI`` part (and in production every
``FS`` part) is there, and no size or time changed between two listings ``settle_seconds`` apart.
A set whose ``GO`` came but whose parts stay missing past ``incomplete_grace_minutes`` is taken as
it is, so the sender gets ACRF-120/122; files without a ``GO`` past ``go_timeout_hours`` are taken
for ACRF-130. A ``TD`` cancels: the set is taken to be answered as cancelled.

Per file: download to a hidden temporary name in the inbox folder, fsync, check the size, keep the
remote time (file ages drive the GO timeout), archive, record it (``pulled_files``), then rename it
into place — the ``GO`` last, so the local intake never sees half a set. Only when every file of the
set is in place are the remote files removed (or moved to the ``done`` folder). After a crash or a
cut connection the next cycle recognises files it already has (same name, size and remote time)
and only finishes their removal, so nothing is processed twice and nothing is lost.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, and_, select, update

from cbss_batch.archive import archive_file
from cbss_batch.config import Settings
from cbss_batch.durable import fsync_dir, sha256_of
from cbss_batch.errors import FileNameError, TransportError
from cbss_batch.names import FileName, parse_name, strip_xml_suffix
from cbss_batch.store.tables import pulled_files

if TYPE_CHECKING:  # paramiko is imported only when a mailbox is reached
    from cbss_batch.transport import RemoteFile, SftpTransport

log = logging.getLogger(__name__)

FOLDERS = ("IN", "INTEST")
_ORDER = {"FI": 0, "FS": 1, None: 2, "TD": 3, "GO": 4}  # GO last: the local intake waits for it
_IN_PROGRESS = (".part", ".tmp", ".filepart")


@dataclass(slots=True)
class RemoteSet:
    """Remote files that belong together (or one file whose name cannot be read)."""

    key: str
    files: list[RemoteFile] = field(default_factory=list)
    names: dict[str, FileName | None] = field(default_factory=dict)

    def prefixes(self) -> set[str]:
        return {n.prefix for n in self.names.values() if n is not None}

    def parts(self, prefix: str) -> list[int]:
        return sorted(n.part or 1 for n in self.names.values() if n is not None and n.prefix == prefix)


@dataclass(slots=True)
class PullReport:
    sets: int = 0
    files: int = 0
    bytes: int = 0
    waiting: int = 0


def pull_mailbox(transport: SftpTransport, settings: Settings, engine: Engine, *, now: datetime) -> PullReport:
    """Bring every complete set of both remote input folders into the local inbox."""
    report = PullReport()
    mailbox = transport.mailbox
    for folder in FOLDERS:
        remote_dir = mailbox.remote(folder)
        local_dir = settings.inbox / mailbox.sender / folder
        for remote_set in _ready_sets(transport, remote_dir, settings, now, report):
            _pull_set(transport, settings, engine, remote_set, remote_dir, local_dir, folder, now, report)
    return report


def _ready_sets(transport: SftpTransport, remote_dir: str, settings: Settings, now: datetime,
                report: PullReport) -> list[RemoteSet]:
    first = {f.name: f for f in transport.list_files(remote_dir) if _is_candidate(f.name)}
    if not first:
        return []
    if settings.sftp.settle_seconds:
        time.sleep(settings.sftp.settle_seconds)
    second = {f.name: f for f in transport.list_files(remote_dir) if _is_candidate(f.name)}
    changing = {_set_key(name) for name in second if first.get(name) != second[name]}
    groups: dict[str, RemoteSet] = {}
    for f in second.values():
        group = groups.setdefault(_set_key(f.name), RemoteSet(_set_key(f.name)))
        group.files.append(f)
        group.names[f.name] = _read(f.name)
    ready = []
    for group in groups.values():
        if group.key in changing:
            log.info("%s: %s is still being written; it is taken on a later cycle", remote_dir, group.key)
            report.waiting += 1
            continue
        if _is_ready(group, settings, now, remote_dir):
            ready.append(group)
        else:
            report.waiting += 1
    return ready


def _is_candidate(name: str) -> bool:
    return not name.startswith(".") and not name.endswith(_IN_PROGRESS)


def _set_key(name: str) -> str:
    """The set a remote file belongs to; a name that cannot be read is a set of its own."""
    read = _read(name)
    return str(read.key) if read is not None and read.prefix in ("FI", "FS", "GO", "TD") else f"?{name}"


def _read(name: str) -> FileName | None:
    try:
        return parse_name(strip_xml_suffix(name)[0])
    except FileNameError:
        return None


def _is_ready(group: RemoteSet, settings: Settings, now: datetime, remote_dir: str) -> bool:
    if group.key.startswith("?"):
        return True  # a name that cannot be read: taken so the sender gets its negative ACRF
    prefixes = group.prefixes()
    if "TD" in prefixes:
        return True
    newest = datetime.fromtimestamp(max(f.mtime for f in group.files))
    if "GO" not in prefixes:
        return now - newest >= timedelta(hours=settings.intake.go_timeout_hours)
    go = next(n for n in group.names.values() if n is not None and n.prefix == "GO")
    expected = list(range(1, (go.total or 1) + 1))
    complete = group.parts("FI") == expected and (go.environment != "R" or group.parts("FS") == expected
                                                  or not settings.intake.signature_required_in_production)
    if complete:
        return True
    if now - newest >= timedelta(minutes=settings.sftp.incomplete_grace_minutes):
        log.warning("%s: %s has its GO but not all its parts after %d minutes; it is taken as it is",
                    remote_dir, group.key, settings.sftp.incomplete_grace_minutes)
        return True
    log.info("%s: %s has its GO but waits for parts (FI %s of %d)", remote_dir, group.key,
             group.parts("FI"), go.total or 1)
    return False


def _pull_set(transport: SftpTransport, settings: Settings, engine: Engine, remote_set: RemoteSet, remote_dir: str,
              local_dir: Path, folder: str, now: datetime, report: PullReport) -> None:
    mailbox = transport.mailbox
    local_dir.mkdir(parents=True, exist_ok=True)
    ordered = sorted(remote_set.files, key=lambda f: (_ORDER.get(_prefix(remote_set.names[f.name]), 2), f.name))
    for f in ordered:
        if _already_pulled(engine, mailbox.sender, folder, f):
            _finish_leftover(local_dir, f)
            continue
        _download(transport, settings, engine, f, remote_dir, local_dir, folder, now)
        report.files += 1
        report.bytes += f.size
    for f in ordered:
        _clear_remote(transport, remote_dir, f.name)
    with engine.begin() as conn:
        conn.execute(update(pulled_files).where(and_(
            pulled_files.c.mailbox == mailbox.sender, pulled_files.c.folder == folder,
            pulled_files.c.name.in_([f.name for f in ordered]), pulled_files.c.state == "pulled"))
            .values(state="removed", removed_at=now))
    report.sets += 1
    log.info("pulled %s/%s %s (%d files)", mailbox.sender, folder, remote_set.key.lstrip("?"), len(ordered))


def _prefix(name: FileName | None) -> str | None:
    return name.prefix if name is not None else None


def _temp(local_dir: Path, name: str) -> Path:
    return local_dir / f".{name}.part"


def _already_pulled(engine: Engine, sender: str, folder: str, f: RemoteFile) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(pulled_files.c.id).where(and_(
            pulled_files.c.mailbox == sender, pulled_files.c.folder == folder, pulled_files.c.name == f.name,
            pulled_files.c.size == f.size, pulled_files.c.remote_mtime == f.mtime))).first() is not None


def _finish_leftover(local_dir: Path, f: RemoteFile) -> None:
    """A file recorded before a crash: put it in place if the crash came before its rename."""
    temp = _temp(local_dir, f.name)
    if temp.exists():
        os.replace(temp, local_dir / f.name)
        fsync_dir(local_dir)
    log.info("%s was pulled before; only its removal from the mailbox is finished", f.name)


def _download(transport: SftpTransport, settings: Settings, engine: Engine, f: RemoteFile, remote_dir: str,
              local_dir: Path, folder: str, now: datetime) -> None:
    temp = _temp(local_dir, f.name)
    target = local_dir / f.name
    try:
        with temp.open("wb") as out:
            hashing = _HashingWriter(out)
            transport.download(f"{remote_dir}/{f.name}", hashing)  # type: ignore[arg-type]
            out.flush()
            os.fsync(out.fileno())
        if hashing.size != f.size:
            raise TransportError(f"{transport.where}: {f.name} arrived with {hashing.size} bytes, the listing said "
                                 f"{f.size}; it is downloaded again on the next cycle")
        os.utime(temp, (f.mtime, f.mtime))
        archive_file(temp, settings.archive)
        if target.exists() and sha256_of(target) != hashing.hexdigest():
            raise TransportError(f"{target} already exists in the inbox with other content; the remote file is "
                                 "left in the mailbox until the local one is processed")
        with engine.begin() as conn:
            conn.execute(pulled_files.insert().values(
                mailbox=transport.mailbox.sender, folder=folder, name=f.name, size=f.size, remote_mtime=f.mtime,
                sha256=hashing.hexdigest(), state="pulled", pulled_at=now))
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    os.replace(temp, target)
    fsync_dir(local_dir)


def _clear_remote(transport: SftpTransport, remote_dir: str, name: str) -> None:
    mailbox = transport.mailbox
    source = f"{remote_dir}/{name}"
    if transport.exists(source) is None:
        return
    if mailbox.after_pull == "move":
        done = f"{remote_dir}/{mailbox.done}"
        transport.make_folder(done)
        transport.rename(source, f"{done}/{name}")
    else:
        transport.remove(source)


class _HashingWriter:
    """A binary file wrapper that hashes and counts what is written through it."""

    def __init__(self, target: object) -> None:
        self._target = target
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        return self._target.write(data)  # type: ignore[attr-defined]

    def hexdigest(self) -> str:
        return self._hash.hexdigest()
