"""File names of the transfer protocol (PROTOCOL.md §1–2): grammar, ACRF codes, legacy forms, context checks."""

from __future__ import annotations

import string
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cbss_batch.errors import FileNameError
from cbss_batch.names import (
    PREFIXES,
    FileName,
    SetKey,
    answer_name,
    check_name_context,
    parse_name,
    strip_xml_suffix,
)

TODAY = date(2026, 11, 28)

DAYS = st.dates()  # years 1–9999: the name always has eight date positions
FILE_TYPES = st.text(alphabet=string.ascii_uppercase, min_size=4, max_size=4)
SENDERS = st.text(alphabet=string.digits, min_size=6, max_size=6)
SEQUENCES = st.integers(min_value=1, max_value=99_999)
ENVIRONMENTS = st.sampled_from(("R", "T", "S"))


@st.composite
def part_elements(draw: st.DrawFn, prefix: str) -> tuple[int | None, int | None]:
    """(total, part) as the grammar allows them for ``prefix``."""
    total = draw(st.integers(min_value=1, max_value=9))
    part = draw(st.integers(min_value=1, max_value=total))
    if prefix in ("FI", "FS"):
        return total, part
    if prefix in ("GO", "TD"):
        return total, None
    return draw(st.sampled_from([(None, None), (total, None), (total, part)]))


@st.composite
def file_names(draw: st.DrawFn, prefix: str) -> FileName:
    total, part = draw(part_elements(prefix))
    return FileName(prefix, draw(FILE_TYPES), draw(SENDERS), draw(DAYS), draw(SEQUENCES), draw(ENVIRONMENTS),
                    total, part)


@st.composite
def canonical_texts(draw: st.DrawFn, prefix: str) -> str:
    """A valid name built as text, element by element, independently of FileName.__str__."""
    day = draw(DAYS)
    total, part = draw(part_elements(prefix))
    elements = [prefix, draw(FILE_TYPES), draw(SENDERS), f"{day.year:04d}{day.month:02d}{day.day:02d}",
                f"{draw(SEQUENCES):05d}", draw(ENVIRONMENTS)]
    elements += [str(n) for n in (total, part) if n is not None]
    return ".".join(elements)


@pytest.mark.parametrize("prefix", PREFIXES)
@given(data=st.data())
def test_any_valid_file_name_formats_and_parses_back_equal(prefix: str, data: st.DataObject) -> None:
    name = data.draw(file_names(prefix))
    assert parse_name(str(name)) == name


@pytest.mark.parametrize("prefix", PREFIXES)
@given(data=st.data())
def test_any_canonical_name_parses_and_formats_back_identical(prefix: str, data: st.DataObject) -> None:
    text = data.draw(canonical_texts(prefix))
    assert str(parse_name(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "FI.DMFA.006400.20070423.00001.R.4.1",
        "FS.DMFA.006400.20070423.00001.R.4.4",
        "GO.DMFA.006400.20070423.00001.R.4",
        "FO.ACRF.999999.20070423.00001.R",
        "FO.NOTI.999999.20070424.00001.R",
        "FI.ACRF.006400.20070424.00001.R.1.1",
        "FO.DMNO.999999.20070425.00010.R.1.1",
        "FI.DIMN.123456.20030801.00001.R.1.1",
        "FI.WECH.123456.20250109.00003.T.1.1",
        "CO.NOTI.999999.20140628.00001.R",
    ],
)
def test_protocol_examples_parse_and_format_back_identical(text: str) -> None:
    assert str(parse_name(text)) == text


def test_parse_reads_every_element() -> None:
    name = parse_name("FI.DMFA.006400.20250109.00042.T.4.3")
    assert name == FileName("FI", "DMFA", "006400", date(2025, 1, 9), 42, "T", 4, 3)
    assert name.key == SetKey("DMFA", "006400", date(2025, 1, 9), 42, "T")
    assert str(name.key) == "DMFA.006400.20250109.00042.T"
    assert FileName.parse(str(name)) == name


@pytest.mark.parametrize(("environment", "is_test"), [("R", False), ("T", True), ("S", True)])
def test_only_environment_r_is_production(environment: str, is_test: bool) -> None:
    assert parse_name(f"GO.DMFA.006400.20250109.00001.{environment}.1").is_test is is_test


def test_parts_of_one_set_share_the_set_key() -> None:
    names = ["FI.DMFA.006400.20250109.00001.R.2.1", "FI.DMFA.006400.20250109.00001.R.2.2",
             "FS.DMFA.006400.20250109.00001.R.2.1", "GO.DMFA.006400.20250109.00001.R.2"]
    assert {parse_name(n).key for n in names} == {SetKey("DMFA", "006400", date(2025, 1, 9), 1, "R")}


def test_set_keys_order_by_type_sender_day_sequence_environment() -> None:
    keys = [SetKey("DMFA", "006400", date(2025, 1, 9), 2, "R"), SetKey("DMFA", "006400", date(2025, 1, 9), 1, "T"),
            SetKey("DIMN", "999999", date(2026, 1, 1), 1, "R"), SetKey("DMFA", "006400", date(2025, 1, 8), 9, "R")]
    assert [str(k) for k in sorted(keys)] == ["DIMN.999999.20260101.00001.R", "DMFA.006400.20250108.00009.R",
                                              "DMFA.006400.20250109.00001.T", "DMFA.006400.20250109.00002.R"]


def test_with_prefix_keeps_every_other_element() -> None:
    part = parse_name("FI.DMFA.006400.20250109.00001.R.3.2")
    assert str(part.with_prefix("FS")) == "FS.DMFA.006400.20250109.00001.R.3.2"
    assert part.with_prefix("FS").key == part.key


def test_answer_name_has_no_part_elements_by_default() -> None:
    name = answer_name("ACRF", "999999", date(2007, 4, 23), 1, "R")
    assert str(name) == "FO.ACRF.999999.20070423.00001.R"
    assert parse_name(str(name)) == name


def test_answer_name_with_parts_formats_total_then_part() -> None:
    name = answer_name("DMNO", "999999", date(2007, 4, 25), 10, "R", parts=(2, 1))
    assert str(name) == "FO.DMNO.999999.20070425.00010.R.2.1"
    assert parse_name(str(name)) == name


INVALID = [
    ("XX.DMFA.006400.20250109.00001.R.1.1", "129", "unknown-prefix"),
    ("fi.DMFA.006400.20250109.00001.R.1.1", "129", "lower-case-prefix"),
    ("", "129", "empty"),
    (" FI.DMFA.006400.20250109.00001.R.1.1", "129", "leading-space"),
    ("FI.DMFA.006400.20250109.00001.R.1", "131", "fi-without-part-number"),
    ("FI.DMFA.006400.20250109.00001.R.1.1.1", "131", "fi-nine-elements"),
    ("FI.DMFA.006400.20250109.00001.R.1.1.", "131", "fi-trailing-dot"),
    ("FS.DMFA.006400.20250109.00001.R.1", "132", "fs-without-part-number"),
    ("GO.DMFA.006400.20250109.00001.R.1.1", "107", "go-with-part-number"),
    ("GO.DMFA.006400.20250109.00001", "107", "go-five-elements"),
    ("TD.DMFA.006400.20250109.00001.R.1.1", "107", "td-with-part-number"),
    ("FI.DMfA.006400.20250109.00001.R.1.1", "131", "fi-type-lower-case"),
    ("FI.DMF.006400.20250109.00001.R.1.1", "131", "fi-type-three-letters"),
    ("FI.DMF1.006400.20250109.00001.R.1.1", "131", "fi-type-digit"),
    ("FS.DMFA.06400.20250109.00001.R.1.1", "132", "fs-sender-five-digits"),
    ("GO.DMFA.00640A.20250109.00001.R.1", "107", "go-sender-letter"),
    ("FI.DMFA.0064000.20250109.00001.R.1.1", "131", "fi-sender-seven-digits"),
    ("FI.DMFA.006400.2025019.00001.R.1.1", "109", "date-seven-positions"),
    ("FI.DMFA.006400.202501090.00001.R.1.1", "109", "date-nine-positions"),
    ("FI.DMFA.006400.20250230.00001.R.1.1", "110", "date-february-30"),
    ("FI.DMFA.006400.20251301.00001.R.1.1", "110", "date-month-13"),
    ("FI.DMFA.006400.00000000.00001.R.1.1", "110", "date-all-zero"),
    ("FI.DMFA.006400.2025-1-9.00001.R.1.1", "110", "date-with-dashes"),
    ("FI.DMFA.006400.20250109.0001.R.1.1", "112", "sequence-four-positions"),
    ("FI.DMFA.006400.20250109.000001.R.1.1", "112", "sequence-six-positions"),
    ("FI.DMFA.006400.20250109.0000A.R.1.1", "113", "sequence-letter"),
    ("FI.DMFA.006400.20250109.\uff10\uff10\uff10\uff10\uff11.R.1.1", "113", "sequence-fullwidth-digits"),
    ("FI.DMFA.006400.20250109.00000.R.1.1", "127", "sequence-zero"),
    ("FI.DMFA.006400.20250109.00001.P.1.1", "117", "environment-p"),
    ("FI.DMFA.006400.20250109.00001.r.1.1", "117", "environment-lower-case"),
    ("GO.DMFA.006400.20250109.00001.RT.1", "117", "environment-two-letters"),
    ("GO.DMFA.006400.20250109.00001.R.10", "114", "total-two-positions"),
    ("GO.DMFA.006400.20250109.00001.R.X", "115", "total-letter"),
    ("GO.DMFA.006400.20250109.00001.R.0", "116", "go-total-zero"),
    ("FI.DMFA.006400.20250109.00001.R.0.1", "116", "fi-total-zero"),
    ("FI.DMFA.006400.20250109.00001.R.2.0", "116", "fi-part-zero"),
    ("FI.DMFA.006400.20250109.00001.R.2.12", "114", "fi-part-two-positions"),
    ("FI.DMFA.006400.20250109.00001.R.2.B", "115", "fi-part-letter"),
    ("FI.DMFA.006400.20250109.00001.R.2.3", "123", "fi-part-above-total"),
    ("FS.DMFA.006400.20250109.00001.R.2.3", "124", "fs-part-above-total"),
    ("FI.DMFA.006400.2025013.0000A.X.0.0", "109", "first-problem-wins"),
]


@pytest.mark.parametrize(("text", "code"), [(t, c) for t, c, _ in INVALID], ids=[i for _, _, i in INVALID])
def test_rejects_malformed_name_with_its_acrf_code(text: str, code: str) -> None:
    with pytest.raises(FileNameError) as caught:
        parse_name(text)
    assert caught.value.code == code
    assert caught.value.name == text
    assert f"ACRF-{code}" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("FI.DMFA.\uff10\uff10\uff16\uff14\uff10\uff10.20250109.00001.R.1.1", "131"),
        ("GO.DMFA.\u0660\u0660\u0666\u0664\u0660\u0660.20250109.00001.R.1", "107"),
        ("FI.DMFA.006400.\uff12\uff10\uff12\uff150109.00001.R.1.1", "110"),
    ],
    ids=["fullwidth-sender", "arabic-indic-sender", "fullwidth-date"],
)
def test_rejects_non_ascii_digits_in_sender_and_date(text: str, code: str) -> None:
    with pytest.raises(FileNameError) as caught:
        parse_name(text)
    assert caught.value.code == code


def test_formats_years_before_1000_with_four_digits() -> None:
    text = "FI.DMFA.006400.09990101.00001.R.1.1"
    assert parse_name(text).day == date(999, 1, 1)
    assert str(parse_name(text)) == text


@pytest.mark.parametrize(
    ("text", "total", "part", "canonical"),
    [
        ("FI.WECH.123456.20030801.00001.R", 1, 1, "FI.WECH.123456.20030801.00001.R.1.1"),
        ("FS.WECH.123456.20030801.00001.R", 1, 1, "FS.WECH.123456.20030801.00001.R.1.1"),
        ("GO.WECH.123456.20030801.00001.R", 1, None, "GO.WECH.123456.20030801.00001.R.1"),
        ("TD.WECH.123456.20030801.00001.R", 1, None, "TD.WECH.123456.20030801.00001.R.1"),
        ("FO.ACRF.999999.20070423.00001.R", None, None, "FO.ACRF.999999.20070423.00001.R"),
        ("CO.NOTI.999999.20140628.00001.R", None, None, "CO.NOTI.999999.20140628.00001.R"),
    ],
    ids=["fi", "fs", "go", "td", "fo", "co"],
)
def test_legacy_name_without_part_elements_reads_as_single_part_set(
    text: str, total: int | None, part: int | None, canonical: str
) -> None:
    name = parse_name(text)
    assert (name.total, name.part) == (total, part)
    assert str(name) == canonical


def test_legacy_fi_name_belongs_to_the_same_set_as_its_go() -> None:
    assert parse_name("FI.WECH.123456.20030801.00001.R").key == parse_name("GO.WECH.123456.20030801.00001.R.1").key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FI.DMFA.006400.20250109.00001.R.1.1.xml", ("FI.DMFA.006400.20250109.00001.R.1.1", True)),
        ("FI.DMFA.006400.20250109.00001.R.1.1.XML", ("FI.DMFA.006400.20250109.00001.R.1.1", True)),
        ("GO.DMFA.006400.20250109.00001.R.1.xml", ("GO.DMFA.006400.20250109.00001.R.1", True)),
        ("FI.WECH.123456.20030801.00001.R.xml", ("FI.WECH.123456.20030801.00001.R", True)),
        ("FI.DMFA.006400.20250109.00001.R.1.1.xml.xml", ("FI.DMFA.006400.20250109.00001.R.1.1.xml", True)),
        ("FI.DMFA.006400.20250109.00001.R.1.1", ("FI.DMFA.006400.20250109.00001.R.1.1", False)),
        ("FI.DMFA.006400.20250109.00001.R.1.1.pdf", ("FI.DMFA.006400.20250109.00001.R.1.1.pdf", False)),
        ("declaration.xml", ("declaration.xml", False)),
    ],
    ids=["lower", "upper", "go", "legacy", "only-one", "none", "pdf", "not-a-protocol-name"],
)
def test_strip_xml_suffix_removes_one_trailing_xml(text: str, expected: tuple[str, bool]) -> None:
    assert strip_xml_suffix(text) == expected


def test_name_with_xml_suffix_parses_once_stripped() -> None:
    stripped, had_suffix = strip_xml_suffix("FI.DMFA.006400.20250109.00001.T.2.2.xml")
    assert had_suffix
    assert parse_name(stripped) == FileName("FI", "DMFA", "006400", date(2025, 1, 9), 1, "T", 2, 2)


def test_name_with_xml_suffix_is_malformed_unless_stripped() -> None:
    with pytest.raises(FileNameError) as caught:
        parse_name("FI.DMFA.006400.20250109.00001.T.2.2.xml")
    assert caught.value.code == "131"


def _go(day: date, total: int = 1) -> FileName:
    return FileName("GO", "DMFA", "006400", day, 1, "T", total)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (TODAY, []),
        (TODAY + timedelta(days=1), ["111"]),
        (TODAY + timedelta(days=400), ["111"]),
        (TODAY - timedelta(days=1), []),
        (TODAY - timedelta(days=30), []),
        (TODAY - timedelta(days=31), ["126"]),
        (TODAY - timedelta(days=3650), ["126"]),
    ],
    ids=["today", "tomorrow", "next-year", "yesterday", "exactly-max-age", "one-day-too-old", "ten-years-old"],
)
def test_check_name_context_refuses_future_and_too_old_dates(day: date, expected: list[str]) -> None:
    assert check_name_context(_go(day), today=TODAY, max_age_days=30, max_parts=9) == expected


@pytest.mark.parametrize(
    ("total", "max_parts", "expected"),
    [(1, 1, []), (2, 1, ["128"]), (4, 4, []), (5, 4, ["128"]), (9, 9, [])],
    ids=["one-of-one", "two-above-one", "at-max", "one-above-max", "nine-of-nine"],
)
def test_check_name_context_refuses_more_parts_than_max_parts(total: int, max_parts: int,
                                                              expected: list[str]) -> None:
    assert check_name_context(_go(TODAY, total), today=TODAY, max_age_days=30, max_parts=max_parts) == expected


def test_check_name_context_reports_every_problem() -> None:
    name = _go(TODAY + timedelta(days=1), total=5)
    assert check_name_context(name, today=TODAY, max_age_days=30, max_parts=4) == ["111", "128"]


def test_check_name_context_ignores_parts_on_an_answer_without_total() -> None:
    name = parse_name("FO.ACRF.999999.20261128.00001.R")
    assert check_name_context(name, today=TODAY, max_age_days=30, max_parts=1) == []


def test_check_name_context_counts_legacy_single_part_names_as_one_part() -> None:
    name = parse_name("FI.WECH.123456.20261128.00001.R")
    assert check_name_context(name, today=TODAY, max_age_days=30, max_parts=1) == []
