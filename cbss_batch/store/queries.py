"""Low-volume reads and writes of the staging database (sets, tickets, answers, audit)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, text, update

from cbss_batch.records import Fact, Finding
from cbss_batch.store import audit as audit_log
from cbss_batch.store import claims
from cbss_batch.store.bulk import reserve_ids
from cbss_batch.store.tables import (
    anomalies,
    declarations,
    employment_periods,
    fact_events,
    file_sets,
    outbound_messages,
    received_files,
    runs,
    set_chunks,
)


def _new_id(result: Any) -> int:
    """The primary key of the row an INSERT just wrote."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def employment_coverage(conn: Connection, noss_number: str, company_id: str, start: date,
                        end: date) -> frozenset[str] | None:
    """INSZ with a live Dimona period of this employer overlapping [start, end]; None for an unknown employer."""
    employer = []
    if noss_number.strip("0"):
        employer.append(employment_periods.c.noss_number == noss_number)
    if company_id.strip("0"):
        employer.append(employment_periods.c.company_id == company_id)
    if not employer:
        return None
    known = or_(*employer)
    if conn.execute(select(employment_periods.c.id).where(known).limit(1)).first() is None:
        return None
    rows = conn.execute(select(employment_periods.c.insz).where(and_(
        known, employment_periods.c.is_cancelled.is_(False), employment_periods.c.starting_date <= end,
        or_(employment_periods.c.ending_date.is_(None), employment_periods.c.ending_date >= start))))
    return frozenset(row.insz for row in rows)


def new_ticket(conn: Connection, today: date) -> str:
    """A ticket never given before: ``CB`` + date + an 8-digit counter that never resets (18 chars)."""
    return f"CB{today:%Y%m%d}{reserve_ids(conn, 'ticket', 1):08d}"


def next_answer_sequence(conn: Connection, mailbox: str, folder: str, today: date) -> int:
    """The next 5-digit sequence for an answer of ``mailbox`` in ``folder`` today."""
    value = reserve_ids(conn, f"seq:{mailbox}:{folder}:{today:%Y%m%d}", 1)
    if value > 99999:
        raise OverflowError(f"more than 99999 answers for mailbox {mailbox} {folder} on {today}")
    return value


def audit(conn: Connection, event: str, *, now: datetime, set_id: int | None = None, ticket: str | None = None,
          detail: str | None = None) -> None:
    """Append an audit event (receipts, answers, state changes) to the hash-chained audit log."""
    audit_log.append(conn, at=now, event=event, set_id=set_id, ticket=ticket, detail=detail)


@dataclass(frozen=True, slots=True)
class ArchivedFile:
    name: str
    role: str | None
    part: int | None
    size: int
    sha256: str
    archive_path: str


def insert_set(conn: Connection, *, ticket: str, mailbox: str, folder: str, name_key: str | None,
               answer_name: str, file_type: str | None, environment: str, parts: int | None,
               files: Sequence[ArchivedFile], now: datetime, run_id: int | None) -> int:
    """Record a received set and its archived files (state ``received``); returns the set id."""
    set_id = _new_id(conn.execute(file_sets.insert().values(
        ticket=ticket, mailbox=mailbox, folder=folder, name_key=name_key, answer_name=answer_name,
        file_type=file_type, environment=environment, parts=parts, state="received", inbox_cleared=False,
        received_at=now, run_id=run_id)))
    for f in files:
        conn.execute(received_files.insert().values(
            set_id=set_id, name=f.name, role=f.role, part=f.part, size=f.size, sha256=f.sha256,
            archive_path=f.archive_path, received_at=now))
    return int(set_id)


def set_row(conn: Connection, set_id: int) -> Any:
    """The file_sets row of a set."""
    return conn.execute(select(file_sets).where(file_sets.c.id == set_id)).one()


def set_files(conn: Connection, set_id: int) -> list[Any]:
    """The received files of a set, in name order."""
    return list(conn.execute(select(received_files).where(received_files.c.set_id == set_id)
                             .order_by(received_files.c.name)))


def finish_set(conn: Connection, set_id: int, *, state: str, result_code: int, error_codes: Iterable[str],
               reason: str | None, now: datetime, content_sha256: str | None = None,
               content_bytes: int | None = None, duplicate_of: str | None = None) -> None:
    """Record a set's final state and ACRF outcome (fenced: LeaseLost if another worker holds the set now).

    The lease ends with the set: a finished set is nobody's (``claimed_by`` stays, saying who finished it).
    A chunk still pending (the schema check offered before a set was refused) is withdrawn with it."""
    claims.fence(conn, set_id)
    conn.execute(delete(set_chunks).where(and_(set_chunks.c.set_id == set_id, set_chunks.c.state == "pending")))
    conn.execute(update(file_sets).where(file_sets.c.id == set_id).values(
        state=state, result_code=result_code, error_codes=" ".join(f"ACRF-{c}" for c in error_codes) or None,
        reason=reason, processed_at=now, content_sha256=content_sha256, content_bytes=content_bytes,
        duplicate_of=duplicate_of, lease_until=None))


def mark_inbox_cleared(conn: Connection, set_id: int) -> None:
    """Remember that a set's inbox files are gone (a crash before this re-clears them, nothing more)."""
    conn.execute(update(file_sets).where(file_sets.c.id == set_id).values(inbox_cleared=True))


def uncleared_set(conn: Connection, mailbox: str, folder: str, answer_name: str, hashes: set[str]) -> int | None:
    """A set already recorded from these exact inbox files whose removal was interrupted."""
    for row in conn.execute(select(file_sets.c.id).where(and_(
            file_sets.c.mailbox == mailbox, file_sets.c.folder == folder,
            file_sets.c.answer_name == answer_name, file_sets.c.inbox_cleared.is_(False)))):
        recorded = {r.sha256 for r in set_files(conn, row.id)}
        if recorded == hashes:
            return int(row.id)
    return None


def earlier_set_with_name(conn: Connection, set_id: int, name_key: str) -> str | None:
    """Ticket of an earlier, not cancelled set with the same name (duplicate by name, ACRF-133)."""
    return conn.execute(select(file_sets.c.ticket).where(and_(
        file_sets.c.name_key == name_key, file_sets.c.id < set_id, file_sets.c.state != "cancelled"))
        .order_by(file_sets.c.id).limit(1)).scalar()


def accepted_set_with_content(conn: Connection, set_id: int, sha256: str) -> str | None:
    """Ticket of an accepted set whose FI bytes hash the same (duplicate by content, ACRF-133)."""
    return conn.execute(select(file_sets.c.ticket).where(and_(
        file_sets.c.content_sha256 == sha256, file_sets.c.id != set_id, file_sets.c.state == "accepted"))
        .order_by(file_sets.c.id).limit(1)).scalar()


def sets_in_state(conn: Connection, state: str) -> list[int]:
    """Ids of the sets in a state, oldest first."""
    return [int(r.id) for r in conn.execute(select(file_sets.c.id).where(file_sets.c.state == state)
                                             .order_by(file_sets.c.id))]


def uncleared_sets(conn: Connection) -> list[Any]:
    """Sets whose inbox files may still be there."""
    return list(conn.execute(select(file_sets).where(file_sets.c.inbox_cleared.is_(False))))


def insert_anomalies(conn: Connection, set_id: int, declaration_id: int | None, findings: Iterable[Finding],
                     ticket: str | None = None) -> None:
    """Store findings of a set, or of a declaration (its ticket, and its DmfA declaration id if any)."""
    rows = [dict(set_id=set_id, declaration_id=declaration_id, ticket=ticket, code=f.code,
                 anomaly_class=f.anomaly_class,
                 message=f.message, tag=f.tag, value=f.value, line=f.line, column=f.column,
                 path=json.dumps(list(f.path)) if f.path else None) for f in findings]
    if rows:
        conn.execute(anomalies.insert(), rows)


def add_outbound(conn: Connection, *, set_id: int | None, mailbox: str, folder: str, kind: str, name: str,
                 body_path: str, sha256: str, size: int, now: datetime) -> int:
    """Record an answer to deliver (transactional outbox)."""
    return _new_id(conn.execute(outbound_messages.insert().values(
        set_id=set_id, mailbox=mailbox, folder=folder, kind=kind, name=name, body_path=body_path, sha256=sha256,
        size=size, state="pending", created_at=now)))


def pending_outbound(conn: Connection, set_id: int | None = None) -> list[Any]:
    """Answers recorded but not yet written to the outbox (of one set, or all), oldest first."""
    query = select(outbound_messages).where(outbound_messages.c.state == "pending")
    if set_id is not None:
        query = query.where(outbound_messages.c.set_id == set_id)
    return list(conn.execute(query.order_by(outbound_messages.c.id)))


def mark_written(conn: Connection, message_id: int, now: datetime, signature_name: str | None = None) -> None:
    """Record that an answer is in the outbox with its GO marker (and the FS file written beside it)."""
    conn.execute(update(outbound_messages).where(outbound_messages.c.id == message_id)
                 .values(state="written", written_at=now, signature_name=signature_name))


def unpushed_outbound(conn: Connection, mailbox: str, now: datetime) -> list[Any]:
    """Answers in the local outbox of ``mailbox`` not yet uploaded to its SFTP mailbox and due for a try."""
    return list(conn.execute(select(outbound_messages).where(and_(
        outbound_messages.c.mailbox == mailbox, outbound_messages.c.state == "written",
        outbound_messages.c.pushed_at.is_(None),
        or_(outbound_messages.c.push_next_at.is_(None), outbound_messages.c.push_next_at <= now)))
        .order_by(outbound_messages.c.id)))


def mark_pushed(conn: Connection, message_id: int, now: datetime) -> None:
    conn.execute(update(outbound_messages).where(outbound_messages.c.id == message_id)
                 .values(pushed_at=now, push_error=None, push_next_at=None))


def push_failures(conn: Connection, message_id: int) -> int:
    return int(conn.execute(select(outbound_messages.c.push_failures)
                            .where(outbound_messages.c.id == message_id)).scalar_one() or 0)


def mark_push_failed(conn: Connection, message_id: int, *, failures: int, error: str, next_at: datetime) -> None:
    """Record a failed upload and when to try again."""
    conn.execute(update(outbound_messages).where(outbound_messages.c.id == message_id)
                 .values(push_failures=failures, push_error=error[:1000], push_next_at=next_at))


def start_run(conn: Connection, kind: str, now: datetime, job: str | None = None) -> int:
    """Record the start of a run, with the host and process that runs it."""
    return _new_id(conn.execute(runs.insert().values(started_at=now, kind=kind, sets=0, declarations_accepted=0,
                                                     declarations_refused=0, status="running",
                                                     host=socket.gethostname(), pid=os.getpid(), job=job)))


def finish_run(conn: Connection, run_id: int, *, now: datetime, sets: int, accepted: int, refused: int,
               status: str, message: str | None = None) -> None:
    """Record the end of a run with its counts."""
    conn.execute(update(runs).where(runs.c.id == run_id).values(
        finished_at=now, sets=sets, declarations_accepted=accepted, declarations_refused=refused, status=status,
        message=message))


def declaration_counts(conn: Connection, set_id: int) -> tuple[int, int]:
    """(accepted, refused) declarations of a set."""
    rows = conn.execute(select(declarations.c.accepted, func.count()).where(declarations.c.set_id == set_id)
                        .group_by(declarations.c.accepted)).all()
    counts = {bool(r[0]): int(r[1]) for r in rows}
    return counts.get(True, 0), counts.get(False, 0)


FACTS_LOCK = 0x63627373_66616374  # "cbssfact": serialises fact events so their ids follow commit order


def record_facts(conn: Connection, facts: Sequence[Fact], *, set_id: int, environment: str, now: datetime) -> None:
    """Append the facts of a set for the institutions, at the end of the set's transaction.

    On PostgreSQL a transaction-level advisory lock is taken first, so that events get their ids in
    the order their transactions commit: an extract that has read up to event N never misses an
    event below N committed later.
    """
    if not facts:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FACTS_LOCK})
    conn.execute(fact_events.insert(), [
        {"kind": f.kind, "mutation": f.mutation, "ticket": f.ticket, "set_id": set_id, "environment": environment,
         "recorded_at": now} for f in facts])
