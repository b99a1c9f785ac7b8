"""The personnel file: Dimona declarations checked and applied to employment periods, with history.

Forms are handled in file order inside the set's transaction, so a later form of the same file sees
the periods an earlier one created or changed. An accepted IN gets a new ``DimonaPeriodId`` that
the NOTI returns; OUT, UPDATE and CANCEL change the period they name and add a version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, and_, select, update

from cbss_batch.notify import DimonaImpact, NotiForm
from cbss_batch.parse.dimona import read_dimona
from cbss_batch.records import DimonaDeclaration, EmploymentPeriod, Fact, Finding
from cbss_batch.rules.dimona import (
    apply,
    canonical_period_id,
    check_against_personnel_file,
    check_declaration,
    new_period_id,
)
from cbss_batch.senders import Mandates, check_mandate
from cbss_batch.store.bulk import reserve_ids
from cbss_batch.store.queries import new_ticket
from cbss_batch.store.tables import dimona_declarations, employment_period_versions, employment_periods
from cbss_batch.xmlsafe import load_schema

MUTATIONS = {"IN": "new", "CANCEL": "cancelled"}  # what a period version means to an institution


@dataclass(slots=True)
class DimonaOutcome:
    """One handled Dimona form: its ticket, findings and the period it concerns afterwards."""

    declaration: DimonaDeclaration
    ticket: str
    findings: list[Finding]
    period: EmploymentPeriod | None
    declaration_id: int | None = None  # anomalies link DmfA declarations by id; Dimona forms by ticket
    changed_period: bool = False  # a new version of the period was stored

    @property
    def is_accepted(self) -> bool:
        return not any(f.is_blocking for f in self.findings)

    def noti_form(self) -> NotiForm:
        """This form as a NOTI ``Form``, with the period in ``DimonaImpactReport`` when there is one."""
        decl, period = self.declaration, self.period
        impact = None
        if period is not None and self.is_accepted:
            impact = DimonaImpact(period_id=period.period_id, worker_type=period.worker_type,
                                  joint_committee=period.joint_committee, starting_date=period.starting_date,
                                  starting_hour=None, ending_date=period.ending_date, ending_hour=None)
        return NotiForm(identification=decl.identification or "DIMONA", created_on=decl.created_on,
                        created_at=decl.created_at,
                        noss_number=decl.noss_number or (period.noss_number if period else None),
                        company_id=decl.company_id or (period.company_id if period else None), quarter=None,
                        ticket=self.ticket, accepted=self.is_accepted, findings=tuple(self.findings),
                        insz=decl.insz or (period.insz if period else None), dimona=impact)


@dataclass(slots=True)
class LoadedDimona:
    declarations: list[DimonaOutcome] = field(default_factory=list)
    rows: int = 0

    def findings_with_lines(self) -> list[DimonaOutcome]:
        return [d for d in self.declarations if any(f.line and not f.column for f in d.findings)]

    def facts(self) -> list[Fact]:
        """Every new period version: an IN is new, a CANCEL cancels, the rest change the period."""
        return [Fact("dimona", MUTATIONS.get(d.declaration.action, "changed"), d.ticket)
                for d in self.declarations if d.is_accepted and d.changed_period]


def load_dimona(conn: Connection, source: IO[bytes], *, set_id: int, schema_path: Path | None, today: date,
                now: datetime, mandates: Mandates | None = None) -> LoadedDimona:
    """Check every form against the rules and the personnel file, apply the accepted ones."""
    loaded = LoadedDimona()
    for decl in read_dimona(source, load_schema(schema_path) if schema_path else None):
        loaded.declarations.append(_handle(conn, decl, set_id=set_id, today=today, now=now, mandates=mandates))
        loaded.rows += 1
    return loaded


def _handle(conn: Connection, decl: DimonaDeclaration, *, set_id: int, today: date, now: datetime,
            mandates: Mandates | None) -> DimonaOutcome:
    ticket = new_ticket(conn, today)
    if not decl.action:
        empty = Finding(code="90059-134", tag="Form", line=decl.line,
                        message="the form declares nothing: it needs DimonaIn, DimonaOut, DimonaUpdate, "
                                "DimonaCancel or DailyRegistrationDeclaration")
        _record_declaration(conn, decl, set_id=set_id, ticket=ticket, accepted=False, period_id=None)
        return DimonaOutcome(decl, ticket, [empty], None)
    findings = list(check_declaration(decl, today))
    target = _period(conn, canonical_period_id(decl.period_id)) if decl.period_id else None
    insz = decl.insz or (target.insz if target else None)
    noss = decl.noss_number or (target.noss_number if target else None)
    company = decl.company_id or (target.company_id if target else None)
    others = _live_periods(conn, noss, company, insz, exclude=target.period_id if target else None) if insz else []
    findings += check_against_personnel_file(decl, target, others)
    if mandates is not None:
        findings += check_mandate(mandates, noss_number=noss, company_id=company, on=today, line=decl.line,
                                  path=(("NOSSRegistrationNbr", noss),) if noss else ())
    accepted = not any(f.is_blocking for f in findings)
    after = target
    if accepted:
        new_id = new_period_id(reserve_ids(conn, "dimona_period", 1)) if decl.action == "IN" else None
        after = apply(decl, target, new_id)
    declaration_id = _record_declaration(conn, decl, set_id=set_id, ticket=ticket, accepted=accepted,
                                         period_id=(after.period_id if after else decl.period_id))
    changed = accepted and after is not None and after != target
    if changed and after is not None:
        _store_period(conn, after, action=decl.action, declaration_id=declaration_id, now=now)
    return DimonaOutcome(decl, ticket, findings, after, changed_period=changed)


def _period(conn: Connection, period_id: str) -> EmploymentPeriod | None:
    row = conn.execute(select(employment_periods).where(employment_periods.c.period_id == period_id)).first()
    return _as_period(row) if row is not None else None


def _as_period(row: Any) -> EmploymentPeriod:
    return EmploymentPeriod(period_id=row.period_id, noss_number=row.noss_number, company_id=row.company_id,
                            insz=row.insz, worker_type=row.worker_type, joint_committee=row.joint_committee,
                            starting_date=row.starting_date, ending_date=row.ending_date,
                            is_cancelled=row.is_cancelled)


def _live_periods(conn: Connection, noss: str | None, company: str | None, insz: str,
                  *, exclude: str | None) -> list[EmploymentPeriod]:
    """The employer's live periods for this person (employer by NOSS number, else by company number)."""
    query = select(employment_periods).where(and_(employment_periods.c.insz == insz,
                                                  employment_periods.c.is_cancelled.is_(False)))
    if noss:
        query = query.where(employment_periods.c.noss_number == noss)
    elif company:
        query = query.where(employment_periods.c.company_id == company)
    if exclude:
        query = query.where(employment_periods.c.period_id != exclude)
    return [_as_period(row) for row in conn.execute(query.order_by(employment_periods.c.starting_date))]


def _record_declaration(conn: Connection, decl: DimonaDeclaration, *, set_id: int, ticket: str, accepted: bool,
                        period_id: str | None) -> int:
    result = conn.execute(dimona_declarations.insert().values(
        set_id=set_id, ticket=ticket, form_index=decl.form_index, action=decl.action, period_id=period_id,
        noss_number=decl.noss_number, company_id=decl.company_id, insz=decl.insz, worker_type=decl.worker_type,
        joint_committee=decl.joint_committee, starting_date=decl.starting_date, starting_hour=decl.starting_hour,
        ending_date=decl.ending_date, ending_hour=decl.ending_hour, planned_hours=decl.planned_hours,
        planned_days=decl.planned_days, sender_reference=decl.sender_reference, accepted=accepted,
        result_code=1 if accepted else 0, line=decl.line))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _store_period(conn: Connection, period: EmploymentPeriod, *, action: str, declaration_id: int,
                  now: datetime) -> None:
    """Write the period as it now stands and append the version to its history."""
    current = conn.execute(select(employment_periods.c.version).where(
        employment_periods.c.period_id == period.period_id)).scalar()
    version = (current or 0) + 1
    values = dict(noss_number=period.noss_number, company_id=period.company_id, insz=period.insz,
                  worker_type=period.worker_type, joint_committee=period.joint_committee,
                  starting_date=period.starting_date, ending_date=period.ending_date,
                  is_cancelled=period.is_cancelled, version=version, declaration_id=declaration_id)
    if current is None:
        conn.execute(employment_periods.insert().values(period_id=period.period_id, **values))
    else:
        conn.execute(update(employment_periods).where(employment_periods.c.period_id == period.period_id)
                     .values(**values))
    conn.execute(employment_period_versions.insert().values(
        period_id=period.period_id, version=version, action=action, declaration_id=declaration_id,
        worker_type=period.worker_type, joint_committee=period.joint_committee, starting_date=period.starting_date,
        ending_date=period.ending_date, is_cancelled=period.is_cancelled, recorded_at=now))
