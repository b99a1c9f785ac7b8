"""DmfA contributions of one worker line, exact to the cent (CALCULATIONS.md §0-§2); pure, no I/O, no clock.

Amounts come in as integer cents (``records``) and leave as ``Decimal`` EUR. Each contribution line (one
worker line x one contribution code) is rounded half-up to the cent once, at the end (§0); totals are
sums of rounded lines. Parameters are taken as in force on the first day of the declared quarter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from cbss_batch.calculate.parameters import Parameters
from cbss_batch.records import Contribution, Deduction, Occupation, Quarter, Service, WorkerRecord

CENT: Final = Decimal("0.01")
ZERO: Final = Decimal("0.00")
STRUCTURAL_REDUCTION: Final = "3000"
# Codes this module computes for a non-student line besides the worker's own code; any other declared
# WorkerContribution (856, 862, 869, other sector funds, ...) is taken as declared (§1.4, out of scope).
SPECIAL_CODES: Final = ("255", "256", "809", "810", "831", "855", "859")
_UNRELATED_RATES: Final = {
    "870": "unrelated.870.rate",
    "864": "unrelated.864_865.rate",
    "865": "unrelated.864_865.rate",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Employer:
    """What §1.4 needs to know about the employer of a declaration."""

    workers: int  # average number of workers in the reference period (809: < 20 / >= 20; 855: >= 10)
    is_commercial: bool = True  # 809: commercial vs non-commercial closure-fund rate
    is_profit: bool = True  # category 1 (private profit) vs 2 (private non-profit), §1.3 and §2
    is_subject_to_unemployment: bool = True  # 810: employers subject to unemployment insurance

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise ValueError(f"workers must be 0 or more, got {self.workers}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ComputedContribution:
    """One contribution line in EUR: code, type, basis, rate, rounded amount, parameters used."""

    code: str  # ContributionWorkerCode (own worker code, 809, ...), 840/841 for students, unrelated code
    contribution_type: str  # ContributionType digit; "" where the block has none (student, unrelated)
    basis: Decimal | None
    rate: Decimal | None  # None: amount taken as declared
    amount: Decimal
    parameter_versions: tuple[str, ...] = ()
    as_declared: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ComputedDeduction:
    """One deduction in EUR (a positive amount that reduces what is owed)."""

    code: str
    amount: Decimal
    occupation: int | None = None  # OccupationSequenceNbr of an OccupationDeduction; None: WorkerDeduction
    basis: Decimal | None = None
    parameter_versions: tuple[str, ...] = ()
    as_declared: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class LineResult:
    """The contributions and deductions of one worker line, with every parameter version used."""

    basis: Decimal  # EUR, after the 108 % of manual workers (§1.2)
    lines: tuple[ComputedContribution, ...]  # WorkerContribution blocks
    student: tuple[ComputedContribution, ...]  # StudentContribution blocks
    deductions: tuple[ComputedDeduction, ...]  # WorkerDeduction and OccupationDeduction blocks
    parameter_versions: tuple[str, ...]  # sorted, unique

    @property
    def contributions_total(self) -> Decimal:
        """Sum of the worker and student contribution lines in EUR."""
        return sum((line.amount for line in (*self.lines, *self.student)), ZERO)

    @property
    def deductions_total(self) -> Decimal:
        """Sum of the deductions in EUR."""
        return sum((deduction.amount for deduction in self.deductions), ZERO)


def cents_to_euros(cents: int) -> Decimal:
    """EUR with two decimals from integer cents as declared (``902700`` → ``Decimal("9027.00")``)."""
    return Decimal(cents).scaleb(-2)


def euros_to_cents(euros: Decimal) -> int:
    """Integer cents from EUR; ValueError when the amount is not a whole number of cents (round first)."""
    cents = euros.scaleb(2)
    if cents != cents.to_integral_value():
        raise ValueError(f"{euros} EUR is not a whole number of cents; round it to 0.01 first")
    return int(cents)


def round_cent(amount: Decimal) -> Decimal:
    """``amount`` rounded half-up to the cent (§0)."""
    return amount.quantize(CENT, ROUND_HALF_UP)


def percent_line(basis: Decimal, rate: Decimal) -> Decimal:
    """round_cent(basis x rate), never below 0 (§0: one rounding per contribution line, no negative result)."""
    return max(round_cent(basis * rate), ZERO)


def gross_wage(record: WorkerRecord, codes: Iterable[str]) -> Decimal:
    """Sum in EUR of the line's remunerations whose RemunCode is in ``codes`` (§1.1), over all occupations."""
    wanted = frozenset(codes)
    return cents_to_euros(
        sum(remun.amount for occ in record.occupations for remun in occ.remunerations if _code3(remun.code) in wanted)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Basis:
    """The contribution basis of a worker line in EUR and how it was obtained (§1.1-§1.2)."""

    amount: Decimal
    is_manual: bool  # True: 108 % of gross (contribution type 1)
    parameter_versions: tuple[str, ...]


def contribution_basis(record: WorkerRecord, quarter: Quarter, params: Parameters) -> Basis:
    """Gross of the basis codes in EUR, x 1.08 rounded to the cent for manual worker codes (§1.1-§1.2).

    **Unverified**: the rounding point (the 108 % basis is rounded to the cent before any rate is
    applied) is our choice; so is counting worker codes 027 and 035 as manual (config).
    """
    on = quarter.start
    codes, manual = params.get("basis_remuneration_codes", on), params.get("manual_worker_codes", on)
    gross = gross_wage(record, codes.codes)
    if record.worker_code not in manual.codes:
        return Basis(amount=gross, is_manual=False, parameter_versions=(codes.version, manual.version))
    factor = params.get("manual_worker_factor", on)
    return Basis(
        amount=round_cent(gross * factor.decimal),
        is_manual=True,
        parameter_versions=(codes.version, manual.version, factor.version),
    )


def contributions_for_line(
    record: WorkerRecord,
    quarter: Quarter,
    employer: Employer,
    params: Parameters,
    *,
    structural_reduction: bool = False,
) -> LineResult:
    """Every contribution and deduction of one worker line in EUR (§1.1-§1.5; §2 when the flag is on).

    SIMPLIFIED (§1.4): every private-sector line gets the ordinary line and the simple special
    contributions whatever its employer category; 855 is applied to every line of an employer with
    enough workers (wage-moderation subjection not checked). A student line (worker code in
    ``student.worker_codes``) gets only its student contribution. Codes other than the own code and
    ``SPECIAL_CODES`` (856, 862, 869, other sector funds, ...) and every deduction other than a recomputed
    3000 are taken as declared.
    """
    on = quarter.start
    student_codes = params.get("student.worker_codes", on)
    students = tuple(
        student_contribution(c, record, quarter, params) for c in record.contributions if c.kind == "student"
    )
    versions: set[str] = {student_codes.version}
    own: tuple[ComputedContribution, ...] = ()
    computed_codes: frozenset[str] = frozenset()
    if record.worker_code in student_codes.codes:
        basis_codes = params.get("basis_remuneration_codes", on)
        basis = gross_wage(record, basis_codes.codes)
        versions.add(basis_codes.version)
    else:
        computed_codes = frozenset({record.worker_code, *SPECIAL_CODES})
        found = contribution_basis(record, quarter, params)
        basis = found.amount
        own = (ordinary_contribution(record, found, quarter, employer, params),)
        own += special_contributions(record, found, quarter, employer, params)
    declared = tuple(
        _as_declared(c) for c in record.contributions if c.kind == "worker" and c.worker_code not in computed_codes
    )
    deductions = _declared_deductions(record, skip_structural=structural_reduction)
    if structural_reduction:
        deductions += structural_reductions(record, quarter, employer, params)
    lines = own + declared
    for line in (*lines, *students):
        versions.update(line.parameter_versions)
    for deduction in deductions:
        versions.update(deduction.parameter_versions)
    return LineResult(
        basis=basis, lines=lines, student=students, deductions=deductions, parameter_versions=tuple(sorted(versions))
    )


def ordinary_contribution(
    record: WorkerRecord, basis: Basis, quarter: Quarter, employer: Employer, params: Parameters
) -> ComputedContribution:
    """The combined worker + employer line under the worker's own code (§1.3): basis x (13.07 % + employer %).

    Category 1 (profit) 25.00 %; category 2 (non-profit) 32.00 % is **unverified**. ContributionType is
    1 for a 108 % basis and 0 for 100 % (annex 3, ``config/codelists/contribution_types.csv``).
    """
    on = quarter.start
    worker = params.get("worker_rate", on)
    employer_rate = params.get(_employer_rate_name(employer), on)
    rate = worker.decimal + employer_rate.decimal
    return ComputedContribution(
        code=record.worker_code,
        contribution_type="1" if basis.is_manual else "0",
        basis=basis.amount,
        rate=rate,
        amount=percent_line(basis.amount, rate),
        parameter_versions=(*basis.parameter_versions, worker.version, employer_rate.version),
    )


def special_contributions(
    record: WorkerRecord, basis: Basis, quarter: Quarter, employer: Employer, params: Parameters
) -> tuple[ComputedContribution, ...]:
    """The simple special employer contributions of §1.4 that apply to the line, one line per code.

    809 by size and commerciality; 810 if subject to unemployment insurance; 831 on the occupations in
    joint committee 200 only; 855 from 10 workers; 859 always; 255 (**unverified**); 256 in the quarters of
    ``special.256.quarters`` (Q1-Q3 per [S18], **period unverified**).
    """
    on = quarter.start

    def line(
        code: str, rate_name: str, contribution_type: str = "0", *extra: str, on_basis: Basis = basis
    ) -> ComputedContribution:
        rate = params.get(rate_name, on)
        return ComputedContribution(
            code=code,
            contribution_type=contribution_type,
            basis=on_basis.amount,
            rate=rate.decimal,
            amount=percent_line(on_basis.amount, rate.decimal),
            parameter_versions=(*on_basis.parameter_versions, rate.version, *extra),
        )

    def basis_of(occupations: tuple[Occupation, ...]) -> Basis:
        return contribution_basis(record._replace(occupations=occupations), quarter, params)

    lines = [line("255", "special.255.rate")]
    quarters = params.get("special.256.quarters", on)
    if str(quarter.number) in quarters.codes:
        lines.append(line("256", "special.256.rate", "0", quarters.version))
    threshold = params.get("special.809.size_threshold", on)
    is_small = employer.workers < threshold.integer
    if employer.is_commercial:
        name_809 = "special.809.commercial_lt20" if is_small else "special.809.commercial_ge20"
    else:
        name_809 = "special.809.noncommercial"
    # annex 3: 809 type 0 for fewer than 20 workers, 5 for 20 or more (with wage moderation)
    lines.append(line("809", name_809, "0" if is_small else "5", threshold.version))
    if employer.is_subject_to_unemployment:
        lines.append(line("810", "special.810.rate"))
    committees = params.get("special.831.joint_committees", on)
    in_fund = tuple(occ for occ in record.occupations if occ.joint_committee.split(".")[0] in committees.codes)
    if in_fund:
        # the fund's contribution is due on the wages of its joint committee only
        fund_basis = basis if len(in_fund) == len(record.occupations) else basis_of(in_fund)
        lines.append(line("831", "special.831.rate", "0", committees.version, on_basis=fund_basis))
    minimum = params.get("special.855.min_workers", on)
    if employer.workers >= minimum.integer:
        lines.append(line("855", "special.855.rate", "0", minimum.version))
    lines.append(line("859", "special.859.rate"))
    return tuple(lines)


def student_contribution(
    contribution: Contribution, record: WorkerRecord, quarter: Quarter, params: Parameters
) -> ComputedContribution:
    """840/841 student solidarity contribution: StudentRemunAmount x 8.13 % (§1.4), rounded to the cent.

    SIMPLIFIED: the yearly hour quota is not checked; without a declared StudentRemunAmount the basis is
    the line's gross of the basis codes. The 5.42 % / 2.71 % split is **unverified** and not used.
    """
    on = quarter.start
    rate, student_codes = params.get("student.rate", on), params.get("student.worker_codes", on)
    versions = [rate.version, student_codes.version]
    if contribution.basis is not None:
        basis = cents_to_euros(contribution.basis)
    else:
        codes = params.get("basis_remuneration_codes", on)
        basis = gross_wage(record, codes.codes)
        versions.append(codes.version)
    code = record.worker_code if record.worker_code in student_codes.codes else student_codes.codes[0]
    return ComputedContribution(
        code=code,
        contribution_type="",
        basis=basis,
        rate=rate.decimal,
        amount=percent_line(basis, rate.decimal),
        parameter_versions=tuple(versions),
    )


def unrelated_contribution(contribution: Contribution, quarter: Quarter, params: Parameters) -> ComputedContribution:
    """One ContributionUnrelatedToNP in EUR: 870 (13.07 %) and 864/865 (8.86 %) recomputed on the declared basis.

    SIMPLIFIED (§1.4): any other code (862 company car, 869 mobility budget, ...) or a block without a
    calculation basis is taken as declared.
    """
    name = _UNRELATED_RATES.get(contribution.worker_code)
    if name is None or contribution.basis is None:
        return _as_declared(contribution, contribution_type="")
    rate = params.get(name, quarter.start)
    basis = cents_to_euros(contribution.basis)
    return ComputedContribution(
        code=contribution.worker_code,
        contribution_type="",
        basis=basis,
        rate=rate.decimal,
        amount=percent_line(basis, rate.decimal),
        parameter_versions=(rate.version,),
    )


def net_owed(
    lines: Iterable[ComputedContribution],
    student: Iterable[ComputedContribution],
    unrelated: Iterable[ComputedContribution],
    deductions: Iterable[ComputedDeduction],
) -> Decimal:
    """NetOwedAmount in EUR (§1.6): contributions + student + unrelated − deductions, floored at 0."""
    owed = sum((c.amount for c in (*lines, *student, *unrelated)), ZERO)
    return max(owed - sum((d.amount for d in deductions), ZERO), ZERO)


def structural_reductions(
    record: WorkerRecord, quarter: Quarter, employer: Employer, params: Parameters
) -> tuple[ComputedDeduction, ...]:
    """Deduction 3000 per occupation in EUR, category 1 only (§2, Odoo's formula); only amounts above 0.

    SIMPLIFIED / **unverified**: the 2025 parameters are not cross-checked against the NSSO page; µg sums
    the occupations of this worker line only; hours missing from a Service are derived from its days x
    MeanWorkingHours / days per week; an occupation without RefMeanWorkingHours or paid hours, or with a
    RemunCode in ``structural_reduction.excluded_remuneration_codes``, gets none; categories 2 and 3
    (flat part, other parameters) are out of scope and get none.
    """
    if not employer.is_profit:
        return ()
    on = quarter.start
    got = {
        key: params.get(f"structural_reduction.{key}", on)
        for key in (
            "alpha",
            "s0",
            "gamma",
            "s2",
            "wage_codes",
            "paid_hour_service_codes",
            "fraction_service_codes",
            "excluded_remuneration_codes",
        )
    }
    employer_rate = params.get(_employer_rate_name(employer), on)
    versions = (*(value.version for value in got.values()), employer_rate.version)
    excluded = frozenset(got["excluded_remuneration_codes"].codes)
    fractions = [
        round_cent(_hours(occ, got["fraction_service_codes"].codes) / (13 * _ref_hours(occ)))
        if _ref_hours(occ) > 0
        else ZERO
        for occ in record.occupations
    ]  # µ per occupation
    total_fraction = sum(fractions, ZERO)  # µg
    result = []
    for occ, fraction in zip(record.occupations, fractions, strict=True):
        ref = _ref_hours(occ)
        paid_hours = _hours(occ, got["paid_hour_service_codes"].codes)
        if ref <= 0 or paid_hours <= 0 or any(_code3(r.code) in excluded for r in occ.remunerations):
            continue
        wage = cents_to_euros(sum(r.amount for r in occ.remunerations if _code3(r.code) in got["wage_codes"].codes))
        full_time = round_cent(wage * round_cent(13 * ref / paid_hours))
        reduction = round_cent(got["alpha"].decimal * max(got["s0"].decimal - full_time, ZERO)) + round_cent(
            got["gamma"].decimal * max(got["s2"].decimal - full_time, ZERO)
        )
        beta = _beta(total_fraction, ref)
        amount = min(round_cent(reduction * fraction * beta), round_cent(wage * employer_rate.decimal))
        if amount > 0:
            result.append(
                ComputedDeduction(
                    code=STRUCTURAL_REDUCTION, amount=amount, occupation=occ.sequence, parameter_versions=versions
                )
            )
    return tuple(result)


def _beta(total_fraction: Decimal, ref_hours: Decimal) -> Decimal:
    """β of §2 from the worker's total occupation fraction µg and the reference hours UU."""
    if total_fraction < Decimal("0.275") and ref_hours < 19:
        return ZERO
    if total_fraction < Decimal("0.55"):
        return Decimal("1.18")
    if total_fraction < Decimal("0.80"):
        return Decimal("1.18") + (total_fraction - Decimal("0.55")) * Decimal("0.28")
    return 1 / total_fraction


def _ref_hours(occ: Occupation) -> Decimal:
    """UU: RefMeanWorkingHours in hours (0 when not declared)."""
    return _hundredths(occ.ref_mean_working_hours or 0)


def _hundredths(value: int) -> Decimal:
    """Hours or days declared in hundredths, as a Decimal of units."""
    return Decimal(value).scaleb(-2)


def _hours(occ: Occupation, codes: Iterable[str]) -> Decimal:
    """Σ hours of the occupation's services with a code in ``codes`` (hours derived from days when absent)."""
    wanted = frozenset(codes)
    return sum((_service_hours(s, occ) for s in occ.services if _code3(s.code) in wanted), ZERO)


def _service_hours(service: Service, occ: Occupation) -> Decimal:
    if service.hours is not None:
        return _hundredths(service.hours)
    weekly = occ.mean_working_hours or occ.ref_mean_working_hours or 0
    if not occ.working_days_system or not weekly:
        return ZERO
    # days × (weekly hours / days per week); both declared in hundredths, so the scales cancel
    return _hundredths(service.days) * Decimal(weekly) / Decimal(occ.working_days_system)


def _employer_rate_name(employer: Employer) -> str:
    return "employer_rate.cat1_private_profit" if employer.is_profit else "employer_rate.cat2_private_nonprofit"


def _as_declared(contribution: Contribution, contribution_type: str | None = None) -> ComputedContribution:
    return ComputedContribution(
        code=contribution.worker_code,
        contribution_type=(contribution.contribution_type or "") if contribution_type is None else contribution_type,
        basis=None if contribution.basis is None else cents_to_euros(contribution.basis),
        rate=None,
        amount=max(cents_to_euros(contribution.amount), ZERO),
        as_declared=True,
    )


def _declared_deductions(record: WorkerRecord, *, skip_structural: bool) -> tuple[ComputedDeduction, ...]:
    found: list[tuple[int | None, Deduction]] = [(None, d) for d in record.deductions]
    found += [(occ.sequence, d) for occ in record.occupations for d in occ.deductions]
    return tuple(
        ComputedDeduction(
            code=d.code,
            amount=max(cents_to_euros(d.amount or 0), ZERO),
            occupation=sequence,
            basis=None if d.basis is None else cents_to_euros(d.basis),
            as_declared=True,
        )
        for sequence, d in found
        if not (skip_structural and d.code == STRUCTURAL_REDUCTION)
    )


def _code3(code: str) -> str:
    """A RemunCode or ServiceCode as three digits ("1" and "001" are the same code)."""
    return code.strip().zfill(3)
