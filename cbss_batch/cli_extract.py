"""Commands for the distribution side: ``extract`` (institution extracts now) and ``resend``."""

from __future__ import annotations

import os
from datetime import date, datetime

import click

from cbss_batch.cli import Context, pass_context
from cbss_batch.errors import BatchError


@click.command()
@click.option("--institution", "names", multiple=True, help="Only this institution (repeatable); default: all.")
@click.option("--backfill-from", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="For a new subscriber: start with the facts accepted since this day (YYYY-MM-DD).")
@pass_context
def extract(ctx: Context, names: tuple[str, ...], backfill_from: datetime | None) -> None:
    """Produce the due institution extracts now, deliver them to outbox/institutions/<name>/ and push
    them to the institutions' SFTP mailboxes. Each fact goes once to every institution subscribed to it."""
    from cbss_batch.extract.delivery import push_extracts
    from cbss_batch.extract.produce import choose_institutions, produce_extracts
    from cbss_batch.store.session import open_database

    settings = ctx.settings
    now = ctx.clock().now()
    engine = open_database(settings.database_url)
    try:
        day: date | None = backfill_from.date() if backfill_from else None
        outcomes = produce_extracts(settings, engine, now=now, only=names, backfill_from=day)
        problems = push_extracts(settings, engine, now=now, institutions=choose_institutions(settings, names),
                                 environ=os.environ)
    finally:
        engine.dispose()
    data = {"extracts": [o.as_dict() for o in outcomes], "problems": problems}
    ctx.emit(data, lambda d: click.echo("\n".join(
        f"{e['institution']}: {e['name']} with {e['records']} records (events {e['first_event']}-{e['last_event']})"
        for e in d["extracts"]) or "no new facts for the institutions"))
    if problems:
        raise BatchError("; ".join(problems))


@click.command()
@click.argument("target")
@pass_context
def resend(ctx: Context, target: str) -> None:
    """Deliver again, byte for byte, an extract or an answer (by file name, [SENDER/ or INSTITUTION/]NAME),
    or every answer of a set (by ticket): to the outbox folder if it is not there any more, and to the
    SFTP mailbox on the next push."""
    from cbss_batch.extract.delivery import resend as resend_files
    from cbss_batch.store.session import open_database

    settings = ctx.settings
    engine = open_database(settings.database_url)
    try:
        names = resend_files(settings, engine, target, now=ctx.clock().now())
    finally:
        engine.dispose()
    ctx.emit({"resent": names}, lambda d: click.echo("\n".join(f"resent {n}" for n in d["resent"])))
