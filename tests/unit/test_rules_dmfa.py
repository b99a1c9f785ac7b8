"""DmfA business rules: official anomaly ids, classes, values, lines and paths."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cbss_batch.records import DeclarationTotals, DmfaHeader, Finding, NaturalPerson, Quarter, WorkerRecord
from cbss_batch.rules.dmfa import (
    DECLARATION_RULES,
    HEADER_RULES,
    PERSON_RULES,
    DeclarationChecks,
    check_company_id,
    check_header,
    check_insz,
    check_net_owed,
    check_noss_number,
    check_person,
    check_quarter,
    finding_path,
    last_ended_quarter,
)

TODAY = date(2025, 5, 15)
NOSS = "175110801"
INSZ = "85073003328"
OTHER_INSZ = "01041012343"
EMPLOYER_LINE = 14
# CALCULATIONS.md §1.7 (Odoo test_02): 256+255+495+809+810+831+856+859, unrelated 862, deduction 0001.
ODOO_TOTALS = DeclarationTotals(
    contributions=110 + 221 + 419798 + 1985 + 1875 + 2536 + 5772 + 1103,
    unrelated=9966,
    deductions=12824,
)


def make_header(**overrides: Any) -> DmfaHeader:
    fields: dict[str, Any] = {
        "form_index": 1,
        "identification": "DMFA",
        "created_on": date(2025, 5, 10),
        "created_at": "09:43:00.002",
        "sender_reference": None,
        "quarter": Quarter(2025, 1),
        "noss_number": NOSS,
        "trusteeship": 0,
        "company_id": "0403170701",
        "net_owed_amount": 430542,
        "line": 3,
        "employer_line": EMPLOYER_LINE,
    }
    fields.update(overrides)
    return DmfaHeader(**fields)


def make_person(insz: str = INSZ, *, sequence: int = 1, line: int = 20) -> NaturalPerson:
    return NaturalPerson(sequence=sequence, insz=insz, name="Peeters", first_name="An", line=line)


def outline(findings: list[Finding]) -> list[tuple[str, str, str | None, str | None, int | None]]:
    return [(f.code, f.anomaly_class, f.tag, f.value, f.line) for f in findings]


# --- employer header --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "today", "expected"),
    [
        ({}, TODAY, []),
        ({"quarter": Quarter(2003, 1)}, TODAY, []),
        ({"quarter": Quarter(2002, 4)}, TODAY, [("00013-008", "B", "Quarter", "20024")]),
        ({"quarter": Quarter(2025, 1)}, date(2025, 4, 1), []),
        ({"quarter": Quarter(2025, 1)}, date(2025, 3, 31), [("00013-008", "B", "Quarter", "20251")]),
        ({"quarter": Quarter(2025, 2)}, date(2025, 4, 1), [("00013-008", "B", "Quarter", "20252")]),
        ({"quarter": Quarter(2025, 4)}, date(2026, 1, 1), []),
        ({"quarter": Quarter(2026, 1)}, TODAY, [("00013-008", "B", "Quarter", "20261")]),
        ({"noss_number": "175110802"}, TODAY, [("00011-004", "W", "NOSSRegistrationNbr", "175110802")]),
        ({"noss_number": "99909"}, TODAY, [("00011-004", "W", "NOSSRegistrationNbr", "99909")]),
        ({"noss_number": "70500472"}, TODAY, []),
        ({"noss_number": "0"}, TODAY, []),
        ({"noss_number": "0", "company_id": "0"}, TODAY, [("00011-146", "B", "NOSSRegistrationNbr", "0")]),
        ({"company_id": "0"}, TODAY, []),
        ({"company_id": "403170701"}, TODAY, []),
        ({"company_id": "0403170702"}, TODAY, [("00014-004", "B", "CompanyID", "0403170702")]),
        ({"company_id": "0123456789"}, TODAY, [("00014-004", "B", "CompanyID", "0123456789")]),
        (
            {"quarter": Quarter(2025, 2), "noss_number": "175110802", "company_id": "0123456789"},
            TODAY,
            [
                ("00013-008", "B", "Quarter", "20252"),
                ("00011-004", "W", "NOSSRegistrationNbr", "175110802"),
                ("00014-004", "B", "CompanyID", "0123456789"),
            ],
        ),
    ],
    ids=[
        "valid",
        "first-quarter-20031",
        "before-20031",
        "quarter-just-ended",
        "last-day-of-quarter",
        "current-quarter",
        "q4-ended-on-new-year",
        "future-quarter",
        "noss-check",
        "noss-below-domain",
        "noss-unpadded",
        "noss-zero-with-company-id",
        "noss-and-company-id-zero",
        "company-id-unknown",
        "company-id-nine-digits",
        "company-id-check",
        "company-id-sample-invalid",
        "all-three-in-zone-order",
    ],
)
def test_check_header(
    overrides: dict[str, Any], today: date, expected: list[tuple[str, str, str, str]]
) -> None:
    findings = check_header(make_header(**overrides), today)
    assert outline(findings) == [(*row, EMPLOYER_LINE) for row in expected]
    assert all(f.path == (("NOSSRegistrationNbr", overrides.get("noss_number", NOSS)),) for f in findings)


def test_header_rules_run_in_zone_order() -> None:
    assert HEADER_RULES == (check_quarter, check_noss_number, check_company_id)
    assert PERSON_RULES == (check_insz,)
    assert DECLARATION_RULES == (check_net_owed,)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2025, 1, 1), Quarter(2024, 4)),
        (date(2025, 3, 31), Quarter(2024, 4)),
        (date(2025, 4, 1), Quarter(2025, 1)),
        (date(2025, 12, 31), Quarter(2025, 3)),
    ],
    ids=["new-year", "last-day-q1", "first-day-q2", "last-day-of-year"],
)
def test_last_ended_quarter(today: date, expected: Quarter) -> None:
    assert last_ended_quarter(today) == expected


def test_quarter_message_says_when_it_can_be_declared() -> None:
    [finding] = check_quarter(make_header(quarter=Quarter(2025, 2)), date(2025, 6, 30))
    assert finding.message == (
        "quarter 20252 has not ended on 2025-06-30: declare it from 2025-07-01;"
        " the latest quarter accepted today is 20251"
    )
    [future] = check_quarter(make_header(quarter=Quarter(2025, 4)), date(2025, 6, 30))
    assert future.message.startswith("quarter 20254 starts after 2025-06-30")


# --- natural person -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("insz", "expected"),
    [
        (INSZ, []),
        (OTHER_INSZ, []),
        ("85273003371", []),  # BIS number: month + 20
        ("85073003327", [("00024-004", "B", "INSS", "850730-***-**")]),
        ("85073003329", [("00024-004", "B", "INSS", "850730-***-**")]),
        ("00000000000", [("00024-146", "B", "INSS", "000000-***-**")]),
    ],
    ids=["pre-2000", "2000-or-later", "bis", "check-minus-one", "check-plus-one", "all-zero"],
)
def test_check_person(insz: str, expected: list[tuple[str, str, str, str]]) -> None:
    person = make_person(insz, line=42)
    findings = check_person(make_header(), person)
    assert outline(findings) == [(*row, 42) for row in expected]
    assert all(f.path == (("NOSSRegistrationNbr", NOSS), ("INSS", insz)) for f in findings)


def test_person_findings_never_show_the_full_insz_outside_the_path() -> None:
    [finding] = check_person(make_header(), make_person("85073003327"))
    assert "85073003327" not in finding.message
    assert "03327" not in (finding.value or "") + finding.message
    assert (
        finding.message
        == "INSS 850730-***-** has invalid check digits (97 − first nine mod 97, for either century)"
    )


def test_finding_path_at_worker_level() -> None:
    worker = WorkerRecord(
        employer_class="010",
        worker_code="495",
        quarter_start=date(2025, 1, 1),
        quarter_end=date(2025, 3, 31),
        border=0,
        activity_with_risk=None,
        local_unit_id="2000000141",
        line=25,
    )
    assert finding_path(make_header(), make_person(), worker) == (
        ("NOSSRegistrationNbr", NOSS),
        ("INSS", INSZ),
        ("EmployerClass", "010"),
        ("WorkerCode", "495"),
    )


# --- whole declaration ----------------------------------------------------------------------------


def test_duplicate_insz_points_at_each_repeat() -> None:
    checks = DeclarationChecks(make_header())
    results = [
        checks.add_person(make_person(INSZ, sequence=1, line=20)),
        checks.add_person(make_person(OTHER_INSZ, sequence=2, line=96)),
        checks.add_person(make_person(INSZ, sequence=3, line=150)),
        checks.add_person(make_person(INSZ, sequence=4, line=210)),
    ]
    assert [outline(r) for r in results] == [
        [],
        [],
        [("90017-006", "B", "NaturalPerson", "850730-***-**", 150)],
        [("90017-006", "B", "NaturalPerson", "850730-***-**", 210)],
    ]
    repeat = results[2][0]
    assert repeat.path == (("NOSSRegistrationNbr", NOSS), ("INSS", INSZ))
    assert repeat.message.startswith("INSS 850730-***-** was already declared at line 20 (NaturalPerson 1)")
    assert INSZ not in repeat.message
    assert results[3][0].message.startswith("INSS 850730-***-** was already declared at line 20 ")


def test_each_declaration_has_its_own_duplicate_check() -> None:
    first, second = DeclarationChecks(make_header()), DeclarationChecks(make_header(form_index=2))
    assert first.add_person(make_person()) == []
    assert second.add_person(make_person()) == []


@pytest.mark.parametrize(
    ("declared", "totals", "expected_message"),
    [
        (430542, ODOO_TOTALS, None),
        (430543, ODOO_TOTALS, "declared 4 305.43 EUR, computed 4 305.42 EUR"),
        (430541, ODOO_TOTALS, "declared 4 305.41 EUR, computed 4 305.42 EUR"),
        (430542, DeclarationTotals(contributions=430540), "declared 4 305.42 EUR, computed 4 305.40 EUR"),
        (0, DeclarationTotals(contributions=100, deductions=500), None),
        (1, DeclarationTotals(contributions=100, deductions=500), "declared 0.01 EUR, computed 0.00 EUR"),
        (
            0,
            DeclarationTotals(contributions=100_000_000, student_contributions=23_456_789, unrelated=11),
            "declared 0.00 EUR, computed 1 234 568.00 EUR",
        ),
        (0, DeclarationTotals(), None),
    ],
    ids=[
        "odoo-vector",
        "one-cent-over",
        "one-cent-under",
        "two-cents",
        "floor-at-zero",
        "floor-at-zero-declared-a-cent",
        "students-and-unrelated-count",
        "empty",
    ],
)
def test_net_owed(declared: int, totals: DeclarationTotals, expected_message: str | None) -> None:
    checks = DeclarationChecks(make_header(net_owed_amount=declared))
    findings = checks.finish(totals)
    if expected_message is None:
        assert findings == []
        return
    assert outline(findings) == [("00015-007", "B", "NetOwedAmount", str(declared), EMPLOYER_LINE)]
    assert findings[0].message.startswith(expected_message + ": ")
    assert findings[0].path == (("NOSSRegistrationNbr", NOSS),)
