"""Python's cyclic garbage collector while a set is staged.

Staging builds millions of short-lived tuples (records, rows): reference counting frees them, but
every 700 new container objects start a young collection, which costs about 4 % of a large set's
time. While a set is staged the first threshold is raised, so collections still happen, about 70
times less often; the settings are restored afterwards.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

STAGING_THRESHOLD = 50_000  # measured on 100 000 workers: 9.70/9.28 s → 9.17/9.17 s, peak RSS unchanged


@contextmanager
def fewer_collections(threshold: int = STAGING_THRESHOLD) -> Iterator[None]:
    """Raise the collector's first threshold to ``threshold`` (never lower it) inside the block."""
    previous = gc.get_threshold()
    gc.set_threshold(max(threshold, previous[0]), *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
