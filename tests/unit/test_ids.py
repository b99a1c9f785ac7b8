"""Check digits and masking of Belgian identification numbers (DECLARATIONS.md §1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cbss_batch.ids import is_valid_insz, is_valid_kbo, is_valid_local_unit, is_valid_noss, mask_insz


def insz_check(base: int, *, born_2000_or_later: bool) -> int:
    """Reference check digits for a 9-digit INSZ base, written from §1.1 independently of the code."""
    return 97 - ((2_000_000_000 if born_2000_or_later else 0) + base) % 97


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("85073003328", True),
        ("01041012343", True),
        ("91111111192", True),
        ("77101500172", True),  # official DmfA example
        ("85073003327", False),
        ("00000000000", False),
        ("0", False),
        ("8507300332", False),
        ("850730033280", False),
        ("8507300332x", False),
        ("85 73003328", False),
        ("８５０７３００３３２８", False),  # fullwidth digits pass str.isdigit but are not digits here
        ("", False),
    ],
    ids=[
        "pre-2000",
        "2000-or-later",
        "odoo-sample",
        "official-example",
        "check-off-by-one",
        "all-zero",
        "zero",
        "ten-digits",
        "twelve-digits",
        "letter",
        "space",
        "fullwidth-digits",
        "empty",
    ],
)
def test_is_valid_insz_vectors(text: str, expected: bool) -> None:
    assert is_valid_insz(text) is expected


def test_is_valid_insz_accepts_bis_months() -> None:
    for month_offset in (20, 40):
        base = int(f"85{7 + month_offset:02d}30033")
        assert is_valid_insz(f"{base:09d}{insz_check(base, born_2000_or_later=False):02d}")


@given(base=st.integers(min_value=1, max_value=999_999_999), born_2000_or_later=st.booleans())
def test_is_valid_insz_accepts_any_base_with_its_check_digits(base: int, born_2000_or_later: bool) -> None:
    check = insz_check(base, born_2000_or_later=born_2000_or_later)
    assert is_valid_insz(f"{base:09d}{check:02d}")


@given(base=st.integers(min_value=0, max_value=999_999_999), check=st.integers(min_value=0, max_value=99))
def test_is_valid_insz_rejects_any_other_check_digits(base: int, check: int) -> None:
    right = {insz_check(base, born_2000_or_later=False), insz_check(base, born_2000_or_later=True)}
    if check not in right:
        assert not is_valid_insz(f"{base:09d}{check:02d}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0403170701", True),
        ("0400767772", True),
        ("403170701", True),  # XSD pattern 0|\d{9}|\d{10}: the leading 0 may be dropped
        ("1999999943", True),  # the XSD maxInclusive
        ("0123456789", False),
        ("0403170702", False),
        ("2403170701", False),
        ("0", False),
        ("0000000097", False),
        ("00403170701", False),
        ("04031707O1", False),
        ("", False),
    ],
    ids=[
        "sample-1",
        "sample-2",
        "nine-digits",
        "xsd-max",
        "sample-invalid",
        "check-off-by-one",
        "first-digit-2",
        "zero",
        "sequence-zero",
        "eleven-digits",
        "letter-o",
        "empty",
    ],
)
def test_is_valid_kbo_vectors(text: str, expected: bool) -> None:
    assert is_valid_kbo(text) is expected


@given(sequence=st.integers(min_value=1, max_value=19_999_999))
def test_is_valid_kbo_accepts_any_sequence_with_its_check_digits(sequence: int) -> None:
    check = 97 - sequence % 97
    assert is_valid_kbo(f"{sequence:08d}{check:02d}")
    assert not is_valid_kbo(f"{sequence:08d}{check % 97 + 1:02d}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("175110801", True),
        ("070500472", True),
        ("70500472", True),  # shorter than 9 digits: the same number left-padded
        ("100006", True),  # lower bound of the domain
        ("000100006", True),
        ("199999934", True),  # upper bound of the domain
        ("175110802", False),
        ("99909", False),  # mod 97 = 96 but below the domain
        ("200000031", False),  # mod 97 = 96 but above the domain
        ("0", False),
        ("17511080a", False),
        ("", False),
    ],
    ids=[
        "sample-1",
        "sample-2",
        "unpadded",
        "lower-bound",
        "lower-bound-padded",
        "upper-bound",
        "check-off-by-one",
        "below-domain",
        "above-domain",
        "zero",
        "letter",
        "empty",
    ],
)
def test_is_valid_noss_vectors(text: str, expected: bool) -> None:
    assert is_valid_noss(text) is expected


@given(number=st.integers(min_value=100_006, max_value=199_999_934))
def test_is_valid_noss_is_the_mod_97_rule_inside_the_domain(number: int) -> None:
    assert is_valid_noss(f"{number:09d}") is (number % 97 == 96)
    assert is_valid_noss(str(number)) is (number % 97 == 96)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2000000141", True),  # official DmfA example
        ("8999999993", True),  # fictitious: foreign employer
        ("8999999104", True),
        ("2000000142", False),
        ("1000000102", False),  # KBO-style first digit
        ("9000000090", False),
        ("0", False),
        ("", False),
    ],
    ids=["official", "fictitious-1", "fictitious-2", "check", "first-1", "first-9", "zero", "empty"],
)
def test_is_valid_local_unit_vectors(text: str, expected: bool) -> None:
    assert is_valid_local_unit(text) is expected


@pytest.mark.parametrize(
    ("insz", "expected"),
    [
        ("85073003328", "850730-***-**"),
        ("85.07.30-033.28", "850730-***-**"),
        ("85073003327", "850730-***-**"),
        ("8507300332", "******-***-**"),
        ("850730033289", "******-***-**"),
        ("", "******-***-**"),
        ("not an insz", "******-***-**"),
    ],
    ids=["plain", "formatted", "invalid-check", "ten-digits", "twelve-digits", "empty", "text"],
)
def test_mask_insz(insz: str, expected: str) -> None:
    assert mask_insz(insz) == expected


@given(number=st.from_regex(r"\A[0-9]{11}\Z"), tail=st.from_regex(r"\A[0-9]{5}\Z"))
def test_mask_insz_never_depends_on_the_last_five_digits(number: str, tail: str) -> None:
    masked = mask_insz(number)
    assert masked == mask_insz(number[:6] + tail)
    assert masked == number[:6] + "-***-**"


@given(text=st.text())
def test_mask_insz_keeps_at_most_the_birth_date_of_any_string(text: str) -> None:
    masked = mask_insz(text)
    assert len(masked) == 13
    assert masked.endswith("-***-**")
    assert sum(c.isdigit() for c in masked) in (0, 6)
