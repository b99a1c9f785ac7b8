"""make_dimona: each action, several forms per file, valid under the official Dimona_20231.xsd."""

from __future__ import annotations

from datetime import date, time
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from cbss_batch.dimona_builder import DimonaForm, make_dimona

OFFICIAL = Path(__file__).resolve().parents[2].parent / "shared" / "official"
OFFICIAL_XSD = OFFICIAL / "xsd" / "Dimona" / "Dimona_20231.xsd"
OURS_XSD = Path(__file__).resolve().parents[2] / "xsd" / "Dimona_20231.xsd"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
PERIOD = "600027876089"

IN = DimonaForm("IN", starting_date=date(2026, 12, 1))
IN_FULL = DimonaForm(
    "IN",
    worker_type="STU",
    joint_committee="302",
    starting_date=date(2026, 12, 1),
    starting_hour=time(8, 30),
    ending_date=date(2026, 12, 3),
    ending_hour=time(17, 0),
    planned_hours=24,
    reference="HIRE-000123",
)
OUT = DimonaForm("OUT", period_id=PERIOD, ending_date=date(2026, 12, 31))
UPDATE = DimonaForm("UPDATE", period_id=PERIOD, ending_date=date(2027, 1, 31), ending_hour=time(18, 0))
CANCEL = DimonaForm("CANCEL", period_id=PERIOD)


@cache
def schema(path: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path), PARSER))


@pytest.fixture(scope="module")
def official() -> etree.XMLSchema:
    if not OFFICIAL_XSD.is_file():
        pytest.skip(f"official schema {OFFICIAL_XSD} is missing; the folder {OFFICIAL} sits beside the project")
    return schema(OFFICIAL_XSD)


def parse(data: bytes) -> etree._ElementTree:
    return etree.ElementTree(etree.fromstring(data, PARSER))


def assert_valid(official: etree.XMLSchema, data: bytes) -> etree._ElementTree:
    document = parse(data)
    assert official.validate(document), official.error_log
    assert schema(OURS_XSD).validate(document), schema(OURS_XSD).error_log
    return document


def block(document: etree._ElementTree, index: int = 0) -> etree._Element:
    """The action block of the index-th Form."""
    return document.getroot()[index][-1]


def shape(element: etree._Element) -> list[Any]:
    """Tags in order; a child with children as (tag, its shape)."""
    return [(child.tag, shape(child)) if len(child) else child.tag for child in element]


EMPLOYER = ("EmployerId", ["NOSSRegistrationNbr"])


@pytest.mark.parametrize(
    ("form", "tag", "expected"),
    [
        pytest.param(
            IN,
            "DimonaIn",
            [
                "StartingDate",
                EMPLOYER,
                ("NaturalPerson", ["INSS"]),
                ("DimonaFeatures", ["JointCommissionNbr", "WorkerType"]),
            ],
            id="IN",
        ),
        pytest.param(
            IN_FULL,
            "DimonaIn",
            [
                "StartingDate",
                "StartingHour",
                "EndingDate",
                "EndingHour",
                "PlannedHoursNbr",
                EMPLOYER,
                ("NaturalPerson", ["INSS"]),
                ("DimonaFeatures", ["JointCommissionNbr", "WorkerType"]),
            ],
            id="IN-every-zone",
        ),
        pytest.param(OUT, "DimonaOut", ["DimonaPeriodId", "EndingDate", "INSS", EMPLOYER], id="OUT"),
        pytest.param(
            UPDATE, "DimonaUpdate", ["DimonaPeriodId", "EndingDate", "EndingHour", "INSS", EMPLOYER], id="UPDATE"
        ),
        pytest.param(
            DimonaForm(
                "UPDATE",
                period_id=PERIOD,
                starting_date=date(2026, 12, 2),
                starting_hour=time(9, 0),
                ending_date=date(2026, 12, 4),
                ending_hour=time(16, 45),
                planned_hours=30,
            ),
            "DimonaUpdate",
            [
                "DimonaPeriodId",
                "StartingDate",
                "StartingHour",
                "EndingDate",
                "EndingHour",
                "INSS",
                "PlannedHoursNbr",
                EMPLOYER,
            ],
            id="UPDATE-every-zone",
        ),
        pytest.param(CANCEL, "DimonaCancel", ["DimonaPeriodId", "INSS", EMPLOYER], id="CANCEL"),
        pytest.param(
            DimonaForm("OUT", noss=None, insz=None, period_id=PERIOD, ending_date=date(2026, 12, 31)),
            "DimonaOut",
            ["DimonaPeriodId", "EndingDate"],
            id="OUT-without-INSS-and-EmployerId",
        ),
        pytest.param(
            DimonaForm("CANCEL", noss=None, insz=None, period_id=PERIOD),
            "DimonaCancel",
            ["DimonaPeriodId"],
            id="CANCEL-bare",
        ),
        pytest.param(
            DimonaForm("IN", noss=None, joint_committee=None, starting_date=date(2026, 12, 1)),
            "DimonaIn",
            ["StartingDate", ("NaturalPerson", ["INSS"]), ("DimonaFeatures", ["WorkerType"])],
            id="IN-without-EmployerId-and-JointCommissionNbr",
        ),
    ],
)
def test_each_action_is_valid_in_schema_order(
    official: etree.XMLSchema, form: DimonaForm, tag: str, expected: list[Any]
) -> None:
    document = assert_valid(official, make_dimona([form]))
    assert document.getroot().tag == "Dimona"
    assert len(document.getroot()) == 1
    assert block(document).tag == tag
    assert shape(block(document)) == expected


def test_form_head_and_values(official: etree.XMLSchema) -> None:
    document = assert_valid(official, make_dimona([IN_FULL]))
    form = document.getroot()[0]
    assert [child.tag for child in form] == [
        "Identification",
        "FormCreationDate",
        "FormCreationHour",
        "AttestationStatus",
        "TypeForm",
        "Reference",
        "DimonaIn",
    ]
    assert form.findtext("Identification") == "DIMONA"
    assert form.findtext("FormCreationDate") == "2026-11-20"
    assert form.findtext("TypeForm") == "SU"
    assert [form.findtext(f"Reference/{tag}") for tag in ("ReferenceType", "ReferenceOrigin", "ReferenceNbr")] == [
        "1",
        "1",
        "HIRE-000123",
    ]
    zones = {element.tag: element.text for element in form.find("DimonaIn").iter() if len(element) == 0}
    assert zones == {
        "StartingDate": "2026-12-01",
        "StartingHour": "0830",
        "EndingDate": "2026-12-03",
        "EndingHour": "1700",
        "PlannedHoursNbr": "24",
        "NOSSRegistrationNbr": "175110801",
        "INSS": "85073003328",
        "JointCommissionNbr": "302",
        "WorkerType": "STU",
    }


def test_defaults(official: etree.XMLSchema) -> None:
    form = assert_valid(official, make_dimona([IN])).getroot()[0]
    assert form.findtext("FormCreationDate") == "2026-11-20"
    assert form.findtext("Reference/ReferenceNbr") == "REF-1"
    assert form.findtext("DimonaIn/DimonaFeatures/WorkerType") == "OTH"
    assert form.findtext("DimonaIn/DimonaFeatures/JointCommissionNbr") == "XXX"
    assert form.findtext("DimonaIn/EmployerId/NOSSRegistrationNbr") == "175110801"


def test_several_forms_in_one_file(official: etree.XMLSchema) -> None:
    forms = [IN, IN_FULL, OUT, UPDATE, CANCEL, DimonaForm("IN", starting_date=date(2026, 12, 5), reference="REF-2")]
    document = assert_valid(official, make_dimona(forms))
    assert [block(document, i).tag for i in range(len(forms))] == [
        "DimonaIn",
        "DimonaIn",
        "DimonaOut",
        "DimonaUpdate",
        "DimonaCancel",
        "DimonaIn",
    ]
    assert document.getroot()[-1].findtext("Reference/ReferenceNbr") == "REF-2"


def test_output_is_deterministic() -> None:
    forms = [IN, OUT, UPDATE, CANCEL]
    data = make_dimona(forms)
    assert data == make_dimona(tuple(forms))
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Dimona ')
    assert b'xsi:noNamespaceSchemaLocation="Dimona_20231.xsd"' in data
    assert data.endswith(b"</Dimona>\n")


def test_reference_text_is_escaped(official: etree.XMLSchema) -> None:
    document = assert_valid(official, make_dimona([DimonaForm("CANCEL", period_id=PERIOD, reference="A&B <1>")]))
    assert document.getroot()[0].findtext("Reference/ReferenceNbr") == "A&B <1>"


def test_schema_violations_pass_through_for_tests_of_the_validator(official: etree.XMLSchema) -> None:
    """Values are written as given: a joint committee outside the 2023/1 list makes an invalid file."""
    data = make_dimona([DimonaForm("IN", joint_committee="200", starting_date=date(2026, 12, 1))])
    assert not official.validate(parse(data))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"action": "DAILY"}, "not one of", id="unknown-action"),
        pytest.param({"action": "IN"}, "needs starting_date", id="IN-without-StartingDate"),
        pytest.param({"action": "IN", "starting_date": date(2026, 12, 1), "insz": None}, "needs insz", id="IN-no-INSS"),
        pytest.param(
            {"action": "IN", "starting_date": date(2026, 12, 1), "period_id": PERIOD},
            "cannot carry period_id",
            id="IN-id",
        ),
        pytest.param({"action": "OUT", "ending_date": date(2026, 12, 31)}, "needs period_id", id="OUT-without-id"),
        pytest.param({"action": "OUT", "period_id": PERIOD}, "needs ending_date", id="OUT-without-EndingDate"),
        pytest.param(
            {"action": "OUT", "period_id": PERIOD, "ending_date": date(2026, 12, 31), "ending_hour": time(18)},
            "cannot carry ending_hour",
            id="OUT-with-EndingHour",
        ),
        pytest.param(
            {
                "action": "OUT",
                "period_id": PERIOD,
                "ending_date": date(2026, 12, 31),
                "starting_date": date(2026, 1, 1),
            },
            "cannot carry starting_date",
            id="OUT-with-StartingDate",
        ),
        pytest.param({"action": "UPDATE", "period_id": PERIOD}, "at least one", id="UPDATE-without-change"),
        pytest.param(
            {"action": "CANCEL", "period_id": PERIOD, "ending_date": date(2026, 12, 31)},
            "cannot carry ending_date",
            id="CANCEL-with-EndingDate",
        ),
        pytest.param(
            {"action": "IN", "starting_date": date(2026, 12, 1), "starting_hour": time(8, 0, 30)},
            "HHMM",
            id="hour-with-seconds",
        ),
    ],
)
def test_a_form_the_schema_cannot_hold_is_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DimonaForm(**fields)


def test_no_forms_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one Form"):
        make_dimona([])


def test_forms_are_frozen() -> None:
    with pytest.raises(AttributeError):
        IN.action = "OUT"  # type: ignore[misc]


def _joint_committee_codes(path: Path) -> set[str]:
    """The values the schema at ``path`` enumerates for JointCommissionNbr."""
    xs = "{http://www.w3.org/2001/XMLSchema}"
    return {e.get("value") or "" for element in etree.parse(str(path)).iter(f"{xs}element")
            if element.get("name") == "JointCommissionNbr" for e in element.iter(f"{xs}enumeration")}


def test_the_other_joint_committees_code_is_the_one_both_schemas_enumerate() -> None:
    from cbss_batch.dimona_builder import OTHER_JOINT_COMMITTEES

    ours = Path(__file__).resolve().parents[2] / "xsd" / "Dimona_20231.xsd"
    expected = {"124", "140", "144", "145", "149", "302", "320", "322", OTHER_JOINT_COMMITTEES}
    assert _joint_committee_codes(ours) == expected
    if not OFFICIAL_XSD.is_file():
        pytest.skip(f"official schema {OFFICIAL_XSD} is missing; the folder {OFFICIAL} sits beside the project")
    assert _joint_committee_codes(OFFICIAL_XSD) == expected
