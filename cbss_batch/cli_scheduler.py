"""``cbss-batch scheduler``: run the configured jobs in the foreground until stopped.

Kept apart from ``cli.py`` so that APScheduler is imported only by this command.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from cbss_batch.cli import Context


@click.command("scheduler")
@click.pass_obj
def scheduler(ctx: Context) -> None:
    """Run the jobs of [scheduler] until SIGTERM/SIGINT; one scheduler per database runs them, others stand by."""
    from cbss_batch.scheduler import serve

    if ctx.verbosity == 0:
        # A service log: our own lines (leadership, schedule, runs) at info level even without -v.
        logging.getLogger("cbss_batch").setLevel(logging.INFO)
    # The scheduler reports missed runs and job failures itself, without tracebacks that could carry
    # personal data; APScheduler's own executor lines would repeat them.
    logging.getLogger("apscheduler.executors").setLevel(logging.CRITICAL)
    serve(ctx.settings, ctx.db_url)
