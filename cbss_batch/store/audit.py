"""The tamper-evident audit log: every receipt, answer and state change, each entry chained to the previous one.

``chain_hash`` of an entry = SHA-256 of the previous entry's ``chain_hash`` and this entry's fields
(id, time, event, set, ticket, detail). Changing, removing or reordering an entry breaks the chain
from there on; ``verify_chain`` finds the first broken entry. On PostgreSQL a transaction-level
advisory lock serialises the appends (entries are written at the end of their transactions, so the
lock is held briefly), which makes the chain follow commit order; SQLite has one writer anyway.
Keep the head (the last hash and the count, ``cbss-batch audit verify`` prints them) somewhere else
as well to detect entries cut off at the end.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, text

from cbss_batch.store.tables import audit_events

GENESIS = "0" * 64
AUDIT_LOCK = 0x63627373_61756474  # "cbssaudt"


def entry_hash(previous: str, entry_id: int, at: datetime, event: str, set_id: int | None, ticket: str | None,
               detail: str | None) -> str:
    fields = [str(entry_id), at.isoformat(sep=" "), event, "" if set_id is None else str(set_id), ticket or "",
              detail or ""]
    return hashlib.sha256((previous + "\x1e" + "\x1f".join(fields)).encode("utf-8")).hexdigest()


def append(conn: Connection, *, at: datetime, event: str, set_id: int | None, ticket: str | None,
           detail: str | None) -> None:
    """Append one chained entry in the caller's transaction."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK})
    last = conn.execute(select(audit_events.c.id, audit_events.c.chain_hash)
                        .order_by(audit_events.c.id.desc()).limit(1)).first()
    previous = (last.chain_hash or GENESIS) if last is not None else GENESIS
    key = conn.execute(audit_events.insert().values(at=at, event=event, set_id=set_id, ticket=ticket,
                                                    detail=detail)).inserted_primary_key
    assert key is not None
    entry_id = key[0]
    digest = entry_hash(previous, int(entry_id), at, event, set_id, ticket, detail)
    conn.execute(audit_events.update().where(audit_events.c.id == entry_id).values(chain_hash=digest))


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries: int
    head: str
    broken_at: int | None  # id of the first entry whose hash does not follow, None when the chain holds
    reason: str | None

    @property
    def holds(self) -> bool:
        return self.broken_at is None


def _rows(conn: Connection) -> Iterator[Any]:
    yield from conn.execute(select(audit_events).order_by(audit_events.c.id)).yield_per(10_000)


def verify_chain(conn: Connection) -> ChainReport:
    """Recompute the chain from the first entry; report the first entry that does not follow."""
    previous, count, last_id = GENESIS, 0, 0
    for row in _rows(conn):
        count += 1
        if row.id <= last_id:
            return ChainReport(count, previous, int(row.id), "entries out of order")
        expected = entry_hash(previous, int(row.id), row.at, row.event, row.set_id, row.ticket, row.detail)
        if row.chain_hash != expected:
            reason = ("an entry before it was removed or reordered, or this entry was changed"
                      if row.chain_hash else "this entry carries no hash (written outside cbss-batch)")
            return ChainReport(count, previous, int(row.id), reason)
        previous, last_id = expected, int(row.id)
    return ChainReport(count, previous, None, None)


def rechain(conn: Connection) -> int:
    """Hash every entry from the first (migration of a log written before the chain); the count."""
    previous, count = GENESIS, 0
    for row in list(_rows(conn)):
        previous = entry_hash(previous, int(row.id), row.at, row.event, row.set_id, row.ticket, row.detail)
        conn.execute(audit_events.update().where(audit_events.c.id == row.id).values(chain_hash=previous))
        count += 1
    return count
