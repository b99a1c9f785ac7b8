"""Stream a Dimona file (root ``Dimona``) into one record per ``Form``.

Dimona forms are small: each is read when it ends, in one walk over its descendants, and cleared.
Which of ``DimonaIn``/``DimonaOut``/``DimonaUpdate``/``DimonaCancel`` a form carries gives its
action (``DailyRegistrationDeclaration``, the daily registration of an occasional worker within
an existing period, is action ``DAILY``). Validation works as for the DmfA: against the schema in
the stream, or in a parallel process, with the caller rolling back when the document turns out
invalid.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import IO, Any

from lxml import etree

from cbss_batch.parse.forms import stream_forms
from cbss_batch.records import DimonaDeclaration

ROOT = "Dimona"
STREAMED_BLOCKS = ("Form",)
ACTIONS = {"DimonaIn": "IN", "DimonaOut": "OUT", "DimonaUpdate": "UPDATE", "DimonaCancel": "CANCEL",
           "DailyRegistrationDeclaration": "DAILY"}


def read_dimona(source: IO[bytes], schema: etree.XMLSchema | None) -> Iterator[DimonaDeclaration]:
    """Each Form of the document as a DimonaDeclaration, in document order."""
    return stream_forms(source, ROOT, schema, _read_form)


def _text(element: Any) -> str | None:
    text = element.text
    return text.strip() if text and text.strip() else None


def _read_form(form: Any, index: int) -> DimonaDeclaration:
    head: dict[str, str | None] = {}
    sender_reference = None
    action_element = None
    for child in form:
        tag = child.tag
        if tag in ACTIONS:
            action_element = child
        elif tag == "Reference":
            ref = {c.tag: _text(c) for c in child}
            if ref.get("ReferenceType") == "1" and sender_reference is None:
                sender_reference = ref.get("ReferenceNbr")
        elif len(child) == 0:
            head[tag] = _text(child)
    zones: dict[str, str | None] = {}
    if action_element is not None:  # the schema allows a Form without any: it is refused as empty (90059-134)
        for element in action_element.iter():
            if element is not action_element and len(element) == 0:
                zones.setdefault(element.tag, _text(element))
    created = head.get("FormCreationDate")
    return DimonaDeclaration(
        form_index=index,
        identification=head.get("Identification") or "",
        created_on=date.fromisoformat(created) if created else date.min,
        created_at=head.get("FormCreationHour") or "",
        sender_reference=sender_reference,
        action=ACTIONS[action_element.tag] if action_element is not None else "",
        period_id=zones.get("DimonaPeriodId"),
        noss_number=zones.get("NOSSRegistrationNbr"),
        company_id=zones.get("CompanyID"),
        insz=zones.get("INSS"),
        worker_type=zones.get("WorkerType"),
        joint_committee=zones.get("JointCommissionNbr"),
        starting_date=_date(zones.get("StartingDate")),
        starting_hour=zones.get("StartingHour"),
        ending_date=_date(zones.get("EndingDate")),
        ending_hour=zones.get("EndingHour"),
        planned_hours=_number(zones.get("PlannedHoursNbr")),
        planned_days=_number(zones.get("PlannedDaysNbr")),
        line=form.sourceline or 0,
        action_line=(action_element if action_element is not None else form).sourceline or 0,
    )


def _number(text: str | None) -> int | None:
    return int(text) if text else None


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None
