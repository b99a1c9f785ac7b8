"""Reprocessing: run validation and calculation again, with today's rules and parameters, on received sets.

- A set that **failed** for a system reason (state ``failed``) is processed again from the archive,
  as the intake would: staging, a new ACRF and its NOTI.
- An accepted **DmfA** set is read again from the archive inside a savepoint that is rolled back,
  which gives each declaration's result, anomalies, corrected contributions and net amount owed as
  they would be today; they are compared with what is stored.
- An accepted **social-risk** set gets its benefits computed again and compared.
``dry_run`` stops there and changes nothing. Applying a difference updates the stored figures in one
transaction per set together with new answers (a NOTI for the declarations whose result or anomalies
changed, a DMNO for changed corrections; old answer files are never rewritten) and a fact event so
the institutions receive the corrected figures. Applying twice changes nothing the second time:
there is no difference left.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, select, update

from cbss_batch import loading, pipeline, risks
from cbss_batch.calculate.benefits import benefits_for
from cbss_batch.calculate.parameters import project_parameters
from cbss_batch.config import Settings
from cbss_batch.dmno import dmno_bytes
from cbss_batch.errors import ConfigError, NotFound
from cbss_batch.intake import read_name
from cbss_batch.parse import dmfa, drs
from cbss_batch.records import Fact
from cbss_batch.schemas.files import DMFA_SCHEMA, scenario_schema_name
from cbss_batch.senders import load_senders
from cbss_batch.store import queries
from cbss_batch.store.tables import (
    anomalies,
    benefit_calculations,
    contribution_corrections,
    declaration_versions,
    declarations,
    dimona_declarations,
    file_sets,
    risk_declarations,
)
from cbss_batch.xmlsafe import load_schema

log = logging.getLogger(__name__)

CorrectionKey = tuple[str, str | None, str, str, str | None]  # INSZ, employer class, worker code, code, type


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection:
    """Which sets to reprocess; the criteria given are all required."""

    tickets: tuple[str, ...] = ()  # set tickets or declaration tickets
    sender: str | None = None
    quarter: str | None = None
    message_type: str | None = None
    failed: bool = False

    def is_empty(self) -> bool:
        return not (self.tickets or self.sender or self.quarter or self.message_type or self.failed)


@dataclass(slots=True)
class LineDelta:
    insz: str
    employer_class: str | None
    worker_code: str
    contribution: str  # code/type
    old_cents: int | None
    new_cents: int | None

    @property
    def delta_cents(self) -> int:
        return (self.new_cents or 0) - (self.old_cents or 0)


@dataclass(slots=True)
class DeclarationDelta:
    """What reprocessing changes for one declaration."""

    ticket: str
    kind: str  # dmfa | risk
    form_index: int
    old_accepted: bool
    new_accepted: bool
    old_codes: list[str]
    new_codes: list[str]
    old_net_owed: int | None = None
    new_net_owed: int | None = None
    lines: list[LineDelta] = field(default_factory=list)
    old_benefits: list[str] = field(default_factory=list)
    new_benefits: list[str] = field(default_factory=list)

    @property
    def changes(self) -> bool:
        return (self.old_accepted != self.new_accepted or self.old_codes != self.new_codes
                or self.old_net_owed != self.new_net_owed or bool(self.lines)
                or self.old_benefits != self.new_benefits)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ticket": self.ticket, "kind": self.kind, "form": self.form_index,
            "result": {"old": 1 if self.old_accepted else 0, "new": 1 if self.new_accepted else 0},
            "anomalies": {"old": self.old_codes, "new": self.new_codes,
                          "added": sorted(set(self.new_codes) - set(self.old_codes)),
                          "removed": sorted(set(self.old_codes) - set(self.new_codes))},
        }
        if self.kind == "dmfa":
            data["net_owed_cents"] = {"old": self.old_net_owed, "new": self.new_net_owed,
                                      "delta": (self.new_net_owed or 0) - (self.old_net_owed or 0)}
            data["lines"] = [{"insz": d.insz, "employer_class": d.employer_class, "worker_code": d.worker_code,
                              "contribution": d.contribution, "old_cents": d.old_cents, "new_cents": d.new_cents,
                              "delta_cents": d.delta_cents} for d in self.lines]
        else:
            data["benefits"] = {"old": self.old_benefits, "new": self.new_benefits}
        return data


@dataclass(slots=True)
class SetReport:
    ticket: str
    name: str
    action: str  # recomputed | processed-again | nothing-to-recompute
    declarations: list[DeclarationDelta] = field(default_factory=list)
    applied: bool = False
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ticket": self.ticket, "name": self.name, "action": self.action, "applied": self.applied,
                "note": self.note, "declarations": [d.as_dict() for d in self.declarations if d.changes]}


def select_sets(conn: Connection, selection: Selection) -> list[Any]:
    """The sets matching every criterion, oldest first."""
    if selection.is_empty():
        raise ConfigError("say what to reprocess: --ticket, --sender, --quarter, --type or --failed")
    query = select(file_sets).order_by(file_sets.c.id)
    if selection.tickets:
        tickets = list(selection.tickets)
        owners = select(declarations.c.set_id).where(declarations.c.ticket.in_(tickets)).union(
            select(risk_declarations.c.set_id).where(risk_declarations.c.ticket.in_(tickets)),
            select(dimona_declarations.c.set_id).where(dimona_declarations.c.ticket.in_(tickets)),
            select(declaration_versions.c.set_id).where(declaration_versions.c.ticket.in_(tickets)))
        query = query.where(file_sets.c.ticket.in_(tickets) | file_sets.c.id.in_(owners))
    if selection.sender:
        query = query.where(file_sets.c.mailbox == selection.sender)
    if selection.message_type:
        query = query.where(file_sets.c.file_type == selection.message_type)
    if selection.quarter:
        query = query.where(file_sets.c.id.in_(select(declarations.c.set_id)
                                                .where(declarations.c.quarter == selection.quarter)))
    if selection.failed:
        query = query.where(file_sets.c.state == "failed")
    rows = list(conn.execute(query))
    if not rows:
        raise NotFound("no received set matches what was asked to reprocess")
    return rows


def reprocess(settings: Settings, engine: Engine, clock: pipeline.Clock, selection: Selection, *,
              dry_run: bool) -> list[SetReport]:
    """Reprocess the selected sets; with ``dry_run`` only report what would change."""
    with engine.connect() as conn:
        rows = select_sets(conn, selection)
    reports = []
    for row in rows:
        if row.state == "failed":
            reports.append(_process_again(settings, engine, clock, row, dry_run))
        elif row.state == "accepted" and row.file_type == "DMFA":
            reports.append(_recompute_dmfa(settings, engine, clock, row, dry_run))
        elif row.state == "accepted" and row.file_type in drs.SCENARIO_TYPES.values():
            reports.append(_recompute_risks(settings, engine, clock, row, dry_run))
        else:
            reports.append(SetReport(row.ticket, row.answer_name, "nothing-to-recompute",
                                     note=f"a {row.state} {row.file_type or 'unnamed'} set has no calculation "
                                          "to run again"))
    if not dry_run:
        pipeline.deliver_pending(settings, engine, clock)
    return reports


def _process_again(settings: Settings, engine: Engine, clock: pipeline.Clock, row: Any,
                   dry_run: bool) -> SetReport:
    report = SetReport(row.ticket, row.answer_name, "processed-again",
                       note=f"failed before: {row.reason or 'no reason recorded'}")
    if dry_run:
        return report
    from cbss_batch.worker import process_claimed, worker_name

    with engine.begin() as conn:
        conn.execute(update(file_sets).where(file_sets.c.id == row.id).values(state="received"))
        queries.audit(conn, "reprocess", now=clock.now(), set_id=row.id, ticket=row.ticket, detail="after a failure")
    # Received again, the set is claimable: claimed here as a run claims it, or left to a worker that was quicker.
    outcome = process_claimed(settings, engine, clock, f"reprocess {worker_name()}", pipeline.RUN_LEASE_SECONDS,
                              row.id)
    report.applied = True
    report.note = f"{report.note}; now {outcome.state}" if outcome else f"{report.note}; taken by a worker"
    return report


def _fi_parts(conn: Connection, set_id: int) -> list[Path]:
    parts = []
    for f in queries.set_files(conn, set_id):
        name = read_name(Path(f.name)).name
        if name is not None and name.prefix == "FI":
            parts.append((name.part or 1, Path(f.archive_path)))
    return [path for _, path in sorted(parts)]


def _recompute_dmfa(settings: Settings, engine: Engine, clock: pipeline.Clock, row: Any, dry_run: bool) -> SetReport:
    report = SetReport(row.ticket, row.answer_name, "recomputed")
    sender = load_senders(settings.senders).get(row.mailbox)
    with engine.connect() as conn, conn.begin():
        paths = _fi_parts(conn, row.id)
        stored = {d.form_index: d for d in conn.execute(select(declarations).where(declarations.c.set_id == row.id))}
        savepoint = conn.begin_nested()
        with pipeline.chained_reader(paths) as source:
            loaded = loading.load_dmfa(
                conn, source, set_id=row.id, schema_path=settings.xsd / DMFA_SCHEMA, today=clock.today(),
                batch_rows=settings.batch_rows, relation_class=settings.missing_employment_relation_class,
                person_counts=dmfa.count_persons(paths) if settings.calculate_contributions else None,
                structural_reduction=settings.structural_reduction, mandates=sender.mandates if sender else None,
                parameters=project_parameters(settings.parameters))
        versions = {d.declaration_id: conn.execute(select(declarations.c.parameter_versions)
                                                   .where(declarations.c.id == d.declaration_id)).scalar()
                    for d in loaded.declarations}
        savepoint.rollback()
        changed = []
        for outcome in loaded.declarations:
            old = stored.get(outcome.header.form_index)
            if old is None:
                continue
            delta = _dmfa_delta(conn, old, outcome)
            report.declarations.append(delta)
            if delta.changes:
                changed.append((old, outcome, delta, versions[outcome.declaration_id]))
        if changed and not dry_run:
            _apply_dmfa(settings, conn, clock, row, changed)
            report.applied = True
    return report


def _stored_codes(conn: Connection, declaration_id: int) -> list[str]:
    return sorted(f"{r.code}/{r.anomaly_class}" for r in conn.execute(
        select(anomalies.c.code, anomalies.c.anomaly_class).where(anomalies.c.declaration_id == declaration_id)))


def _stored_corrections(conn: Connection, declaration_id: int) -> dict[CorrectionKey, Any]:
    return {(c.insz, c.employer_class, c.worker_code, c.contribution_code, c.contribution_type): c
            for c in conn.execute(select(contribution_corrections)
                                  .where(contribution_corrections.c.declaration_id == declaration_id))}


def _new_corrections(outcome: loading.DeclarationOutcome) -> dict[CorrectionKey, Any]:
    return {(line.insz, line.record.employer_class, line.record.worker_code, c.worker_code, c.contribution_type): c
            for line in outcome.corrections for c in line.contributions}


def _dmfa_delta(conn: Connection, old: Any, outcome: loading.DeclarationOutcome) -> DeclarationDelta:
    before, after = _stored_corrections(conn, old.id), _new_corrections(outcome)
    lines = []
    for key in sorted(set(before) | set(after), key=lambda k: tuple(str(x) for x in k)):
        was, now = before.get(key), after.get(key)
        declared = was.declared_amount if was is not None else now.amount_declared  # type: ignore[union-attr]
        old_cents = was.corrected_amount if was is not None else declared
        new_cents = now.amount_corrected if now is not None else declared
        if old_cents != new_cents:
            lines.append(LineDelta(key[0], key[1], key[2], f"{key[3]}/{key[4]}", old_cents, new_cents))
    return DeclarationDelta(
        ticket=old.ticket, kind="dmfa", form_index=old.form_index, old_accepted=bool(old.accepted),
        new_accepted=outcome.is_accepted, old_codes=_stored_codes(conn, old.id),
        new_codes=sorted(f"{f.code}/{f.anomaly_class}" for f in outcome.findings),
        old_net_owed=old.net_owed_computed, new_net_owed=outcome.net_owed_computed, lines=lines)


def _apply_dmfa(settings: Settings, conn: Connection, clock: pipeline.Clock, row: Any,
                changed: list[tuple[Any, loading.DeclarationOutcome, DeclarationDelta, str | None]]) -> None:
    now = clock.now()
    for old, outcome, delta, parameter_versions in changed:
        outcome.declaration_id, outcome.ticket = old.id, old.ticket  # the declaration keeps its identity
        conn.execute(update(declarations).where(declarations.c.id == old.id).values(
            accepted=outcome.is_accepted, result_code=1 if outcome.is_accepted else 0,
            net_owed_computed=outcome.net_owed_computed, parameter_versions=parameter_versions))
        conn.execute(delete(anomalies).where(anomalies.c.declaration_id == old.id))
        queries.insert_anomalies(conn, row.id, old.id, outcome.findings, ticket=old.ticket)
        conn.execute(delete(contribution_corrections).where(contribution_corrections.c.declaration_id == old.id))
        loading.store_corrections(conn, outcome)
        if delta.lines:
            correction = outcome.correction(now_version=int(old.current_version or 1))
            if correction is not None:
                pipeline.queue_answer(settings, conn, clock, row, "DMNO", dmno_bytes(correction, now=now),
                                      parts=(1, 1))
        queries.audit(conn, "reprocessed", now=now, set_id=row.id, ticket=old.ticket,
                      detail=json.dumps(delta.as_dict())[:2000])
    pipeline.queue_noti(settings, conn, clock, row, _Loaded([outcome for _, outcome, _, _ in changed]), now)
    queries.record_facts(conn, [Fact("dmfa", "corrected", old.ticket) for old, outcome, _, _ in changed
                                if outcome.is_accepted],
                         set_id=row.id, environment=row.environment, now=now)


@dataclass(slots=True)
class _Loaded:
    declarations: list[Any]


def _benefit_lines(results: list[Any]) -> list[str]:
    return [f"{r.kind}/{r.phase or '-'}: {r.daily_amount} EUR a day" for r in results]


def _recompute_risks(settings: Settings, engine: Engine, clock: pipeline.Clock, row: Any, dry_run: bool) -> SetReport:
    report = SetReport(row.ticket, row.answer_name, "recomputed")
    parameters = project_parameters(settings.parameters)
    with engine.connect() as conn, conn.begin():
        paths = _fi_parts(conn, row.id)
        stored = {r.form_index: r for r in conn.execute(select(risk_declarations).where(and_(
            risk_declarations.c.set_id == row.id, risk_declarations.c.accepted.is_(True))))}
        if not stored:
            report.action = "nothing-to-recompute"
            return report
        root = next(iter(stored.values())).scenario
        schema = load_schema(settings.xsd / scenario_schema_name(settings.xsd, root))
        with pipeline.chained_reader(paths) as source:
            for decl in drs.read_drs(source, root, schema):
                old = stored.get(decl.form_index)
                if old is None:
                    continue
                try:
                    results = list(benefits_for(decl, parameters))
                except ConfigError as exc:
                    log.warning("no benefit computed for %s form %d: %s", decl.scenario, decl.form_index, exc)
                    results = []
                before = [f"{b.kind}/{b.phase or '-'}: {b.daily_amount} EUR a day" for b in conn.execute(
                    select(benefit_calculations).where(benefit_calculations.c.risk_declaration_id == old.id)
                    .order_by(benefit_calculations.c.id))]
                delta = DeclarationDelta(ticket=old.ticket, kind="risk", form_index=old.form_index,
                                         old_accepted=True, new_accepted=True, old_codes=[], new_codes=[],
                                         old_benefits=before, new_benefits=_benefit_lines(results))
                report.declarations.append(delta)
                if delta.changes and not dry_run:
                    conn.execute(delete(benefit_calculations)
                                 .where(benefit_calculations.c.risk_declaration_id == old.id))
                    risks.store_benefits(conn, old.id, results)
                    queries.record_facts(conn, [Fact("risk", "corrected", old.ticket)], set_id=row.id,
                                         environment=row.environment, now=clock.now())
                    queries.audit(conn, "reprocessed", now=clock.now(), set_id=row.id, ticket=old.ticket,
                                  detail=json.dumps(delta.as_dict())[:2000])
                    report.applied = True
    return report
