"""Dimona files (schema Dimona_20231) for tests and samples: one ``Form`` per ``DimonaForm``, same bytes each time.

The element order follows the official ``Dimona_20231.xsd`` (and ``xsd/catalogue/Dimona_20231.cat``):

- IN: StartingDate StartingHour? EndingDate? EndingHour? PlannedHoursNbr? EmployerId? NaturalPerson
  DimonaFeatures (JointCommissionNbr? WorkerType)
- OUT: DimonaPeriodId EndingDate INSS? EmployerId? (the schema has no EndingHour in an OUT)
- UPDATE: DimonaPeriodId StartingDate? StartingHour? EndingDate? EndingHour? INSS? PlannedHoursNbr? EmployerId?
- CANCEL: DimonaPeriodId INSS? EmployerId?

``noss`` writes ``EmployerId/NOSSRegistrationNbr`` and ``insz`` the INSS wherever the action allows them;
set either to None to leave it out. Values are written as given (no check digits are verified), so a test
can build a file that breaks a business rule; a zone the action cannot carry raises ValueError.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import Literal

from lxml import etree

Action = Literal["IN", "OUT", "UPDATE", "CANCEL"]
ACTIONS: dict[str, str] = {"IN": "DimonaIn", "OUT": "DimonaOut", "UPDATE": "DimonaUpdate", "CANCEL": "DimonaCancel"}
SCHEMA_NAME = "Dimona_20231.xsd"
CREATION_HOUR = "08:00:00.000"  # FormCreationHour: fixed, so the output depends on the forms only
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
# Zones (DimonaForm fields) each action may carry, besides noss/insz/worker_type/joint_committee.
_ALLOWED: dict[str, frozenset[str]] = {
    "IN": frozenset({"starting_date", "starting_hour", "ending_date", "ending_hour", "planned_hours"}),
    "OUT": frozenset({"period_id", "ending_date"}),
    "UPDATE": frozenset({"period_id", "starting_date", "starting_hour", "ending_date", "ending_hour", "planned_hours"}),
    "CANCEL": frozenset({"period_id"}),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "IN": ("starting_date", "insz"),
    "OUT": ("period_id", "ending_date"),
    "UPDATE": ("period_id",),
    "CANCEL": ("period_id",),
}
_OPTIONAL_ZONES = ("starting_date", "starting_hour", "ending_date", "ending_hour", "planned_hours", "period_id")
_CHANGES = ("starting_date", "starting_hour", "ending_date", "ending_hour", "planned_hours")


# JointCommissionNbr of a Dimona 2023/1 IN: the official schema enumerates 124, 140, 144, 145, 149, 302,
# 320, 322 and this code, its value for every other joint committee (200 included); not a placeholder.
OTHER_JOINT_COMMITTEES = "XXX"


@dataclass(frozen=True, slots=True)
class DimonaForm:
    """One Dimona declaration: its action and the zones it carries (None: not written)."""

    action: Action
    noss: str | None = "175110801"
    insz: str | None = "85073003328"
    worker_type: str = "OTH"  # IN only (DimonaFeatures)
    joint_committee: str | None = OTHER_JOINT_COMMITTEES  # IN only
    starting_date: date | None = None
    ending_date: date | None = None
    starting_hour: time | None = None
    ending_hour: time | None = None
    planned_hours: int | None = None
    period_id: str | None = None
    created_on: date = date(2026, 11, 20)
    reference: str = "REF-1"

    def __post_init__(self) -> None:
        """Reject an unknown action, a missing mandatory zone, or a zone the action cannot carry."""
        if self.action not in ACTIONS:
            raise ValueError(f"action {self.action!r} is not one of {', '.join(ACTIONS)}")
        for name in _REQUIRED[self.action]:
            if getattr(self, name) is None:
                raise ValueError(f"a Dimona {self.action} needs {name}")
        for name in _OPTIONAL_ZONES:
            if getattr(self, name) is not None and name not in _ALLOWED[self.action]:
                block = ACTIONS[self.action]
                raise ValueError(f"a Dimona {self.action} cannot carry {name} ({block} in {SCHEMA_NAME})")
        if self.action == "UPDATE" and all(getattr(self, name) is None for name in _CHANGES):
            raise ValueError(f"a Dimona UPDATE changes at least one of {', '.join(_CHANGES)}")
        for name in ("starting_hour", "ending_hour"):
            hour = getattr(self, name)
            if hour is not None and (hour.second or hour.microsecond or hour.tzinfo):
                raise ValueError(f"{name} is written HHMM: no seconds or time zone ({hour.isoformat()})")


def make_dimona(forms: Sequence[DimonaForm]) -> bytes:
    """A Dimona file (UTF-8 bytes) with one Form per entry of ``forms``, in order."""
    if not forms:
        raise ValueError("a Dimona file holds at least one Form")
    root = etree.Element("Dimona", nsmap={"xsi": _XSI})
    root.set(f"{{{_XSI}}}noNamespaceSchemaLocation", SCHEMA_NAME)
    for form in forms:
        _write_form(root, form)
    etree.indent(root, space="\t")
    body: bytes = etree.tostring(root, encoding="UTF-8")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body + b"\n"


def _write_form(root: etree._Element, form: DimonaForm) -> None:
    """Append the Form for ``form``: common head, Reference, then its action block."""
    node = etree.SubElement(root, "Form")
    _zone(node, "Identification", "DIMONA")
    _zone(node, "FormCreationDate", form.created_on.isoformat())
    _zone(node, "FormCreationHour", CREATION_HOUR)
    _zone(node, "AttestationStatus", "0")
    _zone(node, "TypeForm", "SU")
    reference = etree.SubElement(node, "Reference")
    _zone(reference, "ReferenceType", "1")
    _zone(reference, "ReferenceOrigin", "1")
    _zone(reference, "ReferenceNbr", form.reference)
    block = etree.SubElement(node, ACTIONS[form.action])
    if form.action == "IN":
        _dates(block, form)
        _zone(block, "PlannedHoursNbr", form.planned_hours)
        _employer(block, form)
        _zone(etree.SubElement(block, "NaturalPerson"), "INSS", form.insz)
        features = etree.SubElement(block, "DimonaFeatures")
        _zone(features, "JointCommissionNbr", form.joint_committee)
        _zone(features, "WorkerType", form.worker_type)
        return
    _zone(block, "DimonaPeriodId", form.period_id)
    if form.action == "OUT":
        _zone(block, "EndingDate", form.ending_date)
    elif form.action == "UPDATE":
        _dates(block, form)
    _zone(block, "INSS", form.insz)
    if form.action == "UPDATE":
        _zone(block, "PlannedHoursNbr", form.planned_hours)
    _employer(block, form)


def _dates(block: etree._Element, form: DimonaForm) -> None:
    """StartingDate StartingHour EndingDate EndingHour, each when given."""
    _zone(block, "StartingDate", form.starting_date)
    _zone(block, "StartingHour", form.starting_hour)
    _zone(block, "EndingDate", form.ending_date)
    _zone(block, "EndingHour", form.ending_hour)


def _employer(block: etree._Element, form: DimonaForm) -> None:
    """EmployerId with the NOSS registration number, when one is given."""
    if form.noss is not None:
        _zone(etree.SubElement(block, "EmployerId"), "NOSSRegistrationNbr", form.noss)


def _zone(parent: etree._Element, tag: str, value: str | int | date | time | None) -> None:
    """A simple element holding ``value`` (dates ISO, hours HHMM); nothing when ``value`` is None."""
    if value is None:
        return
    if isinstance(value, time):
        text = f"{value.hour:02d}{value.minute:02d}"
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = str(value)
    etree.SubElement(parent, tag).text = text
