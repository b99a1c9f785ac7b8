"""Read-only views for operators: status, the list of sets, one set or declaration in full."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from datetime import datetime
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import Connection, Table, and_, case, func, inspect, select
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table

from cbss_batch.errors import BatchError, NotFound
from cbss_batch.ids import mask_insz
from cbss_batch.logging_setup import mask_text
from cbss_batch.store.claims import utc_now
from cbss_batch.store.tables import (
    anomalies,
    benefit_calculations,
    chunk_plans,
    contribution_corrections,
    contributions,
    declaration_versions,
    declarations,
    deductions,
    dimona_declarations,
    employment_period_versions,
    employment_periods,
    extracts,
    fact_events,
    file_sets,
    natural_persons,
    occupations,
    outbound_messages,
    received_files,
    remunerations,
    risk_declarations,
    runs,
    services,
    set_chunks,
    worker_records,
)


def _iso(value: Any) -> Any:
    return value.isoformat(sep=" ", timespec="seconds") if isinstance(value, datetime) else value


def status(conn: Connection, *, now: datetime | None = None, push_mailboxes: Collection[str] = (),
           push_institutions: Collection[str] = (), recent: int = 10) -> dict[str, Any]:
    """The backlog (sets by state, answers and extracts waiting, each with its oldest and that one's age in
    seconds at ``now``), the last run and the ``recent`` latest failures of sets and of runs.

    ``push_mailboxes``/``push_institutions``: the senders and institutions with an SFTP mailbox, whose
    answers or extracts not uploaded yet are waiting for a push.
    """
    now = now or datetime.now()
    states = {row[0]: {"sets": int(row[1]), "oldest_received_at": _iso(row[2]), "oldest_age_seconds": _age(now, row[2])}
              for row in conn.execute(select(file_sets.c.state, func.count(), func.min(file_sets.c.received_at))
                                      .group_by(file_sets.c.state).order_by(file_sets.c.state))}
    delivery = _waiting(conn, outbound_messages, outbound_messages.c.state == "pending", now)
    unpushed = and_(outbound_messages.c.pushed_at.is_(None), outbound_messages.c.mailbox.in_(sorted(push_mailboxes)))
    push = _waiting(conn, outbound_messages, unpushed, now)
    push["failing"] = _count(conn, outbound_messages, and_(unpushed, outbound_messages.c.push_error.is_not(None)))
    push["by_mailbox"] = {row[0]: int(row[1]) for row in conn.execute(
        select(outbound_messages.c.mailbox, func.count()).where(unpushed).group_by(outbound_messages.c.mailbox)
        .order_by(outbound_messages.c.mailbox))}
    extract_push = _waiting(conn, extracts, and_(extracts.c.pushed_at.is_(None),
                                                 extracts.c.institution.in_(sorted(push_institutions))), now)
    last = conn.execute(select(runs).order_by(runs.c.id.desc()).limit(1)).first()
    failures = [
        {"ticket": r.ticket, "answer_name": r.answer_name, "state": r.state, "mailbox": r.mailbox,
         "error_codes": r.error_codes, "reason": r.reason, "at": _iso(r.processed_at)}
        for r in conn.execute(select(file_sets).where(file_sets.c.state.in_(("failed", "rejected")))
                              .order_by(file_sets.c.id.desc()).limit(recent))]
    failed_runs = [_run_dict(r) for r in conn.execute(select(runs).where(runs.c.status.in_(("failed", "partial")))
                                                      .order_by(runs.c.id.desc()).limit(recent))]
    return {
        "sets_by_state": {state: item["sets"] for state, item in states.items()},
        "backlog": {
            "sets": states,
            "answers_pending_delivery": delivery,
            "answers_pending_push": push,
            "extracts_pending_delivery": _waiting(conn, extracts, extracts.c.state == "pending", now),
            "extracts_pending_push": extract_push,
            "chunks_pending": _chunks_pending(conn, now),
        },
        "answers_pending": delivery["count"],
        "oldest_unprocessed_since": states.get("received", {}).get("oldest_received_at"),
        "last_run": None if last is None else _run_dict(last),
        "failures": failures,
        "failed_runs": failed_runs,
    }


def _chunks_pending(conn: Connection, now: datetime) -> dict[str, Any]:
    """Chunks of large sets not yet processed (cbss_batch/chunking), with the oldest plan's time."""
    leased = case((set_chunks.c.lease_until > utc_now(), 1))  # lease times are UTC (store/claims.py)
    count, held, oldest = conn.execute(
        select(func.count(), func.count(leased), func.min(chunk_plans.c.created_at))
        .select_from(set_chunks.join(chunk_plans, chunk_plans.c.set_id == set_chunks.c.set_id))
        .where(set_chunks.c.state == "pending")).one()
    return {"count": int(count or 0), "held": int(held or 0), "oldest_created_at": _iso(oldest),
            "oldest_age_seconds": _age(now, oldest)}


def _run_dict(r: Any) -> dict[str, Any]:
    return {"id": r.id, "kind": r.kind, "started_at": _iso(r.started_at), "finished_at": _iso(r.finished_at),
            "status": r.status, "sets": r.sets, "declarations_accepted": r.declarations_accepted,
            "declarations_refused": r.declarations_refused, "message": r.message, "host": r.host, "pid": r.pid,
            "job": r.job}


def _age(now: datetime, then: datetime | None) -> int | None:
    return None if then is None else max(0, int((now - then).total_seconds()))


def _count(conn: Connection, table: Table, where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(where)).scalar() or 0)


def _waiting(conn: Connection, table: Table, where: Any, now: datetime) -> dict[str, Any]:
    """How many rows match and when the oldest of them was created."""
    count, oldest = conn.execute(select(func.count(), func.min(table.c.created_at)).where(where)).one()
    return {"count": int(count or 0), "oldest_created_at": _iso(oldest), "oldest_age_seconds": _age(now, oldest)}


# APScheduler's job store (cbss_batch.scheduler.JOBS_TABLE), read without loading APScheduler.
_SCHEDULER_JOBS = sql_table("apscheduler_jobs", sql_column("id"), sql_column("next_run_time"))


def scheduled_runs(conn: Connection, now: datetime) -> list[dict[str, Any]] | None:
    """The next run of every job in the scheduler's job store, soonest first, in local time and seconds from
    ``now`` (negative: overdue); None when no scheduler has ever run on this database (no job store)."""
    if not inspect(conn).has_table(_SCHEDULER_JOBS.name):
        return None
    result = []
    for job_id, epoch in conn.execute(select(_SCHEDULER_JOBS.c.id, _SCHEDULER_JOBS.c.next_run_time)
                                      .order_by(_SCHEDULER_JOBS.c.next_run_time, _SCHEDULER_JOBS.c.id)):
        at = None if epoch is None else datetime.fromtimestamp(float(epoch))  # UTC epoch → local, as runs are
        result.append({"job": job_id, "next_run_time": _iso(at),
                       "due_in_seconds": None if at is None else int((at - now).total_seconds())})
    return result


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


def _masked(text: str | None) -> str | None:
    """Stored texts can quote a refused value, an INSZ among them: shown with the number masked."""
    return mask_text(text) if text else text


def _anomaly_dicts(conn: Connection, **where: Any) -> list[dict[str, Any]]:
    query = select(anomalies).order_by(anomalies.c.id)
    for column, value in where.items():
        query = query.where(anomalies.c[column] == value) if value is not None else query.where(
            anomalies.c[column].is_(None))
    return [{"code": a.code, "class": a.anomaly_class, "message": _masked(a.message), "element": a.tag,
             "value": _masked(a.value),
             "line": a.line, "column": a.column,
             "path": {k: v for k, v in json.loads(a.path) if k != "INSS"} if a.path else None}
            for a in conn.execute(query)]


def show(conn: Connection, key: str) -> dict[str, Any]:
    """What ``key`` names, with its lineage: a set, a declaration of any type or a DmfA modification (by
    ticket), a person's history (by INSZ), an answer or an extract (by file name, ``SENDER/NAME`` or
    ``INSTITUTION/NAME`` when several have it), one record of an extract (``NAME:RECORD``), or the set
    a received file (``FI.…``, ``GO.…``) came in."""
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
    modification = conn.execute(select(declaration_versions).where(declaration_versions.c.ticket == key)).first()
    if modification is not None:
        return _show_modification(conn, modification)
    if len(key) == 11 and key.isascii() and key.isdigit():
        return _show_person(conn, key)
    found = _show_by_name(conn, key)
    if found is not None:
        return found
    raise NotFound(f"no set or declaration has ticket {key!r} (and it is not an INSZ, nor the name of an answer, "
                   "an extract or a received file); `cbss-batch files` lists the tickets")


def _dimona_dict(d: Any) -> dict[str, Any]:
    return {"ticket": d.ticket, "action": d.action, "period_id": d.period_id, "accepted": d.accepted,
            "worker_type": d.worker_type, "joint_committee": d.joint_committee,
            "starting_date": _iso(d.starting_date), "ending_date": _iso(d.ending_date),
            "noss_number": d.noss_number, "company_id": d.company_id}


def _show_dimona(conn: Connection, d: Any) -> dict[str, Any]:
    parent = conn.execute(select(file_sets).where(file_sets.c.id == d.set_id)).one()
    return {"kind": "dimona", **_dimona_dict(d), "set_ticket": parent.ticket, "set_name": parent.answer_name,
            "form": d.form_index, "line": d.line, "anomalies": _anomaly_dicts(conn, ticket=d.ticket),
            **_staging_and_source(conn, "dimona", d)}


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
            "anomalies": _anomaly_dicts(conn, ticket=r.ticket), **_staging_and_source(conn, "risk", r)}


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
                 .where(natural_persons.c.insz == insz)
                 # versions of a line in the order they were declared (PostgreSQL has no implicit row order)
                 .order_by(declarations.c.quarter, declarations.c.id, worker_records.c.version_from,
                           worker_records.c.id))]
    risks = [_risk_dict(r) for r in conn.execute(
        select(risk_declarations).where(risk_declarations.c.insz == insz).order_by(risk_declarations.c.id))]
    if not periods and not dimona and not lines and not risks:
        raise NotFound("nothing is known of that INSZ: no Dimona period, no declaration")
    return {"kind": "person", "employment_periods": periods, "dimona_declarations": dimona,
            "dmfa_worker_lines": lines, "risk_declarations": risks}


def _show_set(conn: Connection, row: Any) -> dict[str, Any]:
    files = _file_dicts(conn, row.id)
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
    decls += [{"ticket": d.ticket, "form": d.form_index, "modification": d.version, "quarter": d.quarter,
               "accepted": d.accepted} for d in conn.execute(
        select(declaration_versions).where(declaration_versions.c.set_id == row.id)
        .order_by(declaration_versions.c.id))]
    answers = [{"kind": m.kind, "name": m.name, "folder": f"{m.mailbox}/{m.folder}", "state": m.state,
                "sha256": m.sha256, "written_at": _iso(m.written_at), "pushed_at": _iso(m.pushed_at)}
               for m in conn.execute(
        select(outbound_messages).where(outbound_messages.c.set_id == row.id).order_by(outbound_messages.c.id))]
    return {
        "kind": "set", "ticket": row.ticket, "mailbox": row.mailbox, "folder": row.folder, "name": row.answer_name,
        "type": row.file_type, "environment": row.environment, "state": row.state,
        "acrf": "positive" if row.result_code == 1 else (row.error_codes or None), "reason": _masked(row.reason),
        "duplicate_of": row.duplicate_of, "received_at": _iso(row.received_at),
        "processed_at": _iso(row.processed_at), "content_sha256": row.content_sha256, "files": files,
        "file_anomalies": _anomaly_dicts(conn, set_id=row.id, declaration_id=None), "declarations": decls,
        "answers": answers, **_facts_and_extracts(conn, row.id),
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
        "anomalies": _anomaly_dicts(conn, declaration_id=decl.id), **_staging_and_source(conn, "dmfa", decl),
    }


# --- Lineage: answers and extracts back to the archived bytes, sets forward to the institutions -----------

LINEAGE_LIMIT = 20  # declarations followed to their archived file in the view of one extract
_FORM = "Form"  # the element every declaration, Dimona or social-risk form starts with
_EVENT_NBR = re.compile(rb"<EventNbr>(\d+)</EventNbr>")
_NAME = re.compile(r"(?:([^/:]+)/)?([^/:]+)(?::(\d+))?")


def _show_modification(conn: Connection, v: Any) -> dict[str, Any]:
    parent = conn.execute(select(file_sets).where(file_sets.c.id == v.set_id)).one()
    modified = conn.execute(select(declarations.c.ticket).where(declarations.c.id == v.declaration_id)).scalar()
    return {"kind": "modification", "ticket": v.ticket, "set_ticket": parent.ticket, "set_name": parent.answer_name,
            "declaration": modified, "version": v.version, "quarter": v.quarter, "noss_number": v.noss_number,
            "company_id": v.company_id, "lines_added": v.lines_added, "lines_changed": v.lines_changed,
            "lines_removed": v.lines_removed, "accepted": v.accepted, "form": v.form_index, "line": v.line,
            "anomalies": _anomaly_dicts(conn, ticket=v.ticket), **_staging_and_source(conn, "modification", v)}


def _find_declaration(conn: Connection, ticket: str) -> tuple[str, Any] | None:
    """The declaration of any type (or the DmfA modification) with this ticket, and its type."""
    for kind, table_ in (("dmfa", declarations), ("dimona", dimona_declarations), ("risk", risk_declarations),
                         ("modification", declaration_versions)):
        row = conn.execute(select(table_).where(table_.c.ticket == ticket)).first()
        if row is not None:
            return kind, row
    return None


def _set_declarations(conn: Connection, set_id: int) -> list[tuple[str, Any]]:
    """Every declaration staged from a set, with its type, in form order."""
    found = [(kind, row) for kind, table_ in (("dmfa", declarations), ("dimona", dimona_declarations),
                                              ("risk", risk_declarations), ("modification", declaration_versions))
             for row in conn.execute(select(table_).where(table_.c.set_id == set_id))]
    return sorted(found, key=lambda item: (item[1].form_index, item[1].id))


def _staging(conn: Connection, kind: str, row: Any) -> dict[str, int]:
    """The rows a declaration left in the store, per table."""
    counts: dict[str, int] = {}
    if kind == "dmfa":
        lines = select(worker_records.c.id).where(worker_records.c.declaration_id == row.id)
        jobs = select(occupations.c.id).where(occupations.c.worker_record_id.in_(lines))
        counts = {"declarations": 1,
                  "natural_persons": _count(conn, natural_persons, natural_persons.c.declaration_id == row.id),
                  "worker_records": _count(conn, worker_records, worker_records.c.declaration_id == row.id),
                  "occupations": _count(conn, occupations, occupations.c.worker_record_id.in_(lines)),
                  "services": _count(conn, services, services.c.occupation_id.in_(jobs)),
                  "remunerations": _count(conn, remunerations, remunerations.c.occupation_id.in_(jobs)),
                  "contributions": _count(conn, contributions, contributions.c.worker_record_id.in_(lines))
                  + _count(conn, contributions, and_(contributions.c.declaration_id == row.id,
                                                     contributions.c.worker_record_id.is_(None))),
                  "deductions": _count(conn, deductions, deductions.c.declaration_id == row.id),
                  "contribution_corrections": _count(conn, contribution_corrections,
                                                     contribution_corrections.c.declaration_id == row.id)}
    elif kind == "dimona":
        counts = {"dimona_declarations": 1, "employment_period_versions": _count(
            conn, employment_period_versions, employment_period_versions.c.declaration_id == row.id)}
    elif kind == "risk":
        counts = {"risk_declarations": 1, "benefit_calculations": _count(
            conn, benefit_calculations, benefit_calculations.c.risk_declaration_id == row.id)}
    else:
        same = worker_records.c.declaration_id == row.declaration_id
        opened = and_(same, worker_records.c.version_from == row.version)
        closed = and_(same, worker_records.c.version_to == row.version)
        counts = {"declaration_versions": 1,  # a refused modification made no version and changed no line
                  "worker_records": _count(conn, worker_records, opened) if row.version else 0,
                  "worker_records_closed": _count(conn, worker_records, closed) if row.version else 0}
    counts["anomalies"] = _count(conn, anomalies, anomalies.c.ticket == row.ticket)
    return counts


def _staging_and_source(conn: Connection, kind: str, row: Any) -> dict[str, Any]:
    source = _sources(conn, row.set_id, {row.line: _FORM}).get(row.line) if row.line else None
    return {"staging": _staging(conn, kind, row), "source": source}


def _lineages(conn: Connection, items: list[tuple[str, Any]],
              spots: dict[str, tuple[int | None, str | None]] | None = None) -> list[dict[str, Any]]:
    """Each declaration with its set, its staging rows per table and where it is in the archived file
    (``spots``: another line and element than the form's, per ticket); each set's file is read once."""
    wanted: dict[int, dict[int, str | None]] = {}
    lines = []
    for _, row in items:
        line, tag = (spots or {}).get(row.ticket, (row.line, _FORM))
        lines.append(line)
        if line:
            wanted.setdefault(row.set_id, {})[line] = tag
    located = {set_id: _sources(conn, set_id, spot) for set_id, spot in wanted.items()}
    tickets = {set_id: ticket for set_id, ticket in conn.execute(
        select(file_sets.c.id, file_sets.c.ticket).where(file_sets.c.id.in_(sorted({row.set_id for _, row in items}))))}
    return [{"ticket": row.ticket, "type": kind, "form": row.form_index, "accepted": row.accepted,
             "set_ticket": tickets.get(row.set_id), "staging": _staging(conn, kind, row),
             "source": located[row.set_id][line] if line else None}
            for (kind, row), line in zip(items, lines, strict=True)]


def _file_dicts(conn: Connection, set_id: int) -> list[dict[str, Any]]:
    return [{"name": f.name, "role": f.role, "part": f.part, "size": f.size, "sha256": f.sha256,
             "archive": f.archive_path} for f in conn.execute(
        select(received_files).where(received_files.c.set_id == set_id).order_by(received_files.c.name))]


def _sources(conn: Connection, set_id: int, wanted: dict[int, str | None]) -> dict[int, dict[str, Any]]:
    """For each line of a set's document (its FI parts read as one), the part it is in, with the line and
    column there (of the element's start tag); line and column are None when the archived copy is unreadable."""
    parts = list(conn.execute(select(received_files).where(received_files.c.set_id == set_id,
                                                           received_files.c.role == "FI")
                              .order_by(func.coalesce(received_files.c.part, 1))))
    spots = _locate([Path(p.archive_path) for p in parts], wanted)
    result = {}
    for line in wanted:
        part, local, column_ = spots.get(line, (0 if len(parts) == 1 else None, None, None))
        f = parts[part] if part is not None and parts else None
        result[line] = {"file": f.name if f else None, "sha256": f.sha256 if f else None,
                        "archive": f.archive_path if f else None, "line": local, "column": column_,
                        "document_line": line}
    return result


def _locate(paths: list[Path], wanted: dict[int, str | None]) -> dict[int, tuple[int, int, int]]:
    """Where each wanted line of the document made of ``paths`` is: (part index, line in that part, column of
    the element's start tag, else of the first non-blank character). Columns count characters."""
    found: dict[int, tuple[int, int, int]] = {}
    first_text: dict[int, tuple[int, int, int]] = {}
    if not wanted:
        return found
    patterns = {line: re.compile(rf"<{re.escape(tag)}[\s/>]") for line, tag in wanted.items() if tag}
    last, number, continued = max(wanted), 0, False
    for index, path in enumerate(paths):
        try:
            handle = path.open("rb")
        except OSError:
            break
        with handle:
            for local, segment in enumerate(handle, start=1):
                if not continued:  # a part that does not end with a newline continues its last line
                    number += 1
                if number > last:
                    return {**first_text, **found}
                continued = not segment.endswith(b"\n")
                if number not in wanted or number in found:
                    continue
                text = segment.decode("utf-8", "replace")
                match = patterns[number].search(text) if number in patterns else None
                if match is not None:
                    found[number] = (index, local, match.start() + 1)
                elif number not in first_text and text.strip():
                    first_text[number] = (index, local, len(text) - len(text.lstrip()) + 1)
    return {**first_text, **found}


def _facts_and_extracts(conn: Connection, set_id: int) -> dict[str, Any]:
    """The fact events a set recorded for the institutions, and the extracts that hold records of them."""
    events = list(conn.execute(select(fact_events).where(fact_events.c.set_id == set_id).order_by(fact_events.c.id)))
    holding: dict[int, list[str]] = {e.id: [] for e in events}
    listed = []
    if events:
        environment = {e.id: e.environment for e in events}
        candidates = conn.execute(select(extracts).where(
            extracts.c.environment.in_(sorted(set(environment.values()))), extracts.c.first_event <= events[-1].id,
            extracts.c.last_event >= events[0].id).order_by(extracts.c.id))
        for x in candidates:
            mine = [i for i, env in environment.items() if x.first_event <= i <= x.last_event and env == x.environment]
            counts = _event_records(Path(x.body_path), mine) if mine else {}
            held = [i for i in mine if counts is None or counts[i]]  # the others: its subscriptions left them out
            if not held:
                continue
            for i in held:
                holding[i].append(f"{x.institution}/{x.name}")
            listed.append({"institution": x.institution, "name": x.name, "environment": x.environment,
                           "state": x.state, "pushed_at": _iso(x.pushed_at), "events": held,
                           "records": None if counts is None else sum(counts[i] for i in held)})
    facts = [{"event": e.id, "kind": e.kind, "mutation": e.mutation, "ticket": e.ticket,
              "recorded_at": _iso(e.recorded_at), "extracts": holding[e.id]} for e in events]
    return {"facts": facts, "extracts": listed}


def _event_records(path: Path, events: Collection[int]) -> dict[int, int] | None:
    """How many records of each of these events an extract file holds; None when its kept copy is gone."""
    counts = dict.fromkeys(events, 0)
    try:
        handle = path.open("rb")
    except OSError:
        return None
    overlap = 64  # longer than any <EventNbr>…</EventNbr>: a match cut by a chunk end is found in the next
    tail = b""
    with handle:
        while True:
            chunk = handle.read(1 << 20)
            data = tail + chunk
            limit = len(data) - overlap if chunk else len(data)
            for match in _EVENT_NBR.finditer(data):
                if match.start() >= limit:
                    break
                number = int(match.group(1))
                if number in counts:
                    counts[number] += 1
            if not chunk:
                return counts
            tail = data[max(limit, 0):]


def _show_by_name(conn: Connection, key: str) -> dict[str, Any] | None:
    """An answer, an extract or an extract record, or the set of a received file, by file name."""
    match = _NAME.fullmatch(key)
    if match is None:
        return None
    owner, name, record = match.groups()
    if record is None:
        query = select(outbound_messages).where(outbound_messages.c.name == name)
        answers = list(conn.execute(query.where(outbound_messages.c.mailbox == owner) if owner else query))
        if answers:
            return _show_answer(conn, _only(answers, name, lambda m: f"{m.mailbox}/{m.name}"))
    query = select(extracts).where(extracts.c.name == name)
    found = list(conn.execute(query.where(extracts.c.institution == owner) if owner else query))
    if found:
        x = _only(found, name, lambda x: f"{x.institution}/{x.name}")
        return _show_extract_record(conn, x, int(record)) if record else _show_extract(conn, x)
    if record is not None or owner is not None:
        return None
    set_ids = list(conn.execute(select(received_files.c.set_id).where(received_files.c.name == name)
                                .distinct().order_by(received_files.c.set_id.desc())).scalars())
    if not set_ids:
        return None
    sets = {r.id: r for r in conn.execute(select(file_sets).where(file_sets.c.id.in_(set_ids)))}
    view = _show_set(conn, sets[set_ids[0]])
    view["other_sets_with_this_file"] = [sets[i].ticket for i in set_ids[1:]]
    return view


def _only(rows: list[Any], name: str, label: Any) -> Any:
    if len(rows) > 1:
        raise BatchError(f"{name} names {len(rows)} files: {', '.join(label(r) for r in rows)}; "
                         "give one of these")
    return rows[0]


def _show_answer(conn: Connection, m: Any) -> dict[str, Any]:
    """An answer, the set it answers, every declaration of that set (staging rows, place in the archived file)."""
    view: dict[str, Any] = {
        "kind": "answer", "name": m.name, "type": m.kind, "mailbox": m.mailbox, "folder": m.folder, "state": m.state,
        "created_at": _iso(m.created_at), "written_at": _iso(m.written_at), "pushed_at": _iso(m.pushed_at),
        "push_error": m.push_error, "sha256": m.sha256, "size": m.size, "body": m.body_path,
        "set_ticket": None, "set_name": None, "set_state": None, "declarations": [], "files": []}
    if m.set_id is not None:
        parent = conn.execute(select(file_sets).where(file_sets.c.id == m.set_id)).one()
        view.update(set_ticket=parent.ticket, set_name=parent.answer_name, set_state=parent.state,
                    declarations=_lineages(conn, _set_declarations(conn, parent.id)),
                    files=_file_dicts(conn, parent.id))
    return view


def _extract_dict(x: Any) -> dict[str, Any]:
    return {"institution": x.institution, "name": x.name, "environment": x.environment, "state": x.state,
            "records": x.records, "first_event": x.first_event, "last_event": x.last_event, "backfill": x.backfill,
            "created_at": _iso(x.created_at), "written_at": _iso(x.written_at), "pushed_at": _iso(x.pushed_at),
            "push_error": x.push_error, "sha256": x.sha256, "size": x.size, "body": x.body_path}


def _show_extract(conn: Connection, x: Any) -> dict[str, Any]:
    """An extract, the fact events it holds records of, and the first declarations behind them."""
    rows = list(conn.execute(
        select(fact_events, file_sets.c.ticket.label("set_ticket"), file_sets.c.answer_name.label("set_name"))
        .select_from(fact_events.join(file_sets, file_sets.c.id == fact_events.c.set_id))
        .where(fact_events.c.id.between(x.first_event, x.last_event), fact_events.c.environment == x.environment)
        .order_by(fact_events.c.id)))
    counts = _event_records(Path(x.body_path), [r.id for r in rows])
    events = [{"event": r.id, "kind": r.kind, "mutation": r.mutation, "ticket": r.ticket, "set_ticket": r.set_ticket,
               "set_name": r.set_name, "records": None if counts is None else counts[r.id]}
              for r in rows if counts is None or counts[r.id]]
    items = [found for e in events[:LINEAGE_LIMIT] if (found := _find_declaration(conn, e["ticket"])) is not None]
    return {"kind": "extract", **_extract_dict(x), "events": events, "declarations": _lineages(conn, items),
            "declarations_total": len(events)}


def _show_extract_record(conn: Connection, x: Any, number: int) -> dict[str, Any]:
    """One record of an extract as delivered, and the declaration line it came from in the archived file."""
    body = Path(x.body_path)
    if not body.is_file():
        raise NotFound(f"the kept copy of {x.name} ({body}) is gone; its records cannot be read")
    record = _read_record(body, number)
    if record is None:
        raise NotFound(f"{x.name} has no record {number}; it holds records 1 to {x.records}")
    lineage = record["lineage"]
    found = _find_declaration(conn, lineage["declaration_ticket"] or "")
    declaration = None
    if found is not None:
        worker_line = record["payload"]["type"] == "DmfAWorkerLine" and record["mutation"] != "cancelled"
        spot = (lineage["line"] or found[1].line, "WorkerRecord" if worker_line else _FORM)
        declaration = _lineages(conn, [found], {found[1].ticket: spot})[0]
    return {"kind": "extract_record", "institution": x.institution, "extract": x.name, **record,
            "declaration": declaration}


def _read_record(path: Path, number: int) -> dict[str, Any] | None:
    """Record ``number`` of an extract file, read as a stream; the INSZ masked."""
    with path.open("rb") as handle:
        for _, element in etree.iterparse(handle, events=("end",), tag="ExtractRecord", resolve_entities=False,
                                          no_network=True, load_dtd=False, huge_tree=False):
            if element.findtext("RecordNbr") == str(number):
                return _record_dict(element, number)
            element.clear()
            while element.getprevious() is not None:
                del element.getparent()[0]
    return None


def _record_dict(element: Any, number: int) -> dict[str, Any]:
    payload = element[4] if len(element) > 4 else None
    fields = {} if payload is None else {child.tag: mask_insz(child.text or "") if child.tag == "INSS" else child.text
                                         for child in payload if len(child) == 0}
    line = element.findtext("Lineage/LineNbr")
    return {"record": number, "event": int(element.findtext("EventNbr") or 0), "mutation": element.findtext("Mutation"),
            "lineage": {"declaration_ticket": element.findtext("Lineage/DeclarationTicket"),
                        "set_ticket": element.findtext("Lineage/SetTicket"),
                        "received_file_name": element.findtext("Lineage/ReceivedFileName"),
                        "line": int(line) if line else None},
            "payload": {"type": payload.tag if payload is not None else None, "fields": fields}}

def _euros(cents: int | None) -> str | None:
    if cents is None:
        return None
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"
