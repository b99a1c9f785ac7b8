"""Every exception cbss_batch raises on purpose. Imports nothing from cbss_batch."""

from __future__ import annotations


class BatchError(Exception):
    """Base for errors cbss_batch raises on purpose."""


class ConfigError(BatchError):
    """The configuration is missing, unreadable or wrong; the message names file and key."""


class CatalogueError(ConfigError):
    """A schema catalogue file is malformed; the message names the file and line."""

    def __init__(self, where: str, line: int, reason: str) -> None:
        super().__init__(f"{where}:{line}: {reason}")
        self.where, self.line, self.reason = where, line, reason


class RejectedFile(BatchError):
    """The file or set itself is unusable (not XML, wrong name, duplicate); retrying will not help."""

    def __init__(self, name: str, reason: str, codes: tuple[str, ...] = ()) -> None:
        super().__init__(f"{name}: rejected: {reason}")
        self.name, self.reason, self.codes = name, reason, codes


class FileNameError(BatchError):
    """A file name does not follow the grammar of the transfer protocol."""

    def __init__(self, name: str, reason: str, code: str) -> None:
        super().__init__(f"{name!r}: {reason} (ACRF-{code})")
        self.name, self.reason, self.code = name, reason, code


class TransientError(BatchError):
    """Retrying later may succeed: network down, database locked."""


class TransportError(TransientError):
    """A mailbox could not be listed, read or written."""


class DatabaseError(BatchError):
    """The staging database is unreachable or not at the expected schema version."""


class NotFound(BatchError):
    """A ticket, set or file asked for does not exist."""


class HostKeyError(TransportError):
    """The server's host key is unknown or differs from the recorded one: the connection is refused."""
