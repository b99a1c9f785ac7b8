"""From fact events to extract records: each event expanded into the records institutions receive.

- a DmfA declaration (``dmfa``/``new``): its worker lines of version 1, each new;
- a DmfA modification (``dmfa``/``changed``): the lines of the version it made — added (new),
  replacing a line (changed) — and the lines it removed (cancelled);
- a Dimona declaration (``dimona``): the period version it made (new for an IN, cancelled for a
  CANCEL, changed otherwise);
- a social-risk declaration (``risk``/``new``): the declaration with the benefits computed for it.
Worker lines are read in pages with their occupations, services and remunerations, so a declaration
of a million lines never sits in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, select

from cbss_batch.store.tables import (
    benefit_calculations,
    contribution_corrections,
    contributions,
    declaration_versions,
    declarations,
    dimona_declarations,
    employment_period_versions,
    employment_periods,
    file_sets,
    natural_persons,
    occupations,
    remunerations,
    risk_declarations,
    services,
    worker_records,
)

PAGE = 2000


@dataclass(frozen=True, slots=True)
class Lineage:
    declaration_ticket: str
    set_ticket: str
    file_name: str
    line: int | None


@dataclass(frozen=True, slots=True)
class Record:
    """One record of an extract: the fact, how it changes what the institution knows, where it came from."""

    event_id: int
    mutation: str
    lineage: Lineage
    kind: str  # dmfa | dimona | risk
    data: dict[str, Any]  # element name → value (None: left out), in schema order; nested lists for children
    joint_committees: frozenset[str]
    worker_code: str | None = None  # DmfA and social-risk worker code; the Dimona worker type
    scenario: str | None = None


def records_of(conn: Connection, event: Any) -> Iterator[Record]:
    """The records one fact event stands for, in a stable order."""
    if event.kind == "dmfa" and event.mutation == "new":
        yield from _dmfa_original(conn, event)
    elif event.kind == "dmfa" and event.mutation == "corrected":
        yield from _dmfa_corrected(conn, event)
    elif event.kind == "dmfa":
        yield from _dmfa_modification(conn, event)
    elif event.kind == "dimona":
        yield from _dimona(conn, event)
    elif event.kind == "risk":
        yield from _risk(conn, event)


def _set_of(conn: Connection, set_id: int) -> Any:
    return conn.execute(select(file_sets.c.ticket, file_sets.c.answer_name).where(file_sets.c.id == set_id)).one()


def _dmfa_original(conn: Connection, event: Any) -> Iterator[Record]:
    decl = conn.execute(select(declarations).where(declarations.c.ticket == event.ticket)).one()
    origin = _set_of(conn, decl.set_id)
    yield from _lines(conn, event, decl, origin, event.ticket, worker_records.c.version_from == 1,
                      lambda line: "new")


def _dmfa_corrected(conn: Connection, event: Any) -> Iterator[Record]:
    """Reprocessing changed a declaration's figures: its current lines, as now accepted, are changed."""
    decl = conn.execute(select(declarations).where(declarations.c.ticket == event.ticket)).one()
    origin = _set_of(conn, decl.set_id)
    yield from _lines(conn, event, decl, origin, event.ticket, worker_records.c.version_to.is_(None),
                      lambda line: "changed")


def _dmfa_modification(conn: Connection, event: Any) -> Iterator[Record]:
    version = conn.execute(select(declaration_versions).where(declaration_versions.c.ticket == event.ticket)).one()
    decl = conn.execute(select(declarations).where(declarations.c.id == version.declaration_id)).one()
    origin = _set_of(conn, version.set_id)
    v = version.version
    closed = {_line_key(r) for r in _line_rows(conn, decl.id, worker_records.c.version_to == v, 0, None)}
    opened: set[tuple[str, str | None, str]] = set()

    def mutation(line: Any) -> str:
        key = _line_key(line)
        opened.add(key)
        return "changed" if key in closed else "new"

    yield from _lines(conn, event, decl, origin, event.ticket, worker_records.c.version_from == v, mutation)
    removed = worker_records.c.version_to == v
    yield from _lines(conn, event, decl, origin, event.ticket, removed, lambda line: "cancelled",
                      keep=lambda line: _line_key(line) not in opened, fallback_line=version.line, version=v)


def _line_key(row: Any) -> tuple[str, str | None, str]:
    return row.insz, row.employer_class, row.worker_code


def _line_rows(conn: Connection, declaration_id: int, where: Any, after: int, limit: int | None) -> list[Any]:
    query = (select(worker_records, natural_persons.c.insz)
             .select_from(worker_records.join(natural_persons, natural_persons.c.id == worker_records.c.person_id))
             .where(and_(worker_records.c.declaration_id == declaration_id, where, worker_records.c.id > after))
             .order_by(worker_records.c.id))
    return list(conn.execute(query.limit(limit) if limit else query))


def _lines(conn: Connection, event: Any, decl: Any, origin: Any, ticket: str, where: Any, mutation: Any, *,
           keep: Any = None, fallback_line: int | None = None, version: int | None = None) -> Iterator[Record]:
    after = 0
    corrected = _corrections(conn, decl.id)
    while True:
        page = _line_rows(conn, decl.id, where, after, PAGE)
        if not page:
            return
        after = page[-1].id
        details = _occupations(conn, [line.id for line in page])
        paid = _contributions(conn, page, corrected)
        for line in page:
            if keep is not None and not keep(line):
                continue
            kind = mutation(line)
            occs = details.get(line.id, [])
            data = {
                "Quarter": decl.quarter, "NOSSRegistrationNbr": decl.noss_number, "CompanyID": decl.company_id,
                "INSS": line.insz, "EmployerClass": line.employer_class, "WorkerCode": line.worker_code,
                "DeclarationVersion": version or line.version_from,
                "Occupation": [] if kind == "cancelled" else [o for o, _ in occs],
                "WorkerContribution": [] if kind == "cancelled" else paid.get(line.id, []),
            }
            yield Record(event.id, kind, Lineage(ticket, origin.ticket, origin.answer_name,
                                                 fallback_line if kind == "cancelled" else line.line),
                         "dmfa", data, frozenset(jc for _, jc in occs if jc), worker_code=line.worker_code)


def _corrections(conn: Connection, declaration_id: int) -> dict[tuple[Any, ...], Any]:
    """Our figures where they replace declared contributions, by line and contribution."""
    return {(c.insz, c.employer_class, c.worker_code, c.contribution_code, c.contribution_type): c
            for c in conn.execute(select(contribution_corrections)
                                  .where(contribution_corrections.c.declaration_id == declaration_id))}


def _contributions(conn: Connection, page: Sequence[Any], corrected: dict[tuple[Any, ...], Any]
                   ) -> dict[int, list[dict[str, Any]]]:
    """Each line's contributions as accepted: declared, or ours where our calculation replaced them."""
    lines = {line.id: line for line in page}
    result: dict[int, list[dict[str, Any]]] = {}
    seen: set[tuple[Any, ...]] = set()
    for c in conn.execute(select(contributions).where(contributions.c.worker_record_id.in_(list(lines)))
                          .order_by(contributions.c.id)):
        line = lines[c.worker_record_id]
        key = (line.insz, line.employer_class, line.worker_code, c.worker_code, c.contribution_type)
        fix = corrected.get(key)
        seen.add(key)
        result.setdefault(line.id, []).append(_contribution(c.worker_code, c.contribution_type, c.basis, c.amount, fix))
    added = [key for key in corrected if key not in seen]  # due but not declared (90001-001)
    if added:
        by_line: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
        for key in added:
            by_line.setdefault(key[:3], []).append(key)
        for line in page:
            for key in by_line.get((line.insz, line.employer_class, line.worker_code), []):
                result.setdefault(line.id, []).append(_contribution(key[3], key[4], None, None, corrected[key]))
    return result


def _contribution(code: str, kind: str | None, basis: int | None, amount: int | None, fix: Any) -> dict[str, Any]:
    if fix is not None:
        basis, amount = (fix.corrected_basis if fix.corrected_basis is not None else basis), fix.corrected_amount
    return {"ContributionWorkerCode": code, "ContributionType": kind, "ContributionCalculationBasis": basis,
            "ContributionAmount": amount, "ContributionCorrected": fix is not None}


def _occupations(conn: Connection, line_ids: Sequence[int]) -> dict[int, list[tuple[dict[str, Any], str | None]]]:
    """Occupations (with services and remunerations) of these worker lines, per line, in order."""
    rows = list(conn.execute(select(occupations).where(occupations.c.worker_record_id.in_(line_ids))
                             .order_by(occupations.c.id)))
    occ_ids = [r.id for r in rows]
    svc: dict[int, list[dict[str, Any]]] = {}
    pay: dict[int, list[dict[str, Any]]] = {}
    for start in range(0, len(occ_ids), 5000):
        chunk = occ_ids[start:start + 5000]
        for s in conn.execute(select(services).where(services.c.occupation_id.in_(chunk)).order_by(services.c.id)):
            svc.setdefault(s.occupation_id, []).append(
                {"ServiceCode": s.code, "ServiceNbrDays": s.days, "ServiceNbrHours": s.hours})
        for r in conn.execute(select(remunerations).where(remunerations.c.occupation_id.in_(chunk))
                              .order_by(remunerations.c.id)):
            pay.setdefault(r.occupation_id, []).append(
                {"RemunCode": r.code, "RemunFrequency": r.bonus_frequency, "PercentagePaid": r.percentage_paid,
                 "RemunAmount": r.amount})
    result: dict[int, list[tuple[dict[str, Any], str | None]]] = {}
    for o in rows:
        result.setdefault(o.worker_record_id, []).append(({
            "OccupationSequenceNbr": o.sequence, "OccupationStartingDate": o.starting_date,
            "OccupationEndingDate": o.ending_date, "JointCommissionNbr": o.joint_committee,
            "WorkingDaysSystem": o.working_days_system, "ContractType": o.contract_type,
            "RefMeanWorkingHours": o.ref_mean_working_hours, "MeanWorkingHours": o.mean_working_hours,
            "Service": svc.get(o.id, []), "Remuneration": pay.get(o.id, []),
        }, o.joint_committee))
    return result


def _dimona(conn: Connection, event: Any) -> Iterator[Record]:
    decl = conn.execute(select(dimona_declarations).where(dimona_declarations.c.ticket == event.ticket)).one()
    version = conn.execute(select(employment_period_versions)
                           .where(employment_period_versions.c.declaration_id == decl.id)).one()
    period = conn.execute(select(employment_periods)
                          .where(employment_periods.c.period_id == version.period_id)).one()
    origin = _set_of(conn, decl.set_id)
    data = {
        "DimonaPeriodId": version.period_id, "DimonaAction": version.action, "PeriodVersion": version.version,
        "NOSSRegistrationNbr": period.noss_number, "CompanyID": period.company_id, "INSS": period.insz,
        "WorkerType": version.worker_type, "JointCommissionNbr": version.joint_committee,
        "StartingDate": version.starting_date, "StartingHour": version.starting_hour,
        "EndingDate": version.ending_date, "EndingHour": version.ending_hour,
        "PlannedHoursNbr": version.planned_hours,
    }
    yield Record(event.id, event.mutation, Lineage(event.ticket, origin.ticket, origin.answer_name, decl.line),
                 "dimona", data, frozenset([version.joint_committee] if version.joint_committee else []),
                 worker_code=version.worker_type)


def _risk(conn: Connection, event: Any) -> Iterator[Record]:
    decl = conn.execute(select(risk_declarations).where(risk_declarations.c.ticket == event.ticket)).one()
    origin = _set_of(conn, decl.set_id)
    benefits = [{
        "BenefitKind": b.kind, "BenefitPhase": b.phase, "DailyAmount": b.daily_amount, "DailyBasis": b.daily_basis,
        "CapApplied": b.cap_applied, "MinimumApplied": b.minimum_applied, "EmployerSupplement": b.employer_supplement,
        "PaidDaysPerWeek": b.paid_days_per_week, "ParameterVersions": b.parameters,
    } for b in conn.execute(select(benefit_calculations)
                            .where(benefit_calculations.c.risk_declaration_id == decl.id)
                            .order_by(benefit_calculations.c.id))]
    data = {
        "Scenario": decl.scenario, "IdentificationOfRisk": (decl.risk_codes or "").split(),
        "NOSSRegistrationNbr": decl.noss_number, "CompanyID": decl.company_id, "INSS": decl.insz,
        "WorkerCode": decl.worker_code, "JointCommissionNbr": decl.joint_committee,
        "RiskStartingDate": decl.risk_starting_date, "AccidentDate": decl.accident_date,
        "LastWorkingDayDate": decl.last_working_day, "WorkRecoveryDate": decl.work_recovery_date,
        "OccupationEndingDate": decl.occupation_ending_date,
        "RemunerationBasisAmount": decl.remuneration_basis_amount, "Benefit": benefits,
    }
    mutation = "changed" if event.mutation == "corrected" else event.mutation
    yield Record(event.id, mutation, Lineage(event.ticket, origin.ticket, origin.answer_name, decl.line),
                 "risk", data, frozenset([decl.joint_committee] if decl.joint_committee else []),
                 worker_code=decl.worker_code, scenario=decl.scenario)
