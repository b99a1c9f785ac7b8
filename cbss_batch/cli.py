"""The ``cbss-batch`` command line: thin — read options, call the pipeline or the store, print a summary."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from cbss_batch.clock import Clock
from cbss_batch.config import Settings, load_settings
from cbss_batch.errors import BatchError
from cbss_batch.explain import CLASS_NAMES
from cbss_batch.logging_setup import LOG_FORMATS, configure_logging, mask_text
from cbss_batch.report_html import write_html
from cbss_batch.validation import check_file

# The database layer (SQLAlchemy, the pipeline) is imported by the commands that use it, so that the
# commands without a database — validate above all, timed against bare lxml — start without it.

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

    def clock(self) -> Clock:
        return Clock(self.settings.today)

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
        table.add_column(column, overflow="fold")  # tickets and names whole, never cut with …
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
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default="text", show_default=True,
              envvar="CBSS_LOG_FORMAT", help="Logs on stderr as text lines or one JSON object per line.")
@click.version_option(package_name="cbss-batch")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, db_url: str | None, as_json: bool, verbose: int,
        quiet: bool, log_format: str) -> None:
    """Batch processor for social-security declarations (DmfA, Dimona, DRS): intake, checks, answers."""
    verbosity = -1 if quiet else verbose
    configure_logging(verbosity, log_format)
    ctx.obj = Context(config_path, db_url, as_json, verbosity)


@cli.command()
@pass_context
def init(ctx: Context) -> None:
    """Create the folders and bring the database schema to the newest version; safe to repeat."""
    from cbss_batch.store.session import head_revision, upgrade

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
    from cbss_batch import pipeline
    from cbss_batch.store.session import open_database

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
@click.option("--html", "html_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also write a self-contained HTML report to this file.")
@pass_context
def validate(ctx: Context, files: tuple[Path, ...], html_path: Path | None) -> None:
    """Check DmfA, Dimona and DRS files as the intake would (schema, rules), without database or outbox:
    every anomaly with its place, the rule in plain words and how to fix it. Exit 1 when one blocks."""
    settings = ctx.settings
    today = ctx.clock().today()
    file_reports = [check_file(path, xsd_dir=settings.xsd, today=today) for path in files]
    data = {"files": [r.as_dict() for r in file_reports], "valid": all(r.is_valid for r in file_reports)}
    if html_path is not None:
        write_html(data, html_path, today=today)
    ctx.emit(data, _render_validation)
    if html_path is not None and not ctx.as_json:
        click.echo(f"HTML report written to {html_path}")
    if not data["valid"]:
        sys.exit(1)


def _render_validation(data: dict[str, Any]) -> None:
    def anomaly(a: dict[str, Any], indent: str) -> None:
        element = a["element"] or ""
        if a["value"] is not None:
            element += f" = {a['value']}" if element else str(a["value"])
        click.echo(f"{indent}{_where(a)}{a['code']} [{a['class']}] {element}".rstrip())
        if a.get("xpath"):
            click.echo(f"{indent}    at {a['xpath']}")
        click.echo(f"{indent}    found: {a['message']}")
        click.echo(f"{indent}    rule:  {a['rule']}")
        click.echo(f"{indent}    fix:   {a['fix']}")

    for report in data["files"]:
        verdict = "valid" if report["valid"] else "NOT valid"
        counts = ", ".join(f"{n} {CLASS_NAMES.get(cls, cls)} ({cls})" for cls, n in report["counts"].items())
        click.echo(f"{report['file']}: {verdict}" + (f" ({counts})" if counts else ""))
        for note in report["notes"]:
            click.echo(f"  note: {note}")
        if report["file_problems"]:
            click.echo("  the file:")
        for problem in report["file_problems"]:
            anomaly(problem, "    ")
        for d in report["declarations"]:
            if d["accepted"]:
                state = "would be accepted"
            elif d["refused_with_file"] and not any(a["class"] == "B" for a in d["anomalies"]):
                state = "no blocking anomaly of its own, refused with the file"
            else:
                state = "would be refused"
            if d["kind"] == "DmfA":
                click.echo(f"  declaration {d['form']} (NOSS {d['noss_number']}, quarter {d['quarter']}, "
                           f"{d['persons']} persons): {state}")
            else:
                click.echo(f"  form {d['form']} ({d['kind']}, NOSS {d['noss_number'] or '-'}): {state}")
            for a in d["anomalies"]:
                anomaly(a, "    ")


def _where(item: dict[str, Any]) -> str:
    if item.get("line"):
        return f"line {item['line']}:{item.get('column') or 1} "
    return ""


@cli.command()
@pass_context
def status(ctx: Context) -> None:
    """The backlog and its age (sets by state, files in the inbox, answers and extracts waiting for delivery
    or for an SFTP push), the last run, the next scheduled runs and the recent failures with their reason."""
    from cbss_batch.institutions import load_institutions
    from cbss_batch.senders import load_senders
    from cbss_batch.store import reports
    from cbss_batch.store.session import open_database

    s = ctx.settings
    senders = [number for number, sender in load_senders(s.senders).items() if sender.mailbox is not None]
    institutions = [name for name, i in load_institutions(s.institutions).items() if i.mailbox is not None]
    engine = open_database(s.database_url)
    try:
        with engine.connect() as conn:
            data = reports.status(conn, now=ctx.clock().now(), push_mailboxes=senders,
                                  push_institutions=institutions)
            scheduled = reports.scheduled_runs(conn, datetime.now())  # the scheduler runs on the wall clock
    finally:
        engine.dispose()
    for item in data["failures"] + data["failed_runs"] + [data["last_run"] or {}]:
        for key in ("reason", "message"):  # a schema error quotes the refused value, which can be an INSZ
            if item.get(key):
                item[key] = mask_text(item[key])
    inbox = _inbox_waiting(s.inbox)
    data["backlog"]["inbox"] = inbox
    data["inbox_files_waiting"] = inbox["files"]
    data["scheduler_has_run"] = scheduled is not None
    data["next_scheduled_runs"] = scheduled or []
    ctx.emit(data, _render_status)


def _inbox_waiting(inbox: Path) -> dict[str, Any]:
    """Files in the inbox folders and the age of the oldest (by modification time, on the wall clock)."""
    found = [p for p in inbox.glob("*/IN*/*") if p.is_file() and not p.name.startswith(".")] if inbox.is_dir() else []
    oldest = min((p.stat().st_mtime for p in found), default=None)
    return {"files": len(found),
            "oldest_modified_at": None if oldest is None else f"{datetime.fromtimestamp(oldest):%Y-%m-%d %H:%M:%S}",
            "oldest_age_seconds": None if oldest is None else max(0, int(time.time() - oldest))}


def _age_text(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if days:
        return f"{days} d {hours % 24} h"
    if hours:
        return f"{hours} h {minutes % 60} min"
    return f"{minutes} min" if minutes else f"{seconds} s"


def _render_status(d: dict[str, Any]) -> None:
    backlog = d["backlog"]
    rows: list[tuple[str, ...]] = [
        (f"sets {state}", str(s["sets"]), s["oldest_received_at"] or "-", _age_text(s["oldest_age_seconds"]))
        for state, s in backlog["sets"].items()]
    inbox = backlog["inbox"]
    rows.append(("files in the inbox", str(inbox["files"]), inbox["oldest_modified_at"] or "-",
                 _age_text(inbox["oldest_age_seconds"])))
    push = backlog["answers_pending_push"]
    for label, key in (("answers waiting for delivery", "answers_pending_delivery"),
                       ("answers waiting for an SFTP push" + (f" ({push['failing']} failing)" if push["failing"]
                                                              else ""), "answers_pending_push"),
                       ("extracts waiting for delivery", "extracts_pending_delivery"),
                       ("extracts waiting for an SFTP push", "extracts_pending_push")):
        item = backlog[key]
        rows.append((label, str(item["count"]), item["oldest_created_at"] or "-",
                     _age_text(item["oldest_age_seconds"])))
    chunks = backlog["chunks_pending"]
    if chunks["count"]:
        rows.append((f"chunks of large sets waiting ({chunks['held']} being processed)", str(chunks["count"]),
                     chunks["oldest_created_at"] or "-", _age_text(chunks["oldest_age_seconds"])))
    _print_table("backlog", ("what", "count", "oldest", "age"), rows)
    last = d["last_run"]
    if last is None:
        click.echo("last run: none")
    else:
        by = f" (job {last['job']})" if last["job"] else ""
        click.echo(f"last run #{last['id']}: {last['started_at']} → {last['finished_at'] or 'running'} "
                   f"{last['status']}, {last['sets']} sets, on {last['host']} pid {last['pid']}{by}"
                   + (f": {last['message']}" if last["message"] else ""))
    if not d["scheduler_has_run"]:
        click.echo("next scheduled runs: none — no scheduler has run on this database (`cbss-batch scheduler`)")
    else:
        _print_table("next scheduled runs", ("job", "next run", "due"), [
            (j["job"], j["next_run_time"] or "paused",
             "-" if j["due_in_seconds"] is None else (f"in {_age_text(j['due_in_seconds'])}"
                                                      if j["due_in_seconds"] >= 0
                                                      else f"overdue by {_age_text(-j['due_in_seconds'])}"))
            for j in d["next_scheduled_runs"]])
    if d["failures"]:
        _print_table("recent refused or failed sets", ("ticket", "set", "state", "at", "reason"), [
            (f["ticket"], f"{f['mailbox']} {f['answer_name']}", f["state"], f["at"] or "-",
             f"{f['error_codes'] or ''} {f['reason'] or ''}".strip()) for f in d["failures"]])
    if d["failed_runs"]:
        _print_table("recent failed or partial runs", ("run", "started", "status", "host", "message"), [
            (str(r["id"]), r["started_at"], r["status"], f"{r['host']} pid {r['pid']}", r["message"] or "")
            for r in d["failed_runs"]])


@cli.command()
@click.option("--state", default=None, type=click.Choice(["received", "accepted", "rejected", "cancelled", "failed"]),
              help="Only sets in this state.")
@click.option("--mailbox", default=None, help="Only this sender's mailbox.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100000))
@pass_context
def files(ctx: Context, state: str | None, mailbox: str | None, limit: int) -> None:
    """List received sets, newest first (`cbss-batch show TICKET` follows one)."""
    from cbss_batch.store import reports
    from cbss_batch.store.session import open_database

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
@click.argument("key", metavar="WHAT")
@pass_context
def show(ctx: Context, key: str) -> None:
    """Follow WHAT through the store, back to the archived bytes and forward to the institutions.

    \b
    WHAT is one of:
      TICKET         a set: its files (hashes, archive), declarations, answers, fact events and the
                     extracts holding records of them; or a declaration of any type or a DmfA
                     modification: anomalies, staging rows per table, line and column in the archived file
      FI.… / GO.…    a received file name: the set it came in, as above
      FO.NOTI.…      an answer: its set and every declaration with staging rows, archived file, line, column
      FO.EXTR.…      an extract: the fact events it holds and the declarations behind them
      FO.EXTR.…:N    record N of an extract (its RecordNbr): the declaration line it came from
      INSZ           a person's history (11 digits)
    Prefix a name with SENDER/ (answers) or INSTITUTION/ (extracts) when several carry it.
    """
    from cbss_batch.store import reports
    from cbss_batch.store.session import open_database

    engine = open_database(ctx.settings.database_url)
    try:
        with engine.connect() as conn:
            data = reports.show(conn, key)
    finally:
        engine.dispose()
    ctx.emit(data, _render_show)


def _render_show(d: dict[str, Any]) -> None:
    renderers = {"person": _render_person, "answer": _render_answer, "extract": _render_extract,
                 "extract_record": _render_extract_record}
    if d.get("kind") in renderers:
        renderers[d["kind"]](d)
        return
    skip = {"files", "declarations", "answers", "anomalies", "file_anomalies", "benefits", "staging", "source",
            "facts", "extracts", "other_sets_with_this_file"}
    for key, value in d.items():
        if key not in skip and value is not None:
            click.echo(f"{key}: {value}")
    if d.get("staging"):
        click.echo(f"staging rows: {_staging_text(d['staging'])}")
    if d.get("source"):
        click.echo(f"source: {_source_text(d['source'])}")
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
        elif "modification" in decl:
            click.echo(f"modification {decl['ticket']}: quarter {decl['quarter']}, version "
                       f"{decl['modification'] or '-'}, {verdict}")
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
    for fact in d.get("facts", []):
        click.echo(f"fact event {fact['event']} ({fact['kind']} {fact['mutation']}, {fact['ticket']}): "
                   + (f"in {', '.join(fact['extracts'])}" if fact["extracts"] else "in no extract yet"))
    for x in d.get("extracts", []):
        records = "records unknown (kept copy gone)" if x["records"] is None else f"{x['records']} records"
        click.echo(f"extract {x['institution']}/{x['name']} ({x['state']}): {records} of this set")
    if d.get("other_sets_with_this_file"):
        click.echo(f"earlier sets with this file: {', '.join(d['other_sets_with_this_file'])}")


def _staging_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{table} {count}" for table, count in counts.items())


def _source_text(src: dict[str, Any] | None) -> str:
    if src is None:
        return "no line recorded"
    if src["line"] is None:
        return f"document line {src['document_line']} (archived copy not readable)"
    return (f"{src['file']} line {src['line']} column {src['column']} (archive {src['archive']}, "
            f"sha256 {src['sha256']})")


def _render_lineages(declarations: list[dict[str, Any]]) -> None:
    for decl in declarations:
        verdict = "accepted" if decl["accepted"] else "refused"
        click.echo(f"declaration {decl['ticket']} ({decl['type']}, form {decl['form']}, {verdict}) of set "
                   f"{decl['set_ticket']}")
        click.echo(f"  staging rows: {_staging_text(decl['staging'])}")
        click.echo(f"  source: {_source_text(decl['source'])}")


def _render_answer(d: dict[str, Any]) -> None:
    click.echo(f"answer {d['name']} ({d['type']}) {d['mailbox']}/{d['folder']}, {d['state']}: delivered "
               f"{d['written_at'] or '-'}, pushed {d['pushed_at'] or '-'}, sha256 {d['sha256']}")
    if d["set_ticket"]:
        click.echo(f"set {d['set_ticket']} {d['set_name']} ({d['set_state']})")
    _render_lineages(d["declarations"])
    for f in d["files"]:
        click.echo(f"file {f['name']} ({f['size']} bytes, sha256 {f['sha256']}) → {f['archive']}")


def _render_extract(d: dict[str, Any]) -> None:
    click.echo(f"extract {d['institution']}/{d['name']} ({d['environment']}, {d['state']}): {d['records']} records, "
               f"events {d['first_event']}-{d['last_event']}, written {d['written_at'] or '-'}, pushed "
               f"{d['pushed_at'] or '-'}")
    for e in d["events"][:20]:
        records = "?" if e["records"] is None else e["records"]
        click.echo(f"event {e['event']} ({e['kind']} {e['mutation']}, {records} records): declaration {e['ticket']} "
                   f"of set {e['set_ticket']} {e['set_name']}")
    if len(d["events"]) > 20:
        click.echo(f"… and {len(d['events']) - 20} more events (--json lists them all)")
    _render_lineages(d["declarations"])


def _render_extract_record(d: dict[str, Any]) -> None:
    lineage = d["lineage"]
    click.echo(f"record {d['record']} of {d['institution']}/{d['extract']}: event {d['event']}, {d['mutation']} "
               f"{d['payload']['type']}")
    click.echo("  " + ", ".join(f"{k} {v}" for k, v in d["payload"]["fields"].items()))
    click.echo(f"from declaration {lineage['declaration_ticket']} of set {lineage['set_ticket']} "
               f"{lineage['received_file_name']}, line {lineage['line']}")
    if d["declaration"] is not None:
        _render_lineages([d["declaration"]])


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
    from cbss_batch.store.session import head_revision, upgrade

    upgrade(ctx.settings.database_url)
    ctx.emit({"schema": head_revision(ctx.settings.database_url)}, lambda d: click.echo(f"schema at {d['schema']}"))


@db.command("current")
@pass_context
def db_current(ctx: Context) -> None:
    """Show the schema version of the database and the newest one."""
    from cbss_batch.store.session import current_revision, head_revision, make_engine

    engine = make_engine(ctx.settings.database_url)
    try:
        data = {"current": current_revision(engine), "head": head_revision(ctx.settings.database_url)}
    finally:
        engine.dispose()
    ctx.emit(data, lambda d: click.echo(f"current {d['current'] or 'none'}, newest {d['head']}"))


def _safe_url(url: str) -> str:
    return url.split("@", 1)[-1] if "@" in url else url


def _store_errors() -> tuple[type[Exception], ...]:
    """What is reported as a database failure; none when no command opened the database (not imported)."""
    if "cbss_batch.store.session" not in sys.modules:
        return ()
    from cbss_batch.store.session import STORE_ERRORS

    return STORE_ERRORS


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
    except _store_errors() as exc:
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

from cbss_batch.cli_reprocess import reprocess  # noqa: E402  (it uses Context from this module)

cli.add_command(reprocess)

from cbss_batch.cli_stats import stats  # noqa: E402  (it uses Context from this module)

cli.add_command(stats)

from cbss_batch.cli_completion import completion  # noqa: E402

cli.add_command(completion)

from cbss_batch.cli_worker import worker  # noqa: E402  (it uses Context from this module)

cli.add_command(worker)

from cbss_batch.cli_audit import audit  # noqa: E402  (it uses Context from this module)

cli.add_command(audit)
