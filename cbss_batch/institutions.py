"""Institutions and their subscriptions: ``config/institutions/<name>.toml``.

```toml
name = "onem"                         # folder outbox/institutions/onem/; lower case, digits, - and _
title = "National Employment Office"
file_type = "EXUN"                    # FO.<file_type>.999999.<date>.<seq>.<env> (4 capitals, default EXTR)
cron = "0 2 * * *"                    # the nightly extract (the scheduler runs it); optional
backfill_from = 2026-01-01            # a new subscriber first receives the facts accepted since this day
environments = ["R"]                  # facts of production sets only (default: R, T and S, one file each)
local = true                          # deliver to outbox/institutions/<name>/ (default true)

[[subscriptions]]
kind = "dmfa"                         # dmfa: DmfA worker lines (wage and working time)
joint_committees = ["200", "124"]     # optional filters; an empty or absent list lets everything through
worker_codes = ["015", "495"]

[[subscriptions]]
kind = "dimona"                       # dimona: personnel-file mutations (Dimona period versions)
worker_types = ["STU"]

[[subscriptions]]
kind = "risk"                         # risk: social-risk declarations with their computed benefits
scenarios = ["WECH", "ZIMA001"]       # a scenario, or a family by its 4 letters

[mailbox]                             # optional SFTP delivery, as for senders; extracts go to `out`
host = "sftp.onem.example"
user = "cbss"
key_env = "CBSS_SFTP_KEY_ONEM"
out = "/incoming"
```
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from cbss_batch.errors import ConfigError
from cbss_batch.senders import Mailbox, read_mailbox

KINDS = ("dmfa", "dimona", "risk")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_FILTERS = {"dmfa": ("joint_committees", "worker_codes"), "dimona": ("joint_committees", "worker_types"),
            "risk": ("joint_committees", "worker_codes", "scenarios")}


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    kind: str
    joint_committees: frozenset[str] = frozenset()
    worker_codes: frozenset[str] = frozenset()
    worker_types: frozenset[str] = frozenset()
    scenarios: tuple[str, ...] = ()

    def takes_scenario(self, scenario: str) -> bool:
        return not self.scenarios or any(scenario.startswith(s) for s in self.scenarios)


@dataclass(frozen=True, slots=True, kw_only=True)
class Institution:
    name: str
    title: str = ""
    file_type: str = "EXTR"
    cron: str | None = None
    backfill_from: date | None = None
    environments: tuple[str, ...] = ("R", "T", "S")
    local: bool = True
    subscriptions: tuple[Subscription, ...] = ()
    mailbox: Mailbox | None = None

    def subscription(self, kind: str) -> list[Subscription]:
        return [s for s in self.subscriptions if s.kind == kind]


def load_institutions(folder: Path) -> dict[str, Institution]:
    """Every ``<name>.toml`` of the institutions folder, by name; an absent folder means none."""
    found: dict[str, Institution] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.toml")):
        institution = _read(path)
        found[institution.name] = institution
    return found


def _fail(path: Path, key: str, expected: str, value: object) -> ConfigError:
    return ConfigError(f"{path}: {key} must be {expected}, found {value!r}")


def _read(path: Path) -> Institution:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise _fail(path, "name", "lower-case letters, digits, - or _ (at most 40)", name)
    if name != path.stem:
        raise ConfigError(f"{path}: the file of institution {name} must be named {name}.toml")
    file_type = data.get("file_type", "EXTR")
    if not (isinstance(file_type, str) and re.fullmatch(r"[A-Z]{4}", file_type)):
        raise _fail(path, "file_type", "4 capital letters", file_type)
    cron = data.get("cron")
    if cron is not None and not (isinstance(cron, str) and len(cron.split()) == 5):
        raise _fail(path, "cron", 'five crontab fields "minute hour day month day-of-week"', cron)
    backfill = data.get("backfill_from")
    if backfill is not None and (not isinstance(backfill, date) or hasattr(backfill, "hour")):
        raise _fail(path, "backfill_from", "a date YYYY-MM-DD", backfill)
    environments = data.get("environments", ["R", "T", "S"])
    if not isinstance(environments, list) or not environments or any(e not in ("R", "T", "S")
                                                                        for e in environments):
        raise _fail(path, "environments", 'a list of "R", "T", "S"', environments)
    local = data.get("local", True)
    if not isinstance(local, bool):
        raise _fail(path, "local", "true or false", local)
    subscriptions = data.get("subscriptions", [])
    if not isinstance(subscriptions, list) or not subscriptions:
        raise ConfigError(f"{path}: no [[subscriptions]]: give at least one with kind = "
                          '"dmfa", "dimona" or "risk"')
    mailbox_table = data.get("mailbox")
    if mailbox_table is not None and not isinstance(mailbox_table, dict):
        raise _fail(path, "[mailbox]", "a table", mailbox_table)
    mailbox = read_mailbox(path, name, mailbox_table) if mailbox_table else None
    if not local and mailbox is None:
        raise ConfigError(f"{path}: local = false needs a [mailbox] to deliver to")
    return Institution(name=name, title=str(data.get("title", "")), file_type=file_type, cron=cron,
                       backfill_from=backfill, environments=tuple(environments), local=local,
                       subscriptions=tuple(_subscription(path, i, s) for i, s in enumerate(subscriptions, 1)),
                       mailbox=mailbox)


def _subscription(path: Path, index: int, table: Any) -> Subscription:
    where = f"subscriptions[{index}]"
    if not isinstance(table, dict):
        raise _fail(path, where, "a table", table)
    kind = table.get("kind")
    if kind not in KINDS:
        raise _fail(path, f"{where}.kind", '"dmfa", "dimona" or "risk"', kind)
    unknown = set(table) - {"kind", *_FILTERS[kind]}
    if unknown:
        raise ConfigError(f"{path}: {where}: {', '.join(sorted(unknown))} cannot filter {kind} facts; "
                          f"use {', '.join(_FILTERS[kind])}")
    values: dict[str, tuple[str, ...]] = {}
    for key in _FILTERS[kind]:
        items = table.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
            raise _fail(path, f"{where}.{key}", "a list of strings", items)
        values[key] = tuple(items)
    return Subscription(kind=kind, joint_committees=frozenset(values.get("joint_committees", ())),
                        worker_codes=frozenset(values.get("worker_codes", ())),
                        worker_types=frozenset(values.get("worker_types", ())),
                        scenarios=values.get("scenarios", ()))
