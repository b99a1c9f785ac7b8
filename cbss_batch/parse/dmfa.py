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
_REPORTED = ("NaturalPerson", "ContributionUnrelatedToNP", "EmployerDeclaration", ROOT)


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
    context = etree.iterparse(source, events=("end",), tag=_REPORTED, schema=schema, **PARSER_OPTIONS)
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
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidDocument(f"unreadable value: {exc}") from exc
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
    return NaturalPerson(sequence=sequence, insz=insz, name=name, first_name=first_name,
                         line=element.sourceline or 0, worker_records=tuple(records))


def _read_worker_record(element: Any) -> WorkerRecord:
    zones: dict[str, str | None] = {}
    occupations = []
    contributions = []
    deductions = []
    for child in element:
        tag = child.tag
        if tag == "Occupation":
            occupations.append(_read_occupation(child))
        elif tag == "WorkerContribution":
            contributions.append(_read_contribution(child, "worker"))
        elif tag == "WorkerDeduction":
            deductions.append(_read_deduction(child))
        elif tag == "StudentContribution":
            contributions.append(_read_student(child, element))
        elif len(child) == 0:
            zones[tag] = child.text
    return WorkerRecord(
        employer_class=zones.get("EmployerClass") or "",
        worker_code=zones.get("WorkerCode") or "",
        quarter_start=_date(zones.get("NOSSQuarterStartingDate")) or date.min,
        quarter_end=_date(zones.get("NOSSQuarterEndingDate")) or date.min,
        border=_int(zones.get("Border")),
        activity_with_risk=_opt_int(zones.get("ActivityWithRisk")),
        local_unit_id=zones.get("LocalUnitID"),
        line=element.sourceline or 0,
        occupations=tuple(occupations),
        contributions=tuple(contributions),
        deductions=tuple(deductions),
    )


def _read_occupation(element: Any) -> Occupation:
    zones: dict[str, str | None] = {}
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
        elif len(child) == 0:
            zones[tag] = child.text
    return Occupation(
        sequence=_int(zones.get("OccupationSequenceNbr")),
        starting_date=_date(zones.get("OccupationStartingDate")),
        ending_date=_date(zones.get("OccupationEndingDate")),
        joint_committee=zones.get("JointCommissionNbr") or "",
        working_days_system=_int(zones.get("WorkingDaysSystem")),
        contract_type=_int(zones.get("ContractType")),
        ref_mean_working_hours=_opt_int(zones.get("RefMeanWorkingHours")),
        mean_working_hours=_opt_int(zones.get("MeanWorkingHours")),
        local_unit_id=zones.get("LocalUnitID"),
        line=element.sourceline or 0,
        services=tuple(services),
        remunerations=tuple(remunerations),
        deductions=tuple(deductions),
    )


def _leaf_zones(element: Any) -> dict[str, str | None]:
    return {child.tag: child.text for child in element}


def _read_service(element: Any) -> Service:
    zones = _leaf_zones(element)
    return Service(sequence=_int(zones.get("ServiceSequenceNbr")), code=zones.get("ServiceCode") or "",
                   days=_int(zones.get("ServiceNbrDays")), hours=_opt_int(zones.get("ServiceNbrHours")),
                   line=element.sourceline or 0)


def _read_remuneration(element: Any) -> Remuneration:
    zones = _leaf_zones(element)
    return Remuneration(sequence=_int(zones.get("RemunSequenceNbr")), code=zones.get("RemunCode") or "",
                        amount=_int(zones.get("RemunAmount")),
                        bonus_frequency=_opt_int(zones.get("BonusPaymentFrequency")),
                        percentage_paid=_opt_int(zones.get("PercentagePaid")), line=element.sourceline or 0)


def _read_deduction(element: Any) -> Deduction:
    zones = _leaf_zones(element)
    return Deduction(code=zones.get("DeductionCode") or "", basis=_opt_int(zones.get("DeductionCalculationBasis")),
                     amount=_opt_int(zones.get("DeductionAmount")), line=element.sourceline or 0)


def _read_contribution(element: Any, kind: str) -> Contribution:
    zones = _leaf_zones(element)
    return Contribution(worker_code=zones.get("ContributionWorkerCode") or "",
                        contribution_type=zones.get("ContributionType"),
                        basis=_opt_int(zones.get("ContributionCalculationBasis")),
                        amount=_int(zones.get("ContributionAmount")), line=element.sourceline or 0, kind=kind)


def _read_student(element: Any, record: Any) -> Contribution:
    zones = _leaf_zones(element)
    return Contribution(worker_code="", contribution_type=None, basis=_opt_int(zones.get("StudentRemunAmount")),
                        amount=_int(zones.get("StudentContributionAmount")), line=element.sourceline or 0,
                        kind="student")


def _read_unrelated(element: Any) -> Contribution:
    zones = _leaf_zones(element)
    return Contribution(worker_code=zones.get("UnrelatedWorkerCode") or "",
                        contribution_type=zones.get("UnrelatedEmployerClass"),
                        basis=_opt_int(zones.get("UnrelatedCalculationBasis")),
                        amount=_int(zones.get("UnrelatedAmount")), line=element.sourceline or 0, kind="unrelated")
