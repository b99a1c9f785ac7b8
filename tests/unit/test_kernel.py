"""The integer-cent kernel gives exactly the reference's contribution lines (CALCULATIONS.md §1, flag off)."""

from __future__ import annotations

import dataclasses
import io
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cbss_batch.calculate import Employer, LineResult, contributions_for_line, euros_to_cents, load_parameters
from cbss_batch.calculate.kernel import ComputedAmount, RateSnapshot, _half_up, compute_line
from cbss_batch.errors import ConfigError
from cbss_batch.generator import make_dmfa
from cbss_batch.parse.dmfa import PersonRead, read_dmfa
from cbss_batch.records import Contribution, Deduction, Occupation, Quarter, Remuneration, WorkerRecord

PARAMS = load_parameters()
Q1_2025 = Quarter(2025, 1)
SMALL = Employer(workers=5)  # commercial, profit sector, fewer than 10 workers: the Odoo test employer


def _covered(quarter: Quarter) -> bool:
    try:
        RateSnapshot.build(quarter, SMALL, PARAMS)
    except ConfigError:
        return False
    return True


# Every quarter from 2016 to 2030 for which the committed parameters have every value (2025Q1 onwards).
COVERED = [q for q in (Quarter(y, n) for y in range(2016, 2031) for n in (1, 2, 3, 4)) if _covered(q)]


def expected(result: LineResult) -> tuple[ComputedAmount, ...]:
    """The reference's lines and student lines in cents."""
    return tuple(
        ComputedAmount(
            line.code,
            line.contribution_type,
            None if line.basis is None else euros_to_cents(line.basis),
            euros_to_cents(line.amount),
        )
        for line in (*result.lines, *result.student)
    )


def occupation(*remunerations: Remuneration, joint_committee: str = "200", sequence: int = 1) -> Occupation:
    return Occupation(sequence, date(2020, 1, 1), None, joint_committee, 500, 0, 3800, 3800, None, 1, (), remunerations)


def worker_line(
    *occupations: Occupation,
    worker_code: str = "495",
    quarter: Quarter = Q1_2025,
    contributions: tuple[Contribution, ...] = (),
    deductions: tuple[Deduction, ...] = (),
) -> WorkerRecord:
    return WorkerRecord(
        "010", worker_code, quarter.start, quarter.end, 0, None, None, 1, occupations, contributions, deductions
    )


def remun(code: str, cents: int, sequence: int = 1) -> Remuneration:
    return Remuneration(sequence, code, cents, None, None, 1)


# --- §1.7 the Odoo test vector -------------------------------------------------------------------------

ODOO_LINE = worker_line(
    occupation(remun("001", 902700, 1), remun("002", 200000, 2), remun("010", 47880, 3)),
    contributions=(Contribution("856", "0", None, 5772, 1, "worker"),),
    deductions=(Deduction("0001", None, 12824, 1),),
)


def test_odoo_vector_to_the_cent_in_the_reference_order() -> None:
    lines = compute_line(ODOO_LINE, RateSnapshot.build(Q1_2025, SMALL, PARAMS))
    assert lines == (
        ComputedAmount("495", "0", 1102700, 419798),
        ComputedAmount("255", "0", 1102700, 221),
        ComputedAmount("256", "0", 1102700, 110),
        ComputedAmount("809", "0", 1102700, 1985),
        ComputedAmount("810", "0", 1102700, 1875),
        ComputedAmount("831", "0", 1102700, 2536),
        ComputedAmount("859", "0", 1102700, 1103),
        ComputedAmount("856", "0", None, 5772),  # as declared
    )
    assert lines == expected(contributions_for_line(ODOO_LINE, Q1_2025, SMALL, PARAMS))
    # + 862 unrelated 99.66 − deduction 0001 128.24 = NetOwedAmount 4 305.42 (§1.7)
    assert sum(line.amount_cents for line in lines) + 9966 - 12824 == 430542


def test_snapshot_resolves_rates_as_integers_over_a_power_of_ten() -> None:
    snapshot = RateSnapshot.build(Q1_2025, SMALL, PARAMS)
    assert snapshot.denominator == 10_000
    assert (snapshot.ordinary_rate, snapshot.manual_factor, snapshot.student_rate) == (3807, 10800, 813)
    assert [(s.code, s.contribution_type, s.rate, s.fund_only) for s in snapshot.specials] == [
        ("255", "0", 2, False),
        ("256", "0", 1, False),
        ("809", "0", 18, False),
        ("810", "0", 17, False),
        ("831", "0", 23, True),
        ("859", "0", 10, False),
    ]
    assert snapshot.joint_committees == {"200"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.denominator = 100  # type: ignore[misc]


@pytest.mark.parametrize(
    ("quarter", "employer", "codes"),
    [
        (Quarter(2025, 4), Employer(workers=20), ["255", "809", "810", "831", "855", "859"]),  # no 256 in Q4
        (
            Quarter(2025, 2),
            Employer(workers=10, is_subject_to_unemployment=False),
            ["255", "256", "809", "831", "855", "859"],
        ),
    ],
    ids=["Q4-20-workers", "10-workers-no-unemployment"],
)
def test_snapshot_applies_the_quarter_and_employer_conditions(
    quarter: Quarter, employer: Employer, codes: list[str]
) -> None:
    assert [s.code for s in RateSnapshot.build(quarter, employer, PARAMS).specials] == codes


def test_snapshot_versions_are_those_the_reference_records() -> None:
    # A manual worker in joint committee 200 with a student contribution reads every parameter of the snapshot.
    line = worker_line(
        occupation(remun("001", 100000)),
        worker_code="015",
        contributions=(Contribution("", None, None, 0, 1, "student"),),
    )
    for employer in (SMALL, Employer(workers=20, is_commercial=False, is_profit=False)):
        snapshot = RateSnapshot.build(Q1_2025, employer, PARAMS)
        result = contributions_for_line(line, Q1_2025, employer, PARAMS)
        assert snapshot.parameter_versions == result.parameter_versions
    assert (
        "special.256.quarters@2016-01-01" not in RateSnapshot.build(Quarter(2025, 4), SMALL, PARAMS).parameter_versions
    )


@pytest.mark.parametrize("quarter", [Quarter(2024, 1), Quarter(2024, 4)])
def test_quarter_the_parameters_do_not_cover_fails_like_the_reference(quarter: Quarter) -> None:
    line = worker_line(occupation(remun("001", 100000)), quarter=quarter)
    with pytest.raises(ConfigError) as reference:
        contributions_for_line(line, quarter, SMALL, PARAMS)
    with pytest.raises(ConfigError) as kernel:
        RateSnapshot.build(quarter, SMALL, PARAMS)
    assert str(kernel.value) == str(reference.value)


def test_covered_quarters_include_2025() -> None:
    assert [q for q in COVERED if q.year == 2025] == [Quarter(2025, n) for n in (1, 2, 3, 4)]
    assert COVERED[0] == Q1_2025


@pytest.mark.parametrize(
    ("worker_code", "cents"),
    [("015", -100007), ("495", -1), ("015", 100007), ("015", 100017), ("024", 1), ("015", -5)],
)
def test_half_up_and_the_floor_at_zero_match_the_reference(worker_code: str, cents: int) -> None:
    # negative wages: the 108 % basis rounds ties away from zero and is not floored; every amount is
    line = worker_line(
        occupation(remun("001", cents)),
        worker_code=worker_code,
        contributions=(Contribution("869", None, -500, -1, 1, "worker"), Contribution("", None, None, 0, 1, "student")),
    )
    lines = compute_line(line, RateSnapshot.build(Q1_2025, SMALL, PARAMS))
    assert lines == expected(contributions_for_line(line, Q1_2025, SMALL, PARAMS))
    assert all(amount.amount_cents >= 0 for amount in lines)


def test_generated_file_gives_the_reference_lines() -> None:
    quarter = Quarter(2025, 3)
    snapshot = RateSnapshot.build(quarter, SMALL, PARAMS)
    records = [
        record
        for event in read_dmfa(io.BytesIO(make_dmfa(workers=200, quarter="20253")), None)
        if isinstance(event, PersonRead)
        for record in event.person.worker_records
    ]
    assert len(records) >= 200
    for record in records:
        assert compute_line(record, snapshot) == expected(contributions_for_line(record, quarter, SMALL, PARAMS))


# --- hypothesis: equivalence with the reference ------------------------------------------------------

cents = st.one_of(st.integers(min_value=0, max_value=10**10), st.integers(min_value=-(10**6), max_value=0))
optional_cents = st.one_of(st.none(), cents)
# in the basis (also written short or padded), and out of it (car, termination, flexi, 12, public-sector 9)
remun_codes = st.sampled_from(
    ["001", "002", "003", "004", "005", "006", "007", "1", " 2", "07", "010", "022", "012", "9"]
)
remunerations = st.lists(st.builds(remun, remun_codes, cents, st.integers(min_value=1, max_value=9)), max_size=4).map(
    tuple
)
occupations = st.builds(
    lambda remuns, committee, sequence: occupation(*remuns, joint_committee=committee, sequence=sequence),
    remunerations,
    st.sampled_from(["200", "200.00", "218", "100", "124.01", "2000", "302"]),
    st.integers(min_value=1, max_value=5),
)
worker_contributions = st.builds(
    Contribution,
    worker_code=st.sampled_from(["495", "015", "255", "256", "809", "810", "831", "855", "859", "856", "869", "840"]),
    contribution_type=st.sampled_from([None, "0", "1", "5"]),
    basis=optional_cents,
    amount=cents,
    line=st.just(1),
    kind=st.just("worker"),
)
student_contributions = st.builds(
    Contribution,
    worker_code=st.sampled_from(["", "840", "841"]),
    contribution_type=st.none(),
    basis=optional_cents,
    amount=cents,
    line=st.just(1),
    kind=st.just("student"),
)
unrelated_contributions = st.builds(
    Contribution,
    st.sampled_from(["862", "870"]),
    st.just(None),
    optional_cents,
    cents,
    st.just(1),
    st.just("unrelated"),
)
worker_lines = st.builds(
    lambda code, occs, contributions, deductions: worker_line(
        *occs, worker_code=code, contributions=tuple(contributions), deductions=tuple(deductions)
    ),
    # manual (015, 024, 027, 035, 046, 047), non-manual (495, 439, 487) and student (840, 841) worker codes
    st.sampled_from(["015", "024", "027", "035", "046", "047", "495", "439", "487", "840", "841"]),
    st.lists(occupations, max_size=3),
    st.lists(st.one_of(worker_contributions, student_contributions, unrelated_contributions), max_size=5),
    st.lists(
        st.builds(Deduction, st.sampled_from(["0001", "3000"]), optional_cents, optional_cents, st.just(1)), max_size=2
    ),
)
employers = st.builds(
    Employer,
    workers=st.sampled_from([0, 5, 9, 10, 19, 20, 21, 60]),
    is_commercial=st.booleans(),
    is_profit=st.booleans(),
    is_subject_to_unemployment=st.booleans(),
)


@given(numerator=st.integers(min_value=-(10**15), max_value=10**15), places=st.integers(min_value=0, max_value=6))
def test_half_up_is_decimal_round_half_up(numerator: int, places: int) -> None:
    exact = Decimal(numerator).scaleb(-places).quantize(Decimal(1), ROUND_HALF_UP)
    assert _half_up(numerator, 10**places) == int(exact)


@pytest.mark.parametrize(("numerator", "rounded"), [(5, 1), (-5, -1), (15, 2), (-15, -2), (4, 0), (-4, 0), (-6, -1)])
def test_half_up_rounds_ties_away_from_zero(numerator: int, rounded: int) -> None:
    assert _half_up(numerator, 10) == rounded


@settings(max_examples=500)
@given(record=worker_lines, employer=employers, quarter=st.sampled_from(COVERED), flag=st.booleans())
def test_kernel_equals_the_reference(record: WorkerRecord, employer: Employer, quarter: Quarter, flag: bool) -> None:
    # the structural-reduction flag changes the reference's deductions only, never its contribution lines
    record = record._replace(quarter_start=quarter.start, quarter_end=quarter.end)
    snapshot = RateSnapshot.build(quarter, employer, PARAMS)
    reference = contributions_for_line(record, quarter, employer, PARAMS, structural_reduction=flag)
    assert compute_line(record, snapshot) == expected(reference)
    assert set(reference.parameter_versions) <= set(snapshot.parameter_versions)
