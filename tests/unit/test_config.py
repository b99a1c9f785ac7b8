"""Settings file and CBSS_* overrides: defaults, every key, errors that name the file and the key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cbss_batch.config import (
    BUNDLED_PARAMETERS,
    BUNDLED_XSD,
    IntakeSettings,
    OutboxSettings,
    SchedulerSettings,
    Settings,
    SftpSettings,
    SigningSettings,
    load_settings,
)
from cbss_batch.errors import ConfigError

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace folder that is the current directory for the test."""
    root = tmp_path / "ws"
    root.mkdir()
    monkeypatch.chdir(root)
    return root


def write(folder: Path, text: str, name: str = "cbss.toml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_empty_file_gives_documented_defaults(cwd: Path) -> None:
    path = write(cwd / "config", "")
    settings = load_settings(path, {})
    assert settings == Settings(
        config_path=path.resolve(),
        transfer_point="999999",
        inbox=cwd / "inbox",
        outbox=cwd / "outbox",
        archive=cwd / "var" / "archive",
        work=cwd / "var" / "work",
        database_url=f"sqlite:///{cwd / 'var' / 'cbss.db'}",
        xsd=BUNDLED_XSD,
        today=None,
        intake=IntakeSettings(max_part_bytes=50_000_000, max_parts=9, max_name_age_days=365, go_timeout_hours=24,
                              signature_required_in_production=True, unregistered_senders="accept"),
        outbox_options=OutboxSettings(compress_above_bytes=50_000_000),
        senders=cwd / "config" / "senders",
        institutions=cwd / "config" / "institutions",
        parameters=BUNDLED_PARAMETERS,
        sftp=SftpSettings(known_hosts=cwd / "config" / "known_hosts", connect_timeout=15.0, read_timeout=60.0,
                          keepalive=30, session_timeout=3600.0, settle_seconds=1.0, incomplete_grace_minutes=60,
                          push_attempts=3, retry_base_seconds=60),
        signing=SigningSettings(key_file=None, key_env=None, passphrase_env=None),
        scheduler=SchedulerSettings(lease_seconds=30, misfire_grace_seconds=21600, housekeeping_days=30, jobs=()),
        batch_rows=5000,
        parallel_validation=True,
    )


def test_default_schemas_are_the_project_xsd_folder(cwd: Path) -> None:
    settings = load_settings(write(cwd, ""), {})
    assert settings.xsd == PROJECT / "xsd"
    assert (settings.xsd / "DmfAOriginal_20223.xsd").is_file()


def test_without_a_path_reads_config_cbss_toml_in_the_working_directory(cwd: Path) -> None:
    write(cwd / "config", "[runtime]\nbatch_rows = 7\n")
    settings = load_settings(None, {})
    assert settings.batch_rows == 7
    assert settings.config_path == cwd / "config" / "cbss.toml"


def test_shipped_configuration_loads(cwd: Path) -> None:
    settings = load_settings(PROJECT / "config" / "cbss.toml", {})
    assert settings.transfer_point == "999999"
    assert settings.intake.max_parts == 9


OVERRIDES: list[tuple[str, str, Callable[[Settings], Any], Callable[[Path], Any]]] = [
    ("transfer-point", '[transfer_point]\nnumber = "123456"', lambda s: s.transfer_point, lambda _: "123456"),
    ("inbox", '[paths]\ninbox = "mail/in"', lambda s: s.inbox, lambda cwd: cwd / "mail" / "in"),
    ("outbox", '[paths]\noutbox = "mail/out"', lambda s: s.outbox, lambda cwd: cwd / "mail" / "out"),
    ("archive", '[paths]\narchive = "keep"', lambda s: s.archive, lambda cwd: cwd / "keep"),
    ("work", '[paths]\nwork = "tmp/work"', lambda s: s.work, lambda cwd: cwd / "tmp" / "work"),
    ("xsd", '[paths]\nxsd = "schemas"', lambda s: s.xsd, lambda cwd: cwd / "schemas"),
    ("absolute-inbox", '[paths]\ninbox = "/srv/cbss/in"', lambda s: s.inbox, lambda _: Path("/srv/cbss/in")),
    ("postgresql-url", '[database]\nurl = "postgresql+psycopg://cbss@db/cbss"', lambda s: s.database_url,
     lambda _: "postgresql+psycopg://cbss@db/cbss"),
    ("absolute-sqlite-url", '[database]\nurl = "sqlite:////srv/cbss.db"', lambda s: s.database_url,
     lambda _: "sqlite:////srv/cbss.db"),
    ("memory-sqlite-url", '[database]\nurl = "sqlite:///:memory:"', lambda s: s.database_url,
     lambda _: "sqlite:///:memory:"),
    ("max-part-bytes", "[intake]\nmax_part_bytes = 1000", lambda s: s.intake.max_part_bytes, lambda _: 1000),
    ("max-parts", "[intake]\nmax_parts = 3", lambda s: s.intake.max_parts, lambda _: 3),
    ("max-name-age-days", "[intake]\nmax_name_age_days = 30", lambda s: s.intake.max_name_age_days,
     lambda _: 30),
    ("go-timeout-hours", "[intake]\ngo_timeout_hours = 2", lambda s: s.intake.go_timeout_hours, lambda _: 2),
    ("signature-not-required", "[intake]\nsignature_required_in_production = false",
     lambda s: s.intake.signature_required_in_production, lambda _: False),
    ("unregistered-refused", '[intake]\nunregistered_senders = "refuse"', lambda s: s.intake.unregistered_senders,
     lambda _: "refuse"),
    ("senders-folder", '[paths]\nsenders = "etc/senders"', lambda s: s.senders, lambda cwd: cwd / "etc" / "senders"),
    ("sftp-timeouts", "[sftp]\nconnect_timeout_seconds = 2\nread_timeout_seconds = 0.5",
     lambda s: (s.sftp.connect_timeout, s.sftp.read_timeout), lambda _: (2.0, 0.5)),
    ("signing-key", '[signing]\nkey_env = "CBSS_SIGNING_KEY"', lambda s: s.signing.key_env,
     lambda _: "CBSS_SIGNING_KEY"),
    ("scheduler-job", '[[scheduler.jobs]]\nname = "pull"\nkind = "cycle"\ncron = "*/5 * * * *"\nmailboxes = ["006400"]',
     lambda s: s.scheduler.jobs[0].mailboxes, lambda _: ("006400",)),
    ("compress-above-bytes", "[outbox]\ncompress_above_bytes = 10", lambda s: s.outbox_options.compress_above_bytes,
     lambda _: 10),
    ("today-string", '[runtime]\ntoday = "2026-11-28"', lambda s: s.today, lambda _: date(2026, 11, 28)),
    ("today-toml-date", "[runtime]\ntoday = 2026-11-28", lambda s: s.today, lambda _: date(2026, 11, 28)),
    ("today-empty", '[runtime]\ntoday = ""', lambda s: s.today, lambda _: None),
    ("batch-rows", "[runtime]\nbatch_rows = 1", lambda s: s.batch_rows, lambda _: 1),
    ("parallel-validation", "[runtime]\nparallel_validation = false", lambda s: s.parallel_validation,
     lambda _: False),
]


@pytest.mark.parametrize(("text", "read", "expected"), [row[1:] for row in OVERRIDES], ids=[r[0] for r in OVERRIDES])
def test_each_key_overrides_its_default(cwd: Path, text: str, read: Callable[[Settings], Any],
                                        expected: Callable[[Path], Any]) -> None:
    assert read(load_settings(write(cwd, text + "\n"), {})) == expected(cwd)


def test_fixed_processing_date_replaces_the_clock(cwd: Path) -> None:
    fixed = load_settings(write(cwd, '[runtime]\ntoday = "2026-11-28"\n'), {})
    assert fixed.today_or(date(2030, 1, 1)) == date(2026, 11, 28)
    clock = load_settings(write(cwd, ""), {})
    assert clock.today_or(date(2030, 1, 1)) == date(2030, 1, 1)


BAD_VALUES = [
    ("transfer-point-five-digits", '[transfer_point]\nnumber = "12345"', "transfer_point.number"),
    ("transfer-point-integer", "[transfer_point]\nnumber = 999999", "transfer_point.number"),
    ("transfer-point-letter", '[transfer_point]\nnumber = "99999X"', "transfer_point.number"),
    ("transfer-point-arabic-indic-digits", '[transfer_point]\nnumber = "\u0669\u0669\u0669\u0669\u0669\u0669"',
     "transfer_point.number"),
    ("inbox-empty", '[paths]\ninbox = ""', "paths.inbox"),
    ("outbox-number", "[paths]\noutbox = 5", "paths.outbox"),
    ("archive-list", '[paths]\narchive = ["a"]', "paths.archive"),
    ("work-boolean", "[paths]\nwork = true", "paths.work"),
    ("xsd-number", "[paths]\nxsd = 5", "paths.xsd"),
    ("xsd-empty", '[paths]\nxsd = ""', "paths.xsd"),
    ("database-url-empty", '[database]\nurl = ""', "database.url"),
    ("database-url-number", "[database]\nurl = 5", "database.url"),
    ("max-parts-zero", "[intake]\nmax_parts = 0", "intake.max_parts"),
    ("unregistered-senders-word", '[intake]\nunregistered_senders = "maybe"', "intake.unregistered_senders"),
    ("sftp-timeout-negative", "[sftp]\nread_timeout_seconds = -1", "sftp.read_timeout_seconds"),
    ("job-cron-and-interval", '[[scheduler.jobs]]\nname = "x"\ncron = "* * * * *"\nevery_seconds = 5',
     "scheduler.jobs[1].cron"),
    ("job-cron-six-fields", '[[scheduler.jobs]]\nname = "x"\ncron = "0 * * * * *"', "scheduler.jobs[1].cron"),
    ("job-kind", '[[scheduler.jobs]]\nname = "x"\nkind = "dance"\nevery_seconds = 5', "scheduler.jobs[1].kind"),
    ("job-mailbox", '[[scheduler.jobs]]\nname = "x"\nevery_seconds = 5\nmailboxes = ["64"]',
     "scheduler.jobs[1].mailboxes"),
    ("max-parts-ten", "[intake]\nmax_parts = 10", "intake.max_parts"),
    ("max-parts-string", '[intake]\nmax_parts = "9"', "intake.max_parts"),
    ("max-parts-boolean", "[intake]\nmax_parts = true", "intake.max_parts"),
    ("max-parts-float", "[intake]\nmax_parts = 1.5", "intake.max_parts"),
    ("max-part-bytes-zero", "[intake]\nmax_part_bytes = 0", "intake.max_part_bytes"),
    ("max-name-age-days-zero", "[intake]\nmax_name_age_days = 0", "intake.max_name_age_days"),
    ("go-timeout-hours-negative", "[intake]\ngo_timeout_hours = -1", "intake.go_timeout_hours"),
    ("signature-required-string", '[intake]\nsignature_required_in_production = "yes"',
     "intake.signature_required_in_production"),
    ("compress-above-bytes-zero", "[outbox]\ncompress_above_bytes = 0", "outbox.compress_above_bytes"),
    ("today-day-first", '[runtime]\ntoday = "28/11/2026"', "runtime.today"),
    ("today-february-30", '[runtime]\ntoday = "2026-02-30"', "runtime.today"),
    ("today-time-of-day", "[runtime]\ntoday = 10:30:00", "runtime.today"),
    ("batch-rows-zero", "[runtime]\nbatch_rows = 0", "runtime.batch_rows"),
    ("parallel-validation-integer", "[runtime]\nparallel_validation = 1", "runtime.parallel_validation"),
]


@pytest.mark.parametrize(("text", "key"), [row[1:] for row in BAD_VALUES], ids=[row[0] for row in BAD_VALUES])
def test_bad_value_raises_config_error_naming_file_and_key(cwd: Path, text: str, key: str) -> None:
    path = write(cwd, text + "\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    assert str(path) in str(caught.value)
    assert key in str(caught.value)


@pytest.mark.parametrize("section", ["transfer_point", "paths", "database", "intake", "outbox", "runtime"])
def test_section_that_is_not_a_table_raises_config_error_naming_it(cwd: Path, section: str) -> None:
    path = write(cwd, f'{section} = "x"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    assert str(path) in str(caught.value)
    assert f"[{section}]" in str(caught.value)


def test_today_given_as_a_toml_datetime_is_a_date_or_refused(cwd: Path) -> None:
    path = write(cwd, "[runtime]\ntoday = 2026-11-28T10:30:00\n")
    try:
        settings = load_settings(path, {})
    except ConfigError as exc:
        assert "runtime.today" in str(exc)
    else:
        assert type(settings.today) is date
        assert settings.today == date(2026, 11, 28)


def test_missing_file_raises_config_error_naming_it(cwd: Path) -> None:
    path = cwd / "nowhere" / "cbss.toml"
    with pytest.raises(ConfigError, match="not found") as caught:
        load_settings(path, {})
    assert str(path) in str(caught.value)


def test_missing_default_file_names_config_cbss_toml(cwd: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {})
    assert str(Path("config/cbss.toml")) in str(caught.value)
    assert "CBSS_CONFIG" in str(caught.value)


def test_directory_instead_of_file_raises_config_error(cwd: Path) -> None:
    (cwd / "config.toml").mkdir()
    with pytest.raises(ConfigError, match="not found"):
        load_settings(cwd / "config.toml", {})


def test_invalid_toml_raises_config_error_naming_the_file(cwd: Path) -> None:
    path = write(cwd, "[intake\nmax_parts = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        load_settings(path, {})
    assert str(path) in str(caught.value)


def test_file_that_is_not_utf8_raises_config_error_naming_the_file(cwd: Path) -> None:
    path = cwd / "cbss.toml"
    path.write_bytes(b'[paths]\ninbox = "bo\xeete"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    assert str(path) in str(caught.value)


def test_cbss_config_wins_over_the_path_argument(cwd: Path) -> None:
    given = write(cwd / "given", "[runtime]\nbatch_rows = 1\n")
    chosen = write(cwd / "chosen", "[runtime]\nbatch_rows = 2\n")
    settings = load_settings(given, {"CBSS_CONFIG": str(chosen)})
    assert settings.batch_rows == 2
    assert settings.config_path == chosen.resolve()


def test_relative_cbss_config_resolves_against_the_working_directory(cwd: Path) -> None:
    write(cwd / "etc", "[runtime]\nbatch_rows = 3\n")
    settings = load_settings(None, {"CBSS_CONFIG": "etc/cbss.toml"})
    assert settings.batch_rows == 3
    assert settings.config_path == cwd / "etc" / "cbss.toml"


def test_cbss_config_naming_a_missing_file_raises_config_error_naming_it(cwd: Path) -> None:
    given = write(cwd, "")
    with pytest.raises(ConfigError) as caught:
        load_settings(given, {"CBSS_CONFIG": str(cwd / "missing.toml")})
    assert str(cwd / "missing.toml") in str(caught.value)


def test_cbss_db_url_wins_over_the_file(cwd: Path) -> None:
    path = write(cwd, '[database]\nurl = "sqlite:////srv/file.db"\n')
    settings = load_settings(path, {"CBSS_DB_URL": "postgresql+psycopg://cbss@db/cbss"})
    assert settings.database_url == "postgresql+psycopg://cbss@db/cbss"


def test_cbss_db_url_is_used_even_when_the_file_url_is_invalid(cwd: Path) -> None:
    path = write(cwd, "[database]\nurl = 5\n")
    settings = load_settings(path, {"CBSS_DB_URL": "sqlite:////srv/env.db"})
    assert settings.database_url == "sqlite:////srv/env.db"


def test_empty_cbss_db_url_leaves_the_file_url(cwd: Path) -> None:
    path = write(cwd, '[database]\nurl = "sqlite:////srv/file.db"\n')
    assert load_settings(path, {"CBSS_DB_URL": ""}).database_url == "sqlite:////srv/file.db"


def test_relative_paths_resolve_against_the_working_directory_not_the_file(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "elsewhere", '[paths]\ninbox = "in"\n')
    run_from = tmp_path / "run"
    run_from.mkdir()
    monkeypatch.chdir(run_from)
    settings = load_settings(path, {})
    assert settings.inbox == run_from / "in"
    assert settings.archive == run_from / "var" / "archive"


@pytest.mark.parametrize(
    ("url", "relative"),
    [
        ("sqlite:///var/cbss.db", "var/cbss.db"),
        ("sqlite:///cbss.db", "cbss.db"),
        ("sqlite+pysqlite:///var/cbss.db", "var/cbss.db"),
    ],
    ids=["in-subfolder", "in-working-directory", "driver-qualified"],
)
def test_relative_sqlite_url_in_the_file_becomes_absolute(cwd: Path, url: str, relative: str) -> None:
    settings = load_settings(write(cwd, f'[database]\nurl = "{url}"\n'), {})
    scheme = url.split(":///", 1)[0]
    assert settings.database_url == f"{scheme}:///{cwd / relative}"
    assert Path(settings.database_url.split(":///", 1)[1]).is_absolute()


def test_relative_sqlite_url_from_cbss_db_url_becomes_absolute(cwd: Path) -> None:
    settings = load_settings(write(cwd, ""), {"CBSS_DB_URL": "sqlite:///data/x.db"})
    assert settings.database_url == f"sqlite:///{cwd / 'data' / 'x.db'}"


def test_same_relative_sqlite_url_differs_by_working_directory(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[database]\nurl = "sqlite:///var/cbss.db"\n')
    urls = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        urls.append(load_settings(path, {}).database_url)
    assert urls == [f"sqlite:///{tmp_path / folder / 'var' / 'cbss.db'}" for folder in ("a", "b")]


def test_settings_are_frozen(cwd: Path) -> None:
    settings = load_settings(write(cwd, ""), {})
    with pytest.raises(AttributeError):
        settings.batch_rows = 1  # type: ignore[misc]
