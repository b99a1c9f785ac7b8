"""Social-risk benefits (CALCULATIONS.md §3): worked examples to the cent, boundaries, properties, config.

The parameters come from ``config/parameters/benefits.toml`` read here with ``tomllib`` (a small reader
following the documented layout), so these tests check the file as well as the code; one test reads it
through ``load_parameters`` as the application does.
"""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cbss_batch.calculate import benefits as b
from cbss_batch.calculate.benefits import (
    FAMILIES,
    FULL_UNEMPLOYMENT,
    MATERNITY,
    SICKNESS,
    TEMPORARY_UNEMPLOYMENT,
    WORK_ACCIDENT,
    BenefitResult,
    Family,
    annual_wage,
    benefits_for,
    daily_wage,
    full_unemployment,
    full_unemployment_parameters,
    maternity_parameters,
    maternity_rest,
    monthly_wage,
    sickness_parameters,
    sickness_primary_incapacity,
    temporary_unemployment,
    temporary_unemployment_parameters,
    work_accident_parameters,
    work_accident_temporary_incapacity,
)
from cbss_batch.errors import ConfigError
from cbss_batch.records import RiskDeclaration

BENEFITS_TOML = Path(__file__).resolve().parents[2] / "config" / "parameters" / "benefits.toml"
D = Decimal
WAGE_4000 = D("153.8462")  # € 4 000.00 a month on a 6-day week (§3.6)


# --- the parameter file, read with tomllib --------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    name: str
    value: Any
    valid_from: date
    valid_to: date | None
    source: str

    @property
    def version(self) -> str:
        return f"{self.name}@{self.valid_from:%Y-%m-%d}"


class TomlParameters:
    """``Parameters.get`` over the TOML file as documented: last entry with valid_from ≤ day, valid_to inclusive."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.tables = dict(_tables(document, ""))
        self.histories = {
            name: tuple(_entry(name, table, raw) for raw in table["values"]) for name, table in self.tables.items()
        }

    def get(self, name: str, on: date) -> Entry:
        if name not in self.histories:
            raise ConfigError(f"parameter {name} is not defined")
        found = [entry for entry in self.histories[name] if entry.valid_from <= on]
        if not found or (found[-1].valid_to is not None and on > found[-1].valid_to):
            raise ConfigError(f"parameter {name} has no value on {on}")
        return found[-1]


def _tables(document: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for key, table in document.items():
        if "values" in table:
            yield f"{prefix}{key}", table
        else:
            yield from _tables(table, f"{prefix}{key}.")


def _entry(name: str, table: Mapping[str, Any], raw: Mapping[str, Any]) -> Entry:
    value = raw["value"]
    kind = table.get("kind")
    if kind == "codes":
        value = tuple(value)
    elif kind == "integer":
        value = int(value)
    else:
        value = Decimal(value)
    valid_to = raw.get("valid_to")
    return Entry(
        name,
        value,
        date.fromisoformat(raw["valid_from"]),
        date.fromisoformat(valid_to) if valid_to else None,
        raw["source"],
    )


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    with BENEFITS_TOML.open("rb") as stream:
        return tomllib.load(stream)


@pytest.fixture(scope="module")
def params(document: dict[str, Any]) -> Any:
    return TomlParameters(document)


def cent(value: Decimal) -> Decimal:
    return value.quantize(D("0.01"), ROUND_HALF_UP)


# --- the file itself ------------------------------------------------------------------------------


def test_every_benefit_parameter_is_dated_sourced_and_well_formed(params: TomlParameters) -> None:
    assert len(params.tables) >= 80
    for name, table in params.tables.items():
        assert name.startswith("benefits."), name
        assert table.get("kind") in ("rate", "amount", "integer", "codes"), name
        entries = params.histories[name]
        assert [e.valid_from for e in entries] == sorted({e.valid_from for e in entries}), name
        for entry, raw in zip(entries, table["values"], strict=True):
            assert isinstance(raw["valid_from"], str), name  # quoted, as the layout says
            assert entry.source.startswith("[S"), name
            if table["kind"] == "codes":
                assert all(isinstance(code, str) for code in raw["value"]), name
            else:
                assert isinstance(raw["value"], str), f"{name}: numbers are strings, never floats"
            if table["kind"] == "rate":
                assert D(0) < entry.value < D(1), name
            if table["kind"] in ("amount", "integer"):
                assert entry.value >= 0, name


def test_published_maxima_match_rate_times_cap(params: TomlParameters) -> None:
    """Maxima quoted by the sources follow from rate × cap (§3.3, §3.4, §3.5)."""
    on = date(2024, 6, 1)
    cap = params.get("benefits.sickness.daily_wage_cap", on).value
    assert (
        cent(params.get("benefits.sickness.primary.rate", on).value * cap)
        == params.get("benefits.sickness.primary.maximum", on).value
        == D("107.73")
    )
    assert cent(D("0.75") * params.get("benefits.maternity.daily_wage_cap", on).value) == D("134.66")
    annual = params.get("benefits.work_accident.basic_annual_wage_cap", on).value
    assert cent(D("0.90") * (annual / 365).quantize(D("0.0001"), ROUND_HALF_UP)) == D("134.98")
    # the 2025 temporary-unemployment cap is derived from the NEO maximum: 85.81 / 0.65 (§3.2)
    tu_cap = params.get("benefits.unemployment.temporary.daily_wage_cap", date(2025, 3, 1)).value
    assert cent(D("0.65") * tu_cap) == D("85.81")


def test_unverified_values_are_absent_rather_than_guessed(params: TomlParameters) -> None:
    for band in ("months_31_36", "months_37_48", "months_49_plus"):
        assert f"benefits.unemployment.full.maximum.{band}.cohabitant" not in params.tables
    supplements = [e.value for e in params.histories["benefits.unemployment.temporary.supplement.per_day"]]
    assert D("5.10") not in supplements  # § 3.2: its start date is unverified


def test_parameter_file_loads_through_the_application_loader(tmp_path: Path, params: TomlParameters) -> None:
    loader = pytest.importorskip("cbss_batch.calculate.parameters")
    shutil.copy(BENEFITS_TOML, tmp_path / "benefits.toml")
    loaded = loader.load_parameters(tmp_path)
    for name, history in params.histories.items():
        for entry in history:
            got = loaded.get(name, entry.valid_from)
            assert (got.value, got.valid_from, got.source, got.version) == (
                entry.value,
                entry.valid_from,
                entry.source,
                entry.version,
            )
    for decl in (wech001(), wech005(("001", "004")), zima001("001"), zima001("002"), aoat001()):
        assert benefits_for(decl, loaded) == benefits_for(decl, params)


# --- §3.6 worked examples -------------------------------------------------------------------------


def test_daily_wage_of_the_worked_examples() -> None:
    assert daily_wage(4, 400000, None) == WAGE_4000


def test_full_unemployment_month_1_single_2025_03(params: TomlParameters) -> None:
    p = full_unemployment_parameters(params, month=1, family="single", on=date(2025, 3, 3))
    result = full_unemployment(WAGE_4000, month=1, family="single", params=p)
    assert result.daily_amount == D("85.81")  # 0.65 × 153.8462 = 100.00 → max 85.81
    assert result.cap_applied and not result.minimum_applied
    assert result.kind == FULL_UNEMPLOYMENT and result.paid_days_per_week == 6
    assert result.parameters == (
        "benefits.unemployment.full.rate.months_1_3@2016-01-01",
        "benefits.unemployment.full.minimum.months_1_3.single@2025-02-01",
        "benefits.unemployment.full.maximum.months_1_3.single@2025-02-01",
        "benefits.unemployment.full.paid_days_per_week@2016-01-01",
    )


def test_temporary_unemployment_economic_2025_03(params: TomlParameters) -> None:
    p = temporary_unemployment_parameters(params, force_majeure=False, on=date(2025, 3, 1))
    result = temporary_unemployment(WAGE_4000, force_majeure=False, monthly_wage=D("4000.00"), params=p)
    assert (result.daily_amount, result.employer_supplement) == (D("79.21"), D("5.20"))
    assert result.daily_basis == D("132.0154") and result.cap_applied


def test_sickness_day_40_from_2025_01_15(params: TomlParameters) -> None:
    result = sickness_primary_incapacity(WAGE_4000, day=40, params=sickness_parameters(params, on=date(2025, 1, 15)))
    assert result.daily_amount == D("92.31")
    assert not result.cap_applied and result.kind == SICKNESS
    assert "benefits.sickness.daily_wage_cap@2024-01-01" in result.parameters


@pytest.mark.parametrize(("day", "expected"), [(10, "126.15"), (45, "115.38")], ids=["day-10", "day-45"])
def test_maternity_worked_examples(params: TomlParameters, day: int, expected: str) -> None:
    result = maternity_rest(WAGE_4000, day=day, params=maternity_parameters(params, on=date(2025, 1, 15)))
    assert result.daily_amount == D(expected) and result.kind == MATERNITY


def test_work_accident_2024_basic_annual_52000(params: TomlParameters) -> None:
    p = work_accident_parameters(params, on=date(2024, 5, 10))
    result = work_accident_temporary_incapacity(D("52000"), params=p)
    assert (result.daily_basis, result.daily_amount) == (D("142.4658"), D("128.22"))
    assert result.paid_days_per_week == 7 and not result.cap_applied and result.kind == WORK_ACCIDENT


# --- wage conversion (§3) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "cents", "hours", "expected"),
    [
        (4, 400000, None, "153.8462"),  # month ÷ 26
        (3, 92308, None, "153.8467"),  # week × 13/3 ÷ 26 = 923.08 / 6
        (1, 2050, 3800, "129.8333"),  # hour × 38 h × 13/3 ÷ 26 = 20.50 × 38 / 6
        (5, 1200000, None, "153.8462"),  # quarter ÷ 3 ÷ 26
        (6, 4800000, None, "153.8462"),  # year ÷ 12 ÷ 26
        (2, 15385, None, "153.8500"),  # a daily wage is taken as it is
        (6, 39, None, "0.0013"),  # 0.39 / 312 = 0.00125 exactly: half-up, not half-even
        (1, 2001, 3803, "126.8301"),  # 20.01 × 38.03 / 6 = 126.83005 exactly: half-up
        (1, 2051, 0, "0.0000"),
        (4, 0, None, "0.0000"),
    ],
    ids=["month", "week", "hour", "quarter", "year", "day", "half-up-year", "half-up-hour", "no-hours", "zero"],
)
def test_daily_wage_per_time_unit(unit: int, cents: int, hours: int | None, expected: str) -> None:
    assert daily_wage(unit, cents, hours) == D(expected)
    assert str(daily_wage(unit, cents, hours)) == expected  # always 4 decimals


@pytest.mark.parametrize(
    ("unit", "cents", "hours", "monthly", "annual"),
    [
        (4, 400000, None, "4000.00", "48000.00"),
        (3, 92308, None, "4000.01", "48000.16"),  # 923.08 × 13/3 = 4000.0133; × 52
        (1, 2050, 3800, "3375.67", "40508.00"),  # 20.50 × 38 × 13/3 = 3375.666…; × 52
        (5, 1200000, None, "4000.00", "48000.00"),
        (6, 4800000, None, "4000.00", "48000.00"),
        (2, 15385, None, "4000.10", "48001.20"),  # daily × 26; × 312
    ],
    ids=["month", "week", "hour", "quarter", "year", "day"],
)
def test_monthly_and_annual_wage(unit: int, cents: int, hours: int | None, monthly: str, annual: str) -> None:
    assert monthly_wage(unit, cents, hours) == D(monthly)
    assert annual_wage(unit, cents, hours) == D(annual)


@pytest.mark.parametrize(
    ("unit", "cents", "hours", "message"),
    [
        (7, 100, None, "unknown"),
        (0, 100, None, "unknown"),
        (1, 2050, None, "MeanWorkingHours"),
        (1, 2050, -1, "MeanWorkingHours"),
        (4, -1, None, "negative"),
    ],
    ids=["unit-7", "unit-0", "hour-without-hours", "negative-hours", "negative-amount"],
)
def test_daily_wage_refuses_what_it_cannot_convert(unit: int, cents: int, hours: int | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        daily_wage(unit, cents, hours)


# --- full unemployment: phases, family, min/max (§3.1) --------------------------------------------

PAID_2025 = date(2025, 3, 3)


@pytest.mark.parametrize(
    ("month", "family", "wage", "expected", "capped", "raised"),
    [
        (3, "single", "110.0000", "71.50", False, False),  # 65 %
        (4, "single", "110.0000", "66.00", False, False),  # 60 % from month 4
        (12, "single", "110.0000", "66.00", False, False),
        (13, "single", "110.0000", "60.50", False, False),  # 55 % single from month 13
        (13, "family_burden", "110.0000", "68.23", False, True),  # 60 % = 66.00 < minimum 68.23
        (13, "cohabitant", "110.0000", "44.00", False, False),  # 40 %
        (3, "single", "200.0000", "85.81", True, False),  # maximum months 1-3
        (4, "single", "200.0000", "79.21", True, False),  # maximum months 4-6
        (6, "cohabitant", "200.0000", "79.21", True, False),
        (7, "family_burden", "200.0000", "73.82", True, False),  # maximum months 7-12
        (12, "single", "200.0000", "73.82", True, False),
        (13, "family_burden", "200.0000", "68.99", True, False),
        (13, "single", "200.0000", "61.86", True, False),
        (13, "cohabitant", "200.0000", "45.99", True, False),
        (25, "cohabitant", "200.0000", "42.00", True, False),
        (49, "single", "200.0000", "55.29", True, False),  # flat
        (49, "family_burden", "10.0000", "68.23", False, True),  # flat
        (1, "cohabitant", "0.0000", "53.22", False, True),
        (4, "cohabitant", "0.0000", "49.13", False, True),
    ],
    ids=lambda v: str(v),
)
def test_full_unemployment_phases_and_limits(
    params: TomlParameters, month: int, family: Family, wage: str, expected: str, capped: bool, raised: bool
) -> None:
    p = full_unemployment_parameters(params, month=month, family=family, on=PAID_2025)
    result = full_unemployment(D(wage), month=month, family=family, params=p)
    assert (result.daily_amount, result.cap_applied, result.minimum_applied) == (D(expected), capped, raised)


@pytest.mark.parametrize(
    ("wage", "expected", "capped"),
    [
        ("132.0154", "85.81", False),  # 0.65 × w = 85.81001: the maximum reached exactly
        ("132.0230", "85.81", False),  # 85.81495 rounds down to the maximum
        ("132.0231", "85.81", True),  # 85.815015 rounds to 85.82: capped
        ("100.1000", "65.07", False),  # 65.065 exactly: half-up
        ("85.0615", "55.29", False),  # 55.289975 → 55.29 = the minimum, not raised
        ("85.0600", "55.29", False),  # 55.289 → 55.29
        ("85.0500", "55.29", False),  # 55.2825 → 55.28 < minimum: raised (asserted below)
    ],
    ids=["max-exact", "max-rounds-down", "max-just-above", "half-cent", "min-exact", "min-rounds-up", "min-below"],
)
def test_full_unemployment_boundaries(params: TomlParameters, wage: str, expected: str, capped: bool) -> None:
    p = full_unemployment_parameters(params, month=1, family="single", on=PAID_2025)
    result = full_unemployment(D(wage), month=1, family="single", params=p)
    assert (result.daily_amount, result.cap_applied) == (D(expected), capped)
    assert result.minimum_applied == (wage == "85.0500")


def test_full_unemployment_parameters_must_match_month_and_family(params: TomlParameters) -> None:
    p = full_unemployment_parameters(params, month=3, family="single", on=PAID_2025)
    assert (p.first_month, p.last_month) == (1, 3)
    with pytest.raises(ValueError, match="months 1-3"):
        full_unemployment(WAGE_4000, month=4, family="single", params=p)
    with pytest.raises(ValueError, match="single"):
        full_unemployment(WAGE_4000, month=2, family="cohabitant", params=p)
    with pytest.raises(ValueError, match="first month is 1"):
        full_unemployment_parameters(params, month=0, family="single", on=PAID_2025)
    with pytest.raises(ValueError, match="unknown"):
        full_unemployment_parameters(params, month=1, family="married", on=PAID_2025)  # type: ignore[arg-type]


def test_full_unemployment_amounts_end_with_the_2026_reform(params: TomlParameters) -> None:
    full_unemployment_parameters(params, month=1, family="single", on=date(2026, 2, 28))
    with pytest.raises(ConfigError, match="no value on 2026-03-01"):
        full_unemployment_parameters(params, month=1, family="single", on=date(2026, 3, 1))
    with pytest.raises(ConfigError, match="no value on 2025-01-31"):
        full_unemployment_parameters(params, month=1, family="single", on=date(2025, 1, 31))


def test_cohabitant_from_month_31_is_not_configured(params: TomlParameters) -> None:
    with pytest.raises(ConfigError, match="not defined"):
        full_unemployment_parameters(params, month=31, family="cohabitant", on=PAID_2025)


# --- temporary unemployment (§3.2) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("wage", "force_majeure", "on", "expected", "capped"),
    [
        ("132.0154", False, date(2025, 3, 1), "79.21", False),  # cap reached exactly
        ("132.0155", False, date(2025, 3, 1), "79.21", True),  # just above
        ("132.0155", True, date(2025, 3, 1), "85.81", True),  # force majeure 65 %
        ("100.0750", False, date(2025, 3, 1), "60.05", False),  # 60.045 exactly: half-up
        ("100.0749", False, date(2025, 3, 1), "60.04", False),
        ("153.8462", False, date(2025, 1, 31), "76.13", True),  # cap 126.8890 before 2025-02-01
        ("100.0000", False, date(2023, 12, 31), "65.00", False),  # 65 % before 2024
        ("100.0000", False, date(2024, 1, 1), "60.00", False),  # 60 % from 2024
        ("100.0000", True, date(2024, 1, 1), "65.00", False),
    ],
    ids=[
        "cap-exact",
        "cap-just-above",
        "force-majeure",
        "half-cent",
        "below-half",
        "cap-2023",
        "rate-2023",
        "rate-2024",
        "force-majeure-2024",
    ],
)
def test_temporary_unemployment_boundaries(
    params: TomlParameters, wage: str, force_majeure: bool, on: date, expected: str, capped: bool
) -> None:
    p = temporary_unemployment_parameters(params, force_majeure=force_majeure, on=on)
    result = temporary_unemployment(D(wage), force_majeure=force_majeure, monthly_wage=D("3000.00"), params=p)
    assert (result.daily_amount, result.cap_applied) == (D(expected), capped)
    assert result.kind == TEMPORARY_UNEMPLOYMENT


@pytest.mark.parametrize(
    ("force_majeure", "on", "monthly", "day_in_year", "supplement"),
    [
        (False, date(2025, 3, 1), "4000.00", None, "5.20"),  # at the threshold: from day 1
        (False, date(2025, 3, 1), "4000.01", None, "0.00"),  # above it, day not known
        (False, date(2025, 3, 1), "4000.01", 26, "0.00"),
        (False, date(2025, 3, 1), "4000.01", 27, "5.20"),  # from the 27th day
        (False, date(2025, 1, 31), "2500.00", None, "5.00"),
        (False, date(2023, 12, 31), "2500.00", None, "0.00"),  # none modelled before 2024
        (True, date(2025, 3, 1), "2500.00", None, "0.00"),  # never for force majeure
    ],
    ids=["threshold", "above-unknown-day", "day-26", "day-27", "2024-amount", "before-2024", "force-majeure"],
)
def test_temporary_unemployment_employer_supplement(
    params: TomlParameters, force_majeure: bool, on: date, monthly: str, day_in_year: int | None, supplement: str
) -> None:
    p = temporary_unemployment_parameters(params, force_majeure=force_majeure, on=on)
    result = temporary_unemployment(
        WAGE_4000, force_majeure=force_majeure, monthly_wage=D(monthly), day_in_year=day_in_year, params=p
    )
    assert result.employer_supplement == D(supplement)


def test_temporary_unemployment_parameters_must_match_the_reason(params: TomlParameters) -> None:
    assert [b.is_force_majeure(code, params, date(2025, 3, 1)) for code in ("001", "004", "005", "011")] == [
        False,
        True,
        True,
        False,
    ]
    p = temporary_unemployment_parameters(params, force_majeure=True, on=date(2025, 3, 1))
    assert not any("supplement" in version for version in p.versions)
    with pytest.raises(ValueError, match="force_majeure"):
        temporary_unemployment(WAGE_4000, force_majeure=False, monthly_wage=D("1"), params=p)


# --- sickness (§3.3) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wage", "start", "day", "expected", "capped", "phase"),
    [
        ("153.8462", date(2025, 1, 15), 30, "0.00", False, "guaranteed wage (days 1-30)"),
        ("153.8462", date(2025, 1, 15), 31, "92.31", False, "days 31-365"),
        ("153.8462", date(2025, 1, 15), 365, "92.31", False, "days 31-365"),
        ("153.8462", date(2025, 1, 15), 366, "0.00", False, "invalidity (after day 365)"),
        ("179.5442", date(2025, 1, 15), 31, "107.73", False, "days 31-365"),  # cap reached exactly
        ("179.5443", date(2025, 1, 15), 31, "107.73", True, "days 31-365"),  # just above
        ("250.0000", date(2023, 12, 31), 31, "104.46", True, "days 31-365"),  # 2022-2023 cap 174.1052
        ("250.0000", date(2024, 1, 1), 31, "107.73", True, "days 31-365"),
        ("100.0750", date(2025, 1, 15), 31, "60.05", False, "days 31-365"),  # 60.045 exactly: half-up
    ],
    ids=["day-30", "day-31", "day-365", "day-366", "cap-exact", "cap-just-above", "cap-2023", "cap-2024", "half-cent"],
)
def test_sickness_boundaries(
    params: TomlParameters, wage: str, start: date, day: int, expected: str, capped: bool, phase: str
) -> None:
    result = sickness_primary_incapacity(D(wage), day=day, params=sickness_parameters(params, on=start))
    assert (result.daily_amount, result.cap_applied, result.phase) == (D(expected), capped, phase)


def test_sickness_refuses_day_zero(params: TomlParameters) -> None:
    with pytest.raises(ValueError, match="first day is 1"):
        sickness_primary_incapacity(WAGE_4000, day=0, params=sickness_parameters(params, on=date(2025, 1, 1)))


# --- maternity (§3.4) -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wage", "day", "multiple", "expected", "capped"),
    [
        ("300.0000", 30, False, "246.00", False),  # 82 %, NOT capped
        ("300.0000", 31, False, "134.66", True),  # 75 % of the cap 179.5442
        ("179.5442", 31, False, "134.66", False),  # cap reached exactly
        ("179.5443", 31, False, "134.66", True),
        ("100.2500", 1, False, "82.21", False),  # 82.205 exactly: half-up
        ("100.0600", 31, False, "75.05", False),  # 75.045 exactly: half-up
        ("153.8462", 105, False, "115.38", False),  # last day of 15 weeks
        ("153.8462", 106, False, "0.00", False),
        ("153.8462", 133, True, "115.38", False),  # last day of 19 weeks
        ("153.8462", 134, True, "0.00", False),
    ],
    ids=[
        "day-30-uncapped",
        "day-31-capped",
        "cap-exact",
        "cap-just-above",
        "half-cent-82",
        "half-cent-75",
        "day-105",
        "day-106",
        "multiple-day-133",
        "multiple-day-134",
    ],
)
def test_maternity_boundaries(
    params: TomlParameters, wage: str, day: int, multiple: bool, expected: str, capped: bool
) -> None:
    p = maternity_parameters(params, on=date(2025, 1, 15), multiple_birth=multiple)
    result = maternity_rest(D(wage), day=day, params=p)
    assert (result.daily_amount, result.cap_applied) == (D(expected), capped)


# --- work accident (§3.5) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annual", "expected", "capped"),
    [
        ("54743.48", "134.98", False),  # cap reached exactly: 149.9821 × 0.90
        ("54743.49", "134.98", True),
        ("100000.00", "134.98", True),
        ("36518.25", "90.05", False),  # 100.0500 × 0.90 = 90.045 exactly: half-up
        ("0", "0.00", False),
    ],
    ids=["cap-exact", "cap-just-above", "far-above", "half-cent", "zero"],
)
def test_work_accident_boundaries(params: TomlParameters, annual: str, expected: str, capped: bool) -> None:
    result = work_accident_temporary_incapacity(
        D(annual), params=work_accident_parameters(params, on=date(2024, 5, 10))
    )
    assert (result.daily_amount, result.cap_applied) == (D(expected), capped)


def test_work_accident_before_2024_has_no_cap_configured(params: TomlParameters) -> None:
    with pytest.raises(ConfigError, match="basic_annual_wage_cap"):
        work_accident_parameters(params, on=date(2023, 12, 31))


# --- properties: never negative, never above the cap, monotone up to the cap ----------------------

wages = st.integers(min_value=0, max_value=5_000_000).map(lambda n: Decimal(n).scaleb(-4))  # 0 … 500.0000
days = st.sampled_from([date(2024, 1, 1), date(2024, 7, 1), date(2025, 2, 1), date(2025, 6, 30)])


@given(
    unit=st.sampled_from(b.TIME_UNITS),
    cents=st.integers(0, 10**10 - 1),
    more=st.integers(0, 10**6),
    hours=st.integers(0, 6000),
)
def test_daily_wage_is_monotone_and_not_negative(unit: int, cents: int, more: int, hours: int) -> None:
    low, high = daily_wage(unit, cents, hours), daily_wage(unit, cents + more, hours)
    assert D(0) <= low <= high
    assert low == low.quantize(D("0.0001"))


@given(w1=wages, w2=wages, month=st.integers(1, 60), family=st.sampled_from(FAMILIES), on=days)
def test_full_unemployment_properties(
    params: TomlParameters, w1: Decimal, w2: Decimal, month: int, family: Family, on: date
) -> None:
    if on < date(2025, 2, 1):
        on = PAID_2025
    if family == "cohabitant" and month >= 31:
        month = 30
    p = full_unemployment_parameters(params, month=month, family=family, on=on)
    low, high = (full_unemployment(w, month=month, family=family, params=p) for w in sorted((w1, w2)))
    for result in (low, high):
        assert D(0) <= result.daily_amount <= p.maximum
        assert result.daily_amount >= min(p.minimum, p.maximum)
        assert_money(result)
    assert low.daily_amount <= high.daily_amount


@given(w1=wages, w2=wages, force_majeure=st.booleans(), on=days)
def test_temporary_unemployment_properties(
    params: TomlParameters, w1: Decimal, w2: Decimal, force_majeure: bool, on: date
) -> None:
    p = temporary_unemployment_parameters(params, force_majeure=force_majeure, on=on)
    check_capped(
        lambda w: temporary_unemployment(w, force_majeure=force_majeure, monthly_wage=D("3000.00"), params=p),
        w1,
        w2,
        p.rate,
        p.daily_wage_cap,
    )


@given(w1=wages, w2=wages, day=st.integers(31, 365), on=days)
def test_sickness_properties(params: TomlParameters, w1: Decimal, w2: Decimal, day: int, on: date) -> None:
    p = sickness_parameters(params, on=on)
    check_capped(lambda w: sickness_primary_incapacity(w, day=day, params=p), w1, w2, p.rate, p.daily_wage_cap)


@given(w1=wages, w2=wages, day=st.integers(1, 133), multiple=st.booleans(), on=days)
def test_maternity_properties(
    params: TomlParameters, w1: Decimal, w2: Decimal, day: int, multiple: bool, on: date
) -> None:
    p = maternity_parameters(params, on=on, multiple_birth=multiple)
    low, high = (maternity_rest(w, day=day, params=p) for w in sorted((w1, w2)))
    assert D(0) <= low.daily_amount <= high.daily_amount
    if p.first_phase_days < day <= p.duration_weeks * 7:  # capped from day 31; days 1-30 are NOT capped (§3.4)
        check_capped(lambda w: maternity_rest(w, day=day, params=p), w1, w2, p.later_rate, p.daily_wage_cap)


@given(a1=st.integers(0, 20_000_000), a2=st.integers(0, 20_000_000), on=days)
def test_work_accident_properties(params: TomlParameters, a1: int, a2: int, on: date) -> None:
    p = work_accident_parameters(params, on=on)
    low, high = (work_accident_temporary_incapacity(D(a).scaleb(-2), params=p) for a in sorted((a1, a2)))
    most = cent(p.rate * (p.basic_annual_wage_cap / p.days_per_year).quantize(D("0.0001"), ROUND_HALF_UP))
    assert D(0) <= low.daily_amount <= high.daily_amount <= most
    assert_money(low)


def check_capped(compute: Any, w1: Decimal, w2: Decimal, rate: Decimal, cap: Decimal) -> None:
    """0 ≤ amount ≤ rate × cap, monotone in the wage, constant from the cap on."""
    low, high = (compute(w) for w in sorted((w1, w2)))
    most = cent(rate * cap)
    assert D(0) <= low.daily_amount <= high.daily_amount <= most
    assert compute(max(w1, w2, cap)).daily_amount == compute(cap).daily_amount == most
    assert_money(low)
    assert high.cap_applied == (max(w1, w2) > cap)


def assert_money(result: BenefitResult) -> None:
    assert result.daily_amount == result.daily_amount.quantize(D("0.01"))
    assert result.daily_amount.as_tuple().exponent == -2


def test_negative_wage_gives_zero_not_a_negative_benefit(params: TomlParameters) -> None:
    on = date(2025, 3, 1)
    minus = D("-10.0000")
    assert sickness_primary_incapacity(minus, day=31, params=sickness_parameters(params, on=on)).daily_amount == 0
    assert maternity_rest(minus, day=1, params=maternity_parameters(params, on=on)).daily_amount == 0
    assert work_accident_temporary_incapacity(D("-1"), params=work_accident_parameters(params, on=on)).daily_amount == 0
    p = temporary_unemployment_parameters(params, force_majeure=True, on=on)
    assert temporary_unemployment(minus, force_majeure=True, monthly_wage=D(0), params=p).daily_amount == 0
    assert (
        str(sickness_primary_incapacity(minus, day=31, params=sickness_parameters(params, on=on)).daily_amount)
        == "0.00"
    )


# --- from a declaration ---------------------------------------------------------------------------


def decl(scenario: str, **overrides: Any) -> RiskDeclaration:
    fields: dict[str, Any] = {
        "form_index": 1,
        "scenario": scenario,
        "identification": scenario,
        "created_on": date(2025, 3, 5),
        "created_at": "08:00:00.000",
        "sender_reference": None,
        "risk_codes": ("001",),
        "noss_number": "175110801",
        "company_id": "0403170701",
        "insz": "85073003328",
        "worker_code": "015",
        "joint_committee": "200",
        "risk_starting_date": None,
        "last_working_day": None,
        "work_recovery_date": None,
        "accident_date": None,
        "occupation_starting_date": date(2020, 1, 1),
        "occupation_ending_date": None,
        "reference_start": None,
        "reference_end": None,
        "remuneration_time_unit": 4,
        "remuneration_basis_amount": 400000,
        "remuneration_cycle": None,
        "lost_hours": None,
        "lost_wage": None,
        "line": 3,
        "details": (),
    }
    fields.update(overrides)
    return RiskDeclaration(**fields)


def wech001(**overrides: Any) -> RiskDeclaration:
    return decl("WECH001", **{"occupation_ending_date": date(2025, 2, 28), **overrides})


def wech005(risks: tuple[str, ...], **overrides: Any) -> RiskDeclaration:
    return decl(
        "WECH005",
        **{"risk_codes": risks, "reference_start": date(2025, 3, 1), "reference_end": date(2025, 3, 31), **overrides},
    )


def zima001(risk: str, **overrides: Any) -> RiskDeclaration:
    return decl("ZIMA001", **{"risk_codes": (risk,), "risk_starting_date": date(2025, 1, 15), **overrides})


def aoat001(**overrides: Any) -> RiskDeclaration:
    return decl("AOAT001", **{"risk_codes": ("001",), "accident_date": date(2024, 5, 10), **overrides})


def outline(results: list[BenefitResult]) -> list[tuple[str, str, str, str]]:
    return [(r.kind, r.phase, str(r.daily_amount), str(r.employer_supplement)) for r in results]


def test_benefits_for_each_scenario(params: TomlParameters) -> None:
    assert outline(benefits_for(wech001(), params)) == [(FULL_UNEMPLOYMENT, "months 1-3, single", "85.81", "0.00")]
    assert outline(benefits_for(wech001(), params, family="cohabitant")) == [
        (FULL_UNEMPLOYMENT, "months 1-3, cohabitant", "85.81", "0.00")
    ]
    assert outline(benefits_for(wech005(("001", "004", "001")), params)) == [
        (TEMPORARY_UNEMPLOYMENT, "reason 001, other reasons", "79.21", "5.20"),
        (TEMPORARY_UNEMPLOYMENT, "reason 004, force majeure", "85.81", "0.00"),
    ]
    assert outline(benefits_for(zima001("001"), params)) == [(SICKNESS, "days 31-365", "92.31", "0.00")]
    assert outline(benefits_for(zima001("002"), params)) == [
        (MATERNITY, "days 1-30", "126.15", "0.00"),
        (MATERNITY, "days 31-105", "115.38", "0.00"),
    ]
    # 4 000 × 12 = 48 000 → 131.5068 × 0.90 = 118.36
    assert outline(benefits_for(aoat001(), params)) == [(WORK_ACCIDENT, "temporary total incapacity", "118.36", "0.00")]
    assert outline(benefits_for(decl("AOAT002", accident_date=date(2024, 5, 10)), params)) == [
        (WORK_ACCIDENT, "temporary total incapacity", "118.36", "0.00")
    ]


def test_benefits_for_uses_the_dates_of_section_0(params: TomlParameters) -> None:
    (unemployed,) = benefits_for(wech001(), params)
    assert "first unemployment day 2025-03-01" in unemployed.notes[-1]
    assert "benefits.unemployment.full.maximum.months_1_3.single@2025-02-01" in unemployed.parameters
    (sick_2023,) = benefits_for(
        zima001("001", risk_starting_date=date(2023, 12, 31), remuneration_basis_amount=600000), params
    )
    assert sick_2023.daily_amount == D("104.46")  # the cap in force on the start of the incapacity
    (temporary,) = benefits_for(wech005(("001",), reference_start=date(2025, 1, 1)), params)
    assert temporary.parameters[0] == "benefits.unemployment.temporary.force_majeure_risk_codes@2016-01-01"
    assert (temporary.daily_amount, temporary.employer_supplement) == (D("76.13"), D("5.00"))
    with pytest.raises(ConfigError):  # the 2026 reform is not modelled: no amount rather than a stale one
        benefits_for(wech001(occupation_ending_date=date(2026, 6, 30)), params)


def test_benefits_for_reads_mean_working_hours_for_an_hourly_wage(params: TomlParameters) -> None:
    hourly = {"remuneration_time_unit": 1, "remuneration_basis_amount": 2050}
    path = "EmployerDeclaration/NaturalPerson/WorkerRecord/Occupation/"
    details = ((f"{path}RefMeanWorkingHours", "4000"), (f"{path}MeanWorkingHours", "3800"))
    (result,) = benefits_for(zima001("001", details=details, **hourly), params)
    assert (result.daily_basis, result.daily_amount) == (D("129.8333"), D("77.90"))
    assert benefits_for(zima001("001", details=details[:1], **hourly), params) == []


@pytest.mark.parametrize(
    "declaration",
    [
        zima001("001", remuneration_time_unit=None),
        zima001("001", remuneration_basis_amount=None),
        zima001("001", remuneration_time_unit=9),
        zima001("001", remuneration_time_unit=1),  # hourly without MeanWorkingHours
        zima001("001", details=(("MeanWorkingHours", "0"),), remuneration_time_unit=1),
        zima001("001", risk_starting_date=None),
        zima001("003"),  # full removal from work: not computed
        wech001(occupation_ending_date=None),
        wech005(("001",), reference_start=None),
        wech005(()),
        aoat001(accident_date=None),
        decl("AOAT003", accident_date=date(2024, 5, 10)),
        decl("WECH002", reference_start=date(2025, 3, 1)),
        decl("TWCT001"),
    ],
    ids=[
        "no-unit",
        "no-amount",
        "unknown-unit",
        "hourly-without-hours",
        "hourly-zero-hours",
        "no-start",
        "risk-003",
        "no-contract-end",
        "no-month",
        "no-reason",
        "no-accident-date",
        "aoat003",
        "wech002",
        "twct001",
    ],
)
def test_benefits_for_returns_nothing_without_the_data(params: TomlParameters, declaration: RiskDeclaration) -> None:
    assert benefits_for(declaration, params) == []


def test_results_are_frozen_and_list_their_parameter_versions(params: TomlParameters) -> None:
    for declaration in (wech001(), wech005(("001",)), zima001("001"), zima001("002"), aoat001()):
        for result in benefits_for(declaration, params):
            assert result.parameters and all("@" in version for version in result.parameters)
            for version in result.parameters:
                name, valid_from = version.split("@")
                assert name in params.tables and valid_from[:2] == "20"
            with pytest.raises(AttributeError):
                result.daily_amount = D(0)  # type: ignore[misc]
            assert result.daily_amount == result.daily_amount.quantize(D("0.01"))


def test_module_is_pure() -> None:
    """No clock, no I/O: dates and parameters are passed in (STYLE §3)."""
    source = Path(b.__file__).read_text(encoding="utf-8")
    for call in ("today(", "now(", "open(", "read_text(", "load_parameters(", "getenv(", "environ"):
        assert call not in source, call
