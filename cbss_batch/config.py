"""Settings: the only reader of the settings file and of ``CBSS_*`` environment variables.

``load_settings(path, environ)`` reads ``config/cbss.toml`` (or ``CBSS_CONFIG``), applies the
``CBSS_DB_URL`` override and returns frozen ``Settings``. Relative paths resolve against the
working directory, so any directory holding ``config/cbss.toml`` is a complete workspace.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cbss_batch.errors import ConfigError

DEFAULT_CONFIG = Path("config/cbss.toml")
BUNDLED_XSD = Path(__file__).resolve().parent.parent / "xsd"  # the project's schemas, beside the package
BUNDLED_PARAMETERS = Path(__file__).resolve().parent.parent / "config" / "parameters"  # rates shipped with it


@dataclass(frozen=True, slots=True, kw_only=True)
class IntakeSettings:
    max_part_bytes: int = 50_000_000
    max_parts: int = 9
    max_name_age_days: int = 365
    go_timeout_hours: int = 24
    signature_required_in_production: bool = True  # FS files are required for R sets (PROTOCOL.md §2)
    unregistered_senders: str = "accept"  # accept | refuse (ACRF-103) sets from senders without config/senders/


@dataclass(frozen=True, slots=True, kw_only=True)
class SftpSettings:
    """How SFTP mailboxes are reached; each sender's own mailbox is in ``config/senders/<number>.toml``."""

    known_hosts: Path
    connect_timeout: float = 15.0
    read_timeout: float = 60.0
    keepalive: int = 30
    session_timeout: float = 3600.0  # watchdog: a mailbox session longer than this is cut
    settle_seconds: float = 1.0  # sizes must stay the same between two listings this far apart
    incomplete_grace_minutes: int = 60  # a GO whose parts stay missing this long is pulled anyway (ACRF-120)
    push_attempts: int = 3  # tries per answer within one cycle
    retry_base_seconds: int = 60  # after a failed cycle: wait base × 2^(failures-1), at most an hour


@dataclass(frozen=True, slots=True, kw_only=True)
class SigningSettings:
    """Our own signing key for FS files beside every answer; none configured means no FS files."""

    key_file: Path | None = None
    key_env: str | None = None  # environment variable holding the PEM private key
    passphrase_env: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSettings:
    """One scheduled job: what it does and when."""

    name: str
    kind: str  # cycle | extract | housekeeping
    cron: str | None = None  # five crontab fields: minute hour day month day-of-week
    every_seconds: int | None = None
    mailboxes: tuple[str, ...] = ()  # cycle: only these mailboxes (empty: all)
    institutions: tuple[str, ...] = ()  # extract: only these institutions (empty: all)


@dataclass(frozen=True, slots=True, kw_only=True)
class SchedulerSettings:
    lease_seconds: int = 30  # a standby takes over this long after the active scheduler dies
    misfire_grace_seconds: int = 6 * 3600  # a run late by less than this still happens (once)
    housekeeping_days: int = 30  # housekeeping removes delivered answer bodies older than this from var/work
    jobs: tuple[JobSettings, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxSettings:
    compress_above_bytes: int = 50_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything a run needs, resolved to absolute paths."""

    config_path: Path
    transfer_point: str = "999999"
    inbox: Path
    outbox: Path
    archive: Path
    work: Path
    database_url: str
    xsd: Path
    today: date | None = None  # fixed processing date; None means the system clock
    intake: IntakeSettings = field(default_factory=IntakeSettings)
    outbox_options: OutboxSettings = field(default_factory=OutboxSettings)
    senders: Path = Path("config/senders")  # one <number>.toml per registered sender
    institutions: Path = Path("config/institutions")  # one <name>.toml per subscribed institution
    parameters: Path = BUNDLED_PARAMETERS  # effective-dated rates and amounts (*.toml)
    sftp: SftpSettings = field(default_factory=lambda: SftpSettings(known_hosts=Path("config/known_hosts")))
    signing: SigningSettings = field(default_factory=SigningSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    batch_rows: int = 5000
    parallel_validation: bool = True  # schema check in a child process while the parent stages the rows
    parallel_validation_min_bytes: int = 1_000_000  # smaller sets are checked in the stream (no second process)
    # Workers cut a DmfA set of more persons than this into chunks of this many, processed in parallel
    # (cbss_batch/chunking); 0: never. ``run`` processes every set whole (one process gains nothing).
    chunk_persons: int = 100_000
    missing_employment_relation_class: str | None = "W"  # None: the cross-check is off
    calculate_contributions: bool = True  # recompute DmfA contributions; differences → P anomalies + DMNO
    structural_reduction: bool = False  # recompute deduction 3000 (CALCULATIONS.md §2); off by default

    def today_or(self, clock_today: date) -> date:
        """The processing date: the configured one, else the clock's."""
        return self.today or clock_today


def load_settings(path: Path | None, environ: Mapping[str, str]) -> Settings:
    """Settings from the TOML file (``CBSS_CONFIG`` or ``path``) with ``CBSS_DB_URL`` applied."""
    config_path = Path(environ.get("CBSS_CONFIG") or path or DEFAULT_CONFIG)
    if not config_path.is_file():
        raise ConfigError(f"configuration file {config_path} not found; run from a workspace holding "
                          "config/cbss.toml, pass --config PATH or set CBSS_CONFIG")
    try:
        data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config_path}: not valid TOML: {exc}") from exc
    reader = _Reader(config_path, data)
    base = Path.cwd()
    paths = reader.table("paths")
    db = reader.table("database")
    intake = reader.table("intake")
    outbox = reader.table("outbox")
    runtime = reader.table("runtime")
    db_url = environ.get("CBSS_DB_URL") or reader.text(db, "database", "url", "sqlite:///var/cbss.db")
    return Settings(
        config_path=config_path.resolve(),
        transfer_point=reader.digits(reader.table("transfer_point"), "transfer_point", "number", "999999", 6),
        inbox=base / reader.text(paths, "paths", "inbox", "inbox"),
        outbox=base / reader.text(paths, "paths", "outbox", "outbox"),
        archive=base / reader.text(paths, "paths", "archive", "var/archive"),
        work=base / reader.text(paths, "paths", "work", "var/work"),
        xsd=base / reader.text(paths, "paths", "xsd", "") if "xsd" in paths else BUNDLED_XSD,
        database_url=_absolute_sqlite(db_url, base),
        today=reader.day(runtime, "runtime", "today"),
        batch_rows=reader.integer(runtime, "runtime", "batch_rows", 5000, minimum=1),
        parallel_validation=reader.boolean(runtime, "runtime", "parallel_validation", True),
        parallel_validation_min_bytes=reader.integer(runtime, "runtime", "parallel_validation_min_bytes", 1_000_000,
                                                     minimum=0),
        chunk_persons=reader.integer(runtime, "runtime", "chunk_persons", 100_000, minimum=0),
        calculate_contributions=reader.boolean(reader.table("calculation"), "calculation", "contributions", True),
        structural_reduction=reader.boolean(reader.table("calculation"), "calculation", "structural_reduction",
                                            False),
        missing_employment_relation_class=_anomaly_class(reader, reader.table("crosschecks"),
                                                         "missing_employment_relation"),
        intake=IntakeSettings(
            max_part_bytes=reader.integer(intake, "intake", "max_part_bytes", 50_000_000, minimum=1),
            max_parts=reader.integer(intake, "intake", "max_parts", 9, minimum=1, maximum=9),
            max_name_age_days=reader.integer(intake, "intake", "max_name_age_days", 365, minimum=1),
            go_timeout_hours=reader.integer(intake, "intake", "go_timeout_hours", 24, minimum=1),
            signature_required_in_production=reader.boolean(
                intake, "intake", "signature_required_in_production", True),
            unregistered_senders=reader.choice(intake, "intake", "unregistered_senders", "accept",
                                               ("accept", "refuse")),
        ),
        senders=base / reader.text(paths, "paths", "senders", "config/senders"),
        institutions=base / reader.text(paths, "paths", "institutions", "config/institutions"),
        parameters=(base / reader.text(paths, "paths", "parameters", "") if "parameters" in paths
                    else base / "config" / "parameters" if (base / "config" / "parameters").is_dir()
                    else BUNDLED_PARAMETERS),
        sftp=_sftp(reader, base),
        signing=_signing(reader, base),
        scheduler=_scheduler(reader),
        outbox_options=OutboxSettings(
            compress_above_bytes=reader.integer(outbox, "outbox", "compress_above_bytes", 50_000_000, minimum=1),
        ),
    )


def _sftp(reader: _Reader, base: Path) -> SftpSettings:
    t = reader.table("sftp")
    return SftpSettings(
        known_hosts=base / reader.text(t, "sftp", "known_hosts", "config/known_hosts"),
        connect_timeout=reader.number(t, "sftp", "connect_timeout_seconds", 15.0),
        read_timeout=reader.number(t, "sftp", "read_timeout_seconds", 60.0),
        keepalive=reader.integer(t, "sftp", "keepalive_seconds", 30, minimum=0),
        session_timeout=reader.number(t, "sftp", "session_timeout_seconds", 3600.0),
        settle_seconds=reader.number(t, "sftp", "settle_seconds", 1.0, minimum=0.0),
        incomplete_grace_minutes=reader.integer(t, "sftp", "incomplete_grace_minutes", 60, minimum=0),
        push_attempts=reader.integer(t, "sftp", "push_attempts", 3, minimum=1, maximum=20),
        retry_base_seconds=reader.integer(t, "sftp", "retry_base_seconds", 60, minimum=0),
    )


def _signing(reader: _Reader, base: Path) -> SigningSettings:
    t = reader.table("signing")
    key_file = reader.optional_text(t, "signing", "key_file")
    return SigningSettings(key_file=base / key_file if key_file else None,
                           key_env=reader.optional_text(t, "signing", "key_env"),
                           passphrase_env=reader.optional_text(t, "signing", "passphrase_env"))


def _scheduler(reader: _Reader) -> SchedulerSettings:
    t = reader.table("scheduler")
    jobs_data = t.get("jobs", [])
    if not isinstance(jobs_data, list) or not all(isinstance(j, dict) for j in jobs_data):
        raise reader._fail("scheduler", "jobs", "an array of tables ([[scheduler.jobs]])", jobs_data)
    jobs: list[JobSettings] = []
    for index, job in enumerate(jobs_data, start=1):
        section = f"scheduler.jobs[{index}]"
        name = reader.text(job, section, "name", f"job-{index}")
        kind = reader.choice(job, section, "kind", "cycle", ("cycle", "extract", "housekeeping"))
        cron = reader.optional_text(job, section, "cron")
        every = job.get("every_seconds")
        if (cron is None) == (every is None):
            raise reader._fail(section, "cron", 'either cron = "m h dom mon dow" or every_seconds = N', cron)
        if cron is not None and len(cron.split()) != 5:
            raise reader._fail(section, "cron", 'five crontab fields "minute hour day month day-of-week"', cron)
        mailboxes = job.get("mailboxes", [])
        if not isinstance(mailboxes, list) or not all(
                isinstance(m, str) and len(m) == 6 and m.isdigit() for m in mailboxes):
            raise reader._fail(section, "mailboxes", 'a list of 6-digit sender numbers like ["006400"]', mailboxes)
        institutions = job.get("institutions", [])
        if not isinstance(institutions, list) or not all(isinstance(i, str) and i for i in institutions):
            raise reader._fail(section, "institutions", 'a list of institution names like ["onem"]', institutions)
        if name in {j.name for j in jobs}:
            raise reader._fail(section, "name", "unique among the jobs", name)
        jobs.append(JobSettings(name=name, kind=kind, cron=cron,
                                every_seconds=None if every is None else
                                reader.integer(job, section, "every_seconds", 60, minimum=1),
                                mailboxes=tuple(mailboxes), institutions=tuple(institutions)))
    return SchedulerSettings(
        lease_seconds=reader.integer(t, "scheduler", "lease_seconds", 30, minimum=2),
        misfire_grace_seconds=reader.integer(t, "scheduler", "misfire_grace_seconds", 6 * 3600, minimum=1),
        housekeeping_days=reader.integer(t, "scheduler", "housekeeping_days", 30, minimum=1),
        jobs=tuple(jobs))


def _anomaly_class(reader: _Reader, table: dict[str, Any], key: str) -> str | None:
    """An anomaly class (B, P, NP, D, W, I) or None for "off"."""
    value = reader.text(table, "crosschecks", key, "W")
    if value == "off":
        return None
    if value not in ("B", "P", "NP", "D", "W", "I"):
        raise reader._fail("crosschecks", key, 'one of "B", "P", "NP", "D", "W", "I" or "off"', value)
    return value


def _absolute_sqlite(url: str, base: Path) -> str:
    """Resolve a relative SQLite path against the workspace so every command sees the same file."""
    scheme, sep, rest = url.partition(":///")
    if sep and (scheme == "sqlite" or scheme.startswith("sqlite+")) and rest and not rest.startswith("/") \
            and ":memory:" not in rest:
        return f"{scheme}:///{base / rest}"
    return url


@dataclass(frozen=True, slots=True)
class _Reader:
    """Typed access to the parsed TOML with errors that name the file and the key."""

    path: Path
    data: dict[str, Any]

    def table(self, name: str) -> dict[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{self.path}: [{name}] must be a table")
        return value

    def _fail(self, section: str, key: str, expected: str, value: object) -> ConfigError:
        return ConfigError(f"{self.path}: {section}.{key} must be {expected}, found {value!r}")

    def text(self, table: dict[str, Any], section: str, key: str, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or not value:
            raise self._fail(section, key, "a non-empty string", value)
        return value

    def digits(self, table: dict[str, Any], section: str, key: str, default: str, width: int) -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or len(value) != width or not (value.isascii() and value.isdigit()):
            raise self._fail(section, key, f'a string of {width} digits (e.g. "{default}")', value)
        return value

    def optional_text(self, table: dict[str, Any], section: str, key: str) -> str | None:
        value = table.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self._fail(section, key, "a string", value)
        return value

    def choice(self, table: dict[str, Any], section: str, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = table.get(key, default)
        if value not in allowed:
            raise self._fail(section, key, "one of " + ", ".join(f'"{a}"' for a in allowed), value)
        return str(value)

    def number(self, table: dict[str, Any], section: str, key: str, default: float, *,
               minimum: float = 0.001) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise self._fail(section, key, f"a number of at least {minimum}", value)
        return float(value)

    def integer(self, table: dict[str, Any], section: str, key: str, default: int, *,
                minimum: int | None = None, maximum: int | None = None) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(section, key, "an integer", value)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise self._fail(section, key, f"an integer in [{minimum}, {maximum}]", value)
        return value

    def boolean(self, table: dict[str, Any], section: str, key: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self._fail(section, key, "true or false", value)
        return value

    def day(self, table: dict[str, Any], section: str, key: str) -> date | None:
        value = table.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, datetime):
            raise self._fail(section, key, "a date YYYY-MM-DD without a time", value)
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise self._fail(section, key, "a date YYYY-MM-DD", value) from None
