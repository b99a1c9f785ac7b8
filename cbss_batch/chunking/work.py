"""Large DmfA sets processed by several workers: cut, chunks, one finishing step with one ACRF and one NOTI.

1. The worker that claims a large received set runs the file checks as for any set, then cuts it
   (``cut_set``, ``record_plan``): chunk 0 is the schema check of the whole document, offered first so
   that another worker checks the document while this one scans it for the cuts; chunks 1… each a run
   of persons (cbss_batch/chunking/plan.py). Declaration keys and tickets are reserved for every form.
   The plan and the chunks are committed with the set's claim still fenced; the set stays
   ``received``. A set that is not cut after all (or is refused) withdraws its check chunk.
2. Every worker claims pending chunks (``SELECT … FOR UPDATE SKIP LOCKED``, lease, heartbeat) and
   processes them (``process_chunk``): the staging rows of its persons and its share of each
   declaration commit together with the chunk's completion, fenced by the chunk's token. A crashed
   worker's chunk is taken over after its lease, its uncommitted rows never existed.
3. Once no chunk is pending, the set is claimable again and its worker finishes it (``finish``):
   the shares are added up per declaration, the declaration-wide rules run (header, mandates,
   repeated INSZ over the whole declaration from the staged rows, totals, net amount owed), and the
   anomalies, the set's state, its ACRF, NOTI and DMNO and its facts commit in one transaction.
If the schema check fails or a chunk cannot be read as planned, the staged rows of the chunks are
deleted and the set is processed whole, the ordinary way (which also answers an invalid document).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, cast

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update

from cbss_batch.calculate.parameters import project_parameters
from cbss_batch.chunking.document import SegmentReader, chunk_segments, header_segments
from cbss_batch.chunking.load import REPEATED_INSZ, DeclarationShare, load_chunk
from cbss_batch.chunking.plan import ChunkSpan, FormSpan, NotSplittable, Plan, scan
from cbss_batch.collector import fewer_collections
from cbss_batch.config import Settings
from cbss_batch.dmno import dmno_from_fragments
from cbss_batch.faults import crash_point
from cbss_batch.loading import DeclarationOutcome, LoadedSet, _rate_snapshot, net_owed_finding
from cbss_batch.parse import dmfa
from cbss_batch.parse.dmfa import DeclarationEnd, InvalidDocument, read_dmfa
from cbss_batch.records import DeclarationTotals, DmfaHeader, Finding, NaturalPerson
from cbss_batch.rules.dmfa import DeclarationChecks
from cbss_batch.rules.runner import DeclarationReview
from cbss_batch.schemas.files import DMFA_SCHEMA
from cbss_batch.senders import Mandates, check_mandate
from cbss_batch.store import claims, queries
from cbss_batch.store.bulk import reserve_ids
from cbss_batch.store.tables import (
    STAGING_TABLES,
    chunk_plans,
    contribution_corrections,
    declarations,
    natural_persons,
    set_chunks,
)
from cbss_batch.xmlcheck import stream_validate

log = logging.getLogger(__name__)

CHECK = 0  # chunk 0: the schema check of the whole document


@dataclass(frozen=True, slots=True)
class PlanRow:
    set_id: int
    state: str
    forms: int
    first_declaration_id: int
    first_ticket: int
    ticket_day: date
    content: tuple[str, int]
    plan: Plan

    def declaration(self, form: int) -> tuple[int, str]:
        """The key and ticket reserved for form ``form`` (1-based)."""
        return self.first_declaration_id + form - 1, f"CB{self.ticket_day:%Y%m%d}{self.first_ticket + form - 1:08d}"


def _layout_json(plan: Plan) -> str:
    forms = [[f.start, f.line, f.header_end, f.header_end_line, f.end, f.end_line, f.persons] for f in plan.forms]
    return json.dumps({"prefix": [plan.prefix_end, plan.prefix_line], "forms": forms}, separators=(",", ":"))


def _layout(text: str, chunks: list[ChunkSpan]) -> Plan:
    data = json.loads(text)
    forms = [FormSpan(start, line, header_end, header_end_line, end, end_line, persons)
             for start, line, header_end, header_end_line, end, end_line, persons in data["forms"]]
    return Plan(data["prefix"][0], data["prefix"][1], forms, chunks)


def plan_of(conn: Connection, set_id: int) -> PlanRow | None:
    """The plan of a chunked set, None when the set was not cut."""
    row = conn.execute(select(chunk_plans).where(chunk_plans.c.set_id == set_id)).first()
    if row is None:
        return None
    spans = [ChunkSpan(c.chunk, c.start_offset, c.end_offset, c.line, c.form, c.persons, c.form_ends)
             for c in conn.execute(select(set_chunks).where(and_(set_chunks.c.set_id == set_id,
                                                                 set_chunks.c.chunk != CHECK))
                                   .order_by(set_chunks.c.chunk))]
    return PlanRow(set_id, row.state, row.forms, int(row.first_declaration_id), int(row.first_ticket), row.ticket_day,
                   (row.content_sha256, int(row.content_bytes)), _layout(row.layout, spans))


def cut_set(settings: Settings, engine: Engine, row: Any, paths: list[Path], size: int) -> Plan | None:
    """The chunks a checked DmfA set of ``size`` bytes is cut into for the workers (``record_plan``); None
    when it is small or cannot be cut safely."""
    if settings.chunk_persons <= 0 or size < settings.chunk_persons * 200:  # far fewer persons than a chunk
        return None
    with engine.connect() as conn:
        existing = plan_of(conn, row.id)
    if existing is not None:
        return None  # cut before and sent back to be processed whole
    _offer_check(engine, row.id)
    try:
        plan = scan(paths, settings.chunk_persons)
    except NotSplittable as exc:
        log.info("set %s is processed whole: %s", row.ticket, exc, extra={"ticket": row.ticket, "stage": "planned"})
        plan = None
    if plan is None or len(plan.chunks) < 2:
        _withdraw_check(engine, row.id)
        return None
    return plan


def _offer_check(engine: Engine, set_id: int) -> None:
    """Record chunk 0, the schema check of the whole document, before the set is scanned for its cuts: another
    worker checks the document meanwhile (it needs no plan). A check left by a worker that died here is kept."""
    with engine.begin() as conn:
        claims.fence(conn, set_id)
        if conn.execute(select(set_chunks.c.state).where(_check_of(set_id))).first() is None:
            conn.execute(insert(set_chunks).values(set_id=set_id, chunk=CHECK, state="pending", start_offset=0,
                                                   end_offset=None, line=1, form=1, persons=0,
                                                   form_ends=0))  # known once the plan is recorded


def _withdraw_check(engine: Engine, set_id: int) -> None:
    """The set is processed whole after all: its schema check chunk goes (a worker holding it loses its lease)."""
    with engine.begin() as conn:
        claims.fence(conn, set_id)
        conn.execute(delete(set_chunks).where(_check_of(set_id)))


def _check_of(set_id: int) -> Any:
    return and_(set_chunks.c.set_id == set_id, set_chunks.c.chunk == CHECK)


def record_plan(settings: Settings, engine: Engine, now: datetime, today: date, row: Any, plan: Plan,
                content: tuple[str, int]) -> None:
    """Record the plan and its data chunks (the schema check was offered before the scan): the workers claim them."""
    with engine.begin() as conn:
        claims.fence(conn, row.id)
        first_id = reserve_ids(conn, "id:declarations", len(plan.forms))
        first_ticket = reserve_ids(conn, "ticket", len(plan.forms))
        conn.execute(insert(chunk_plans).values(
            set_id=row.id, persons=plan.persons, forms=len(plan.forms), first_declaration_id=first_id,
            first_ticket=first_ticket, ticket_day=today, layout=_layout_json(plan), state="chunked",
            content_sha256=content[0], content_bytes=content[1], created_at=now))
        rows = [dict(set_id=row.id, chunk=c.number, state="pending", start_offset=c.start, end_offset=c.end,
                      line=c.line, form=c.form, persons=c.persons, form_ends=c.form_ends) for c in plan.chunks]
        conn.execute(insert(set_chunks), rows)
        conn.execute(update(set_chunks).where(_check_of(row.id)).values(persons=plan.persons,
                                                                        form_ends=len(plan.forms)))
        conn.execute(update(queries.file_sets).where(queries.file_sets.c.id == row.id)
                     .values(lease_until=None, claimed_by=None))
        queries.audit(conn, "chunked", now=now, set_id=row.id, ticket=row.ticket,
                      detail=f"{plan.persons} persons in {len(plan.forms)} declarations, {len(plan.chunks)} chunks")
    log.info("set %s cut into %d chunks of up to %d persons (%d persons, %d declarations)", row.ticket,
             len(plan.chunks), settings.chunk_persons, plan.persons, len(plan.forms),
             extra={"ticket": row.ticket, "stage": "planned", "set_id": row.id})


def _parts(conn: Connection, set_id: int) -> list[Path]:
    from cbss_batch.intake import read_name

    parts = []
    for f in queries.set_files(conn, set_id):
        name = read_name(Path(f.name)).name
        if name is not None and name.prefix == "FI":
            parts.append((name.part or 1, Path(f.archive_path)))
    return [path for _, path in sorted(parts)]


def process_chunk(settings: Settings, engine: Engine, today: date, now: datetime, claim: claims.ChunkClaim) -> str:
    """Process one claimed chunk; its new state (``done`` or ``failed``). LeaseLost if it was taken over."""
    with engine.connect() as conn:
        paths = _parts(conn, claim.set_id)
        # the schema check is offered before the plan exists and reads the whole document: no plan to load
        plan = None if claim.chunk == CHECK else plan_of(conn, claim.set_id)
        ticket = queries.set_row(conn, claim.set_id).ticket
    if claim.chunk == CHECK:
        problem = stream_validate(settings.xsd / DMFA_SCHEMA, paths, dmfa.ROOT, dmfa.STREAMED_BLOCKS)
        return _record(engine, claim, now, "done", {"valid": problem is None, "error": problem})
    if plan is None:
        raise InvalidDocument(f"set {claim.set_id} has chunks but no plan")
    span = plan.plan.chunks[claim.chunk - 1]
    reader = SegmentReader(paths, chunk_segments(plan.plan, span, dmfa.ROOT))
    source = cast(IO[bytes], reader)
    try:
        with fewer_collections(), engine.begin() as conn:
            result = load_chunk(
                conn, source, set_id=claim.set_id, first_form=span.form, cut_at_end=span.end is not None,
                declaration=plan.declaration, today=plan.ticket_day, batch_rows=settings.batch_rows,
                relation_class=settings.missing_employment_relation_class,
                person_counts=[f.persons for f in plan.plan.forms] if settings.calculate_contributions else None,
                structural_reduction=settings.structural_reduction,
                parameters=project_parameters(settings.parameters))
            if (result.persons, result.form_ends) != (span.persons, span.form_ends):
                raise InvalidDocument(f"read {result.persons} persons and {result.form_ends} declaration ends where "
                                      f"the plan counted {span.persons} and {span.form_ends}")
            crash_point("chunk-staged")  # the chunk's rows written, not committed
            claims.fence_chunk(conn, claim)
            _set_state(conn, claim, now, "done", {"shares": [s.as_json() for s in result.shares]})
    except (InvalidDocument, ValueError, LookupError, TypeError, AttributeError) as exc:
        log.info("set %s chunk %d could not be read as planned (%s); the set will be processed whole", ticket,
                 claim.chunk, exc, extra={"ticket": ticket, "stage": "chunk", "set_id": claim.set_id})
        return _record(engine, claim, now, "failed", {"error": f"{exc.__class__.__name__}: {exc}"[:2000]})
    finally:
        reader.close()
    log.info("set %s chunk %d/%d staged: %d persons, %d rows", ticket, claim.chunk, len(plan.plan.chunks),
             result.persons, result.rows, extra={"ticket": ticket, "stage": "chunk", "set_id": claim.set_id})
    return "done"


def _record(engine: Engine, claim: claims.ChunkClaim, now: datetime, state: str, result: dict[str, Any]) -> str:
    with engine.begin() as conn:
        claims.fence_chunk(conn, claim)
        _set_state(conn, claim, now, state, result)
    return state


def _set_state(conn: Connection, claim: claims.ChunkClaim, now: datetime, state: str, result: dict[str, Any]) -> None:
    conn.execute(update(set_chunks).where(and_(set_chunks.c.set_id == claim.set_id, set_chunks.c.chunk == claim.chunk))
                 .values(state=state, result=json.dumps(result, separators=(",", ":")), finished_at=now,
                         lease_until=None))


@dataclass(slots=True)
class ChunkedOutcome(DeclarationOutcome):
    """A declaration finished from chunk shares: its DMNO is assembled from the chunks' person elements."""

    fragments: list[bytes] = field(default_factory=list)
    dmno_errors: list[str] = field(default_factory=list)

    def dmno_body(self, now: datetime) -> bytes | None:
        if not self.is_accepted or not (self.fragments or self.dmno_errors):
            return None
        if self.dmno_errors:
            raise ValueError(self.dmno_errors[0])
        return dmno_from_fragments(self.header, ticket=self.ticket, declaration_pid=str(self.declaration_id),
                                   version=1, fragments=self.fragments, net_owed_declared=self.header.net_owed_amount,
                                   net_owed_corrected=self.net_owed_computed, now=now)


def needs_whole(conn: Connection, set_id: int) -> str | None:
    """Why a chunked set must be processed whole (schema check failed, a chunk failed), or None."""
    for chunk in conn.execute(select(set_chunks).where(set_chunks.c.set_id == set_id).order_by(set_chunks.c.chunk)):
        result = json.loads(chunk.result or "{}")
        if chunk.state == "failed":
            return f"chunk {chunk.chunk}: {result.get('error')}"
        if chunk.chunk == CHECK and not result.get("valid"):
            return f"the schema check failed: {result.get('error')}"
    return None


def abandon(engine: Engine, row: Any, plan: PlanRow, reason: str) -> None:
    """Delete what the chunks staged; the set is then processed whole (the plan stays, marked ``whole``)."""
    with engine.begin() as conn:
        claims.fence(conn, row.id)
        for table in reversed(STAGING_TABLES):
            conn.execute(delete(table).where(table.c.set_id == row.id))
        last = plan.first_declaration_id + plan.forms - 1
        conn.execute(delete(contribution_corrections).where(
            contribution_corrections.c.declaration_id.between(plan.first_declaration_id, last)))
        conn.execute(delete(declarations).where(declarations.c.set_id == row.id))
        conn.execute(delete(set_chunks).where(set_chunks.c.set_id == row.id))
        conn.execute(update(chunk_plans).where(chunk_plans.c.set_id == row.id).values(state="whole"))
    log.info("set %s is processed whole: %s", row.ticket, reason,
             extra={"ticket": row.ticket, "stage": "planned", "set_id": row.id})


def headers(paths: list[Path], plan: Plan) -> list[DmfaHeader]:
    """Every form's header, read from a document of the headers alone (lines as in the file)."""
    reader = SegmentReader(paths, header_segments(plan, dmfa.ROOT))
    try:
        return [event.header for event in read_dmfa(cast(IO[bytes], reader), None)
                if isinstance(event, DeclarationEnd)]
    finally:
        reader.close()


def merged_shares(conn: Connection, set_id: int, forms: int) -> list[DeclarationShare]:
    """Each declaration's shares added up, findings in document order."""
    total = [DeclarationShare(form) for form in range(1, forms + 1)]
    for chunk in conn.execute(select(set_chunks.c.result).where(and_(set_chunks.c.set_id == set_id,
                                                                     set_chunks.c.chunk != CHECK))
                              .order_by(set_chunks.c.chunk)):
        for data in json.loads(chunk.result)["shares"]:
            share = DeclarationShare.from_json(data)
            into = total[share.form - 1]
            for name in ("persons", "worker_records", "contributions", "students", "unrelated", "deductions",
                         "computed_contributions", "computed_students", "deduction_change", "unrelated_change"):
                setattr(into, name, getattr(into, name) + getattr(share, name))
            into.findings.extend(share.findings)
            into.dmno.extend(share.dmno)
            if share.dmno_error and not into.dmno_error:
                into.dmno_error = share.dmno_error
    return total


def repeated_insz(conn: Connection, plan: PlanRow, by_id: dict[int, DmfaHeader]) -> dict[int, list[Finding]]:
    """90017-006 for every repeat of an INSZ within a declaration, from the staged persons of all chunks."""
    last = plan.first_declaration_id + plan.forms - 1
    in_set = natural_persons.c.declaration_id.between(plan.first_declaration_id, last)
    repeated = (select(natural_persons.c.declaration_id, natural_persons.c.insz).where(in_set)
                .group_by(natural_persons.c.declaration_id, natural_persons.c.insz)
                .having(func.count() > 1).subquery())
    rows = conn.execute(
        select(natural_persons.c.declaration_id, natural_persons.c.insz, natural_persons.c.line,
               natural_persons.c.sequence)
        .join(repeated, and_(repeated.c.declaration_id == natural_persons.c.declaration_id,
                             repeated.c.insz == natural_persons.c.insz))
        .where(in_set)
        .order_by(natural_persons.c.declaration_id, natural_persons.c.line, natural_persons.c.sequence,
                  natural_persons.c.id))
    found: dict[int, list[Finding]] = {}
    checks: dict[int, DeclarationChecks] = {}
    for row in rows:
        declaration_id = int(row.declaration_id)
        check = checks.get(declaration_id)
        if check is None:
            check = checks[declaration_id] = DeclarationChecks(by_id[declaration_id])
        person = NaturalPerson(int(row.sequence or 0), row.insz, None, None, int(row.line or 0))
        found.setdefault(declaration_id, []).extend(check.add_person(person))
    for findings in found.values():
        findings.sort(key=lambda f: f.line or 0)
    return found


def finish_in(conn: Connection, settings: Settings, today: date, row: Any, plan: PlanRow, paths: list[Path],
              mandates: Mandates | None) -> LoadedSet:
    """The declarations of a chunked set with their final findings and figures; their rows updated in ``conn``."""
    header_list = headers(paths, plan.plan)
    if len(header_list) != plan.forms:
        raise InvalidDocument(f"the headers document has {len(header_list)} forms, the plan {plan.forms}")
    shares = merged_shares(conn, row.id, plan.forms)
    by_id = {plan.declaration(h.form_index)[0]: h for h in header_list}
    repeats = repeated_insz(conn, plan, by_id)
    parameters = project_parameters(settings.parameters)
    loaded = LoadedSet()
    for header, share in zip(header_list, shares, strict=True):
        declaration_id, ticket = plan.declaration(header.form_index)
        workers = plan.plan.forms[header.form_index - 1].persons if settings.calculate_contributions else None
        snapshot = _rate_snapshot(header, workers, parameters)
        review = DeclarationReview(header, today)  # its findings: the header rules
        if mandates is not None:
            review.findings.extend(check_mandate(
                mandates, noss_number=header.noss_number, company_id=header.company_id, on=today, line=header.line,
                path=(("NOSSRegistrationNbr", header.noss_number),)))
        review.findings.extend(share.findings)
        review.findings.extend(repeats.get(declaration_id, []))
        review.contributions, review.students = share.contributions, share.students
        review.unrelated, review.deductions = share.unrelated, share.deductions
        review.persons, review.worker_records = share.persons, share.worker_records
        totals = review.finish()
        outcome = ChunkedOutcome(declaration_id, header, ticket, review.findings, totals,
                                 fragments=share.dmno, dmno_errors=[share.dmno_error] if share.dmno_error else [])
        outcome.net_owed_computed = _net_owed(outcome, totals, share, snapshot is not None)
        conn.execute(update(declarations).where(declarations.c.id == declaration_id).values(
            parameter_versions=json.dumps(list(snapshot.parameter_versions)) if snapshot else None,
            net_owed_computed=outcome.net_owed_computed, persons=totals.persons,
            worker_records=totals.worker_records, accepted=outcome.is_accepted,
            result_code=1 if outcome.is_accepted else 0))
        loaded.declarations.append(outcome)
        loaded.rows += share.persons
    return loaded


def _net_owed(outcome: DeclarationOutcome, totals: DeclarationTotals, share: DeclarationShare,
              computed: bool) -> int:
    """The net amount owed as accepted, with 00015-007 when ours differs (as cbss_batch.loading does)."""
    if not computed:
        return totals.net_owed
    ours = max(0, share.computed_contributions + share.computed_students + totals.unrelated + share.unrelated_change
               - totals.deductions - share.deduction_change)
    if ours != outcome.header.net_owed_amount and not any(f.code == "00015-007" for f in outcome.findings):
        outcome.findings.append(net_owed_finding(outcome.header, ours))
    return ours


__all__ = ["REPEATED_INSZ", "PlanRow", "abandon", "cut_set", "finish_in", "needs_whole", "plan_of", "process_chunk",
           "record_plan"]
