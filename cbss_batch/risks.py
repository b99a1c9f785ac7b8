"""Social-risk declarations (DRS): each form checked, cross-checked with the personnel file, staged.

The wage data every scenario carries (``CalculationBaseAllowance``, reference periods, lost hours)
is stored in typed columns for the benefit calculation; all other declared zones are kept as JSON.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, and_, or_, select

from cbss_batch.calculate.benefits import benefits_for
from cbss_batch.calculate.parameters import Parameters, project_parameters
from cbss_batch.errors import ConfigError
from cbss_batch.notify import NotiForm
from cbss_batch.parse.drs import read_drs
from cbss_batch.records import Fact, Finding, RiskDeclaration
from cbss_batch.rules.drs import check_employment_relation, check_end_of_contract, check_risk_declaration
from cbss_batch.senders import Mandates, check_mandate
from cbss_batch.store.queries import new_ticket
from cbss_batch.store.tables import benefit_calculations, employment_periods, risk_declarations
from cbss_batch.xmlsafe import load_schema

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RiskOutcome:
    """One handled DRS form: its ticket and findings."""

    declaration: RiskDeclaration
    ticket: str
    findings: list[Finding]
    declaration_id: int | None = None

    @property
    def is_accepted(self) -> bool:
        return not any(f.is_blocking for f in self.findings)

    def noti_form(self) -> NotiForm:
        """This form as a NOTI ``Form``."""
        decl = self.declaration
        return NotiForm(identification=decl.identification or decl.scenario, created_on=decl.created_on,
                        created_at=decl.created_at, noss_number=decl.noss_number, company_id=decl.company_id,
                        quarter=None, ticket=self.ticket, accepted=self.is_accepted, findings=tuple(self.findings),
                        insz=decl.insz)


@dataclass(slots=True)
class LoadedRisks:
    declarations: list[RiskOutcome] = field(default_factory=list)
    rows: int = 0

    def findings_with_lines(self) -> list[RiskOutcome]:
        return [d for d in self.declarations if any(f.line and not f.column for f in d.findings)]

    def facts(self) -> list[Fact]:
        return [Fact("risk", "new", d.ticket) for d in self.declarations if d.is_accepted]


def load_risks(conn: Connection, source: IO[bytes], *, root: str, set_id: int, schema_path: Path | None, today: date,
               relation_class: str | None, mandates: Mandates | None = None,
               parameters: Parameters | None = None) -> LoadedRisks:
    """Check and stage every form of a DRS document."""
    loaded = LoadedRisks()
    for decl in read_drs(source, root, load_schema(schema_path) if schema_path else None):
        findings = list(check_risk_declaration(decl, today))
        if relation_class:
            findings += check_employment_relation(decl, _covered(conn, decl), relation_class)
        if decl.scenario == "WECH001":
            findings += check_end_of_contract(decl, _dimona_end(conn, decl))
        if mandates is not None:
            findings += check_mandate(mandates, noss_number=decl.noss_number, company_id=decl.company_id, on=today,
                                      line=decl.line)
        outcome = RiskOutcome(decl, new_ticket(conn, today), findings)
        risk_id = _record(conn, outcome, set_id)
        if outcome.is_accepted:
            _record_benefits(conn, risk_id, decl, parameters or project_parameters())
        loaded.declarations.append(outcome)
        loaded.rows += 1
    return loaded


def _employer(decl: RiskDeclaration) -> Any:
    clauses = []
    if decl.noss_number and decl.noss_number.strip("0"):
        clauses.append(employment_periods.c.noss_number == decl.noss_number)
    if decl.company_id and decl.company_id.strip("0"):
        clauses.append(employment_periods.c.company_id == decl.company_id)
    return or_(*clauses) if clauses else None


def _risk_day(decl: RiskDeclaration) -> date | None:
    """The day the risk concerns, to look for an employment relation covering it."""
    return (decl.risk_starting_date or decl.accident_date or decl.reference_start or decl.last_working_day
            or decl.occupation_ending_date or decl.work_recovery_date)


def _covered(conn: Connection, decl: RiskDeclaration) -> bool | None:
    """Whether a live Dimona period of the employer covers the risk day; None when it cannot be judged."""
    employer = _employer(decl)
    day = _risk_day(decl)
    if employer is None or day is None or not decl.insz:
        return None
    if conn.execute(select(employment_periods.c.id).where(employer).limit(1)).first() is None:
        return None  # an employer the personnel file does not know
    row = conn.execute(select(employment_periods.c.id).where(and_(
        employer, employment_periods.c.insz == decl.insz, employment_periods.c.is_cancelled.is_(False),
        employment_periods.c.starting_date <= day,
        or_(employment_periods.c.ending_date.is_(None), employment_periods.c.ending_date >= day))).limit(1)).first()
    return row is not None


def _dimona_end(conn: Connection, decl: RiskDeclaration) -> date | None:
    """The end date of the person's latest closed Dimona period with this employer, if any."""
    employer = _employer(decl)
    if employer is None or not decl.insz:
        return None
    return conn.execute(select(employment_periods.c.ending_date).where(and_(
        employer, employment_periods.c.insz == decl.insz, employment_periods.c.is_cancelled.is_(False),
        employment_periods.c.ending_date.is_not(None))).order_by(employment_periods.c.ending_date.desc())
        .limit(1)).scalar()


def _record(conn: Connection, outcome: RiskOutcome, set_id: int) -> int:
    d = outcome.declaration
    result = conn.execute(risk_declarations.insert().values(
        set_id=set_id, ticket=outcome.ticket, form_index=d.form_index, scenario=d.scenario,
        risk_codes=" ".join(d.risk_codes) or None, sender_reference=d.sender_reference, noss_number=d.noss_number,
        company_id=d.company_id, insz=d.insz, worker_code=d.worker_code, joint_committee=d.joint_committee,
        risk_starting_date=d.risk_starting_date, last_working_day=d.last_working_day,
        work_recovery_date=d.work_recovery_date, accident_date=d.accident_date,
        occupation_starting_date=d.occupation_starting_date, occupation_ending_date=d.occupation_ending_date,
        reference_start=d.reference_start, reference_end=d.reference_end,
        remuneration_time_unit=d.remuneration_time_unit, remuneration_basis_amount=d.remuneration_basis_amount,
        remuneration_cycle=d.remuneration_cycle, lost_hours=d.lost_hours, lost_wage=d.lost_wage,
        details=json.dumps([list(pair) for pair in d.details], ensure_ascii=False),
        accepted=outcome.is_accepted, result_code=1 if outcome.is_accepted else 0, line=d.line))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _record_benefits(conn: Connection, risk_id: int, decl: RiskDeclaration, parameters: Parameters) -> None:
    """Store the benefits per day the declaration opens (CALCULATIONS.md §3), with the parameter versions used.

    A declaration whose date falls where the parameters have no value (a period the configuration
    does not cover yet) gets none; the log says which parameter is missing.
    """
    try:
        results = benefits_for(decl, parameters)
    except ConfigError as exc:
        log.warning("no benefit computed for %s form %d: %s", decl.scenario, decl.form_index, exc)
        return
    store_benefits(conn, risk_id, results)


def store_benefits(conn: Connection, risk_id: int, results: Iterable[Any]) -> None:
    """Keep the benefits computed for a risk declaration, with the parameter versions used."""
    for r in results:
        conn.execute(benefit_calculations.insert().values(
            risk_declaration_id=risk_id, kind=r.kind, phase=r.phase, daily_amount=str(r.daily_amount),
            daily_basis=str(r.daily_basis), cap_applied=r.cap_applied, minimum_applied=r.minimum_applied,
            employer_supplement=str(r.employer_supplement), paid_days_per_week=r.paid_days_per_week,
            parameters=json.dumps(list(r.parameters)), notes="; ".join(r.notes) or None))
