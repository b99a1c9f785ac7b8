"""The inbox: list mailboxes, group files into sets, decide which sets are ready.

``inbox/<sender>/IN`` (production) and ``inbox/<sender>/INTEST`` (test). A set is complete once
its ``GO`` is present; a ``TD`` cancels it; files waiting too long without a ``GO`` are answered
with ACRF-130; a file whose name cannot be read is its own (refused) set.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cbss_batch.errors import FileNameError
from cbss_batch.names import FileName, SetKey, parse_name, strip_xml_suffix

log = logging.getLogger(__name__)

FOLDERS = ("IN", "INTEST")
_MAILBOX = re.compile(r"[0-9]{6}")


@dataclass(frozen=True, slots=True)
class InboxFile:
    """One file found in a mailbox folder, with its name read (or the reason it cannot be)."""

    path: Path
    name: FileName | None
    error: FileNameError | None

    @property
    def received_name(self) -> str:
        return text_name(self.path)


@dataclass(slots=True)
class Candidate:
    """Files of one mailbox folder that belong together, and what to do with them."""

    mailbox: str
    folder: str
    key: SetKey | None
    files: list[InboxFile] = field(default_factory=list)
    action: str = "wait"  # process | cancel | refuse-name | refuse-no-go | wait

    @property
    def go(self) -> InboxFile | None:
        return next((f for f in self.files if f.name and f.name.prefix == "GO"), None)

    @property
    def answer_name(self) -> str:
        """The name the ACRF refers to: the GO marker, else the first file."""
        go = self.go
        return go.received_name if go else self.files[0].received_name


def text_name(path: Path) -> str:
    """A file's name as text the store and the answers can hold: bytes that are not UTF-8 shown as ``\\xNN``.

    A sender can give a file any bytes as a name; Python reads the invalid ones as lone surrogates,
    which no database driver encodes.
    """
    return os.fsencode(path.name).decode("utf-8", "backslashreplace")


def read_name(path: Path) -> InboxFile:
    """Parse a file's name, tolerating one trailing ``.xml``."""
    text, had_suffix = strip_xml_suffix(text_name(path))
    if had_suffix:
        log.info("read %s without its trailing .xml", text)
    try:
        return InboxFile(path, parse_name(text), None)
    except FileNameError as exc:
        return InboxFile(path, None, exc)


def scan_inbox(inbox: Path, *, now: datetime, go_timeout: timedelta) -> list[Candidate]:
    """Every mailbox folder's files grouped into candidates, in a stable order."""
    candidates: list[Candidate] = []
    if not inbox.is_dir():
        return candidates
    for mailbox_dir in sorted(p for p in inbox.iterdir() if p.is_dir()):
        if mailbox_dir.is_symlink():
            log.warning("ignoring %s: a mailbox is a real folder, not a link", mailbox_dir)
            continue
        if not _MAILBOX.fullmatch(mailbox_dir.name):
            log.warning("ignoring %s: a mailbox folder is named by a 6-digit sender number", mailbox_dir)
            continue
        for folder in FOLDERS:
            folder_dir = mailbox_dir / folder
            if folder_dir.is_symlink():  # it would read (and empty) a folder outside the inbox
                log.warning("ignoring %s: a mailbox folder is a real folder, not a link", folder_dir)
            elif folder_dir.is_dir():
                candidates.extend(_scan_folder(mailbox_dir.name, folder, folder_dir, now, go_timeout))
    return candidates


def _scan_folder(mailbox: str, folder: str, folder_dir: Path, now: datetime,
                 go_timeout: timedelta) -> list[Candidate]:
    groups: dict[SetKey, Candidate] = {}
    result: list[Candidate] = []
    for path in sorted(folder_dir.iterdir()):
        if path.name.startswith(".") or path.name.endswith(".part"):
            continue  # an upload in progress
        if path.is_symlink() or not path.is_file():
            log.warning("ignoring %s: not a regular file", path)
            continue
        item = read_name(path)
        if item.name is None or item.name.prefix not in ("FI", "FS", "GO", "TD"):
            result.append(Candidate(mailbox, folder, None, [item], action="refuse-name"))
            continue
        key = item.name.key
        groups.setdefault(key, Candidate(mailbox, folder, key)).files.append(item)
    for key in sorted(groups):
        candidate = groups[key]
        prefixes = {f.name.prefix for f in candidate.files if f.name}
        if "TD" in prefixes:
            candidate.action = "cancel"
        elif "GO" in prefixes:
            candidate.action = "process"
        elif _newest_age(candidate.files, now) >= go_timeout:
            candidate.action = "refuse-no-go"
        else:
            continue
        result.append(candidate)
    return result


def _newest_age(files: list[InboxFile], now: datetime) -> timedelta:
    newest = max(f.path.stat().st_mtime for f in files)
    return now - datetime.fromtimestamp(newest)
