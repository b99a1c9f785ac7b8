"""DRS business rules: official ids, classes, tags, values, lines and paths; our data against the annexes."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from cbss_batch.ids import is_valid_insz, mask_insz
from cbss_batch.records import Finding, Quarter, RiskDeclaration
from cbss_batch.rules.drs import (
    DATE_DOMAINS,
    INSZ_DOMAIN_CODE_FORMS,
    POSITIVE_AMOUNT_FORMS,
    REFERENCE_END_CODES,
    RISK_VARIANTS,
    RULES,
    check_company_id,
    check_date_domains,
    check_employer_id,
    check_employment_relation,
    check_end_of_contract,
    check_identification,
    check_insz,
    check_insz_sex,
    check_last_working_day,
    check_noss_number,
    check_occupation_period,
    check_reference_period,
    check_remuneration,
    check_risk_declaration,
    check_risk_identification,
    check_work_recovery,
    finding_path,
    insz_sex,
    is_bis_number,
    risk_day,
)

TODAY = date(2025, 5, 15)
NOSS = "175110801"
KBO = "0403170701"
BAD_NOSS = "175110802"
BAD_KBO = "0123456789"
MAN = "85073003328"  # sequence 033: odd
WOMAN = "85073003427"  # sequence 034: even
BIS_ODD = "85273003371"  # BIS (month 07 + 20), odd sequence
BIS_EVEN = "85473003416"  # BIS (month 07 + 40), even sequence
BAD_INSZ = "85073003327"
ALL_INSZ = (MAN, WOMAN, BIS_ODD, BIS_EVEN, BAD_INSZ)
FORM_LINE = 3
REFERENCE_PERIOD_LEAF = (
    "EmployerDeclaration/NaturalPerson/WorkerRecord/Occupation/RiskDetailOccupation/ReferencePeriod/NatureOfDay/"
    "DayIndicator",
    "--05-05",
)
HOURLY_AMOUNT_LEAF = (
    "EmployerDeclaration/NaturalPerson/WorkerRecord/Occupation/RiskDetailOccupation/CalculationBaseAllowance/"
    "PieceTaskServicesCommissionRemunerationBasisAmount",
    "205000",
)

Row = tuple[str, str, str | None, str | None]  # code, class, tag, value


def d(text: str) -> date:
    return date.fromisoformat(text)


def make_decl(scenario: str = "ZIMA001", **overrides: Any) -> RiskDeclaration:
    """A valid form of ``scenario``: for ZIMA001 an incapacity (001) of a man from 2025-05-05, monthly pay;
    ZIMA003 (breast-feeding breaks) concerns a woman."""
    is_zima001 = scenario == "ZIMA001"
    fields: dict[str, Any] = {
        "form_index": 1,
        "scenario": scenario,
        "identification": scenario,
        "created_on": TODAY,
        "created_at": "08:00:00.000",
        "sender_reference": "RISK-1",
        "risk_codes": () if scenario in ("AOAT002", "AOAT003") else ("001",),
        "noss_number": NOSS,
        "company_id": KBO,
        "insz": WOMAN if scenario == "ZIMA003" else MAN,
        "worker_code": "015",
        "joint_committee": "200",
        "risk_starting_date": d("2025-05-05") if is_zima001 else None,
        "last_working_day": d("2025-05-02") if is_zima001 else None,
        "work_recovery_date": None,
        "accident_date": None,
        "occupation_starting_date": d("2020-01-01"),
        "occupation_ending_date": None,
        "reference_start": None,
        "reference_end": None,
        "remuneration_time_unit": 4 if is_zima001 else None,
        "remuneration_basis_amount": 350000 if is_zima001 else None,
        "remuneration_cycle": None,
        "lost_hours": None,
        "lost_wage": None,
        "line": FORM_LINE,
        "details": (),
    }
    fields.update(overrides)
    return RiskDeclaration(**fields)


def outline(findings: list[Finding]) -> list[Row]:
    return [(f.code, f.anomaly_class, f.tag, f.value) for f in findings]


def assert_common(findings: list[Finding], decl: RiskDeclaration) -> None:
    """Every finding points at the Form, carries the declared keys and never shows a full INSZ."""
    for finding in findings:
        assert finding.line == FORM_LINE
        assert finding.path == finding_path(decl)
        for insz in ALL_INSZ:
            assert insz not in finding.message
            assert insz not in (finding.value or "")


def test_insz_constants_are_what_they_claim() -> None:
    assert all(is_valid_insz(insz) for insz in (MAN, WOMAN, BIS_ODD, BIS_EVEN))
    assert not is_valid_insz(BAD_INSZ)
    assert [insz_sex(insz) for insz in (MAN, WOMAN, BIS_ODD, BIS_EVEN)] == ["man", "woman", None, None]


@pytest.mark.parametrize(
    ("insz", "expected"),
    [
        (MAN, False),
        ("85123100145", False),  # month 12
        ("85213100145", True),  # 21: first BIS month (+20)
        ("85323100145", True),  # 32
        ("85333100145", False),  # 33: neither
        ("85403100145", False),  # 40
        ("85413100145", True),  # 41: first BIS month (+40)
        ("85523100145", True),  # 52
        ("85533100145", False),  # 53
        ("8521310014", False),  # 10 digits
    ],
    ids=["register", "month-12", "bis-21", "bis-32", "month-33", "month-40", "bis-41", "bis-52", "month-53", "short"],
)
def test_is_bis_number(insz: str, expected: bool) -> None:
    assert is_bis_number(insz) is expected


# --- every scenario's valid form passes -----------------------------------------------------------------

CURRENT_SCENARIOS = sorted(
    [form for form, variants in RISK_VARIANTS.items() if variants.get("001", (None, None))[1] is None]
    + ["AOAT002", "AOAT003"]
)


@pytest.mark.parametrize("scenario", CURRENT_SCENARIOS)
def test_valid_form_of_every_current_scenario_has_no_findings(scenario: str) -> None:
    assert check_risk_declaration(make_decl(scenario), TODAY) == []


def test_scenarios_cover_annex_11_current_forms() -> None:
    assert CURRENT_SCENARIOS == sorted(
        ["WECH001", "WECH002", "WECH003", "WECH005", "WECH006", "WECH007", "WECH008", "WECH009", "WECH010", "WECH011"]
        + ["ZIMA001", "ZIMA002", "ZIMA003", "ZIMA005", "ZIMA006", "AOAT001", "AOAT002", "AOAT003"]
        + ["TWCT001", "VBLV001"]
    )


# --- identification -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identification", "expected"),
    [
        ("ZIMA001", []),
        ("", [("00296-001", "B", "Identification", None)]),
        ("WECH001", [("00296-008", "B", "Identification", "WECH001")]),
        ("zima001", [("00296-008", "B", "Identification", "zima001")]),
    ],
    ids=["matches-root", "missing", "other-form", "other-case"],
)
def test_check_identification(identification: str, expected: list[Row]) -> None:
    decl = make_decl(identification=identification)
    findings = check_identification(decl, TODAY)
    assert outline(findings) == expected
    assert_common(findings, decl)


# --- risk identification ------------------------------------------------------------------------------

NO_ZIMA_RISK: dict[str, Any] = {"risk_starting_date": None, "last_working_day": None}


@pytest.mark.parametrize(
    ("scenario", "overrides", "expected"),
    [
        ("ZIMA001", {"risk_codes": ()}, [("90064-001", "B", "RiskIdentification", None)]),
        (
            "ZIMA001",
            {
                "risk_codes": (),
                "last_working_day": None,
                "remuneration_time_unit": None,
                "remuneration_basis_amount": None,
            },
            [],
        ),
        (
            "ZIMA001",
            {"risk_codes": (), "last_working_day": None},
            [("90064-001", "B", "RiskIdentification", None)],
        ),
        ("WECH005", {"risk_codes": ()}, [("90064-001", "B", "RiskIdentification", None)]),
        ("AOAT002", {"risk_codes": ()}, []),
        ("AOAT003", {"risk_codes": ()}, []),
        ("ZIMA004", {"risk_codes": ()}, []),
        ("ZIMA001", {"risk_codes": ("008",)}, []),
        ("ZIMA001", {"risk_codes": ("009",)}, [("00430-008", "B", "IdentificationOfRisk", "009")]),
        ("WECH001", {"risk_codes": ("005",)}, [("00430-008", "B", "IdentificationOfRisk", "005")]),
        ("WECH005", {"risk_codes": ("001", "011")}, []),
        ("WECH005", {"risk_codes": ("001", "012")}, [("00430-008", "B", "IdentificationOfRisk", "012")]),
        ("WECH008", {"risk_codes": ("009",)}, [("00430-008", "B", "IdentificationOfRisk", "009")]),
        ("WECH008", {"risk_codes": ("021",)}, []),
        ("TWCT001", {"risk_codes": ("007",)}, [("00430-008", "B", "IdentificationOfRisk", "007")]),
        ("AOAT001", {"risk_codes": ("003",)}, [("00430-008", "B", "IdentificationOfRisk", "003")]),
    ],
    ids=[
        "zima001-risk-declaration-without-risk",
        "zima001-minidmfa-only",
        "zima001-wage-data-means-a-risk",
        "wech005-without-risk",
        "aoat002-has-no-risk-zone",
        "aoat003-has-no-risk-zone",
        "unknown-form-not-judged",
        "zima001-last-variant",
        "zima001-unknown-variant",
        "wech001-unknown-variant",
        "wech005-several-variants",
        "wech005-one-of-several-unknown",
        "wech008-gap-in-numbering",
        "wech008-brussels",
        "twct001-beyond-cwtemp-006",
        "aoat001-unknown-variant",
    ],
)
def test_check_risk_identification(scenario: str, overrides: dict[str, Any], expected: list[Row]) -> None:
    decl = make_decl(scenario, **overrides)
    findings = check_risk_identification(decl, TODAY)
    assert outline(findings) == expected
    assert_common(findings, decl)


@pytest.mark.parametrize(
    ("scenario", "code", "overrides", "expected"),
    [
        ("WECH003", "002", {"created_on": d("2016-09-30")}, []),
        ("WECH003", "002", {"created_on": d("2016-10-01")}, ["00430-008"]),
        ("WECH006", "002", {"reference_start": d("2016-03-01"), "reference_end": d("2016-03-31")}, []),
        ("WECH006", "002", {"reference_start": d("2016-04-01"), "reference_end": d("2016-04-30")}, ["00430-008"]),
        ("WECH008", "005", {"reference_start": d("2010-03-01"), "reference_end": d("2010-03-31")}, []),
        ("WECH008", "005", {"reference_start": d("2010-04-01"), "reference_end": d("2010-04-30")}, ["00430-008"]),
        ("TWCT001", "006", {"created_on": d("2017-12-31")}, ["00430-008"]),
        ("TWCT001", "006", {"created_on": d("2018-01-01")}, []),
        ("WECH004", "001", {"created_on": d("2012-03-31")}, []),
        ("WECH004", "001", {"created_on": d("2012-04-01")}, ["00430-008"]),
    ],
    ids=[
        "wech003-002-last-day",
        "wech003-002-ended",
        "wech006-002-last-month",
        "wech006-002-ended",
        "wech008-005-last-month",
        "wech008-005-ended",
        "twct001-006-before-2018",
        "twct001-006-from-2018",
        "wech004-last-day",
        "wech004-ended",
    ],
)
def test_variant_is_judged_on_the_day_the_risk_concerns(
    scenario: str, code: str, overrides: dict[str, Any], expected: list[str]
) -> None:
    decl = make_decl(scenario, risk_codes=(code,), **overrides)
    findings = check_risk_identification(decl, TODAY)
    assert [f.code for f in findings] == expected
    assert all(f.value == code for f in findings)


def test_ended_variant_message_names_the_end_and_the_variants_still_valid() -> None:
    decl = make_decl("WECH003", risk_codes=("002",), created_on=d("2017-01-02"))
    (finding,) = check_risk_identification(decl, TODAY)
    assert "ended on 2016-09-30" in finding.message
    assert "concerns 2017-01-02" in finding.message
    assert "use one of 001" in finding.message


@pytest.mark.parametrize(
    ("scenario", "overrides", "expected"),
    [
        ("ZIMA001", {}, d("2025-05-05")),
        ("AOAT001", {"accident_date": d("2025-04-01")}, d("2025-04-01")),
        ("WECH005", {"reference_start": d("2025-04-01")}, d("2025-04-01")),
        ("ZIMA006", {"work_recovery_date": d("2025-05-12")}, d("2025-05-12")),
        ("WECH001", {"occupation_ending_date": d("2025-03-31")}, d("2025-03-31")),
        ("ZIMA005", {"occupation_ending_date": d("2025-03-31")}, TODAY),
        ("WECH003", {}, TODAY),
    ],
    ids=["risk-start", "accident", "reference-month", "work-recovery", "c4-end-of-contract", "fallback", "creation"],
)
def test_risk_day(scenario: str, overrides: dict[str, Any], expected: date) -> None:
    assert risk_day(make_decl(scenario, **overrides)) == expected


# --- employer -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("noss", "company_id", "details", "expected"),
    [
        (NOSS, KBO, (), []),
        (NOSS, "0", (), []),
        ("0", KBO, (), []),
        (None, KBO, (), []),
        (None, None, (), [("00011-001", "B", "NOSSRegistrationNbr", None)]),
        (None, "0", (), [("00011-001", "B", "NOSSRegistrationNbr", None)]),
        ("0", "0", (), [("00011-008", "B", "NOSSRegistrationNbr", "0")]),
        ("000000000", None, (), [("00011-008", "B", "NOSSRegistrationNbr", "000000000")]),
        (None, "0", (("NOSSLPAEmployerDeclarationLink/NOSSLPARegistrationNbr", "19900101"),), []),
        (
            None,
            "0",
            (("NOSSLPAEmployerDeclarationLink/NOSSLPARegistrationNbr", "0"),),
            [("00011-001", "B", "NOSSRegistrationNbr", None)],
        ),
    ],
    ids=[
        "both",
        "noss-only",
        "company-only-noss-0",
        "company-only-noss-absent",
        "neither-absent",
        "noss-absent-company-0",
        "both-0",
        "padded-0",
        "local-authority",
        "local-authority-0",
    ],
)
def test_check_employer_id(
    noss: str | None, company_id: str | None, details: tuple[tuple[str, str], ...], expected: list[Row]
) -> None:
    decl = make_decl(noss_number=noss, company_id=company_id, details=details)
    findings = check_employer_id(decl, TODAY)
    assert outline(findings) == expected
    assert_common(findings, decl)


@pytest.mark.parametrize(
    ("noss", "expected"),
    [
        (NOSS, []),
        ("70500472", []),  # official sample 070500472 without its leading zero
        ("0", []),
        (None, []),
        (BAD_NOSS, [("00011-004", "W", "NOSSRegistrationNbr", BAD_NOSS)]),
        ("99999", [("00011-004", "W", "NOSSRegistrationNbr", "99999")]),
    ],
    ids=["valid", "unpadded", "zero", "absent", "check-digits", "below-range"],
)
def test_check_noss_number(noss: str | None, expected: list[Row]) -> None:
    decl = make_decl(noss_number=noss)
    findings = check_noss_number(decl, TODAY)
    assert outline(findings) == expected
    assert_common(findings, decl)


@pytest.mark.parametrize(
    ("company_id", "expected"),
    [
        (KBO, []),
        ("403170701", []),  # xs:integer: the leading 0 dropped
        ("0", []),
        (None, []),
        (BAD_KBO, [("00014-004", "B", "CompanyID", BAD_KBO)]),
        ("2403170701", [("00014-004", "B", "CompanyID", "2403170701")]),
    ],
    ids=["valid", "nine-digits", "unknown", "absent", "check-digits", "first-digit-2"],
)
def test_check_company_id(company_id: str | None, expected: list[Row]) -> None:
    decl = make_decl(company_id=company_id)
    findings = check_company_id(decl, TODAY)
    assert outline(findings) == expected
    assert_common(findings, decl)


# --- person -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "insz", "expected"),
    [
        ("ZIMA001", MAN, []),
        ("ZIMA001", BIS_EVEN, []),
        ("WECH005", None, [("00024-001", "B", "INSS", None)]),
        ("AOAT002", None, [("00024-001", "B", "INSS", None)]),
        ("ZIMA001", "0", [("00024-008", "B", "INSS", "******-***-**")]),
        ("AOAT001", "00000000000", [("00024-008", "B", "INSS", "000000-***-**")]),
        ("WECH001", "0", [("00024-003", "B", "INSS", "******-***-**")]),
        ("TWCT001", "0", [("00024-003", "B", "INSS", "******-***-**")]),
        ("ZIMA001", BAD_INSZ, [("00024-004", "B", "INSS", "850730-***-**")]),
        ("VBLV001", BAD_INSZ, [("00024-004", "B", "INSS", "850730-***-**")]),
    ],
    ids=[
        "valid",
        "valid-bis",
        "missing-wech",
        "missing-aoat",
        "zero-zima",
        "padded-zero-aoat",
        "zero-wech",
        "zero-twct",
        "check-digits",
        "check-digits-vblv",
    ],
)
def test_check_insz(scenario: str, insz: str | None, expected: list[Row]) -> None:
    decl = make_decl(scenario, insz=insz)
    findings = check_insz(decl, TODAY)
    assert outline(findings) == expected
    assert_common(findings, decl)


SEX = ("00024-008", "B", "INSS", "850730-***-**")


@pytest.mark.parametrize(
    ("scenario", "risk", "insz", "expected"),
    [
        ("ZIMA001", "001", MAN, []),
        ("ZIMA001", "001", WOMAN, []),
        ("ZIMA001", "002", WOMAN, []),
        ("ZIMA001", "002", MAN, [SEX]),
        ("ZIMA001", "003", MAN, [SEX]),
        ("ZIMA001", "004", MAN, [SEX]),
        ("ZIMA001", "004", WOMAN, []),
        ("ZIMA001", "005", MAN, []),
        ("ZIMA001", "005", WOMAN, [SEX]),
        ("ZIMA001", "006", WOMAN, []),
        ("ZIMA001", "007", MAN, []),
        ("ZIMA001", "002", BIS_ODD, []),
        ("ZIMA001", "005", BIS_EVEN, []),
        ("ZIMA001", "002", BAD_INSZ, []),
        ("ZIMA001", "002", None, []),
        ("ZIMA003", "001", MAN, [SEX]),
        ("ZIMA003", "001", WOMAN, []),
        ("ZIMA003", "001", BIS_ODD, []),
        ("ZIMA005", "001", MAN, []),
        ("WECH001", "002", MAN, []),
    ],
    ids=[
        "incapacity-man",
        "incapacity-woman",
        "maternity-woman",
        "maternity-man",
        "full-removal-man",
        "partial-removal-man",
        "partial-removal-woman",
        "converted-leave-man",
        "converted-leave-woman",
        "birth-leave-any",
        "adoption-any",
        "bis-plus-20-skipped",
        "bis-plus-40-skipped",
        "invalid-insz-left-to-check-insz",
        "no-insz",
        "breast-feeding-man",
        "breast-feeding-woman",
        "breast-feeding-bis-skipped",
        "holidays-no-rule",
        "other-sector-no-rule",
    ],
)
def test_check_insz_sex(scenario: str, risk: str, insz: str | None, expected: list[Row]) -> None:
    decl = make_decl(scenario, risk_codes=(risk,), insz=insz)
    findings = check_insz_sex(decl, TODAY)
    assert outline(findings) == expected
    assert_common(findings, decl)


def test_sex_message_says_what_was_expected_and_found() -> None:
    (finding,) = check_insz_sex(make_decl(risk_codes=("005",), insz=WOMAN), TODAY)
    assert finding.message.startswith("risk 005 of ZIMA001 concerns a man, but INSS 850730-***-** is a woman's")


# --- dates --------------------------------------------------------------------------------------------

RISK_START = d("2025-05-05")
DAY_BEFORE, DAY_AFTER = RISK_START - timedelta(days=1), RISK_START + timedelta(days=1)


@pytest.mark.parametrize(
    ("risk", "last_day", "expected"),
    [
        ("001", DAY_BEFORE, []),
        ("001", RISK_START, []),
        ("001", DAY_AFTER, [("00410-008", "W", "LastWorkingDayDate", "2025-05-06")]),
        ("002", DAY_BEFORE, []),
        ("002", RISK_START, [("00410-008", "B", "LastWorkingDayDate", "2025-05-05")]),
        ("002", DAY_AFTER, [("00410-008", "B", "LastWorkingDayDate", "2025-05-06")]),
        ("005", RISK_START, [("00410-008", "B", "LastWorkingDayDate", "2025-05-05")]),
        ("008", RISK_START, [("00410-008", "B", "LastWorkingDayDate", "2025-05-05")]),
        ("008", DAY_BEFORE, []),
        ("009", DAY_AFTER, []),
        ("002", None, []),
    ],
    ids=[
        "001-before",
        "001-same-day",
        "001-after-maybe-relapse",
        "002-before",
        "002-same-day",
        "002-after",
        "005-same-day",
        "008-same-day",
        "008-before",
        "unknown-risk-not-judged",
        "no-last-day",
    ],
)
def test_check_last_working_day(risk: str, last_day: date | None, expected: list[Row]) -> None:
    decl = make_decl(risk_codes=(risk,), risk_starting_date=RISK_START, last_working_day=last_day)
    findings = check_last_working_day(decl, TODAY)
    assert outline(findings) == expected
    assert_common(findings, decl)


def test_last_working_day_rule_is_zima001_only() -> None:
    decl = make_decl("ZIMA002", risk_codes=("002",), risk_starting_date=RISK_START, last_working_day=DAY_AFTER)
    assert check_last_working_day(decl, TODAY) == []


ACCIDENT = d("2025-04-10")


@pytest.mark.parametrize(
    ("scenario", "overrides", "expected"),
    [
        ("ZIMA001", {"work_recovery_date": DAY_AFTER}, []),
        ("ZIMA001", {"work_recovery_date": RISK_START}, [("00128-023", "B", "WorkRecoveryDate", "2025-05-05")]),
        ("ZIMA001", {"work_recovery_date": DAY_BEFORE}, [("00128-023", "B", "WorkRecoveryDate", "2025-05-04")]),
        ("ZIMA001", {"work_recovery_date": DAY_AFTER, "risk_starting_date": None}, []),
        ("ZIMA001", {"work_recovery_date": None}, []),
        ("AOAT001", {"accident_date": ACCIDENT, "work_recovery_date": ACCIDENT}, []),
        (
            "AOAT001",
            {"accident_date": ACCIDENT, "work_recovery_date": d("2025-04-09")},
            [("00128-008", "B", "WorkRecoveryDate", "2025-04-09")],
        ),
        (
            "AOAT003",
            {"accident_date": ACCIDENT, "work_recovery_date": d("2025-04-09")},
            [("00128-008", "B", "WorkRecoveryDate", "2025-04-09")],
        ),
        ("ZIMA006", {"risk_starting_date": RISK_START, "work_recovery_date": DAY_BEFORE}, []),
    ],
    ids=[
        "zima001-after-risk",
        "zima001-same-day",
        "zima001-before",
        "zima001-no-risk-start",
        "no-recovery",
        "aoat001-same-day-as-accident",
        "aoat001-before-accident",
        "aoat003-before-accident",
        "zima006-no-order-rule",
    ],
)
def test_check_work_recovery(scenario: str, overrides: dict[str, Any], expected: list[Row]) -> None:
    decl = make_decl(scenario, **overrides)
    findings = check_work_recovery(decl, TODAY)
    assert outline(findings) == expected
    assert_common(findings, decl)


@pytest.mark.parametrize(
    ("scenario", "start", "end", "details", "expected"),
    [
        ("ZIMA001", "2025-02-01", "2025-02-01", (REFERENCE_PERIOD_LEAF,), []),
        ("ZIMA001", "2025-02-02", "2025-02-01", (REFERENCE_PERIOD_LEAF,), [("00075-014", "RefEndingDate")]),
        ("ZIMA001", "2025-02-02", "2025-02-01", (), [("00944-014", "CalculBaseRefPeriodEndDate")]),
        ("ZIMA002", "2025-04-02", "2025-04-01", (), [("00075-014", "RefEndingDate")]),
        ("ZIMA003", "2025-04-02", "2025-04-01", (), [("00075-014", "RefEndingDate")]),
        ("WECH005", "2025-04-01", "2025-03-31", (), [("00075-098", "RefEndingDate")]),
        ("WECH008", "2025-04-01", "2025-03-31", (), [("00075-098", "RefEndingDate")]),
        ("AOAT002", "2025-04-01", "2025-03-31", (), [("00075-098", "RefEndingDate")]),
        ("VBLV001", "2025-04-01", "2025-03-31", (), [("00075-098", "RefEndingDate")]),
        ("WECH010", "2025-04-01", "2025-03-31", (), [("00075-098", "RefEndingDate")]),
        ("WECH002", "2025-04-01", "2025-03-31", (), [("00075-014", "RefEndingDate")]),
        ("WECH005", "2025-04-01", "2025-04-30", (), []),
    ],
    ids=[
        "same-day",
        "zima001-reference-period",
        "zima001-calculation-base-period",
        "zima002",
        "zima003",
        "wech005",
        "wech008",
        "aoat002",
        "vblv001",
        "wech010-like-wech005",
        "default-code",
        "whole-month",
    ],
)
def test_check_reference_period(
    scenario: str, start: str, end: str, details: tuple[tuple[str, str], ...], expected: list[tuple[str, str]]
) -> None:
    decl = make_decl(scenario, reference_start=d(start), reference_end=d(end), details=details)
    findings = check_reference_period(decl, TODAY)
    assert [(f.code, f.tag) for f in findings] == expected
    assert all(f.anomaly_class == "B" and f.value == end for f in findings)
    assert_common(findings, decl)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2020-01-01", None, []),
        ("2020-01-01", "2020-01-01", []),
        ("2020-01-02", "2020-01-01", [("00045-014", "B", "OccupationEndingDate", "2020-01-01")]),
        (None, "2020-01-01", []),
    ],
    ids=["open", "one-day", "end-before-start", "no-start"],
)
def test_check_occupation_period(start: str | None, end: str | None, expected: list[Row]) -> None:
    decl = make_decl(
        "WECH001",
        occupation_starting_date=d(start) if start else None,
        occupation_ending_date=d(end) if end else None,
    )
    findings = check_occupation_period(decl, TODAY)
    assert outline(findings) == expected
    assert_common(findings, decl)


TOMORROW = TODAY + timedelta(days=1)


@pytest.mark.parametrize(
    ("scenario", "overrides", "expected"),
    [
        ("AOAT001", {"accident_date": TODAY}, []),
        ("AOAT001", {"accident_date": TOMORROW}, [("00237-008", "AccidentDate", "2025-05-16")]),
        ("AOAT001", {"accident_date": d("2008-01-01")}, []),
        ("AOAT001", {"accident_date": d("2007-12-31")}, [("00237-008", "AccidentDate", "2007-12-31")]),
        ("AOAT002", {"accident_date": d("2003-01-01")}, []),
        ("AOAT002", {"accident_date": d("2002-12-31")}, [("00237-008", "AccidentDate", "2002-12-31")]),
        ("AOAT003", {"accident_date": TOMORROW}, [("00237-008", "AccidentDate", "2025-05-16")]),
        ("ZIMA001", {"work_recovery_date": TODAY}, []),
        ("ZIMA001", {"work_recovery_date": TOMORROW}, [("00128-008", "WorkRecoveryDate", "2025-05-16")]),
        (
            "ZIMA001",
            {"work_recovery_date": d("2025-05-10"), "created_on": d("2025-05-09")},
            [("00128-008", "WorkRecoveryDate", "2025-05-10")],
        ),
        ("ZIMA006", {"work_recovery_date": d("2005-07-01"), "created_on": d("2005-07-01")}, []),
        ("ZIMA006", {"work_recovery_date": d("2005-06-30")}, [("00128-008", "WorkRecoveryDate", "2005-06-30")]),
        ("ZIMA006", {"work_recovery_date": TOMORROW}, [("00128-008", "WorkRecoveryDate", "2025-05-16")]),
        ("AOAT001", {"work_recovery_date": TODAY}, []),
        ("AOAT003", {"work_recovery_date": TOMORROW}, [("00128-008", "WorkRecoveryDate", "2025-05-16")]),
        ("WECH005", {"reference_start": d("2025-05-01"), "reference_end": d("2025-05-31")}, []),
        (
            "WECH005",
            {"reference_start": d("2025-06-01"), "reference_end": d("2025-06-30")},
            [("00074-008", "RefStartingDate", "2025-06-01"), ("00075-008", "RefEndingDate", "2025-06-30")],
        ),
        ("WECH005", {"reference_start": d("2003-12-01")}, [("00074-008", "RefStartingDate", "2003-12-01")]),
        ("WECH006", {"reference_start": d("2003-01-01")}, []),
        ("WECH006", {"reference_start": d("2002-12-01")}, [("00074-008", "RefStartingDate", "2002-12-01")]),
        ("AOAT002", {"reference_end": d("2025-06-30")}, [("00075-008", "RefEndingDate", "2025-06-30")]),
        ("ZIMA002", {"reference_start": TODAY}, []),
        ("ZIMA002", {"reference_start": TOMORROW}, [("00074-008", "RefStartingDate", "2025-05-16")]),
        ("ZIMA003", {"reference_start": TODAY - timedelta(days=1)}, []),
        ("ZIMA003", {"reference_start": TODAY}, [("00074-008", "RefStartingDate", "2025-05-15")]),
        ("VBLV001", {"reference_start": d("2026-06-01"), "reference_end": d("2026-06-30")}, []),
        ("ZIMA001", {"risk_starting_date": d("2026-01-01")}, []),
    ],
    ids=[
        "accident-today",
        "accident-tomorrow",
        "aoat001-accident-2008",
        "aoat001-accident-2007",
        "aoat002-accident-2003",
        "aoat002-accident-2002",
        "aoat003-accident-tomorrow",
        "zima001-recovery-on-creation-day",
        "zima001-recovery-after-creation",
        "zima001-recovery-bound-is-creation-not-today",
        "zima006-recovery-first-day",
        "zima006-recovery-before-2005-07",
        "zima006-recovery-after-creation",
        "aoat001-recovery-today",
        "aoat003-recovery-tomorrow",
        "wech005-current-month",
        "wech005-next-month",
        "wech005-before-2004",
        "wech006-2003",
        "wech006-before-2003",
        "aoat002-end-next-month",
        "zima002-on-creation-day",
        "zima002-after-creation",
        "zima003-before-creation",
        "zima003-on-creation-day",
        "vblv001-future-months-allowed",
        "risk-start-has-no-bound",
    ],
)
def test_check_date_domains(scenario: str, overrides: dict[str, Any], expected: list[tuple[str, str, str]]) -> None:
    decl = make_decl(scenario, **overrides)
    findings = check_date_domains(decl, TODAY)
    assert [(f.code, f.tag, f.value) for f in findings] == expected
    assert all(f.anomaly_class == "B" for f in findings)
    assert_common(findings, decl)


# --- wage data ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "unit", "amount", "details", "expected"),
    [
        ("ZIMA001", None, None, (), []),
        ("ZIMA001", 4, 350000, (), []),
        ("ZIMA001", 6, 1, (), []),
        ("ZIMA001", None, 350000, (), [("00189-001", "B", "RemunerationTimeUnit", None)]),
        ("ZIMA001", 0, 350000, (), [("00189-008", "B", "RemunerationTimeUnit", "0")]),
        ("ZIMA001", 7, 350000, (), [("00189-008", "B", "RemunerationTimeUnit", "7")]),
        ("ZIMA001", 2, None, (), [("00191-001", "B", "RemunerationBasisAmount", None)]),
        ("ZIMA001", 4, 0, (), [("00191-008", "B", "RemunerationBasisAmount", "0")]),
        ("WECH001", 4, -5, (), [("00191-008", "B", "RemunerationBasisAmount", "-5")]),
        ("AOAT001", 5, 0, (), [("00191-008", "B", "RemunerationBasisAmount", "0")]),
        ("WECH005", 4, 0, (), []),
        ("ZIMA001", 1, None, (), [("00192-001", "B", "PieceTaskServicesCommissionRemunerationBasisAmount", None)]),
        ("ZIMA001", 1, None, (HOURLY_AMOUNT_LEAF,), []),
        ("WECH005", 1, 2050, (), []),
        (
            "ZIMA001",
            None,
            0,
            (),
            [("00189-001", "B", "RemunerationTimeUnit", None), ("00191-008", "B", "RemunerationBasisAmount", "0")],
        ),
    ],
    ids=[
        "no-wage-data",
        "monthly",
        "yearly-one-cent",
        "amount-without-unit",
        "unit-0",
        "unit-7",
        "daily-without-amount",
        "zero-amount",
        "negative-amount-wech001",
        "zero-amount-aoat001",
        "zero-amount-allowed-by-wech005-domain",
        "hourly-without-hourly-amount",
        "hourly-amount-in-its-own-zone",
        "hourly-with-basis-amount",
        "zero-amount-without-unit",
    ],
)
def test_check_remuneration(
    scenario: str,
    unit: int | None,
    amount: int | None,
    details: tuple[tuple[str, str], ...],
    expected: list[Row],
) -> None:
    decl = make_decl(scenario, remuneration_time_unit=unit, remuneration_basis_amount=amount, details=details)
    findings = check_remuneration(decl, TODAY)
    assert outline(findings) == expected
    assert_common(findings, decl)


# --- the whole form -----------------------------------------------------------------------------------


def test_rules_run_in_report_order_and_keep_the_form_line() -> None:
    decl = make_decl(
        identification="ZIMA002",
        risk_codes=("002",),
        noss_number=BAD_NOSS,
        company_id=BAD_KBO,
        insz=MAN,
        last_working_day=RISK_START,
        work_recovery_date=RISK_START,
        remuneration_time_unit=9,
    )
    findings = check_risk_declaration(decl, TODAY)
    assert [(f.code, f.anomaly_class) for f in findings] == [
        ("00296-008", "B"),
        ("00011-004", "W"),
        ("00014-004", "B"),
        ("00024-008", "B"),
        ("00410-008", "B"),
        ("00128-023", "B"),
        ("00189-008", "B"),
    ]
    assert_common(findings, decl)
    assert {f.path for f in findings} == {(("NOSSRegistrationNbr", BAD_NOSS), ("INSS", MAN))}


def test_rules_tuple_is_what_check_risk_declaration_runs() -> None:
    assert len(RULES) == len(set(RULES)) == 13
    decl = make_decl(insz=None, noss_number=None, company_id=None)
    assert check_risk_declaration(decl, TODAY) == [f for rule in RULES for f in rule(decl, TODAY)]


@pytest.mark.parametrize(
    ("noss", "insz", "expected"),
    [
        (NOSS, MAN, (("NOSSRegistrationNbr", NOSS), ("INSS", MAN))),
        ("0", MAN, (("INSS", MAN),)),
        (None, MAN, (("INSS", MAN),)),
        (NOSS, None, (("NOSSRegistrationNbr", NOSS),)),
        (NOSS, "0", (("NOSSRegistrationNbr", NOSS),)),
        (None, None, ()),
    ],
    ids=["both", "noss-0", "noss-absent", "insz-absent", "insz-0", "neither"],
)
def test_finding_path(noss: str | None, insz: str | None, expected: tuple[tuple[str, str], ...]) -> None:
    assert finding_path(make_decl(noss_number=noss, insz=insz)) == expected


def test_findings_of_a_bad_form_never_show_the_full_insz() -> None:
    for insz in (BAD_INSZ, MAN):
        decl = make_decl(risk_codes=("002",), insz=insz)
        findings = check_risk_declaration(decl, TODAY)
        assert findings
        assert_common(findings, decl)


# --- against the personnel file -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("covered", "anomaly_class", "expected"),
    [
        (None, "W", []),
        (True, "W", []),
        (False, "W", [("90017-152", "W", "NaturalPerson", "850730-***-**")]),
        (False, "B", [("90017-152", "B", "NaturalPerson", "850730-***-**")]),
    ],
    ids=["not-checked", "covered", "not-covered-warning", "not-covered-blocking"],
)
def test_check_employment_relation(covered: bool | None, anomaly_class: str, expected: list[Row]) -> None:
    decl = make_decl("WECH005")
    findings = check_employment_relation(decl, covered, anomaly_class)
    assert outline(findings) == expected
    assert_common(findings, decl)
    assert all("Dimona IN" in f.message for f in findings)


def test_employment_relation_without_insz_names_no_one() -> None:
    (finding,) = check_employment_relation(make_decl(insz=None), False, "W")
    assert finding.value is None
    assert "(none)" in finding.message


END = d("2025-03-31")


@pytest.mark.parametrize(
    ("scenario", "declared", "dimona_end", "expected"),
    [
        ("WECH001", END, END, []),
        ("WECH001", END, END + timedelta(days=1), [("00045-008", "B", "OccupationEndingDate", "2025-03-31")]),
        ("WECH001", END, END - timedelta(days=1), [("00045-008", "B", "OccupationEndingDate", "2025-03-31")]),
        ("WECH001", END, None, []),
        ("WECH001", None, END, []),
        ("ZIMA001", END, END + timedelta(days=1), []),
    ],
    ids=["same-day", "dimona-later", "dimona-earlier", "no-dimona-out", "no-declared-end", "c4-only"],
)
def test_check_end_of_contract(
    scenario: str, declared: date | None, dimona_end: date | None, expected: list[Row]
) -> None:
    decl = make_decl(scenario, occupation_ending_date=declared)
    findings = check_end_of_contract(decl, dimona_end)
    assert outline(findings) == expected
    assert_common(findings, decl)


def test_end_of_contract_message_gives_both_dates() -> None:
    (finding,) = check_end_of_contract(make_decl("WECH001", occupation_ending_date=END), d("2025-04-15"))
    assert "2025-03-31" in finding.message and "2025-04-15" in finding.message


# --- our data against the official annexes and glossaries ------------------------------------------------

_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@cache
def glossary(folder: Path, form: str) -> dict[str, str]:
    """Anomaly code → class for one form, from its zones and functional-blocks glossaries."""
    codes: dict[str, str] = {}
    for kind, element in (("zones", "glossary"), ("functional-blocks", "FunctionalBlock")):
        tree = etree.parse(str(folder / "glossary" / kind / f"{form}.xml"), _XML)
        for entry in tree.iterfind(element):
            for anomaly in entry.iterfind("Anomalie"):
                code = (anomaly.findtext("AnomalieCode") or "").strip()
                if code:
                    codes[code] = (anomaly.findtext("AnomalieErnst") or "").strip()
    return codes


@cache
def zone_labels(folder: Path, form: str) -> dict[str, str]:
    """Zone number → XmlLabel for one form."""
    tree = etree.parse(str(folder / "glossary" / "zones" / f"{form}.xml"), _XML)
    return {g.findtext("Code") or "": g.findtext("XmlLabel") or "" for g in tree.iterfind("glossary")}


DRS_FAMILIES = ("WECH", "ZIMA", "AOAT", "TWCT", "VBLV")


def glossary_forms(folder: Path) -> list[str]:
    """The DRS forms that have a glossary."""
    return sorted(p.stem for p in (folder / "glossary" / "zones").glob("*.xml") if p.stem[:4] in DRS_FAMILIES)


def test_risk_variants_are_annex_12(official: Path) -> None:
    tree = etree.parse(str(official / "codelists" / "RiskIdentification2020-2_12.xml"), _XML)
    annex: dict[str, dict[str, tuple[date, date | None]]] = {}
    for entry in tree.iterfind("risk-identification"):
        form = {"CWTEMP": "TWCT001"}.get(entry.findtext("id/main") or "", entry.findtext("id/main") or "")
        end_year, end_quarter = (
            int(entry.findtext("end-validity/year") or 0),
            int(entry.findtext("end-validity/quarter") or 0),
        )
        assert (entry.findtext("begin-validity/year"), entry.findtext("begin-validity/quarter")) == ("1900", "1")
        valid_to = None if end_year == 9999 else Quarter(end_year, end_quarter).end
        annex.setdefault(form, {})[entry.findtext("id/sub") or ""] = (date.min, valid_to)
    # The TWCT001 glossary (zone 00430) restricts CWTEMP 006 to 2018-01-01 onwards.
    annex["TWCT001"]["006"] = (date(2018, 1, 1), None)
    assert {form: dict(variants) for form, variants in RISK_VARIANTS.items()} == annex


@pytest.mark.parametrize(
    ("form", "code", "glossary_class"),
    [
        ("ZIMA001", "00296-001", "B"),
        ("WECH001", "00296-008", "B"),
        ("ZIMA001", "90064-001", "B"),
        ("WECH005", "90064-001", "B"),
        ("TWCT001", "00430-008", "B"),
        ("ZIMA001", "00430-008", "B"),
        ("WECH001", "00011-001", "B"),
        ("WECH001", "00011-008", "B"),
        ("ZIMA001", "00011-004", "B"),  # reported as W: derived check rule
        ("AOAT001", "00014-004", "B"),
        ("VBLV001", "00024-001", "B"),
        ("WECH001", "00024-003", "B"),
        ("WECH001", "00024-004", "B"),
        ("ZIMA001", "00024-008", "B"),
        ("ZIMA003", "00024-008", "B"),
        ("ZIMA001", "00410-008", "B"),  # reported as W for risk 001: a relapse cannot be told apart
        ("ZIMA001", "00128-023", "B"),
        ("AOAT001", "00128-008", "B"),
        ("AOAT003", "00128-008", "B"),
        ("ZIMA001", "00944-014", "B"),
        ("WECH001", "00045-014", "B"),
        ("ZIMA001", "00045-014", "B"),
        ("AOAT001", "00045-014", "B"),
        ("WECH001", "00189-001", "B"),
        ("ZIMA001", "00189-008", "B"),
        ("WECH005", "00191-001", "B"),
        ("ZIMA001", "00192-001", "B"),
        ("WECH005", "00192-001", "B"),
        ("ZIMA001", "90017-152", "B"),
        ("TWCT001", "90017-152", "B"),
        ("WECH001", "00045-008", "B"),
    ],
)
def test_codes_are_in_the_official_glossary(official: Path, form: str, code: str, glossary_class: str) -> None:
    assert glossary(official, form).get(code) == glossary_class


def test_data_tables_agree_with_the_official_glossaries(official: Path) -> None:
    forms = glossary_forms(official)
    assert {f for f in forms if "00024-008" in glossary(official, f)} == INSZ_DOMAIN_CODE_FORMS
    assert {f for f in forms if "00191-008" in glossary(official, f)} == POSITIVE_AMOUNT_FORMS
    for form, code in REFERENCE_END_CODES.items():
        if form in forms:
            assert glossary(official, form).get(code) == "B", (form, code)
    for form in forms:
        if "00075-014" in glossary(official, form) or "00075-098" in glossary(official, form):
            expected = "00075-014" if "00075-014" in glossary(official, form) else "00075-098"
            assert REFERENCE_END_CODES[form] == expected, form
    for (form, _field), domain in DATE_DOMAINS.items():
        assert glossary(official, form).get(f"{domain.zone}-008") == "B", (form, domain.zone)
        assert zone_labels(official, form)[domain.zone] == domain.tag
    # The forms without zone 00430 are exactly those the risk rule asks nothing of.
    without_risk_zone = {f for f in forms if "00430" not in zone_labels(official, f)}
    assert without_risk_zone == {"AOAT002", "AOAT003"}
    assert without_risk_zone.isdisjoint(RISK_VARIANTS)


def test_masked_values_are_the_birth_date_part_only() -> None:
    assert (mask_insz(MAN), mask_insz(BIS_ODD), mask_insz("0")) == ("850730-***-**", "852730-***-**", "******-***-**")
