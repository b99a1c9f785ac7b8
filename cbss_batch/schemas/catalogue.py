"""Our message catalogues: a small text format, its parser, and the XSD writer built on it.

A catalogue (``xsd/catalogue/<Message>_<version>.cat``) is the one source of truth for a message's
zones (simple elements) and blocks (complex elements). ``write_xsd`` turns it into our own schema, so a
new quarterly version is a data change. A catalogue reads like this::

    # DmfA original, schema version 2022/3 (a comment: a whole line starting with '#')
    title DmfA original (DmfAOriginal): structure of the NSSO schema version 2022/3
    version 20223
    root DmfAOriginal
    block 90007 EmployerDeclaration =
        Quarter
        System5?
        ( NaturalPerson+ (CompanyVehicle* ContributionUnrelatedToNP*)?
        | CompanyVehicle* ContributionUnrelatedToNP+
        )
    zone 00013 Quarter  integer  min=20031 digits=5 pattern=\\d{4}(1|2|3|4)
    zone 00297 TypeForm string   maxlen=2 enum=SU|FA

- One entry per line; a line that starts with whitespace continues the entry above it.
- ``title TEXT`` (free text, optional), ``version TOKEN`` (optional) and ``root LABEL`` (the message
  root block, required) appear once each.
- ``zone NUMBER LABEL BASE FACET...``: NUMBER is the 5-digit zone number; BASE is one of ``BASES``;
  facets are ``key=value`` with keys from ``FACETS`` (``min``/``max`` are inclusive bounds, ``digits``
  is totalDigits, ``minlen``/``maxlen``/``length`` count characters). ``pattern`` may repeat (the
  patterns are alternatives, as in XSD); ``enum=A|B|C`` lists the allowed values, so an enumerated
  value cannot itself contain ``|``. A value holding spaces is written in double quotes, ``""``
  inside for a quote.
- ``block NUMBER LABEL = MODEL``: MODEL is a sequence of labels; ``|`` separates alternatives (it binds
  weaker than the sequence), ``( ... )`` groups, and a label or group may carry ``?``, ``*``, ``+``,
  ``{n}``, ``{m,}`` or ``{m,n}``. ``{0}`` keeps a zone the official schema lists but forbids: the
  XSD leaves it out, the lookup still knows its number. ``<any>`` is one element of any name whose
  content is not checked.

Labels are unique in a catalogue: one element name, one type, which is what keeps the written schema
consistent (XSD "Element Declarations Consistent").
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Literal

from lxml import etree

from cbss_batch.errors import CatalogueError

XS = "http://www.w3.org/2001/XMLSchema"
BASES = ("integer", "string", "date", "time", "gYearMonth", "gYear", "gMonthDay", "boolean")
# Our facet keys and the XSD facets they stand for, in the order both files write them.
FACETS = {
    "whitespace": "whiteSpace",
    "length": "length",
    "minlen": "minLength",
    "maxlen": "maxLength",
    "min": "minInclusive",
    "max": "maxInclusive",
    "digits": "totalDigits",
    "pattern": "pattern",
    "enum": "enumeration",
}
_ALLOWED = {
    "integer": {"min", "max", "digits", "pattern", "enum"},
    "string": {"whitespace", "length", "minlen", "maxlen", "pattern", "enum"},
    "date": {"min", "max", "pattern", "enum"},
    "time": {"min", "max", "pattern", "enum"},
    "gYearMonth": {"min", "max", "pattern", "enum"},
    "gYear": {"min", "max", "pattern", "enum"},
    "gMonthDay": {"min", "max", "pattern", "enum"},
    "boolean": {"pattern"},
}
_NUMBER = re.compile(r"\d{5}")
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_FACET = re.compile(r'(\w+)=("(?:[^"]|"")*"|[^"\s]\S*)')
_TOKEN = re.compile(
    r"\s*(?:(?P<occ>[?*+]|\{\d+(?:,\d*)?\})|(?P<sym>[()|])|(?P<any><any>)|(?P<label>[A-Za-z_][\w.-]*))"
)


@dataclass(frozen=True, slots=True)
class Ref:
    """A zone or block in a content model, with its occurrence bounds (``max=None``: unbounded)."""

    label: str
    min: int = 1
    max: int | None = 1


@dataclass(frozen=True, slots=True)
class Wildcard:
    """``<any>``: elements of any name, content not checked."""

    min: int = 1
    max: int | None = 1


@dataclass(frozen=True, slots=True)
class Group:
    """A sequence or choice of particles."""

    kind: Literal["sequence", "choice"]
    items: tuple[Particle, ...]
    min: int = 1
    max: int | None = 1


Particle = Ref | Wildcard | Group


@dataclass(frozen=True, slots=True)
class Zone:
    """A simple element: number, XML label, base type and facets as ``(key, value)`` in ``FACETS`` order."""

    number: str
    label: str
    base: str
    facets: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Block:
    """A complex element: number, XML label and content model."""

    number: str
    label: str
    content: Group


@dataclass(frozen=True)
class Catalogue:
    """One message version: its root block, blocks and zones, in file order."""

    name: str
    root: str
    zones: tuple[Zone, ...]
    blocks: tuple[Block, ...]
    version: str = ""
    title: str = ""

    @cached_property
    def definitions(self) -> dict[str, Zone | Block]:
        """Zone or block per XML label, blocks first; the first definition of a label wins."""
        # load_catalogue rejects a label defined twice; a Catalogue built in code may hold one twice
        # (say, a label with two numbers in the glossary), and then the first one answers.
        index: dict[str, Zone | Block] = {}
        items: list[Zone | Block] = [*self.blocks, *self.zones]
        for item in items:
            index.setdefault(item.label, item)
        return index

    def zone_number(self, xml_label: str) -> str | None:
        """5-digit zone or block number for an element name (the first, if defined twice), else None."""
        found = self.definitions.get(xml_label)
        return found.number if found else None


# --- reading ---------------------------------------------------------------------------------------


def load_catalogue(path: Path | str) -> Catalogue:
    """Catalogue read from a ``.cat`` file (UTF-8); its name is the file stem."""
    path = Path(path)
    return parse_catalogue(path.read_text(encoding="utf-8"), name=path.stem, where=path.name)


def parse_catalogue(text: str, name: str = "catalogue", where: str = "<text>") -> Catalogue:
    """Catalogue parsed from text; a malformed entry raises CatalogueError naming ``where`` and line."""
    entries: list[tuple[int, str]] = []
    for row, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if raw[0].isspace():
            if not entries:
                raise CatalogueError(where, row, "continuation line with no entry above it")
            entries[-1] = (entries[-1][0], f"{entries[-1][1]} {raw.strip()}")
        else:
            entries.append((row, raw.strip()))
    head: dict[str, tuple[int, str]] = {}
    seen: dict[str, int] = {}
    zones: list[Zone] = []
    blocks: list[tuple[int, Block]] = []
    for line, entry in entries:
        keyword, _, rest = entry.partition(" ")
        rest = rest.strip()
        if keyword in ("title", "version", "root"):
            if keyword in head:
                raise CatalogueError(where, line, f"second '{keyword}' line; a catalogue has one")
            head[keyword] = (line, rest)
            continue
        if keyword == "zone":
            item: Zone | Block = _parse_zone(rest, where, line)
        elif keyword == "block":
            item = _parse_block(rest, where, line)
        else:
            raise CatalogueError(
                where, line, f"unknown entry '{keyword}'; expected zone, block, root, version or title"
            )
        if item.label in seen:
            raise CatalogueError(where, line, f"{item.label} is already defined on line {seen[item.label]}")
        seen[item.label] = line
        if isinstance(item, Zone):
            zones.append(item)
        else:
            blocks.append((line, item))
    root_line, root = head.get("root", (0, ""))
    if root not in {block.label for _, block in blocks}:
        raise CatalogueError(
            where,
            root_line,
            f"root {root or '(missing)'} is not a block here; a 'root LABEL' line names the message block",
        )
    for line, block in blocks:
        for label in _labels(block.content):
            if label not in seen:
                raise CatalogueError(where, line, f"{block.label} uses {label}, which is not defined")
    return Catalogue(
        name=name,
        root=root,
        zones=tuple(zones),
        blocks=tuple(b for _, b in blocks),
        version=head.get("version", (0, ""))[1],
        title=head.get("title", (0, ""))[1],
    )


def _parse_zone(rest: str, where: str, line: int) -> Zone:
    parts = rest.split(None, 3)
    if len(parts) < 3:
        raise CatalogueError(where, line, "a zone reads 'zone NUMBER LABEL BASE [key=value ...]'")
    number, label, base = parts[:3]
    _check_name(number, label, where, line)
    if base not in BASES:
        raise CatalogueError(where, line, f"unknown base type '{base}'; expected one of {', '.join(BASES)}")
    given: list[tuple[str, str]] = []
    facet_text = parts[3] if len(parts) > 3 else ""
    position = 0
    for match in _FACET.finditer(facet_text):
        if facet_text[position : match.start()].strip():
            break
        position = match.end()
        key, value = match.group(1), match.group(2)
        if value.startswith('"'):
            value = value[1:-1].replace('""', '"')
        if key not in FACETS:
            raise CatalogueError(where, line, f"unknown facet '{key}'; expected one of {', '.join(FACETS)}")
        if key not in _ALLOWED[base]:
            raise CatalogueError(where, line, f"facet '{key}' does not apply to base {base}")
        if key not in ("pattern", "enum") and any(k == key for k, _ in given):
            raise CatalogueError(where, line, f"facet '{key}' given twice")
        given.extend((key, v) for v in (value.split("|") if key == "enum" else [value]))
    if facet_text[position:].strip():
        raise CatalogueError(
            where,
            line,
            f"cannot read '{facet_text[position:].strip()}'; "
            'facets read key=value or key="value with spaces"',
        )
    order = list(FACETS)
    return Zone(number, label, base, tuple(sorted(given, key=lambda kv: order.index(kv[0]))))


def _parse_block(rest: str, where: str, line: int) -> Block:
    head, equals, model = rest.partition("=")
    parts = head.split()
    if not equals or len(parts) != 2:
        raise CatalogueError(where, line, "a block reads 'block NUMBER LABEL = MODEL'")
    _check_name(parts[0], parts[1], where, line)
    return Block(parts[0], parts[1], _parse_model(model, where, line))


def _check_name(number: str, label: str, where: str, line: int) -> None:
    if not _NUMBER.fullmatch(number):
        raise CatalogueError(where, line, f"number '{number}' is not 5 digits")
    if not _LABEL.fullmatch(label):
        raise CatalogueError(where, line, f"'{label}' is not an XML element name")


def _parse_model(text: str, where: str, line: int) -> Group:
    tokens: list[tuple[str, str]] = []
    position = 0
    while text[position:].strip():
        match = _TOKEN.match(text, position)
        if not match:
            raise CatalogueError(where, line, f"cannot read content model at '{text[position:].strip()}'")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    tokens.append(("end", ""))
    at = 0

    def fail(reason: str) -> CatalogueError:
        return CatalogueError(where, line, f"{reason} in content model '{text.strip()}'")

    def alternatives() -> Group:
        nonlocal at
        options = [sequence()]
        while tokens[at] == ("sym", "|"):
            at += 1
            options.append(sequence())
        return options[0] if len(options) == 1 else Group("choice", tuple(options))

    def sequence() -> Group:
        nonlocal at
        items: list[Particle] = []
        while tokens[at][0] in ("label", "any") or tokens[at] == ("sym", "("):
            kind, value = tokens[at]
            at += 1
            item: Particle
            if kind == "label":
                item = Ref(value)
            elif kind == "any":
                item = Wildcard()
            else:
                item = alternatives()
                if tokens[at] != ("sym", ")"):
                    raise fail("missing ')'")
                at += 1
            if tokens[at][0] == "occ":
                low, high = _occurs(tokens[at][1])
                if high is not None and low > high:
                    raise fail(f"occurrence {tokens[at][1]} has min above max")
                item = replace(item, min=low, max=high)
                at += 1
            items.append(item)
        if not items:
            raise fail(f"expected a label or '(' before '{tokens[at][1] or 'end'}'")
        return Group("sequence", tuple(items))

    model = alternatives()
    if tokens[at][0] != "end":
        raise fail(f"unexpected '{tokens[at][1]}'")
    return simplify(model)


def _occurs(text: str) -> tuple[int, int | None]:
    fixed = {"?": (0, 1), "*": (0, None), "+": (1, None)}
    if text in fixed:
        return fixed[text]
    low, comma, high = text.strip("{}").partition(",")
    if not comma:
        return int(low), int(low)
    return int(low), int(high) if high else None


def simplify(group: Group) -> Group:
    """The same content model with redundant groups removed (it accepts the same documents)."""
    # A plain (1..1) group inside one of its kind, or holding one particle, is spliced into its parent;
    # a group around one plain group is that group; a choice of one alternative is a sequence.
    items: list[Particle] = []
    for item in group.items:
        if isinstance(item, Group):
            item = simplify(item)
            if (item.min, item.max) == (1, 1) and (item.kind == group.kind or len(item.items) == 1):
                items.extend(item.items)
                continue
        items.append(item)
    only = items[0] if len(items) == 1 else None
    if isinstance(only, Group) and (only.min, only.max) == (1, 1):
        return replace(only, min=group.min, max=group.max)
    return replace(group, kind=group.kind if len(items) > 1 else "sequence", items=tuple(items))


def _labels(particle: Particle, allowed_only: bool = False) -> list[str]:
    """Labels used in a content model; with ``allowed_only``, not those under a ``{0}``."""
    if allowed_only and particle.max == 0:
        return []
    if isinstance(particle, Ref):
        return [particle.label]
    if isinstance(particle, Group):
        return [label for item in particle.items for label in _labels(item, allowed_only)]
    return []


# --- writing the catalogue -------------------------------------------------------------------------


def format_catalogue(catalogue: Catalogue, header: str = "") -> str:
    """Catalogue text for ``catalogue``, after ``header`` (comment lines); parses back to an equal one."""
    lines = [header.rstrip("\n")] if header else []
    for key in ("title", "version", "root"):
        if value := getattr(catalogue, key):
            lines.append(f"{key} {value}")
    lines.append("")
    for block in catalogue.blocks:
        lines.append(f"block {block.number} {block.label} =")
        lines.extend(f"    {row}" for row in _block_rows(block.content))
    lines.append("")
    width = max((len(zone.label) for zone in catalogue.zones), default=0)
    for zone in catalogue.zones:
        facets = [f"{k}={_quote(v)}" for k, v in zone.facets if k != "enum"]
        if enums := [v for k, v in zone.facets if k == "enum"]:
            facets.append(f"enum={_quote('|'.join(enums))}")
        lines.append(f"zone {zone.number} {zone.label:<{width}} {zone.base:<10} {' '.join(facets)}".rstrip())
    return "\n".join(lines) + "\n"


def _block_rows(content: Group) -> list[str]:
    """One row per particle of the block; a choice gets one row per alternative."""
    if content.kind == "choice":
        return [("| " if i else "") + _format_model(option) for i, option in enumerate(content.items)]
    rows: list[str] = []
    for item in content.items:
        if isinstance(item, Group) and item.kind == "choice" and len(_format_particle(item)) > 72:
            options = [_format_model(option) for option in item.items]
            rows += ["( " + options[0], *("| " + option for option in options[1:]), ")" + _occurrence(item)]
        else:
            rows.append(_format_particle(item))
    return rows


def _format_model(particle: Particle) -> str:
    """A particle as one alternative of a choice: a plain sequence needs no parentheses there."""
    if isinstance(particle, Group) and particle.kind == "sequence" and (particle.min, particle.max) == (1, 1):
        return " ".join(_format_particle(item) for item in particle.items)
    return _format_particle(particle)


def _format_particle(particle: Particle) -> str:
    if isinstance(particle, Ref):
        text = particle.label
    elif isinstance(particle, Wildcard):
        text = "<any>"
    elif particle.kind == "choice":
        text = "(" + " | ".join(_format_model(item) for item in particle.items) + ")"
    else:
        text = "(" + " ".join(_format_particle(item) for item in particle.items) + ")"
    return text + _occurrence(particle)


def _occurrence(particle: Particle) -> str:
    bounds = (particle.min, particle.max)
    named = {(1, 1): "", (0, 1): "?", (0, None): "*", (1, None): "+"}
    if bounds in named:
        return named[bounds]
    if particle.max is None:
        return f"{{{particle.min},}}"
    return f"{{{particle.min}}}" if particle.min == particle.max else f"{{{particle.min},{particle.max}}}"


def _quote(value: str) -> str:
    if value and not re.search(r'[\s"]', value):
        return value
    return '"' + value.replace('"', '""') + '"'


# --- writing the XSD -------------------------------------------------------------------------------


def write_xsd(catalogue: Catalogue) -> bytes:
    """Our XSD for the catalogue as UTF-8 bytes; the same catalogue always gives the same bytes."""
    # Only the root element is global, so another root fails validation. Each block is a named complex
    # type with local element declarations; a restriction used by several zones (or by a zone repeated
    # in one block, which XSD's "Element Declarations Consistent" requires) is a named simple type.
    defined = catalogue.definitions
    used = _reachable(catalogue)
    blocks = [b for b in catalogue.blocks if b.label in used]
    zones = [z for z in catalogue.zones if z.label in used]
    complex_names = {b.label: f"{b.label}Type" for b in blocks}
    shared = Counter((z.base, z.facets) for z in zones if z.facets)
    repeated = {label for b in blocks for label, n in Counter(_labels(b.content, True)).items() if n > 1}
    simple_names: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
    taken = set(complex_names.values())
    for zone in sorted(zones, key=lambda z: z.label):
        key = (zone.base, zone.facets)
        if zone.facets and key not in simple_names and (shared[key] > 1 or zone.label in repeated):
            simple_names[key] = _unique(_simple_type_name(zone), taken)

    def element(parent: etree._Element, ref: Ref) -> None:
        item = defined[ref.label]
        node = etree.SubElement(parent, f"{{{XS}}}element", name=item.label)
        if isinstance(item, Block):
            node.set("type", complex_names[item.label])
        elif not item.facets:
            node.set("type", f"xs:{item.base}")
        elif (item.base, item.facets) in simple_names:
            node.set("type", simple_names[(item.base, item.facets)])
        _set_occurs(node, ref)
        _document(node, item.number)
        if isinstance(item, Zone) and item.facets and not node.get("type"):
            _restriction(etree.SubElement(node, f"{{{XS}}}simpleType"), item)

    def particle(parent: etree._Element, part: Particle) -> None:
        # A {0} particle is left out: it accepts nothing, and libxml2 wrongly accepts a local element
        # declared maxOccurs="0" when it ends the content. Without it every validator agrees, and the
        # catalogue still knows the zone for error reports.
        if part.max == 0:
            return
        if isinstance(part, Ref):
            element(parent, part)
        elif isinstance(part, Wildcard):
            _set_occurs(etree.SubElement(parent, f"{{{XS}}}any", processContents="skip"), part)
        else:
            node = etree.SubElement(parent, f"{{{XS}}}{part.kind}")
            _set_occurs(node, part)
            for item in part.items:
                particle(node, item)

    schema = etree.Element(f"{{{XS}}}schema", nsmap={"xs": XS})
    if catalogue.version:
        schema.set("version", catalogue.version)
    note = f"Generated from catalogue {catalogue.name} by cbss_batch.schemas.catalogue: edit the catalogue."
    _document(schema, f"{catalogue.title}\n{note}" if catalogue.title else note)
    root = defined[catalogue.root]
    top = etree.SubElement(schema, f"{{{XS}}}element", name=root.label, type=complex_names[root.label])
    _document(top, root.number)
    for block in blocks:
        node = etree.SubElement(schema, f"{{{XS}}}complexType", name=complex_names[block.label])
        particle(node, block.content)
    for (base, facets), type_name in sorted(simple_names.items(), key=lambda kv: kv[1]):
        node = etree.SubElement(schema, f"{{{XS}}}simpleType", name=type_name)
        _restriction(node, Zone("", "", base, facets))
    etree.indent(schema, space="  ")
    body: bytes = etree.tostring(schema, encoding="UTF-8")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body + b"\n"


def _reachable(catalogue: Catalogue) -> set[str]:
    defined, seen, todo = catalogue.definitions, set(), [catalogue.root]
    while todo:
        label = todo.pop()
        if label in seen:
            continue
        if label not in defined:
            raise CatalogueError(catalogue.name, 0, f"{label} is used but not defined")
        seen.add(label)
        item = defined[label]
        if isinstance(item, Block):
            todo.extend(_labels(item.content, allowed_only=True))
    return seen


def _set_occurs(node: etree._Element, particle: Particle) -> None:
    if particle.min != 1:
        node.set("minOccurs", str(particle.min))
    if particle.max != 1:
        node.set("maxOccurs", "unbounded" if particle.max is None else str(particle.max))


def _document(node: etree._Element, text: str) -> None:
    annotation = etree.SubElement(node, f"{{{XS}}}annotation")
    etree.SubElement(annotation, f"{{{XS}}}documentation").text = text


def _restriction(parent: etree._Element, zone: Zone) -> None:
    restriction = etree.SubElement(parent, f"{{{XS}}}restriction", base=f"xs:{zone.base}")
    for key, value in zone.facets:
        etree.SubElement(restriction, f"{{{XS}}}{FACETS[key]}", value=value)


def _simple_type_name(zone: Zone) -> str:
    """Name read from the restriction: ``IntegerFrom0To99Digits2``, ``StringMaxLength40``, ``DatePattern``."""
    facets = dict(zone.facets)
    parts = [zone.base[0].upper() + zone.base[1:]]
    words = {
        "length": "Length",
        "minlen": "MinLength",
        "maxlen": "MaxLength",
        "min": "From",
        "max": "To",
        "digits": "Digits",
    }
    parts.extend(word + re.sub(r"\W", "_", facets[key]) for key, word in words.items() if key in facets)
    if "pattern" in facets:
        parts.append("Pattern")
    if enums := [v for k, v in zone.facets if k == "enum"]:
        parts.append(f"Enum{len(enums)}")
    return "".join(parts)


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate
