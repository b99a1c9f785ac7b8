"""Stream a social-risk declaration file (root = the scenario: ``WECH001``, ``ZIMA001``, ``AOAT001``…).

Each ``Form`` becomes a ``RiskDeclaration``: the zones the rules and the benefit calculation use
are typed fields; every other leaf zone is kept as a ``(path, value)`` pair, so nothing declared
is lost. Forms are small; each is read when it ends and cleared.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import IO, Any

from lxml import etree

from cbss_batch.parse.forms import stream_forms
from cbss_batch.records import RiskDeclaration

SCENARIO_TYPES = {"WECH": "WECH", "ZIMA": "ZIMA", "AOAT": "AOAT", "TWCT": "TWCT", "VBLV": "VBLV"}
STREAMED_BLOCKS = ("Form",)

# Zone → field, first occurrence wins (the last one for the end of the occupation: a C4 reports the
# occupations in order and the contract ends with the last one).
_FIRST = {
    "NOSSRegistrationNbr": "noss_number", "CompanyID": "company_id", "INSS": "insz", "WorkerCode": "worker_code",
    "JointCommissionNbr": "joint_committee", "RiskStartingDate": "risk_starting_date",
    "LastWorkingDayDate": "last_working_day", "WorkRecoveryDate": "work_recovery_date",
    "AccidentDate": "accident_date", "OccupationStartingDate": "occupation_starting_date",
    "RefStartingDate": "reference_start", "RefEndingDate": "reference_end",
    "RemunerationTimeUnit": "remuneration_time_unit", "RemunerationBasisAmount": "remuneration_basis_amount",
    "Cycle": "remuneration_cycle", "LooseWorkHoursNumber": "lost_hours",
    "SalaryLossOfLooseWorkHours": "lost_wage",
}
_LAST = {"OccupationEndingDate": "occupation_ending_date"}
# The employer's numbers come from its own block: other blocks (a prevention service in ZIMA001, a
# using employer…) carry company numbers too. Outside such a block only when the form has none.
_EMPLOYER_ZONES = {"NOSSRegistrationNbr", "CompanyID"}
_EMPLOYER_BLOCKS = ("EmployerDeclaration/", "EmployerDeclarationLink/")
# The wage-basis reference period stands in for the reference period only when there is none.
_FALLBACK = {"CalculBaseRefPeriodStartDate": "reference_start", "CalculBaseRefPeriodEndDate": "reference_end"}
_DATES = {"risk_starting_date", "last_working_day", "work_recovery_date", "accident_date", "occupation_starting_date",
          "occupation_ending_date", "reference_start", "reference_end"}
_NUMBERS = {"remuneration_time_unit", "remuneration_basis_amount", "remuneration_cycle", "lost_hours", "lost_wage"}
_HEAD = ("Identification", "FormCreationDate", "FormCreationHour")


def is_scenario_root(root: str) -> bool:
    """True for a DRS root element name: four letters of a DRS family and three digits."""
    return len(root) == 7 and root[:4] in SCENARIO_TYPES and root[4:].isdigit()


def read_drs(source: IO[bytes], root: str, schema: etree.XMLSchema | None) -> Iterator[RiskDeclaration]:
    """Each Form of a ``root`` document as a RiskDeclaration, in document order."""
    return stream_forms(source, root, schema, lambda form, index: _read_form(form, root, index))


def _leaves(element: Any, prefix: str) -> Iterator[tuple[str, str, str]]:
    """(tag, path, text) of every leaf below ``element``, in document order."""
    for child in element:
        if not isinstance(child.tag, str):
            continue
        path = f"{prefix}/{child.tag}" if prefix else child.tag
        if len(child):
            yield from _leaves(child, path)
        else:
            text = (child.text or "").strip()
            if text:
                yield child.tag, path, text


def _read_form(form: Any, root: str, index: int) -> RiskDeclaration:
    head: dict[str, str] = {}
    fields: dict[str, Any] = {}
    risks: list[str] = []
    details: list[tuple[str, str]] = []
    sender_reference = None
    fallback: dict[str, Any] = {}
    for tag, path, text in _leaves(form, ""):
        if tag in _EMPLOYER_ZONES and not path.startswith(_EMPLOYER_BLOCKS):
            fallback.setdefault(_FIRST[tag], text)
            details.append((path, text))
        elif tag in _FALLBACK:
            fallback.setdefault(_FALLBACK[tag], text)
            details.append((path, text))
        elif path in _HEAD:
            head[tag] = text
        elif path == "Reference/ReferenceNbr" and sender_reference is None:
            sender_reference = text
        elif tag == "IdentificationOfRisk":
            risks.append(text)
        elif tag in _FIRST:
            fields.setdefault(_FIRST[tag], text)
        elif tag in _LAST:
            fields[_LAST[tag]] = text
        else:
            details.append((path, text))
    for name, value in fallback.items():
        fields.setdefault(name, value)
    for name in _DATES & fields.keys():
        fields[name] = date.fromisoformat(fields[name])
    for name in _NUMBERS & fields.keys():
        fields[name] = int(fields[name])
    created = head.get("FormCreationDate")
    return RiskDeclaration(
        form_index=index, scenario=root, identification=head.get("Identification", ""),
        created_on=date.fromisoformat(created) if created else date.min, created_at=head.get("FormCreationHour", ""),
        sender_reference=sender_reference, risk_codes=tuple(risks),
        noss_number=fields.get("noss_number"), company_id=fields.get("company_id"), insz=fields.get("insz"),
        worker_code=fields.get("worker_code"), joint_committee=fields.get("joint_committee"),
        risk_starting_date=fields.get("risk_starting_date"), last_working_day=fields.get("last_working_day"),
        work_recovery_date=fields.get("work_recovery_date"), accident_date=fields.get("accident_date"),
        occupation_starting_date=fields.get("occupation_starting_date"),
        occupation_ending_date=fields.get("occupation_ending_date"),
        reference_start=fields.get("reference_start"), reference_end=fields.get("reference_end"),
        remuneration_time_unit=fields.get("remuneration_time_unit"),
        remuneration_basis_amount=fields.get("remuneration_basis_amount"),
        remuneration_cycle=fields.get("remuneration_cycle"), lost_hours=fields.get("lost_hours"),
        lost_wage=fields.get("lost_wage"), line=form.sourceline or 0, details=tuple(details),
    )
