"""Our code lists (``config/codelists/<name>.csv``): effective-dated codes with labels and rule data.

A code-list file is UTF-8 CSV with a header line. The first five columns are fixed::

    code,valid_from,valid_to,label_nl,label_fr[,extra...]

``valid_from`` and ``valid_to`` are ``YYYY-MM-DD`` and both inclusive; an empty ``valid_to`` means the
code is still valid. Extra columns (lower-case names) carry facts the rules need, such as the
contribution kind of a worker code or the form a risk belongs to.

One code may have several rows, one per validity period. Two rows of the same code may not overlap in
time, unless the list names *qualifier* columns (``QUALIFIERS``) and the rows differ in one of them:
the official annexes keep some codes in several tables at once (worker code 015 is both an ordinary
and a Fedris code; risk 001 exists for every DRS form). Lookups then take the qualifier as a keyword,
``risks.entry("001", on, form="WECH005")``; a lookup that still matches two rows raises
``LookupError`` rather than pick one.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal

from cbss_batch.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_FOLDER: Final = Path(__file__).resolve().parent.parent / "config" / "codelists"
FIXED_COLUMNS: Final = ("code", "valid_from", "valid_to", "label_nl", "label_fr")
NAMES: Final = (
    "worker_codes",
    "contribution_types",
    "reduction_codes",
    "remuneration_codes",
    "working_time_codes",
    "form_identifications",
    "risk_identifications",
    "joint_committees",
    "employer_categories",
    "error_codes",
    "signature_error_codes",
)
# Extra columns that, with the code, identify a row where the official annex holds one code in
# several tables; rows of one code overlap in time only when they differ in one of these.
QUALIFIERS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "worker_codes": ("contribution_kind",),
        "contribution_types": ("contribution_type", "employer_categories", "number_of_employees"),
        "risk_identifications": ("form",),
        "signature_error_codes": ("code_type",),
    }
)
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_RESERVED = frozenset({*FIXED_COLUMNS, "on", "lang", "self", "where"})  # would clash with lookup keywords


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeEntry:
    """One row of a code list: a code, its validity period (inclusive), labels and extra columns."""

    code: str
    valid_from: date
    valid_to: date | None  # None: still valid
    label_nl: str
    label_fr: str
    extra: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    def covers(self, on: date) -> bool:
        """True when ``on`` lies within this row's validity period."""
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)

    def label(self, lang: Literal["nl", "fr"] = "nl") -> str:
        """The label in ``lang`` ("nl" or "fr"); empty when the annex gives none."""
        if lang == "nl":
            return self.label_nl
        if lang == "fr":
            return self.label_fr
        raise ValueError(f"unknown label language {lang!r}; use 'nl' or 'fr'")


@dataclass(frozen=True, slots=True, eq=False)
class CodeList:
    """The rows of one code list, looked up by code and date."""

    name: str
    source: str  # the file (or text) the rows came from, for messages
    columns: tuple[str, ...]  # the extra columns, in file order
    qualifiers: tuple[str, ...]
    by_code: Mapping[str, tuple[CodeEntry, ...]]

    def entries(self, code: str, on: date, **where: str) -> tuple[CodeEntry, ...]:
        """Every row of ``code`` valid on ``on`` whose extra columns equal the ``where`` values."""
        self._check_columns(where)
        return tuple(
            entry
            for entry in self.by_code.get(code, ())
            if entry.covers(on) and all(entry.extra[key] == value for key, value in where.items())
        )

    def entry(self, code: str, on: date, **where: str) -> CodeEntry | None:
        """The row of ``code`` valid on ``on`` (None if none); LookupError when several rows match."""
        found = self.entries(code, on, **where)
        if len(found) > 1:
            hint = ", ".join(self.qualifiers) or ", ".join(self.columns)
            raise LookupError(
                f"{self.name}: {len(found)} rows of code {code!r} are valid on {on:%Y-%m-%d}; "
                f"pass one of the columns {hint} as a keyword to choose"
            )
        return found[0] if found else None

    def is_valid(self, code: str, on: date, **where: str) -> bool:
        """True when ``code`` has a row valid on ``on`` (matching the ``where`` values)."""
        return bool(self.entries(code, on, **where))

    def label(self, code: str, on: date, lang: Literal["nl", "fr"] = "nl", **where: str) -> str | None:
        """The label of ``code`` on ``on`` in ``lang``; None when not valid then or the label is empty."""
        if lang not in ("nl", "fr"):
            raise ValueError(f"unknown label language {lang!r}; use 'nl' or 'fr'")
        found = self.entry(code, on, **where)
        return (found.label(lang) or None) if found is not None else None

    def all_entries(self) -> tuple[CodeEntry, ...]:
        """Every row of the list, whatever its validity, in code order."""
        return tuple(entry for code in sorted(self.by_code) for entry in self.by_code[code])

    def codes(self, on: date, **where: str) -> frozenset[str]:
        """Every code valid on ``on`` (with extra columns equal to the ``where`` values)."""
        self._check_columns(where)
        return frozenset(
            code
            for code, rows in self.by_code.items()
            if any(row.covers(on) and all(row.extra[k] == v for k, v in where.items()) for row in rows)
        )

    def __len__(self) -> int:
        """The number of rows."""
        return sum(len(rows) for rows in self.by_code.values())

    def _check_columns(self, where: Mapping[str, str]) -> None:
        unknown = sorted(set(where) - set(self.columns))
        if unknown:
            raise ValueError(
                f"{self.name} has no column {', '.join(unknown)}; its extra columns are: "
                f"{', '.join(self.columns) or '(none)'}"
            )


def load_codelist(name: str, folder: Path = DEFAULT_FOLDER) -> CodeList:
    """The code list ``<folder>/<name>.csv``, read once per process; ConfigError names file and line."""
    if not _NAME.fullmatch(name):
        raise ConfigError(f"code-list name {name!r} is not valid; expected lower-case letters, digits and _")
    return _load(name, folder.resolve())


@cache
def _load(name: str, folder: Path) -> CodeList:
    path = folder / f"{name}.csv"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"code list {name} not found: {path} is missing; restore it or regenerate it with "
            f"python scripts/build_codelists.py"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc}); save the file as UTF-8") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read code list {path}: {exc}") from exc
    codelist = parse_codelist(text, name=name, source=str(path))
    log.debug("loaded code list %s: %d rows from %s", name, len(codelist), path)
    return codelist


def parse_codelist(text: str, *, name: str, source: str = "<text>") -> CodeList:
    """A CodeList from CSV text; ConfigError naming ``source`` and the line of the first problem."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise ConfigError(f"{source}:1: the file is empty; expected the header {','.join(FIXED_COLUMNS)}")
        columns = _check_header(header, name, source)
        qualifiers = QUALIFIERS.get(name, ())
        rows: dict[str, list[tuple[int, CodeEntry]]] = {}
        for fields in reader:
            if not fields:
                continue  # a blank line
            line = reader.line_num
            entry = _entry(fields, header, columns, f"{source}:{line}")
            earlier = rows.setdefault(entry.code, [])
            _check_overlap(entry, line, earlier, qualifiers, source)
            earlier.append((line, entry))
    except csv.Error as exc:
        raise ConfigError(f"{source}:{reader.line_num}: not valid CSV: {exc}") from exc
    by_code = {
        code: tuple(sorted((entry for _, entry in found), key=lambda e: e.valid_from)) for code, found in rows.items()
    }
    return CodeList(name, source, columns, qualifiers, MappingProxyType(by_code))


def format_codelist(columns: Sequence[str], entries: Iterable[CodeEntry]) -> str:
    """CSV text of a code list: the header, then one line per entry in the order given."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*FIXED_COLUMNS, *columns])
    for entry in entries:
        valid_to = "" if entry.valid_to is None else entry.valid_to.isoformat()
        fixed = [entry.code, entry.valid_from.isoformat(), valid_to, entry.label_nl, entry.label_fr]
        writer.writerow([*fixed, *(entry.extra[column] for column in columns)])
    return out.getvalue()


def _check_header(header: list[str], name: str, source: str) -> tuple[str, ...]:
    if tuple(header[: len(FIXED_COLUMNS)]) != FIXED_COLUMNS:
        raise ConfigError(f"{source}:1: the header must start with {','.join(FIXED_COLUMNS)}; found {','.join(header)}")
    columns = tuple(header[len(FIXED_COLUMNS) :])
    for column in columns:
        if not _NAME.fullmatch(column) or column in _RESERVED:
            raise ConfigError(
                f"{source}:1: extra column name {column!r} is not allowed; use lower-case letters, digits "
                f"and _, and none of {', '.join(sorted(_RESERVED))}"
            )
    if len(set(columns)) != len(columns):
        raise ConfigError(f"{source}:1: an extra column is named twice in {','.join(columns)}")
    missing = [column for column in QUALIFIERS.get(name, ()) if column not in columns]
    if missing:
        raise ConfigError(f"{source}:1: code list {name} needs the column(s) {', '.join(missing)}")
    return columns


def _entry(fields: list[str], header: list[str], columns: tuple[str, ...], where: str) -> CodeEntry:
    if len(fields) != len(header):
        raise ConfigError(f"{where}: {len(fields)} fields, expected {len(header)} as in the header")
    code, valid_from, valid_to, label_nl, label_fr = fields[: len(FIXED_COLUMNS)]
    if not code or code != code.strip():
        raise ConfigError(f"{where}: code {code!r} is empty or has spaces around it")
    start = _date(valid_from, "valid_from", where)
    end = _date(valid_to, "valid_to", where) if valid_to else None
    if end is not None and end < start:
        raise ConfigError(f"{where}: code {code}: valid_to {valid_to} is before valid_from {valid_from}")
    extra = dict(zip(columns, fields[len(FIXED_COLUMNS) :], strict=True))
    return CodeEntry(
        code=code,
        valid_from=start,
        valid_to=end,
        label_nl=label_nl,
        label_fr=label_fr,
        extra=MappingProxyType(extra),
    )


def _date(text: str, column: str, where: str) -> date:
    try:
        if not _DATE.fullmatch(text):
            raise ValueError("not in the form YYYY-MM-DD")
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"{where}: {column} {text!r} is not a date YYYY-MM-DD ({exc})") from exc


def _check_overlap(
    entry: CodeEntry, line: int, earlier: list[tuple[int, CodeEntry]], qualifiers: tuple[str, ...], source: str
) -> None:
    for other_line, other in earlier:
        if any(entry.extra[q] != other.extra[q] for q in qualifiers) or not _overlaps(entry, other):
            continue
        same = "".join(f", {q}={entry.extra[q]!r}" for q in qualifiers)
        raise ConfigError(
            f"{source}:{line}: code {entry.code!r}{same} valid {_period(entry)} overlaps line {other_line} "
            f"({_period(other)}); a code has one row at a time: end the earlier row before the next starts"
        )


def _overlaps(one: CodeEntry, two: CodeEntry) -> bool:
    return (two.valid_to is None or one.valid_from <= two.valid_to) and (
        one.valid_to is None or two.valid_from <= one.valid_to
    )


def _period(entry: CodeEntry) -> str:
    return f"{entry.valid_from:%Y-%m-%d}..{'open' if entry.valid_to is None else f'{entry.valid_to:%Y-%m-%d}'}"
