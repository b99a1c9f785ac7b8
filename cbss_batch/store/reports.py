"""Read-only views for operators: status, the list of sets, one set or declaration in full."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from cbss_batch.errors import NotFound
from cbss_batch.store.tables import (
    anomalies,
    benefit_calculations,
    declarations,
    dimona_declarations,
    employment_period_versions,
    employment_periods,
    file_sets,
    natural_persons,
    outbound_messages,
    received_files,
    risk_declarations,
    runs,
    worker_records,
)


def _iso(value: Any) -> Any:
    return value.isoformat(sep=" ", timespec="seconds") if isinstance(value, datetime) else value


def status(conn: Connection) -> dict[str, Any]:
    """Counts of sets by state, pending answers and the last run."""
    by_state = {row[0]: int(row[1]) for row in conn.execute(
        select(file_sets.c.state, func.count()).group_by(file_sets.c.state))}
    pending = int(conn.execute(select(func.count()).select_from(outbound_messages)
                               .where(outbound_messages.c.state == "pending")).scalar() or 0)
    oldest_received = conn.execute(select(func.min(file_sets.c.received_at))
                                   .where(file_sets.c.state == "received")).scalar()
    last = conn.execute(select(runs).order_by(runs.c.id.desc()).limit(1)).first()
    failures = [
        {"ticket": r.ticket, "answer_name": r.answer_name, "reason": r.reason, "at": _iso(r.processed_at)}
        for r in conn.execute(select(file_sets).where(file_sets.c.state == "failed").order_by(file_sets.c.id))]
    return {
        "sets_by_state": by_state,
        "answers_pending": pending,
        "oldest_unprocessed_since": _iso(oldest_received),
        "last_run": None if last is None else {
            "started_at": _iso(last.started_at), "finished_at": _iso(last.finished_at), "status": last.status,
            "sets": last.sets, "declarations_accepted": last.declarations_accepted,
            "declarations_refused": last.declarations_refused, "message": last.message},
        "failures": failures,
    }


def list_sets(conn: Connection, *, state: str | None, mailbox: str | None, limit: int) -> list[dict[str, Any]]:
    """The most recent sets first, with their outcome."""
    query = select(file_sets).order_by(file_sets.c.id.desc()).limit(limit)
    if state:
        query = query.where(file_sets.c.state == state)
    if mailbox:
        query = query.where(file_sets.c.mailbox == mailbox)
    counts: dict[tuple[int, bool], int] = {}
    for table in (declarations, dimona_declarations, risk_declarations):
        for r in conn.execute(select(table.c.set_id, table.c.accepted, func.count())
                              .group_by(table.c.set_id, table.c.accepted)):
            key = (r[0], bool(r[1]))
            counts[key] = counts.get(key, 0) + int(r[2])
    return [{
        "ticket": r.ticket, "received_at": _iso(r.received_at), "mailbox": r.mailbox, "folder": r.folder,
        "name": r.answer_name, "type": r.file_type, "state": r.state, "acrf": r.error_codes or
        ("positive" if r.result_code == 1 else None), "declarations_accepted": counts.get((r.id, True), 0),
        "declarations_refused": counts.get((r.id, False), 0)} for r in conn.execute(query)]


def _anomaly_dicts(conn: Connection, **where: Any) -> list[dict[str, Any]]:
    query = select(anomalies).order_by(anomalies.c.id)
    for column, value in where.items():
        query = query.where(anomalies.c[column] == value) if value is not None else query.where(
            anomalies.c[column].is_(None))
    return [{"code": a.code, "class": a.anomaly_class, "message": a.message, "element": a.tag, "value": a.value,
             "line": a.line, "column": a.column,
             "path": {k: v for k, v in json.loads(a.path) if k != "INSS"} if a.path else None}
            for a in conn.execute(query)]


def show(conn: Connection, key: str) -> dict[str, Any]:
    """A set, a declaration (DmfA or Dimona) by ticket, or a person's history by INSZ."""
    row = conn.execute(select(file_sets).where(file_sets.c.ticket == key)).first()
    if row is not None:
        return _show_set(conn, row)
    decl = conn.execute(select(declarations).where(declarations.c.ticket == key)).first()
    if decl is not None:
        return _show_declaration(conn, decl)
    dimona = conn.execute(select(dimona_declarations).where(dimona_declarations.c.ticket == key)).first()
    if dimona is not None:
        return _show_dimona(conn, dimona)
    risk = conn.execute(select(risk_declarations).where(risk_declarations.c.ticket == key)).first()
    if risk is not None:
        return _show_risk(conn, risk)
    if len(key) == 11 and key.isascii() and key.isdigit():
        return _show_person(conn, key)
    raise NotFound(f"no set or declaration has ticket {key!r} (and it is not an INSZ); "
                   "`cbss-batch files` lists the tickets")


def _dimona_dict(d: Any) -> dict[str, Any]:
    return {"ticket": d.ticket, "action": d.action, "period_id": d.period_id, "accepted": d.accepted,
            "worker_type": d.worker_type, "joint_committee": d.joint_committee,
            "starting_date": _iso(d.starting_date), "ending_date": _iso(d.ending_date),
            "noss_number": d.noss_number, "company_id": d.company_id}


def _show_dimona(conn: Connection, d: Any) -> dict[str, Any]:
    parent = conn.execute(select(file_sets).where(file_sets.c.id == d.set_id)).one()
    return {"kind": "dimona", **_dimona_dict(d), "set_ticket": parent.ticket, "set_name": parent.answer_name,
            "form": d.form_index, "line": d.line, "anomalies": _anomaly_dicts(conn, ticket=d.ticket)}


def _risk_dict(r: Any) -> dict[str, Any]:
    return {"ticket": r.ticket, "scenario": r.scenario, "risk": r.risk_codes, "accepted": r.accepted,
            "noss_number": r.noss_number, "risk_starting_date": _iso(r.risk_starting_date),
            "accident_date": _iso(r.accident_date), "occupation_ending_date": _iso(r.occupation_ending_date),
            "reference_period": [_iso(r.reference_start), _iso(r.reference_end)],
            "remuneration_basis_amount": _euros(r.remuneration_basis_amount),
            "remuneration_time_unit": r.remuneration_time_unit}


def _show_risk(conn: Connection, r: Any) -> dict[str, Any]:
    parent = conn.execute(select(file_sets).where(file_sets.c.id == r.set_id)).one()
    benefits = [{"kind": b.kind, "phase": b.phase, "daily_amount": b.daily_amount, "daily_basis": b.daily_basis,
                 "cap_applied": b.cap_applied, "minimum_applied": b.minimum_applied,
                 "employer_supplement": b.employer_supplement, "paid_days_per_week": b.paid_days_per_week,
                 "parameters": json.loads(b.parameters), "notes": b.notes}
                for b in conn.execute(select(benefit_calculations)
                                      .where(benefit_calculations.c.risk_declaration_id == r.id)
                                      .order_by(benefit_calculations.c.id))]
    return {"kind": "risk", **_risk_dict(r), "set_ticket": parent.ticket, "set_name": parent.answer_name,
            "form": r.form_index, "line": r.line, "benefits": benefits,
            "anomalies": _anomaly_dicts(conn, ticket=r.ticket)}


def _show_person(conn: Connection, insz: str) -> dict[str, Any]:
    """Everything known of one person: employment periods with their versions, Dimona and DmfA declarations."""
    periods = []
    for p in conn.execute(select(employment_periods).where(employment_periods.c.insz == insz)
                          .order_by(employment_periods.c.starting_date)):
        versions = [{"version": v.version, "action": v.action, "starting_date": _iso(v.starting_date),
                     "ending_date": _iso(v.ending_date), "cancelled": v.is_cancelled,
                     "recorded_at": _iso(v.recorded_at)}
                    for v in conn.execute(select(employment_period_versions)
                                          .where(employment_period_versions.c.period_id == p.period_id)
                                          .order_by(employment_period_versions.c.version))]
        periods.append({"period_id": p.period_id, "noss_number": p.noss_number, "company_id": p.company_id,
                        "worker_type": p.worker_type, "joint_committee": p.joint_committee,
                        "starting_date": _iso(p.starting_date), "ending_date": _iso(p.ending_date),
                        "cancelled": p.is_cancelled, "versions": versions})
    dimona = [_dimona_dict(d) for d in conn.execute(
        select(dimona_declarations).where(dimona_declarations.c.insz == insz).order_by(dimona_declarations.c.id))]
    lines = [{"declaration": r.ticket, "quarter": r.quarter, "noss_number": r.noss_number, "accepted": r.accepted,
              "employer_class": r.employer_class, "worker_code": r.worker_code, "line": r.line,
              "versions": [r.version_from, r.version_to]}
             for r in conn.execute(
                 select(declarations.c.ticket, declarations.c.quarter, declarations.c.noss_number,
                        declarations.c.accepted, worker_records.c.employer_class, worker_records.c.worker_code,
                        worker_records.c.line, worker_records.c.version_from, worker_records.c.version_to)
                 .select_from(natural_persons.join(worker_records, worker_records.c.person_id == natural_persons.c.id)
                              .join(declarations, declarations.c.id == natural_persons.c.declaration_id))
                 .where(natural_persons.c.insz == insz).order_by(declarations.c.quarter, declarations.c.id))]
    risks = [_risk_dict(r) for r in conn.execute(
        select(risk_declarations).where(risk_declarations.c.insz == insz).order_by(risk_declarations.c.id))]
    if not periods and not dimona and not lines and not risks:
        raise NotFound("nothing is known of that INSZ: no Dimona period, no declaration")
    return {"kind": "person", "employment_periods": periods, "dimona_declarations": dimona,
            "dmfa_worker_lines": lines, "risk_declarations": risks}


def _show_set(conn: Connection, row: Any) -> dict[str, Any]:
    files = [{"name": f.name, "role": f.role, "part": f.part, "size": f.size, "sha256": f.sha256,
              "archive": f.archive_path} for f in conn.execute(
        select(received_files).where(received_files.c.set_id == row.id).order_by(received_files.c.name))]
    decls = [{"ticket": d.ticket, "form": d.form_index, "noss_number": d.noss_number, "company_id": d.company_id,
              "quarter": d.quarter, "persons": d.persons, "accepted": d.accepted,
              "net_owed_declared": _euros(d.net_owed_declared), "net_owed_computed": _euros(d.net_owed_computed)}
             for d in conn.execute(select(declarations).where(declarations.c.set_id == row.id)
                                   .order_by(declarations.c.form_index))]
    decls += [{"ticket": d.ticket, "form": d.form_index, "dimona": d.action, "period_id": d.period_id,
               "accepted": d.accepted} for d in conn.execute(
        select(dimona_declarations).where(dimona_declarations.c.set_id == row.id).order_by(dimona_declarations.c.id))]
    decls += [{"ticket": d.ticket, "form": d.form_index, "scenario": d.scenario, "risk": d.risk_codes,
               "accepted": d.accepted} for d in conn.execute(
        select(risk_declarations).where(risk_declarations.c.set_id == row.id).order_by(risk_declarations.c.id))]
    answers = [{"kind": m.kind, "name": m.name, "folder": f"{m.mailbox}/{m.folder}", "state": m.state,
                "sha256": m.sha256} for m in conn.execute(
        select(outbound_messages).where(outbound_messages.c.set_id == row.id).order_by(outbound_messages.c.id))]
    return {
        "kind": "set", "ticket": row.ticket, "mailbox": row.mailbox, "folder": row.folder, "name": row.answer_name,
        "type": row.file_type, "environment": row.environment, "state": row.state,
        "acrf": "positive" if row.result_code == 1 else (row.error_codes or None), "reason": row.reason,
        "duplicate_of": row.duplicate_of, "received_at": _iso(row.received_at),
        "processed_at": _iso(row.processed_at), "content_sha256": row.content_sha256, "files": files,
        "file_anomalies": _anomaly_dicts(conn, set_id=row.id, declaration_id=None), "declarations": decls,
        "answers": answers,
    }


def _show_declaration(conn: Connection, decl: Any) -> dict[str, Any]:
    parent = conn.execute(select(file_sets).where(file_sets.c.id == decl.set_id)).one()
    files = [f.name for f in conn.execute(select(received_files).where(received_files.c.set_id == parent.id)
                                          .order_by(received_files.c.name))]
    return {
        "kind": "declaration", "ticket": decl.ticket, "set_ticket": parent.ticket, "set_name": parent.answer_name,
        "files": files, "form": decl.form_index, "line": decl.line, "quarter": decl.quarter,
        "noss_number": decl.noss_number, "company_id": decl.company_id, "sender_reference": decl.sender_reference,
        "persons": decl.persons, "worker_records": decl.worker_records, "accepted": decl.accepted,
        "net_owed_declared": _euros(decl.net_owed_declared), "net_owed_computed": _euros(decl.net_owed_computed),
        "anomalies": _anomaly_dicts(conn, declaration_id=decl.id),
    }


def _euros(cents: int | None) -> str | None:
    if cents is None:
        return None
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"
