"""Claims on received sets: several workers, one database, each set processed by one of them.

A worker claims the oldest received set nobody holds (``SELECT … FOR UPDATE SKIP LOCKED`` on
PostgreSQL; SQLite's write transactions are exclusive anyway), which bumps the set's
``claim_token`` and sets a lease. A heartbeat extends the lease while the work goes on. The final
transaction of the set commits only if the token is still the one the worker claimed with
(``fence``): a worker that stalled past its lease, and whose set was taken over, cannot commit.
Lease times are wall-clock UTC, whatever processing date the settings fix.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, exists, or_, select, update

from cbss_batch.errors import BatchError
from cbss_batch.store.tables import file_sets, set_chunks


class LeaseLost(BatchError):
    """Another worker took the set over after this worker's lease expired; this worker's work is void."""


@dataclass(frozen=True, slots=True)
class Claim:
    set_id: int
    token: int
    owner: str


@dataclass(frozen=True, slots=True)
class ChunkClaim:
    """A claim on one chunk of a chunked set (cbss_batch/chunking): same lease and fencing as a set's."""

    set_id: int
    chunk: int
    token: int
    owner: str


_current: contextvars.ContextVar[Claim | None] = contextvars.ContextVar("cbss_claim", default=None)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def claim_next(conn: Connection, owner: str, lease_seconds: float, *, set_id: int | None = None,
               stale_owners: str | None = None) -> Claim | None:
    """Claim the oldest received set whose lease is free or expired (or ``set_id``); None when there is none.

    ``stale_owners``: a prefix of owners known to be dead whatever their lease says (a run of this
    workspace on this host, when this process holds the workspace's run lock).
    """
    now = utc_now()
    free = or_(file_sets.c.lease_until.is_(None), file_sets.c.lease_until < now)
    if stale_owners:
        free = or_(free, file_sets.c.claimed_by.startswith(stale_owners, autoescape=True))
    # A chunked set is claimed (to be finished) only once none of its chunks waits any more.
    waiting = exists().where(and_(set_chunks.c.set_id == file_sets.c.id, set_chunks.c.state == "pending"))
    query = (select(file_sets.c.id).where(and_(file_sets.c.state == "received", free, ~waiting))
        .order_by(file_sets.c.id).limit(1))
    if set_id is not None:
        query = query.where(file_sets.c.id == set_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    found = conn.execute(query).scalar()
    if found is None:
        return None
    conn.execute(update(file_sets).where(file_sets.c.id == found).values(
        claim_token=file_sets.c.claim_token + 1, claimed_by=owner[:120],
        lease_until=now + timedelta(seconds=lease_seconds)))
    token = conn.execute(select(file_sets.c.claim_token).where(file_sets.c.id == found)).scalar_one()
    return Claim(int(found), int(token), owner)


def claim_chunk(conn: Connection, owner: str, lease_seconds: float, *, set_id: int | None = None) -> ChunkClaim | None:
    """Claim the first pending chunk (of the oldest chunked set, or of ``set_id``) whose lease is free or expired."""
    now = utc_now()
    free = or_(set_chunks.c.lease_until.is_(None), set_chunks.c.lease_until < now)
    query = (select(set_chunks.c.set_id, set_chunks.c.chunk).where(and_(set_chunks.c.state == "pending", free))
             .order_by(set_chunks.c.set_id, set_chunks.c.chunk).limit(1))
    if set_id is not None:
        query = query.where(set_chunks.c.set_id == set_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    found = conn.execute(query).first()
    if found is None:
        return None
    key = and_(set_chunks.c.set_id == found.set_id, set_chunks.c.chunk == found.chunk)
    conn.execute(update(set_chunks).where(key).values(
        claim_token=set_chunks.c.claim_token + 1, claimed_by=owner[:120],
        lease_until=now + timedelta(seconds=lease_seconds)))
    token = conn.execute(select(set_chunks.c.claim_token).where(key)).scalar_one()
    return ChunkClaim(int(found.set_id), int(found.chunk), int(token), owner)


def _chunk_key(claim: ChunkClaim) -> Any:
    return and_(set_chunks.c.set_id == claim.set_id, set_chunks.c.chunk == claim.chunk,
                set_chunks.c.claim_token == claim.token)


def fence_chunk(conn: Connection, claim: ChunkClaim) -> None:
    """Inside the chunk's final transaction: LeaseLost unless the chunk is still this claim's and pending."""
    query = select(set_chunks.c.claim_token, set_chunks.c.state).where(and_(
        set_chunks.c.set_id == claim.set_id, set_chunks.c.chunk == claim.chunk))
    held = conn.execute(query.with_for_update() if conn.dialect.name == "postgresql" else query).first()
    if held is None:
        raise LeaseLost(f"set {claim.set_id} chunk {claim.chunk} was withdrawn (the set is processed whole or was "
                        "refused); this worker's result is discarded")
    if held.claim_token != claim.token or held.state != "pending":
        raise LeaseLost(f"set {claim.set_id} chunk {claim.chunk}: the lease of {claim.owner} expired and another "
                        "worker took the chunk; this worker's result is discarded")


def extend(conn: Connection, claim: Claim | ChunkClaim, lease_seconds: float) -> bool:
    """Push the lease on; False when the claim was lost (taken over, or the set is finished)."""
    if isinstance(claim, ChunkClaim):
        return bool(conn.execute(update(set_chunks).where(and_(_chunk_key(claim), set_chunks.c.state == "pending"))
                                 .values(lease_until=utc_now() + timedelta(seconds=lease_seconds))).rowcount)
    return bool(conn.execute(update(file_sets).where(and_(
        file_sets.c.id == claim.set_id, file_sets.c.claim_token == claim.token, file_sets.c.state == "received"))
        .values(lease_until=utc_now() + timedelta(seconds=lease_seconds))).rowcount)


def release(conn: Connection, claim: Claim | ChunkClaim) -> None:
    """Give a claim back without finishing the set (the next claim can take it at once)."""
    if isinstance(claim, ChunkClaim):
        conn.execute(update(set_chunks).where(_chunk_key(claim)).values(lease_until=None, claimed_by=None))
        return
    conn.execute(update(file_sets).where(and_(file_sets.c.id == claim.set_id, file_sets.c.claim_token == claim.token))
                 .values(lease_until=None, claimed_by=None))


@contextmanager
def holding(claim: Claim) -> Iterator[None]:
    """While inside, the final transaction of this set is fenced by the claim's token."""
    reset = _current.set(claim)
    try:
        yield
    finally:
        _current.reset(reset)


def fence(conn: Connection, set_id: int) -> None:
    """Inside the set's final transaction: LeaseLost unless this process may still answer the set.

    The set is not finished yet, and with a claim (``holding``) the claim's token is still the set's.
    Without one (the intake refusing a set it has just recorded, reprocessing a failed set), no other
    worker holds a live lease on the set: one that claimed it in between answers it. The set's row
    stays locked (on PostgreSQL) until the transaction ends, so two processes cannot both commit an
    answer of the same set.
    """
    claim = _current.get()
    live = and_(file_sets.c.lease_until.is_not(None), file_sets.c.lease_until >= utc_now())
    query = select(file_sets.c.claim_token, file_sets.c.state, file_sets.c.claimed_by, live.label("live")).where(
        file_sets.c.id == set_id)
    held = conn.execute(query.with_for_update(of=file_sets) if conn.dialect.name == "postgresql" else query).one()
    ours = claim if claim is not None and claim.set_id == set_id else None
    if ours is not None and held.claim_token != ours.token:
        raise LeaseLost(f"set {set_id}: the lease of {ours.owner} expired and another worker took the set "
                        f"(token {held.claim_token}, ours {ours.token}); this worker's result is discarded")
    if held.state != "received":
        raise LeaseLost(f"set {set_id} was answered meanwhile (it is {held.state} now); not answered again")
    if ours is None and held.live:
        raise LeaseLost(f"set {set_id} is claimed by {held.claimed_by}, which answers it; not answered here")
