"""``cbss-batch audit verify``: check that the hash-chained audit log was not altered."""

from __future__ import annotations

import click

from cbss_batch.cli import Context, pass_context
from cbss_batch.errors import BatchError


@click.group()
def audit() -> None:
    """The tamper-evident audit log of receipts, answers and state changes."""


@audit.command("verify")
@pass_context
def audit_verify(ctx: Context) -> None:
    """Recompute the hash chain of the audit log; exit 1 at the first altered, removed or reordered entry.
    Prints the head (entry count and last hash): keep it elsewhere to detect entries cut off at the end."""
    from cbss_batch.store.audit import verify_chain
    from cbss_batch.store.session import open_database

    engine = open_database(ctx.settings.database_url)
    try:
        with engine.connect() as conn:
            report = verify_chain(conn)
    finally:
        engine.dispose()
    data = {"entries": report.entries, "head": report.head, "holds": report.holds, "broken_at": report.broken_at,
            "reason": report.reason}
    ctx.emit(data, lambda d: click.echo(
        f"audit log holds: {d['entries']} entries, head {d['head']}" if d["holds"] else
        f"audit log BROKEN at entry {d['broken_at']}: {d['reason']}"))
    if not report.holds:
        raise BatchError(f"the audit log does not verify from entry {report.broken_at}: {report.reason}")
