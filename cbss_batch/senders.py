"""Registered senders: ``config/senders/<number>.toml`` — signature key, mandates, SFTP mailbox.

```toml
number = "006400"                 # the sender number (6 digits); the file name must match
name = "Payroll bureau Example"
certificate = "006400.pem"        # X.509 certificate or public key (PEM/DER), relative to this file

[mandates]                        # employers this sender may declare for
all_employers = false             # true: any employer (a social secretariat of the whole sector)
noss = ["175110801", { number = "199000012", from = "2024-01-01", until = "2026-12-31" }]
kbo = ["0403170701"]

[mailbox]                         # optional: an SFTP mailbox pulled and answered by `run`/the scheduler
host = "sftp.example.org"
port = 22
user = "u006400"
key_file = "/etc/cbss/keys/u006400"   # or key_env = "CBSS_SFTP_KEY_006400" (the private key text)
passphrase_env = "CBSS_SFTP_PASS_006400"
in = "IN"                         # remote folders (defaults shown)
intest = "INTEST"
out = "OUT"
outtest = "OUTTEST"
after_pull = "delete"             # or "move": pulled files go to <folder>/<done>
done = "done"
```
Secrets (private keys, passphrases) are never in these files: a path outside the repository or an
environment variable.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from cbss_batch.errors import ConfigError
from cbss_batch.records import Finding

_DIGITS = {"noss": 9, "kbo": 10}


@dataclass(frozen=True, slots=True, kw_only=True)
class MandateEntry:
    """One employer a sender may declare for, possibly for a period only."""

    number: str
    valid_from: date | None = None
    valid_until: date | None = None

    def covers(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until)


@dataclass(frozen=True, slots=True, kw_only=True)
class Mandates:
    all_employers: bool = False
    noss: tuple[MandateEntry, ...] = ()
    kbo: tuple[MandateEntry, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Mailbox:
    """Where a sender's SFTP mailbox is and how we log in."""

    sender: str
    host: str
    port: int = 22
    user: str
    key_file: Path | None = None
    key_env: str | None = None
    passphrase_env: str | None = None
    folders: dict[str, str] = field(default_factory=dict)  # IN, INTEST, OUT, OUTTEST → remote path
    after_pull: str = "delete"  # delete | move
    done: str = "done"

    def remote(self, folder: str) -> str:
        return self.folders[folder]


@dataclass(frozen=True, slots=True, kw_only=True)
class Sender:
    number: str
    name: str = ""
    certificate: Path | None = None
    mandates: Mandates
    mailbox: Mailbox | None = None


def load_senders(folder: Path) -> dict[str, Sender]:
    """Every ``<number>.toml`` of the senders folder; an absent folder means no registered sender."""
    senders: dict[str, Sender] = {}
    if not folder.is_dir():
        return senders
    for path in sorted(folder.glob("*.toml")):
        sender = _read_sender(path)
        senders[sender.number] = sender
    return senders


def _fail(path: Path, key: str, expected: str, value: object) -> ConfigError:
    return ConfigError(f"{path}: {key} must be {expected}, found {value!r}")


def _read_sender(path: Path) -> Sender:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    number = data.get("number")
    if not (isinstance(number, str) and len(number) == 6 and number.isdigit()):
        raise _fail(path, "number", 'the 6-digit sender number as a string, e.g. "006400"', number)
    if path.stem != number:
        raise ConfigError(f"{path}: the file of sender {number} must be named {number}.toml")
    certificate = data.get("certificate")
    if certificate is not None and not isinstance(certificate, str):
        raise _fail(path, "certificate", "a file name", certificate)
    if "mandates" not in data or not isinstance(data["mandates"], dict):
        raise ConfigError(f"{path}: [mandates] is missing: list the employers this sender declares for "
                          "(noss = [...], kbo = [...]) or set all_employers = true")
    mailbox = data.get("mailbox")
    if mailbox is not None and not isinstance(mailbox, dict):
        raise _fail(path, "[mailbox]", "a table", mailbox)
    return Sender(number=number, name=str(data.get("name", "")),
                  certificate=(path.parent / certificate) if certificate else None,
                  mandates=_read_mandates(path, data["mandates"]),
                  mailbox=read_mailbox(path, number, mailbox) if mailbox else None)


def _read_mandates(path: Path, table: dict[str, Any]) -> Mandates:
    everyone = table.get("all_employers", False)
    if not isinstance(everyone, bool):
        raise _fail(path, "mandates.all_employers", "true or false", everyone)
    lists = {}
    for kind, width in _DIGITS.items():
        entries = table.get(kind, [])
        if not isinstance(entries, list):
            raise _fail(path, f"mandates.{kind}", "a list", entries)
        lists[kind] = tuple(_read_entry(path, f"mandates.{kind}", width, e) for e in entries)
    return Mandates(all_employers=everyone, noss=lists["noss"], kbo=lists["kbo"])


def _read_entry(path: Path, key: str, width: int, entry: object) -> MandateEntry:
    if isinstance(entry, str):
        entry = {"number": entry}
    if not isinstance(entry, dict):
        raise _fail(path, key, f'"{"0" * width}" or {{ number = ..., from = ..., until = ... }}', entry)
    number = entry.get("number")
    if not (isinstance(number, str) and len(number) == width and number.isdigit()):
        raise _fail(path, key, f"{width}-digit numbers as strings", number)
    days = {}
    for bound in ("from", "until"):
        value = entry.get(bound)
        if value is not None and not isinstance(value, date):
            raise _fail(path, f"{key}.{bound}", "a date YYYY-MM-DD", value)
        days[bound] = value
    return MandateEntry(number=number, valid_from=days["from"], valid_until=days["until"])


def read_mailbox(path: Path, number: str, table: dict[str, Any]) -> Mailbox:
    """The ``[mailbox]`` table of a sender (or institution) file."""
    def text(key: str, default: str | None = None) -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or not value:
            raise _fail(path, f"mailbox.{key}", "a non-empty string", value)
        return value

    port = table.get("port", 22)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise _fail(path, "mailbox.port", "a port number", port)
    key_file = table.get("key_file")
    key_env = table.get("key_env")
    if (key_file is None) == (key_env is None):
        raise ConfigError(f"{path}: [mailbox] needs exactly one of key_file (a private key file outside the "
                          "repository) or key_env (an environment variable holding the private key)")
    after = text("after_pull", "delete")
    if after not in ("delete", "move"):
        raise _fail(path, "mailbox.after_pull", '"delete" or "move"', after)
    return Mailbox(
        sender=number, host=text("host"), port=port, user=text("user"),
        key_file=Path(text("key_file")) if key_file is not None else None,
        key_env=text("key_env") if key_env is not None else None,
        passphrase_env=table.get("passphrase_env") or None,
        folders={"IN": text("in", "IN"), "INTEST": text("intest", "INTEST"), "OUT": text("out", "OUT"),
                 "OUTTEST": text("outtest", "OUTTEST")},
        after_pull=after, done=text("done", "done"))


def check_mandate(mandates: Mandates, *, noss_number: str | None, company_id: str | None, on: date,
                  line: int | None, path: tuple[tuple[str, str], ...] = ()) -> list[Finding]:
    """Class-B findings when the sender holds no mandate for the declared employer on ``on``.

    The NOSS number decides when the declaration gives one (zone 00011), else the enterprise number
    (zone 00014): never covered → 101 "sender not authorised for this registration number"; covered
    only outside the day → 155 "no mandate, or no longer".
    """
    if mandates.all_employers:
        return []
    for kind, zone, tag, number in (("noss", "00011", "NOSSRegistrationNbr", noss_number),
                                    ("kbo", "00014", "CompanyID", company_id)):
        if not number or not number.strip("0"):
            continue
        entries = [e for e in (mandates.noss if kind == "noss" else mandates.kbo) if e.number == number]
        if any(e.covers(on) for e in entries):
            return []
        if entries:
            return [Finding(code=f"{zone}-155", tag=tag, value=number, line=line, path=path,
                            message=f"the sender's mandate for employer {number} is not valid on {on:%Y-%m-%d}; "
                                    "renew the mandate before declaring")]
        return [Finding(code=f"{zone}-101", tag=tag, value=number, line=line, path=path,
                        message=f"the sender holds no mandate for employer {number}; ask the employer to "
                                "register the mandate or send from the employer's own sender number")]
    return []  # no employer named: the declaration's own rules refuse it
