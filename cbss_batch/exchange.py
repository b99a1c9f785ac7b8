"""The SFTP side of a cycle: one session per configured mailbox, pulled before and pushed after processing.

A mailbox that cannot be reached, times out or refuses an operation is logged with the reason and
skipped; the other mailboxes and the local inbox go on. What a failed mailbox left undone (files not
pulled, answers not pushed) is simply done on a later cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from cbss_batch.config import Settings
from cbss_batch.errors import ConfigError, TransportError
from cbss_batch.pull import pull_mailbox
from cbss_batch.push import push_mailbox
from cbss_batch.senders import Mailbox, load_senders

if TYPE_CHECKING:  # paramiko is imported only when a mailbox is reached
    from cbss_batch.transport import SftpTransport

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ExchangeReport:
    mailboxes: int = 0
    sets_pulled: int = 0
    files_pulled: int = 0
    bytes_pulled: int = 0
    answers_pushed: int = 0
    errors: list[str] = field(default_factory=list)


class Exchange:
    """The SFTP sessions of one cycle; always closed by ``close`` (use as a context manager)."""

    def __init__(self, settings: Settings, engine: Engine, environ: Mapping[str, str],
                 only: tuple[str, ...] = ()) -> None:
        self.settings, self.engine, self.environ = settings, engine, environ
        self.mailboxes: list[Mailbox] = [s.mailbox for s in load_senders(settings.senders).values()
                                         if s.mailbox is not None and (not only or s.number in only)]
        self.report = ExchangeReport(mailboxes=len(self.mailboxes))
        self._sessions: dict[str, SftpTransport] = {}
        self._failed: set[str] = set()

    def __enter__(self) -> Exchange:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for session in self._sessions.values():
            try:
                session.close()
            except Exception:  # closing a dead connection must not hide what killed it
                log.debug("closing %s failed", session.where, exc_info=True)
        self._sessions.clear()

    def _session(self, mailbox: Mailbox) -> SftpTransport:
        session = self._sessions.get(mailbox.sender)
        if session is not None and session.is_active:
            return session
        if session is not None:
            session.close()
        from cbss_batch.transport import SftpTransport  # paramiko only when a mailbox is reached

        session = SftpTransport.open(mailbox, self.settings.sftp, self.environ)
        self._sessions[mailbox.sender] = session
        return session

    def _fail(self, mailbox: Mailbox, stage: str, exc: Exception) -> None:
        message = f"mailbox {mailbox.sender}: {stage} stopped: {exc}"
        log.error("%s; the cycle goes on with the next mailbox and retries this one next cycle", message)
        self.report.errors.append(message)
        self._failed.add(mailbox.sender)
        session = self._sessions.pop(mailbox.sender, None)
        if session is not None:
            session.close()

    def pull(self, now: datetime) -> None:
        for mailbox in self.mailboxes:
            try:
                pulled = pull_mailbox(self._session(mailbox), self.settings, self.engine, now=now)
            except (TransportError, ConfigError) as exc:
                self._fail(mailbox, "pull", exc)
                continue
            self.report.sets_pulled += pulled.sets
            self.report.files_pulled += pulled.files
            self.report.bytes_pulled += pulled.bytes

    def push(self, now: datetime) -> None:
        for mailbox in self.mailboxes:
            if mailbox.sender in self._failed:
                continue  # its answers wait for the next cycle rather than another timeout now
            try:
                pushed = push_mailbox(self._session(mailbox), self.settings, self.engine, now=now)
            except (TransportError, ConfigError) as exc:
                self._fail(mailbox, "push", exc)
                continue
            self.report.answers_pushed += pushed.pushed
            if pushed.failed:
                self.report.errors.append(f"mailbox {mailbox.sender}: {pushed.failed} answer(s) could not be "
                                          "pushed; they are retried on a later cycle")
