"""File names of the transfer protocol (PROTOCOL.md §1): one value type that parses and formats them.

``FI.DMFA.006400.20250109.00001.R.4.1`` — prefix, type, sender, creation date, sequence,
environment, total parts, part number. ``GO``/``TD`` carry the total but no part number; answers
(``FO``/``CO``) carry neither unless they are multi-part notifications. Older senders omit the
part elements; such names are accepted and read as a single-part set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from cbss_batch.errors import FileNameError

SENDER_PREFIXES = ("FI", "FS", "GO", "TD")
ANSWER_PREFIXES = ("FO", "CO")
PREFIXES = SENDER_PREFIXES + ANSWER_PREFIXES
ENVIRONMENTS = ("R", "T", "S")

_STRUCTURE_CODE = {"GO": "107", "TD": "107", "FI": "131", "FS": "132", "FO": "131", "CO": "131"}
_TYPE = re.compile(r"[A-Z]{4}")
_SENDER = re.compile(r"[0-9]{6}")  # ASCII digits only: \d would accept any Unicode digit
_XML_SUFFIX = ".xml"


@dataclass(frozen=True, slots=True, order=True)
class SetKey:
    """What the files of one set share: type, sender, date, sequence and environment."""

    file_type: str
    sender: str
    day: date
    sequence: int
    environment: str

    def __str__(self) -> str:
        return f"{self.file_type}.{self.sender}.{_yyyymmdd(self.day)}.{self.sequence:05d}.{self.environment}"


@dataclass(frozen=True, slots=True)
class FileName:
    """A parsed file name; ``str()`` formats it back exactly."""

    prefix: str
    file_type: str
    sender: str
    day: date
    sequence: int
    environment: str
    total: int | None = None
    part: int | None = None

    @classmethod
    def parse(cls, text: str) -> FileName:
        """Parse a name; FileNameError carries the ACRF code of the first problem found."""
        return parse_name(text)

    @property
    def key(self) -> SetKey:
        return SetKey(self.file_type, self.sender, self.day, self.sequence, self.environment)

    @property
    def is_test(self) -> bool:
        return self.environment != "R"

    def with_prefix(self, prefix: str) -> FileName:
        """The same name under another prefix (GO marker of an FO file, FS of an FI part)."""
        return FileName(prefix, self.file_type, self.sender, self.day, self.sequence, self.environment,
                        self.total, self.part)

    def __str__(self) -> str:
        text = f"{self.prefix}.{self.key}"
        if self.total is not None:
            text += f".{self.total}"
        if self.part is not None:
            text += f".{self.part}"
        return text


def _yyyymmdd(day: date) -> str:
    """Eight positions whatever the year (``%Y`` drops leading zeros on some platforms)."""
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def strip_xml_suffix(text: str) -> tuple[str, bool]:
    """The name without one trailing ``.xml`` (some software appends it), and whether it had one."""
    if text.lower().endswith(_XML_SUFFIX) and text.count(".") > 5:
        return text[: -len(_XML_SUFFIX)], True
    return text, False


def parse_name(text: str) -> FileName:
    """Parse a transfer-protocol file name; raise FileNameError with the annex-30 code otherwise."""
    elements = text.split(".")
    prefix = elements[0]
    if prefix not in PREFIXES:
        raise FileNameError(text, f"prefix {prefix!r} is not one of {', '.join(PREFIXES)}", "129")
    structure = _STRUCTURE_CODE[prefix]
    allowed = {"FI": (6, 8), "FS": (6, 8), "GO": (6, 7), "TD": (6, 7), "FO": (6, 7, 8), "CO": (6, 7, 8)}[prefix]
    if len(elements) not in allowed:
        raise FileNameError(text, f"a {prefix} name has {' or '.join(map(str, allowed))} dot-separated "
                                  f"elements, found {len(elements)}", structure)
    _, file_type, sender, day_text, seq_text, env = elements[:6]
    if not _TYPE.fullmatch(file_type):
        raise FileNameError(text, f"file type must be 4 capital letters, found {file_type!r}", structure)
    if not _SENDER.fullmatch(sender):
        raise FileNameError(text, f"sender must be 6 digits, found {sender!r}", structure)
    day = _parse_day(text, day_text)
    sequence = _parse_sequence(text, seq_text)
    if env not in ENVIRONMENTS:
        raise FileNameError(text, f"environment must be R, T or S, found {env!r}", "117")
    total = _parse_part_count(text, elements[6]) if len(elements) > 6 else None
    part = _parse_part_count(text, elements[7]) if len(elements) > 7 else None
    if total is not None and part is not None and part > total:
        raise FileNameError(text, f"part {part} is above the total of {total}", "124" if prefix == "FS" else "123")
    if prefix in ("FI", "FS") and total is None:
        total, part = 1, 1  # older single-file form without part elements
    if prefix in ("GO", "TD") and total is None:
        total = 1
    return FileName(prefix, file_type, sender, day, sequence, env, total, part)


def _parse_day(text: str, value: str) -> date:
    if len(value) != 8:
        raise FileNameError(text, f"date must have 8 positions (YYYYMMDD), found {value!r}", "109")
    try:
        if not (value.isascii() and value.isdigit()):
            raise ValueError(value)
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise FileNameError(text, f"date {value!r} is not a valid YYYYMMDD date", "110") from None


def _parse_sequence(text: str, value: str) -> int:
    if len(value) != 5:
        raise FileNameError(text, f"sequence must have 5 positions, found {value!r}", "112")
    if not (value.isascii() and value.isdigit()):
        raise FileNameError(text, f"sequence must be numeric, found {value!r}", "113")
    if int(value) == 0:
        raise FileNameError(text, "sequence 00000 is not allowed", "127")
    return int(value)


def _parse_part_count(text: str, value: str) -> int:
    if len(value) != 1:
        raise FileNameError(text, f"part numbers have 1 position, found {value!r}", "114")
    if not (value.isascii() and value.isdigit()):
        raise FileNameError(text, f"part numbers must be numeric, found {value!r}", "115")
    if value == "0":
        raise FileNameError(text, "part number 0 is not allowed", "116")
    return int(value)


def check_name_context(name: FileName, *, today: date, max_age_days: int, max_parts: int) -> list[str]:
    """ACRF codes for a well-formed name that is still unacceptable today: future, too old, too many parts."""
    codes = []
    if name.day > today:
        codes.append("111")
    elif name.day < today - timedelta(days=max_age_days):
        codes.append("126")
    if name.total is not None and name.total > max_parts:
        codes.append("128")
    return codes


def answer_name(file_type: str, transfer_point: str, day: date, sequence: int, environment: str,
                *, parts: tuple[int, int] | None = None) -> FileName:
    """The name of an answer file we send: ``FO.<TYPE>.999999.<date>.<seq>.<env>[.<total>.<part>]``."""
    total, part = parts if parts else (None, None)
    return FileName("FO", file_type, transfer_point, day, sequence, environment, total, part)
