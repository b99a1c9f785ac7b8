"""``cbss-batch worker``: claim and process work from the database; several may run on several hosts."""

from __future__ import annotations

import click

from cbss_batch.cli import Context, pass_context


@click.command()
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes on this host.")
@click.option("--lease", "lease_seconds", type=click.FloatRange(1, 3600), default=60.0, show_default=True,
              help="Seconds a claim holds without a heartbeat; a dead worker's set is taken over after this.")
@click.option("--idle", "idle_seconds", type=click.FloatRange(0.05, 600), default=2.0, show_default=True,
              help="Pause when there is nothing to do.")
@click.option("--until-idle", type=click.FloatRange(0, None), default=None,
              help="Stop after this many seconds without work (batch runs, tests); default: run until SIGTERM.")
@pass_context
def worker(ctx: Context, concurrency: int, lease_seconds: float, idle_seconds: float,
           until_idle: float | None) -> None:
    """Take the sets of the inbox, claim received sets from the database and process them, deliver their
    answers. On PostgreSQL any number of workers may share the database; on SQLite one at a time."""
    from cbss_batch.worker import WorkerOptions, run_workers

    options = WorkerOptions(lease_seconds=lease_seconds, idle_seconds=idle_seconds, until_idle=until_idle)
    report = run_workers(ctx.settings, options, concurrency)
    ctx.emit({"sets": report.sets, "lost": report.lost},
             lambda d: click.echo(f"worker stopped: {d['sets']} sets processed"))
