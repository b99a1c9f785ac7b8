"""Extracts to the institutions' SFTP mailboxes, and ``resend``: byte-identical copies delivered again."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update

from cbss_batch import outbox
from cbss_batch.config import Settings
from cbss_batch.durable import sha256_of
from cbss_batch.errors import ConfigError, NotFound, TransportError
from cbss_batch.extract.produce import deliver_copy, institution_folder
from cbss_batch.institutions import Institution, load_institutions
from cbss_batch.names import FileName
from cbss_batch.push import retry_pause, upload_files
from cbss_batch.signatures import sign_files, signing_key
from cbss_batch.store import queries
from cbss_batch.store.tables import extracts, file_sets, outbound_messages
from cbss_batch.transport import SftpTransport

log = logging.getLogger(__name__)


def push_extracts(settings: Settings, engine: Engine, *, now: datetime, institutions: list[Institution],
                  environ: Mapping[str, str]) -> list[str]:
    """Upload the delivered, unpushed extracts of institutions with a mailbox; the problems met."""
    problems = []
    for institution in institutions:
        if institution.mailbox is None:
            continue
        with engine.connect() as conn:
            due = list(conn.execute(select(extracts).where(and_(
                extracts.c.institution == institution.name, extracts.c.state == "written",
                extracts.c.pushed_at.is_(None),
                or_(extracts.c.push_next_at.is_(None), extracts.c.push_next_at <= now))).order_by(extracts.c.id)))
        if not due:
            continue
        try:
            with SftpTransport.open(institution.mailbox, settings.sftp, environ) as session:
                for row in due:
                    folder = "OUT" if row.environment == "R" else "OUTTEST"
                    upload_files(session, institution.mailbox.remote(folder), _files(settings, institution, row))
                    with engine.begin() as conn:
                        conn.execute(update(extracts).where(extracts.c.id == row.id)
                                     .values(pushed_at=now, push_error=None, push_next_at=None))
                        queries.audit(conn, "extract-pushed", now=now, detail=f"{row.name} to {institution.name}")
                    log.info("pushed %s to institution %s", row.name, institution.name)
        except (TransportError, ConfigError) as exc:
            problems.append(f"institution {institution.name}: {exc}")
            log.error("institution %s: push stopped: %s; retried on a later run", institution.name, exc)
            with engine.begin() as conn:
                for row in due:
                    failures = int(row.push_failures or 0) + 1
                    pause = retry_pause(failures, settings.sftp.retry_base_seconds)
                    conn.execute(update(extracts).where(and_(extracts.c.id == row.id, extracts.c.pushed_at.is_(None)))
                                 .values(push_failures=failures, push_error=str(exc)[:1000], push_next_at=now + pause))
    return problems


def _files(settings: Settings, institution: Institution, row: Any) -> list[Path]:
    """What to upload for one extract: the delivered copy (or the body itself), its FS, its GO."""
    name = FileName.parse(row.name)
    if institution.local:
        folder = institution_folder(settings, institution.name)
        compressed = folder / str(name.with_prefix("CO"))
        files = [compressed if compressed.exists() else folder / row.name]
        signature = folder / str(name.with_prefix("FS"))
        if signature.exists():
            files.append(signature)
        return [*files, folder / str(name.with_prefix("GO"))]
    body = Path(row.body_path)
    marker = body.with_name(str(name.with_prefix("GO")))
    if not marker.exists():
        marker.touch()
    return [body, marker]


def resend(settings: Settings, engine: Engine, target: str, *, now: datetime) -> list[str]:
    """Deliver again, byte for byte, an extract or answer by file name, or every answer of a set by ticket.

    Answer and extract names repeat across senders and institutions (their sequences are per mailbox):
    ``SENDER/NAME`` or ``INSTITUTION/NAME`` says whose; a bare name that several have is refused with
    the choices. The copy goes to the outbox folder when it is not there any more (an identical copy
    is left as it is) and is pushed again to the SFTP mailbox, if there is one. The names delivered
    are returned.
    """
    owner, _, name = target.rpartition("/")
    with engine.connect() as conn:
        found_extracts = select(extracts).where(extracts.c.name == name)
        found_answers = select(outbound_messages).where(or_(
            outbound_messages.c.name == name,
            outbound_messages.c.set_id.in_(select(file_sets.c.id).where(file_sets.c.ticket == name))))
        if owner:
            found_extracts = found_extracts.where(extracts.c.institution == owner)
            found_answers = found_answers.where(outbound_messages.c.mailbox == owner)
        extract_rows = list(conn.execute(found_extracts))
        answers = list(conn.execute(found_answers.order_by(outbound_messages.c.id)))
    if not extract_rows and not answers:
        raise NotFound(f"nothing delivered is called {target}: give an extract or answer file name "
                       "(cbss-batch files, outbox/…) or a set ticket")
    owners = {f"{r.institution}/{r.name}" for r in extract_rows} | (
        {f"{m.mailbox}/{m.name}" for m in answers} if name.startswith(("FO.", "CO.")) else set())
    if not owner and len(owners) > 1:
        raise NotFound(f"{name} was delivered to several mailboxes; say which: {', '.join(sorted(owners))}")
    key = signing_key(settings.signing, os.environ)
    institutions = load_institutions(settings.institutions)
    delivered = []
    for row in extract_rows:
        _check_body(Path(row.body_path), row.sha256, row.name)
        if row.state != "written":
            raise NotFound(f"{row.name} was never delivered; `cbss-batch extract` delivers it")
        institution = institutions.get(row.institution)
        if institution is None or institution.local:
            deliver_copy(settings, row, key)
        with engine.begin() as conn:
            conn.execute(update(extracts).where(extracts.c.id == row.id)
                         .values(pushed_at=None, push_failures=0, push_next_at=None, push_error=None))
            queries.audit(conn, "extract-resent", now=now, detail=f"{row.name} to {row.institution}")
        delivered.append(row.name)
    for message in answers:
        if message.state != "written":
            continue  # not delivered yet: the next run delivers it
        _check_body(Path(message.body_path), message.sha256, message.name)
        outbox.deliver(Path(message.body_path), FileName.parse(message.name),
                       settings.outbox / message.mailbox / message.folder,
                       compress_above=settings.outbox_options.compress_above_bytes,
                       sign=(lambda path: sign_files(key, [path])) if key is not None else None)
        with engine.begin() as conn:
            conn.execute(update(outbound_messages).where(outbound_messages.c.id == message.id)
                         .values(pushed_at=None, push_failures=0, push_next_at=None, push_error=None))
            queries.audit(conn, "answer-resent", now=now, set_id=message.set_id, detail=message.name)
        delivered.append(message.name)
    return delivered


def _check_body(body: Path, sha256: str, name: str) -> None:
    if not body.is_file():
        raise NotFound(f"the kept copy of {name} ({body}) is gone; it cannot be resent byte for byte")
    if sha256_of(body) != sha256:
        raise NotFound(f"the kept copy of {name} ({body}) has changed since it was delivered; not resent")
