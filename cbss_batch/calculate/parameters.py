"""Effective-dated calculation parameters (rates, amounts, code lists) from ``config/parameters/*.toml``.

Layout of a parameter file (CALCULATIONS.md §0): one table per parameter, the name may contain dots::

    ["special.810.rate"]
    kind = "rate"                       # optional: rate | factor | amount | integer | codes | decimal
    description = "special FFE contribution"   # optional
    values = [
      {valid_from = "2016-01-01", value = "0.0010", source = "[S10] Odoo 19 rate table"},
      {valid_from = "2025-01-01", value = "0.0017", source = "[S10] Odoo 19 rate table"},
    ]

Numbers are strings (``Decimal`` from text, never a float); code lists are arrays of strings. Entries
are in date order; an entry may end with an inclusive ``valid_to``, in which case the next entry must
start the day after (no gap, no overlap). The value in force on a day is the last entry whose
``valid_from`` is on or before it. Every problem is a ``ConfigError`` naming file, parameter and entry.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from cbss_batch.errors import ConfigError

DEFAULT: Final = Path(__file__).resolve().parents[2] / "config" / "parameters"
KINDS: Final = ("rate", "factor", "amount", "integer", "codes", "decimal")
Value = Decimal | int | tuple[str, ...]

_TABLE_KEYS: Final = frozenset({"values", "kind", "description"})
_ENTRY_KEYS: Final = frozenset({"valid_from", "valid_to", "value", "source"})
_DECIMAL: Final = re.compile(r"-?\d+(\.\d+)?")
_INTEGER: Final = re.compile(r"-?\d+")
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_NAME: Final = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*")


@dataclass(frozen=True, slots=True, kw_only=True)
class ParameterValue:
    """One entry of a parameter: its value, the day it starts (and ends, if given) and its source."""

    name: str
    value: Value
    valid_from: date
    valid_to: date | None = None  # inclusive; None: until the next entry, or for good
    source: str
    kind: str = "decimal"
    version: str = field(init=False, compare=False)  # ``name@YYYY-MM-DD``: the entry's identity for audit trails

    def __post_init__(self) -> None:
        # Computed once: every calculation line records it, so a property would format it millions of times.
        object.__setattr__(self, "version", f"{self.name}@{self.valid_from.isoformat()}")

    @property
    def decimal(self) -> Decimal:
        """The value as a Decimal; ConfigError when the parameter is a code list or an integer."""
        if isinstance(self.value, Decimal):
            return self.value
        raise ConfigError(f"parameter {self.name} is of kind {self.kind}, not a decimal number ({self.version})")

    @property
    def integer(self) -> int:
        """The value as an int; ConfigError when the parameter is not of kind integer."""
        if isinstance(self.value, int):
            return self.value
        raise ConfigError(f"parameter {self.name} is of kind {self.kind}, not an integer ({self.version})")

    @property
    def codes(self) -> tuple[str, ...]:
        """The value as a tuple of codes; ConfigError when the parameter is not of kind codes."""
        if isinstance(self.value, tuple):
            return self.value
        raise ConfigError(f"parameter {self.name} is of kind {self.kind}, not a code list ({self.version})")


@dataclass(frozen=True, slots=True)
class Parameters:
    """Every parameter's history, looked up by name and day."""

    histories: Mapping[str, tuple[ParameterValue, ...]]
    files: Mapping[str, str]  # parameter name → the file that defines it, for messages
    # Look-ups already answered: a calculation asks the same (name, day) for every worker line.
    _found: dict[tuple[str, date], ParameterValue] = field(default_factory=dict, init=False, compare=False,
                                                          repr=False)

    def get(self, name: str, on: date) -> ParameterValue:
        """The entry of ``name`` in force on ``on``; ConfigError when none is."""
        key = (name, on)
        found = self._found.get(key)
        if found is None:
            found = self._found[key] = self._lookup(name, on)
        return found

    def _lookup(self, name: str, on: date) -> ParameterValue:
        history = self.histories.get(name)
        if history is None:
            known = ", ".join(sorted(self.histories)) or "none"
            raise ConfigError(f"parameter {name} is not defined; add it to config/parameters (defined: {known})")
        found = None
        for entry in history:
            if entry.valid_from > on:
                break
            found = entry
        where = self.files.get(name, "config/parameters")
        if found is None:
            raise ConfigError(
                f"parameter {name} has no value on {on:%Y-%m-%d}; first valid_from is "
                f"{history[0].valid_from:%Y-%m-%d} ({where})"
            )
        if found.valid_to is not None and on > found.valid_to:
            raise ConfigError(
                f"parameter {name} has no value on {on:%Y-%m-%d}; its last entry ended on "
                f"{found.valid_to:%Y-%m-%d} ({where})"
            )
        return found

    def history(self, name: str) -> tuple[ParameterValue, ...]:
        """Every entry of ``name`` in date order (empty when the parameter is not defined)."""
        return self.histories.get(name, ())

    def names(self) -> tuple[str, ...]:
        """Every parameter name, sorted."""
        return tuple(sorted(self.histories))

    def __contains__(self, name: object) -> bool:
        """True when a parameter of that name is defined."""
        return name in self.histories


def project_parameters(folder: Path = DEFAULT) -> Parameters:
    """The parameters of a folder, loaded once per process while its files stay the same."""
    stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.glob("*.toml")))
    return _loaded(folder, stamp)


@lru_cache(maxsize=8)
def _loaded(folder: Path, stamp: tuple[tuple[str, int, int], ...]) -> Parameters:
    return load_parameters(folder)


def load_parameters(folder: Path = DEFAULT) -> Parameters:
    """Every parameter of every ``*.toml`` in ``folder``; ConfigError naming file, parameter and entry."""
    if not folder.is_dir():
        raise ConfigError(f"parameter folder {folder} does not exist; create it with one *.toml file per topic")
    paths = sorted(folder.glob("*.toml"))
    if not paths:
        raise ConfigError(f"parameter folder {folder} holds no *.toml file")
    histories: dict[str, tuple[ParameterValue, ...]] = {}
    files: dict[str, str] = {}
    for path in paths:
        for name, history in read_parameter_file(path).items():
            if name in histories:
                raise ConfigError(
                    f"{path}: parameter {name} is already defined in {files[name]}; define each parameter in one file"
                )
            histories[name] = history
            files[name] = str(path)
    return Parameters(MappingProxyType(histories), MappingProxyType(files))


def read_parameter_file(path: Path) -> dict[str, tuple[ParameterValue, ...]]:
    """The parameters of one TOML file, by name; ConfigError naming the file, parameter and entry."""
    try:
        with path.open("rb") as stream:
            document = tomllib.load(stream)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read parameter file {path}: {exc}") from exc
    return parse_parameters(document, str(path))


def parse_parameters(document: Mapping[str, Any], where: str) -> dict[str, tuple[ParameterValue, ...]]:
    """The parameters of a parsed TOML document by name; ``where`` names its file in messages."""
    result: dict[str, tuple[ParameterValue, ...]] = {}
    for name, table in _tables(document, "", where):
        if name in result:
            raise ConfigError(f"{where}: parameter {name} is defined twice in this file")
        result[name] = _history(name, table, where)
    return result


def _tables(document: Mapping[str, Any], prefix: str, where: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    # A table holding ``values`` is a parameter; any other table groups parameters under a dotted prefix,
    # so ["special.810.rate"] and [special.810.rate] name the same parameter.
    for key, table in document.items():
        name = f"{prefix}{key}"
        if not isinstance(table, dict):
            raise ConfigError(f'{where}: {name} = {table!r} is not a table; write ["{name}"] with values = [...]')
        if "values" in table:
            if not _NAME.fullmatch(name):
                raise ConfigError(
                    f"{where}: parameter name {name!r} is not valid; use lower-case letters, digits, _ and dots"
                )
            children = {k: v for k, v in table.items() if k not in _TABLE_KEYS and isinstance(v, dict)}
            yield name, {k: v for k, v in table.items() if k not in children}
            yield from _tables(children, f"{name}.", where)
        elif table:
            yield from _tables(table, f"{name}.", where)
        else:
            raise ConfigError(f"{where}: parameter {name} has no values; add values = [{{valid_from = ..., ...}}]")


def _history(name: str, table: Mapping[str, Any], where: str) -> tuple[ParameterValue, ...]:
    here = f"{where}: parameter {name}"
    unknown = sorted(set(table) - _TABLE_KEYS)
    if unknown:
        raise ConfigError(f"{here}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_TABLE_KEYS))}")
    values = table["values"]
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{here}: values must be a non-empty array of {{valid_from, value, source}} tables")
    kind = table.get("kind")
    if kind is None:
        kind = "codes" if isinstance(values[0], dict) and isinstance(values[0].get("value"), list) else "decimal"
    if kind not in KINDS:
        raise ConfigError(f"{here}: kind {kind!r} is not one of {', '.join(KINDS)}")
    entries = tuple(_entry(name, kind, raw, f"{here}, entry {index}") for index, raw in enumerate(values, start=1))
    _check_sequence(entries, here)
    return entries


def _entry(name: str, kind: str, raw: object, here: str) -> ParameterValue:
    if not isinstance(raw, dict):
        raise ConfigError(f"{here}: {raw!r} is not a table {{valid_from = ..., value = ..., source = ...}}")
    unknown = sorted(set(raw) - _ENTRY_KEYS)
    if unknown:
        raise ConfigError(f"{here}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_ENTRY_KEYS))}")
    missing = [key for key in ("valid_from", "value", "source") if key not in raw]
    if missing:
        raise ConfigError(f"{here}: missing {', '.join(missing)}")
    valid_from = _date(raw["valid_from"], "valid_from", here)
    here = f"{here} (valid_from {valid_from:%Y-%m-%d})"
    valid_to = _date(raw["valid_to"], "valid_to", here) if "valid_to" in raw else None
    if valid_to is not None and valid_to < valid_from:
        raise ConfigError(f"{here}: valid_to {valid_to:%Y-%m-%d} is before valid_from")
    source = raw["source"]
    if not isinstance(source, str) or not source.strip():
        raise ConfigError(f'{here}: source must name where the value comes from, e.g. "[S16] NSSO page"')
    return ParameterValue(
        name=name,
        value=_value(raw["value"], kind, here),
        valid_from=valid_from,
        valid_to=valid_to,
        source=source.strip(),
        kind=kind,
    )


def _date(raw: object, key: str, here: str) -> date:
    if isinstance(raw, date) and not isinstance(raw, datetime):  # an unquoted TOML date
        return raw
    if isinstance(raw, str) and _DATE.fullmatch(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError as exc:
            raise ConfigError(f"{here}: {key} {raw!r} is not a date: {exc}") from exc
    raise ConfigError(f"{here}: {key} {raw!r} is not a date YYYY-MM-DD")


def _value(raw: object, kind: str, here: str) -> Value:
    if kind == "codes":
        if not isinstance(raw, list) or not all(isinstance(c, str) and c and c.strip() == c for c in raw):
            raise ConfigError(f'{here}: value {raw!r} must be an array of non-empty code strings, e.g. ["015"]')
        if len(set(raw)) != len(raw):
            raise ConfigError(f"{here}: value {raw!r} lists a code twice")
        return tuple(raw)
    if not isinstance(raw, str):
        raise ConfigError(f'{here}: value {raw!r} must be a string such as "0.1307" (no floats, no bare numbers)')
    if kind == "integer":
        if not _INTEGER.fullmatch(raw):
            raise ConfigError(f"{here}: value {raw!r} is not an integer")
        return int(raw)
    if not _DECIMAL.fullmatch(raw):
        raise ConfigError(f'{here}: value {raw!r} is not a decimal number such as "0.1307"')
    number = Decimal(raw)
    if kind == "rate" and not Decimal(0) <= number <= Decimal(1):
        raise ConfigError(f'{here}: rate {raw} is not a fraction between 0 and 1 ("0.1307" means 13.07 %)')
    if kind in ("factor", "amount") and number < 0:
        raise ConfigError(f"{here}: {kind} {raw} is negative")
    return number


def _check_sequence(entries: tuple[ParameterValue, ...], here: str) -> None:
    for index, (before, after) in enumerate(pairwise(entries), start=2):
        at = f"{here}, entry {index} (valid_from {after.valid_from:%Y-%m-%d})"
        if after.valid_from == before.valid_from:
            raise ConfigError(f"{at}: overlap: entry {index - 1} starts on the same day; remove one of them")
        if after.valid_from < before.valid_from:
            raise ConfigError(
                f"{at}: entries are not in date order (entry {index - 1} starts {before.valid_from:%Y-%m-%d}); "
                "sort them by valid_from"
            )
        if before.valid_to is None:
            continue
        if after.valid_from <= before.valid_to:
            raise ConfigError(
                f"{at}: overlap: entry {index - 1} runs until {before.valid_to:%Y-%m-%d} (valid_to); "
                "end it the day before or start this one later"
            )
        if after.valid_from > before.valid_to + timedelta(days=1):
            raise ConfigError(
                f"{at}: gap: entry {index - 1} ends {before.valid_to:%Y-%m-%d} (valid_to), so no value applies from "
                f"{before.valid_to + timedelta(days=1):%Y-%m-%d}; start this entry the day after valid_to"
            )
