"""Effective-dated calculation parameters: the committed values, lookups by date, refused files."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from cbss_batch.calculate.parameters import DEFAULT, Parameters, ParameterValue, load_parameters
from cbss_batch.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
CONTRIBUTIONS = ROOT / "config" / "parameters" / "contributions.toml"


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def one(valid_from: str = "2024-01-01", value: str = '"0.10"', extra: str = "") -> str:
    """A parameter file with one rate parameter ``demo.rate`` and one entry."""
    entry = f'{{valid_from = "{valid_from}", value = {value}, source = "t"{extra}}}'
    return f'["demo.rate"]\nkind = "rate"\nvalues = [{entry}]\n'


def entries(*lines: str) -> str:
    """A parameter file with the rate parameter ``demo.rate`` and the given inline entries."""
    body = ",\n".join(f'  {{{line}, source = "t"}}' for line in lines)
    return f'["demo.rate"]\nkind = "rate"\nvalues = [\n{body},\n]\n'


# --- the committed parameters ----------------------------------------------------------------------


def test_default_folder_is_config_parameters_beside_the_package() -> None:
    assert DEFAULT == ROOT / "config" / "parameters"


@pytest.fixture(scope="module")
def params() -> Parameters:
    return load_parameters()


@pytest.mark.parametrize(
    ("name", "on", "expected"),
    [
        ("worker_rate", date(2025, 1, 1), Decimal("0.1307")),
        ("employer_rate.cat1_private_profit", date(2024, 4, 1), Decimal("0.2500")),
        ("employer_rate.cat2_private_nonprofit", date(2025, 1, 1), Decimal("0.3200")),
        ("employer_rate.cat3_sheltered", date(2025, 1, 1), Decimal("0.1988")),
        ("employer_rate.cat1_basic", date(2025, 1, 1), Decimal("0.1988")),
        ("employer_rate.cat1_wage_moderation", date(2025, 1, 1), Decimal("0.0512")),
        ("manual_worker_factor", date(2025, 1, 1), Decimal("1.08")),
        ("special.809.commercial_lt20", date(2025, 1, 1), Decimal("0.0018")),
        ("special.809.commercial_ge20", date(2025, 1, 1), Decimal("0.0023")),
        ("special.809.noncommercial", date(2025, 1, 1), Decimal("0.0001")),
        ("special.810.rate", date(2024, 10, 1), Decimal("0.0010")),
        ("special.810.rate", date(2024, 12, 31), Decimal("0.0010")),
        ("special.810.rate", date(2025, 1, 1), Decimal("0.0017")),
        ("special.855.rate", date(2025, 1, 1), Decimal("0.0169")),
        ("special.859.rate", date(2025, 1, 1), Decimal("0.0010")),
        ("special.831.rate", date(2025, 1, 1), Decimal("0.0023")),
        ("special.256.rate", date(2025, 1, 1), Decimal("0.0001")),
        ("special.255.rate", date(2025, 1, 1), Decimal("0.0002")),
        ("student.rate", date(2025, 1, 1), Decimal("0.0813")),
        ("student.employer_share", date(2025, 1, 1), Decimal("0.0542")),
        ("student.worker_share", date(2025, 1, 1), Decimal("0.0271")),
        ("unrelated.870.rate", date(2025, 1, 1), Decimal("0.1307")),
        ("unrelated.864_865.rate", date(2025, 1, 1), Decimal("0.0886")),
        ("structural_reduction.alpha", date(2025, 7, 1), Decimal("0.14")),
        ("structural_reduction.s0", date(2025, 3, 31), Decimal("11013.62")),
        ("structural_reduction.s0", date(2025, 4, 1), Decimal("11233.89")),
        ("structural_reduction.gamma", date(2020, 1, 1), Decimal("0.40")),
        ("structural_reduction.gamma", date(2025, 4, 1), Decimal("0.21")),
        ("structural_reduction.gamma", date(2025, 7, 1), Decimal("0.15")),
        ("structural_reduction.s2", date(2025, 1, 1), Decimal("6943.32")),
        ("structural_reduction.s2", date(2025, 4, 1), Decimal("8400.00")),
        ("structural_reduction.s2", date(2026, 1, 1), Decimal("9360.00")),
    ],
)
def test_committed_rates_are_those_of_calculations_md(
    name: str, on: date, expected: Decimal, params: Parameters
) -> None:
    value = params.get(name, on)
    assert value.decimal == expected
    assert str(value.decimal) == str(expected)  # the scale as written, e.g. "0.2500"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("manual_worker_codes", ("015", "024", "027", "035", "046", "047")),
        ("basis_remuneration_codes", ("001", "002", "003", "004", "005", "006", "007")),
        ("special.831.joint_committees", ("200",)),
        ("special.256.quarters", ("1", "2", "3")),
        ("student.worker_codes", ("840", "841")),
        ("structural_reduction.wage_codes", ("001", "002", "004", "005", "012")),
        ("structural_reduction.excluded_remuneration_codes", ("003", "009", "022")),
    ],
)
def test_committed_code_lists(name: str, expected: tuple[str, ...], params: Parameters) -> None:
    assert params.get(name, date(2025, 1, 1)).codes == expected


def test_committed_thresholds_are_integers(params: Parameters) -> None:
    assert params.get("special.809.size_threshold", date(2025, 1, 1)).integer == 20
    assert params.get("special.855.min_workers", date(2025, 1, 1)).integer == 10


def test_combined_ordinary_rate_is_38_07_percent_from_2024q2(params: Parameters) -> None:
    on = date(2024, 4, 1)
    total = params.get("worker_rate", on).decimal + params.get("employer_rate.cat1_private_profit", on).decimal
    assert total == Decimal("0.3807")


def test_every_committed_entry_names_its_source(params: Parameters) -> None:
    for name in params.names():
        for entry in params.history(name):
            assert entry.source, entry.version
            if params.files[name] == str(CONTRIBUTIONS):
                assert entry.source.startswith("[S") or "unverified" in entry.source, entry.version


def test_lookup_picks_the_last_entry_starting_on_or_before_the_day(params: Parameters) -> None:
    assert params.get("special.810.rate", date(2024, 12, 31)).version == "special.810.rate@2016-01-01"
    assert params.get("special.810.rate", date(2025, 1, 1)).version == "special.810.rate@2025-01-01"
    assert params.get("special.810.rate", date(2030, 6, 1)).version == "special.810.rate@2025-01-01"


def test_lookup_before_the_first_entry_names_the_first_valid_from(params: Parameters) -> None:
    expected = r"special\.809\.commercial_lt20 has no value on 2024-10-01; first valid_from is 2025-01-01"
    with pytest.raises(ConfigError, match=expected):
        params.get("special.809.commercial_lt20", date(2024, 10, 1))


def test_lookup_of_an_unknown_parameter_says_so(params: Parameters) -> None:
    with pytest.raises(ConfigError, match="parameter no.such is not defined"):
        params.get("no.such", date(2025, 1, 1))


def test_value_accessors_refuse_the_wrong_kind(params: Parameters) -> None:
    with pytest.raises(ConfigError, match="kind codes, not a decimal"):
        _ = params.get("manual_worker_codes", date(2025, 1, 1)).decimal
    with pytest.raises(ConfigError, match="kind rate, not a code list"):
        _ = params.get("worker_rate", date(2025, 1, 1)).codes
    with pytest.raises(ConfigError, match="kind rate, not an integer"):
        _ = params.get("worker_rate", date(2025, 1, 1)).integer


def test_version_is_name_at_valid_from() -> None:
    value = ParameterValue(name="a.b", value=Decimal("0.1"), valid_from=date(2025, 1, 1), source="t", kind="rate")
    assert value.version == "a.b@2025-01-01"


# --- reading files ------------------------------------------------------------------------------------


def test_valid_to_ends_a_parameter(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", entries('valid_from = "2024-01-01", valid_to = "2024-12-31", value = "0.10"'))
    params = load_parameters(tmp_path)
    assert params.get("demo.rate", date(2024, 12, 31)).decimal == Decimal("0.10")
    with pytest.raises(ConfigError, match=r"no value on 2025-01-01; its last entry ended on 2024-12-31"):
        params.get("demo.rate", date(2025, 1, 1))


def test_consecutive_entries_with_valid_to_the_day_before_are_accepted(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.toml",
        entries(
            'valid_from = "2024-01-01", valid_to = "2024-12-31", value = "0.10"',
            'valid_from = "2025-01-01", value = "0.17"',
        ),
    )
    params = load_parameters(tmp_path)
    assert params.get("demo.rate", date(2024, 12, 31)).decimal == Decimal("0.10")
    assert params.get("demo.rate", date(2025, 1, 1)).decimal == Decimal("0.17")


def test_nested_tables_and_unquoted_dates_read_like_dotted_names(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.toml",
        '[demo.rate]\nkind = "rate"\nvalues = [{valid_from = 2024-01-01, value = "0.10", source = "t"}]\n'
        '[demo.rate.child]\nvalues = [{valid_from = "2024-01-01", value = ["1", "2"], source = "t"}]\n',
    )
    params = load_parameters(tmp_path)
    assert params.get("demo.rate", date(2024, 1, 1)).decimal == Decimal("0.10")
    assert params.get("demo.rate.child", date(2024, 1, 1)).codes == ("1", "2")  # kind inferred from the list


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            entries('valid_from = "2024-01-01", value = "0.10"', 'valid_from = "2024-01-01", value = "0.17"'),
            r"parameter demo\.rate, entry 2 \(valid_from 2024-01-01\): overlap: entry 1 starts on the same day",
        ),
        (
            entries('valid_from = "2025-01-01", value = "0.10"', 'valid_from = "2024-01-01", value = "0.17"'),
            r"parameter demo\.rate, entry 2 \(valid_from 2024-01-01\): entries are not in date order",
        ),
        (
            entries(
                'valid_from = "2024-01-01", valid_to = "2024-12-31", value = "0.10"',
                'valid_from = "2024-12-01", value = "0.17"',
            ),
            r"parameter demo\.rate, entry 2 \(valid_from 2024-12-01\): overlap: entry 1 runs until 2024-12-31",
        ),
        (
            entries(
                'valid_from = "2024-01-01", valid_to = "2024-11-30", value = "0.10"',
                'valid_from = "2025-01-01", value = "0.17"',
            ),
            r"parameter demo\.rate, entry 2 \(valid_from 2025-01-01\): gap: entry 1 ends 2024-11-30 \(valid_to\), "
            r"so no value applies from 2024-12-01",
        ),
        (
            entries('valid_from = "2024-01-01", valid_to = "2023-12-31", value = "0.10"'),
            r"entry 1 \(valid_from 2024-01-01\): valid_to 2023-12-31 is before valid_from",
        ),
        (one(valid_from="2024-13-01"), r"parameter demo\.rate, entry 1: valid_from '2024-13-01' is not a date"),
        (one(valid_from="01/04/2024"), r"entry 1: valid_from '01/04/2024' is not a date YYYY-MM-DD"),
        (one(extra=', valid_to = "soon"'), r"entry 1 \(valid_from 2024-01-01\): valid_to 'soon' is not a date"),
        (one(value='"0,25"'), r"entry 1 \(valid_from 2024-01-01\): value '0,25' is not a decimal number"),
        (one(value="0.25"), r"entry 1 \(valid_from 2024-01-01\): value 0\.25 must be a string"),
        (one(value='"1.5"'), r"entry 1 \(valid_from 2024-01-01\): rate 1\.5 is not a fraction between 0 and 1"),
        (one(value='["015"]'), r"value \['015'\] must be a string"),
        (one(extra=', note = "x"'), r"parameter demo\.rate, entry 1: unknown key\(s\) note"),
        ('["demo.rate"]\nvalues = [{valid_from = "2024-01-01", value = "0.1"}]\n', r"entry 1: missing source"),
        ('["demo.rate"]\nvalues = [{valid_from = "2024-01-01", value = "0.1", source = " "}]\n', r"source must name"),
        (
            '["demo.rate"]\nkind = "percent"\nvalues = [{valid_from = "2024-01-01", value = "1", source = "t"}]\n',
            r"parameter demo\.rate: kind 'percent' is not one of",
        ),
        ('["demo.rate"]\nvalue = "0.1"\nvalues = []\n', r"parameter demo\.rate: unknown key\(s\) value"),
        ('["demo.rate"]\nvalues = []\n', r"parameter demo\.rate: values must be a non-empty array"),
        (
            '["demo.codes"]\nkind = "codes"\nvalues = [{valid_from = "2024-01-01", value = [15], source = "t"}]\n',
            r"parameter demo\.codes, entry 1 \(valid_from 2024-01-01\): value \[15\] must be an array of",
        ),
        (
            '["demo.codes"]\nvalues = [{valid_from = "2024-01-01", value = ["1", "1"], source = "t"}]\n',
            r"lists a code twice",
        ),
        (
            '["demo.n"]\nkind = "integer"\nvalues = [{valid_from = "2024-01-01", value = "1.5", source = "t"}]\n',
            r"parameter demo\.n, entry 1 \(valid_from 2024-01-01\): value '1\.5' is not an integer",
        ),
        (
            '["Demo Rate"]\nvalues = [{valid_from = "2024-01-01", value = "0.1", source = "t"}]\n',
            r"parameter name 'Demo Rate' is not valid",
        ),
        (
            '["demo.rate"]\nvalues = [{valid_from = "2024-01-01", value = "0.1", source = "t"}]\n'
            '[demo]\nrate = {values = [{valid_from = "2024-01-01", value = "0.2", source = "t"}]}\n',
            r"parameter demo\.rate is defined twice in this file",
        ),
        ('top = "0.1"\n', r"top = '0\.1' is not a table"),
        ("this is = not toml [", r"not valid TOML"),
    ],
    ids=[
        "duplicate-valid-from-overlap",
        "unsorted",
        "valid-to-overlap",
        "gap-after-valid-to",
        "valid-to-before-valid-from",
        "bad-date",
        "date-not-iso",
        "bad-valid-to",
        "decimal-comma",
        "float-not-string",
        "rate-above-one",
        "list-for-a-rate",
        "unknown-entry-key",
        "missing-source",
        "blank-source",
        "unknown-kind",
        "unknown-table-key",
        "no-values",
        "codes-not-strings",
        "duplicate-code",
        "integer-not-integer",
        "bad-name",
        "name-twice-two-spellings",
        "not-a-table",
        "not-toml",
    ],
)
def test_refuses_a_bad_file_naming_file_parameter_and_entry(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "bad.toml", text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_parameters(tmp_path)
    assert str(path) in str(caught.value)


def test_refuses_a_parameter_defined_in_two_files(tmp_path: Path) -> None:
    first = write(tmp_path, "a.toml", one())
    second = write(tmp_path, "b.toml", one(valid_from="2025-01-01"))
    with pytest.raises(ConfigError, match=r"parameter demo\.rate is already defined in") as caught:
        load_parameters(tmp_path)
    assert str(first) in str(caught.value) and str(second) in str(caught.value)


def test_reads_every_toml_file_of_the_folder(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", one())
    write(tmp_path, "b.toml", '["other"]\nvalues = [{valid_from = "2024-01-01", value = "12.5", source = "t"}]\n')
    write(tmp_path, "notes.txt", "not read")
    params = load_parameters(tmp_path)
    assert params.names() == ("demo.rate", "other")
    assert params.files["other"] == str(tmp_path / "b.toml")
    assert "other" in params and "notes" not in params


def test_refuses_a_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_parameters(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match=r"holds no \*\.toml file"):
        load_parameters(tmp_path)
