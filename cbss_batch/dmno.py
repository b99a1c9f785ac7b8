"""The notification of changes (DMNO, form ``DMFANOT``, root ``DmfAUpdateNotification``).

We send it when our own calculation replaces declared amounts of an accepted DmfA (PROTOCOL.md §6):
per worker line, the line as declared (``WRDclPart``) and as corrected (``WRCorrectedPart``), and
the resulting debit or credit (``RectificationAmount``). Structure: official
``DmfAUpdateNotification_20223.xsd`` (and our ``xsd/DmfAUpdateNotification_20223.xsd``); meaning of
the zones: glossary ``zones/DmfAUpdateNotification.xml`` and ``functional-blocks/…``.

Choices (each zone the schema requires, nothing it does not):

- ``Form``: ``Identification`` DMFANOT, ``AttestationStatus`` 0, ``TypeForm`` SU (the only values
  the schema allows), creation date and hour from ``now``.
- ``Reference`` (2..3; glossary: ReferenceType 1 or 3, ReferenceOrigin 1 or 2 for notifications of
  change): type 3 / origin 2 = our ticket of the declaration concerned (always); type 3 / origin 1 =
  the sender's own reference of that declaration, when it gave one; type 1 / origin 2 = the ticket of
  this DMNO itself, when the caller passes ``notification_ticket``. Fewer than two ⇒ ``ValueError``.
- ``EmployerDeclarationUpdateNotif``: ``Quarter``; ``NOSSRegistrationNbr`` + ``Trusteeship`` when the
  declaration has a NOSS number ("0" = none: both left out, the schema makes them optional);
  ``CompanyID``; ``TransmissionMode`` LO (required; "lot" = batch structured message, the only way
  declarations reach this processor); ``EmployerDeclarationPID`` = our declaration id;
  ``EmployerDeclarationNewVersionNbr`` = the version this correction makes; ``Action`` 7.
  ``SubGroupInformation``: ``SubGroup`` 2 ("part that contains the system corrections") and
  ``UserQuality`` 22, the value of the official example (annex 39 is not in our reference set).
- ``CorrectionType`` RC/UC is *not* written: it is a zone of the NOTI (``NOTIFICATION``, block
  "Systeemverbeteringen"), absent from the DMFANOT schema. Our corrections would all be RC (a
  deterministic recalculation); in the DMNO that is expressed by ``SubGroup`` 2, and
  ``SubGroupDecisionIndicator`` (R = the unreliable corrections were refused) is left out.
- ``NaturalPersonUpdateNotif``, one per person (lines with the same sequence and INSZ are grouped):
  sequence, INSS, ``DeclNaturalPersonNewVersionNbr`` = our version, ``Action`` 7,
  ``BlockDecisionIndicator`` M ("the declared part has been modified"; required since 2007). No
  ``NaturalPersonPID`` / ``DeclNaturalPersonPID``: we keep no person ids, and the schema makes them optional.
- ``WRDclPart`` = the line as declared: its zones from the ``WorkerRecord``, ``CodeSubjected`` 0,
  ``Action`` 2 ("created by an original declaration"), no new version (the declared part is not what
  was kept); its occupations (``Action`` 2) and all its declared worker contributions (``Action`` 2).
- ``WRCorrectedPart`` = the line as corrected: same line zones, ``WorkerRecordNewVersionNbr`` = our
  version, ``CodeSubjected`` 0, ``Action`` 7 ("the sub-tree changed, the block itself did not"); only the
  contributions our calculation changed (glossary: cardinality 0 for unchanged blocks), ``Action`` 1
  ("changed") for a declared contribution, 3 ("created by a rectification") for one the sender did not
  declare. A correction that equals the declared values is listed in neither part as a change.
- ``OccupationUpdateNotification`` needs ``Retired``, which ``Occupation`` does not keep: it is taken
  from ``WorkerLineCorrection.retired`` (one value per occupation, in order), 0 ("not retired") when
  that is empty.
- ``RectificationAmount``: corrected − declared net amount owed; ``DebitAmount`` when ≥ 0 (glossary:
  "zero or in favour of the NSSO"), else ``CreditAmount`` of its absolute value.

Only ordinary worker lines (with occupations) are supported: student, dismissed-statutory,
early-retirement and similar lines have other declared-part contents (``ValueError``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from lxml import etree

from cbss_batch.records import Contribution, DmfaHeader, Occupation, WorkerRecord
from cbss_batch.xmlsafe import hardened_parser

IDENTIFICATION = "DMFANOT"
TRANSMISSION_MODE = "LO"
SUB_GROUP = "2"
USER_QUALITY = "22"
ACTION_CREATED_BY_ORIGINAL = "2"
ACTION_CHANGED = "1"
ACTION_CREATED_BY_RECTIFICATION = "3"
ACTION_SUBTREE_CHANGED = "7"
BLOCK_DECISION_MODIFIED = "M"
_MAX_PID = 99_999_999_999
_MAX_AMOUNT = 999_999_999_999_999  # DebitAmount / CreditAmount
_MAX_CONTRIBUTION = 99_999_999_999  # ContributionCalculationBasis / ContributionAmount


@dataclass(frozen=True, slots=True)
class ContributionCorrection:
    """One worker contribution as declared (None: not declared) and as our calculation makes it (cents)."""

    worker_code: str
    contribution_type: str
    basis_declared: int | None
    amount_declared: int | None
    basis_corrected: int | None
    amount_corrected: int

    @property
    def key(self) -> tuple[str, str]:
        return self.worker_code, self.contribution_type

    @property
    def declared(self) -> bool:
        return self.amount_declared is not None

    @property
    def changed(self) -> bool:
        return (self.basis_declared, self.amount_declared) != (self.basis_corrected, self.amount_corrected)


@dataclass(frozen=True, slots=True)
class WorkerLineCorrection:
    """A declared worker line (``record``) of person ``sequence``/``insz`` and its corrected contributions."""

    sequence: int
    insz: str
    record: WorkerRecord
    contributions: tuple[ContributionCorrection, ...]
    retired: tuple[int, ...] = ()  # Retired per occupation of ``record`` (not kept by Occupation); () = all 0


@dataclass(frozen=True, slots=True)
class DeclarationCorrection:
    """The corrections to one accepted declaration: our ticket/id, the version they make, the net amounts."""

    header: DmfaHeader
    ticket: str
    declaration_pid: str
    version: int
    lines: tuple[WorkerLineCorrection, ...]
    net_owed_declared: int
    net_owed_corrected: int


def _sub(parent: etree._Element, tag: str, text: str) -> etree._Element:
    element = etree.SubElement(parent, tag)
    element.text = text
    return element


def _pid(value: str | int, what: str) -> str:
    text = str(value)
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= _MAX_PID):
        raise ValueError(f"{what} must be a number in 1..{_MAX_PID}, got {text!r}")
    return str(int(text))


def _amount(value: int, what: str, limit: int = _MAX_AMOUNT) -> str:
    if not 0 <= value <= limit:
        raise ValueError(f"{what} out of range: {value}")
    return str(value)


def dmno_bytes(correction: DeclarationCorrection, *, now: datetime, notification_ticket: str | None = None) -> bytes:
    """The DMNO document (one ``DMFANOT`` form) for a declaration our calculation corrected."""
    if not correction.lines:
        raise ValueError("a notification of changes needs at least one corrected worker line")
    root, employer = _document(correction.header, correction.ticket, correction.declaration_pid, correction.version,
                               now=now, notification_ticket=notification_ticket)
    for person in person_updates(correction.lines, correction.version):
        employer.append(person)
    return _finish(root, correction.net_owed_corrected - correction.net_owed_declared)


def dmno_from_fragments(header: DmfaHeader, *, ticket: str, declaration_pid: str, version: int,
                        fragments: Iterable[bytes], net_owed_declared: int, net_owed_corrected: int,
                        now: datetime) -> bytes:
    """The same document from ``NaturalPersonUpdateNotif`` elements serialised by ``person_fragments``
    (the chunks of a large set each notify their own persons; one document per declaration at the end)."""
    root, employer = _document(header, ticket, declaration_pid, version, now=now)
    parser = hardened_parser()
    count = 0
    for fragment in fragments:
        employer.append(etree.fromstring(fragment, parser))
        count += 1
    if not count:
        raise ValueError("a notification of changes needs at least one corrected worker line")
    return _finish(root, net_owed_corrected - net_owed_declared)


def person_fragments(lines: Sequence[WorkerLineCorrection], version: int) -> list[bytes]:
    """Each person's ``NaturalPersonUpdateNotif`` of these corrections, serialised (for ``dmno_from_fragments``)."""
    return [etree.tostring(person) for person in person_updates(lines, version)]


def person_updates(lines: Iterable[WorkerLineCorrection], version: int) -> list[etree._Element]:
    """One ``NaturalPersonUpdateNotif`` per person of ``lines`` with its corrected worker lines, in order."""
    text = _pid(version, "version")
    persons: dict[tuple[int, str], etree._Element] = {}
    for line in lines:
        person = persons.get((line.sequence, line.insz))
        if person is None:
            person = persons[(line.sequence, line.insz)] = etree.Element("NaturalPersonUpdateNotif")
            _sub(person, "NaturalPersonSequenceNbr", str(line.sequence))
            _sub(person, "INSS", line.insz)
            _sub(person, "DeclNaturalPersonNewVersionNbr", text)
            _sub(person, "Action", ACTION_SUBTREE_CHANGED)
            _sub(person, "BlockDecisionIndicator", BLOCK_DECISION_MODIFIED)
        person.append(_worker_record(line, text))
    return list(persons.values())


def _document(header: DmfaHeader, ticket: str, declaration_pid: str, version: int, *, now: datetime,
              notification_ticket: str | None = None) -> tuple[etree._Element, etree._Element]:
    """The DMNO root and its ``EmployerDeclarationUpdateNotif``, to which the persons are appended."""
    version_text = _pid(version, "version")
    root = etree.Element("DmfAUpdateNotification")
    form = etree.SubElement(root, "Form")
    _sub(form, "Identification", IDENTIFICATION)
    _sub(form, "FormCreationDate", f"{now:%Y-%m-%d}")
    _sub(form, "FormCreationHour", f"{now:%H:%M:%S}.{now.microsecond // 1000:03d}")
    _sub(form, "AttestationStatus", "0")
    _sub(form, "TypeForm", "SU")
    references = [("3", "2", ticket)]
    if header.sender_reference:
        references.append(("3", "1", header.sender_reference))
    if notification_ticket:
        references.append(("1", "2", notification_ticket))
    if len(references) < 2:
        raise ValueError("the schema requires two References: pass notification_ticket "
                         "(the declaration has no sender reference)")
    for ref_type, origin, number in references:
        if not 1 <= len(number) <= 20:
            raise ValueError(f"ReferenceNbr must be 1..20 characters, got {number!r}")
        reference = etree.SubElement(form, "Reference")
        _sub(reference, "ReferenceType", ref_type)
        _sub(reference, "ReferenceOrigin", origin)
        _sub(reference, "ReferenceNbr", number)

    employer = etree.SubElement(form, "EmployerDeclarationUpdateNotif")
    _sub(employer, "Quarter", str(header.quarter))
    if header.noss_number and header.noss_number.strip("0"):
        _sub(employer, "NOSSRegistrationNbr", str(int(header.noss_number)))
        _sub(employer, "Trusteeship", str(header.trusteeship))
    _sub(employer, "CompanyID", header.company_id or "0")
    _sub(employer, "TransmissionMode", TRANSMISSION_MODE)
    _sub(employer, "EmployerDeclarationPID", _pid(declaration_pid, "declaration_pid"))
    _sub(employer, "EmployerDeclarationNewVersionNbr", version_text)
    _sub(employer, "Action", ACTION_SUBTREE_CHANGED)
    sub_group = etree.SubElement(employer, "SubGroupInformation")
    _sub(sub_group, "SubGroup", SUB_GROUP)
    _sub(sub_group, "UserQuality", USER_QUALITY)
    return root, employer


def _finish(root: etree._Element, difference: int) -> bytes:
    form = root[0]
    rectification = etree.SubElement(form, "RectificationAmount")
    if difference >= 0:
        _sub(rectification, "DebitAmount", _amount(difference, "DebitAmount"))
    else:
        _sub(rectification, "CreditAmount", _amount(-difference, "CreditAmount"))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _worker_record(line: WorkerLineCorrection, version: str) -> etree._Element:
    record = line.record
    if not record.occupations:
        raise ValueError(f"worker line {record.employer_class}/{record.worker_code} of person {line.sequence} "
                         "has no occupation: only ordinary worker lines can be notified")
    if line.retired and len(line.retired) != len(record.occupations):
        raise ValueError("retired must give one value per occupation of the line")
    declared = [c for c in record.contributions if c.kind == "worker"]
    _check_declared(line, declared)
    notif = etree.Element("WorkerRecordUpdateNotif")

    dcl = _line_zones(etree.SubElement(notif, "WRDclPart"), record, None, ACTION_CREATED_BY_ORIGINAL)
    retired = line.retired or (0,) * len(record.occupations)
    for occupation, retired_notion in zip(record.occupations, retired, strict=True):
        dcl.append(_occupation(occupation, retired_notion))
    for contribution in declared:
        if contribution.contribution_type is None:
            raise ValueError(f"declared contribution {contribution.worker_code} has no ContributionType")
        dcl.append(_contribution(contribution.worker_code, contribution.contribution_type,
                                 contribution.basis, contribution.amount, ACTION_CREATED_BY_ORIGINAL))

    corrected = _line_zones(etree.SubElement(notif, "WRCorrectedPart"), record, version, ACTION_SUBTREE_CHANGED)
    for change in line.contributions:
        if change.changed:
            action = ACTION_CHANGED if change.declared else ACTION_CREATED_BY_RECTIFICATION
            corrected.append(_contribution(change.worker_code, change.contribution_type, change.basis_corrected,
                                           change.amount_corrected, action))
    return notif


def _check_declared(line: WorkerLineCorrection, declared: Iterable[Contribution]) -> None:
    """Each correction's declared values must be those of the line (or absent from it when None)."""
    by_key = {(c.worker_code, c.contribution_type): c for c in declared}
    for change in line.contributions:
        found = by_key.get(change.key)
        if change.declared:
            if found is None or (found.basis, found.amount) != (change.basis_declared, change.amount_declared):
                raise ValueError(f"contribution {change.worker_code}/{change.contribution_type}: declared values "
                                 "do not match the worker line")
        elif found is not None:
            raise ValueError(f"contribution {change.worker_code}/{change.contribution_type} is declared on the line "
                             "but the correction gives no declared values")


def _line_zones(part: etree._Element, record: WorkerRecord, version: str | None, action: str) -> etree._Element:
    _sub(part, "EmployerClass", record.employer_class)
    _sub(part, "WorkerCode", record.worker_code)
    _sub(part, "NOSSQuarterStartingDate", record.quarter_start.isoformat())
    _sub(part, "NOSSQuarterEndingDate", record.quarter_end.isoformat())
    _sub(part, "Border", str(record.border))
    if record.activity_with_risk is not None:
        _sub(part, "ActivityWithRisk", str(record.activity_with_risk))
    if record.local_unit_id:
        _sub(part, "LocalUnitID", record.local_unit_id)
    if version is not None:
        _sub(part, "WorkerRecordNewVersionNbr", version)
    _sub(part, "CodeSubjected", "0")
    _sub(part, "Action", action)
    return part


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _occupation(occupation: Occupation, retired: int) -> etree._Element:
    """``OccupationUpdateNotification`` as declared (official zone order; optional zones when known)."""
    element = etree.Element("OccupationUpdateNotification")
    _sub(element, "OccupationSequenceNbr", str(occupation.sequence))
    for tag, value in (("OccupationStartingDate", _iso(occupation.starting_date)),
                       ("OccupationEndingDate", _iso(occupation.ending_date)),
                       ("JointCommissionNbr", occupation.joint_committee or None)):
        if value is not None:
            _sub(element, tag, value)
    _sub(element, "WorkingDaysSystem", str(occupation.working_days_system))
    _sub(element, "ContractType", str(occupation.contract_type))
    if occupation.ref_mean_working_hours is not None:
        _sub(element, "RefMeanWorkingHours", str(occupation.ref_mean_working_hours))
    if occupation.mean_working_hours is not None:
        _sub(element, "MeanWorkingHours", str(occupation.mean_working_hours))
    _sub(element, "Retired", str(retired))
    _sub(element, "Action", ACTION_CREATED_BY_ORIGINAL)
    if occupation.local_unit_id:
        _sub(element, "LocalUnitID", occupation.local_unit_id)
    return element


def _contribution(worker_code: str, contribution_type: str, basis: int | None, amount: int | None,
                  action: str) -> etree._Element:
    element = etree.Element("WorkerContributionAction")
    _sub(element, "ContributionWorkerCode", worker_code)
    _sub(element, "ContributionType", contribution_type)
    if basis is not None:
        _sub(element, "ContributionCalculationBasis", _amount(basis, "ContributionCalculationBasis", _MAX_CONTRIBUTION))
    if amount is not None:
        _sub(element, "ContributionAmount", _amount(amount, "ContributionAmount", _MAX_CONTRIBUTION))
    _sub(element, "Action", action)
    return element
