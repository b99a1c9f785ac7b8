"""The sender-side check of ``cbss-batch validate``: the intake's engine without database or outbox.

Same order as the intake: prolog screening, file type from the name (when it follows the
protocol) against the root, streamed schema validation with the business rules, and — when the
document is invalid — the diagnostic pass that reports every schema problem with line and column.
Unlike the intake, which refuses such a file at once, the business rules then still run as far as
the structure allows, so a sender sees every anomaly in one go.

Last, one more streamed pass points each finding at its element: its own line (a rule reports the
line of its block), its XML path and, where the finding has none, the offending value.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any, TypeVar

from lxml import etree

from cbss_batch.columns import HasFindings, fill_columns
from cbss_batch.errors import FileNameError, RejectedFile
from cbss_batch.explain import explain
from cbss_batch.ids import mask_insz
from cbss_batch.intake import read_name
from cbss_batch.parse.dimona import read_dimona
from cbss_batch.parse.dmfa import (
    DeclarationEnd,
    InvalidDocument,
    PersonElement,
    PersonRead,
    UnrelatedRead,
    read_dmfa,
)
from cbss_batch.parse.drs import SCENARIO_TYPES, is_scenario_root, read_drs
from cbss_batch.records import ANOMALY_CLASSES, Finding
from cbss_batch.rules.dimona import check_declaration
from cbss_batch.rules.drs import check_risk_declaration
from cbss_batch.rules.runner import DeclarationReview
from cbss_batch.schemas.files import DIMONA_SCHEMA, DMFA_SCHEMA, known_elements, scenario_schema_name, schema
from cbss_batch.xmlsafe import PARSER_OPTIONS, diagnose, screen_prolog

log = logging.getLogger(__name__)

SCHEMA_PROBLEM_LIMIT = 1000  # a broken export can hold millions; the first thousand say what is wrong
VALUE_CODES = frozenset({"002", "003", "008", "093"})  # schema problems where the element's text is the fault
NOT_WELL_FORMED = frozenset({"ACRF-102", "ACRF-138"})
_VALUE_LENGTH = 80
T = TypeVar("T")


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
    is_refused_with_file: bool = False  # the file has a blocking problem: nothing in it is accepted

    @property
    def is_accepted(self) -> bool:
        return not self.is_refused_with_file and not any(f.is_blocking for f in self.findings)


@dataclass(slots=True)
class FileReport:
    """Everything found in one file: file-level problems and one report per declaration."""

    path: Path
    file_problems: list[Finding] = field(default_factory=list)
    declarations: list[DeclarationReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the reader should know about the check itself
    xml_paths: dict[Finding, str] = field(default_factory=dict)  # each located finding's element

    @property
    def is_valid(self) -> bool:
        """No blocking anomaly: file-name warnings and other non-blocking classes leave a file valid."""
        return not any(f.is_blocking for f in self.file_problems) and all(d.is_accepted for d in self.declarations)

    def findings(self) -> Iterator[Finding]:
        """Every finding: file-level first, then declaration by declaration."""
        yield from self.file_problems
        for declaration in self.declarations:
            yield from declaration.findings

    def counts(self) -> dict[str, int]:
        """Number of anomalies per class (B, P, NP, D, W, I), classes without any left out."""
        found = [f.anomaly_class for f in self.findings()]
        return {c: found.count(c) for c in (*ANOMALY_CLASSES, *sorted(set(found) - set(ANOMALY_CLASSES)))
                if c in found}

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "valid": self.is_valid,
            "counts": self.counts(),
            "notes": list(self.notes),
            "file_problems": [self._finding_dict(f) for f in self.file_problems],
            "declarations": [
                {"form": d.form_index, "kind": d.kind, "noss_number": d.noss_number, "company_id": d.company_id,
                 "quarter": d.quarter, "persons": d.persons, "accepted": d.is_accepted,
                 "refused_with_file": d.is_refused_with_file,
                 "net_owed_declared": d.net_owed_declared, "net_owed_computed": d.net_owed_computed,
                 "anomalies": [self._finding_dict(f) for f in d.findings]}
                for d in self.declarations],
        }

    def _finding_dict(self, f: Finding) -> dict[str, Any]:
        explanation = explain(f.code, f)
        return {"code": f.code, "class": f.anomaly_class, "message": f.message, "element": f.tag, "value": f.value,
                "line": f.line, "column": f.column, "path": {k: v for k, v in f.path if k != "INSS"} or None,
                "xpath": self.xml_paths.get(f), "rule": explanation.rule, "fix": explanation.fix}


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
    if any(f.is_blocking for f in report.file_problems):
        for declaration in report.declarations:
            declaration.is_refused_with_file = True
    if not any(f.code in NOT_WELL_FORMED for f in report.file_problems):
        _locate(path, report)
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
                     exc: InvalidDocument) -> bool:
    """Add the diagnostic pass's problems (at most SCHEMA_PROBLEM_LIMIT); True when the rules can still run."""
    problems = diagnose(lambda: path.open("rb"), schema(schema_path), known_elements(xsd_dir), size=size,
                        max_tree_bytes=200_000_000, limit=SCHEMA_PROBLEM_LIMIT + 1) or []
    if len(problems) > SCHEMA_PROBLEM_LIMIT:
        problems = problems[:SCHEMA_PROBLEM_LIMIT]
        report.notes.append(f"only the first {SCHEMA_PROBLEM_LIMIT} schema problems are listed: correct them "
                            "and validate again to see the rest")
    report.file_problems.extend(
        Finding(code=f"ACRF-{p.code}", message=p.message, tag=_local(p.element) if p.element else None,
                line=p.line, column=p.column)
        for p in problems)
    if not problems:
        report.file_problems.append(Finding(code="ACRF-102", message=str(exc)))
        return False
    return not any(f"ACRF-{p.code}" in NOT_WELL_FORMED for p in problems)


# Declarations are checked as they stream past; a schema error can surface only after the rules met the bad
# value (a number past int()'s 4300 digits, say): the rules' errors are then the schema's, as in the intake.
_UNREADABLE = (InvalidDocument, ValueError, LookupError, TypeError, AttributeError)


def _invalid(exc: Exception) -> InvalidDocument:
    if isinstance(exc, InvalidDocument):
        return exc
    return InvalidDocument(f"unreadable document: {exc.__class__.__name__}: {exc}")


def _despite_schema(report: FileReport, check: Callable[[], list[T]]) -> list[T]:
    """The business rules of a well-formed document that breaks its schema, as far as its values can be read."""
    try:
        found = check()
    except (InvalidDocument, ValueError, LookupError, TypeError, AttributeError) as exc:
        report.notes.append(f"the business rules were not checked: a value cannot be read until the schema "
                            f"problems are corrected ({exc})")
        return []
    report.notes.append("the business rules were checked despite the schema problems, as far as the structure "
                        "allows; the file is refused until the schema problems are corrected")
    return found


def _check_forms(path: Path, report: FileReport, xsd_dir: Path, today: date, size: int, root: str) -> None:
    """Dimona and DRS files: schema and the rules that need no personnel file, form by form."""
    try:
        schema_path = xsd_dir / (DIMONA_SCHEMA if root == "Dimona" else scenario_schema_name(xsd_dir, root))
    except LookupError:  # a scenario-shaped root without a schema (WECH101): refused as the intake does
        raise RejectedFile(path.name, f"no schema for {root} messages in this version", ("088",)) from None
    try:
        declarations = _read_forms(path, root, schema(schema_path), today)
    except _UNREADABLE as exc:
        if _schema_problems(path, report, schema_path, xsd_dir, size, _invalid(exc)):
            report.declarations = _despite_schema(report, lambda: _read_forms(path, root, None, today))
        return
    if not declarations:
        raise RejectedFile(path.name, "the file contains no declaration", ("157",))
    report.declarations = declarations


def _read_forms(path: Path, root: str, form_schema: etree.XMLSchema | None, today: date) -> list[DeclarationReport]:
    found: list[DeclarationReport] = []
    with path.open("rb") as source:
        if root == "Dimona":
            for d in read_dimona(source, form_schema):
                found.append(DeclarationReport(
                    form_index=d.form_index, noss_number=d.noss_number or "", company_id=d.company_id or "",
                    quarter=None, persons=1, net_owed_declared=None, net_owed_computed=None,
                    findings=check_declaration(d, today), kind=f"Dimona {d.action or '(empty)'}"))
        else:
            for r in read_drs(source, root, form_schema):
                found.append(DeclarationReport(
                    form_index=r.form_index, noss_number=r.noss_number or "", company_id=r.company_id or "",
                    quarter=None, persons=1, net_owed_declared=None, net_owed_computed=None,
                    findings=check_risk_declaration(r, today), kind=f"{root} risk {' '.join(r.risk_codes)}"))
    return found


def _check_dmfa(path: Path, report: FileReport, xsd_dir: Path, today: date, size: int) -> None:
    schema_path = xsd_dir / DMFA_SCHEMA
    try:
        reviews = _review_dmfa(path, schema(schema_path), today)
    except _UNREADABLE as exc:
        if not _schema_problems(path, report, schema_path, xsd_dir, size, _invalid(exc)):
            return
        reviews = _despite_schema(report, lambda: _review_dmfa(path, None, today))
    else:
        if not reviews:
            raise RejectedFile(path.name, "the file contains no declaration", ("157",))
    for review in reviews:
        h = review.header
        totals = review.totals()
        report.declarations.append(DeclarationReport(
            form_index=h.form_index, noss_number=h.noss_number, company_id=h.company_id, quarter=str(h.quarter),
            persons=totals.persons, net_owed_declared=h.net_owed_amount, net_owed_computed=totals.net_owed,
            findings=review.findings))


def _review_dmfa(path: Path, dmfa_schema: etree.XMLSchema | None, today: date) -> list[DeclarationReview]:
    with path.open("rb") as source:
        return review_dmfa(source, dmfa_schema, today)


def review_dmfa(source: IO[bytes], dmfa_schema: etree.XMLSchema | None, today: date, *,
                lazy: bool | None = None) -> list[DeclarationReview]:
    """Every declaration's review. ``lazy`` (by default when the schema is checked in the stream, whose
    results count only when the file is valid): a person without findings is reviewed from its
    summary, without building its records."""
    reviews: list[DeclarationReview] = []
    current: DeclarationReview | None = None
    for event in read_dmfa(source, dmfa_schema, lazy=dmfa_schema is not None if lazy is None else lazy):
        if current is None or current.header is not event.header:
            current = DeclarationReview(event.header, today)
        if isinstance(event, PersonElement):
            summary = event.summary()
            if summary is None or not current.add_summary(summary):
                current.add_person(event.read())
        elif isinstance(event, PersonRead):
            current.add_person(event.person)
        elif isinstance(event, UnrelatedRead):
            current.add_unrelated(event.contribution)
        elif isinstance(event, DeclarationEnd):
            current.finish()
            reviews.append(current)
            current = None
    return reviews


def _name_finding(error: FileNameError) -> Finding:
    return Finding(code=f"ACRF-{error.code}", anomaly_class="W",
                   message=f"file name: {error.reason} (only matters when the file is sent as is)")


# --- locating findings --------------------------------------------------------------------------


@dataclass(slots=True)
class _Holder:
    """The file-level findings in the shape ``fill_columns`` takes."""

    findings: list[Finding]


def _locate(path: Path, report: FileReport) -> None:
    """Point every finding with a line at its element (line, XML path, value), then give it its column.

    A rule reports the line of its block (``EmployerDeclaration`` for a header zone); the element is
    the block's child of the finding's tag. A finding that repeats a schema problem at the same
    element is dropped: the schema problem says it first, and is what the intake reports.
    """
    holders: list[HasFindings] = [_Holder(report.file_problems), *report.declarations]
    wanted = {(f.line, _local(f.tag) if f.tag else None) for h in holders for f in h.findings if f.line}
    if not wanted:
        return
    try:
        places = _find_elements(path, wanted)
    except (etree.XMLSyntaxError, OSError) as exc:  # checked as well-formed moments ago: changed on disk
        log.warning("cannot locate the findings of %s: %s", path.name, exc)
        return
    moved: dict[int, list[str | None]] = {}
    for number, holder in enumerate(holders):
        xpaths: list[str | None] = []
        kept: list[Finding] = []
        for f in holder.findings:
            place = places.get((f.line, _local(f.tag) if f.tag else None)) if f.line else None
            if place is None:
                kept.append(f)
                xpaths.append(None)
                continue
            value = f.value
            if value is None and (not f.code.startswith("ACRF-") or f.generic_code in VALUE_CODES):
                value = place.value
            kept.append(dataclasses.replace(f, line=place.line, column=f.column if place.line == f.line else None,
                                            value=value))
            xpaths.append(place.xpath)
        holder.findings = kept
        moved[number] = xpaths
    fill_columns([path], holders)
    schema_at = {(f.line, f.tag) for f in holders[0].findings if f.line}
    for number, holder in enumerate(holders):
        pairs = list(zip(holder.findings, moved[number], strict=True))
        if number:
            pairs = [(f, x) for f, x in pairs if (f.line, f.tag) not in schema_at]
        holder.findings = [f for f, _ in pairs]
        report.xml_paths.update((f, x) for f, x in pairs if x is not None)
    report.file_problems = holders[0].findings


@dataclass(slots=True)
class _Place:
    line: int
    xpath: str
    value: str | None


@dataclass(slots=True, eq=False)
class _Frame:
    """An element open in the stream: its name, its position among same-named siblings, its parent."""

    name: str
    index: int
    line: int
    parent: _Frame | None
    counts: dict[str, int] = field(default_factory=dict)  # children seen so far, per name
    searches: list[_Search] | None = None  # searches anchored here, looking for a child
    has_children: bool = False
    wants_text: bool = False
    text: str | None = None

    def xpath(self) -> str:
        """``/DmfAOriginal/Form[2]/EmployerDeclaration/Quarter``: an index where siblings share the name.

        Read once the document has been streamed to its end, when every count is final.
        """
        steps: list[str] = []
        frame: _Frame | None = self
        while frame is not None:
            parent = frame.parent
            several = parent is not None and parent.counts[frame.name] > 1
            steps.append(f"{frame.name}[{frame.index}]" if several else frame.name)
            frame = parent
        return "/" + "/".join(reversed(steps))


@dataclass(slots=True, eq=False)
class _Search:
    """Where a finding (line, tag) points: an element of that tag starting on the line, else the tag's
    element among the children of the first element starting there, else that first element."""

    line: int
    tag: str | None
    exact: _Frame | None = None
    exact_count: int = 0  # several elements of the tag on one line (a file on one line): ambiguous
    anchor: _Frame | None = None
    anchor_count: int = 0
    child: _Frame | None = None

    def place(self) -> _Place | None:
        if self.exact_count > 1 or (self.exact is None and self.anchor_count > 1):
            return None
        frame = self.exact or self.child or self.anchor
        if frame is None:
            return None
        return _Place(frame.line, frame.xpath(), frame.text)


def _find_elements(path: Path, wanted: Iterable[tuple[int, str | None]]) -> dict[tuple[int, str | None], _Place]:
    """Stream the document once and find the element each (line, tag) points at; memory stays flat."""
    searches = [_Search(line, tag) for line, tag in wanted]
    by_line: dict[int, list[_Search]] = {}
    for search in searches:
        by_line.setdefault(search.line, []).append(search)
    stack: list[_Frame] = []
    with path.open("rb") as source:
        for event, element in etree.iterparse(source, events=("start", "end"), **PARSER_OPTIONS):
            if event == "start":
                stack.append(_start(element, stack[-1] if stack else None, by_line))
                continue
            frame = stack.pop()
            if frame.wants_text and not frame.has_children:
                frame.text = _shown_value(frame.name, element.text)
            element.clear(keep_tail=True)
            parent = element.getparent()
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]
    found: dict[tuple[int, str | None], _Place] = {}
    for search in searches:
        place = search.place()
        if place is not None:
            found[(search.line, search.tag)] = place
    return found


def _start(element: Any, parent: _Frame | None, by_line: dict[int, list[_Search]]) -> _Frame:
    name = _local(element.tag) if isinstance(element.tag, str) else ""
    index = 1
    if parent is not None:
        index = parent.counts[name] = parent.counts.get(name, 0) + 1
        parent.has_children = True
    frame = _Frame(name, index, element.sourceline or 0, parent)
    if parent is not None and parent.searches:
        for search in parent.searches:
            if search.child is None and search.tag == name:
                search.child = frame
                frame.wants_text = True
    for search in by_line.get(frame.line, ()):
        if search.tag == name:
            search.exact_count += 1
            if search.exact is None:
                search.exact = frame
                frame.wants_text = True
        if search.anchor is None:
            search.anchor = frame
            frame.searches = [*(frame.searches or ()), search]
            frame.wants_text = True
        if search.anchor.name == name:
            search.anchor_count += 1
    return frame


def _shown_value(name: str, text: str | None) -> str | None:
    """An element's text as a report shows it: stripped, shortened, an INSZ masked."""
    value = (text or "").strip()
    if not value:
        return None
    if "INSS" in name.upper() or "INSZ" in name.upper():
        return mask_insz(value)
    return value if len(value) <= _VALUE_LENGTH else value[: _VALUE_LENGTH - 1] + "…"


def _local(tag: str) -> str:
    """The element name without its namespace (``{urn:x}Quarter`` → ``Quarter``)."""
    return tag.rpartition("}")[2]
