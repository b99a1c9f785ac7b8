"""The sender-side check of ``cbss-batch validate``: the intake's engine without database or outbox.

Same order as the intake: prolog screening, file type from the name (when it follows the
protocol) against the root, streamed schema validation with the business rules, and — when the
document is invalid — the diagnostic pass that reports every problem with line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from cbss_batch.errors import FileNameError, RejectedFile
from cbss_batch.intake import read_name
from cbss_batch.loading import DMFA_SCHEMA, fill_columns, known_elements, schema
from cbss_batch.parse.dimona import read_dimona
from cbss_batch.parse.dmfa import DeclarationEnd, InvalidDocument, PersonRead, UnrelatedRead, read_dmfa
from cbss_batch.parse.drs import SCENARIO_TYPES, is_scenario_root, read_drs
from cbss_batch.personnel import DIMONA_SCHEMA
from cbss_batch.records import Finding
from cbss_batch.risks import schema_name as risk_schema_name
from cbss_batch.rules.dimona import check_declaration
from cbss_batch.rules.drs import check_risk_declaration
from cbss_batch.rules.runner import DeclarationReview
from cbss_batch.xmlsafe import diagnose, screen_prolog


@dataclass(slots=True)
class DeclarationReport:
    form_index: int
    noss_number: str
    company_id: str
    quarter: str | None
    persons: int
    net_owed_declared: int | None
    net_owed_computed: int | None
    findings: list[Finding] = field(default_factory=list)
    kind: str = "DmfA"

    @property
    def is_accepted(self) -> bool:
        return not any(f.is_blocking for f in self.findings)


@dataclass(slots=True)
class FileReport:
    """Everything found in one file: file-level problems and one report per declaration."""

    path: Path
    file_problems: list[Finding] = field(default_factory=list)
    declarations: list[DeclarationReport] = field(default_factory=list)

    @property
    def is_valid(self) -> bool:
        return not self.file_problems and all(d.is_accepted for d in self.declarations)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "valid": self.is_valid,
            "file_problems": [_finding_dict(f) for f in self.file_problems],
            "declarations": [
                {"form": d.form_index, "kind": d.kind, "noss_number": d.noss_number, "company_id": d.company_id,
                 "quarter": d.quarter, "persons": d.persons, "accepted": d.is_accepted,
                 "net_owed_declared": d.net_owed_declared, "net_owed_computed": d.net_owed_computed,
                 "anomalies": [_finding_dict(f) for f in d.findings]}
                for d in self.declarations],
        }


def _finding_dict(f: Finding) -> dict[str, Any]:
    return {"code": f.code, "class": f.anomaly_class, "message": f.message, "element": f.tag, "value": f.value,
            "line": f.line, "column": f.column, "path": {k: v for k, v in f.path if k != "INSS"} or None}


def check_file(path: Path, *, xsd_dir: Path, today: date) -> FileReport:
    """Validate one file (DmfA, Dimona or a DRS scenario) as the intake would; never raises for a bad file.

    Rules that need the personnel file (Dimona periods, cross-checks) are left to the intake.
    """
    report = FileReport(path)
    try:
        _check(path, report, xsd_dir, today)
    except RejectedFile as exc:
        report.file_problems.extend(Finding(code=f"ACRF-{c}", message=exc.reason) for c in exc.codes)
    except OSError as exc:
        report.file_problems.append(Finding(code="ACRF-134", message=f"cannot read the file: {exc.strerror}"))
    return report


def _check(path: Path, report: FileReport, xsd_dir: Path, today: date) -> None:
    size = path.stat().st_size
    if size == 0:
        raise RejectedFile(path.name, "the file is empty", ("134",))
    with path.open("rb") as handle:
        prolog = screen_prolog(handle.read(65536), path.name)
    root = prolog.root
    file_type = "DMFA" if root == "DmfAOriginal" else "DIMN" if root == "Dimona" else (
        SCENARIO_TYPES[root[:4]] if is_scenario_root(root) else None)
    if file_type is None:
        raise RejectedFile(path.name, f"root element {root} is not a message this version handles "
                                      "(DmfAOriginal, Dimona, a DRS scenario)", ("089",))
    named = read_name(path)
    if named.name is not None and named.name.file_type != file_type:
        raise RejectedFile(path.name, f"the name says {named.name.file_type} but the document is a {root}", ("158",))
    if named.error is not None and named.error.code != "129":
        report.file_problems.append(_name_finding(named.error))
    if file_type == "DMFA":
        _check_dmfa(path, report, xsd_dir, today, size)
    else:
        _check_forms(path, report, xsd_dir, today, size, root)


def _schema_problems(path: Path, report: FileReport, schema_path: Path, xsd_dir: Path, size: int,
                     exc: InvalidDocument) -> None:
    problems = diagnose(lambda: path.open("rb"), schema(schema_path), known_elements(xsd_dir), size=size,
                        max_tree_bytes=200_000_000) or []
    report.file_problems.extend(
        Finding(code=f"ACRF-{p.code}", message=p.message, tag=p.element, line=p.line, column=p.column)
        for p in problems)
    if not problems:
        report.file_problems.append(Finding(code="ACRF-102", message=str(exc)))


def _check_forms(path: Path, report: FileReport, xsd_dir: Path, today: date, size: int, root: str) -> None:
    """Dimona and DRS files: schema and the rules that need no personnel file, form by form."""
    schema_path = xsd_dir / (DIMONA_SCHEMA if root == "Dimona" else risk_schema_name(xsd_dir, root))
    try:
        with path.open("rb") as source:
            if root == "Dimona":
                for d in read_dimona(source, schema(schema_path)):
                    report.declarations.append(DeclarationReport(
                        form_index=d.form_index, noss_number=d.noss_number or "", company_id=d.company_id or "",
                        quarter=None, persons=1, net_owed_declared=None, net_owed_computed=None,
                        findings=check_declaration(d, today), kind=f"Dimona {d.action or '(empty)'}"))
            else:
                for r in read_drs(source, root, schema(schema_path)):
                    report.declarations.append(DeclarationReport(
                        form_index=r.form_index, noss_number=r.noss_number or "", company_id=r.company_id or "",
                        quarter=None, persons=1, net_owed_declared=None, net_owed_computed=None,
                        findings=check_risk_declaration(r, today), kind=f"{root} risk {' '.join(r.risk_codes)}"))
    except InvalidDocument as exc:
        report.declarations.clear()
        _schema_problems(path, report, schema_path, xsd_dir, size, exc)
        return
    if not report.declarations:
        raise RejectedFile(path.name, "the file contains no declaration", ("157",))
    fill_columns([path], report.declarations)


def _check_dmfa(path: Path, report: FileReport, xsd_dir: Path, today: date, size: int) -> None:
    schema_path = xsd_dir / DMFA_SCHEMA
    reviews: list[DeclarationReview] = []
    current: DeclarationReview | None = None
    try:
        with path.open("rb") as source:
            for event in read_dmfa(source, schema(schema_path)):
                if current is None or current.header is not event.header:
                    current = DeclarationReview(event.header, today)
                if isinstance(event, PersonRead):
                    current.add_person(event.person)
                elif isinstance(event, UnrelatedRead):
                    current.add_unrelated(event.contribution)
                elif isinstance(event, DeclarationEnd):
                    current.finish()
                    reviews.append(current)
                    current = None
    except InvalidDocument as exc:
        _schema_problems(path, report, schema_path, xsd_dir, size, exc)
        return
    if not reviews:
        raise RejectedFile(path.name, "the file contains no declaration", ("157",))
    for review in reviews:
        h = review.header
        totals = review.totals()
        report.declarations.append(DeclarationReport(
            form_index=h.form_index, noss_number=h.noss_number, company_id=h.company_id, quarter=str(h.quarter),
            persons=totals.persons, net_owed_declared=h.net_owed_amount, net_owed_computed=totals.net_owed,
            findings=review.findings))
    fill_columns([path], report.declarations)


def _name_finding(error: FileNameError) -> Finding:
    return Finding(code=f"ACRF-{error.code}", anomaly_class="W",
                   message=f"file name: {error.reason} (only matters when the file is sent as is)")
