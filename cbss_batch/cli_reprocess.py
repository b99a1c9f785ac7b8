"""``cbss-batch reprocess``: validation and calculation again with today's rules and parameters."""

from __future__ import annotations

from typing import Any

import click

from cbss_batch.cli import Context, pass_context


@click.command()
@click.option("--ticket", "tickets", multiple=True, help="A set or declaration ticket (repeatable).")
@click.option("--sender", help="Every set of this sender (6 digits).")
@click.option("--quarter", help="Every DmfA set declaring this quarter (YYYYQ).")
@click.option("--type", "message_type", help="Every set of this type (DMFA, WECH, ZIMA, …).")
@click.option("--failed", is_flag=True, help="The sets that failed for a system reason.")
@click.option("--dry-run", is_flag=True,
              help="Show, per declaration and worker line, what would change; change nothing.")
@pass_context
def reprocess(ctx: Context, tickets: tuple[str, ...], sender: str | None, quarter: str | None,
              message_type: str | None, failed: bool, dry_run: bool) -> None:
    """Run validation and calculation again on received sets with today's rules and parameters.

    The criteria given must all match. Without --dry-run, differences are applied: stored figures are
    updated, new answers are written (a NOTI, a DMNO for changed corrections; old files stay as they
    were) and the institutions receive the corrected facts. Applying twice changes nothing more."""
    from cbss_batch.reprocess import Selection
    from cbss_batch.reprocess import reprocess as run_reprocess
    from cbss_batch.store.session import open_database

    settings = ctx.settings
    engine = open_database(settings.database_url)
    try:
        selection = Selection(tickets=tickets, sender=sender, quarter=quarter, failed=failed,
                              message_type=message_type.upper() if message_type else None)
        reports = run_reprocess(settings, engine, ctx.clock(), selection, dry_run=dry_run)
    finally:
        engine.dispose()
    data = {"dry_run": dry_run, "sets": [r.as_dict() for r in reports]}
    ctx.emit(data, _render)


def _money(cents: int | None) -> str:
    return "—" if cents is None else f"{cents / 100:,.2f}".replace(",", " ")


def _render(data: dict[str, Any]) -> None:
    verb = "would change" if data["dry_run"] else "changed"
    for s in data["sets"]:
        decls = s["declarations"]
        head = f"set {s['ticket']} {s['name']}: {s['action']}"
        if s["note"]:
            head += f" ({s['note']})"
        click.echo(head + ("" if decls or s["action"] != "recomputed" else ": no difference"))
        for d in decls:
            result = d["result"]
            click.echo(f"  declaration {d['ticket']} (form {d['form']}) {verb}: "
                       f"result {result['old']} → {result['new']}")
            added, removed = d["anomalies"]["added"], d["anomalies"]["removed"]
            if added or removed:
                click.echo(f"    anomalies added: {' '.join(added) or '—'}; removed: {' '.join(removed) or '—'}")
            if d["kind"] == "dmfa":
                owed = d["net_owed_cents"]
                click.echo(f"    net amount owed (computed): {_money(owed['old'])} → {_money(owed['new'])} EUR "
                           f"(delta {_money(owed['delta'])})")
                for line in d["lines"]:
                    click.echo(f"    INSZ {line['insz']} class {line['employer_class']} worker {line['worker_code']} "
                               f"contribution {line['contribution']}: {_money(line['old_cents'])} → "
                               f"{_money(line['new_cents'])} EUR (delta {_money(line['delta_cents'])})")
            else:
                click.echo(f"    benefits: {'; '.join(d['benefits']['old']) or '—'} → "
                           f"{'; '.join(d['benefits']['new']) or '—'}")
