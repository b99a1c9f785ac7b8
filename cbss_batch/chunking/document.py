"""The documents a chunk worker parses: byte ranges of the parts, joined so that lines stay true.

A chunk's document is the original prolog and root start (``[0, first Form)``), the header of the
form the chunk starts in (``[Form, its first NaturalPerson)``), the chunk's own bytes, and the end
tags of what is still open. Between these pieces, comments made of newlines make up for the lines
left out, so every element keeps the line number it has in the original file (the answers point at
the sender's lines); the parser drops comments (``remove_comments``), so they cost no memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from cbss_batch.chunking.plan import ChunkSpan, Plan

_PAD_LINES = 1 << 16  # newlines per padding comment: the parser buffers one comment at a time
_READ = 1 << 20

Segment = tuple[int, int | None] | bytes  # a byte range of the document, or literal bytes


def closing(root: str) -> bytes:
    """End tags closing a chunk cut inside a declaration."""
    return f"</EmployerDeclaration></Form></{root}>".encode()


def padding(lines: int) -> Iterator[bytes]:
    """``lines`` newlines inside comments."""
    while lines > 0:
        count = min(lines, _PAD_LINES)
        lines -= count
        yield b"<!--" + b"\n" * count + b"-->"


def chunk_segments(plan: Plan, chunk: ChunkSpan, root: str) -> list[Segment]:
    """The pieces of chunk ``chunk``'s document, in order."""
    tail: list[Segment] = [] if chunk.end is None else [closing(root)]
    if chunk.start == 0:
        return [(0, chunk.end), *tail]
    form = plan.forms[chunk.form - 1]
    return [(0, plan.prefix_end), *padding(form.line - plan.prefix_line), (form.start, form.header_end),
            *padding(chunk.line - form.header_end_line), (chunk.start, chunk.end), *tail]


def header_segments(plan: Plan, root: str) -> list[Segment]:
    """A document of every form's header (forms without persons whole), each at its own lines."""
    segments: list[Segment] = [(0, plan.prefix_end)]
    line = plan.prefix_line
    for form in plan.forms:
        segments.extend(padding(form.line - line))
        if form.persons:
            segments += [(form.start, form.header_end), b"</EmployerDeclaration></Form>"]
            line = form.header_end_line
        else:
            segments.append((form.start, form.end))
            line = form.end_line
    segments.append(f"</{root}>".encode())
    return segments


class SegmentReader:
    """A file-like ``read`` over segments of the parts read as one stream."""

    def __init__(self, paths: list[Path], segments: list[Segment]) -> None:
        self._parts: list[tuple[Path, int, int]] = []  # (path, first offset, size)
        offset = 0
        for path in paths:
            size = path.stat().st_size
            self._parts.append((path, offset, size))
            offset += size
        self._total = offset
        self._pieces = self._iterate(segments)
        self._buffer = b""
        self._position = 0

    def _iterate(self, segments: list[Segment]) -> Iterator[bytes]:
        for segment in segments:
            if isinstance(segment, bytes):
                yield segment
            else:
                start, end = segment
                yield from self._range(start, self._total if end is None else end)

    def _range(self, start: int, end: int) -> Iterator[bytes]:
        for path, first, size in self._parts:
            low, high = max(start, first), min(end, first + size)
            if low >= high:
                continue
            with path.open("rb") as handle:
                handle.seek(low - first)
                remaining = high - low
                while remaining > 0:
                    data = handle.read(min(_READ, remaining))
                    if not data:
                        raise OSError(f"{path} is shorter than when the set was planned")
                    remaining -= len(data)
                    yield data

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            rest = self._buffer[self._position:] + b"".join(self._pieces)
            self._buffer, self._position = b"", 0
            return rest
        if self._position >= len(self._buffer):
            self._buffer, self._position = next(self._pieces, b""), 0
            while not self._buffer:  # skip empty pieces, stop at the end
                piece = next(self._pieces, None)
                if piece is None:
                    return b""
                self._buffer = piece
        out = self._buffer[self._position:self._position + size]
        self._position += len(out)
        return out

    def close(self) -> None:
        self._pieces.close()  # type: ignore[attr-defined]
