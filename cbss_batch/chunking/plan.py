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
_OVERLAP = max(len(_FORM), len(_FORM_END), len(_PERSON), len(b"<?xml")) - 1
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


def _markup_guard(data: bytes, limit: int, *, first: bool) -> str | None:
    """What makes literal finds unreliable before ``limit``: markup starting ``<!`` (comments, CDATA), ``<?``
    other than the XML declaration, or a carriage return. '!', '?' and CR are rare in declarations, so
    one byte search each (C speed) settles most blocks."""
    if data.find(b"\r", 0, limit) != -1:
        return "carriage returns"
    begin = 0
    if first:
        declaration = data.find(b"<?xml", 0, 8)  # after a byte order mark, if any
        if declaration != -1:
            end = data.find(b"?>", declaration)
            begin = end + 2 if end != -1 else len(data)
    for mark, what in ((b"!", "comments or CDATA sections"), (b"?", "processing instructions")):
        # up to ``limit`` included: a "<" just before it is not in the next block
        position = data.find(mark, begin, limit + 1)
        while position != -1:
            if position > 0 and data[position - 1] == 0x3C:  # "<"
                return what
            position = data.find(mark, position + 1, limit + 1)
    return None


def _form_events(data: bytes, limit: int) -> list[tuple[int, int]]:
    """(position, kind) of the form tags starting before ``limit``, in document order: 0 start, 1 end.

    One search for ``Form>`` finds both tags (about twice as fast as a search for each)."""
    found: list[tuple[int, int]] = []
    end = limit + 6  # "Form>" of a "</Form>" starting just before ``limit`` ends there
    position = data.find(b"Form>", 1, end)
    while position != -1:
        if data[position - 1] == 0x3C:  # "<Form>"
            if position - 1 < limit:
                found.append((position - 1, 0))
        elif data[position - 1] == 0x2F and position >= 2 and data[position - 2] == 0x3C:  # "</Form>"
            if position - 2 < limit:
                found.append((position - 2, 1))
        position = data.find(b"Form>", position + 1, end)
    return found


class _Scanner:
    """The state of a scan across blocks."""

    def __init__(self, persons_per_chunk: int) -> None:
        self.per_chunk = persons_per_chunk
        self.forms: list[FormSpan] = []
        self.cuts: list[tuple[int, int, int]] = []  # (offset, line, form number) of each chunk's first person
        self.persons = 0
        self.prefix: tuple[int, int] | None = None
        self.open: FormSpan | None = None
        self.line = 1  # the line of data[counted]
        self.counted = 0

    def line_at(self, data: bytes, position: int) -> int:
        self.line += data.count(b"\n", self.counted, position)
        self.counted = position
        return self.line

    def persons_in(self, data: bytes, base: int, start: int, end: int) -> None:
        """Count the persons starting in data[start:end) (inside the open form), noting the cuts among them."""
        count = data.count(_PERSON, start, end + len(_PERSON) - 1)
        if not count:
            return
        form = self.open
        if form is None:
            raise NotSplittable("a NaturalPerson outside a Form")
        first_cut = -self.persons % self.per_chunk  # persons to skip before the next cut
        if form.persons == 0 or first_cut < count:
            position = data.find(_PERSON, start, end + len(_PERSON) - 1)
            if form.persons == 0:
                form.header_end, form.header_end_line = base + position, self.line_at(data, position)
            index = 0
            while first_cut < count:
                while index < first_cut:
                    position = data.find(_PERSON, position + 1, end + len(_PERSON) - 1)
                    index += 1
                self.cuts.append((base + position, self.line_at(data, position), len(self.forms)))
                first_cut += self.per_chunk
        form.persons += count
        self.persons += count

    def block(self, data: bytes, base: int, limit: int) -> None:
        self.counted = 0
        previous = 0
        for position, kind in _form_events(data, limit):
            self.persons_in(data, base, previous, position)
            previous = position
            if kind == 0:
                if self.open is not None:
                    raise NotSplittable("a Form starts inside another Form")
                self.open = FormSpan(base + position, self.line_at(data, position))
                if self.prefix is None:
                    self.prefix = (self.open.start, self.open.line)
                self.forms.append(self.open)
            else:
                if self.open is None:
                    raise NotSplittable("a Form ends that did not start")
                self.open.end, self.open.end_line = base + position + len(_FORM_END), self.line_at(data, position)
                self.open = None
        self.persons_in(data, base, previous, limit)
        self.line_at(data, limit)


def scan(paths: list[Path], persons_per_chunk: int) -> Plan:
    """The forms of the document and its cut into chunks of about ``persons_per_chunk`` persons."""
    if persons_per_chunk < 1:
        raise ValueError("persons_per_chunk must be positive")
    scanner = _Scanner(persons_per_chunk)
    base = 0  # document offset of data[0]
    pending = b""
    blocks = _blocks(paths)
    while True:
        block = next(blocks, None)
        data = pending + block if block is not None else pending
        limit = max(len(data) - _OVERLAP, 0) if block is not None else len(data)
        problem = _markup_guard(data, limit, first=base == 0)
        if problem is not None:
            raise NotSplittable(f"the document contains {problem}")
        scanner.block(data, base, limit)
        pending = data[limit:]
        base += limit
        if block is None:
            break
    forms, cuts, prefix, open_form, persons_seen = (scanner.forms, scanner.cuts, scanner.prefix, scanner.open,
                                                    scanner.persons)
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
