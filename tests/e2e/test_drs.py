"""Social-risk declarations through the pipeline: official examples, a ZIMA001 with its wage data,
sex and date rules, and the cross-checks with the personnel file."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from cbss_batch.dimona_builder import DimonaForm, make_dimona
from tests.builders import drop_set
from tests.conftest import TODAY, Workspace

NAME_DAY = TODAY.replace(day=20)
NOSS = "175110801"
MAN = "85073003328"  # sequence 033: odd → a man in the National Register


def zima001(*, insz: str, risk: str, start: date, last_day: date, amount: int = 350000, unit: int = 4) -> bytes:
    """A ZIMA001 (incapacity/maternity start) with one worker line and the wage basis of the allowance."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ZIMA001>
  <Form>
    <Identification>ZIMA001</Identification>
    <FormCreationDate>2026-11-20</FormCreationDate>
    <FormCreationHour>09:00:00.000</FormCreationHour>
    <AttestationStatus>0</AttestationStatus>
    <TypeForm>SU</TypeForm>
    <CoordinatesContactPerson/>
    <DclInformation><LanguageCodePdf>1</LanguageCodePdf></DclInformation>
    <RiskIdentification><IdentificationOfRisk>{risk}</IdentificationOfRisk></RiskIdentification>
    <RiskDetail><RiskStartingDate>{start.isoformat()}</RiskStartingDate></RiskDetail>
    <EmployerDeclaration>
      <Quarter>20253</Quarter>
      <NOSSRegistrationNbr>{NOSS}</NOSSRegistrationNbr>
      <Trusteeship>0</Trusteeship>
      <CompanyID>0403170701</CompanyID>
      <NaturalPerson>
        <NaturalPersonSequenceNbr>1</NaturalPersonSequenceNbr>
        <INSS>{insz}</INSS>
        <WorkerRecord>
          <EmployerClass>010</EmployerClass>
          <WorkerCode>495</WorkerCode>
          <NOSSQuarterStartingDate>2025-07-01</NOSSQuarterStartingDate>
          <NOSSQuarterEndingDate>2025-09-30</NOSSQuarterEndingDate>
          <Border>0</Border>
          <Occupation>
            <OccupationSequenceNbr>1</OccupationSequenceNbr>
            <OccupationStartingDate>2024-01-01</OccupationStartingDate>
            <JointCommissionNbr>200</JointCommissionNbr>
            <WorkingDaysSystem>500</WorkingDaysSystem>
            <ContractType>0</ContractType>
            <RefMeanWorkingHours>3800</RefMeanWorkingHours>
            <MeanWorkingHours>3800</MeanWorkingHours>
            <Retired>0</Retired>
            <RiskDetailOccupation>
              <LastWorkingDayDate>{last_day.isoformat()}</LastWorkingDayDate>
              <CalculationBaseAllowance>
                <RemunerationTimeUnit>{unit}</RemunerationTimeUnit>
                <RemunerationBasisAmount>{amount}</RemunerationBasisAmount>
              </CalculationBaseAllowance>
            </RiskDetailOccupation>
          </Occupation>
        </WorkerRecord>
      </NaturalPerson>
    </EmployerDeclaration>
  </Form>
</ZIMA001>
""".encode()


def _run(ws: Workspace, content: bytes, file_type: str, seq: int) -> etree._Element:
    before = set(ws.answers())
    drop_set(ws.inbox, "006400", content, day=NAME_DAY, seq=seq, file_type=file_type)
    result = ws.cli("run")
    assert result.exit_code == 0, result.output
    new = sorted(set(ws.answers()) - before)
    acrf = etree.parse(str(ws.out() / next(n for n in new if n.startswith("FO.ACRF")))).getroot()
    assert acrf.findtext("Form/ReceptionResult/ResultCode") == "1", etree.tostring(acrf)
    return etree.parse(str(ws.out() / next(n for n in new if n.startswith("FO.NOTI")))).getroot()


def _codes(noti: etree._Element) -> list[str | None]:
    return [e.text for e in noti.iter("ErrorID")]


def test_zima001_incapacity_is_staged_with_its_wage_data(workspace: Workspace, official: Path) -> None:
    noti = _run(workspace, zima001(insz=MAN, risk="001", start=date(2026, 10, 5), last_day=date(2026, 10, 2)),
                "ZIMA", 1)
    assert etree.XMLSchema(etree.parse(str(official / "xsd" / "Dimona" / "NOTIFICATION_20223.xsd"))).validate(noti)
    assert noti.findtext("Form/HandlingResult/ResultCode") == "1", _codes(noti)
    assert noti.findtext("Form/HandledOriginalForm/Identification") == "ZIMA001"
    assert workspace.sql("select scenario, risk_codes, insz, risk_starting_date, last_working_day, "
                         "remuneration_time_unit, remuneration_basis_amount, accepted from risk_declarations") == [
        ("ZIMA001", "001", MAN, "2026-10-05", "2026-10-02", 4, 350000, 1)]
    details = json.loads(str(workspace.sql("select details from risk_declarations")[0][0]))
    assert ["EmployerDeclaration/NaturalPerson/WorkerRecord/Occupation/WorkingDaysSystem", "500"] in details


def test_maternity_rest_for_a_man_is_refused(workspace: Workspace) -> None:
    noti = _run(workspace, zima001(insz=MAN, risk="002", start=date(2026, 10, 5), last_day=date(2026, 10, 2)),
                "ZIMA", 1)
    assert noti.findtext("Form/HandlingResult/ResultCode") == "0"
    assert _codes(noti) == ["00024-008"]


@pytest.mark.parametrize(("risk", "last_day", "codes"), [
    ("001", date(2026, 10, 5), []),  # incapacity: the last working day may be the first day of the risk
    ("001", date(2026, 10, 6), ["00410-008"]),  # after the start: a warning (a relapse is possible)
    ("006", date(2026, 10, 5), ["00410-008"]),  # paternity leave: it must come before the start
], ids=["incapacity-same-day", "incapacity-after", "paternity-same-day"])
def test_last_working_day_against_the_start_of_the_risk(workspace: Workspace, risk: str, last_day: date,
                                                        codes: list[str]) -> None:
    noti = _run(workspace, zima001(insz=MAN, risk=risk, start=date(2026, 10, 5), last_day=last_day), "ZIMA", 1)
    assert _codes(noti) == codes


def test_official_twct_and_vblv_examples_are_processed(workspace: Workspace, official: Path) -> None:
    for seq, name in enumerate(["TWCT001_20231_1", "TWCT001_20231_3", "VBLV001_20231_1"], start=1):
        content = (official / "examples" / f"{name}.xml").read_bytes()
        _run(workspace, content, name[:4], seq)
    assert workspace.sql("select scenario from risk_declarations order by id") == [
        ("TWCT001",), ("TWCT001",), ("VBLV001",)]


def test_a_risk_without_employment_relation_is_flagged_when_the_employer_is_known(workspace: Workspace) -> None:
    drop_set(workspace.inbox, "006400", make_dimona([DimonaForm(action="IN", noss=NOSS, insz="91111111192",
                                                                starting_date=date(2020, 1, 1))]),
             day=NAME_DAY, seq=1, file_type="DIMN")
    assert workspace.cli("run").exit_code == 0
    noti = _run(workspace, zima001(insz=MAN, risk="001", start=date(2026, 10, 5), last_day=date(2026, 10, 2)),
                "ZIMA", 2)
    assert noti.findtext("Form/HandlingResult/ResultCode") == "1"
    assert [(r.findtext("ErrorID"), r.findtext("AnomalyClass")) for r in
            noti.iter("AnomalyReport")] == [("90017-152", "W")]
    # With a Dimona period covering the risk day, the same declaration passes clean.
    drop_set(workspace.inbox, "006400", make_dimona([DimonaForm(action="IN", noss=NOSS, insz=MAN,
                                                                starting_date=date(2024, 1, 1))]),
             day=NAME_DAY, seq=3, file_type="DIMN")
    assert workspace.cli("run").exit_code == 0
    noti = _run(workspace, zima001(insz=MAN, risk="001", start=date(2026, 10, 6), last_day=date(2026, 10, 2)),
                "ZIMA", 4)
    assert _codes(noti) == []


WOMAN = "85073003427"  # sequence 034: even → a woman
SCENARIOS = ["WECH001", "WECH002", "WECH003", "WECH005", "WECH006", "WECH007", "WECH008", "WECH009", "WECH010",
             "WECH011", "ZIMA001", "ZIMA002", "ZIMA003", "ZIMA005", "ZIMA006", "AOAT001", "AOAT002", "AOAT003",
             "TWCT001", "VBLV001"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_current_scenario_is_accepted_end_to_end(workspace: Workspace, scenario: str) -> None:
    from cbss_batch.drs_builder import make_risk_declaration

    values = {"INSS": WOMAN if scenario == "ZIMA003" else MAN}
    noti = _run(workspace, make_risk_declaration(scenario, values), scenario[:4], 1)
    assert noti.findtext("Form/HandlingResult/ResultCode") == "1", _codes(noti)
    assert noti.findtext("Form/HandledOriginalForm/Identification") == scenario
    assert workspace.sql("select scenario, insz, accepted from risk_declarations") == [
        (scenario, values["INSS"], 1)]


def test_a_scenario_filed_under_another_type_is_refused(workspace: Workspace) -> None:
    from cbss_batch.drs_builder import make_risk_declaration

    drop_set(workspace.inbox, "006400", make_risk_declaration("ZIMA001"), day=NAME_DAY, file_type="WECH")
    assert workspace.cli("run").exit_code == 0
    acrf = etree.parse(str(workspace.out() / "FO.ACRF.999999.20261128.00001.T"))
    assert [e.text for e in acrf.iter("ErrorID")] == ["ACRF-158"]


def test_benefits_are_computed_stored_and_shown(workspace: Workspace) -> None:
    # CALCULATIONS.md §3.6: monthly gross 4 000.00 → daily wage 153.8462; sickness 60 % = 92.31 a day;
    # maternity 82 % (days 1-30) = 126.15 and 75 % (from day 31) = 115.38.
    _run(workspace, zima001(insz=MAN, risk="001", start=date(2025, 1, 15), last_day=date(2025, 1, 14),
                            amount=400000), "ZIMA", 1)
    _run(workspace, zima001(insz=WOMAN, risk="002", start=date(2025, 3, 3), last_day=date(2025, 2, 28),
                            amount=400000), "ZIMA", 2)
    rows = workspace.sql("select r.scenario, r.risk_codes, b.kind, b.daily_basis, b.daily_amount "
                         "from benefit_calculations b join risk_declarations r on r.id = b.risk_declaration_id "
                         "order by b.id")
    assert [(kind, basis, amount) for _, _, kind, basis, amount in rows] == [
        ("sickness.primary_incapacity", "153.8462", "92.31"), ("maternity.rest", "153.8462", "126.15"),
        ("maternity.rest", "153.8462", "115.38")]
    ticket = str(workspace.sql("select ticket from risk_declarations order by id limit 1")[0][0])
    shown = json.loads(workspace.cli("--json", "show", ticket).output)
    assert [(b["kind"], b["daily_amount"]) for b in shown["benefits"]] == [("sickness.primary_incapacity", "92.31")]
    assert any(p.startswith("benefits.sickness.primary.rate@") for p in shown["benefits"][0]["parameters"])
    assert "benefit sickness.primary_incapacity" in workspace.cli("show", ticket).output
