"""DmfA modifications (DMWA): each form changes worker lines of an accepted declaration, as a new version.

The declaration a modification concerns is the accepted DmfA of the same employer (NOSS number or
company number) and quarter. Every version is kept: a worker line lives from the version that added
it until the one that changed or removed it (``version_from``/``version_to``); the current view is
the lines whose ``version_to`` is empty. A modification of an unknown or refused declaration, or of
a line that is not in its latest situation, is refused and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, and_, or_, select, update

from cbss_batch.ids import is_valid_insz, mask_insz
from cbss_batch.loading import stage_natural_person, stage_worker_record
from cbss_batch.notify import LineChange, NotiForm
from cbss_batch.parse.dmfa_update import read_dmfa_update
from cbss_batch.records import UPDATE_ACTIONS, DmfaModification, Fact, Finding, NaturalPerson, PersonUpdate
from cbss_batch.senders import Mandates, check_mandate
from cbss_batch.store.bulk import BulkWriter
from cbss_batch.store.queries import new_ticket
from cbss_batch.store.tables import (
    LEAF_TABLES,
    STAGING_TABLES,
    declaration_versions,
    declarations,
    natural_persons,
    worker_records,
)
from cbss_batch.xmlsafe import load_schema

DMWA_SCHEMA = "DmfAUpdate_20223.xsd"


@dataclass(slots=True)
class ModificationOutcome:
    """One handled modification form."""

    modification: DmfaModification
    ticket: str
    findings: list[Finding]
    changes: list[LineChange] = field(default_factory=list)
    version: int | None = None
    declaration_id: int | None = None  # anomalies link DmfA declarations by id; modifications by ticket

    @property
    def is_accepted(self) -> bool:
        return not any(f.is_blocking for f in self.findings)

    def noti_form(self) -> NotiForm:
        """The modification as a NOTI ``Form``: the lines it touched and a summary of what it did."""
        m = self.modification
        return NotiForm(identification=m.identification or "DMFAUPD", created_on=m.created_on,
                        created_at=m.created_at, noss_number=m.noss_number, company_id=m.company_id,
                        quarter=str(m.quarter), ticket=self.ticket, accepted=self.is_accepted,
                        findings=tuple(self.findings), changes=tuple(self.changes) if self.is_accepted else None,
                        version=self.version)


@dataclass(slots=True)
class LoadedModifications:
    declarations: list[ModificationOutcome] = field(default_factory=list)
    rows: int = 0

    def findings_with_lines(self) -> list[ModificationOutcome]:
        return [d for d in self.declarations if any(f.line and not f.column for f in d.findings)]

    def facts(self) -> list[Fact]:
        """Every accepted modification changes worker lines (new, changed or removed, per line)."""
        return [Fact("dmfa", "changed", d.ticket) for d in self.declarations if d.is_accepted and d.version]


def load_modifications(conn: Connection, source: IO[bytes], *, set_id: int, schema_path: Path | None, today: date,
                       batch_rows: int, mandates: Mandates | None = None) -> LoadedModifications:
    """Check every modification form and apply the accepted ones as new declaration versions."""
    loaded = LoadedModifications()
    for modification in read_dmfa_update(source, load_schema(schema_path) if schema_path else None):
        writer = BulkWriter(conn, STAGING_TABLES, batch_rows, numbered_by_database=LEAF_TABLES)
        outcome = _handle(conn, writer, modification, set_id=set_id, today=today, mandates=mandates)
        writer.flush()
        loaded.rows += writer.written
        loaded.declarations.append(outcome)
    return loaded


def _path(m: DmfaModification, person: PersonUpdate | None = None) -> tuple[tuple[str, str], ...]:
    keys = [("Quarter", str(m.quarter)), ("NOSSRegistrationNbr", m.noss_number)]
    if person is not None:
        keys.append(("INSS", person.insz))
    return tuple(keys)


def _target(conn: Connection, m: DmfaModification) -> tuple[Any | None, list[Finding]]:
    """The accepted declaration the modification concerns, or the finding that says why there is none."""
    employer = []
    if m.noss_number.strip("0"):
        employer.append(declarations.c.noss_number == m.noss_number)
    if m.company_id.strip("0"):
        employer.append(declarations.c.company_id == m.company_id)
    rows = list(conn.execute(select(declarations).where(and_(
        or_(*employer) if employer else declarations.c.id.is_(None), declarations.c.quarter == str(m.quarter)))
        .order_by(declarations.c.id.desc())))
    accepted = [r for r in rows if r.accepted]
    if accepted:
        return accepted[0], []
    code, why = ("90219-181", "was refused: correct it with a new original declaration") if rows else (
        "90219-151", "is not known: send the original declaration first")
    return None, [Finding(code=code, tag="EmployerDeclarationUpdate", line=m.line, path=_path(m),
                          message=f"the DmfA declaration of employer {m.noss_number} for quarter {m.quarter} {why}")]


def _current_lines(conn: Connection, declaration_id: int, insz: str) -> list[Any]:
    return list(conn.execute(
        select(worker_records.c.id, worker_records.c.employer_class, worker_records.c.worker_code,
               natural_persons.c.id.label("person_id"))
        .select_from(worker_records.join(natural_persons, natural_persons.c.id == worker_records.c.person_id))
        .where(and_(natural_persons.c.declaration_id == declaration_id, natural_persons.c.insz == insz,
                    worker_records.c.version_to.is_(None)))))


def _handle(conn: Connection, writer: BulkWriter, m: DmfaModification, *, set_id: int,
            today: date, mandates: Mandates | None) -> ModificationOutcome:
    outcome = ModificationOutcome(m, new_ticket(conn, today), [])
    if mandates is not None:
        outcome.findings.extend(check_mandate(mandates, noss_number=m.noss_number, company_id=m.company_id, on=today,
                                              line=m.line, path=_path(m)))
    target, findings = _target(conn, m)
    outcome.findings.extend(findings)
    plan: list[tuple[PersonUpdate, Any, Any, list[Any]]] = []  # (person, update, line to close, current lines)
    for person in m.persons:
        if not is_valid_insz(person.insz):
            outcome.findings.append(Finding(code="00024-004", tag="INSS", value=mask_insz(person.insz),
                                            line=person.line, path=_path(m, person),
                                            message=f"INSS {mask_insz(person.insz)} has invalid check digits"))
            continue
        current = _current_lines(conn, target.id, person.insz) if target is not None else []
        for u in person.updates:
            if u.action not in UPDATE_ACTIONS:
                outcome.findings.append(Finding(code="00618-008", tag="UpdateAction", value=str(u.action),
                                                line=u.line, path=_path(m, person),
                                                message="UpdateAction must be 0 (remove), 1 (change), 3 (add) or 9"))
                continue
            key = u.target or (u.record.employer_class, u.record.worker_code)
            match = next((c for c in current if (c.employer_class, c.worker_code) == key), None)
            if u.action in (0, 1, 9) and target is not None and match is None:
                outcome.findings.append(Finding(
                    code="00610-180", tag="LastSituationWR", value=f"{key[0]}/{key[1]}", line=u.line,
                    path=_path(m, person), message=f"no current worker line {key[0]}/{key[1]} for INSS "
                    f"{mask_insz(person.insz)} in this declaration: the modification must name its latest situation"))
            elif u.action == 3 and match is not None:
                outcome.findings.append(Finding(
                    code="90225-006", tag="WorkerRecordUpdateAction", value=f"{key[0]}/{key[1]}", line=u.line,
                    path=_path(m, person), message=f"worker line {key[0]}/{key[1]} already exists for INSS "
                    f"{mask_insz(person.insz)}: change it (UpdateAction 1) instead of adding it"))
            else:
                plan.append((person, u, match, current))
    if target is None or not outcome.is_accepted:
        _record(conn, outcome, m, set_id=set_id, declaration_id=target.id if target is not None else None)
        return outcome
    version = int(target.current_version) + 1
    persons: dict[str, int] = {}
    for person, u, match, current in plan:
        if u.action == 9:
            continue
        if match is not None:
            conn.execute(update(worker_records).where(worker_records.c.id == match.id).values(version_to=version))
        if u.action in (1, 3):
            person_id = (persons.get(person.insz) or (current[0].person_id if current else None)
                         or _existing_person(conn, target.id, person.insz))
            if person_id is None:
                person_id = stage_natural_person(writer, NaturalPerson(person.sequence, person.insz, None, None,
                                                                       person.line), target.id, set_id)
            persons[person.insz] = person_id
            stage_worker_record(writer, u.record, person_id=person_id, declaration_id=target.id, set_id=set_id,
                                version=version)
        action = UPDATE_ACTIONS[u.action] if not (u.action == 1 and match is None) else "added"
        outcome.changes.append(LineChange(action=action, sequence=person.sequence, insz=person.insz,
                                          employer_class=u.record.employer_class if u.action else match.employer_class,
                                          worker_code=u.record.worker_code if u.action else match.worker_code))
    conn.execute(update(declarations).where(declarations.c.id == target.id).values(current_version=version))
    outcome.version = version
    _record(conn, outcome, m, set_id=set_id, declaration_id=target.id)
    return outcome


def _existing_person(conn: Connection, declaration_id: int, insz: str) -> int | None:
    return conn.execute(select(natural_persons.c.id).where(and_(
        natural_persons.c.declaration_id == declaration_id, natural_persons.c.insz == insz)).limit(1)).scalar()


def _record(conn: Connection, outcome: ModificationOutcome, m: DmfaModification, *, set_id: int,
            declaration_id: int | None) -> None:
    counts = {a: sum(1 for c in outcome.changes if c.action == a) for a in ("added", "changed", "removed")}
    conn.execute(declaration_versions.insert().values(
        declaration_id=declaration_id, version=outcome.version, set_id=set_id, ticket=outcome.ticket,
        form_index=m.form_index, quarter=str(m.quarter), noss_number=m.noss_number, company_id=m.company_id,
        sender_pid=m.sender_pid, justification=m.justification, lines_added=counts["added"],
        lines_changed=counts["changed"], lines_removed=counts["removed"], accepted=outcome.is_accepted,
        result_code=1 if outcome.is_accepted else 0, line=m.line))
