"""Push answers from the local outbox to the senders' SFTP mailboxes (``OUT`` / ``OUTTEST``).

Each answer (``FO``/``CO``, then its ``FS`` when we sign, then its ``GO`` marker) is uploaded under a
hidden temporary name and renamed, so the sender never sees a partial file and sees the ``GO``
only when everything is there. The upload is recorded (``outbound_messages.pushed_at``) after the
``GO`` is in place. After a crash between the rename and the record, the next try finds the file
with its size and only adds what is missing: nothing is delivered twice. Failures are retried a few
times at once (tenacity, with backoff) and then, across cycles, after a growing pause
(``retry_base_seconds`` × 2^(failures−1), at most an hour).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from cbss_batch.config import Settings
from cbss_batch.errors import TransportError
from cbss_batch.faults import crash_point
from cbss_batch.names import FileName
from cbss_batch.store import queries

if TYPE_CHECKING:  # paramiko is imported only when a mailbox is reached
    from cbss_batch.transport import SftpTransport

log = logging.getLogger(__name__)

MAX_PAUSE = timedelta(hours=1)


@dataclass(slots=True)
class PushReport:
    pushed: int = 0
    failed: int = 0


def push_mailbox(transport: SftpTransport, settings: Settings, engine: Engine, *, now: datetime) -> PushReport:
    """Upload every answer of this mailbox that is written locally and not yet pushed."""
    report = PushReport()
    mailbox = transport.mailbox
    with engine.connect() as conn:
        due = queries.unpushed_outbound(conn, mailbox.sender, now)
    for message in due:
        try:
            for attempt in Retrying(stop=stop_after_attempt(settings.sftp.push_attempts),
                                    wait=wait_exponential(multiplier=0.2, max=2),
                                    retry=retry_if_exception_type(TransportError), reraise=True):
                with attempt:
                    if not transport.is_active:
                        raise TransportError(f"{transport.where}: the connection is closed")
                    _upload_answer(transport, settings, message)
        except TransportError as exc:
            report.failed += 1
            _record_failure(engine, message, str(exc), now, settings.sftp.retry_base_seconds)
            if not transport.is_active:
                log.error("%s: connection lost while pushing; the other answers wait for the next cycle",
                          transport.where)
                break
            continue
        crash_point("push-before-record")  # uploaded with its GO, not yet recorded
        with engine.begin() as conn:
            queries.mark_pushed(conn, message.id, now)
            queries.audit(conn, "answer-pushed", now=now, set_id=message.set_id,
                          detail=f"{message.name} to {mailbox.sender}/{message.folder} on {mailbox.host}")
        report.pushed += 1
        log.info("pushed %s to %s/%s", message.name, mailbox.sender, message.folder)
    return report


def _record_failure(engine: Engine, message: Any, error: str, now: datetime, base_seconds: int) -> None:
    with engine.begin() as conn:
        failures = queries.push_failures(conn, message.id) + 1
        pause = retry_pause(failures, base_seconds)
        queries.mark_push_failed(conn, message.id, failures=failures, error=error, next_at=now + pause)
    log.error("could not push %s (failure %d): %s; next try in %d s", message.name, failures, error,
              int(pause.total_seconds()))


def retry_pause(failures: int, base_seconds: int) -> timedelta:
    """How long to wait before the next upload try: base × 2^(failures−1), at most an hour."""
    return min(MAX_PAUSE, timedelta(seconds=base_seconds * 2 ** (failures - 1)))


def local_files(settings: Settings, message: Any) -> list[Path]:
    """The files of one answer in the local outbox, in upload order: FO or CO, FS, GO."""
    folder = settings.outbox / message.mailbox / message.folder
    name = FileName.parse(message.name)
    compressed = folder / str(name.with_prefix("CO"))
    files = [compressed if compressed.exists() else folder / str(name)]
    if message.signature_name:
        files.append(folder / message.signature_name)
    files.append(folder / str(name.with_prefix("GO")))
    return files


def _upload_answer(transport: SftpTransport, settings: Settings, message: Any) -> None:
    upload_files(transport, transport.mailbox.remote(message.folder), local_files(settings, message))


def upload_files(transport: SftpTransport, remote_dir: str, files: list[Path]) -> None:
    """Upload ``files`` in order, each under a temporary name then renamed; one already there is kept."""
    for local in files:
        if not local.exists():
            raise TransportError(f"{local} is missing from the local outbox; deliver it again (`cbss-batch resend`) "
                                 "before it can be pushed")
        target = f"{remote_dir}/{local.name}"
        size = local.stat().st_size
        if transport.exists(target) == size:
            continue  # uploaded before a crash cut the record
        temp = f"{remote_dir}/.{local.name}.part"
        transport.upload(local, temp)
        transport.rename(temp, target)
