"""Where a large DmfA set can be cut: a byte scan of its parts for forms and persons, in C-speed finds.

A chunk is a run of whole ``NaturalPerson`` elements (a declaration may span several chunks); the
plan keeps, for every form, where it starts, where its header ends (its first person) and where it
ends, with line numbers, and for every chunk its byte range and how many persons and form ends it
must contain. The scan only looks for the literal tags ``<Form>``, ``</Form>`` and
``<NaturalPerson>``: a document with comments, CDATA sections, processing instructions or lone
carriage returns (which would make those finds or the line numbers unreliable) is not cut
(``NotSplittable``), and each chunk checks that it read exactly the persons and forms the plan
announced, so a tag written another way never goes unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

_FORM = b"<Form>"
_FORM_END = b"</Form>"
_PERSON = b"<NaturalPerson>"
_GUARDS = (b"<!--", b"<![CDATA[", b"\r")
_GUARD_NAMES = {b"<!--": "comments", b"<![CDATA[": "CDATA sections", b"\r": "carriage returns"}
_OVERLAP = max(len(_FORM), len(_FORM_END), len(_PERSON), *map(len, _GUARDS), len(b"<?")) - 1
_BLOCK = 1 << 22


class NotSplittable(Exception):
    """The document is processed whole: the reason says why it cannot be cut safely."""


@dataclass(slots=True)
class FormSpan:
    """One ``Form`` of the document: offsets in the parts read as one stream, lines as the parser counts them."""

    start: int
    line: int
    header_end: int = -1  # offset of its first <NaturalPerson>, -1 when it has none
    header_end_line: int = 0
    end: int = -1  # offset just after </Form>
    end_line: int = 0  # line of </Form>
    persons: int = 0


@dataclass(frozen=True, slots=True)
class ChunkSpan:
    """Bytes [start, end) of the document (end None: to the end), starting inside form ``form`` (1-based)."""

    number: int  # 1-based
    start: int
    end: int | None
    line: int  # line of ``start``
    form: int  # the form the chunk starts in
    persons: int  # NaturalPerson elements in the range
    form_ends: int  # forms whose </Form> lies in the range


@dataclass(slots=True)
class Plan:
    prefix_end: int  # offset of the first <Form>: what comes before is the prolog and the root's start
    prefix_line: int  # line of that offset
    forms: list[FormSpan] = field(default_factory=list)
    chunks: list[ChunkSpan] = field(default_factory=list)

    @property
    def persons(self) -> int:
        return sum(f.persons for f in self.forms)


def _blocks(paths: list[Path]) -> Iterator[bytes]:
    for path in paths:
        with path.open("rb") as handle:
            while block := handle.read(_BLOCK):
                yield block


def _has_instruction(data: bytes, limit: int, *, first: bool) -> bool:
    """A ``<?`` before ``limit`` other than the XML declaration at the start of the document."""
    begin = 0
    if first:
        declaration = data.find(b"<?xml", 0, 8)  # after a byte order mark, if any
        if declaration != -1:
            begin = data.find(b"?>", declaration) + 2 if data.find(b"?>", declaration) != -1 else len(data)
    return data.find(b"<?", begin, limit + 1) != -1


def _events(data: bytes, limit: int) -> list[tuple[int, int]]:
    """(position, kind) of the tags starting before ``limit`` in document order: 0 form, 1 form end, 2 person."""
    found: list[tuple[int, int]] = []
    for kind, needle in enumerate((_FORM, _FORM_END, _PERSON)):
        position = data.find(needle, 0, limit + len(needle) - 1)
        while position != -1:
            found.append((position, kind))
            position = data.find(needle, position + 1, limit + len(needle) - 1)
    found.sort()
    return found


def scan(paths: list[Path], persons_per_chunk: int) -> Plan:
    """The forms of the document and its cut into chunks of about ``persons_per_chunk`` persons."""
    if persons_per_chunk < 1:
        raise ValueError("persons_per_chunk must be positive")
    forms: list[FormSpan] = []
    cuts: list[tuple[int, int, int]] = []  # (offset, line, form number) of each chunk's first person
    base = 0  # document offset of data[0]
    line = 1  # line of data[0]
    data = b""
    persons_seen = 0
    prefix: tuple[int, int] | None = None
    open_form: FormSpan | None = None
    pending = b""
    blocks = _blocks(paths)
    exhausted = False
    while not exhausted:
        block = next(blocks, None)
        if block is None:
            exhausted = True
            data = pending
            limit = len(data)
        else:
            data = pending + block
            limit = max(len(data) - _OVERLAP, 0)
        for guard in _GUARDS:
            if data.find(guard, 0, limit + len(guard) - 1) != -1:
                raise NotSplittable(f"the document contains {_GUARD_NAMES[guard]}")
        if _has_instruction(data, limit, first=base == 0):
            raise NotSplittable("the document contains processing instructions")
        counted = 0  # data[:counted] is accounted for in ``line``
        for position, kind in _events(data, limit):
            line += data.count(b"\n", counted, position)
            counted = position
            offset = base + position
            if kind == 0:
                if open_form is not None:
                    raise NotSplittable("a Form starts inside another Form")
                if prefix is None:
                    prefix = (offset, line)
                open_form = FormSpan(offset, line)
                forms.append(open_form)
            elif kind == 1:
                if open_form is None:
                    raise NotSplittable("a Form ends that did not start")
                open_form.end, open_form.end_line = offset + len(_FORM_END), line
                open_form = None
            else:
                if open_form is None:
                    raise NotSplittable("a NaturalPerson outside a Form")
                if open_form.persons == 0:
                    open_form.header_end, open_form.header_end_line = offset, line
                if persons_seen % persons_per_chunk == 0:
                    cuts.append((offset, line, len(forms)))
                open_form.persons += 1
                persons_seen += 1
        line += data.count(b"\n", counted, limit)
        pending = data[limit:]
        base += limit
    if prefix is None or not forms:
        raise NotSplittable("the document has no Form")
    if open_form is not None:
        raise NotSplittable("the last Form is not closed")
    return Plan(prefix[0], prefix[1], forms, _chunks(forms, cuts, persons_per_chunk, persons_seen))


def _chunks(forms: list[FormSpan], cuts: list[tuple[int, int, int]], persons_per_chunk: int,
            total: int) -> list[ChunkSpan]:
    """The chunks between the cuts; the first starts at the document's beginning, the last runs to its end."""
    starts = [(0, 1, 1), *cuts[1:]]
    chunks = []
    for number, (start, line, form) in enumerate(starts, start=1):
        last = number == len(starts)
        end = None if last else starts[number][0]
        persons = total - persons_per_chunk * (number - 1) if last else persons_per_chunk
        form_ends = sum(1 for f in forms if start <= f.end - len(_FORM_END) and (end is None or f.end <= end))
        chunks.append(ChunkSpan(number, start, end, line, form, persons, form_ends))
    return chunks
