"""Staging one chunk of a large DmfA set: its persons' rows, and its share of each declaration it touches.

The chunk runs the same person rules and calculations as a whole-set load (cbss_batch/loading.py)
and writes the same rows. What belongs to a declaration as a whole — header rules, mandates,
repeated INSZ across the declaration, the declaration totals' rules, the net amount owed — is left to
the finishing step, which adds up the shares (``DeclarationShare``) of every chunk.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any

from sqlalchemy import Connection

from cbss_batch.calculate.parameters import Parameters
from cbss_batch.dmno import person_fragments
from cbss_batch.loading import _check_unrelated, _Declaration, _stage_person, store_corrections
from cbss_batch.parse.dmfa import DeclarationEnd, InvalidDocument, PersonRead, UnrelatedRead, read_dmfa
from cbss_batch.records import DmfaHeader, Finding
from cbss_batch.store.bulk import BulkWriter
from cbss_batch.store.tables import LEAF_TABLES, STAGING_TABLES

REPEATED_INSZ = "90017-006"  # decided over the whole declaration when the chunks are finished


@dataclass(slots=True)
class DeclarationShare:
    """What one chunk found for one declaration (amounts in cents)."""

    form: int
    persons: int = 0
    worker_records: int = 0
    contributions: int = 0  # declared worker contributions
    students: int = 0
    unrelated: int = 0
    deductions: int = 0
    computed_contributions: int = 0  # as accepted: ours where we compute them
    computed_students: int = 0
    deduction_change: int = 0
    unrelated_change: int = 0
    findings: list[Finding] = field(default_factory=list)
    dmno: list[bytes] = field(default_factory=list)  # NaturalPersonUpdateNotif elements
    dmno_error: str | None = None  # why the corrections cannot be notified (raised if the declaration is accepted)

    def as_json(self) -> dict[str, Any]:
        return {
            "form": self.form, "persons": self.persons, "worker_records": self.worker_records,
            "contributions": self.contributions, "students": self.students, "unrelated": self.unrelated,
            "deductions": self.deductions, "computed_contributions": self.computed_contributions,
            "computed_students": self.computed_students, "deduction_change": self.deduction_change,
            "unrelated_change": self.unrelated_change,
            "findings": [finding_json(f) for f in self.findings],
            "dmno": [fragment.decode("utf-8") for fragment in self.dmno], "dmno_error": self.dmno_error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeclarationShare:
        share = cls(**{k: v for k, v in data.items() if k not in ("findings", "dmno")})
        share.findings = [finding_from_json(f) for f in data["findings"]]
        share.dmno = [fragment.encode("utf-8") for fragment in data["dmno"]]
        return share


def finding_json(finding: Finding) -> list[Any]:
    return [finding.code, finding.anomaly_class, finding.message, finding.tag, finding.value, finding.line,
            finding.column, [list(pair) for pair in finding.path]]


def finding_from_json(data: list[Any]) -> Finding:
    code, anomaly_class, message, tag, value, line, column, path = data
    return Finding(code=code, anomaly_class=anomaly_class, message=message, tag=tag, value=value, line=line,
                   column=column, path=tuple((str(k), str(v)) for k, v in path))


@dataclass(slots=True)
class ChunkResult:
    shares: list[DeclarationShare]
    persons: int
    form_ends: int  # declarations whose end the chunk read (not counting the one it was cut in)
    rows: int


def load_chunk(conn: Connection, source: IO[bytes], *, set_id: int, first_form: int, cut_at_end: bool,
               declaration: Callable[[int], tuple[int, str]], today: date, batch_rows: int,
               relation_class: str | None, person_counts: list[int] | None, structural_reduction: bool,
               parameters: Parameters) -> ChunkResult:
    """Stage the persons of one chunk document (cbss_batch/chunking/document.py) in the caller's transaction.

    ``declaration(form)`` gives the id and ticket the plan reserved for form ``form`` (1-based, whole
    document); ``cut_at_end``: the chunk ends inside a declaration (its last end tags were added).
    """
    writer = BulkWriter(conn, STAGING_TABLES, batch_rows, numbered_by_database=LEAF_TABLES)
    shares: list[DeclarationShare] = []
    current: _Declaration | None = None
    read_header: DmfaHeader | None = None  # the header as read (its form_index counts from the chunk's first form)
    persons = ends = 0
    for event in read_dmfa(source, None):
        if current is None or read_header is not event.header:
            read_header = event.header
            form = first_form + event.header.form_index - 1
            declaration_id, ticket = declaration(form)
            workers = person_counts[form - 1] if person_counts is not None and form <= len(person_counts) else None
            current = _Declaration(conn, dataclasses.replace(event.header, form_index=form), set_id, declaration_id,
                                   today, relation_class, workers, structural_reduction, None, parameters, None,
                                   ticket=ticket)
        if isinstance(event, PersonRead):
            _stage_person(writer, current, event.person, set_id)
            persons += 1
        elif isinstance(event, UnrelatedRead):
            contribution = event.contribution
            current.review.add_unrelated(contribution)
            writer.add("contributions", (current.outcome.declaration_id, None, set_id) + contribution)
            if current.snapshot is not None:
                _check_unrelated(current, contribution)
        elif isinstance(event, DeclarationEnd):
            shares.append(_share(conn, current, current.outcome.header.form_index))
            ends += 1
            current = None
    writer.flush()
    if cut_at_end:
        if not ends:
            raise InvalidDocument("the chunk did not end inside a declaration as planned")
        ends -= 1
    return ChunkResult(shares, persons, ends, writer.written)


def _share(conn: Connection, decl: _Declaration, form: int) -> DeclarationShare:
    review = decl.review
    share = DeclarationShare(
        form, persons=review.persons, worker_records=review.worker_records, contributions=review.contributions,
        students=review.students, unrelated=review.unrelated, deductions=review.deductions,
        computed_contributions=decl.contributions, computed_students=decl.students,
        deduction_change=decl.deduction_change, unrelated_change=decl.unrelated_change,
        findings=[f for f in review.findings[decl.header_findings:] if f.code != REPEATED_INSZ])
    if decl.snapshot is not None:
        store_corrections(conn, decl.outcome)
        try:
            share.dmno = person_fragments(decl.outcome.corrections, 1)
        except ValueError as exc:
            share.dmno_error = str(exc)
    return share
