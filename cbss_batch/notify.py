"""Answer documents: the file receipt (ACRF) and the notification (NOTI), from records and findings.

Both follow the official structures (``ACRF_20231.xsd``, ``NOTIFICATION_20223.xsd``); the NOTI is
written as a stream (lxml incremental writer) because a big file may carry many anomalies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from lxml import etree

from cbss_batch.records import Finding

_LABEL_LIMIT = 500
_NAME_LIMIT = 64
_UNPRINTABLE = re.compile(r"[^\x21-\x7e]")

# Order of the identifying keys inside a NOTI <Path> (official NOTIFICATION schema).
PATH_ORDER = ("Quarter", "NOSSRegistrationNbr", "NOSSLPARegistrationNbr", "Trusteeship", "CompanyID",
              "UnrelatedEmployerClass", "UnrelatedWorkerCode", "NaturalPersonSequenceNbr", "INSS",
              "EmployerClass", "WorkerCode", "OccupationSequenceNbr", "ReorganisationMeasure",
              "ServiceSequenceNbr", "ServiceCode", "RemunSequenceNbr", "RemunCode", "BonusPaymentFrequency",
              "PercentagePaid", "DeductionCode", "DeductionDetailSequenceNbr", "EmployerNotion",
              "JointCommissionNbr", "ActivityCode", "ComplIndemnityAgreementNotion",
              "HalfTimeCareerInterruptionNotion", "ServiceExemptionNotion", "ReplacementAccordanceWCCNotion",
              "ContributionWorkerCode", "ContributionType")
_PATH_RANK = {label: rank for rank, label in enumerate(PATH_ORDER)}


def _noss(value: str | None) -> str:
    """A NOSS number as the NOTI schema takes it (≤ 9 digits, at most 199999934), else 0."""
    return value if value and value.isascii() and value.isdigit() and len(value) <= 9 and \
        int(value) <= 199_999_934 else "0"


def _company(value: str | None) -> str:
    """A company number as the NOTI schema takes it (0, 9 or 10 digits, at most 1999999943), else 0."""
    ok = value and value.isascii() and value.isdigit() and len(value) in (1, 9, 10) and int(value) <= 1_999_999_943
    return value if ok and value is not None else "0"


_SANITISE = {"NOSSRegistrationNbr": _noss, "CompanyID": _company}


def printable_name(name: str) -> str:
    """A received name made safe for an answer: printable ASCII, at most 64 characters."""
    return _UNPRINTABLE.sub("?", name)[:_NAME_LIMIT] or "?"


def _stamp(now: datetime) -> tuple[str, str]:
    return f"{now:%Y-%m-%d}", f"{now:%H:%M:%S}.{now.microsecond // 1000:03d}"


def _form_head(parent: etree._Element, identification: str, now: datetime) -> None:
    day, hour = _stamp(now)
    for tag, text in (("Identification", identification), ("FormCreationDate", day),
                      ("FormCreationHour", hour), ("AttestationStatus", "0"), ("TypeForm", "FA")):
        etree.SubElement(parent, tag).text = text


def _file_reference(parent: etree._Element, file_name: str, ticket: str) -> None:
    ref = etree.SubElement(parent, "FileReference")
    etree.SubElement(ref, "FileName").text = printable_name(file_name)
    etree.SubElement(ref, "ReferenceOrigin").text = "2"
    etree.SubElement(ref, "ReferenceNbr").text = ticket


def acrf_bytes(*, file_name: str, ticket: str, accepted: bool, error_codes: Iterable[str], now: datetime,
               original_ticket: str | None = None) -> bytes:
    """The ACRF document for one set: ``ResultCode`` 1/0 and one ``ACRF-<code>`` per problem.

    A duplicate (ACRF-133) names the ticket of the set it repeats in a comment after its error ids:
    the official structure has no field for it, and a comment leaves the document schema-valid.
    """
    root = etree.Element("ACRF")
    form = etree.SubElement(root, "Form")
    _form_head(form, "ACRF001", now)
    _file_reference(form, file_name, ticket)
    result = etree.SubElement(form, "ReceptionResult")
    etree.SubElement(result, "ResultCode").text = "1" if accepted else "0"
    if not accepted:
        for code in dict.fromkeys(error_codes):
            etree.SubElement(result, "ErrorID").text = f"ACRF-{code}"
        if original_ticket:
            result.append(etree.Comment(f" duplicate of the set received under ticket {original_ticket} "))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class DimonaImpact:
    """The Dimona period a handled Dimona declaration created or changed (NOTI ``DimonaImpactReport``)."""

    period_id: str
    worker_type: str | None
    joint_committee: str | None
    starting_date: date | None
    starting_hour: str | None
    ending_date: date | None
    ending_hour: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LineChange:
    """A worker line a DmfA modification added, changed or removed."""

    action: str  # added | changed | removed
    sequence: int  # NaturalPersonSequenceNbr
    insz: str
    employer_class: str
    worker_code: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NotiForm:
    """One handled declaration as the NOTI reports it."""

    identification: str
    created_on: date
    created_at: str
    noss_number: str | None
    company_id: str | None
    quarter: str | None
    ticket: str
    accepted: bool
    findings: tuple[Finding, ...]
    insz: str | None = None
    dimona: DimonaImpact | None = None
    changes: tuple[LineChange, ...] | None = None  # DmfA modification: what it did (None: not a modification)
    version: int | None = None  # the declaration version a modification made


def write_noti(path: Path, *, file_name: str, set_ticket: str, forms: Iterable[NotiForm], now: datetime) -> None:
    """Stream the NOTI for one set to ``path``: one ``Form`` per declaration with its anomalies."""
    with etree.xmlfile(str(path), encoding="UTF-8") as xf:
        xf.write_declaration()
        with xf.element("NOTIFICATION"):
            for form in forms:
                xf.write(_noti_form(form, file_name=file_name, set_ticket=set_ticket, now=now), pretty_print=True)


def _noti_form(form: NotiForm, *, file_name: str, set_ticket: str, now: datetime) -> etree._Element:
    element = etree.Element("Form")
    _form_head(element, "NOTI001", now)
    _file_reference(element, file_name, set_ticket)
    handled = etree.SubElement(element, "HandledOriginalForm")
    for tag, text in (("Identification", form.identification[:7]), ("FormCreationDate", f"{form.created_on:%Y-%m-%d}"),
                      ("FormCreationHour", form.created_at), ("AttestationStatus", "0"), ("TypeForm", "SU")):
        etree.SubElement(handled, tag).text = text
    if form.noss_number or form.company_id:
        employer = etree.SubElement(element, "EmployerId")
        etree.SubElement(employer, "NOSSRegistrationNbr").text = _noss(form.noss_number)
        etree.SubElement(employer, "CompanyID").text = _company(form.company_id)
    if form.insz:
        etree.SubElement(etree.SubElement(element, "NaturalPerson"), "INSS").text = form.insz
    if form.quarter:
        etree.SubElement(etree.SubElement(element, "ConcernedQuarter"), "Quarter").text = form.quarter
    reference = etree.SubElement(element, "HandledReference")
    etree.SubElement(reference, "ReferenceType").text = "1"
    etree.SubElement(reference, "ReferenceOrigin").text = "2"
    etree.SubElement(reference, "ReferenceNbr").text = form.ticket
    for change in form.changes or ():
        line = etree.SubElement(element, "WorkerRecordIdentification")
        if form.noss_number:
            etree.SubElement(line, "NOSSRegistrationNbr").text = _noss(form.noss_number)
        etree.SubElement(line, "NaturalPersonSequenceNbr").text = str(change.sequence)
        etree.SubElement(line, "INSS").text = change.insz
        etree.SubElement(line, "EmployerClass").text = change.employer_class
        etree.SubElement(line, "WorkerCode").text = change.worker_code
    result = etree.SubElement(element, "HandlingResult")
    etree.SubElement(result, "ResultCode").text = "1" if form.accepted else "0"
    for finding in form.findings:
        result.append(anomaly_report(finding))
    if form.dimona is not None:
        result.append(_dimona_impact(form.dimona))
    if form.changes is not None:
        element.append(_changes_summary(form.changes, form.version))
    return element


def _changes_summary(changes: tuple[LineChange, ...], version: int | None) -> etree._Element:
    """``ApplicationData``: what a modification did, line by line (our own structure; the official
    schema leaves the content of this block to the application)."""
    data = etree.Element("ApplicationData")
    summary = etree.SubElement(data, "DeclarationChanges")
    if version is not None:
        summary.set("version", str(version))
    for action in ("added", "changed", "removed"):
        summary.set(action, str(sum(1 for c in changes if c.action == action)))
    for change in changes:
        etree.SubElement(summary, "WorkerLine", action=change.action, INSS=change.insz,
                         EmployerClass=change.employer_class, WorkerCode=change.worker_code)
    return data


def _dimona_impact(impact: DimonaImpact) -> etree._Element:
    """``ImpactReport/DimonaImpactReport``: the period id and the period as it now stands."""
    report = etree.Element("ImpactReport")
    dimona = etree.SubElement(report, "DimonaImpactReport")
    etree.SubElement(dimona, "DimonaPeriodId").text = impact.period_id
    etree.SubElement(dimona, "IsLocked").text = "0"
    if impact.joint_committee or impact.worker_type:
        features = etree.SubElement(dimona, "DimonaFeatures")
        if impact.joint_committee:
            etree.SubElement(features, "JointCommissionNbr").text = impact.joint_committee
        if impact.worker_type:
            etree.SubElement(features, "WorkerType").text = impact.worker_type
    after = etree.SubElement(dimona, "DimonaPeriodAfter")
    for tag, value in (("StartingDate", impact.starting_date), ("StartingHour", impact.starting_hour),
                       ("EndingDate", impact.ending_date), ("EndingHour", impact.ending_hour)):
        if value is not None:
            etree.SubElement(after, tag).text = value.isoformat() if isinstance(value, date) else value
    return report


def anomaly_report(finding: Finding) -> etree._Element:
    """One ``AnomalyReport`` element for a finding (official child order)."""
    report = etree.Element("AnomalyReport")
    etree.SubElement(report, "ErrorID").text = finding.code
    if finding.tag:
        etree.SubElement(report, "TagName").text = finding.tag
    if finding.value is not None:
        etree.SubElement(report, "Value").text = finding.value
    etree.SubElement(report, "AnomalyClass").text = finding.anomaly_class
    if finding.message:
        etree.SubElement(report, "AnomalyLabel").text = finding.message[:_LABEL_LIMIT]
    if finding.line or finding.column:
        location = etree.SubElement(report, "AnomalyLocation")
        if finding.line:
            etree.SubElement(location, "LineNbr").text = str(finding.line)
        if finding.column:
            etree.SubElement(location, "ColumnNbr").text = str(finding.column)
    keys = sorted((pair for pair in finding.path if pair[0] in _PATH_RANK), key=lambda pair: _PATH_RANK[pair[0]])
    if keys:
        path = etree.SubElement(report, "Path")
        for label, value in dict(keys).items():
            etree.SubElement(path, label).text = _SANITISE[label](value) if label in _SANITISE else value
    return report
