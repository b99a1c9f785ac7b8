"""Dimona business rules: official anomaly ids, classes, tags, values, lines and paths; apply(); period ids."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cbss_batch.records import DimonaDeclaration, EmploymentPeriod, Finding
from cbss_batch.rules.dimona import (
    DECLARATION_RULES,
    IDENTITY_RULES,
    PERIOD_RULES,
    apply,
    canonical_period_id,
    check_against_personnel_file,
    check_company_id,
    check_declaration,
    check_employer_id,
    check_employer_matches,
    check_ending_date,
    check_insz,
    check_noss_number,
    check_out_against_period,
    check_overlap,
    check_period_id,
    check_person_matches,
    check_planned_work,
    check_starting_date,
    check_update_against_period,
    check_update_has_changes,
    check_worker_type,
    finding_path,
    is_valid_period_id,
    new_period_id,
)

TODAY = date(2025, 5, 15)
NOSS = "175110801"
OTHER_NOSS = "70500472"  # official sample 070500472, unpadded
KBO = "0403170701"
OTHER_KBO = "0400767772"
INSZ = "85073003328"
OTHER_INSZ = "01041012343"
BAD_INSZ = "85073003327"
PID = "000000000101"  # new_period_id(1)
OFFICIAL_PID = "600027876089"
FORM_LINE, ACTION_LINE = 5, 17

Row = tuple[str, str, str | None, str | None]  # code, class, tag, value


def make_decl(action: str = "IN", **overrides: Any) -> DimonaDeclaration:
    """A valid declaration of ``action``; an IN hires an ordinary worker (OTH) five days after TODAY."""
    fields: dict[str, Any] = {
        "form_index": 1,
        "identification": "DIMONA",
        "created_on": TODAY,
        "created_at": "08:00:00.000",
        "sender_reference": "HIRE-1",
        "action": action,
        "period_id": None if action == "IN" else PID,
        "noss_number": NOSS,
        "company_id": None,
        "insz": INSZ if action == "IN" else None,
        "worker_type": "OTH" if action == "IN" else None,
        "joint_committee": "200" if action == "IN" else None,
        "starting_date": date(2025, 5, 20) if action == "IN" else None,
        "starting_hour": None,
        "ending_date": {"OUT": date(2025, 6, 30), "UPDATE": date(2025, 9, 30)}.get(action),
        "ending_hour": None,
        "planned_hours": None,
        "planned_days": None,
        "line": FORM_LINE,
        "action_line": ACTION_LINE,
    }
    fields.update(overrides)
    return DimonaDeclaration(**fields)


def make_period(**overrides: Any) -> EmploymentPeriod:
    """A live, open OTH period of NOSS and INSZ from 2025-03-01."""
    fields: dict[str, Any] = {
        "period_id": PID,
        "noss_number": NOSS,
        "company_id": None,
        "insz": INSZ,
        "worker_type": "OTH",
        "joint_committee": "200",
        "starting_date": date(2025, 3, 1),
        "ending_date": None,
    }
    fields.update(overrides)
    return EmploymentPeriod(**fields)


def outline(findings: list[Finding]) -> list[Row]:
    return [(f.code, f.anomaly_class, f.tag, f.value) for f in findings]


def assert_common(findings: list[Finding], decl: DimonaDeclaration) -> None:
    """Every finding points at the action element, carries the declared keys and never a full INSZ."""
    for finding in findings:
        assert finding.line == ACTION_LINE
        assert finding.path == finding_path(decl)
        for insz in (INSZ, OTHER_INSZ, BAD_INSZ):
            assert insz not in finding.message
            assert insz not in (finding.value or "")


def d(text: str) -> date:
    return date.fromisoformat(text)


# --- one declaration alone -------------------------------------------------------------------------

STU = {"worker_type": "STU", "starting_date": d("2025-05-20"), "ending_date": d("2025-06-30"), "planned_hours": 40}
O17 = {"worker_type": "O17", "starting_date": d("2025-05-30"), "ending_date": d("2025-05-30"), "planned_hours": 8}
A17 = {"worker_type": "A17", "starting_date": d("2021-12-31"), "ending_date": d("2021-12-31")}
FLX = {"worker_type": "FLX", "starting_date": d("2025-08-15")}

DECLARATION_CASES: list[tuple[str, str, dict[str, Any], date, list[Row]]] = [
    # id, action, overrides, today, expected
    ("in-valid", "IN", {}, TODAY, []),
    ("out-valid", "OUT", {}, TODAY, []),
    ("update-valid", "UPDATE", {}, TODAY, []),
    ("cancel-valid", "CANCEL", {"ending_date": None}, TODAY, []),
    # DimonaPeriodId (00913)
    ("in-with-period-id", "IN", {"period_id": PID}, TODAY, [("00913-005", "B", "DimonaPeriodId", PID)]),
    ("out-without-period-id", "OUT", {"period_id": None}, TODAY, [("00913-001", "B", "DimonaPeriodId", None)]),
    ("update-without-period-id", "UPDATE", {"period_id": None}, TODAY, [("00913-001", "B", "DimonaPeriodId", None)]),
    ("cancel-without-period-id", "CANCEL", {"period_id": None}, TODAY, [("00913-001", "B", "DimonaPeriodId", None)]),
    (
        "period-id-check",
        "CANCEL",
        {"period_id": "000000000102"},
        TODAY,
        [("00913-003", "B", "DimonaPeriodId", "000000000102")],
    ),
    ("period-id-official-sample", "OUT", {"period_id": OFFICIAL_PID}, TODAY, []),
    ("period-id-unpadded", "OUT", {"period_id": "101"}, TODAY, []),
    # employer (90256, 00011, 00014)
    ("in-without-employer", "IN", {"noss_number": None}, TODAY, [("90256-364", "B", "EmployerId", None)]),
    ("out-without-employer", "OUT", {"noss_number": None}, TODAY, []),
    ("noss-check", "IN", {"noss_number": "175110802"}, TODAY, [("00011-003", "W", "NOSSRegistrationNbr", "175110802")]),
    ("noss-below-domain", "IN", {"noss_number": "99909"}, TODAY, [("00011-003", "W", "NOSSRegistrationNbr", "99909")]),
    ("noss-unpadded", "IN", {"noss_number": OTHER_NOSS}, TODAY, []),
    (
        "noss-zero",
        "IN",
        {"noss_number": "0", "company_id": KBO},
        TODAY,
        [("00011-003", "B", "NOSSRegistrationNbr", "0")],
    ),
    ("company-id-only", "IN", {"noss_number": None, "company_id": KBO}, TODAY, []),
    ("company-id-nine-digits", "IN", {"noss_number": None, "company_id": KBO[1:]}, TODAY, []),
    ("company-id-zero", "IN", {"company_id": "0"}, TODAY, [("00014-003", "B", "CompanyID", "0")]),
    ("company-id-check", "OUT", {"company_id": "0403170702"}, TODAY, [("00014-003", "B", "CompanyID", "0403170702")]),
    # INSS (00024, 90017)
    ("in-without-insz", "IN", {"insz": None}, TODAY, [("90017-363", "B", "NaturalPerson", None)]),
    ("in-insz-zero", "IN", {"insz": "0"}, TODAY, [("90017-363", "B", "NaturalPerson", None)]),
    (
        "ext-without-insz",
        "IN",
        {"worker_type": "EXT", "ending_date": d("2025-05-20"), "insz": None},
        TODAY,
        [("00024-001", "B", "INSS", None)],
    ),
    ("insz-check", "IN", {"insz": BAD_INSZ}, TODAY, [("00024-003", "B", "INSS", "850730-***-**")]),
    ("insz-2000-or-later", "IN", {"insz": OTHER_INSZ}, TODAY, []),
    ("out-insz-optional", "OUT", {"insz": None}, TODAY, []),
    ("out-insz-zero", "OUT", {"insz": "0"}, TODAY, []),
    ("cancel-insz-check", "CANCEL", {"insz": BAD_INSZ}, TODAY, [("00024-003", "B", "INSS", "850730-***-**")]),
    # StartingDate (00910): [1920-01-01; 1 Jan of (year + 10)[
    ("in-without-start", "IN", {"starting_date": None}, TODAY, [("00910-001", "B", "StartingDate", None)]),
    ("start-1920-01-01", "IN", {"starting_date": d("1920-01-01")}, TODAY, []),
    (
        "start-1919-12-31",
        "IN",
        {"starting_date": d("1919-12-31")},
        TODAY,
        [("00910-008", "B", "StartingDate", "1919-12-31")],
    ),
    ("start-last-day-allowed", "IN", {"starting_date": d("2034-12-31")}, TODAY, []),
    (
        "start-year-plus-ten",
        "IN",
        {"starting_date": d("2035-01-01")},
        TODAY,
        [("00910-008", "B", "StartingDate", "2035-01-01")],
    ),
    (
        "update-start-domain",
        "UPDATE",
        {"starting_date": d("1919-12-31")},
        TODAY,
        [("00910-008", "B", "StartingDate", "1919-12-31")],
    ),
    # EndingDate (00911): [1999-01-01; 1 Jan of (year + 10)[, not before the start, 9999-12-31 in UPDATE only
    ("out-without-end", "OUT", {"ending_date": None}, TODAY, [("00911-001", "B", "EndingDate", None)]),
    ("end-1999-01-01", "IN", {"starting_date": d("1998-06-01"), "ending_date": d("1999-01-01")}, TODAY, []),
    (
        "end-1998-12-31",
        "IN",
        {"starting_date": d("1998-06-01"), "ending_date": d("1998-12-31")},
        TODAY,
        [("00911-008", "B", "EndingDate", "1998-12-31")],
    ),
    ("end-last-day-allowed", "OUT", {"ending_date": d("2034-12-31")}, TODAY, []),
    (
        "end-year-plus-ten",
        "OUT",
        {"ending_date": d("2035-01-01")},
        TODAY,
        [("00911-008", "B", "EndingDate", "2035-01-01")],
    ),
    ("end-on-start-day", "IN", {"ending_date": d("2025-05-20")}, TODAY, []),
    (
        "end-day-before-start",
        "IN",
        {"ending_date": d("2025-05-19")},
        TODAY,
        [("00911-014", "B", "EndingDate", "2025-05-19")],
    ),
    (
        "update-end-before-start",
        "UPDATE",
        {"starting_date": d("2025-05-20"), "ending_date": d("2025-05-19")},
        TODAY,
        [("00911-014", "B", "EndingDate", "2025-05-19")],
    ),
    ("open-end-in-update", "UPDATE", {"ending_date": d("9999-12-31")}, TODAY, []),
    ("open-end-in-in", "IN", {"ending_date": d("9999-12-31")}, TODAY, [("00911-008", "B", "EndingDate", "9999-12-31")]),
    (
        "open-end-in-out",
        "OUT",
        {"ending_date": d("9999-12-31")},
        TODAY,
        [("00911-008", "B", "EndingDate", "9999-12-31")],
    ),
    # WorkerType (00655)
    ("worker-type-missing", "IN", {"worker_type": None}, TODAY, [("00655-001", "B", "WorkerType", None)]),
    ("worker-type-unknown", "IN", {"worker_type": "XYZ"}, TODAY, [("00655-003", "B", "WorkerType", "XYZ")]),
    ("a17-until-2021", "IN", A17, TODAY, []),
    (
        "a17-from-2022",
        "IN",
        {**A17, "starting_date": d("2022-01-01"), "ending_date": d("2022-01-01")},
        TODAY,
        [("00655-005", "B", "WorkerType", "A17")],
    ),
    (
        "a17-one-day-only",
        "IN",
        {**A17, "ending_date": d("2022-01-01")},
        TODAY,
        [("00911-008", "B", "EndingDate", "2022-01-01")],
    ),
    ("tea-until-2021", "IN", {"worker_type": "TEA", "starting_date": d("2021-12-31")}, TODAY, []),
    (
        "tea-from-2022",
        "IN",
        {"worker_type": "TEA", "starting_date": d("2022-01-01")},
        TODAY,
        [("00655-005", "B", "WorkerType", "TEA")],
    ),
    ("qua-before-2023", "IN", {"worker_type": "QUA", "starting_date": d("2022-12-31")}, d("2022-12-31"), []),
    (
        "qua-from-2023",
        "IN",
        {"worker_type": "QUA", "starting_date": d("2022-12-31")},
        d("2023-01-01"),
        [("00655-005", "B", "WorkerType", "QUA")],
    ),
    (
        "stx",
        "IN",
        {"worker_type": "STX", "ending_date": d("2025-05-20")},
        TODAY,
        [("00655-005", "B", "WorkerType", "STX")],
    ),
    (
        "alt-before-september-2023",
        "IN",
        {"worker_type": "ALT", "starting_date": d("2023-08-31")},
        TODAY,
        [("00655-005", "B", "WorkerType", "ALT")],
    ),
    ("alt-from-september-2023", "IN", {"worker_type": "ALT", "starting_date": d("2023-09-01")}, TODAY, []),
    (
        "o17-before-2022",
        "IN",
        {**O17, "starting_date": d("2021-12-31"), "ending_date": d("2021-12-31")},
        d("2021-12-20"),
        [("00655-005", "B", "WorkerType", "O17")],
    ),
    # STU: EndingDate in the start's quarter, PlannedHoursNbr 1–999
    ("stu-valid", "IN", STU, TODAY, []),
    ("stu-ends-on-quarter-end", "IN", {**STU, "ending_date": d("2025-06-30")}, TODAY, []),
    (
        "stu-ends-next-quarter",
        "IN",
        {**STU, "ending_date": d("2025-07-01")},
        TODAY,
        [("90373-421", "B", "DimonaIn", "2025-07-01")],
    ),
    ("stu-without-end", "IN", {**STU, "ending_date": None}, TODAY, [("00911-001", "B", "EndingDate", None)]),
    ("stu-without-hours", "IN", {**STU, "planned_hours": None}, TODAY, [("01135-001", "B", "PlannedHoursNbr", None)]),
    ("stu-hours-1", "IN", {**STU, "planned_hours": 1}, TODAY, []),
    ("stu-hours-999", "IN", {**STU, "planned_hours": 999}, TODAY, []),
    ("stu-hours-0", "IN", {**STU, "planned_hours": 0}, TODAY, [("01135-003", "B", "PlannedHoursNbr", "0")]),
    ("stu-hours-1000", "IN", {**STU, "planned_hours": 1000}, TODAY, [("01135-003", "B", "PlannedHoursNbr", "1000")]),
    (
        "stu-days-until-2016",
        "IN",
        {**STU, "starting_date": d("2016-12-01"), "ending_date": d("2016-12-31"), "planned_days": 5},
        TODAY,
        [],
    ),
    ("stu-days-after-2016", "IN", {**STU, "planned_days": 5}, TODAY, [("01017-005", "B", "PlannedDaysNbr", "5")]),
    ("oth-days", "IN", {"planned_days": 5}, TODAY, [("01017-005", "B", "PlannedDaysNbr", "5")]),
    # EndingDate mandatory: EXT, IVT, TRI, STG, joint committee 322
    ("ext-valid", "IN", {"worker_type": "EXT", "ending_date": d("2025-05-20")}, TODAY, []),
    ("ext-without-end", "IN", {"worker_type": "EXT"}, TODAY, [("00911-001", "B", "EndingDate", None)]),
    ("ivt-without-end", "IN", {"worker_type": "IVT"}, TODAY, [("00911-001", "B", "EndingDate", None)]),
    ("tri-without-end", "IN", {"worker_type": "TRI"}, TODAY, [("00911-001", "B", "EndingDate", None)]),
    ("stg-without-end", "IN", {"worker_type": "STG"}, TODAY, [("00911-001", "B", "EndingDate", None)]),
    ("stg-with-end", "IN", {"worker_type": "STG", "ending_date": d("2025-08-31")}, TODAY, []),
    ("temp-agency-without-end", "IN", {"joint_committee": "322"}, TODAY, [("00911-001", "B", "EndingDate", None)]),
    ("temp-agency-with-end", "IN", {"joint_committee": "322", "ending_date": d("2025-05-23")}, TODAY, []),
    ("sub-committee-322-01-open", "IN", {"joint_committee": "322.01"}, TODAY, []),
    ("oth-open-ended", "IN", {"worker_type": "OTH", "ending_date": None}, TODAY, []),
    # O17/S17/T17: at most 15 days ahead; O17/S17 in one quarter with hours; T17 one day
    ("o17-15-days-ahead", "IN", O17, TODAY, []),
    (
        "o17-16-days-ahead",
        "IN",
        {**O17, "starting_date": d("2025-05-31"), "ending_date": d("2025-05-31")},
        TODAY,
        [("00910-008", "B", "StartingDate", "2025-05-31")],
    ),
    (
        "s17-16-days-ahead",
        "IN",
        {**O17, "worker_type": "S17", "starting_date": d("2025-05-31"), "ending_date": d("2025-05-31")},
        TODAY,
        [("00910-008", "B", "StartingDate", "2025-05-31")],
    ),
    (
        "t17-16-days-ahead",
        "IN",
        {"worker_type": "T17", "starting_date": d("2025-05-31"), "ending_date": d("2025-05-31")},
        TODAY,
        [("00910-008", "B", "StartingDate", "2025-05-31")],
    ),
    (
        "o17-started-yesterday",
        "IN",
        {**O17, "starting_date": d("2025-05-14"), "ending_date": d("2025-05-14")},
        TODAY,
        [],
    ),
    (
        "o17-ends-next-quarter",
        "IN",
        {**O17, "ending_date": d("2025-07-01")},
        TODAY,
        [("90373-421", "B", "DimonaIn", "2025-07-01")],
    ),
    ("o17-without-hours", "IN", {**O17, "planned_hours": None}, TODAY, [("01135-001", "B", "PlannedHoursNbr", None)]),
    (
        "s17-without-end",
        "IN",
        {**O17, "worker_type": "S17", "ending_date": None},
        TODAY,
        [("00911-001", "B", "EndingDate", None)],
    ),
    (
        "t17-one-day-only",
        "IN",
        {"worker_type": "T17", "starting_date": d("2025-05-20"), "ending_date": d("2025-05-21")},
        TODAY,
        [("00911-008", "B", "EndingDate", "2025-05-21")],
    ),
    # FLX: at most 31 days before the start of the quarter of its StartingDate (2025-07-01)
    ("flx-31-days-before-quarter", "IN", FLX, d("2025-05-31"), []),
    ("flx-32-days-before-quarter", "IN", FLX, d("2025-05-30"), [("00910-008", "B", "StartingDate", "2025-08-15")]),
    ("flx-in-current-quarter", "IN", {**FLX, "starting_date": d("2025-06-30")}, TODAY, []),
    # PlannedHoursNbr for a type that does not use it
    ("oth-hours", "IN", {"planned_hours": 10}, TODAY, [("01135-005", "B", "PlannedHoursNbr", "10")]),
    (
        "unknown-type-hours-not-judged",
        "IN",
        {"worker_type": "XYZ", "planned_hours": 10},
        TODAY,
        [("00655-003", "B", "WorkerType", "XYZ")],
    ),
    ("update-hours-type-unknown-here", "UPDATE", {"planned_hours": 10}, TODAY, []),
    (
        "update-hours-out-of-range",
        "UPDATE",
        {"planned_hours": 1000},
        TODAY,
        [("01135-003", "B", "PlannedHoursNbr", "1000")],
    ),
    # UPDATE needs a change
    ("update-nothing", "UPDATE", {"ending_date": None}, TODAY, [("90378-444", "B", "DimonaUpdate", PID)]),
    ("update-hour-only", "UPDATE", {"ending_date": None, "ending_hour": "1800"}, TODAY, []),
    (
        "update-insz-only",
        "UPDATE",
        {"ending_date": None, "insz": INSZ},
        TODAY,
        [("90378-444", "B", "DimonaUpdate", PID)],
    ),
    # several at once, in report order
    (
        "report-order",
        "IN",
        {"noss_number": "175110802", "insz": BAD_INSZ, "worker_type": "XYZ", "ending_date": d("2025-05-01")},
        TODAY,
        [
            ("00911-014", "B", "EndingDate", "2025-05-01"),
            ("00011-003", "W", "NOSSRegistrationNbr", "175110802"),
            ("00024-003", "B", "INSS", "850730-***-**"),
            ("00655-003", "B", "WorkerType", "XYZ"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("action", "overrides", "today", "expected"),
    [case[1:] for case in DECLARATION_CASES],
    ids=[case[0] for case in DECLARATION_CASES],
)
def test_check_declaration(action: str, overrides: dict[str, Any], today: date, expected: list[Row]) -> None:
    decl = make_decl(action, **overrides)
    findings = check_declaration(decl, today)
    assert outline(findings) == expected
    assert_common(findings, decl)


def test_declaration_rules_in_report_order() -> None:
    assert DECLARATION_RULES == (
        check_period_id,
        check_starting_date,
        check_ending_date,
        check_planned_work,
        check_employer_id,
        check_noss_number,
        check_company_id,
        check_insz,
        check_worker_type,
        check_update_has_changes,
    )
    assert IDENTITY_RULES == (check_person_matches, check_employer_matches)
    assert PERIOD_RULES == (check_out_against_period, check_update_against_period, check_overlap)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, (("NOSSRegistrationNbr", NOSS), ("INSS", INSZ))),
        ({"insz": None}, (("NOSSRegistrationNbr", NOSS),)),
        ({"insz": "0"}, (("NOSSRegistrationNbr", NOSS),)),
        ({"noss_number": None, "company_id": KBO}, (("INSS", INSZ),)),
        ({"noss_number": "0", "company_id": KBO}, (("INSS", INSZ),)),
        ({"noss_number": None, "insz": None}, ()),
    ],
    ids=["both", "no-insz", "insz-zero", "company-id-only", "noss-zero", "neither"],
)
def test_finding_path(overrides: dict[str, Any], expected: tuple[tuple[str, str], ...]) -> None:
    assert finding_path(make_decl("IN", **overrides)) == expected


def test_messages_say_what_to_do() -> None:
    [flexi] = check_declaration(make_decl("IN", **FLX), d("2025-05-30"))
    assert flexi.message == (
        "a flexi-job (FLX) starting 2025-08-15 may be declared at most 31 days before its quarter starts"
        " on 2025-07-01: declare it from 2025-05-31"
    )
    [student] = check_declaration(make_decl("IN", **{**STU, "ending_date": d("2025-07-01")}), TODAY)
    assert student.message == (
        "a STU period starting 2025-05-20 must end in the same quarter (20252, by 2025-06-30), not 2025-07-01:"
        " declare one period per quarter"
    )
    [noss] = check_declaration(make_decl("IN", noss_number="175110802"), TODAY)
    assert "warning only" in noss.message


# --- against the personnel file ---------------------------------------------------------------------

CLOSED = {"ending_date": d("2025-04-30")}
STU_PERIOD = {"worker_type": "STU", "starting_date": d("2025-04-01"), "ending_date": d("2025-04-30")}
O17_PERIOD = {"worker_type": "O17", "starting_date": d("2025-05-05"), "ending_date": d("2025-05-05")}
OTHER_PID = new_period_id(2)

PERSONNEL_FILE_CASES: list[tuple[str, str, dict[str, Any], dict[str, Any] | None, list[Row]]] = [
    # id, action, declaration overrides, period overrides (None: unknown period), expected
    ("out-valid", "OUT", {}, {}, []),
    ("update-valid", "UPDATE", {}, CLOSED, []),
    ("cancel-valid", "CANCEL", {}, {}, []),
    ("cancel-closed-period", "CANCEL", {}, CLOSED, []),
    ("out-unknown", "OUT", {}, None, [("00913-354", "B", "DimonaPeriodId", PID)]),
    ("update-unknown", "UPDATE", {}, None, [("00913-354", "B", "DimonaPeriodId", PID)]),
    ("cancel-unknown", "CANCEL", {}, None, [("00913-354", "B", "DimonaPeriodId", PID)]),
    ("out-cancelled", "OUT", {}, {"is_cancelled": True}, [("00913-355", "B", "DimonaPeriodId", PID)]),
    ("update-cancelled", "UPDATE", {}, {"is_cancelled": True}, [("00913-355", "B", "DimonaPeriodId", PID)]),
    ("cancel-cancelled", "CANCEL", {}, {"is_cancelled": True}, [("00913-355", "B", "DimonaPeriodId", PID)]),
    # OUT
    ("out-closed-other-day", "OUT", {}, CLOSED, [("00913-356", "B", "DimonaPeriodId", PID)]),
    ("out-closed-same-day", "OUT", {"ending_date": d("2025-04-30")}, CLOSED, []),
    ("out-on-start-day", "OUT", {"ending_date": d("2025-03-01")}, {}, []),
    ("out-before-start", "OUT", {"ending_date": d("2025-02-28")}, {}, [("00911-014", "B", "EndingDate", "2025-02-28")]),
    ("out-stu-same-quarter", "OUT", {"ending_date": d("2025-06-30")}, {**STU_PERIOD, "ending_date": None}, []),
    (
        "out-stu-next-quarter",
        "OUT",
        {"ending_date": d("2025-07-01")},
        {**STU_PERIOD, "ending_date": None},
        [("00911-008", "B", "EndingDate", "2025-07-01")],
    ),
    # INSS and employer of the period (347); they stop the other checks
    ("insz-same", "OUT", {"insz": INSZ}, {}, []),
    ("insz-zero", "OUT", {"insz": "0"}, {}, []),
    ("insz-other", "OUT", {"insz": OTHER_INSZ}, {}, [("00024-347", "B", "INSS", "010410-***-**")]),
    ("insz-other-in-cancel", "CANCEL", {"insz": OTHER_INSZ}, {}, [("00024-347", "B", "INSS", "010410-***-**")]),
    ("noss-other", "OUT", {"noss_number": OTHER_NOSS}, {}, [("00011-347", "B", "NOSSRegistrationNbr", OTHER_NOSS)]),
    ("noss-padded-same", "OUT", {"noss_number": "070500472"}, {"noss_number": OTHER_NOSS}, []),
    ("noss-not-on-file", "OUT", {}, {"noss_number": None, "company_id": KBO}, []),
    (
        "company-id-other",
        "UPDATE",
        {"noss_number": None, "company_id": OTHER_KBO},
        {**CLOSED, "company_id": KBO},
        [("00014-347", "B", "CompanyID", OTHER_KBO)],
    ),
    ("company-id-nine-digits-same", "OUT", {"company_id": KBO[1:]}, {"company_id": KBO}, []),
    (
        "other-employer-hides-period",
        "OUT",
        {"noss_number": OTHER_NOSS},
        CLOSED,
        [("00011-347", "B", "NOSSRegistrationNbr", OTHER_NOSS)],
    ),
    # UPDATE
    ("update-stx", "UPDATE", {}, {**CLOSED, "worker_type": "STX"}, [("00913-181", "B", "DimonaPeriodId", PID)]),
    (
        "update-stu-start",
        "UPDATE",
        {"starting_date": d("2025-04-02"), "ending_date": None},
        STU_PERIOD,
        [("00910-005", "B", "StartingDate", "2025-04-02")],
    ),
    ("update-stu-end", "UPDATE", {"ending_date": d("2025-06-30")}, STU_PERIOD, []),
    (
        "update-stu-end-next-quarter",
        "UPDATE",
        {"ending_date": d("2025-07-01")},
        STU_PERIOD,
        [("90378-421", "B", "DimonaUpdate", "2025-07-01")],
    ),
    ("update-o17-end-quarter-end", "UPDATE", {"ending_date": d("2025-06-30")}, O17_PERIOD, []),
    (
        "update-o17-end-next-quarter",
        "UPDATE",
        {"ending_date": d("2025-07-01")},
        O17_PERIOD,
        [("90378-421", "B", "DimonaUpdate", "2025-07-01")],
    ),
    ("update-reopen", "UPDATE", {"ending_date": d("9999-12-31")}, CLOSED, []),
    (
        "update-reopen-stu",
        "UPDATE",
        {"ending_date": d("9999-12-31")},
        STU_PERIOD,
        [("00913-368", "B", "DimonaPeriodId", PID)],
    ),
    (
        "update-reopen-temp-agency",
        "UPDATE",
        {"ending_date": d("9999-12-31")},
        {**CLOSED, "joint_committee": "322"},
        [("00913-368", "B", "DimonaPeriodId", PID)],
    ),
    ("update-closes-open-period", "UPDATE", {}, {}, [("00913-359", "B", "DimonaPeriodId", PID)]),
    ("update-start-of-open-period", "UPDATE", {"starting_date": d("2025-03-03"), "ending_date": None}, {}, []),
    (
        "update-start-after-end",
        "UPDATE",
        {"starting_date": d("2025-05-01"), "ending_date": None},
        CLOSED,
        [("00911-014", "B", "StartingDate", "2025-05-01")],
    ),
    ("update-start-on-end", "UPDATE", {"starting_date": d("2025-04-30"), "ending_date": None}, CLOSED, []),
    (
        "update-end-before-start",
        "UPDATE",
        {"ending_date": d("2025-02-28")},
        CLOSED,
        [("00911-014", "B", "EndingDate", "2025-02-28")],
    ),
    (
        "update-hours-oth",
        "UPDATE",
        {"ending_date": None, "planned_hours": 10},
        CLOSED,
        [("01135-005", "B", "PlannedHoursNbr", "10")],
    ),
    ("update-hours-stu", "UPDATE", {"ending_date": None, "planned_hours": 10}, STU_PERIOD, []),
    (
        "update-days-oth",
        "UPDATE",
        {"ending_date": None, "planned_days": 3},
        CLOSED,
        [("01017-005", "B", "PlannedDaysNbr", "3")],
    ),
    ("update-same-end", "UPDATE", {"ending_date": d("2025-04-30")}, CLOSED, [("90378-444", "B", "DimonaUpdate", PID)]),
    (
        "update-same-start",
        "UPDATE",
        {"starting_date": d("2025-03-01"), "ending_date": None},
        {},
        [("90378-444", "B", "DimonaUpdate", PID)],
    ),
    ("update-reopen-open", "UPDATE", {"ending_date": d("9999-12-31")}, {}, [("90378-444", "B", "DimonaUpdate", PID)]),
    (
        "update-same-dates-new-hours",
        "UPDATE",
        {"ending_date": d("2025-06-30"), "planned_hours": 12},
        {**STU_PERIOD, "ending_date": d("2025-06-30")},
        [],
    ),
]


@pytest.mark.parametrize(
    ("action", "decl_overrides", "period_overrides", "expected"),
    [case[1:] for case in PERSONNEL_FILE_CASES],
    ids=[case[0] for case in PERSONNEL_FILE_CASES],
)
def test_check_against_personnel_file(
    action: str, decl_overrides: dict[str, Any], period_overrides: dict[str, Any] | None, expected: list[Row]
) -> None:
    decl = make_decl(action, **decl_overrides)
    period = None if period_overrides is None else make_period(**period_overrides)
    findings = check_against_personnel_file(decl, period, [])
    assert outline(findings) == expected
    assert_common(findings, decl)


def other(start: str, end: str | None, **overrides: Any) -> EmploymentPeriod:
    return make_period(
        period_id=overrides.pop("period_id", OTHER_PID),
        starting_date=d(start),
        ending_date=None if end is None else d(end),
        **overrides,
    )


# The IN hires from 2025-05-20, open-ended unless the case gives an end.
OVERLAP_CASES: list[tuple[str, dict[str, Any], list[EmploymentPeriod], list[Row]]] = [
    ("no-other-period", {}, [], []),
    ("touching-before", {}, [other("2025-01-01", "2025-05-19")], []),
    (
        "overlap-by-one-day-before",
        {},
        [other("2025-01-01", "2025-05-20")],
        [("90373-334", "B", "DimonaIn", "2025-05-20")],
    ),
    ("touching-after", {"ending_date": d("2025-05-31")}, [other("2025-06-01", None)], []),
    (
        "overlap-by-one-day-after",
        {"ending_date": d("2025-05-31")},
        [other("2025-05-31", None)],
        [("90373-334", "B", "DimonaIn", "2025-05-20")],
    ),
    (
        "open-ended-runs-into-later",
        {},
        [other("2026-01-01", "2026-01-31")],
        [("90373-334", "B", "DimonaIn", "2025-05-20")],
    ),
    ("older-open-period", {}, [other("2024-01-01", None)], [("90373-334", "B", "DimonaIn", "2025-05-20")]),
    (
        "duplicate",
        {"ending_date": d("2025-05-31")},
        [other("2025-05-20", "2025-05-31")],
        [("90373-333", "B", "DimonaIn", "2025-05-20")],
    ),
    ("duplicate-open", {}, [other("2025-05-20", None)], [("90373-333", "B", "DimonaIn", "2025-05-20")]),
    ("other-worker-type", {}, [other("2025-01-01", None, worker_type="FLX")], []),
    ("cancelled-other", {}, [other("2025-01-01", None, is_cancelled=True)], []),
    (
        "two-conflicts",
        {},
        [
            other("2025-01-01", "2025-05-20"),
            other("2025-01-01", "2025-05-19", period_id=new_period_id(3)),
            other("2025-06-01", None, period_id=new_period_id(4)),
        ],
        [("90373-334", "B", "DimonaIn", "2025-05-20"), ("90373-334", "B", "DimonaIn", "2025-05-20")],
    ),
    ("unknown-type-not-judged", {"worker_type": "XYZ"}, [other("2025-01-01", None, worker_type="XYZ")], []),
]


@pytest.mark.parametrize(
    ("overrides", "others", "expected"),
    [case[1:] for case in OVERLAP_CASES],
    ids=[case[0] for case in OVERLAP_CASES],
)
def test_in_overlap(overrides: dict[str, Any], others: list[EmploymentPeriod], expected: list[Row]) -> None:
    decl = make_decl("IN", **overrides)
    findings = check_against_personnel_file(decl, None, others)
    assert outline(findings) == expected
    assert_common(findings, decl)


# The UPDATE moves the end of PID (2025-03-01 – 2025-04-30); the other period runs 2025-05-10 – 2025-05-31.
@pytest.mark.parametrize(
    ("ending_date", "expected"),
    [
        ("2025-05-09", []),
        ("2025-05-10", [("90378-334", "B", "DimonaUpdate", "2025-03-01")]),
        ("9999-12-31", [("90378-334", "B", "DimonaUpdate", "2025-03-01")]),
    ],
    ids=["touching", "overlap-by-one-day", "reopened"],
)
def test_update_overlap(ending_date: str, expected: list[Row]) -> None:
    decl = make_decl("UPDATE", ending_date=d(ending_date))
    period = make_period(**CLOSED)
    others = [period, other("2025-05-10", "2025-05-31")]  # the period itself is never its own overlap
    findings = check_against_personnel_file(decl, period, others)
    assert outline(findings) == expected
    assert_common(findings, decl)


def test_update_duplicate_of_another_period() -> None:
    decl = make_decl("UPDATE", starting_date=d("2025-05-10"), ending_date=d("2025-05-31"))
    findings = check_against_personnel_file(decl, make_period(**CLOSED), [other("2025-05-10", "2025-05-31")])
    assert outline(findings) == [("90378-333", "B", "DimonaUpdate", "2025-05-10")]


def test_daily_registration_not_checked_against_the_file() -> None:
    assert check_against_personnel_file(make_decl("DAILY"), None, []) == []


def test_wrong_period_messages_disclose_nothing_of_it() -> None:
    period = make_period(**CLOSED)
    [employer] = check_against_personnel_file(make_decl("OUT", noss_number=OTHER_NOSS), period, [])
    assert employer.message == (
        f"NOSSRegistrationNbr {OTHER_NOSS} is not the employer of period {PID}: only the employer who declared"
        " the period may change it; check the DimonaPeriodId"
    )
    [person] = check_against_personnel_file(make_decl("OUT", insz=OTHER_INSZ), period, [])
    assert "850730" not in person.message  # the period's worker, even masked
    assert person.path == (("NOSSRegistrationNbr", NOSS), ("INSS", OTHER_INSZ))


# --- apply ------------------------------------------------------------------------------------------


def test_apply_in_creates_the_period() -> None:
    decl = make_decl("IN", **STU, company_id=KBO)
    assert apply(decl, None, OTHER_PID) == EmploymentPeriod(
        period_id=OTHER_PID,
        noss_number=NOSS,
        company_id=KBO,
        insz=INSZ,
        worker_type="STU",
        joint_committee="200",
        starting_date=d("2025-05-20"),
        ending_date=d("2025-06-30"),
        is_cancelled=False,
    )
    opened = apply(make_decl("IN"), None, OTHER_PID)
    assert opened is not None and opened.ending_date is None


@pytest.mark.parametrize(
    ("overrides", "new_id"),
    [({}, None), ({"insz": None}, OTHER_PID), ({"worker_type": None}, OTHER_PID), ({"starting_date": None}, OTHER_PID)],
    ids=["no-new-id", "no-insz", "no-worker-type", "no-start"],
)
def test_apply_in_needs_a_complete_declaration(overrides: dict[str, Any], new_id: str | None) -> None:
    with pytest.raises(ValueError, match="an IN creates a period"):
        apply(make_decl("IN", **overrides), None, new_id)


@pytest.mark.parametrize(
    ("action", "overrides", "period_overrides", "expected_changes"),
    [
        ("OUT", {"ending_date": d("2025-06-30")}, {}, {"ending_date": d("2025-06-30")}),
        ("UPDATE", {"ending_date": d("2025-05-31")}, CLOSED, {"ending_date": d("2025-05-31")}),
        (
            "UPDATE",
            {"starting_date": d("2025-02-01"), "ending_date": None},
            CLOSED,
            {"starting_date": d("2025-02-01"), "ending_date": d("2025-04-30")},
        ),
        (
            "UPDATE",
            {"starting_date": d("2025-02-01"), "ending_date": d("2025-03-31")},
            CLOSED,
            {"starting_date": d("2025-02-01"), "ending_date": d("2025-03-31")},
        ),
        ("UPDATE", {"ending_date": d("9999-12-31")}, CLOSED, {"ending_date": None}),
        ("UPDATE", {"ending_date": None, "planned_hours": 12}, CLOSED, {"ending_date": d("2025-04-30")}),
        ("CANCEL", {}, CLOSED, {"ending_date": d("2025-04-30"), "is_cancelled": True}),
        ("DAILY", {}, {}, {}),
    ],
    ids=["out", "update-end", "update-start", "update-both", "update-reopen", "update-hours-only", "cancel", "daily"],
)
def test_apply_changes_the_period(
    action: str, overrides: dict[str, Any], period_overrides: dict[str, Any], expected_changes: dict[str, Any]
) -> None:
    before = make_period(**period_overrides)
    after = apply(make_decl(action, **overrides), before, None)
    assert after == make_period(**{**period_overrides, **expected_changes})
    assert after is not None and after.period_id == before.period_id and after.insz == before.insz


@pytest.mark.parametrize("action", ["OUT", "UPDATE", "CANCEL"])
def test_apply_without_a_period(action: str) -> None:
    assert apply(make_decl(action), None, None) is None


# --- period ids ---------------------------------------------------------------------------------------


def test_new_period_id_layout() -> None:
    assert new_period_id(1) == PID
    assert new_period_id(97) == "000000009700"
    assert new_period_id(9_999_999_999) == "999999999948"  # 9999999999 = 97 × 103092783 + 48
    # The official sample is the id of sequence 6000278760: its check is 6000278760 mod 97 = 89.
    assert new_period_id(6_000_278_760) == OFFICIAL_PID


@pytest.mark.parametrize("sequence", [0, -1, 10_000_000_000])
def test_new_period_id_range(sequence: int) -> None:
    with pytest.raises(ValueError, match="1..9999999999"):
        new_period_id(sequence)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (OFFICIAL_PID, True),
        ("600027876088", False),
        ("600027876008", False),  # 97 − (first ten mod 97): the other mod-97 convention does not hold
        (PID, True),
        ("101", True),  # xs:integer: leading zeros dropped
        ("0000000000101", False),
        ("000000000000", False),
        ("0", False),
        ("", False),
        ("60002787608x", False),
        ("６００２７８７６０８９", False),
    ],
    ids=[
        "official",
        "check-off-by-one",
        "check-97-minus",
        "ours",
        "unpadded",
        "13-digits",
        "zero",
        "zero-short",
        "empty",
        "letter",
        "fullwidth",
    ],
)
def test_is_valid_period_id(text: str, expected: bool) -> None:
    assert is_valid_period_id(text) is expected


def test_canonical_period_id() -> None:
    assert canonical_period_id("101") == PID
    assert canonical_period_id(OFFICIAL_PID) == OFFICIAL_PID
    assert canonical_period_id("x1") == "x1"


SEQUENCES = st.integers(min_value=1, max_value=9_999_999_999)


@given(SEQUENCES)
def test_new_period_id_is_always_valid(sequence: int) -> None:
    period_id = new_period_id(sequence)
    assert len(period_id) == 12 and period_id.isdigit()
    assert is_valid_period_id(period_id)
    assert int(period_id[:10]) == sequence


@given(SEQUENCES, SEQUENCES)
def test_new_period_ids_are_unique(first: int, second: int) -> None:
    assume(first != second)
    assert new_period_id(first) != new_period_id(second)


@given(SEQUENCES, st.integers(min_value=0, max_value=99))
def test_any_other_check_is_invalid(sequence: int, check: int) -> None:
    assume(check != sequence % 97)
    assert not is_valid_period_id(f"{sequence:010d}{check:02d}")
