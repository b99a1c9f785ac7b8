"""The byte-level count of workers per declaration (the employer's size, needed before the first line)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cbss_batch.generator import make_dmfa
from cbss_batch.parse.dmfa import count_persons


def _split(data: bytes, cuts: list[int], folder: Path) -> list[Path]:
    bounds = [0, *sorted(set(c % (len(data) + 1) for c in cuts)), len(data)]
    paths = []
    for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        path = folder / f"part{i}"
        path.write_bytes(data[a:b])
        paths.append(path)
    return paths


def test_counts_each_declaration_of_a_file(tmp_path: Path) -> None:
    data = make_dmfa(workers=25, declarations=3, quarter="20253")
    assert count_persons(_split(data, [], tmp_path)) == [9, 8, 8]


@given(st.lists(st.integers(min_value=0, max_value=10**6), max_size=6))
def test_any_split_into_parts_gives_the_same_counts(cuts: list[int]) -> None:
    import tempfile

    data = make_dmfa(workers=7, declarations=2, quarter="20253")
    with tempfile.TemporaryDirectory() as folder:
        assert count_persons(_split(data, cuts, Path(folder))) == [4, 3]


@settings(max_examples=25)
@given(st.integers(min_value=5, max_value=64))
def test_tags_cut_by_any_chunk_size_are_counted_once(chunk: int) -> None:
    import tempfile

    data = make_dmfa(workers=5, declarations=2, quarter="20253")
    with tempfile.TemporaryDirectory() as folder:
        paths = [Path(folder) / f"p{i:04d}" for i in range(0, len(data), chunk)]
        for i, path in zip(range(0, len(data), chunk), paths, strict=True):
            path.write_bytes(data[i:i + chunk])
        assert count_persons(paths) == [3, 2]
