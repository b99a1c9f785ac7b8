"""Produce and deliver institution extracts, each fact exactly once per subscribed institution.

For each institution, in one transaction: read the fact events after its high-water mark, expand them
into records, keep those its subscriptions take, write them as one extract per environment (a file
in ``var/work/institutions/<name>/``, fsynced), record the extract and move the mark. A crash before
the commit leaves the mark where it was, so the next run writes the same extract again; after the
commit, delivery is a separate step: ``outbox/institutions/<name>/`` under a temporary name, rename,
then the ``GO`` marker (and the institution's SFTP mailbox, if it has one). Nothing is delivered half,
nothing twice.
"""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text, update

from cbss_batch import outbox
from cbss_batch.config import Settings
from cbss_batch.durable import sha256_of
from cbss_batch.errors import ConfigError
from cbss_batch.extract.facts import Record, records_of
from cbss_batch.extract.writer import write_extract
from cbss_batch.faults import crash_point
from cbss_batch.institutions import Institution, load_institutions
from cbss_batch.names import FileName, answer_name
from cbss_batch.signatures import sign_files, signing_key
from cbss_batch.store import queries
from cbss_batch.store.tables import extracts, fact_events, institution_marks

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExtractOutcome:
    institution: str
    name: str
    environment: str
    records: int
    first_event: int
    last_event: int
    backfill: bool

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def choose_institutions(settings: Settings, only: tuple[str, ...] = ()) -> list[Institution]:
    """The configured institutions (or those named); ConfigError naming an unknown one."""
    known = load_institutions(settings.institutions)
    unknown = [name for name in only if name not in known]
    if unknown:
        raise ConfigError(f"no institution {', '.join(unknown)} in {settings.institutions} "
                          f"(known: {', '.join(known) or 'none'})")
    return [known[name] for name in (only or tuple(known))]


def produce_extracts(settings: Settings, engine: Engine, *, now: datetime, only: tuple[str, ...] = (),
                     backfill_from: date | None = None) -> list[ExtractOutcome]:
    """Write the due extracts of the institutions (all, or ``only``) and deliver every pending extract."""
    outcomes: list[ExtractOutcome] = []
    chosen = choose_institutions(settings, only)
    for institution in chosen:
        outcomes += _produce(settings, engine, institution, now, backfill_from)
    deliver_extracts(settings, engine, now=now, institutions={i.name: i for i in chosen})
    return outcomes


def _lock(conn: Connection, institution: str) -> None:
    """One producer per institution at a time (SQLite transactions are exclusive already)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                     {"key": 0x63627373_00000000 + zlib.crc32(institution.encode())})


def _start_mark(conn: Connection, institution: Institution, backfill_from: date | None) -> tuple[int, bool]:
    """Where the institution's extracts start: its mark, or for a first extract the back-fill day."""
    mark = conn.execute(select(institution_marks.c.last_event)
                        .where(institution_marks.c.institution == institution.name)).scalar()
    if mark is not None:
        if backfill_from is not None:
            raise ConfigError(f"institution {institution.name} already received extracts; a back-fill would "
                              "deliver facts twice (it applies to a new subscriber only)")
        return int(mark), False
    day = backfill_from or institution.backfill_from
    if day is None:
        return 0, True  # a new subscriber receives every fact collected so far
    before = conn.execute(select(func.max(fact_events.c.id))
                          .where(fact_events.c.recorded_at < datetime.combine(day, datetime.min.time()))).scalar()
    return int(before or 0), True


def _produce(settings: Settings, engine: Engine, institution: Institution, now: datetime,
             backfill_from: date | None) -> list[ExtractOutcome]:
    outcomes = []
    with engine.begin() as conn:
        _lock(conn, institution.name)
        start, backfill = _start_mark(conn, institution, backfill_from)
        upto = int(conn.execute(select(func.max(fact_events.c.id))).scalar() or 0)
        if upto > start:
            events = list(conn.execute(select(fact_events).where(fact_events.c.id > start, fact_events.c.id <= upto)
                                       .order_by(fact_events.c.id)))
            for environment in institution.environments:
                chosen = [e for e in events if e.environment == environment]
                if chosen:
                    outcome = _write_one(settings, conn, institution, environment, chosen, now, backfill)
                    if outcome is not None:
                        outcomes.append(outcome)
        _move_mark(conn, institution.name, max(upto, start), now)
    for outcome in outcomes:
        log.info("extract %s for %s: %d records (events %d-%d)", outcome.name, outcome.institution,
                 outcome.records, outcome.first_event, outcome.last_event)
    return outcomes


def _write_one(settings: Settings, conn: Connection, institution: Institution, environment: str, events: list[Any],
               now: datetime, backfill: bool) -> ExtractOutcome | None:
    sequence = queries.next_answer_sequence(conn, f"institution:{institution.name}", environment, now.date())
    name = answer_name(institution.file_type, settings.transfer_point, now.date(), sequence, environment)
    body = settings.work / "institutions" / institution.name / str(name)
    body.parent.mkdir(parents=True, exist_ok=True)
    temp = body.with_name(body.name + ".part")
    count = write_extract(temp, institution=institution.name, file_name=str(name), now=now,
                          first_event=events[0].id, last_event=events[-1].id, backfill=backfill,
                          records=_taken(conn, institution, events))
    if count == 0:
        temp.unlink()
        return None
    with temp.open("rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, body)
    sha, size = sha256_of(body), body.stat().st_size
    crash_point("extract-written")  # written, not recorded: the next run writes it again
    conn.execute(extracts.insert().values(
        institution=institution.name, name=str(name), environment=environment, first_event=events[0].id,
        last_event=events[-1].id, records=count, backfill=backfill, body_path=str(body), sha256=sha, size=size,
        state="pending", created_at=now))
    queries.audit(conn, "extract-recorded", now=now, detail=f"{name} for {institution.name}: {count} records")
    return ExtractOutcome(institution.name, str(name), environment, count, events[0].id, events[-1].id, backfill)


def _taken(conn: Connection, institution: Institution, events: list[Any]) -> Iterator[Record]:
    for event in events:
        for record in records_of(conn, event):
            if takes(institution, record):
                yield record


def takes(institution: Institution, record: Record) -> bool:
    """Whether one of the institution's subscriptions takes this record."""
    for s in institution.subscription(record.kind):
        if s.joint_committees and not (record.joint_committees & s.joint_committees):
            continue
        codes = s.worker_types if record.kind == "dimona" else s.worker_codes
        if codes and record.worker_code not in codes:
            continue
        if record.kind == "risk" and not s.takes_scenario(record.scenario or ""):
            continue
        return True
    return False


def _move_mark(conn: Connection, institution: str, last_event: int, now: datetime) -> None:
    moved = conn.execute(update(institution_marks).where(institution_marks.c.institution == institution)
                         .values(last_event=last_event)).rowcount
    if not moved:
        conn.execute(institution_marks.insert().values(institution=institution, last_event=last_event, since=now))


def institution_folder(settings: Settings, institution: str) -> Path:
    return settings.outbox / "institutions" / institution


def deliver_extracts(settings: Settings, engine: Engine, *, now: datetime,
                     institutions: dict[str, Institution] | None = None) -> int:
    """Put every recorded, undelivered extract in its institution's outbox folder; the number delivered."""
    known = institutions if institutions is not None else load_institutions(settings.institutions)
    with engine.connect() as conn:
        pending = list(conn.execute(select(extracts).where(extracts.c.state == "pending").order_by(extracts.c.id)))
    key = signing_key(settings.signing, os.environ) if pending else None
    delivered = 0
    for row in pending:
        institution = known.get(row.institution)
        if institution is None:
            continue  # produced for an institution since removed from the configuration: kept, not delivered
        if institution.local:
            deliver_copy(settings, row, key)
        with engine.begin() as conn:
            conn.execute(update(extracts).where(extracts.c.id == row.id).values(state="written", written_at=now))
            queries.audit(conn, "extract-written", now=now, detail=f"{row.name} to {row.institution}")
        delivered += 1
    return delivered


def deliver_copy(settings: Settings, row: Any, key: Any = None) -> Path:
    """The extract in ``outbox/institutions/<name>/`` with its GO marker (and FS when we sign)."""
    return outbox.deliver(Path(row.body_path), FileName.parse(row.name), institution_folder(settings, row.institution),
                          compress_above=settings.outbox_options.compress_above_bytes,
                          sign=(lambda path: sign_files(key, [path])) if key is not None else None)
