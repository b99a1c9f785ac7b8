"""Scheduled jobs: module-level functions that the persistent job store refers to by name.

A stored job holds ``cbss_batch.jobs:run_job`` and its arguments (settings file, database URL given on
the command line, job name); each run loads the settings afresh, like a command would, and calls the
same functions as the command line.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from cbss_batch import housekeeping, pipeline
from cbss_batch.config import JobSettings, Settings, load_settings
from cbss_batch.errors import ConfigError
from cbss_batch.institutions import load_institutions
from cbss_batch.store.session import open_database

log = logging.getLogger(__name__)

JOB_FUNCTION = "cbss_batch.jobs:run_job"  # what the job store records; keep it when refactoring


def run_job(config_path: str, db_url: str | None, name: str) -> None:
    """Run the job ``name`` of the settings at ``config_path`` (``db_url``: the ``--db`` override, if any)."""
    environ = dict(os.environ)  # a job is an entry point, like a command: same settings, same overrides
    if db_url:
        environ["CBSS_DB_URL"] = db_url
    settings = load_settings(Path(config_path), environ)
    job = find_job(settings, name)
    engine = open_database(settings.database_url)
    try:
        clock = pipeline.Clock(settings.today)
        if job.kind == "cycle":
            pipeline.run_cycle(settings, engine, clock, mailboxes=job.mailboxes, job=job.name, wait=True)
        elif job.kind == "extract":
            _extract(settings, engine, clock.now(), job.institutions, environ)
        elif job.kind == "housekeeping":
            housekeeping.clean_workspace(settings, engine, clock.now())
        else:
            raise ConfigError(f"{settings.config_path}: job {name!r} has kind {job.kind!r}; "
                              'expected "cycle", "extract" or "housekeeping"')
    finally:
        engine.dispose()


def _extract(settings: Settings, engine: Engine, now: datetime, only: tuple[str, ...],
             environ: dict[str, str]) -> None:
    from cbss_batch.extract.delivery import push_extracts
    from cbss_batch.extract.produce import choose_institutions, produce_extracts

    outcomes = produce_extracts(settings, engine, now=now, only=only)
    problems = push_extracts(settings, engine, now=now, institutions=choose_institutions(settings, only),
                             environ=environ)
    log.info("extracts: %d written (%d records)%s", len(outcomes), sum(o.records for o in outcomes),
             f"; {len(problems)} push problem(s)" if problems else "")


def configured_jobs(settings: Settings) -> list[JobSettings]:
    """The ``[[scheduler.jobs]]`` and, for each institution with a ``cron``, its nightly extract job."""
    jobs = list(settings.scheduler.jobs)
    taken = {job.name for job in jobs}
    for institution in load_institutions(settings.institutions).values():
        name = f"extract-{institution.name}"
        if institution.cron and name not in taken:
            jobs.append(JobSettings(name=name, kind="extract", cron=institution.cron,
                                    institutions=(institution.name,)))
    return jobs


def find_job(settings: Settings, name: str) -> JobSettings:
    """The configured job called ``name``."""
    for job in configured_jobs(settings):
        if job.name == name:
            return job
    raise ConfigError(f"{settings.config_path}: no [[scheduler.jobs]] named {name!r} any more; "
                      "restart the scheduler to apply the changed configuration")
