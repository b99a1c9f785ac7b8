"""DmfA contributions of a worker line, exact to the cent (CALCULATIONS.md §1, §2)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cbss_batch.calculate import (
    ComputedContribution,
    ComputedDeduction,
    Employer,
    LineResult,
    Parameters,
    ParameterValue,
    cents_to_euros,
    contributions_for_line,
    euros_to_cents,
    load_parameters,
    net_owed,
    round_cent,
    structural_reductions,
    unrelated_contribution,
)
from cbss_batch.calculate.contributions import percent_line
from cbss_batch.errors import ConfigError
from cbss_batch.records import Contribution, Deduction, Occupation, Quarter, Remuneration, Service, WorkerRecord

PARAMS = load_parameters()
Q1_2025 = Quarter(2025, 1)
SMALL = Employer(workers=5)  # commercial, profit sector, fewer than 10 workers: the Odoo test employer


def remun(code: str, cents: int, sequence: int = 1) -> Remuneration:
    return Remuneration(sequence, code, cents, None, None, 1)


def occupation(
    *remunerations: Remuneration,
    joint_committee: str = "200",
    sequence: int = 1,
    ref_hours: int | None = 3800,
    mean_hours: int | None = 3800,
    days_system: int = 500,
    services: tuple[Service, ...] = (Service(1, "001", 6500, None, 1),),  # 65 days, full time
    deductions: tuple[Deduction, ...] = (),
) -> Occupation:
    return Occupation(
        sequence=sequence,
        starting_date=date(2020, 1, 1),
        ending_date=None,
        joint_committee=joint_committee,
        working_days_system=days_system,
        contract_type=0,
        ref_mean_working_hours=ref_hours,
        mean_working_hours=mean_hours,
        local_unit_id=None,
        line=1,
        services=services,
        remunerations=remunerations,
        deductions=deductions,
    )


def worker_line(
    *occupations: Occupation,
    worker_code: str = "495",
    quarter: Quarter = Q1_2025,
    contributions: tuple[Contribution, ...] = (),
    deductions: tuple[Deduction, ...] = (),
) -> WorkerRecord:
    return WorkerRecord(
        employer_class="010",
        worker_code=worker_code,
        quarter_start=quarter.start,
        quarter_end=quarter.end,
        border=0,
        activity_with_risk=None,
        local_unit_id=None,
        line=1,
        occupations=occupations,
        contributions=contributions,
        deductions=deductions,
    )


def wage_line(
    cents: int, *, worker_code: str = "495", joint_committee: str = "200", quarter: Quarter = Q1_2025
) -> WorkerRecord:
    return worker_line(
        occupation(remun("001", cents), joint_committee=joint_committee), worker_code=worker_code, quarter=quarter
    )


def by_code(result: LineResult) -> dict[str, ComputedContribution]:
    found = {line.code: line for line in result.lines}
    assert len(found) == len(result.lines), "one line per contribution code"
    return found


def amounts(result: LineResult) -> dict[str, Decimal]:
    return {code: line.amount for code, line in by_code(result).items()}


# --- §1.7 the Odoo test vector -------------------------------------------------------------------------

ODOO_LINE = worker_line(
    occupation(remun("001", 902700, 1), remun("002", 200000, 2), remun("010", 47880, 3)),
    contributions=(Contribution("856", "0", None, 5772, 1, "worker"),),
    deductions=(Deduction("0001", None, 12824, 1),),
)
ODOO_862 = Contribution("862", "010", None, 9966, 1, "unrelated")


@pytest.mark.parametrize("structural_reduction", [False, True], ids=["flag-off", "flag-on"])
def test_odoo_vector_matches_to_the_cent_line_by_line(structural_reduction: bool) -> None:
    result = contributions_for_line(ODOO_LINE, Q1_2025, SMALL, PARAMS, structural_reduction=structural_reduction)
    assert result.basis == Decimal("11027.00")
    assert amounts(result) == {
        "256": Decimal("1.10"),
        "255": Decimal("2.21"),
        "495": Decimal("4197.98"),
        "809": Decimal("19.85"),
        "810": Decimal("18.75"),
        "831": Decimal("25.36"),
        "856": Decimal("57.72"),
        "859": Decimal("11.03"),
    }
    lines = by_code(result)
    assert lines["495"].rate == Decimal("0.3807") and lines["495"].contribution_type == "0"
    assert lines["856"].as_declared and lines["856"].rate is None
    assert all(line.basis == Decimal("11027.00") for code, line in lines.items() if code != "856")
    assert [(d.code, d.amount) for d in result.deductions] == [("0001", Decimal("128.24"))]  # 3000 stays 0.00
    unrelated = unrelated_contribution(ODOO_862, Q1_2025, PARAMS)
    assert unrelated.amount == Decimal("99.66") and unrelated.as_declared
    owed = net_owed(result.lines, result.student, [unrelated], result.deductions)
    assert owed == Decimal("4305.42")
    assert euros_to_cents(owed) == 430542


def test_odoo_vector_records_every_parameter_version_used() -> None:
    result = contributions_for_line(ODOO_LINE, Q1_2025, SMALL, PARAMS)
    assert {
        "worker_rate@2003-01-01",
        "employer_rate.cat1_private_profit@2024-04-01",
        "basis_remuneration_codes@2003-01-01",
        "special.809.commercial_lt20@2025-01-01",
        "special.810.rate@2025-01-01",
        "special.256.quarters@2016-01-01",
    } <= set(result.parameter_versions)
    assert list(result.parameter_versions) == sorted(set(result.parameter_versions))
    assert by_code(result)["810"].parameter_versions[-1] == "special.810.rate@2025-01-01"


# --- rounding -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("basis", "rate", "expected"),
    [
        ("25.00", "0.0010", "0.03"),  # 0.025: half-up, not half-even (0.02)
        ("50.00", "0.0001", "0.01"),  # 0.005
        ("49.99", "0.0001", "0.00"),  # 0.004999
        ("15.00", "0.0010", "0.02"),  # 0.015
        ("11027.00", "0.3807", "4197.98"),
        ("0.00", "0.3807", "0.00"),
        ("-10.00", "0.0010", "0.00"),  # never negative
    ],
    ids=["half-cent-rounds-up", "half-cent-of-0.01-percent", "just-below-half", "odd-half", "odoo", "zero", "negative"],
)
def test_each_line_is_rounded_half_up_once(basis: str, rate: str, expected: str) -> None:
    assert percent_line(Decimal(basis), Decimal(rate)) == Decimal(expected)


@pytest.mark.parametrize(
    ("worker_code", "gross_cents", "basis", "ordinary", "contribution_type"),
    [
        ("495", 100007, "1000.07", "380.73", "0"),
        ("015", 100007, "1080.08", "411.19", "1"),  # 1080.0756 rounded first; unrounded basis would give 411.18
        ("015", 100017, "1080.18", "411.22", "1"),  # 1080.1836 → 1080.18; unrounded would give 411.23
        ("015", 1000000, "10800.00", "4111.56", "1"),
        ("027", 100000, "1080.00", "411.16", "1"),
        ("046", 100000, "1080.00", "411.16", "1"),
        ("024", 1, "0.01", "0.00", "1"),  # 0.0108 → 0.01
    ],
    ids=[
        "white-collar-100",
        "108-rounds-up-first",
        "108-rounds-down-first",
        "108-round",
        "under-18",
        "artist",
        "one-cent",
    ],
)
def test_manual_workers_pay_on_108_percent_rounded_to_the_cent_first(
    worker_code: str, gross_cents: int, basis: str, ordinary: str, contribution_type: str
) -> None:
    result = contributions_for_line(wage_line(gross_cents, worker_code=worker_code), Q1_2025, SMALL, PARAMS)
    assert result.basis == Decimal(basis)
    own = by_code(result)[worker_code]
    assert (own.basis, own.amount, own.contribution_type) == (Decimal(basis), Decimal(ordinary), contribution_type)
    assert by_code(result)["859"].basis == Decimal(basis)  # specials on the same basis (§1.4)


def test_company_car_and_other_codes_stay_out_of_the_basis() -> None:
    line = worker_line(occupation(remun("001", 100000), remun("010", 50000), remun("007", 1000), remun("022", 700)))
    assert contributions_for_line(line, Q1_2025, SMALL, PARAMS).basis == Decimal("1010.00")


def test_basis_sums_every_occupation_of_the_line_and_accepts_short_codes() -> None:
    line = worker_line(occupation(remun("1", 100000)), occupation(remun("002", 5000), sequence=2))
    assert contributions_for_line(line, Q1_2025, SMALL, PARAMS).basis == Decimal("1050.00")


# --- conditions of §1.4 ---------------------------------------------------------------------------------

BASIS_10000 = wage_line(1000000)  # € 10 000.00, JC 200


@pytest.mark.parametrize(
    ("employer", "present", "absent"),
    [
        (Employer(workers=9), {"809": Decimal("18.00")}, {"855"}),
        (Employer(workers=10), {"855": Decimal("169.00"), "809": Decimal("18.00")}, set()),
        (Employer(workers=19), {"809": Decimal("18.00"), "855": Decimal("169.00")}, set()),
        (Employer(workers=20), {"809": Decimal("23.00"), "855": Decimal("169.00")}, set()),
        (Employer(workers=3, is_commercial=False), {"809": Decimal("1.00")}, {"855"}),
        (Employer(workers=30, is_commercial=False), {"809": Decimal("1.00")}, set()),
        (Employer(workers=3, is_subject_to_unemployment=False), {"859": Decimal("10.00")}, {"810", "855"}),
        (Employer(workers=3, is_profit=False), {"495": Decimal("4507.00")}, set()),  # 13.07 + 32.00 %
    ],
    ids=[
        "9-workers",
        "10-workers",
        "19-workers",
        "20-workers",
        "non-commercial",
        "non-commercial-large",
        "no-unemployment-insurance",
        "non-profit",
    ],
)
def test_special_contributions_follow_employer_size_and_kind(
    employer: Employer, present: dict[str, Decimal], absent: set[str]
) -> None:
    result = amounts(contributions_for_line(BASIS_10000, Q1_2025, employer, PARAMS))
    assert {code: result[code] for code in present} == present
    assert not absent & set(result)


@pytest.mark.parametrize(("workers", "contribution_type"), [(19, "0"), (20, "5")])
def test_809_contribution_type_follows_the_size(workers: int, contribution_type: str) -> None:
    result = contributions_for_line(BASIS_10000, Q1_2025, Employer(workers=workers), PARAMS)
    assert by_code(result)["809"].contribution_type == contribution_type


@pytest.mark.parametrize(
    ("joint_committee", "expected"),
    [("200", Decimal("23.00")), ("200.00", Decimal("23.00")), ("100", None), ("201", None), ("120.01", None)],
)
def test_831_only_in_joint_committee_200(joint_committee: str, expected: Decimal | None) -> None:
    result = amounts(
        contributions_for_line(wage_line(1000000, joint_committee=joint_committee), Q1_2025, SMALL, PARAMS)
    )
    assert result.get("831") == expected


def test_831_is_due_on_the_wages_of_the_joint_committee_200_occupation_only() -> None:
    line = worker_line(
        occupation(remun("001", 1000000), joint_committee="200"),
        occupation(remun("001", 500000), joint_committee="218", sequence=2),
    )
    lines = by_code(contributions_for_line(line, Q1_2025, SMALL, PARAMS))
    assert lines["831"].basis == Decimal("10000.00") and lines["831"].amount == Decimal("23.00")
    assert lines["495"].basis == Decimal("15000.00")


@pytest.mark.parametrize(
    ("quarter", "expected"),
    [(Quarter(2025, 1), Decimal("1.00")), (Quarter(2025, 3), Decimal("1.00")), (Quarter(2025, 4), None)],
    ids=["Q1", "Q3", "Q4"],
)
def test_256_asbestos_only_in_quarters_1_to_3(quarter: Quarter, expected: Decimal | None) -> None:
    result = contributions_for_line(wage_line(1000000, quarter=quarter), quarter, SMALL, PARAMS)
    assert amounts(result).get("256") == expected


def with_ffe_before_2025(params: Parameters) -> Parameters:
    """The committed parameters plus a test-only 809 rate from 2016 (the real table starts in 2025)."""
    extra = ParameterValue(
        name="special.809.commercial_lt20",
        value=Decimal("0.0018"),
        valid_from=date(2016, 1, 1),
        source="test",
        kind="rate",
    )
    histories = dict(params.histories)
    histories["special.809.commercial_lt20"] = (extra,)
    return replace(params, histories=histories)


@pytest.mark.parametrize(
    ("quarter", "rate", "amount", "version"),
    [
        (Quarter(2024, 4), Decimal("0.0010"), Decimal("10.00"), "special.810.rate@2016-01-01"),
        (Quarter(2025, 1), Decimal("0.0017"), Decimal("17.00"), "special.810.rate@2025-01-01"),
    ],
    ids=["2024Q4", "2025Q1"],
)
def test_810_rate_is_the_one_in_force_on_the_first_day_of_the_quarter(
    quarter: Quarter, rate: Decimal, amount: Decimal, version: str
) -> None:
    result = contributions_for_line(wage_line(1000000, quarter=quarter), quarter, SMALL, with_ffe_before_2025(PARAMS))
    line = by_code(result)["810"]
    assert (line.rate, line.amount) == (rate, amount)
    assert version in line.parameter_versions


def test_quarter_without_a_parameter_value_stops_with_the_parameter_named() -> None:
    # The committed closure-fund (809) rates start in 2025: earlier quarters are out of scope (§1.3, §1.4).
    with pytest.raises(ConfigError, match=r"special\.809\.commercial_lt20 has no value on 2024-10-01"):
        contributions_for_line(wage_line(1000000, quarter=Quarter(2024, 4)), Quarter(2024, 4), SMALL, PARAMS)


# --- declared, student and unrelated lines ------------------------------------------------------------


def test_codes_we_compute_replace_the_declared_ones_and_others_are_taken_as_declared() -> None:
    line = worker_line(
        occupation(remun("001", 1000000)),
        contributions=(
            Contribution("495", "0", 1000000, 1, 1, "worker"),  # wrong: recomputed
            Contribution("809", "0", 1000000, 99999, 1, "worker"),  # wrong: recomputed
            Contribution("855", "0", 1000000, 16900, 1, "worker"),  # not due for 5 workers: dropped
            Contribution("869", "0", 20000, 5000, 1, "worker"),  # out of scope: as declared
        ),
    )
    lines = by_code(contributions_for_line(line, Q1_2025, SMALL, PARAMS))
    assert lines["495"].amount == Decimal("3807.00") and not lines["495"].as_declared
    assert lines["809"].amount == Decimal("18.00")
    assert "855" not in lines
    assert (lines["869"].amount, lines["869"].basis, lines["869"].as_declared) == (
        Decimal("50.00"),
        Decimal("200.00"),
        True,
    )


@pytest.mark.parametrize(
    ("student_basis", "expected"),
    [(100000, Decimal("81.30")), (50, Decimal("0.04")), (None, Decimal("40.65"))],
    ids=["declared-basis", "half-cent", "basis-from-remuneration"],
)
def test_student_line_pays_only_the_solidarity_contribution(student_basis: int | None, expected: Decimal) -> None:
    line = worker_line(
        occupation(remun("001", 50000)),
        worker_code="840",
        contributions=(Contribution("", None, student_basis, 0, 1, "student"),),
    )
    result = contributions_for_line(line, Q1_2025, SMALL, PARAMS)
    assert result.lines == ()
    assert [(c.code, c.rate, c.amount) for c in result.student] == [("840", Decimal("0.0813"), expected)]
    assert net_owed(result.lines, result.student, (), result.deductions) == expected


@pytest.mark.parametrize(
    ("code", "basis", "amount", "expected", "as_declared"),
    [
        ("870", 100000, 1, Decimal("130.70"), False),
        ("864", 100000, 1, Decimal("88.60"), False),
        ("865", 5, 1, Decimal("0.00"), False),  # 0.00443
        ("862", None, 9966, Decimal("99.66"), True),
        ("870", None, 12345, Decimal("123.45"), True),
    ],
)
def test_unrelated_contributions(
    code: str, basis: int | None, amount: int, expected: Decimal, as_declared: bool
) -> None:
    result = unrelated_contribution(Contribution(code, "010", basis, amount, 1, "unrelated"), Q1_2025, PARAMS)
    assert (result.amount, result.as_declared) == (expected, as_declared)


def test_net_owed_is_floored_at_zero() -> None:
    contribution = ComputedContribution(
        code="495", contribution_type="0", basis=None, rate=None, amount=Decimal("10.00")
    )
    deduction = ComputedDeduction(code="0001", amount=Decimal("10.01"))
    assert net_owed([contribution], [], [], [deduction]) == Decimal("0.00")
    assert net_owed([contribution], [contribution], [contribution], [deduction]) == Decimal("19.99")


def test_occupation_and_worker_deductions_are_taken_as_declared() -> None:
    line = worker_line(
        occupation(remun("001", 1000000), deductions=(Deduction("3000", None, 4000, 1), Deduction("1511", 10, 500, 1))),
        deductions=(Deduction("0001", None, 12824, 1),),
    )
    result = contributions_for_line(line, Q1_2025, SMALL, PARAMS)
    assert [(d.code, d.amount, d.occupation) for d in result.deductions] == [
        ("0001", Decimal("128.24"), None),
        ("3000", Decimal("40.00"), 1),
        ("1511", Decimal("5.00"), 1),
    ]
    assert result.deductions_total == Decimal("173.24")


# --- §2 structural reduction ---------------------------------------------------------------------------


def full_time(cents: int, *more: Remuneration) -> WorkerRecord:
    return worker_line(occupation(remun("001", cents), *more))


@pytest.mark.parametrize(
    ("quarter", "expected"),
    [
        (Quarter(2024, 4), Decimal("491.91")),
        (Quarter(2025, 2), Decimal("711.74")),
        (Quarter(2025, 3), Decimal("801.74")),
    ],
    ids=["2020-parameters", "2025-04-parameters", "2025-07-parameters"],
)
def test_structural_reduction_reproduces_the_worked_example(quarter: Quarter, expected: Decimal) -> None:
    deductions = structural_reductions(full_time(750000), quarter, SMALL, PARAMS)
    assert [(d.code, d.amount, d.occupation) for d in deductions] == [("3000", expected, 1)]


def test_structural_reduction_for_half_time_uses_beta_1_18() -> None:
    half = worker_line(
        occupation(remun("001", 375000), mean_hours=1900, services=(Service(1, "001", 6500, 24700, 1),))
    )  # 247 h = 13 × 19: µ = 0.50, S = 3 750.00 × 2.00 = 7 500.00, R = 711.74
    deductions = structural_reductions(half, Quarter(2025, 2), SMALL, PARAMS)
    assert [d.amount for d in deductions] == [Decimal("419.93")]  # 711.74 × 0.50 × 1.18


def test_structural_reduction_never_exceeds_the_employer_contributions() -> None:
    deductions = structural_reductions(full_time(10000), Quarter(2025, 2), SMALL, PARAMS)
    assert [d.amount for d in deductions] == [Decimal("25.00")]  # 100.00 × 25 %


@pytest.mark.parametrize(
    ("line", "employer"),
    [
        (full_time(750000, remun("022", 1000, 2)), SMALL),  # flexi-job wage
        (full_time(750000, remun("003", 1000, 2)), SMALL),  # termination pay
        (full_time(750000), Employer(workers=5, is_profit=False)),  # category 2: out of scope
        (full_time(1200000), SMALL),  # above S0
        (worker_line(occupation(remun("001", 750000), ref_hours=None)), SMALL),
        (worker_line(occupation(remun("001", 750000), services=())), SMALL),
    ],
    ids=["flexi", "termination", "non-profit", "high-wage", "no-reference-hours", "no-hours"],
)
def test_no_structural_reduction(line: WorkerRecord, employer: Employer) -> None:
    assert structural_reductions(line, Quarter(2025, 2), employer, PARAMS) == ()


def test_structural_reduction_is_off_by_default_and_replaces_the_declared_3000_when_on() -> None:
    line = worker_line(occupation(remun("001", 750000), deductions=(Deduction("3000", None, 100, 1),)))
    off = contributions_for_line(line, Quarter(2025, 2), SMALL, PARAMS)
    on = contributions_for_line(line, Quarter(2025, 2), SMALL, PARAMS, structural_reduction=True)
    assert [(d.amount, d.as_declared) for d in off.deductions] == [(Decimal("1.00"), True)]
    assert [(d.amount, d.as_declared) for d in on.deductions] == [(Decimal("711.74"), False)]
    assert "structural_reduction.s0@2025-04-01" in on.parameter_versions
    assert "structural_reduction.s0@2025-04-01" not in off.parameter_versions
    assert net_owed(on.lines, on.student, (), on.deductions) == on.contributions_total - Decimal("711.74")


# --- conversions -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cents", "euros"), [(902700, "9027.00"), (0, "0.00"), (1, "0.01"), (12824, "128.24")])
def test_cents_and_euros_convert_both_ways(cents: int, euros: str) -> None:
    assert cents_to_euros(cents) == Decimal(euros)
    assert str(cents_to_euros(cents)) == euros
    assert euros_to_cents(Decimal(euros)) == cents


def test_euros_to_cents_refuses_fractions_of_a_cent() -> None:
    with pytest.raises(ValueError, match="round it to 0.01 first"):
        euros_to_cents(Decimal("1.005"))
    assert euros_to_cents(round_cent(Decimal("1.005"))) == 101


def test_employer_needs_a_non_negative_number_of_workers() -> None:
    with pytest.raises(ValueError, match="workers must be 0 or more"):
        Employer(workers=-1)


# --- properties ----------------------------------------------------------------------------------------

wages = st.integers(min_value=0, max_value=10**9)  # up to € 10 000 000.00 a quarter
employers = st.builds(
    Employer,
    workers=st.integers(min_value=0, max_value=60),
    is_commercial=st.booleans(),
    is_profit=st.booleans(),
    is_subject_to_unemployment=st.booleans(),
)
quarters = st.sampled_from([Quarter(2025, n) for n in (1, 2, 3, 4)] + [Quarter(2026, 1)])
codes = st.sampled_from(["495", "015", "024", "439"])
committees = st.sampled_from(["200", "100", "124"])


@given(wage=wages, employer=employers, quarter=quarters, worker_code=codes, committee=committees)
def test_lines_are_never_negative_and_within_half_a_cent_of_the_exact_product(
    wage: int, employer: Employer, quarter: Quarter, worker_code: str, committee: str
) -> None:
    line = wage_line(wage, worker_code=worker_code, joint_committee=committee, quarter=quarter)
    result = contributions_for_line(line, quarter, employer, PARAMS, structural_reduction=True)
    for computed in result.lines:
        assert computed.amount >= 0
        assert computed.amount == computed.amount.quantize(Decimal("0.01"))
        assert computed.basis is not None and computed.rate is not None
        assert abs(computed.amount - computed.basis * computed.rate) <= Decimal("0.005")
    for deduction in result.deductions:
        assert Decimal(0) < deduction.amount <= round_cent(cents_to_euros(wage) * Decimal("0.25"))
    assert net_owed(result.lines, result.student, (), result.deductions) >= 0


@given(low=wages, high=wages, employer=employers, quarter=quarters, worker_code=codes, committee=committees)
def test_contributions_are_monotone_in_the_wage(
    low: int, high: int, employer: Employer, quarter: Quarter, worker_code: str, committee: str
) -> None:
    low, high = min(low, high), max(low, high)
    less = amounts(
        contributions_for_line(
            wage_line(low, worker_code=worker_code, joint_committee=committee, quarter=quarter),
            quarter,
            employer,
            PARAMS,
        )
    )
    more = amounts(
        contributions_for_line(
            wage_line(high, worker_code=worker_code, joint_committee=committee, quarter=quarter),
            quarter,
            employer,
            PARAMS,
        )
    )
    assert less.keys() == more.keys()
    assert all(less[code] <= more[code] for code in less)
