"""Stream a DmfA original (root ``DmfAOriginal``) into records, validating against the schema as it goes.

One pass: lxml ``iterparse`` with the schema, reporting only ``NaturalPerson``,
``ContributionUnrelatedToNP``, ``EmployerDeclaration`` and the root; each reported subtree is read
in one walk over its children and then cleared, and earlier siblings deleted, so memory stays flat
as files grow. lxml reports schema errors only at the end of the document: callers stage what
they receive and roll back when the stream ends in ``InvalidDocument``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

from lxml import etree

from cbss_batch.records import (
    Contribution,
    Deduction,
    DmfaHeader,
    NaturalPerson,
    Occupation,
    Quarter,
    Remuneration,
    Service,
    WorkerRecord,
)
from cbss_batch.xmlsafe import PARSER_OPTIONS

ROOT = "DmfAOriginal"
STREAMED_BLOCKS = ("NaturalPerson", "ContributionUnrelatedToNP", "EmployerDeclaration")
_REPORTED = (*STREAMED_BLOCKS, ROOT)


class InvalidDocument(Exception):
    """The stream did not end as a valid document; run a diagnostic pass for the reasons."""


@dataclass(frozen=True, slots=True)
class PersonRead:
    header: DmfaHeader
    person: NaturalPerson


@dataclass(frozen=True, slots=True)
class UnrelatedRead:
    header: DmfaHeader
    contribution: Contribution


@dataclass(frozen=True, slots=True)
class DeclarationEnd:
    header: DmfaHeader


DmfaEvent = PersonRead | UnrelatedRead | DeclarationEnd


def read_dmfa(source: IO[bytes], schema: etree.XMLSchema | None) -> Iterator[DmfaEvent]:
    """Events in document order: each person, each employer-level contribution, each declaration's end."""
    etree.clear_error_log()
    context = etree.iterparse(source, events=("end",), tag=_REPORTED, schema=schema, remove_comments=True,
                               **PARSER_OPTIONS)
    header: DmfaHeader | None = None
    form_index = 0
    root_closed = False
    try:
        for _event, element in context:
            tag = element.tag
            if tag == ROOT:
                root_closed = True
                continue
            if tag == "EmployerDeclaration":
                if header is None:
                    form_index += 1
                    header = _read_header(element, form_index)
                yield DeclarationEnd(header)
                header = None
                form = element.getparent()
                element.clear(keep_tail=True)
                if form is not None:
                    form.clear(keep_tail=True)
                    _drop_previous(form)
                continue
            if header is None:
                form_index += 1
                header = _read_header(element.getparent(), form_index)
            if tag == "NaturalPerson":
                yield PersonRead(header, _read_person(element))
            else:
                yield UnrelatedRead(header, _read_unrelated(element))
            element.clear(keep_tail=True)
            _drop_previous(element)
    except etree.XMLSyntaxError as exc:
        raise InvalidDocument(str(exc)) from exc
    except (ValueError, LookupError, TypeError, AttributeError) as exc:
        raise InvalidDocument(f"unreadable value: {exc.__class__.__name__}: {exc}") from exc
    if not root_closed:
        raise InvalidDocument("the document ended before its root element was closed")


def _drop_previous(element: Any) -> None:
    """Delete the already-read siblings before ``element`` that are blocks (header zones stay)."""
    previous = element.getprevious()
    while previous is not None:
        before = previous.getprevious()
        if previous.tag in _REPORTED or previous.tag == "Form" or previous.tag == "CompanyVehicle":
            del previous.getparent()[previous.getparent().index(previous)]
        previous = before


def _int(text: str | None) -> int:
    return int(text) if text else 0


def _opt_int(text: str | None) -> int | None:
    return int(text) if text else None


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _read_header(employer: Any, form_index: int) -> DmfaHeader:
    zones: dict[str, str] = {}
    for child in employer:
        if child.tag in ("NaturalPerson", "CompanyVehicle", "ContributionUnrelatedToNP"):
            break
        zones[child.tag] = (child.text or "").strip()
    form = employer.getparent()
    form_zones: dict[str, str] = {}
    sender_reference = None
    for child in form:
        if child.tag == "Reference":
            for ref in child:
                if ref.tag == "ReferenceNbr":
                    sender_reference = (ref.text or "").strip()
        elif child.tag != "EmployerDeclaration":
            form_zones[child.tag] = (child.text or "").strip()
    return DmfaHeader(
        form_index=form_index,
        identification=form_zones.get("Identification", ""),
        created_on=date.fromisoformat(form_zones["FormCreationDate"]),
        created_at=form_zones.get("FormCreationHour", ""),
        sender_reference=sender_reference,
        quarter=Quarter.parse(zones["Quarter"]),
        noss_number=zones.get("NOSSRegistrationNbr", "0"),
        trusteeship=_int(zones.get("Trusteeship")),
        company_id=zones.get("CompanyID", "0"),
        net_owed_amount=_int(zones.get("NetOwedAmount")),
        line=form.sourceline or 0,
        employer_line=employer.sourceline or 0,
    )


# The readers below run for every element of a big file: one pass over the children, plain local
# variables, positional construction. The schema has already fixed which children may appear.


def _read_person(element: Any) -> NaturalPerson:
    sequence = 0
    insz = ""
    name = first_name = None
    records = []
    for child in element:
        tag = child.tag
        if tag == "WorkerRecord":
            records.append(_read_worker_record(child))
        elif tag == "INSS":
            insz = (child.text or "").strip()
        elif tag == "NaturalPersonSequenceNbr":
            sequence = int(child.text)
        elif tag == "WorkerName":
            name = child.text
        elif tag == "WorkerFirstName":
            first_name = child.text
    return NaturalPerson(sequence, insz, name, first_name, element.sourceline or 0, tuple(records))


def _read_worker_record(element: Any) -> WorkerRecord:
    employer_class = worker_code = ""
    start = end = None
    border = 0
    risk = local_unit = None
    occupations = []
    contributions = []
    deductions = []
    for child in element:
        tag = child.tag
        if tag == "WorkerContribution":
            contributions.append(_read_contribution(child))
        elif tag == "Occupation" or tag == "OccupationUpdate":  # OccupationUpdate: in a DmfA modification
            occupations.append(_read_occupation(child))
        elif tag == "WorkerDeduction":
            deductions.append(_read_deduction(child))
        elif tag == "StudentContribution":
            contributions.append(_read_student(child))
        elif tag == "EmployerClass":
            employer_class = child.text or ""
        elif tag == "WorkerCode":
            worker_code = child.text or ""
        elif tag == "NOSSQuarterStartingDate":
            start = child.text
        elif tag == "NOSSQuarterEndingDate":
            end = child.text
        elif tag == "Border":
            border = _int(child.text)
        elif tag == "ActivityWithRisk":
            risk = _opt_int(child.text)
        elif tag == "LocalUnitID":
            local_unit = child.text
    return WorkerRecord(employer_class, worker_code, _date(start) or date.min, _date(end) or date.min, border, risk,
                        local_unit, element.sourceline or 0, tuple(occupations), tuple(contributions),
                        tuple(deductions))


def _read_occupation(element: Any) -> Occupation:
    sequence = working_days = contract = 0
    start = end = ref_hours = hours = local_unit = None
    committee = ""
    services = []
    remunerations = []
    deductions = []
    for child in element:
        tag = child.tag
        if tag == "Remun":
            remunerations.append(_read_remuneration(child))
        elif tag == "Service":
            services.append(_read_service(child))
        elif tag == "OccupationDeduction":
            deductions.append(_read_deduction(child))
        elif tag == "OccupationSequenceNbr":
            sequence = int(child.text)
        elif tag == "OccupationStartingDate":
            start = child.text
        elif tag == "OccupationEndingDate":
            end = child.text
        elif tag == "JointCommissionNbr":
            committee = child.text or ""
        elif tag == "WorkingDaysSystem":
            working_days = _int(child.text)
        elif tag == "ContractType":
            contract = _int(child.text)
        elif tag == "RefMeanWorkingHours":
            ref_hours = child.text
        elif tag == "MeanWorkingHours":
            hours = child.text
        elif tag == "LocalUnitID":
            local_unit = child.text
    return Occupation(sequence, _date(start), _date(end), committee, working_days, contract, _opt_int(ref_hours),
                      _opt_int(hours), local_unit, element.sourceline or 0, tuple(services), tuple(remunerations),
                      tuple(deductions))


def _read_service(element: Any) -> Service:
    sequence = days = 0
    code = ""
    hours = None
    for child in element:
        tag = child.tag
        if tag == "ServiceCode":
            code = child.text or ""
        elif tag == "ServiceNbrDays":
            days = int(child.text)
        elif tag == "ServiceNbrHours":
            hours = int(child.text)
        elif tag == "ServiceSequenceNbr":
            sequence = int(child.text)
    return Service(sequence, code, days, hours, element.sourceline or 0)


def _read_remuneration(element: Any) -> Remuneration:
    sequence = amount = 0
    code = ""
    frequency = percentage = None
    for child in element:
        tag = child.tag
        if tag == "RemunAmount":
            amount = int(child.text)
        elif tag == "RemunCode":
            code = child.text or ""
        elif tag == "RemunSequenceNbr":
            sequence = int(child.text)
        elif tag == "BonusPaymentFrequency":
            frequency = int(child.text)
        elif tag == "PercentagePaid":
            percentage = int(child.text)
    return Remuneration(sequence, code, amount, frequency, percentage, element.sourceline or 0)


def _read_deduction(element: Any) -> Deduction:
    code = ""
    basis = amount = None
    for child in element:
        tag = child.tag
        if tag == "DeductionCode":
            code = child.text or ""
        elif tag == "DeductionAmount":
            amount = int(child.text)
        elif tag == "DeductionCalculationBasis":
            basis = int(child.text)
    return Deduction(code, basis, amount, element.sourceline or 0)


def _read_contribution(element: Any) -> Contribution:
    code = ""
    kind = None
    basis = None
    amount = 0
    for child in element:
        tag = child.tag
        if tag == "ContributionAmount":
            amount = int(child.text)
        elif tag == "ContributionWorkerCode":
            code = child.text or ""
        elif tag == "ContributionType":
            kind = child.text
        elif tag == "ContributionCalculationBasis":
            basis = int(child.text)
    return Contribution(code, kind, basis, amount, element.sourceline or 0, "worker")


def _read_student(element: Any) -> Contribution:
    basis = None
    amount = 0
    for child in element:
        tag = child.tag
        if tag == "StudentContributionAmount":
            amount = int(child.text)
        elif tag == "StudentRemunAmount":
            basis = int(child.text)
    return Contribution("", None, basis, amount, element.sourceline or 0, "student")


def _read_unrelated(element: Any) -> Contribution:
    zones = {child.tag: child.text for child in element}
    return Contribution(worker_code=zones.get("UnrelatedWorkerCode") or "",
                        contribution_type=zones.get("UnrelatedEmployerClass"),
                        basis=_opt_int(zones.get("UnrelatedCalculationBasis")),
                        amount=_int(zones.get("UnrelatedAmount")), line=element.sourceline or 0, kind="unrelated")


_PERSON = b"<NaturalPerson>"
_END = b"</EmployerDeclaration>"
_OVERLAP = len(_END) - 1


def count_persons(paths: list[Path]) -> list[int]:
    """The number of NaturalPerson elements of each declaration, in order, from a byte scan of the parts.

    The employer's size (contributions 809 and 855 depend on it) is needed before the first worker
    line is computed; counting bytes in C costs a fraction of the parse. SIMPLIFIED: it counts the
    tags textually (no attributes, no whitespace inside them, as the schema's documents are written),
    so a ``<NaturalPerson>`` inside a comment or CDATA would be counted too.
    """
    counts: list[int] = []
    current = 0
    tail = b""
    for path in paths:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                data = tail + chunk
                # Tags starting at or after ``cut`` may be incomplete: they are counted with the next chunk.
                cut = max(len(data) - _OVERLAP, 0)
                position = 0
                while (end := data.find(_END, position)) != -1 and end < cut:
                    counts.append(current + data.count(_PERSON, position, end))
                    current = 0
                    position = end + len(_END)
                if position < cut:
                    current += data.count(_PERSON, position, cut + len(_PERSON) - 1)
                tail = data[max(cut, position):]
    position = 0
    while (end := tail.find(_END, position)) != -1:
        counts.append(current + tail.count(_PERSON, position, end))
        current = 0
        position = end + len(_END)
    return counts
