"""Staging of a DmfA original: streamed records → rules → bulk rows, in the caller's transaction.

Each declaration (``Form``) gets its own ticket and row; its persons, worker lines, occupations,
services, remunerations, contributions and deductions are written in batches with their source
line. Rules run as the records pass (header, person, then declaration totals), so a bad
declaration is refused on its own and the others in the file are unaffected.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from cbss_batch.calculate.contributions import (
    Employer,
    contributions_for_line,
    euros_to_cents,
    unrelated_contribution,
)
from cbss_batch.calculate.kernel import RateSnapshot, compute_line
from cbss_batch.calculate.parameters import Parameters, project_parameters
from cbss_batch.dmno import DeclarationCorrection, WorkerLineCorrection, dmno_bytes
from cbss_batch.errors import ConfigError
from cbss_batch.faults import crash_point
from cbss_batch.notify import NotiForm
from cbss_batch.parse.dmfa import DeclarationEnd, PersonRead, UnrelatedRead, read_dmfa
from cbss_batch.records import Contribution, DeclarationTotals, DmfaHeader, Fact, Finding, NaturalPerson, WorkerRecord
from cbss_batch.rules.amounts import compare_line, compare_structural_reduction
from cbss_batch.rules.dmfa import FirstOccurrence
from cbss_batch.rules.runner import DeclarationReview
from cbss_batch.schemas.files import schema
from cbss_batch.senders import Mandates, check_mandate
from cbss_batch.store.bulk import BulkWriter, IdSource
from cbss_batch.store.queries import employment_coverage, new_ticket
from cbss_batch.store.tables import (
    LEAF_TABLES,
    STAGING_TABLES,
    contribution_corrections,
    declarations,
    natural_persons,
)
from cbss_batch.xmlsafe import XmlProblem

__all__ = ["LoadedSet", "XmlProblem", "load_dmfa"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DeclarationOutcome:
    """One staged declaration with its ticket and findings."""

    declaration_id: int
    header: DmfaHeader
    ticket: str
    findings: list[Finding] = field(default_factory=list)
    totals: DeclarationTotals = field(default_factory=DeclarationTotals)
    corrections: list[WorkerLineCorrection] = field(default_factory=list)  # where our amounts replace declared
    net_owed_computed: int = 0  # cents, with the contributions as accepted

    @property
    def is_accepted(self) -> bool:
        return not any(f.is_blocking for f in self.findings)

    def correction(self, now_version: int = 1) -> DeclarationCorrection | None:
        """The DMNO content for this declaration, None when our figures equal the declared ones."""
        header = self.header
        if not self.is_accepted or (not self.corrections and self.net_owed_computed == header.net_owed_amount):
            return None
        if not self.corrections:
            return None  # only the total differs (deductions or employer-level lines): the NOTI says it
        return DeclarationCorrection(header=header, ticket=self.ticket, declaration_pid=str(self.declaration_id),
                                     version=now_version, lines=tuple(self.corrections),
                                     net_owed_declared=header.net_owed_amount,
                                     net_owed_corrected=self.net_owed_computed)

    def dmno_body(self, now: datetime) -> bytes | None:
        """The DMNO document of this declaration's corrections, None when there is none to send."""
        correction = self.correction()
        return dmno_bytes(correction, now=now) if correction is not None else None

    def noti_form(self) -> NotiForm:
        """This declaration as a NOTI ``Form``."""
        header = self.header
        return NotiForm(identification=header.identification, created_on=header.created_on,
                        created_at=header.created_at, noss_number=header.noss_number,
                        company_id=header.company_id, quarter=str(header.quarter), ticket=self.ticket,
                        accepted=self.is_accepted, findings=tuple(self.findings))


@dataclass(slots=True)
class LoadedSet:
    declarations: list[DeclarationOutcome] = field(default_factory=list)
    rows: int = 0

    def findings_with_lines(self) -> list[DeclarationOutcome]:
        return [d for d in self.declarations if any(f.line and not f.column for f in d.findings)]

    def facts(self) -> list[Fact]:
        """Every accepted declaration is a new fact (its worker lines go to the institutions)."""
        return [Fact("dmfa", "new", d.ticket) for d in self.declarations if d.is_accepted]


class _Declaration:
    """One declaration being staged: its row, ticket and the review of its rules."""

    def __init__(self, conn: Connection, header: DmfaHeader, set_id: int, declaration_id: int, today: date,
                 relation_class: str | None, workers: int | None, structural_reduction: bool = False,
                 mandates: Mandates | None = None, parameters: Parameters | None = None,
                 writer: BulkWriter | None = None, *, ticket: str | None = None) -> None:
        """``ticket`` given: a chunk of a large set stages part of this declaration (cbss_batch/chunking):
        the declaration's row may exist already, and the finishing step adds its header findings."""
        self.outcome = DeclarationOutcome(declaration_id, header, ticket or new_ticket(conn, today))
        self.parameters = parameters or project_parameters()
        self.snapshot = _rate_snapshot(header, workers, self.parameters)
        self.contributions = self.students = 0  # as accepted: ours where we compute them
        self.structural_reduction = structural_reduction and self.snapshot is not None
        self.employer = Employer(workers=workers or 0)
        self.deduction_change = 0  # ours minus declared structural reductions (cents)
        self.unrelated_change = 0  # ours minus declared employer-level contributions (cents)
        covered = (employment_coverage(conn, header.noss_number, header.company_id, header.quarter.start,
                                       header.quarter.end) if relation_class else None)
        self.review = DeclarationReview(header, today, covered=covered, relation_class=relation_class,
                                        first_occurrence=_first_occurrence(conn, writer, declaration_id)
                                        if writer is not None else None)
        if mandates is not None:
            self.review.findings.extend(check_mandate(
                mandates, noss_number=header.noss_number, company_id=header.company_id, on=today, line=header.line,
                path=(("NOSSRegistrationNbr", header.noss_number),)))
        self.header_findings = len(self.review.findings)
        statement = declarations.insert() if ticket is None else _insert_missing(conn)
        conn.execute(statement.values(
            id=declaration_id, set_id=set_id, ticket=self.outcome.ticket, form_index=header.form_index,
            message_type="DMFA", identification=header.identification, created_on=header.created_on,
            created_at=header.created_at, sender_reference=header.sender_reference, quarter=str(header.quarter),
            noss_number=header.noss_number, company_id=header.company_id, trusteeship=header.trusteeship,
            net_owed_declared=header.net_owed_amount, persons=0, worker_records=0, accepted=True, result_code=1,
            line=header.line))


def _insert_missing(conn: Connection) -> Any:
    """An insert of a declaration row that does nothing when another chunk inserted it first."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(declarations).on_conflict_do_nothing(index_elements=["id"])
    return sqlite.insert(declarations).on_conflict_do_nothing(index_elements=["id"])


def _first_occurrence(conn: Connection, writer: BulkWriter, declaration_id: int) -> FirstOccurrence:
    """Where a repeated INSZ was first declared: in the rows still buffered, else in the staged ones."""

    def find(insz: str) -> tuple[int, int] | None:
        for row in writer.rows["natural_persons"]:  # (id, declaration, set, sequence, insz, name, first name, line)
            if row[1] == declaration_id and row[4] == insz:
                return int(row[7]), int(row[3] or 0)
        found = conn.execute(select(natural_persons.c.line, natural_persons.c.sequence).where(
            natural_persons.c.declaration_id == declaration_id, natural_persons.c.insz == insz)
            .order_by(natural_persons.c.id).limit(1)).first()
        return (int(found.line), int(found.sequence or 0)) if found is not None else None

    return find


def _check_unrelated(decl: _Declaration, contribution: Contribution) -> None:
    """An employer-level contribution (870, 864/865) recomputed on its declared basis (CALCULATIONS.md §1.4):
    00022-044 (class P) when the declared amount differs; ours counts in what is owed."""
    header = decl.outcome.header
    ours = euros_to_cents(unrelated_contribution(contribution, header.quarter, decl.parameters).amount)
    decl.unrelated_change += ours - contribution.amount
    if ours != contribution.amount:
        decl.review.findings.append(Finding(
            code="00022-044", anomaly_class="P", tag="UnrelatedAmount", value=str(contribution.amount),
            line=contribution.line, path=(("NOSSRegistrationNbr", header.noss_number),
                                          ("UnrelatedWorkerCode", contribution.worker_code)),
            message=f"contribution {contribution.worker_code} declared {contribution.amount / 100:.2f} EUR, "
                    f"computed {ours / 100:.2f} EUR; the computed amount is used"))


def _structural_reduction_cents(record: WorkerRecord, decl: _Declaration) -> int:
    """Our structural reduction of a worker line (the reference calculation, CALCULATIONS.md §2), in cents."""
    result = contributions_for_line(record, decl.outcome.header.quarter, decl.employer, decl.parameters,
                                    structural_reduction=True)
    return sum(euros_to_cents(d.amount) for d in result.deductions if d.code == "3000" and not d.as_declared)


def _rate_snapshot(header: DmfaHeader, workers: int | None, parameters: Parameters) -> RateSnapshot | None:
    """The contribution rates for this declaration, or None when they cannot be computed.

    SIMPLIFIED: the employer's size is the number of workers in this declaration, and the employer
    is taken as commercial, profit-making and subject to unemployment insurance (category 1): the
    employer repertory is not available to us.
    """
    if workers is None:
        return None
    try:
        return RateSnapshot.build(header.quarter, Employer(workers=workers), parameters)
    except ConfigError as exc:
        log.warning("contributions of quarter %s are not computed: %s", header.quarter, exc)
        return None


def load_dmfa(conn: Connection, source: IO[bytes], *, set_id: int, schema_path: Path | None, today: date,
              batch_rows: int, relation_class: str | None = None,
              person_counts: list[int] | None = None, structural_reduction: bool = False,
              mandates: Mandates | None = None, parameters: Parameters | None = None) -> LoadedSet:
    """Stream, check and stage every declaration of a DmfA document; InvalidDocument on bad XML.

    With ``schema_path`` the stream is validated as it is read; without, the caller validates the
    same bytes elsewhere (in parallel) and must not commit before that check has passed.
    """
    writer = BulkWriter(conn, STAGING_TABLES, batch_rows, numbered_by_database=LEAF_TABLES)
    declaration_ids = IdSource(conn, "id:declarations", block=100)
    loaded = LoadedSet()
    current: _Declaration | None = None
    crashed_mid_load = False
    for event in read_dmfa(source, schema(schema_path) if schema_path else None):
        if current is None or current.outcome.header is not event.header:
            index = event.header.form_index - 1
            workers = person_counts[index] if person_counts is not None and index < len(person_counts) else None
            current = _Declaration(conn, event.header, set_id, declaration_ids.take(), today, relation_class, workers,
                                   structural_reduction, mandates, parameters, writer)
        if isinstance(event, PersonRead):
            _stage_person(writer, current, event.person, set_id)
            if not crashed_mid_load:
                crashed_mid_load = True
                crash_point("mid-load")  # the set's first rows written, the set far from finished
        elif isinstance(event, UnrelatedRead):
            c = event.contribution
            current.review.add_unrelated(c)
            writer.add("contributions", (current.outcome.declaration_id, None, set_id) + c)
            if current.snapshot is not None:
                _check_unrelated(current, c)
        elif isinstance(event, DeclarationEnd):
            _finish(conn, current)
            loaded.declarations.append(current.outcome)
            current = None
    writer.flush()
    loaded.rows = writer.written
    return loaded


def _stage_person(writer: BulkWriter, decl: _Declaration, person: NaturalPerson, set_id: int) -> None:
    """Append the person's rows; leaf rows are the records themselves behind their parent keys."""
    decl.review.add_person(person)
    decl_id = decl.outcome.declaration_id
    person_id = stage_natural_person(writer, person, decl_id, set_id)
    snapshot = decl.snapshot
    for record in person.worker_records:
        stage_worker_record(writer, record, person_id=person_id, declaration_id=decl_id, set_id=set_id)
        if snapshot is not None:
            # The common case (every computed contribution declared as we compute it) without the
            # ComputedAmount lines; anything else takes the full comparison below.
            agreed = snapshot.declared_as_computed(record)
            if agreed is not None:
                decl.contributions += agreed
            else:
                review = compare_line(decl.outcome.header, person, record, compute_line(record, snapshot))
                decl.review.findings.extend(review.findings)
                decl.contributions += review.contributions_cents
                decl.students += review.student_cents
                if review.corrections:
                    decl.outcome.corrections.append(WorkerLineCorrection(person.sequence, person.insz, record,
                                                                         review.corrections))
            if decl.structural_reduction:
                found, change = compare_structural_reduction(decl.outcome.header, person, record,
                                                             _structural_reduction_cents(record, decl))
                decl.review.findings.extend(found)
                decl.deduction_change -= change
    writer.flush_full()


def stage_natural_person(writer: BulkWriter, person: NaturalPerson, declaration_id: int, set_id: int) -> int:
    """Buffer one natural person row; its new key."""
    person_id = writer.ids["natural_persons"].take()
    writer.rows["natural_persons"].append((person_id, declaration_id, set_id, person.sequence, person.insz,
                                           person.name, person.first_name, person.line))
    return person_id


def stage_worker_record(writer: BulkWriter, record: WorkerRecord, *, person_id: int, declaration_id: int,
                        set_id: int, version: int = 1) -> None:
    """Buffer one worker line with its occupations, services, remunerations, contributions and deductions."""
    # Hot path (every worker line of a big file): the records unpacked positionally, dates written as
    # _iso writes them, leaf rows joined to their parent keys by map (no per-row Python frame).
    rows, ids = writer.rows, writer.ids
    (employer_class, worker_code, start, end, border, risk, local_unit, line, record_occupations,
     record_contributions, record_deductions) = record
    record_id = ids["worker_records"].take()
    rows["worker_records"].append((
        record_id, person_id, declaration_id, set_id, employer_class, worker_code,
        None if start is None or start == date.min else start.isoformat(),
        None if end is None or end == date.min else end.isoformat(),
        border, risk, local_unit, line, version, None))
    if record_occupations:
        occupations, deductions, take = rows["occupations"], rows["deductions"], ids["occupations"].take
        for occ in record_occupations:
            (sequence, occ_start, occ_end, committee, days_system, contract, ref_hours, hours, occ_unit, occ_line,
             occ_services, occ_remunerations, occ_deductions) = occ
            occ_id = take()
            occupations.append((occ_id, record_id, set_id, sequence,
                                None if occ_start is None or occ_start == date.min else occ_start.isoformat(),
                                None if occ_end is None or occ_end == date.min else occ_end.isoformat(),
                                committee, days_system, contract, ref_hours, hours, occ_unit, occ_line))
            occupation_head = (occ_id, set_id)
            if occ_services:
                rows["services"].extend(map(occupation_head.__add__, occ_services))
            if occ_remunerations:
                rows["remunerations"].extend(map(occupation_head.__add__, occ_remunerations))
            if occ_deductions:
                deductions.extend(map((declaration_id, record_id, occ_id, set_id).__add__, occ_deductions))
    if record_contributions:
        rows["contributions"].extend(map((declaration_id, record_id, set_id).__add__, record_contributions))
    if record_deductions:
        rows["deductions"].extend(map((declaration_id, record_id, None, set_id).__add__, record_deductions))


def _finish(conn: Connection, decl: _Declaration) -> None:
    outcome = decl.outcome
    totals = decl.review.finish()
    outcome.totals = totals
    outcome.findings = decl.review.findings
    outcome.net_owed_computed = totals.net_owed
    if decl.snapshot is not None:
        ours = max(0, decl.contributions + decl.students + totals.unrelated + decl.unrelated_change
                   - totals.deductions - decl.deduction_change)
        outcome.net_owed_computed = ours
        declared = outcome.header.net_owed_amount
        if ours != declared and not any(f.code == "00015-007" for f in outcome.findings):
            outcome.findings.append(net_owed_finding(outcome.header, ours))
    if decl.snapshot is not None:
        store_corrections(conn, outcome)
    conn.execute(update(declarations).where(declarations.c.id == outcome.declaration_id).values(
        parameter_versions=json.dumps(list(decl.snapshot.parameter_versions)) if decl.snapshot else None,
        net_owed_computed=outcome.net_owed_computed, persons=totals.persons, worker_records=totals.worker_records,
        accepted=outcome.is_accepted, result_code=1 if outcome.is_accepted else 0))


def net_owed_finding(header: DmfaHeader, ours: int) -> Finding:
    """00015-007 (class P): the declared net amount owed differs from ours, computed with the contributions
    as corrected; ours is owed."""
    declared = header.net_owed_amount
    return Finding(code="00015-007", anomaly_class="P", tag="NetOwedAmount", value=str(declared),
                   line=header.employer_line, path=(("NOSSRegistrationNbr", header.noss_number),),
                   message=f"declared {declared / 100:.2f} EUR, computed {ours / 100:.2f} EUR with the contributions "
                           "as corrected; the computed amount is owed")


def store_corrections(conn: Connection, outcome: DeclarationOutcome) -> None:
    """Keep our figures where they replace declared contributions (they are the ones used downstream)."""
    rows = [dict(declaration_id=outcome.declaration_id, insz=line.insz, employer_class=line.record.employer_class,
                 worker_code=line.record.worker_code, contribution_code=c.worker_code,
                 contribution_type=c.contribution_type, declared_basis=c.basis_declared,
                 declared_amount=c.amount_declared, corrected_basis=c.basis_corrected,
                 corrected_amount=c.amount_corrected)
            for line in outcome.corrections for c in line.contributions]
    if rows:
        conn.execute(contribution_corrections.insert(), rows)
