"""The ``cbss-batch`` command line: thin — read options, call the pipeline or the store, print a summary."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cbss_batch import pipeline
from cbss_batch.config import Settings, load_settings
from cbss_batch.errors import BatchError
from cbss_batch.logging_setup import configure_logging
from cbss_batch.store import reports
from cbss_batch.store.session import STORE_ERRORS, current_revision, head_revision, make_engine, open_database, upgrade
from cbss_batch.validation import check_file

log = logging.getLogger(__name__)


class Context:
    """What every command receives: options, and settings loaded on first use."""

    def __init__(self, config_path: Path | None, db_url: str | None, as_json: bool, verbosity: int) -> None:
        self.config_path, self.db_url, self.as_json, self.verbosity = config_path, db_url, as_json, verbosity
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            environ = dict(os.environ)
            if self.db_url:
                environ["CBSS_DB_URL"] = self.db_url
            self._settings = load_settings(self.config_path, environ)
        return self._settings

    def clock(self) -> pipeline.Clock:
        return pipeline.Clock(self.settings.today)

    def emit(self, data: Any, render: Any) -> None:
        if self.as_json:
            click.echo(json.dumps(data, indent=2, default=str))
        else:
            render(data)


pass_context: Callable[[Callable[..., Any]], Callable[..., Any]] = click.make_pass_decorator(Context)


def _print_table(title: str | None, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """A table with rich (loaded only when a table is printed)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console(highlight=False).print(table)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="Settings file (default config/cbss.toml, or CBSS_CONFIG).")
@click.option("--db", "db_url", default=None, help="Database URL (overrides the settings and CBSS_DB_URL).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@click.option("-v", "--verbose", count=True, help="More log output (repeat for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.version_option(package_name="cbss-batch")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, db_url: str | None, as_json: bool, verbose: int,
        quiet: bool) -> None:
    """Batch processor for social-security declarations (DmfA, Dimona, DRS): intake, checks, answers."""
    verbosity = -1 if quiet else verbose
    configure_logging(verbosity)
    ctx.obj = Context(config_path, db_url, as_json, verbosity)


@cli.command()
@pass_context
def init(ctx: Context) -> None:
    """Create the folders and bring the database schema to the newest version; safe to repeat."""
    s = ctx.settings
    for folder in (s.inbox, s.outbox, s.archive, s.work):
        folder.mkdir(parents=True, exist_ok=True)
    for private in (s.archive, s.work):  # received bytes and answers before delivery: owner only
        private.chmod(0o700)
    upgrade(s.database_url)
    data = {"inbox": str(s.inbox), "outbox": str(s.outbox), "archive": str(s.archive),
            "database": _safe_url(s.database_url), "schema": head_revision(s.database_url)}
    ctx.emit(data, lambda d: click.echo(f"ready: database {d['database']} at schema {d['schema']}; "
                                        f"inbox {d['inbox']}, outbox {d['outbox']}"))


@cli.command()
@pass_context
def run(ctx: Context) -> None:
    """One full cycle: pull from the SFTP mailboxes, process every complete set in the inbox, write the
    answers to the outbox and push them back. Exit 1 when a mailbox could not be served (the rest
    of the cycle is done; what was left is retried on the next run)."""
    s = ctx.settings
    engine = open_database(s.database_url)
    try:
        if sys.stderr.isatty() and not ctx.as_json and ctx.verbosity >= 0:
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                          console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task("scanning the inbox", total=None)
                summary = pipeline.run_cycle(s, engine, ctx.clock(),
                                             progress=lambda name: bar.update(task, description=f"processing {name}"))
        else:
            summary = pipeline.run_cycle(s, engine, ctx.clock())
    finally:
        engine.dispose()
    ctx.emit(summary.as_dict(), lambda d: click.echo(
        f"{d['sets']} sets: {d['sets_accepted']} accepted, {d['sets_rejected']} refused, "
        f"{d['sets_cancelled']} cancelled; declarations: {d['declarations_accepted']} accepted, "
        f"{d['declarations_refused']} refused; {d['answers_written']} answers written to {s.outbox} "
        f"in {d['seconds']:.2f} s" + (f"; {d['mailboxes']} SFTP mailboxes: {d['sets_pulled']} sets pulled, "
                                      f"{d['answers_pushed']} answers pushed" if d["mailboxes"] else "")))
    if summary.mailbox_errors:
        raise BatchError("; ".join(summary.mailbox_errors))


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@pass_context
def validate(ctx: Context, files: tuple[Path, ...]) -> None:
    """Check DmfA, Dimona and DRS files as the intake would (schema, rules), without database or outbox."""
    settings = ctx.settings
    today = ctx.clock().today()
    file_reports = [check_file(path, xsd_dir=settings.xsd, today=today) for path in files]
    ctx.emit({"files": [r.as_dict() for r in file_reports], "valid": all(r.is_valid for r in file_reports)},
             _render_validation)
    if not all(r.is_valid for r in file_reports):
        sys.exit(1)


def _render_validation(data: dict[str, Any]) -> None:
    for report in data["files"]:
        verdict = "valid" if report["valid"] else "NOT valid"
        click.echo(f"{report['file']}: {verdict}")
        for problem in report["file_problems"]:
            click.echo(f"  {_where(problem)}{problem['code']} [{problem['class']}] {problem['message']}")
        for d in report["declarations"]:
            state = "accepted" if d["accepted"] else "refused"
            if d["kind"] == "DmfA":
                click.echo(f"  declaration {d['form']} (NOSS {d['noss_number']}, quarter {d['quarter']}, "
                           f"{d['persons']} persons): would be {state}")
            else:
                click.echo(f"  form {d['form']} ({d['kind']}, NOSS {d['noss_number'] or '-'}): would be {state}")
            for a in d["anomalies"]:
                click.echo(f"    {_where(a)}{a['code']} [{a['class']}] {a['message']}")


def _where(item: dict[str, Any]) -> str:
    if item.get("line"):
        return f"line {item['line']}:{item.get('column') or 1} "
    return ""


@cli.command()
@pass_context
def status(ctx: Context) -> None:
    """Sets by state, answers waiting, the last run and failures."""
    engine = open_database(ctx.settings.database_url)
    try:
        with engine.connect() as conn:
            data = reports.status(conn)
    finally:
        engine.dispose()
    data["inbox_files_waiting"] = _inbox_waiting(ctx.settings.inbox)
    data["next_scheduled_runs"] = []
    ctx.emit(data, _render_status)


def _inbox_waiting(inbox: Path) -> int:
    if not inbox.is_dir():
        return 0
    return sum(1 for p in inbox.glob("*/IN*/*") if p.is_file() and not p.name.startswith("."))


def _render_status(d: dict[str, Any]) -> None:
    _print_table("sets by state", ("state", "sets"),
                 [(state, str(count)) for state, count in sorted(d["sets_by_state"].items())])
    click.echo(f"files waiting in the inbox: {d['inbox_files_waiting']}; answers waiting for delivery: "
               f"{d['answers_pending']}")
    last = d["last_run"]
    click.echo("last run: none" if last is None else
               f"last run: {last['started_at']} → {last['finished_at']} {last['status']}, {last['sets']} sets")
    click.echo("next scheduled runs: none (no scheduler configured)")
    for failure in d["failures"]:
        click.echo(f"failed: {failure['ticket']} {failure['answer_name']}: {failure['reason']}")


@cli.command()
@click.option("--state", default=None,
              help="Only sets in this state (accepted, rejected, cancelled, received, failed).")
@click.option("--mailbox", default=None, help="Only this sender's mailbox.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100000))
@pass_context
def files(ctx: Context, state: str | None, mailbox: str | None, limit: int) -> None:
    """List received sets, newest first."""
    engine = open_database(ctx.settings.database_url)
    try:
        with engine.connect() as conn:
            rows = reports.list_sets(conn, state=state, mailbox=mailbox, limit=limit)
    finally:
        engine.dispose()
    ctx.emit(rows, _render_files)


def _render_files(rows: list[dict[str, Any]]) -> None:
    _print_table(None, ("ticket", "received", "mailbox", "name", "state", "ACRF", "decl. ok", "refused"),
                 [(r["ticket"], str(r["received_at"]), f"{r['mailbox']}/{r['folder']}", r["name"], r["state"],
                   r["acrf"] or "", str(r["declarations_accepted"]), str(r["declarations_refused"])) for r in rows])


@cli.command()
@click.argument("ticket")
@pass_context
def show(ctx: Context, ticket: str) -> None:
    """A set or declaration by ticket (state, anomalies, amounts, lineage), or a person's history by INSZ."""
    engine = open_database(ctx.settings.database_url)
    try:
        with engine.connect() as conn:
            data = reports.show(conn, ticket)
    finally:
        engine.dispose()
    ctx.emit(data, _render_show)


def _render_show(d: dict[str, Any]) -> None:
    if d.get("kind") == "person":
        _render_person(d)
        return
    skip = {"files", "declarations", "answers", "anomalies", "file_anomalies", "benefits"}
    for key, value in d.items():
        if key not in skip and value is not None:
            click.echo(f"{key}: {value}")
    if "files" in d:
        click.echo("files:")
        for f in d["files"]:
            click.echo(f"  {f}" if isinstance(f, str) else f"  {f['name']} ({f['size']} bytes, sha256 {f['sha256']}) "
                                                            f"→ {f['archive']}")
    for a in d.get("file_anomalies", []) + d.get("anomalies", []):
        click.echo(f"  {_where(a)}{a['code']} [{a['class']}] {a['message']}")
    for decl in d.get("declarations", []):
        verdict = "accepted" if decl["accepted"] else "refused"
        if "dimona" in decl:
            click.echo(f"dimona {decl['ticket']}: {decl['dimona']} period {decl['period_id'] or '-'}, {verdict}")
        elif "scenario" in decl:
            click.echo(f"{decl['scenario']} {decl['ticket']}: risk {decl['risk'] or '-'}, {verdict}")
        else:
            click.echo(f"declaration {decl['ticket']}: NOSS {decl['noss_number']} quarter {decl['quarter']}, "
                       f"{decl['persons']} persons, {verdict}, net owed declared "
                       f"{decl['net_owed_declared']} computed {decl['net_owed_computed']}")
    for b in d.get("benefits", []):
        extras = ", cap applied" if b["cap_applied"] else ""
        click.echo(f"benefit {b['kind']} ({b['phase']}): {b['daily_amount']} EUR a day on a daily wage of "
                   f"{b['daily_basis']}{extras}")
    for answer in d.get("answers", []):
        click.echo(f"answer {answer['kind']}: {answer['folder']}/{answer['name']} ({answer['state']})")


def _render_person(d: dict[str, Any]) -> None:
    for p in d["employment_periods"]:
        state = "cancelled" if p["cancelled"] else f"{p['starting_date']} → {p['ending_date'] or 'open'}"
        click.echo(f"period {p['period_id']} employer {p['noss_number'] or p['company_id']} {p['worker_type']} "
                   f"JC {p['joint_committee'] or '-'}: {state}")
        for v in p["versions"]:
            click.echo(f"  v{v['version']} {v['action']}: {v['starting_date']} → {v['ending_date'] or 'open'}"
                       f"{' (cancelled)' if v['cancelled'] else ''}")
    for x in d["dimona_declarations"]:
        click.echo(f"dimona {x['ticket']} {x['action']} period {x['period_id'] or '-'}: "
                   f"{'accepted' if x['accepted'] else 'refused'}")
    for w in d["dmfa_worker_lines"]:
        click.echo(f"dmfa {w['declaration']} quarter {w['quarter']} employer {w['noss_number']} worker code "
                   f"{w['worker_code']}: {'accepted' if w['accepted'] else 'refused'} (line {w['line']})")
    for r in d["risk_declarations"]:
        verdict = "accepted" if r["accepted"] else "refused"
        click.echo(f"{r['scenario']} {r['ticket']} risk {r['risk'] or '-'}: {verdict}")


@cli.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Apply every pending migration."""
    upgrade(ctx.settings.database_url)
    ctx.emit({"schema": head_revision(ctx.settings.database_url)}, lambda d: click.echo(f"schema at {d['schema']}"))


@db.command("current")
@pass_context
def db_current(ctx: Context) -> None:
    """Show the schema version of the database and the newest one."""
    engine = make_engine(ctx.settings.database_url)
    try:
        data = {"current": current_revision(engine), "head": head_revision(ctx.settings.database_url)}
    finally:
        engine.dispose()
    ctx.emit(data, lambda d: click.echo(f"current {d['current'] or 'none'}, newest {d['head']}"))


def _safe_url(url: str) -> str:
    return url.split("@", 1)[-1] if "@" in url else url


def main() -> None:
    """Entry point: a deliberate error becomes one ``Error:`` line and exit code 1."""
    try:
        cli.main(standalone_mode=False, prog_name="cbss-batch")
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BatchError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except STORE_ERRORS as exc:
        log.debug("database failure", exc_info=True)
        first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        click.echo(f"Error: database failure: {first}; check the database (cbss-batch db current) and run again",
                   err=True)
        sys.exit(1)


from cbss_batch.cli_transfer import mailbox, sign  # noqa: E402  (they use Context from this module)

cli.add_command(sign)
cli.add_command(mailbox)

from cbss_batch.cli_scheduler import scheduler  # noqa: E402  (APScheduler is imported by the command only)

cli.add_command(scheduler)

from cbss_batch.cli_extract import extract, resend  # noqa: E402  (they use Context from this module)

cli.add_command(extract)
cli.add_command(resend)
