"""ACRF and NOTI answers: valid against the official schemas and ours, official Path order, safe names and labels."""

from __future__ import annotations

import tempfile
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from cbss_batch.notify import PATH_ORDER, NotiForm, acrf_bytes, anomaly_report, printable_name, write_noti
from cbss_batch.records import Finding

PROJECT = Path(__file__).resolve().parents[2]
OFFICIAL = Path(__file__).resolve().parents[2].parent / "shared" / "official"
OFFICIAL_XSD = OFFICIAL / "xsd" / "Dimona"
XS = "{http://www.w3.org/2001/XMLSchema}"
NOW = datetime(2026, 11, 28, 14, 2, 11, 250_000)
GO_NAME = "GO.DMFA.006400.20261128.00001.T.1"
HOSTILE_NAME = "GO.DMFA.006400\x00\n\t é\x7f<&>" + "9" * 80

# Identifying keys with values valid for their official types, listed in the official order.
PATH_KEYS = (("Quarter", "20253"), ("NOSSRegistrationNbr", "175110801"), ("Trusteeship", "0"),
             ("CompanyID", "0403170701"), ("NaturalPersonSequenceNbr", "1"), ("INSS", "80111405125"),
             ("EmployerClass", "010"), ("WorkerCode", "015"), ("OccupationSequenceNbr", "1"),
             ("ServiceSequenceNbr", "1"), ("ServiceCode", "001"), ("RemunSequenceNbr", "2"), ("RemunCode", "001"),
             ("DeductionCode", "1"), ("JointCommissionNbr", "100"), ("ContributionWorkerCode", "015"),
             ("ContributionType", "1"))


@pytest.fixture(scope="module")
def schemas() -> dict[str, etree.XMLSchema]:
    """Compiled ACRF and NOTI schemas: the official reference ones and ours in xsd/."""
    if not OFFICIAL.is_dir():
        pytest.skip(f"official reference data not found at {OFFICIAL}")

    def compile_xsd(path: Path) -> etree.XMLSchema:
        return etree.XMLSchema(etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)))

    return {
        "official-acrf": compile_xsd(OFFICIAL_XSD / "ACRF_20231.xsd"),
        "our-acrf": compile_xsd(PROJECT / "xsd" / "ACRF_20231.xsd"),
        "official-noti": compile_xsd(OFFICIAL_XSD / "NOTIFICATION_20223.xsd"),
        "our-noti": compile_xsd(PROJECT / "xsd" / "NOTIFICATION_20223.xsd"),
    }


def assert_valid(schemas: dict[str, etree.XMLSchema], kind: str, document: etree._ElementTree) -> None:
    for owner in ("official", "our"):
        schema = schemas[f"{owner}-{kind}"]
        assert schema.validate(document), f"{owner} {kind} schema: {schema.error_log}"


def parse(data: bytes) -> etree._ElementTree:
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True)).getroottree()


def form(*findings: Finding, accepted: bool = False, quarter: str | None = "20253", ticket: str = "D1") -> NotiForm:
    return NotiForm(identification="DMFA", created_on=date(2026, 11, 27), created_at="09:43:00.002",
                    noss_number="175110801", company_id="0403170701", quarter=quarter, ticket=ticket,
                    accepted=accepted, findings=tuple(findings))


def noti(forms: list[NotiForm], *, file_name: str = GO_NAME) -> etree._ElementTree:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "FO.NOTI.999999.20261128.00001.T"
        write_noti(path, file_name=file_name, set_ticket="340000JEDT00A", forms=forms, now=NOW)
        return parse(path.read_bytes())


# ---------------------------------------------------------------- ACRF


@pytest.mark.parametrize(
    ("accepted", "codes"),
    [(True, ()), (True, ("102",)), (False, ("088",)), (False, ("102", "093", "172")), (False, ())],
    ids=["positive", "positive-ignores-codes", "negative-one-code", "negative-three-codes", "negative-no-code"],
)
def test_acrf_validates_against_official_and_our_schema(schemas: dict[str, etree.XMLSchema], accepted: bool,
                                                        codes: tuple[str, ...]) -> None:
    assert_valid(schemas, "acrf", parse(acrf_bytes(file_name=GO_NAME, ticket="340000JEDT00A", accepted=accepted,
                                                   error_codes=codes, now=NOW)))


def test_positive_acrf_has_result_code_1_and_no_error_id() -> None:
    root = parse(acrf_bytes(file_name=GO_NAME, ticket="T1", accepted=True, error_codes=("102",), now=NOW)).getroot()
    assert root.findtext("Form/ReceptionResult/ResultCode") == "1"
    assert root.findall("Form/ReceptionResult/ErrorID") == []


def test_negative_acrf_lists_each_error_id_once_in_first_seen_order() -> None:
    data = acrf_bytes(file_name=GO_NAME, ticket="T1", accepted=False, error_codes=["102", "093", "102", "172", "093"],
                      now=NOW)
    root = parse(data).getroot()
    assert root.findtext("Form/ReceptionResult/ResultCode") == "0"
    assert [e.text for e in root.iterfind("Form/ReceptionResult/ErrorID")] == ["ACRF-102", "ACRF-093", "ACRF-172"]


def test_duplicate_acrf_names_the_original_ticket_and_stays_valid(schemas: dict[str, etree.XMLSchema]) -> None:
    data = acrf_bytes(file_name=GO_NAME, ticket="T2", accepted=False, error_codes=("133",), now=NOW,
                      original_ticket="340000JEDT00A")
    tree = parse(data)
    assert_valid(schemas, "acrf", tree)
    result = tree.getroot().find("Form/ReceptionResult")
    assert [e.text for e in result.iterfind("ErrorID")] == ["ACRF-133"]
    assert "340000JEDT00A" in "".join(c.text for c in result.iter(etree.Comment))


def test_acrf_header_and_file_reference_follow_the_protocol() -> None:
    data = acrf_bytes(file_name=GO_NAME, ticket="340000JEDT00A", accepted=True, error_codes=(), now=NOW)
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    form_element = parse(data).getroot().find("Form")
    assert [(c.tag, c.text) for c in form_element[:5]] == [
        ("Identification", "ACRF001"), ("FormCreationDate", "2026-11-28"), ("FormCreationHour", "14:02:11.250"),
        ("AttestationStatus", "0"), ("TypeForm", "FA")]
    assert [(c.tag, c.text) for c in form_element.find("FileReference")] == [
        ("FileName", GO_NAME), ("ReferenceOrigin", "2"), ("ReferenceNbr", "340000JEDT00A")]


@pytest.mark.parametrize(
    ("microsecond", "hour"),
    [(0, "14:02:11.000"), (999, "14:02:11.000"), (1_000, "14:02:11.001"), (999_999, "14:02:11.999")],
    ids=["zero", "below-a-millisecond", "one-millisecond", "last-microsecond"],
)
def test_form_creation_hour_has_three_millisecond_digits(microsecond: int, hour: str) -> None:
    now = NOW.replace(microsecond=microsecond)
    data = acrf_bytes(file_name=GO_NAME, ticket="T1", accepted=True, error_codes=(), now=now)
    assert parse(data).getroot().findtext("Form/FormCreationHour") == hour


def test_acrf_for_a_hostile_name_is_valid_and_names_it_printably(schemas: dict[str, etree.XMLSchema]) -> None:
    tree = parse(acrf_bytes(file_name=HOSTILE_NAME, ticket="T1", accepted=False, error_codes=("107",), now=NOW))
    assert_valid(schemas, "acrf", tree)
    assert tree.getroot().findtext("Form/FileReference/FileName") == printable_name(HOSTILE_NAME)


# ---------------------------------------------------------------- NOTI


FULL = Finding(code="00024-004", message="invalid check digit", tag="INSS", value="80111405126", line=86, column=20,
               path=(("WorkerCode", "015"), ("INSS", "80111405125"), ("NOSSRegistrationNbr", "175110801"),
                     ("EmployerClass", "010")))
LINE_ONLY = Finding(code="ACRF-102", message="Premature end of data", line=12)
COLUMN_ONLY = Finding(code="90012-007", anomaly_class="P", message="total differs", column=7)
BARE = Finding(code="00013-001", anomaly_class="W")
PATH_ONLY = Finding(code="90012-044", anomaly_class="NP", path=(("INSS", "80111405125"), ("Quarter", "20253")))


def test_noti_with_several_forms_validates_against_official_and_our_schema(
        schemas: dict[str, etree.XMLSchema]) -> None:
    tree = noti([form(FULL, LINE_ONLY, COLUMN_ONLY, ticket="D1"), form(accepted=True, ticket="D2"),
                 form(BARE, PATH_ONLY, accepted=True, quarter=None, ticket="D3")])
    assert_valid(schemas, "noti", tree)
    forms = tree.getroot().findall("Form")
    assert [f.findtext("HandledReference/ReferenceNbr") for f in forms] == ["D1", "D2", "D3"]
    assert [f.findtext("HandlingResult/ResultCode") for f in forms] == ["0", "1", "1"]
    assert [len(f.findall("HandlingResult/AnomalyReport")) for f in forms] == [3, 0, 2]
    assert [f.findtext("FileReference/FileName") for f in forms] == [GO_NAME] * 3
    assert [f.findtext("ConcernedQuarter/Quarter") for f in forms] == ["20253", "20253", None]


@pytest.mark.parametrize(
    ("finding", "children", "location"),
    [
        (FULL, ["ErrorID", "TagName", "Value", "AnomalyClass", "AnomalyLabel", "AnomalyLocation", "Path"],
         [("LineNbr", "86"), ("ColumnNbr", "20")]),
        (LINE_ONLY, ["ErrorID", "AnomalyClass", "AnomalyLabel", "AnomalyLocation"], [("LineNbr", "12")]),
        (COLUMN_ONLY, ["ErrorID", "AnomalyClass", "AnomalyLabel", "AnomalyLocation"], [("ColumnNbr", "7")]),
        (BARE, ["ErrorID", "AnomalyClass"], []),
        (PATH_ONLY, ["ErrorID", "AnomalyClass", "Path"], []),
    ],
    ids=["everything", "line-only", "column-only", "bare", "path-only"],
)
def test_anomaly_report_writes_only_what_the_finding_has(schemas: dict[str, etree.XMLSchema], finding: Finding,
                                                         children: list[str],
                                                         location: list[tuple[str, str]]) -> None:
    report = anomaly_report(finding)
    assert [c.tag for c in report] == children
    assert report.findtext("ErrorID") == finding.code
    assert report.findtext("AnomalyClass") == finding.anomaly_class
    assert [(c.tag, c.text) for c in report.iterfind("AnomalyLocation/*")] == location
    assert_valid(schemas, "noti", noti([form(finding)]))


def official_path_order() -> list[str]:
    """The children of the official PathType, in schema order (choices flattened)."""
    tree = etree.parse(str(OFFICIAL_XSD / "NOTIFICATION_20223.xsd"))
    (path_type,) = tree.getroot().iterfind(f"{XS}complexType[@name='PathType']")
    return [e.get("ref") for e in path_type.iter(f"{XS}element")]


def test_path_order_of_the_code_follows_the_official_path_type(schemas: dict[str, etree.XMLSchema]) -> None:
    official = official_path_order()
    assert [label for label in official if label in PATH_ORDER] == list(PATH_ORDER)


def test_path_children_follow_the_official_order_for_every_known_key(schemas: dict[str, etree.XMLSchema]) -> None:
    labels = [label for label in PATH_ORDER if label != "NOSSLPARegistrationNbr"]  # a choice with NOSS number
    finding = Finding(code="90012-007", path=tuple((label, "1") for label in reversed(labels)))
    emitted = [c.tag for c in anomaly_report(finding).find("Path")]
    official = official_path_order()
    assert emitted == sorted(labels, key=official.index)


@settings(max_examples=50, deadline=None)
@given(keys=st.lists(st.sampled_from(PATH_KEYS), min_size=1, unique=True).flatmap(st.permutations))
def test_path_children_come_out_in_official_order_whatever_the_finding_order(
        schemas: dict[str, etree.XMLSchema], keys: list[tuple[str, str]]) -> None:
    finding = Finding(code="00024-004", tag="INSS", path=tuple(keys))
    assert [(c.tag, c.text) for c in anomaly_report(finding).find("Path")] == [k for k in PATH_KEYS if k in keys]
    assert_valid(schemas, "noti", noti([form(finding)]))


def test_path_drops_keys_the_official_path_does_not_know(schemas: dict[str, etree.XMLSchema]) -> None:
    finding = Finding(code="00024-004", path=(("Bogus", "1"), ("INSS", "80111405125"), ("WorkerRecord", "x")))
    assert [c.tag for c in anomaly_report(finding).find("Path")] == ["INSS"]
    assert_valid(schemas, "noti", noti([form(finding)]))


def test_path_with_only_unknown_keys_is_left_out() -> None:
    assert anomaly_report(Finding(code="00024-004", path=(("Bogus", "1"),))).find("Path") is None


@pytest.mark.parametrize(
    ("message", "label"),
    [("short", "short"), ("x" * 500, "x" * 500), ("y" * 501, "y" * 500), ("é" * 800, "é" * 500), ("", None)],
    ids=["short", "exactly-500", "501", "accented-800", "empty"],
)
def test_anomaly_label_is_truncated_to_500_characters(schemas: dict[str, etree.XMLSchema], message: str,
                                                     label: str | None) -> None:
    finding = Finding(code="00024-004", message=message)
    assert anomaly_report(finding).findtext("AnomalyLabel") == label
    assert_valid(schemas, "noti", noti([form(finding)]))


def test_noti_for_a_hostile_name_is_valid_and_names_it_printably(schemas: dict[str, etree.XMLSchema]) -> None:
    tree = noti([form(BARE)], file_name=HOSTILE_NAME)
    assert_valid(schemas, "noti", tree)
    assert tree.getroot().findtext("Form/FileReference/FileName") == printable_name(HOSTILE_NAME)


def test_noti_form_header_and_handled_form_follow_the_protocol() -> None:
    (form_element,) = noti([form(BARE)]).getroot()
    assert [c.tag for c in form_element] == [
        "Identification", "FormCreationDate", "FormCreationHour", "AttestationStatus", "TypeForm", "FileReference",
        "HandledOriginalForm", "EmployerId", "ConcernedQuarter", "HandledReference", "HandlingResult"]
    assert form_element.findtext("Identification") == "NOTI001"
    assert form_element.findtext("FormCreationHour") == "14:02:11.250"
    assert [(c.tag, c.text) for c in form_element.find("HandledOriginalForm")] == [
        ("Identification", "DMFA"), ("FormCreationDate", "2026-11-27"), ("FormCreationHour", "09:43:00.002"),
        ("AttestationStatus", "0"), ("TypeForm", "SU")]
    assert [(c.tag, c.text) for c in form_element.find("HandledReference")] == [
        ("ReferenceType", "1"), ("ReferenceOrigin", "2"), ("ReferenceNbr", "D1")]


# ---------------------------------------------------------------- printable names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (GO_NAME, GO_NAME),
        ("GO.DMFA\x00.006400\n", "GO.DMFA?.006400?"),
        ("FI DMFA\t\r\x1b[31m", "FI?DMFA???[31m"),
        ("FI.DMFA.é€\x7f", "FI.DMFA.???"),
        ("A" * 65, "A" * 64),
        ("\x00" * 100, "?" * 64),
        ("", "?"),
    ],
    ids=["protocol-name", "nul-and-newline", "space-tab-escape", "non-ascii-and-del", "65-chars", "100-nuls",
         "empty"],
)
def test_printable_name_is_printable_ascii_and_at_most_64_characters(name: str, expected: str) -> None:
    assert printable_name(name) == expected


@given(st.text())
def test_any_received_name_becomes_printable_and_at_most_64_characters(name: str) -> None:
    printable = printable_name(name)
    assert 1 <= len(printable) <= 64
    assert all("!" <= char <= "~" for char in printable)


def test_numbers_the_notification_cannot_hold_become_zero_and_it_stays_valid(tmp_path: Path) -> None:
    official = Path(__file__).resolve().parents[2].parent / "shared" / "official"
    if not official.is_dir():
        pytest.skip(f"official reference data not found at {official}")
    finding = Finding(code="00011-004", anomaly_class="W", message="m", line=3,
                      path=(("NOSSRegistrationNbr", "999999999"), ("CompanyID", "9999999999")))
    form = NotiForm(identification="WECH001", created_on=date(2026, 11, 20), created_at="10:00:00.000",
                    noss_number="999999999", company_id="9999999999", quarter=None, ticket="CB1", accepted=True,
                    findings=(finding,))
    path = tmp_path / "noti.xml"
    write_noti(path, file_name="GO.WECH.006400.20261120.00001.T.1", set_ticket="CB0", forms=[form],
               now=datetime(2026, 11, 28, 12))
    schema = etree.XMLSchema(etree.parse(str(official / "xsd" / "Dimona" / "NOTIFICATION_20223.xsd")))
    document = etree.parse(str(path))
    assert schema.validate(document), schema.error_log
    assert document.findtext("Form/EmployerId/NOSSRegistrationNbr") == "0"
    assert document.findtext("Form/HandlingResult/AnomalyReport/Path/CompanyID") == "0"
