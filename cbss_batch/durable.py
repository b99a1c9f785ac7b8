"""Durable file operations shared by the archive and the outbox: hashing, directory fsync."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable
from pathlib import Path

_CHUNK = 1 << 20


def sha256_of(paths: Path | Iterable[Path]) -> str:
    """SHA-256 (hex) of a file, or of several files read one after the other."""
    digest = hashlib.sha256()
    for path in [paths] if isinstance(paths, Path) else paths:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


class BackgroundDigest:
    """``sha256_of(paths)`` computed by a thread while the caller goes on (reading and hashing release
    the interpreter lock, so on a second core it costs the caller nothing); ``result()`` waits for it.
    ``known``: the digest is known already (a single file's, hashed when it was archived): no thread."""

    def __init__(self, paths: Iterable[Path], known: str | None = None) -> None:
        self._paths = list(paths)
        self._digest: str | None = known
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if known is None:
            self._thread = threading.Thread(target=self._run, name="content-sha256", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            self._digest = sha256_of(self._paths)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by result()
            self._error = exc

    def result(self) -> str:
        """The hex digest; the error the hashing met (a part unreadable), raised here."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._digest is not None
        return self._digest


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` survive a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
