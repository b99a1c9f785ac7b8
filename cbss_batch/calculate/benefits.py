"""Social-risk benefits per day from DRS declarations (CALCULATIONS.md §3). Pure: no I/O, no clock.

Money is ``Decimal`` EUR. A declared wage becomes a daily wage kept at 4 decimals, half-up; each benefit
is rounded half-up to the cent once, at the end, and is never below 0 nor above its cap (§0). Parameters
come from ``config/parameters/benefits.toml``, taken in force on the start of the risk (incapacity,
maternity, accident) or, for unemployment amounts, on the day paid (§0); every result lists the
parameter versions (``name@valid_from``) it used.

Every rule here is SIMPLIFIED (CALCULATIONS.md §3); each function's docstring says what it leaves out.
A parameter with no value in force on the date raises ``ConfigError`` (from ``Parameters.get``): a gap in
the configuration, not a fault of the declaration.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, Literal, Protocol, get_args

from cbss_batch.errors import ConfigError
from cbss_batch.records import RiskDeclaration

CENT: Final = Decimal("0.01")
WAGE_PLACES: Final = Decimal("0.0001")
ZERO: Final = Decimal("0.00")
# §3: benefits are paid on a 6-day week, 26 allowance days a month (the NEO's monthly maxima are its
# daily maxima × 26 [S19]). Fixed by the conversion rule, so not a parameter.
ALLOWANCE_DAYS_PER_MONTH: Final = 26

# RemunerationTimeUnit (DRS CalculationBaseAllowance) [S9]
HOUR, DAY, WEEK, MONTH, QUARTER, YEAR = 1, 2, 3, 4, 5, 6
TIME_UNITS: Final = (HOUR, DAY, WEEK, MONTH, QUARTER, YEAR)
# §3: monthly = amount × numerator / denominator (unit 1 additionally × weekly hours; unit 2 × 26).
_TO_MONTH: Final = {HOUR: (13, 3), WEEK: (13, 3), MONTH: (1, 1), QUARTER: (1, 3), YEAR: (1, 12)}

Family = Literal["family_burden", "single", "cohabitant"]
FAMILIES: Final[tuple[Family, ...]] = get_args(Family)

FULL_UNEMPLOYMENT: Final = "unemployment.full"
TEMPORARY_UNEMPLOYMENT: Final = "unemployment.temporary"
SICKNESS: Final = "sickness.primary_incapacity"
MATERNITY: Final = "maternity.rest"
WORK_ACCIDENT: Final = "work_accident.temporary_total_incapacity"

# §3.1: unemployment-month bands of the NEO minimum/maximum table [S19]: (first, last or None, name).
_BANDS: Final = (
    (1, 3, "months_1_3"),
    (4, 6, "months_4_6"),
    (7, 12, "months_7_12"),
    (13, 14, "months_13_14"),
    (15, 24, "months_15_24"),
    (25, 30, "months_25_30"),
    (31, 36, "months_31_36"),
    (37, 48, "months_37_48"),
    (49, None, "months_49_plus"),
)
_FULL: Final = "benefits.unemployment.full"
_TEMPORARY: Final = "benefits.unemployment.temporary"
_SICKNESS: Final = "benefits.sickness"
_MATERNITY: Final = "benefits.maternity"
_ACCIDENT: Final = "benefits.work_accident"


class ParameterEntry(Protocol):
    """What a benefit reads of a ``ParameterValue``: its value and its version (``name@valid_from``)."""

    @property
    def value(self) -> object: ...

    @property
    def version(self) -> str: ...


class ParameterSource(Protocol):
    """The entry of a parameter in force on a day; ``cbss_batch.calculate.parameters.Parameters`` is one."""

    def get(self, name: str, on: date) -> ParameterEntry: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class BenefitResult:
    """One benefit amount per paid day, with how it was reached."""

    kind: str  # FULL_UNEMPLOYMENT, TEMPORARY_UNEMPLOYMENT, SICKNESS, MATERNITY, WORK_ACCIDENT
    daily_amount: Decimal  # EUR per paid day, half-up to the cent; 0 ≤ amount ≤ cap
    daily_basis: Decimal  # EUR, 4 decimals: the daily wage the rate was applied to, after any wage cap
    phase: str  # which part of the benefit: "months 1-3", "days 31-365", "guaranteed wage (days 1-30)"…
    cap_applied: bool  # the wage cap (or, in full unemployment, the maximum allowance) lowered the amount
    minimum_applied: bool = False  # full unemployment: the minimum allowance raised the amount
    employer_supplement: Decimal = ZERO  # temporary unemployment: EUR per day, paid by the employer, not the NEO
    paid_days_per_week: int | None = None  # 6 (Monday-Saturday) or 7 (calendar days); None: not specified
    parameters: tuple[str, ...] = ()  # versions used, "name@YYYY-MM-DD"
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DeclaredWage:
    """The wage zones of a DRS form: RemunerationTimeUnit, RemunerationBasisAmount (cents), MeanWorkingHours."""

    unit: int
    amount_cents: int
    mean_working_hours: int | None  # hundredths of an hour per week (3800 = 38 h); needed for unit 1 only


@dataclass(frozen=True, slots=True, kw_only=True)
class FullUnemploymentParameters:
    """§3.1 values for one unemployment-month band and family situation, in force on the day paid."""

    family: Family
    first_month: int
    last_month: int | None  # None: open-ended band (month 49+)
    rate: Decimal
    minimum: Decimal  # EUR per day
    maximum: Decimal  # EUR per day
    paid_days_per_week: int
    versions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TemporaryUnemploymentParameters:
    """§3.2 values for one kind of reason (force majeure or not), in force on the day paid."""

    force_majeure: bool
    rate: Decimal
    daily_wage_cap: Decimal  # EUR, 4 decimals
    supplement_per_day: Decimal = ZERO  # EUR; not read for force majeure
    supplement_wage_threshold: Decimal | None = None  # EUR monthly gross: supplement from day 1 at or below it
    supplement_from_day: int | None = None  # above the threshold: from this temporary-unemployment day of the year
    versions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SicknessParameters:
    """§3.3 values in force on the first day of the incapacity."""

    rate: Decimal
    daily_wage_cap: Decimal  # EUR, 4 decimals (6-day regime)
    guaranteed_wage_days: int  # days 1..n: the employer pays the guaranteed wage, no allowance
    last_day: int  # last day of primary incapacity
    paid_days_per_week: int
    versions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MaternityParameters:
    """§3.4 values in force on the first day of the maternity rest, for a single or multiple birth."""

    first_phase_rate: Decimal  # days 1..first_phase_days, NOT capped
    later_rate: Decimal  # from day first_phase_days + 1, capped
    first_phase_days: int
    daily_wage_cap: Decimal  # EUR, 4 decimals
    duration_weeks: int
    paid_days_per_week: int
    versions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkAccidentParameters:
    """§3.5 values in force on the day of the accident."""

    rate: Decimal
    days_per_year: int
    basic_annual_wage_cap: Decimal  # EUR per year
    paid_days_per_week: int
    versions: tuple[str, ...] = ()


# --- wage conversion (§3) -------------------------------------------------------------------------


def daily_wage(unit: int, amount_cents: int, mean_working_hours: int | None) -> Decimal:
    """Daily wage in EUR at 4 decimals (half-up) from a declared wage: monthly ÷ 26; unit 2 is the daily wage.

    ``unit`` is RemunerationTimeUnit (1 hour, 2 day, 3 week, 4 month, 5 quarter, 6 year),
    ``amount_cents`` RemunerationBasisAmount, ``mean_working_hours`` MeanWorkingHours in hundredths of an
    hour per week (needed for unit 1 only). ValueError for an unknown unit, a negative amount or weekly
    hours, or an hourly wage without weekly hours.

    SIMPLIFIED (CALCULATIONS.md §3): the monthly wage is amount × 13/3 (week), × hours × 13/3 (hour),
    ÷ 3 (quarter), ÷ 12 (year); every month has 26 allowance days (6-day week). Leaves out the variable-pay
    cycle (``Cycle``), piece/commission pay and the worker's own working-days system.
    """
    if unit == DAY:
        return _round4(_euros(amount_cents))
    numerator, denominator = _monthly_ratio(unit, amount_cents, mean_working_hours)
    # One division of an exact numerator: a 28-digit quotient of these small denominators cannot land
    # near enough to a half of 0.0001 to round differently than the exact value would.
    return _round4(numerator / (denominator * ALLOWANCE_DAYS_PER_MONTH))


def monthly_wage(unit: int, amount_cents: int, mean_working_hours: int | None) -> Decimal:
    """Monthly gross wage in EUR, half-up to the cent, by the conversion of §3 (unit 2: daily wage × 26).

    SIMPLIFIED (CALCULATIONS.md §3): same conversion as ``daily_wage``; used for the € 4 000 supplement
    threshold of temporary unemployment (§3.2).
    """
    numerator, denominator = _monthly_ratio(unit, amount_cents, mean_working_hours)
    return _cent(numerator / denominator)


def annual_wage(unit: int, amount_cents: int, mean_working_hours: int | None) -> Decimal:
    """Annual gross wage in EUR, half-up to the cent: the monthly wage of §3 × 12 (week × 52, quarter × 4…).

    SIMPLIFIED (CALCULATIONS.md §3.5): stands in for "the wages of the 12 months before the accident";
    leaves out end-of-year bonus and other advantages (SupplementaryCalculationBaseAllowance).
    """
    numerator, denominator = _monthly_ratio(unit, amount_cents, mean_working_hours)
    return _cent(numerator * 12 / denominator)


def _monthly_ratio(unit: int, amount_cents: int, mean_working_hours: int | None) -> tuple[Decimal, int]:
    """(numerator, denominator) with monthly wage = numerator / denominator, numerator exact."""
    if amount_cents < 0:
        raise ValueError(f"RemunerationBasisAmount {amount_cents} is negative; expected cents ≥ 0")
    amount = _euros(amount_cents)
    if unit == DAY:
        return amount * ALLOWANCE_DAYS_PER_MONTH, 1
    if unit not in _TO_MONTH:
        raise ValueError(f"RemunerationTimeUnit {unit} is unknown; expected one of {TIME_UNITS}")
    times, denominator = _TO_MONTH[unit]
    if unit == HOUR:
        if mean_working_hours is None or mean_working_hours < 0:
            raise ValueError(
                f"an hourly wage (RemunerationTimeUnit 1) needs MeanWorkingHours ≥ 0; got {mean_working_hours}"
            )
        amount *= _euros(mean_working_hours)  # hundredths of an hour → hours (same scale as cents → EUR)
    return amount * times, denominator


# --- full unemployment (§3.1) ---------------------------------------------------------------------


def full_unemployment_parameters(
    params: ParameterSource, *, month: int, family: Family, on: date
) -> FullUnemploymentParameters:
    """§3.1 parameters for unemployment month ``month`` and ``family``, in force on ``on`` (the day paid)."""
    first, last, band = _band(month)
    _check_family(family)
    read = _Reader(params, on)
    phase = "months_1_3" if month <= 3 else "months_4_12" if month <= 12 else f"months_13_plus.{family}"
    return FullUnemploymentParameters(
        family=family,
        first_month=first,
        last_month=last,
        rate=read.decimal(f"{_FULL}.rate.{phase}"),
        minimum=read.decimal(f"{_FULL}.minimum.{band}.{family}"),
        maximum=read.decimal(f"{_FULL}.maximum.{band}.{family}"),
        paid_days_per_week=read.integer(f"{_FULL}.paid_days_per_week"),
        versions=read.taken(),
    )


def full_unemployment(
    daily_wage: Decimal, *, month: int, family: Family, params: FullUnemploymentParameters
) -> BenefitResult:
    """Full-unemployment allowance in EUR per day: rate × daily wage to the cent, then kept between min and max.

    ``month`` is the unemployment month (1 = the first), ``params`` from ``full_unemployment_parameters``
    for the same month and family. SIMPLIFIED (CALCULATIONS.md §3.1): 65 % in months 1-3, 60 % in months
    4-12, then 60/55/40 % by family situation; leaves out career-length conditions for months 15-48
    (eligible assumed), the seniority supplement, age 55+, the income guarantee and the 2026 reform.
    """
    _check_family(family)
    in_band = params.first_month <= month and (params.last_month is None or month <= params.last_month)
    if month < 1 or not in_band or family != params.family:
        raise ValueError(
            f"parameters are for months {_months(params.first_month, params.last_month)}, {params.family}; "
            f"got month {month}, {family}: build them with full_unemployment_parameters(month={month}, ...)"
        )
    computed = _cent(params.rate * daily_wage)
    amount = min(max(computed, params.minimum), params.maximum)  # the maximum last: never above the cap
    return BenefitResult(
        kind=FULL_UNEMPLOYMENT,
        daily_amount=_not_negative(amount),
        daily_basis=_round4(daily_wage),
        phase=f"months {_months(params.first_month, params.last_month)}, {family}",
        cap_applied=computed > params.maximum,
        minimum_applied=computed < params.minimum <= params.maximum,
        paid_days_per_week=params.paid_days_per_week,
        parameters=params.versions,
    )


# --- temporary unemployment (§3.2) ----------------------------------------------------------------


def temporary_unemployment_parameters(
    params: ParameterSource, *, force_majeure: bool, on: date
) -> TemporaryUnemploymentParameters:
    """§3.2 parameters for a force-majeure reason or any other, in force on ``on`` (the day paid)."""
    read = _Reader(params, on)
    rate = read.decimal(f"{_TEMPORARY}.rate.{'force_majeure' if force_majeure else 'other_reasons'}")
    cap = read.decimal(f"{_TEMPORARY}.daily_wage_cap")
    if force_majeure:  # no supplement for force majeure (§3.2): its parameters are not read
        return TemporaryUnemploymentParameters(force_majeure=True, rate=rate, daily_wage_cap=cap, versions=read.taken())
    supplement = read.decimal(f"{_TEMPORARY}.supplement.per_day")
    if supplement <= 0:  # none in force (before 2024): no entitlement rule to read
        return TemporaryUnemploymentParameters(
            force_majeure=False, rate=rate, daily_wage_cap=cap, versions=read.taken()
        )
    return TemporaryUnemploymentParameters(
        force_majeure=False,
        rate=rate,
        daily_wage_cap=cap,
        supplement_per_day=supplement,
        supplement_wage_threshold=read.decimal(f"{_TEMPORARY}.supplement.monthly_wage_threshold"),
        supplement_from_day=read.integer(f"{_TEMPORARY}.supplement.from_day_above_threshold"),
        versions=read.taken(),
    )


def is_force_majeure(risk_code: str, params: ParameterSource, on: date) -> bool:
    """True when a WECH002/WECH005 risk variant is force majeure (incl. medical), per the parameters on ``on``."""
    return risk_code in _Reader(params, on).codes(f"{_TEMPORARY}.force_majeure_risk_codes")


def temporary_unemployment(
    daily_wage: Decimal,
    *,
    force_majeure: bool,
    monthly_wage: Decimal,
    day_in_year: int | None = None,
    params: TemporaryUnemploymentParameters,
) -> BenefitResult:
    """Temporary-unemployment allowance in EUR per day: rate × min(daily wage, cap) to the cent, + supplement.

    ``monthly_wage`` (EUR gross) decides the employer supplement: from day 1 at or below the threshold,
    else from the n-th temporary-unemployment day of the calendar year with the same employer
    (``day_in_year``; None = not known, no supplement). SIMPLIFIED (CALCULATIONS.md §3.2): 65 % for force
    majeure, 60 % otherwise (65 % before 2024); leaves out minimum allowances, half allowances,
    withholding tax and sector-fund top-ups.
    """
    if force_majeure != params.force_majeure:
        raise ValueError(
            f"parameters are for force_majeure={params.force_majeure}; got force_majeure={force_majeure}: "
            "build them with temporary_unemployment_parameters(force_majeure=...)"
        )
    basis = _round4(min(daily_wage, params.daily_wage_cap))
    notes: tuple[str, ...] = ()
    supplement = ZERO
    if force_majeure:
        notes = ("no employer supplement for force majeure (§3.2)",)
    elif params.supplement_wage_threshold is not None and monthly_wage <= params.supplement_wage_threshold:
        supplement = params.supplement_per_day
    elif params.supplement_from_day is not None and day_in_year is not None:
        if day_in_year >= params.supplement_from_day:
            supplement = params.supplement_per_day
    elif params.supplement_from_day is not None:
        notes = (
            f"monthly gross above {params.supplement_wage_threshold}: employer supplement only from temporary-"
            f"unemployment day {params.supplement_from_day} of the year, not known from one declaration (§3.2)",
        )
    return BenefitResult(
        kind=TEMPORARY_UNEMPLOYMENT,
        daily_amount=_not_negative(_cent(params.rate * basis)),
        daily_basis=basis,
        phase="force majeure" if force_majeure else "other reasons",
        cap_applied=daily_wage > params.daily_wage_cap,
        employer_supplement=_not_negative(supplement),
        parameters=params.versions,
        notes=notes,
    )


# --- sickness, primary incapacity (§3.3) ----------------------------------------------------------


def sickness_parameters(params: ParameterSource, *, on: date) -> SicknessParameters:
    """§3.3 parameters in force on ``on``, the first day of the incapacity."""
    read = _Reader(params, on)
    return SicknessParameters(
        rate=read.decimal(f"{_SICKNESS}.primary.rate"),
        daily_wage_cap=read.decimal(f"{_SICKNESS}.daily_wage_cap"),
        guaranteed_wage_days=read.integer(f"{_SICKNESS}.primary.guaranteed_wage_days"),
        last_day=read.integer(f"{_SICKNESS}.primary.last_day"),
        paid_days_per_week=read.integer(f"{_SICKNESS}.paid_days_per_week"),
        versions=read.taken(),
    )


def sickness_primary_incapacity(daily_wage: Decimal, *, day: int, params: SicknessParameters) -> BenefitResult:
    """Sickness allowance in EUR per day for day ``day`` of the incapacity (1 = first): 60 % of the capped wage.

    Days 1-30 (guaranteed wage, paid by the employer) and days after 365 (invalidity) give 0 with their
    phase. SIMPLIFIED (CALCULATIONS.md §3.3): day counted in calendar days from the start of the
    incapacity; leaves out the blue-collar guaranteed-wage split, minimum allowances, family-situation
    rules after month 6, invalidity, indexation of running benefits, relapses, unemployed people and
    withholding tax.
    """
    if day < 1:
        raise ValueError(f"day {day} of the incapacity: the first day is 1")
    if day <= params.guaranteed_wage_days:
        return _nothing_paid(
            SICKNESS,
            f"guaranteed wage (days 1-{params.guaranteed_wage_days})",
            params.paid_days_per_week,
            params.versions,
            "paid by the employer; no allowance (§3.3)",
        )
    if day > params.last_day:
        return _nothing_paid(
            SICKNESS,
            f"invalidity (after day {params.last_day})",
            params.paid_days_per_week,
            params.versions,
            "invalidity is not modelled (§3.3)",
        )
    basis = _round4(min(daily_wage, params.daily_wage_cap))
    return BenefitResult(
        kind=SICKNESS,
        daily_amount=_not_negative(_cent(params.rate * basis)),
        daily_basis=basis,
        phase=f"days {params.guaranteed_wage_days + 1}-{params.last_day}",
        cap_applied=daily_wage > params.daily_wage_cap,
        paid_days_per_week=params.paid_days_per_week,
        parameters=params.versions,
    )


# --- maternity rest (§3.4) ------------------------------------------------------------------------


def maternity_parameters(params: ParameterSource, *, on: date, multiple_birth: bool = False) -> MaternityParameters:
    """§3.4 parameters in force on ``on``, the first day of the maternity rest."""
    read = _Reader(params, on)
    return MaternityParameters(
        first_phase_rate=read.decimal(f"{_MATERNITY}.rate.days_1_30"),
        later_rate=read.decimal(f"{_MATERNITY}.rate.days_31_plus"),
        first_phase_days=read.integer(f"{_MATERNITY}.first_phase_days"),
        daily_wage_cap=read.decimal(f"{_MATERNITY}.daily_wage_cap"),
        duration_weeks=read.integer(
            f"{_MATERNITY}.duration_weeks.{'multiple_birth' if multiple_birth else 'single_birth'}"
        ),
        paid_days_per_week=read.integer(f"{_MATERNITY}.paid_days_per_week"),
        versions=read.taken(),
    )


def maternity_rest(daily_wage: Decimal, *, day: int, params: MaternityParameters) -> BenefitResult:
    """Maternity allowance in EUR per day for day ``day`` of the rest: 82 % uncapped (days 1-30), then 75 % capped.

    A day after the rest (15 or 19 weeks) gives 0. SIMPLIFIED (CALCULATIONS.md §3.4): a worker under an
    employment contract; day counted in calendar days from the start of the rest; the cap is the sickness
    ceiling (unverified reading); leaves out the no-longer-under-contract (79.5 %) and unemployed variants
    (their rates are in the config, not computed here).
    """
    if day < 1:
        raise ValueError(f"day {day} of the maternity rest: the first day is 1")
    last_day = params.duration_weeks * 7
    if day > last_day:
        return _nothing_paid(
            MATERNITY,
            f"after the maternity rest (day {last_day})",
            params.paid_days_per_week,
            params.versions,
            f"the rest lasts {params.duration_weeks} weeks (§3.4)",
        )
    if day <= params.first_phase_days:
        rate, basis, capped = params.first_phase_rate, _round4(daily_wage), False  # NOT capped (§3.4)
        phase = f"days 1-{params.first_phase_days}"
    else:
        rate, basis = params.later_rate, _round4(min(daily_wage, params.daily_wage_cap))
        capped, phase = daily_wage > params.daily_wage_cap, f"days {params.first_phase_days + 1}-{last_day}"
    return BenefitResult(
        kind=MATERNITY,
        daily_amount=_not_negative(_cent(rate * basis)),
        daily_basis=basis,
        phase=phase,
        cap_applied=capped,
        paid_days_per_week=params.paid_days_per_week,
        parameters=params.versions,
    )


# --- work accident, temporary total incapacity (§3.5) ---------------------------------------------


def work_accident_parameters(params: ParameterSource, *, on: date) -> WorkAccidentParameters:
    """§3.5 parameters in force on ``on``, the day of the accident."""
    read = _Reader(params, on)
    return WorkAccidentParameters(
        rate=read.decimal(f"{_ACCIDENT}.temporary_total.rate"),
        days_per_year=read.integer(f"{_ACCIDENT}.days_per_year"),
        basic_annual_wage_cap=read.decimal(f"{_ACCIDENT}.basic_annual_wage_cap"),
        paid_days_per_week=read.integer(f"{_ACCIDENT}.paid_days_per_week"),
        versions=read.taken(),
    )


def work_accident_temporary_incapacity(basic_annual_wage: Decimal, *, params: WorkAccidentParameters) -> BenefitResult:
    """Work-accident allowance in EUR per calendar day: 90 % of round4(min(annual wage, cap) / 365).

    SIMPLIFIED (CALCULATIONS.md §3.5): the 90 % and ÷ 365 rules are stated for occupational diseases and
    assumed for accidents; leaves out the day of the accident, partial and permanent incapacity, death,
    the minimum basic wage, apprentices and minors, and the employer's guaranteed wage in the first month.
    """
    capped = min(basic_annual_wage, params.basic_annual_wage_cap)
    basis = _round4(capped / params.days_per_year)
    return BenefitResult(
        kind=WORK_ACCIDENT,
        daily_amount=_not_negative(_cent(params.rate * basis)),
        daily_basis=basis,
        phase="temporary total incapacity",
        cap_applied=basic_annual_wage > params.basic_annual_wage_cap,
        paid_days_per_week=params.paid_days_per_week,
        parameters=params.versions,
    )


# --- from a declaration ---------------------------------------------------------------------------


def declared_wage(decl: RiskDeclaration) -> DeclaredWage | None:
    """The declaration's wage basis, or None when it lacks one usable for §3 (no unit or amount, unknown
    unit, negative amount, an hourly wage without MeanWorkingHours)."""
    unit, amount = decl.remuneration_time_unit, decl.remuneration_basis_amount
    if unit not in TIME_UNITS or amount is None or amount < 0:
        return None
    hours = _detail_int(decl, "MeanWorkingHours")
    if unit == HOUR and (hours is None or hours <= 0):
        return None
    return DeclaredWage(unit=unit, amount_cents=amount, mean_working_hours=hours)


def benefits_for(decl: RiskDeclaration, params: ParameterSource, *, family: Family = "single") -> list[BenefitResult]:
    """The benefits per day a DRS declaration opens, by scenario and risk code; [] when none can be computed.

    - WECH001 (C4): full unemployment, first month, parameters on the day after the end of the contract
      (the first day paid; SIMPLIFIED: a period covered by a notice indemnity, which postpones it, is
      ignored); the family situation is not declared on a C4, so ``family`` (default single).
    - WECH005: temporary unemployment, one result per declared reason (risk code), parameters on the
      first day of the reference month (SIMPLIFIED: the whole month at that day's values).
    - ZIMA001 risk 001: sickness from the first allowance day (day 31); risk 002: maternity, one result
      per phase (day 1 and day 31); parameters on the risk starting date. Other risks: nothing.
    - AOAT001/AOAT002: work accident, annual wage = monthly wage × 12, parameters on the accident date.

    Returns [] when the declaration lacks the wage data (no RemunerationTimeUnit or
    RemunerationBasisAmount, an unknown unit, an hourly wage without MeanWorkingHours) or the date its
    parameters depend on, and for every other scenario. Raises ConfigError when a parameter has no value
    in force on that date. SIMPLIFIED (CALCULATIONS.md §3): MeanWorkingHours is the first one declared in
    the form; the variable-pay cycle is ignored.
    """
    wage = declared_wage(decl)
    if wage is None:
        return []
    unit, cents, hours = wage.unit, wage.amount_cents, wage.mean_working_hours
    if decl.scenario == "WECH001":
        if decl.occupation_ending_date is None:
            return []
        paid_on = decl.occupation_ending_date + timedelta(days=1)
        result = full_unemployment(
            daily_wage(unit, cents, hours),
            month=1,
            family=family,
            params=full_unemployment_parameters(params, month=1, family=family, on=paid_on),
        )
        return [
            _noted(
                result, f"first unemployment day {paid_on:%Y-%m-%d}; family situation {family} (not declared on a C4)"
            )
        ]
    if decl.scenario == "WECH005":
        if decl.reference_start is None:
            return []
        month_start = decl.reference_start
        reasons = _Reader(params, month_start)
        force_majeure_codes = reasons.codes(f"{_TEMPORARY}.force_majeure_risk_codes")
        results = []
        for code in dict.fromkeys(decl.risk_codes):
            force_majeure = code in force_majeure_codes
            result = temporary_unemployment(
                daily_wage(unit, cents, hours),
                force_majeure=force_majeure,
                monthly_wage=monthly_wage(unit, cents, hours),
                params=temporary_unemployment_parameters(params, force_majeure=force_majeure, on=month_start),
            )
            result = replace(
                result, phase=f"reason {code}, {result.phase}", parameters=(*reasons.taken(), *result.parameters)
            )
            results.append(_noted(result, f"month from {month_start:%Y-%m-%d}"))
        return results
    if decl.scenario == "ZIMA001":
        if decl.risk_starting_date is None:
            return []
        start = decl.risk_starting_date
        results = []
        for code in dict.fromkeys(decl.risk_codes):
            if code == "001":
                sickness = sickness_parameters(params, on=start)
                day = sickness.guaranteed_wage_days + 1
                results.append(sickness_primary_incapacity(daily_wage(unit, cents, hours), day=day, params=sickness))
            elif code == "002":
                maternity = maternity_parameters(params, on=start)
                for day in (1, maternity.first_phase_days + 1):
                    results.append(maternity_rest(daily_wage(unit, cents, hours), day=day, params=maternity))
        return [_noted(result, f"risk from {start:%Y-%m-%d}") for result in results]
    if decl.scenario in ("AOAT001", "AOAT002"):
        if decl.accident_date is None:
            return []
        result = work_accident_temporary_incapacity(
            annual_wage(unit, cents, hours), params=work_accident_parameters(params, on=decl.accident_date)
        )
        return [_noted(result, f"accident on {decl.accident_date:%Y-%m-%d}; annual wage = monthly wage × 12")]
    return []


# --- helpers --------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Reader:
    """Reads parameters in force on one day and remembers the versions it read, in order."""

    params: ParameterSource
    on: date
    versions: list[str] = field(default_factory=list)

    def _value(self, name: str) -> object:
        entry = self.params.get(name, self.on)
        self.versions.append(entry.version)
        return entry.value

    def decimal(self, name: str) -> Decimal:
        value = self._value(name)
        if isinstance(value, Decimal):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return Decimal(value)
        raise ConfigError(f'parameter {name} on {self.on:%Y-%m-%d}: expected a number such as "0.60", found {value!r}')

    def integer(self, name: str) -> int:
        value = self._value(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, Decimal) and value == value.to_integral_value():
            return int(value)
        raise ConfigError(f"parameter {name} on {self.on:%Y-%m-%d}: expected a whole number, found {value!r}")

    def codes(self, name: str) -> tuple[str, ...]:
        value = self._value(name)
        if isinstance(value, tuple | list) and all(isinstance(code, str) for code in value):
            return tuple(value)
        raise ConfigError(f"parameter {name} on {self.on:%Y-%m-%d}: expected a list of codes, found {value!r}")

    def taken(self) -> tuple[str, ...]:
        return tuple(self.versions)


def _band(month: int) -> tuple[int, int | None, str]:
    if month < 1:
        raise ValueError(f"unemployment month {month}: the first month is 1")
    for first, last, name in _BANDS:
        if last is None or month <= last:
            return first, last, name
    raise AssertionError("unreachable: the last band is open-ended")


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"family situation {family!r} is unknown; expected one of {', '.join(FAMILIES)}")


def _months(first: int, last: int | None) -> str:
    return f"{first}+" if last is None else f"{first}-{last}"


def _detail_int(decl: RiskDeclaration, zone: str) -> int | None:
    """The first declared value of ``zone`` in ``details`` (matched on the last path element) as an int."""
    for path, value in decl.details:
        if path.rsplit("/", 1)[-1] == zone:
            return int(value) if value.isdigit() else None
    return None


def _nothing_paid(kind: str, phase: str, days: int, versions: tuple[str, ...], note: str) -> BenefitResult:
    """A phase in which this benefit pays nothing (someone else pays, or it has ended)."""
    return BenefitResult(
        kind=kind,
        daily_amount=ZERO,
        daily_basis=ZERO,
        phase=phase,
        cap_applied=False,
        paid_days_per_week=days,
        parameters=versions,
        notes=(note,),
    )


def _noted(result: BenefitResult, note: str) -> BenefitResult:
    return replace(result, notes=(*result.notes, note))


def _euros(hundredths: int) -> Decimal:
    return Decimal(hundredths).scaleb(-2)


def _round4(value: Decimal) -> Decimal:
    """Half-up to 0.0001: daily wages are kept at 4 decimals (§0)."""
    return value.quantize(WAGE_PLACES, ROUND_HALF_UP)


def _cent(value: Decimal) -> Decimal:
    """Half-up to the cent: every benefit is rounded once, at the end (§0)."""
    return value.quantize(CENT, ROUND_HALF_UP)


def _not_negative(value: Decimal) -> Decimal:
    """A benefit below zero is 0 (§0); also turns -0.00 into 0.00."""
    return value if value > 0 else ZERO
