"""The scheduler: the jobs of ``[scheduler]`` on APScheduler, their state in our database, one active per database.

- Jobs and their next run times live in the job store (table ``apscheduler_jobs``), so a run missed while
  no scheduler was active is executed late, once (``coalesce``), if it is within ``misfire_grace_seconds``.
  A job whose configuration did not change keeps its stored next run time across restarts.
- One worker thread: the jobs of a workspace run one at a time.
- Only the holder of the scheduler lock (``leadership``) runs jobs; the others stand by and take over when
  it dies. SIGTERM/SIGINT stop after the job in progress and release the lock.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.base import run_job
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from cbss_batch.config import JobSettings, Settings
from cbss_batch.errors import ConfigError
from cbss_batch.jobs import JOB_FUNCTION, configured_jobs
from cbss_batch.leadership import SchedulerLock, holder_description, scheduler_lock
from cbss_batch.store.session import STORE_ERRORS, make_engine, open_database

log = logging.getLogger(__name__)

JOBS_TABLE = "apscheduler_jobs"
LATE_SECONDS = 1.0  # a run starting later than this after its time is reported as late
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab numbering: 0 (and 7) is Sunday


@dataclass(frozen=True, slots=True)
class PlannedJob:
    """A configured job, ready for the job store."""

    job: JobSettings
    trigger: Any  # an APScheduler trigger
    args: tuple[str, str | None, str]  # run_job(config_path, db_url, name)

    def describe(self) -> str:
        when = f"every {self.job.every_seconds} s" if self.job.every_seconds else f"cron {self.job.cron!r}"
        boxes = f", mailboxes {' '.join(self.job.mailboxes)}" if self.job.mailboxes else ""
        return f"{self.job.kind}, {when}{boxes}"


def plan_jobs(settings: Settings, db_url: str | None) -> list[PlannedJob]:
    """The configured jobs with their triggers; ConfigError when there are none or a schedule is wrong."""
    configured = configured_jobs(settings)
    if not configured:
        raise ConfigError(f"{settings.config_path}: no jobs to schedule; add [[scheduler.jobs]] tables with "
                          'name, kind ("cycle" or "housekeeping") and cron = "m h dom mon dow" or every_seconds = N')
    plans = []
    for job in configured:
        if job.cron is not None:
            try:
                trigger: Any = crontab_trigger(job.cron)
            except ValueError as exc:
                raise ConfigError(f"{settings.config_path}: scheduler job {job.name!r}: cron {job.cron!r} is not "
                                  f"valid ({exc}); expected five crontab fields "
                                  '"minute hour day month day-of-week"') from exc
            fields = job.cron.split()
            if fields[2] != "*" and fields[4] != "*":
                log.warning("job %s: cron %r restricts both day of month and day of week; it runs on days that "
                            "match both (crontab would run on days that match either)", job.name, job.cron)
        elif job.every_seconds is not None:
            trigger = IntervalTrigger(seconds=job.every_seconds)
        else:
            raise ConfigError(f"{settings.config_path}: scheduler job {job.name!r} has neither cron nor every_seconds")
        plans.append(PlannedJob(job, trigger, (str(settings.config_path), db_url, job.name)))
    return plans


def crontab_trigger(expr: str) -> CronTrigger:
    """A trigger for five crontab fields, with crontab's weekday numbers (0 or 7 = Sunday)."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"{len(fields)} fields instead of 5")
    # APScheduler 3 numbers weekdays from Monday; numbers are translated to names, which both agree on.
    return CronTrigger(minute=fields[0], hour=fields[1], day=fields[2], month=fields[3],
                       day_of_week=crontab_weekdays(fields[4]))


def crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field as APScheduler 3 reads it: numbers become names (``1-5`` → mon,…,fri)."""
    if not any(c.isdigit() for c in field):
        return field  # "*", names and name lists mean the same to both
    days: set[int] = set()
    for item in field.split(","):
        base, slash, step_text = item.partition("/")
        step = int(step_text) if slash else 1
        if step < 1:
            raise ValueError(f"step {step_text!r} in day of week {field!r}")
        if base == "*":
            first, last = 0, 6
        else:
            start, dash, end = base.partition("-")
            first = _weekday_number(start, field)
            last = _weekday_number(end, field) if dash else (6 if slash else first)
            if last == 0 and dash and first > 0:
                last = 7  # "5-7" or "fri-sun": up to Sunday
            if first > last:
                raise ValueError(f"range {base!r} in day of week {field!r} runs backwards")
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(WEEKDAYS[day] for day in sorted(days))


def _weekday_number(token: str, field: str) -> int:
    if token.lower() in WEEKDAYS:
        return WEEKDAYS.index(token.lower())
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token)
    raise ValueError(f"{token!r} in day of week {field!r} is not 0-7 or a day name")


def serve(settings: Settings, db_url: str | None) -> None:
    """Run the scheduled jobs until SIGTERM or SIGINT, while this process holds the scheduler lock."""
    plans = plan_jobs(settings, db_url)
    engine = open_database(settings.database_url)
    lock = scheduler_lock(engine, settings.scheduler.lease_seconds)
    stop = threading.Event()
    try:
        with _stop_on_signals(stop):
            _serve(settings, plans, lock, stop)
    finally:
        lock.release()
        engine.dispose()
    log.info("scheduler stopped")


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT only set ``stop``; the main loop does the shutdown."""

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()  # safe: the main thread only ever polls stop.is_set(), it never holds the event's lock

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _pause(stop: threading.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True when a stop was requested."""
    deadline = time.monotonic() + seconds
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(0.2, left))
    return True


def _serve(settings: Settings, plans: list[PlannedJob], lock: SchedulerLock, stop: threading.Event) -> None:
    retry_seconds = settings.scheduler.lease_seconds / 3
    standing_by = False
    while not stop.is_set():
        if not lock.acquire():
            if not standing_by:
                log.info("another scheduler is active on this database; standing by (%s; trying again every "
                         "%.1f s)", lock.where, retry_seconds)
                standing_by = True
            _pause(stop, retry_seconds)
            continue
        log.info("this scheduler is now active on this database (%s; %s)", holder_description(), lock.where)
        standing_by = False
        try:
            _lead(settings, plans, lock, stop, retry_seconds)
        except STORE_ERRORS as exc:
            log.error("the scheduled jobs stopped on a database failure: %s; standing by", _first_line(exc))
        finally:
            lock.release()
        if not stop.is_set():
            _pause(stop, retry_seconds)


def _lead(settings: Settings, plans: list[PlannedJob], lock: SchedulerLock, stop: threading.Event,
          check_seconds: float) -> None:
    """Run the jobs until a stop is requested or the lock is lost; wait for the job in progress."""
    store_engine = make_engine(settings.database_url)
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=store_engine, tablename=JOBS_TABLE)},
        executors={"default": SerialExecutor()},
        job_defaults=_job_options(settings))
    scheduler.add_listener(_report_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR | EVENT_JOB_EXECUTED)
    try:
        scheduler.start(paused=True)  # the stored jobs are reconciled before anything runs
        sync_jobs(scheduler, plans, _job_options(settings))
        _log_schedule(scheduler, plans)
        scheduler.resume()
        while not _pause(stop, check_seconds):
            if not lock.is_held():
                log.warning("lost the scheduler lock (%s); no new jobs start here; standing by", lock.where)
                return
    finally:
        if stop.is_set():
            log.info("stopping: no new jobs start; waiting for the job in progress, if any")
        if scheduler.running:
            scheduler.shutdown(wait=True)  # also disposes the job store's engine
        else:
            store_engine.dispose()


def _job_options(settings: Settings) -> dict[str, Any]:
    return {"coalesce": True, "max_instances": 1, "misfire_grace_time": settings.scheduler.misfire_grace_seconds}


def sync_jobs(scheduler: Any, plans: list[PlannedJob], options: dict[str, Any]) -> None:
    """Make the job store match the configuration; an unchanged job keeps its stored next run time."""
    now = datetime.now(UTC)
    stored = {job.id: job for job in scheduler.get_jobs()}
    for plan in plans:
        existing = stored.pop(plan.job.name, None)
        if existing is not None and same_schedule(existing, plan):
            changed = {key: value for key, value in options.items() if getattr(existing, key) != value}
            if changed:
                scheduler.modify_job(existing.id, **changed)  # keeps next_run_time
            _report_missed(existing, now)
            continue
        scheduler.add_job(JOB_FUNCTION, trigger=plan.trigger, args=plan.args, id=plan.job.name, name=plan.job.name,
                          replace_existing=True, **options)
        if existing is not None:
            log.info("job %s: schedule changed to %s", plan.job.name, plan.describe())
    for job_id in stored:
        scheduler.remove_job(job_id)
        log.info("job %s is no longer configured; removed from the schedule", job_id)


def same_schedule(stored: Any, plan: PlannedJob) -> bool:
    """True when the stored job runs the same function with the same arguments on the same trigger."""
    return (stored.func_ref == JOB_FUNCTION and tuple(stored.args) == plan.args and not stored.kwargs
            and stored.next_run_time is not None and _trigger_key(stored.trigger) == _trigger_key(plan.trigger))


def _trigger_key(trigger: Any) -> tuple[str, str, str]:
    # str() gives the fields or the interval, not the time zone nor an interval's start: both matter only
    # for cron (the time zone), and a new start date must not replace an unchanged interval job.
    zone = str(trigger.timezone) if isinstance(trigger, CronTrigger) else ""
    return type(trigger).__name__, str(trigger), zone


def _report_missed(job: Any, now: datetime) -> None:
    """Log the runs a kept job missed while no scheduler was active."""
    if job.next_run_time is None or job.next_run_time > now:
        return
    first, last, count = job.next_run_time, job.next_run_time, 0
    fire_time = job.next_run_time
    while fire_time is not None and fire_time <= now and count < 100_000:
        last, count = fire_time, count + 1
        fire_time = job.trigger.get_next_fire_time(fire_time, now)
    if (now - last).total_seconds() <= job.misfire_grace_time:
        outcome = "it runs once now, late"
    else:
        outcome = f"the last was more than misfire_grace_seconds ({job.misfire_grace_time} s) ago: none runs now"
    log.warning("job %s: %d run(s) missed since %s while no scheduler was active; %s", job.id, count,
                _local(first), outcome)


def _log_schedule(scheduler: Any, plans: list[PlannedJob]) -> None:
    described = {plan.job.name: plan.describe() for plan in plans}
    now = datetime.now(UTC)
    for job in scheduler.get_jobs():
        when = _local(job.next_run_time)
        if job.next_run_time <= now:
            when = f"now (due since {when})"
        log.info("scheduled job %s (%s): next run %s", job.id, described.get(job.id, "?"), when)


class SerialExecutor(ThreadPoolExecutor):
    """One worker thread, so the jobs of a workspace run one at a time; reports how late each run starts."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, pool_kwargs={"thread_name_prefix": "cbss-job"})

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        # As APScheduler's pool executor does, with a log line when the run actually starts.
        def done(future: Any) -> None:
            exc = future.exception()
            if exc is not None:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, future.result())

        future = self._pool.submit(_run_reporting_start, job, job._jobstore_alias, run_times, self._logger.name)
        future.add_done_callback(done)


def _run_reporting_start(job: Any, jobstore_alias: str, run_times: list[datetime], logger_name: str) -> Any:
    scheduled = run_times[-1]
    late = (datetime.now(UTC) - scheduled).total_seconds()
    if job.misfire_grace_time is None or late <= job.misfire_grace_time:  # else run_job reports it missed
        if late >= LATE_SECONDS:
            log.warning("job %s ran %.0f s late (scheduled %s)", job.id, late, _local(scheduled))
        else:
            log.info("job %s started (scheduled %s)", job.id, _local(scheduled))
    return run_job(job, jobstore_alias, run_times, logger_name)


def _report_event(event: JobExecutionEvent) -> None:
    when = _local(event.scheduled_run_time)
    if event.code == EVENT_JOB_MISSED:
        late = (datetime.now(UTC) - event.scheduled_run_time).total_seconds()
        log.warning("job %s missed its run of %s: %.0f s late is more than misfire_grace_seconds; skipped",
                    event.job_id, when, late)
    elif event.code == EVENT_JOB_ERROR:
        log.error("job %s (scheduled %s) failed: %s: %s; the scheduler carries on", event.job_id, when,
                  event.exception.__class__.__name__, _first_line(event.exception))
        log.debug("job %s traceback:\n%s", event.job_id, event.traceback)
    else:
        log.info("job %s done (scheduled %s)", event.job_id, when)


def _local(moment: datetime) -> str:
    return f"{moment.astimezone():%Y-%m-%d %H:%M:%S}"


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else exc.__class__.__name__
