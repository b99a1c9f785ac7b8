"""Housekeeping: delivered answer bodies and stale partial uploads go; archives and pending work stay.

Removed:
- the body in ``var/work/<mailbox>/<folder>/`` of an answer delivered (state ``written``) more than
  ``[scheduler].housekeeping_days`` ago (the outbox copy, which an SFTP push reads, remains);
- ``*.part`` / ``.*.part`` files in ``inbox/<sender>/IN*/`` untouched for a day (an upload that died).
Never touched: ``var/archive``, pending answers, anything outside the work and inbox folders.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, select

from cbss_batch.config import Settings
from cbss_batch.store.tables import outbound_messages

log = logging.getLogger(__name__)

PARTIAL_MAX_AGE_SECONDS = 24 * 3600  # no upload or pull takes a day; an older .part is a dead one


@dataclass(slots=True)
class HousekeepingSummary:
    """What one housekeeping pass removed."""

    bodies_removed: int = 0
    body_bytes: int = 0
    partials_removed: int = 0
    partial_bytes: int = 0
    kept: int = 0  # old delivered answers whose body is outside var/work: left alone


def clean_workspace(settings: Settings, engine: Engine, now: datetime) -> HousekeepingSummary:
    """Remove old delivered answer bodies and stale partial inbox files; ``now`` is the processing clock."""
    summary = HousekeepingSummary()
    cutoff = now - timedelta(days=settings.scheduler.housekeeping_days)
    for message in _delivered_before(engine, cutoff):
        _remove_body(settings, message, summary)
    _remove_stale_partials(settings.inbox, summary)
    _remove_stale_temporaries(settings, summary)
    log.info("housekeeping: removed %d answer bodies (%d bytes) delivered before %s and %d stale partial "
             "files (%d bytes) from the inbox; left %d bodies outside the work folder", summary.bodies_removed,
             summary.body_bytes, f"{cutoff:%Y-%m-%d %H:%M}", summary.partials_removed, summary.partial_bytes,
             summary.kept)
    return summary


def _delivered_before(engine: Engine, cutoff: datetime) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(outbound_messages).where(and_(
            outbound_messages.c.state == "written", outbound_messages.c.written_at < cutoff))
            .order_by(outbound_messages.c.id)))


def _remove_body(settings: Settings, message: Any, summary: HousekeepingSummary) -> None:
    body = Path(message.body_path)
    if not _inside(body, settings.work) or _inside(body, settings.archive):
        log.warning("housekeeping: answer %s has its body at %s, outside %s; left alone", message.name, body,
                    settings.work)
        summary.kept += 1
        return
    size = _unlink(body)
    if size is not None:
        summary.bodies_removed += 1
        summary.body_bytes += size
        log.debug("housekeeping: removed the body of %s/%s/%s", message.mailbox, message.folder, message.name)


def _remove_stale_partials(inbox: Path, summary: HousekeepingSummary) -> None:
    if not inbox.is_dir():
        return
    oldest = time.time() - PARTIAL_MAX_AGE_SECONDS
    for folder in sorted(inbox.glob("*/IN*")):
        if not folder.is_dir() or folder.is_symlink():
            continue
        for path in sorted(folder.iterdir()):
            if not path.name.endswith(".part") or path.is_symlink() or not path.is_file():
                continue
            if path.stat().st_mtime >= oldest:
                continue  # maybe an upload in progress
            size = _unlink(path)
            if size is not None:
                summary.partials_removed += 1
                summary.partial_bytes += size
                log.info("housekeeping: removed stale partial file %s/%s/%s (%d bytes)", folder.parent.name,
                         folder.name, path.name, size)


def _remove_stale_temporaries(settings: Settings, summary: HousekeepingSummary) -> None:
    """Temporary copies a killed process left behind: ``.incoming-*`` in the archive's top folder (never
    an archived file: those are named by their hash, two levels down) and ``*.part`` in the work and
    outbox folders, all untouched for a day."""
    oldest = time.time() - PARTIAL_MAX_AGE_SECONDS
    candidates = list(settings.archive.glob(".incoming-*")) if settings.archive.is_dir() else []
    for folder in (settings.work, settings.outbox):
        if folder.is_dir():
            candidates += [p for p in folder.rglob("*.part") if not p.is_symlink()]
    for path in sorted(candidates):
        try:
            if path.stat().st_mtime >= oldest:
                continue  # maybe still being written
        except FileNotFoundError:
            continue
        size = _unlink(path)
        if size is not None:
            summary.partials_removed += 1
            summary.partial_bytes += size
            log.info("housekeeping: removed the temporary file %s (%d bytes) a stopped process left", path, size)


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _unlink(path: Path) -> int | None:
    """Remove a regular file; its size, or None when it was not there."""
    try:
        if path.is_symlink() or not path.is_file():
            return None
        size = path.stat().st_size
        path.unlink()
    except FileNotFoundError:
        return None
    return size
