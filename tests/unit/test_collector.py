"""The collector's threshold while a set is staged: raised inside, restored after, never lowered."""

from __future__ import annotations

import gc

import pytest

from cbss_batch.collector import STAGING_THRESHOLD, fewer_collections


def test_the_threshold_is_raised_while_staging_and_restored_even_after_an_error() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError, match="staging failed"), fewer_collections():
        assert gc.get_threshold() == (max(STAGING_THRESHOLD, before[0]), *before[1:])
        assert gc.isenabled()  # collections still happen, only less often
        raise RuntimeError("staging failed")
    assert gc.get_threshold() == before


def test_a_higher_threshold_set_by_the_operator_is_kept() -> None:
    before = gc.get_threshold()
    gc.set_threshold(200_000, *before[1:])
    try:
        with fewer_collections(1_000):
            assert gc.get_threshold()[0] == 200_000
        assert gc.get_threshold()[0] == 200_000
    finally:
        gc.set_threshold(*before)
