"""The extract file, written as a stream (lxml's incremental writer): memory stays flat however many records."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from cbss_batch.extract.facts import Record
from cbss_batch.faults import crash_point

ROOT = "InstitutionExtract"
SCHEMA = "InstitutionExtract_2026.xsd"
_PAYLOAD = {"dmfa": "DmfAWorkerLine", "dimona": "DimonaPeriod", "risk": "SocialRisk"}


def write_extract(path: Path, *, institution: str, file_name: str, now: datetime, first_event: int,
                  last_event: int, backfill: bool, records: Iterable[Record]) -> int:
    """Write the extract to ``path``; the number of records written."""
    count = 0
    with etree.xmlfile(str(path), encoding="UTF-8") as xf:
        xf.write_declaration()
        with xf.element(ROOT):
            xf.write("\n")
            header = etree.Element("ExtractHeader")
            _fill(header, {"Institution": institution, "FileName": file_name, "FormCreationDate": now.date(),
                           "FormCreationHour": f"{now:%H:%M:%S}.{now.microsecond // 1000:03d}",
                           "FirstEventNbr": first_event, "LastEventNbr": last_event, "Backfill": backfill})
            xf.write(header, pretty_print=True)
            for record in records:
                count += 1
                xf.write(record_element(count, record), pretty_print=True)
                if count == 1:
                    crash_point("mid-extract")  # a partial extract on disk, nothing recorded
            trailer = etree.Element("ExtractTrailer")
            _fill(trailer, {"RecordCount": count})
            xf.write(trailer, pretty_print=True)
    return count


def record_element(number: int, record: Record) -> etree._Element:
    element = etree.Element("ExtractRecord")
    lineage = record.lineage
    _fill(element, {"RecordNbr": number, "EventNbr": record.event_id, "Mutation": record.mutation})
    _fill(etree.SubElement(element, "Lineage"), {
        "DeclarationTicket": lineage.declaration_ticket, "SetTicket": lineage.set_ticket,
        "ReceivedFileName": lineage.file_name, "LineNbr": lineage.line})
    _fill(etree.SubElement(element, _PAYLOAD[record.kind]), record.data)
    return element


def _fill(parent: etree._Element, data: dict[str, Any]) -> None:
    """Children in the order of ``data``; None is left out, a list repeats the element."""
    sub = etree.SubElement
    for tag, value in data.items():
        if value is None:
            continue
        kind = type(value)
        if kind is str:
            sub(parent, tag).text = value
        elif kind is int:
            sub(parent, tag).text = str(value)
        elif kind is list:
            for item in value:
                if isinstance(item, dict):
                    _fill(etree.SubElement(parent, tag), item)
                else:
                    etree.SubElement(parent, tag).text = _text(item)
        else:
            etree.SubElement(parent, tag).text = _text(value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)
