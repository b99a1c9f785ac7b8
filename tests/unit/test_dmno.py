"""DMNO (DmfAUpdateNotification): valid against the official schema and ours, amounts where they belong."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path

import pytest
from lxml import etree

from cbss_batch.dmno import ContributionCorrection, DeclarationCorrection, WorkerLineCorrection, dmno_bytes
from cbss_batch.records import Contribution, DmfaHeader, Occupation, Quarter, WorkerRecord

PROJECT = Path(__file__).resolve().parents[2]
OFFICIAL = Path(__file__).resolve().parents[2].parent / "shared" / "official"
NOW = datetime(2026, 11, 28, 14, 2, 11, 250_000)
INSZ_A = "80111405125"
INSZ_B = "85073003328"
NOTICE = "340000QPUA00X"

HEADER = DmfaHeader(form_index=1, identification="DMFA", created_on=date(2026, 11, 20), created_at="10:00:00.000",
                    sender_reference=None, quarter=Quarter(2026, 3), noss_number="175110801", trusteeship=0,
                    company_id="0403170701", net_owed_amount=150_000, line=3, employer_line=10)


@pytest.fixture(scope="module")
def schemas() -> dict[str, etree.XMLSchema]:
    """The official DmfAUpdateNotification schema and ours."""
    if not OFFICIAL.is_dir():
        pytest.skip(f"official reference data not found at {OFFICIAL}")

    def compile_xsd(path: Path) -> etree.XMLSchema:
        return etree.XMLSchema(etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)))

    return {"official": compile_xsd(OFFICIAL / "xsd" / "DmfA" / "DmfAUpdateNotification_20223.xsd"),
            "our": compile_xsd(PROJECT / "xsd" / "DmfAUpdateNotification_20223.xsd")}


def valid(schemas: dict[str, etree.XMLSchema], data: bytes) -> etree._Element:
    """Parse a document, assert it is valid against both schemas, return its root."""
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    for owner, schema in schemas.items():
        assert schema.validate(root), f"{owner} schema: {schema.error_log}"
    return root


def occupation(sequence: int = 1) -> Occupation:
    return Occupation(sequence=sequence, starting_date=date(2020, 9, 1), ending_date=None, joint_committee="200",
                      working_days_system=500, contract_type=0, ref_mean_working_hours=3800,
                      mean_working_hours=3800, local_unit_id=None, line=20)


def contribution(code: str, ctype: str, basis: int | None, amount: int) -> Contribution:
    return Contribution(worker_code=code, contribution_type=ctype, basis=basis, amount=amount, line=30)


def record(*contributions: Contribution, worker_code: str = "495", employer_class: str = "000",
           occupations: tuple[Occupation, ...] = (occupation(),)) -> WorkerRecord:
    return WorkerRecord(employer_class=employer_class, worker_code=worker_code, quarter_start=date(2026, 7, 1),
                        quarter_end=date(2026, 9, 30), border=0, activity_with_risk=None, local_unit_id=None,
                        line=15, occupations=occupations, contributions=contributions)


def declaration(*lines: WorkerLineCorrection, declared: int = 150_000, corrected: int = 160_000,
                header: DmfaHeader = HEADER) -> DeclarationCorrection:
    return DeclarationCorrection(header=header, ticket="340000QPJ700D", declaration_pid="1275462888", version=2,
                                 lines=lines, net_owed_declared=declared, net_owed_corrected=corrected)


def one_line() -> WorkerLineCorrection:
    line_record = record(contribution("000", "2", 400_000, 100_000), contribution("000", "1", 400_000, 50_000))
    change = ContributionCorrection("000", "2", 400_000, 100_000, 400_000, 110_000)
    return WorkerLineCorrection(sequence=1, insz=INSZ_A, record=line_record, contributions=(change,))


def contributions(part: etree._Element) -> dict[tuple[str, str], tuple[str | None, str | None, str | None]]:
    """(worker code, type) → (basis, amount, Action) of each WorkerContributionAction in a part."""
    return {(c.findtext("ContributionWorkerCode"), c.findtext("ContributionType")):
            (c.findtext("ContributionCalculationBasis"), c.findtext("ContributionAmount"), c.findtext("Action"))
            for c in part.iterfind("WorkerContributionAction")}


def test_one_corrected_line_debit(schemas: dict[str, etree.XMLSchema]) -> None:
    root = valid(schemas, dmno_bytes(declaration(one_line()), now=NOW, notification_ticket=NOTICE))
    form = root.find("Form")
    assert form is not None
    assert form.findtext("Identification") == "DMFANOT"
    assert form.findtext("FormCreationHour") == "14:02:11.250"
    assert [(r.findtext("ReferenceType"), r.findtext("ReferenceOrigin"), r.findtext("ReferenceNbr"))
            for r in form.iterfind("Reference")] == [("3", "2", "340000QPJ700D"), ("1", "2", NOTICE)]
    employer = "Form/EmployerDeclarationUpdateNotif/"
    assert root.xpath(f"{employer}Quarter/text()") == ["20263"]
    assert root.xpath(f"{employer}EmployerDeclarationPID/text()") == ["1275462888"]
    assert root.xpath(f"{employer}EmployerDeclarationNewVersionNbr/text()") == ["2"]
    assert root.xpath(f"{employer}TransmissionMode/text()") == ["LO"]
    assert root.xpath(f"{employer}Action/text()") == ["7"]
    assert root.xpath(f"{employer}SubGroupInformation/SubGroup/text()") == ["2"]
    person = f"{employer}NaturalPersonUpdateNotif[INSS='{INSZ_A}']"
    assert root.xpath(f"{person}/Action/text()") == ["7"]
    assert root.xpath(f"{person}/BlockDecisionIndicator/text()") == ["M"]
    dcl = root.xpath(f"{person}/WorkerRecordUpdateNotif/WRDclPart")[0]
    fixed = root.xpath(f"{person}/WorkerRecordUpdateNotif/WRCorrectedPart")[0]
    # Declared part: the line as declared, every declared contribution with Action 2.
    assert contributions(dcl) == {("000", "2"): ("400000", "100000", "2"), ("000", "1"): ("400000", "50000", "2")}
    assert dcl.findtext("Action") == "2"
    assert dcl.find("WorkerRecordNewVersionNbr") is None
    assert dcl.xpath("OccupationUpdateNotification/Action/text()") == ["2"]
    # Corrected part: only what changed, Action 1; the line itself Action 7 with its new version.
    assert contributions(fixed) == {("000", "2"): ("400000", "110000", "1")}
    assert fixed.findtext("Action") == "7"
    assert fixed.findtext("WorkerRecordNewVersionNbr") == "2"
    assert root.xpath("Form/RectificationAmount/DebitAmount/text()") == ["10000"]
    assert not root.xpath("Form/RectificationAmount/CreditAmount")
    assert not root.xpath("//CorrectionType")


def test_several_lines_credit(schemas: dict[str, etree.XMLSchema]) -> None:
    second = WorkerLineCorrection(
        sequence=1, insz=INSZ_A,
        record=record(contribution("015", "2", 200_000, 50_000), worker_code="015", employer_class="010"),
        contributions=(ContributionCorrection("015", "2", 200_000, 50_000, 180_000, 45_000),))
    other = WorkerLineCorrection(
        sequence=2, insz=INSZ_B, record=record(contribution("000", "2", 300_000, 75_000)),
        contributions=(ContributionCorrection("000", "2", 300_000, 75_000, 300_000, 60_000),))
    data = dmno_bytes(declaration(one_line(), second, other, corrected=125_000), now=NOW,
                      notification_ticket=NOTICE)
    root = valid(schemas, data)
    persons = root.xpath("Form/EmployerDeclarationUpdateNotif/NaturalPersonUpdateNotif")
    assert [p.findtext("INSS") for p in persons] == [INSZ_A, INSZ_B]  # one block per person, lines grouped
    assert len(persons[0].findall("WorkerRecordUpdateNotif")) == 2
    line = "Form/EmployerDeclarationUpdateNotif/NaturalPersonUpdateNotif[INSS='{}']/WorkerRecordUpdateNotif" \
           "[WRDclPart/WorkerCode='{}']/{}/WorkerContributionAction[ContributionWorkerCode='{}']/{}/text()"
    assert root.xpath(line.format(INSZ_A, "015", "WRDclPart", "015", "ContributionAmount")) == ["50000"]
    assert root.xpath(line.format(INSZ_A, "015", "WRDclPart", "015", "ContributionCalculationBasis")) == ["200000"]
    assert root.xpath(line.format(INSZ_A, "015", "WRCorrectedPart", "015", "ContributionAmount")) == ["45000"]
    assert root.xpath(line.format(INSZ_A, "015", "WRCorrectedPart", "015", "ContributionCalculationBasis")) == \
        ["180000"]
    assert root.xpath(line.format(INSZ_A, "495", "WRCorrectedPart", "000", "ContributionAmount")) == ["110000"]
    assert root.xpath(line.format(INSZ_B, "495", "WRDclPart", "000", "ContributionAmount")) == ["75000"]
    assert root.xpath(line.format(INSZ_B, "495", "WRCorrectedPart", "000", "ContributionAmount")) == ["60000"]
    assert root.xpath("Form/RectificationAmount/CreditAmount/text()") == ["25000"]
    assert not root.xpath("Form/RectificationAmount/DebitAmount")


def test_added_contribution(schemas: dict[str, etree.XMLSchema]) -> None:
    """A contribution the sender did not declare: absent from the declared part, Action 3 in the corrected one."""
    line = WorkerLineCorrection(
        sequence=1, insz=INSZ_A, record=record(contribution("000", "2", 400_000, 100_000)),
        contributions=(ContributionCorrection("000", "2", 400_000, 100_000, 400_000, 100_000),  # unchanged
                       ContributionCorrection("851", "0", None, None, 400_000, 1_200)))
    root = valid(schemas, dmno_bytes(declaration(line, corrected=151_200), now=NOW, notification_ticket=NOTICE))
    dcl = root.xpath("//WRDclPart")[0]
    fixed = root.xpath("//WRCorrectedPart")[0]
    assert contributions(dcl) == {("000", "2"): ("400000", "100000", "2")}
    assert contributions(fixed) == {("851", "0"): ("400000", "1200", "3")}
    assert root.xpath("Form/RectificationAmount/DebitAmount/text()") == ["1200"]


def test_no_difference_is_a_zero_debit(schemas: dict[str, etree.XMLSchema]) -> None:
    root = valid(schemas, dmno_bytes(declaration(one_line(), corrected=150_000), now=NOW,
                                     notification_ticket=NOTICE))
    assert root.xpath("Form/RectificationAmount/*") and \
        root.xpath("Form/RectificationAmount/DebitAmount/text()") == ["0"]


def test_sender_reference_and_employer_without_noss(schemas: dict[str, etree.XMLSchema]) -> None:
    """The sender's reference is the second Reference; a missing NOSS number leaves NOSS and Trusteeship out."""
    header = dataclasses.replace(HEADER, sender_reference="anoreport", noss_number="0")
    root = valid(schemas, dmno_bytes(declaration(one_line(), header=header), now=NOW))
    assert [(r.findtext("ReferenceType"), r.findtext("ReferenceOrigin"), r.findtext("ReferenceNbr"))
            for r in root.iterfind("Form/Reference")] == [("3", "2", "340000QPJ700D"), ("3", "1", "anoreport")]
    assert not root.xpath("//NOSSRegistrationNbr | //Trusteeship")


def test_retired_and_occupations(schemas: dict[str, etree.XMLSchema]) -> None:
    base = one_line()
    line = dataclasses.replace(base, record=base.record._replace(occupations=(occupation(1), occupation(2))),
                               retired=(0, 1))
    root = valid(schemas, dmno_bytes(declaration(line), now=NOW, notification_ticket=NOTICE))
    assert root.xpath("//WRDclPart/OccupationUpdateNotification/Retired/text()") == ["0", "1"]
    assert not root.xpath("//WRCorrectedPart/OccupationUpdateNotification")


def test_refusals() -> None:
    with pytest.raises(ValueError, match="two References"):
        dmno_bytes(declaration(one_line()), now=NOW)
    wrong = dataclasses.replace(one_line(), contributions=(ContributionCorrection("000", "2", 1, 2, 3, 4),))
    with pytest.raises(ValueError, match="do not match"):
        dmno_bytes(declaration(wrong), now=NOW, notification_ticket=NOTICE)
    hidden = dataclasses.replace(one_line(), contributions=(ContributionCorrection("000", "2", None, None, 3, 4),))
    with pytest.raises(ValueError, match="no declared values"):
        dmno_bytes(declaration(hidden), now=NOW, notification_ticket=NOTICE)
    student = dataclasses.replace(one_line(), record=record(worker_code="840", occupations=()), contributions=())
    with pytest.raises(ValueError, match="no occupation"):
        dmno_bytes(declaration(student), now=NOW, notification_ticket=NOTICE)
    with pytest.raises(ValueError, match="at least one"):
        dmno_bytes(declaration(), now=NOW, notification_ticket=NOTICE)
