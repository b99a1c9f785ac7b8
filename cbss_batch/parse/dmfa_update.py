"""Stream a DmfA modification (root ``DmfAUpdate``) into one ``DmfaModification`` per Form.

A modification names worker lines of an accepted declaration (``LastSituationWR``) and gives each
one's new content with an ``UpdateAction``; the worker-line content has the DmfA original's shape
and is read by the same readers. Modification forms are small: each is read when it ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import IO, Any

from lxml import etree

from cbss_batch.parse.dmfa import _read_worker_record
from cbss_batch.parse.forms import stream_forms
from cbss_batch.records import DmfaModification, PersonUpdate, Quarter, WorkerLineUpdate

ROOT = "DmfAUpdate"
STREAMED_BLOCKS = ("Form",)


def read_dmfa_update(source: IO[bytes], schema: etree.XMLSchema | None) -> Iterator[DmfaModification]:
    """Each Form of the document, in document order."""
    return stream_forms(source, ROOT, schema, _read_form)


def _text(element: Any) -> str | None:
    text = element.text
    return text.strip() if text and text.strip() else None


def _read_form(form: Any, index: int) -> DmfaModification:
    head: dict[str, str | None] = {}
    sender_reference = None
    employer = None
    for child in form:
        if child.tag == "EmployerDeclarationUpdate":
            employer = child
        elif child.tag == "Reference":
            ref = {c.tag: _text(c) for c in child}
            sender_reference = sender_reference or ref.get("ReferenceNbr")
        elif len(child) == 0:
            head[child.tag] = _text(child)
    if employer is None:
        raise ValueError("a DmfAUpdate Form without EmployerDeclarationUpdate")
    zones: dict[str, str | None] = {}
    persons = []
    for child in employer:
        if child.tag == "NaturalPersonUpdate":
            persons.append(_read_person(child))
        elif len(child) == 0:
            zones.setdefault(child.tag, _text(child))
    created = head.get("FormCreationDate")
    return DmfaModification(
        form_index=index, identification=head.get("Identification") or "",
        created_on=date.fromisoformat(created) if created else date.min,
        created_at=head.get("FormCreationHour") or "", sender_reference=sender_reference,
        quarter=Quarter.parse(zones.get("Quarter") or ""), noss_number=zones.get("NOSSRegistrationNbr") or "0",
        company_id=zones.get("CompanyID") or "0", sender_pid=zones.get("EmployerDeclarationPID"),
        justification=zones.get("Justification"), persons=tuple(persons), line=form.sourceline or 0,
    )


def _read_person(element: Any) -> PersonUpdate:
    sequence = 0
    insz = ""
    updates = []
    for child in element:
        if child.tag == "WorkerRecordUpdate":
            updates.append(_read_update(child))
        elif child.tag == "INSS":
            insz = _text(child) or ""
        elif child.tag == "NaturalPersonSequenceNbr":
            sequence = int(child.text)
    return PersonUpdate(sequence=sequence, insz=insz, line=element.sourceline or 0, updates=tuple(updates))


def _read_update(element: Any) -> WorkerLineUpdate:
    target = None
    action_element = None
    for child in element:
        if child.tag == "LastSituationWR":
            zones = {c.tag: _text(c) for c in child}
            target = (zones.get("EmployerClass") or "", zones.get("WorkerCode") or "")
        elif child.tag == "WorkerRecordUpdateAction":
            action_element = child
    if action_element is None:
        raise ValueError("a WorkerRecordUpdate without WorkerRecordUpdateAction")
    action = next((int(c.text) for c in action_element if c.tag == "UpdateAction" and c.text), 9)
    return WorkerLineUpdate(target=target, action=action, record=_read_worker_record(action_element),
                            line=element.sourceline or 0)
