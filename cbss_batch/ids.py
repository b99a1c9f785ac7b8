"""Belgian identification numbers: check digits and masking (DECLARATIONS.md §1)."""

from __future__ import annotations

# 2 000 000 000 + B: the "prefix a 2" variant of the INSZ check for people born in 2000 or later (§1.1).
_BORN_2000_OFFSET = 2_000_000_000
# Definitive NOSS numbers (glossary zone 00011, ToegelatenDomein; also the DmfA XSD maxInclusive).
NOSS_MIN = 100_006
NOSS_MAX = 199_999_934
INSZ_MASK_TAIL = "-***-**"
_UNREADABLE_INSZ_MASK = "******" + INSZ_MASK_TAIL
_INSZ_SEPARATORS = str.maketrans("", "", " .-/")


def _is_digits(text: str) -> bool:
    # str.isdigit alone accepts "²" and other non-ASCII digits that int() or the XSD would not.
    return text.isascii() and text.isdigit()


def _mod97_check(number: int) -> int:
    """The two check digits 97 − (number mod 97), in 1..97."""
    return 97 - number % 97


def is_valid_insz(text: str) -> bool:
    """True for an 11-digit INSZ/NISS (also BIS) whose check digits match either century (§1.1)."""
    if len(text) != 11 or not _is_digits(text) or int(text) == 0:
        return False
    # Only the check digits are tested: BIS months (MM + 20/40) and unknown dates (00) pass as they should.
    base, check = int(text[:9]), int(text[9:])
    return check in (_mod97_check(base), _mod97_check(_BORN_2000_OFFSET + base))



def insz_number(text: str) -> int | None:
    """The INSZ as a number when ``is_valid_insz(text)`` holds, else None: the same test with one ``int``
    instead of four (every person of a big file): the first nine digits are number // 100, the check
    digits number % 100."""
    if len(text) != 11 or not _is_digits(text):
        return None
    number = int(text)
    if number == 0:
        return None
    base, check = divmod(number, 100)
    return number if check in (_mod97_check(base), _mod97_check(_BORN_2000_OFFSET + base)) else None

def is_valid_kbo(text: str) -> bool:
    """True for a KBO/BCE enterprise number: first digit 0 or 1, check 97 − (first 8 mod 97) (§1.2)."""
    # The official XSD pattern for CompanyID is "0|\d{9}|\d{10}": a 9-digit value is the number
    # with its leading 0 dropped (xs:integer), so it is the same enterprise number.
    if len(text) == 9:
        text = "0" + text
    if len(text) != 10 or not _is_digits(text) or text[0] not in "01":
        return False
    sequence = int(text[:8])
    return sequence != 0 and int(text[8:]) == _mod97_check(sequence)


def is_valid_noss(text: str) -> bool:
    """True for a definitive NOSS number in [100006; 199999934] with N mod 97 == 96 (§1.3, derived)."""
    # xs:integer without a pattern: "70500472" and "070500472" are the same number, so compare values
    # (equivalent to left-padding to 9 digits). The mod-97 rule is ours, not documented: see §1.3.
    if not text or not _is_digits(text):
        return False
    number = int(text)
    return NOSS_MIN <= number <= NOSS_MAX and number % 97 == 96


def is_valid_local_unit(text: str) -> bool:
    """True for an establishment-unit number: 10 digits, first digit 2–8, KBO check rule (§1.4)."""
    # The check rule is derived (the fictitious 8999999xxx numbers of glossary zone 00042 all satisfy it).
    # xs:integer without a pattern: leading zeros do not change the number.
    digits = text.lstrip("0")
    if len(digits) != 10 or not _is_digits(digits) or digits[0] not in "2345678":
        return False
    return int(digits[8:]) == _mod97_check(int(digits[:8]))


def mask_insz(insz: str) -> str:
    """The INSZ with only its birth-date part kept (``"850730-***-**"``); never the full number."""
    digits = insz.translate(_INSZ_SEPARATORS)
    if len(digits) == 11 and _is_digits(digits):
        return digits[:6] + INSZ_MASK_TAIL
    # Anything else could be a partial number: keep nothing, and a fixed length hides the length.
    return _UNREADABLE_INSZ_MASK
