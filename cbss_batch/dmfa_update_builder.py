"""DmfA modifications (root ``DmfAUpdate``) for tests and samples, derived from an original DmfA.

``make_dmfa_update(original, [LineEdit(insz, action=1, remun_delta=10000)])`` writes a modification
of the original's declaration: for each edit, the person's worker line as it stands in the original
(``LastSituationWR``) and its new content (``WorkerRecordUpdateAction``) with the UpdateAction.
An ``added`` edit takes its worker line from another document (``source``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

from cbss_batch.xmlsafe import hardened_parser

_LEADING = ("EmployerClass", "WorkerCode", "NOSSQuarterStartingDate", "NOSSQuarterEndingDate", "Border",
            "ActivityWithRisk", "LocalUnitID", "WorkerRecordUserReference")


@dataclass(frozen=True, slots=True)
class LineEdit:
    """One worker line to change (1), remove (0), keep (9) or add (3)."""

    insz: str
    action: int = 1
    remun_delta: int = 0  # cents added to the first RemunAmount of the line (action 1)
    source: bytes | None = None  # for action 3: a DmfA original holding this person's worker line


def _person(root: etree._Element, insz: str) -> etree._Element:
    for person in root.iter("NaturalPerson"):
        if person.findtext("INSS") == insz:
            return person
    raise LookupError(f"no NaturalPerson with INSS {insz[:6]}… in the document")


def _sub(parent: etree._Element, tag: str, text: str) -> etree._Element:
    element = etree.SubElement(parent, tag)
    element.text = text
    return element


def _update_action(record: etree._Element, action: int, remun_delta: int) -> etree._Element:
    """WorkerRecordUpdateAction from a WorkerRecord: same zones, UpdateAction, Occupation → OccupationUpdate."""
    out = etree.Element("WorkerRecordUpdateAction")
    children = list(record)
    for child in children:
        if child.tag in _LEADING:
            out.append(copy.deepcopy(child))
    _sub(out, "UpdateAction", str(action))
    if action == 0:
        return out
    for child in children:
        if child.tag in _LEADING:
            continue
        block = copy.deepcopy(child)
        if block.tag == "Occupation":
            block.tag = "OccupationUpdate"
        out.append(block)
    if remun_delta:
        amount = next(out.iter("RemunAmount"))
        amount.text = f"{int(amount.text or '0') + remun_delta:011d}"
    return out


def make_dmfa_update(original: bytes, edits: Sequence[LineEdit], *, pid: str = "1",
                     created_on: str = "2026-11-20") -> bytes:
    """A one-Form DmfAUpdate of the original's first declaration."""
    source = etree.fromstring(original, hardened_parser())
    employer = next(source.iter("EmployerDeclaration"))
    root = etree.Element("DmfAUpdate")
    form = etree.SubElement(root, "Form")
    for tag, text in (("Identification", "DMFAUPD"), ("FormCreationDate", created_on),
                      ("FormCreationHour", "10:00:00.000"), ("AttestationStatus", "1"), ("TypeForm", "SU")):
        _sub(form, tag, text)
    update = etree.SubElement(form, "EmployerDeclarationUpdate")
    for tag in ("Quarter", "NOSSRegistrationNbr", "Trusteeship", "CompanyID"):
        _sub(update, tag, employer.findtext(tag) or "0")
    _sub(update, "EmployerDeclarationPID", pid)
    for edit in edits:
        origin = etree.fromstring(edit.source, hardened_parser()) if edit.source else source
        person = _person(origin, edit.insz)
        record = person.find("WorkerRecord")
        assert record is not None
        person_update = etree.SubElement(update, "NaturalPersonUpdate")
        _sub(person_update, "NaturalPersonSequenceNbr", person.findtext("NaturalPersonSequenceNbr") or "1")
        _sub(person_update, "INSS", edit.insz)
        line_update = etree.SubElement(person_update, "WorkerRecordUpdate")
        if edit.action != 3:
            last = etree.SubElement(line_update, "LastSituationWR")
            _sub(last, "EmployerClass", record.findtext("EmployerClass") or "")
            _sub(last, "WorkerCode", record.findtext("WorkerCode") or "")
            _sub(last, "WorkerRecordVersionNbr", "1")
        line_update.append(_update_action(record, edit.action, edit.remun_delta))
    body: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return body
