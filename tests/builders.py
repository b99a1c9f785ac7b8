"""Thin helpers for tests: generated DmfA bytes and complete transfer sets in a mailbox."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from cbss_batch import generator
from cbss_batch.generator import GeneratedInfo, write_dmfa, write_set

__all__ = ["GeneratedInfo", "drop_set", "make_dmfa", "write_dmfa", "write_set"]


def make_dmfa(workers: int = 2, **overrides: Any) -> bytes:
    """A generated DmfA original, valid unless ``faults=`` says otherwise."""
    return generator.make_dmfa(workers=workers, **overrides)


def drop_set(
    inbox: Path,
    sender: str,
    content: bytes | Path,
    *,
    env: str = "T",
    seq: int = 1,
    day: date | None = None,
    parts: int = 1,
    go: bool = True,
    file_type: str = "DMFA",
) -> list[Path]:
    """Put ``content`` into ``inbox/<sender>/IN|INTEST`` as FI parts (+ GO last); paths in write order."""
    return write_set(
        inbox,
        sender=sender,
        env=env,
        seq=seq,
        day=day or date.today(),
        parts=parts,
        content=content,
        go=go,
        file_type=file_type,
    )
