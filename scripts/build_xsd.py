"""Our schemas from our catalogues, and the one-off bootstrap of a catalogue from an official schema or glossary.

    python scripts/build_xsd.py extract OFFICIAL.xsd OUT.cat   # facts of an official schema → our catalogue
    python scripts/build_xsd.py extract-glossary FUNCTIONAL_BLOCKS.xml ZONES.xml OUT.cat
                                                               # facts of the two official glossaries → our catalogue
    python scripts/build_xsd.py build IN.cat OUT.xsd           # our catalogue → our XSD
    python scripts/build_xsd.py build-all                      # every xsd/catalogue/*.cat → xsd/*.xsd

``extract`` reads only facts (names, base types, facets, cardinalities, zone numbers); the content
models of ``complexContent`` extensions are flattened into one sequence that accepts the same
documents. ``extract-glossary`` builds a catalogue for a message that has no official schema here, from
its functional-block glossary (the block tree) and its zone glossary (the zone types); the mapping is
described at ``extract_glossary``. Review the written catalogue by hand: from then on it is our data,
and the XSD is rebuilt from it. The tests check that the committed ``xsd/*.xsd`` are exactly what
``build`` writes.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Literal, NamedTuple

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a plain script, without the package installed
    sys.path.insert(0, str(ROOT))

from cbss_batch.schemas.catalogue import (  # noqa: E402
    FACETS,
    Block,
    Catalogue,
    Group,
    Particle,
    Ref,
    Wildcard,
    Zone,
    format_catalogue,
    load_catalogue,
    simplify,
    write_xsd,
)

XS = "{http://www.w3.org/2001/XMLSchema}"
FACET_KEYS = {xsd_name: key for key, xsd_name in FACETS.items()}


def extract(official: Path) -> Catalogue:
    """Catalogue holding the facts of an official schema (all elements global, referenced by ``ref``)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    schema = etree.parse(str(official), parser).getroot()
    elements = {node.get("name"): node for node in schema.findall(f"{XS}element")}
    types = {node.get("name"): node for node in schema.findall(f"{XS}complexType")}
    zones: list[Zone] = []
    blocks: dict[str, Block] = {}
    for label, node in sorted(elements.items()):
        number = (node.findtext(f"{XS}annotation/{XS}documentation") or "").strip()
        simple = node.find(f"{XS}simpleType/{XS}restriction")
        if simple is not None:
            facets = [
                (FACET_KEYS[child.tag.removeprefix(XS)], child.get("value", ""))
                for child in simple
                if isinstance(child.tag, str)
            ]
            order = list(FACETS)
            facets.sort(key=lambda kv: order.index(kv[0]))
            if any(key == "enum" and "|" in value for key, value in facets):
                raise SystemExit(f"{official}: {label} enumerates a value holding '|'; a catalogue cannot")
            zones.append(Zone(number, label, simple.get("base", "").removeprefix("xs:"), tuple(facets)))
        elif node.get("type", "").startswith("xs:"):
            zones.append(Zone(number, label, node.get("type", "").removeprefix("xs:")))
        else:
            complex_type = node.find(f"{XS}complexType")
            if complex_type is None:
                complex_type = types[node.get("type")]
            blocks[label] = Block(number, label, simplify(_content(complex_type, types)))
    used = {ref.label for block in blocks.values() for ref in _refs(block.content)}
    roots = sorted(set(blocks) - used)
    if len(roots) != 1:
        raise SystemExit(f"{official}: expected one element used by no other, found {roots}")
    version = re.search(r"_(\d{5})", official.name)
    return Catalogue(
        name=official.stem,
        root=roots[0],
        zones=tuple(zones),
        blocks=tuple(_tree_order(roots[0], blocks)),
        version=version.group(1) if version else "",
        title=f"{roots[0]} {version.group(1) if version else ''}, from {official.name}",
    )


def _content(complex_type: etree._Element, types: dict[str, etree._Element]) -> Group:
    """Content model of a complex type; an extension is its base's model followed by its own."""
    extension = complex_type.find(f"{XS}complexContent/{XS}extension")
    if extension is None:
        return Group("sequence", tuple(_particles(complex_type)))
    base = _content(types[extension.get("base")], types)
    return Group("sequence", (base, *_particles(extension)))


def _particles(parent: etree._Element) -> list[Particle]:
    found: list[Particle] = []
    for node in parent:
        if not isinstance(node.tag, str) or node.tag == f"{XS}annotation":
            continue
        tag = node.tag.removeprefix(XS)
        low = int(node.get("minOccurs", "1"))
        high = None if node.get("maxOccurs") == "unbounded" else int(node.get("maxOccurs", "1"))
        if tag == "element" and node.get("ref"):
            found.append(Ref(node.get("ref", ""), low, high))
        elif tag in ("sequence", "choice"):
            kind: Literal["sequence", "choice"] = "sequence" if tag == "sequence" else "choice"
            found.append(Group(kind, tuple(_particles(node)), low, high))
        elif tag == "any" and node.get("processContents") == "skip":
            found.append(Wildcard(low, high))
        else:
            raise SystemExit(f"line {node.sourceline}: <xs:{tag}> is not something our catalogue holds")
    return found


def _refs(particle: Particle) -> list[Ref]:
    if isinstance(particle, Group):
        return [ref for item in particle.items for ref in _refs(item)]
    return [particle] if isinstance(particle, Ref) else []


def _tree_order(root: str, blocks: dict[str, Block]) -> list[Block]:
    """Blocks from the root down, each where it is first used, so the catalogue reads like the message."""
    ordered: list[Block] = []

    def visit(label: str) -> None:
        if label in blocks and blocks[label] not in ordered:
            ordered.append(blocks[label])
            for ref in _refs(blocks[label].content):
                visit(ref.label)

    visit(root)
    return ordered


# --- from the official glossaries ------------------------------------------------------------------

GLOSSARY_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_ZONE_ENTRY = re.compile(r"(\d{5}) - ")
_BLOCK_NUMBER = re.compile(r"\b9\d{4}\b")
_QUOTED = re.compile(r'"([^"]+)"')
_CONDITION = re.compile(r"\b(?:indien|wanneer|tenzij|behalve|als)\b", re.IGNORECASE)
# "... if the zone is in block X": says where the statement applies, not a condition on the data.
_SCOPE = re.compile(r"\b(?:als|indien) de zone (?:zich )?in (?:het )?(?:FB|blok)\b.*?\b(?:ligt|bevindt)\b", re.I)
_RANGE = re.compile(r"\[\s*(-?\d+)\s*;\s*(-?\d+)\s*\]")
# What may surround the one interval of a "simple range" domain: the type and the unit, and a note with
# examples on how the unit is written; nothing that narrows or widens it (a period, a message, a condition).
_UNIT_NOTE = re.compile(r"Aandacht\s*:[^.\n]*\buitgedrukt in\b[^.\n]*\.|Voorbeelden?\s*:", re.IGNORECASE)
_UNIT_EXAMPLE = re.compile(r"^\s*\.?\s*[\d,]+\s*\S*\s+wordt uitgedrukt onder de vorm\s*:?\s*\d+\.?\s*$", re.M | re.I)
_RANGE_WORDS = re.compile(
    r"\b(?:positief|geheel getal|en|element van|een getal (?:bestaande uit|van) maxim(?:um|aal) \d+ cijfers"
    r"|het bedrag wordt|uitgedrukt|in|eurocenten|cent|centen|honderdsten?|van)\b|[\s.,:]",
    re.IGNORECASE,
)
# Hours: the glossary's layout letters with the ranges its domain gives (UU in [00;23], MM and SS in [00;59]).
_HOUR_PARTS = {"UU": r"([01]\d|2[0-3])", "MM": r"[0-5]\d", "SS": r"[0-5]\d", "SSS": r"\d{3}", ":": ":", ".": r"\."}
_NUMERIC_LAYOUTS = {"JJJJK": r"\d{4}[1-4]", "JJJJ": r"\d{4}"}
DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"


class GlossaryBlock(NamedTuple):
    """One FunctionalBlock of a functional-block glossary."""

    number: str
    label: str
    name: str  # the Dutch name, by which the zone glossary and the presence rules refer to the block
    version: str
    min: int
    max: int | None
    zones: tuple[str, ...]  # zone numbers, in the glossary's order
    linked: tuple[str, ...]  # block numbers, in the glossary's order
    restrictions: str


class GlossaryZone(NamedTuple):
    """One entry of a zone glossary: a zone as used in one block (``block_name``)."""

    number: str
    label: str
    block_name: str
    kind: str
    length: str
    layout: str
    domain: str
    presence: str


def read_functional_blocks(path: Path) -> dict[str, GlossaryBlock]:
    """The blocks of a functional-block glossary by number."""
    blocks: dict[str, GlossaryBlock] = {}
    for node in etree.parse(str(path), GLOSSARY_PARSER).getroot().iter("FunctionalBlock"):
        # A zone title holding a comma goes on in the next <Zones> (AOAT001 Accident): only an entry
        # starting with a zone number names a zone.
        zones = [m.group(1) for z in node.iter("Zones") if (m := _ZONE_ENTRY.match((z.text or "").strip()))]
        high = _text(node, "MaximumKardinaliteit")
        block = GlossaryBlock(
            number=_text(node, "Code"),
            label=_text(node, "XmlLabel"),
            name=_text(node, "Naam"),
            version=_text(node, "Versie"),
            min=int(_text(node, "MinimumKardinaliteit")),
            max=None if high == "*" else int(high),
            zones=tuple(zones),
            linked=tuple(n for n in (_text(x) for x in node.iter("NrGelinktBlok")) if n),
            restrictions=_text(node, "ExtraBeperkingen"),
        )
        blocks[block.number] = block
    return blocks


def read_zone_glossary(path: Path) -> dict[str, list[GlossaryZone]]:
    """The entries of a zone glossary by zone number (one entry per block that uses the zone)."""
    entries: dict[str, list[GlossaryZone]] = {}
    for node in etree.parse(str(path), GLOSSARY_PARSER).getroot().iter("glossary"):
        entry = GlossaryZone(
            number=_text(node, "Code"),
            label=_text(node, "XmlLabel"),
            block_name=_text(node, "FunctioneelBlok"),
            kind=_text(node, "Type"),
            length=_text(node, "Lengte"),
            layout=_text(node, "Formaat"),
            domain=_text(node, "ToegelatenDomein"),
            presence=_text(node, "Aanwezigheid"),
        )
        entries.setdefault(entry.number, []).append(entry)
    return entries


def _text(node: etree._Element, tag: str | None = None) -> str:
    found = node if tag is None else node.find(tag)
    return (found.text or "").strip() if found is not None else ""


def extract_glossary(functional_blocks: Path, zone_glossary: Path) -> Catalogue:
    """Catalogue of a message from its two official glossaries.

    - Root: the one block no other block links to (the message, e.g. ``TWCT001``); version: its
      ``Versie`` (2023/3 → 20233).
    - A block holds its zones in the glossary's order, then its linked blocks (``NrGelinktBlok``) in the
      glossary's order, each with ``MinimumKardinaliteit``..``MaximumKardinaliteit`` (``*`` unbounded).
      This is how the official DRS schemas (ZIMA) lay out every block, the envelope ``Form`` included:
      Identification, FormCreationDate, FormCreationHour, AttestationStatus, TypeForm, then its blocks.
    - A block ``X`` followed by ``NOSSLPAX`` (employer affiliated with the NSSO, or a provincial or local
      authority) is a choice of one of them, each ``{1,max}``: the glossary makes each mandatory when the
      employer is of its kind. The choice is required unless one of the two may be absent altogether
      (its ``ExtraBeperkingen`` says "mag niet aanwezig zijn", e.g. an occupation of a dismissed
      statutory worker).
    - A zone's presence (``Aanwezigheid``) in a block: the first statement (line or sentence) that names
      the block (by number, XML label or quoted Dutch name), else the first that names no block.
      "Onmisbaar"/"Verplicht" without a condition ("if the zone is in block X" only says where the
      statement applies) → required; "Verboden" without a condition → ``{0}``
      (kept for its number, left out of the XSD); anything else (Facultatief, "Verplicht indien ...")
      → optional. The rules engine, not the schema, checks the conditions.
    - Zone types: see ``_zone_type``.
    """
    blocks = read_functional_blocks(functional_blocks)
    entries = read_zone_glossary(zone_glossary)
    where = functional_blocks.name
    linked = {number for block in blocks.values() for number in block.linked}
    if unknown := sorted(linked - set(blocks)):
        raise SystemExit(f"{where}: linked blocks {unknown} are not defined")
    roots = sorted(block.label for block in blocks.values() if block.number not in linked)
    if len(roots) != 1:
        raise SystemExit(f"{where}: expected one block linked by no other, found {roots}")
    by_label = {block.label: block for block in blocks.values()}
    root = by_label[roots[0]]
    zones: dict[str, Zone] = {}
    written: list[Block] = []
    seen: set[str] = set()

    def visit(block: GlossaryBlock) -> None:
        if block.number in seen:
            return
        seen.add(block.number)
        items: list[Particle] = []
        for number in block.zones:
            if number not in entries:
                raise SystemExit(f"{where}: {block.label} uses zone {number}, not in {zone_glossary.name}")
            entry = _entry_for(entries[number], block)
            if entry.label not in zones:
                zones[entry.label] = _zone(entries[number])
            low, high = _zone_occurs(entry.presence, block, blocks)
            items.append(Ref(entry.label, low, high))
        children = [blocks[number] for number in block.linked]
        skip: set[str] = set()
        for child, after in zip(children, [*children[1:], None], strict=False):
            if child.number in skip:
                continue
            if after is not None and after.label == f"NOSSLPA{child.label}" and child.min == after.min == 0:
                optional = any("mag niet aanwezig zijn" in b.restrictions for b in (child, after))
                pair = (Ref(child.label, 1, child.max), Ref(after.label, 1, after.max))
                items.append(Group("choice", pair, min=0 if optional else 1))
                skip.add(after.number)
            else:
                items.append(Ref(child.label, child.min, child.max))
        written.append(Block(block.number, block.label, simplify(Group("sequence", tuple(items)))))
        for child in children:
            visit(child)

    visit(root)
    version = root.version.replace("/", "")
    return Catalogue(
        name=f"{root.label}_{version}",
        root=root.label,
        zones=tuple(zones.values()),
        blocks=tuple(written),
        version=version,
        title=f"{root.label} {version}, from the glossaries {functional_blocks.name} and {zone_glossary.name}",
    )


def _entry_for(entries: list[GlossaryZone], block: GlossaryBlock) -> GlossaryZone:
    """The zone glossary's entry for the zone in this block (it cuts block names at 30 characters)."""
    for entry in entries:
        if entry.block_name and block.name.lower().startswith(entry.block_name.lower()):
            return entry
    return entries[0]


def _zone_occurs(presence: str, block: GlossaryBlock, blocks: dict[str, GlossaryBlock]) -> tuple[int, int]:
    """(min, max) of a zone in a block from its presence rule: (1, 1), (0, 1) or (0, 0)."""
    statements = [s.strip(" -\t") for s in re.split(r"\n|(?<=\.)\s+(?=[A-Z])", presence) if s.strip(" -\t")]
    names = {b.name.lower(): b.number for b in blocks.values()}
    labels = {b.label: b.number for b in blocks.values()}

    def named(statement: str) -> set[str]:
        found = set(_BLOCK_NUMBER.findall(statement)) & set(blocks)
        found |= {n for label, n in labels.items() if re.search(rf"\b{label}\b", statement)}
        found |= {names[q.strip().lower()] for q in _QUOTED.findall(statement) if q.strip().lower() in names}
        return found

    scoped = [(s, named(s)) for s in statements]
    chosen = next((s for s, found in scoped if block.number in found), None)
    if chosen is None:
        chosen = next((s for s, found in scoped if not found), "")
    head = re.sub(r"^FB \d{5}\s*:\s*", "", chosen).lower()
    if _CONDITION.search(_SCOPE.sub("", chosen)):
        return 0, 1
    if head.startswith("verboden"):
        return 0, 0
    if head.startswith(("onmisbaar", "verplicht")):
        return 1, 1
    return 0, 1


def _zone(entries: list[GlossaryZone]) -> Zone:
    facts = {(e.label, e.kind, e.length, e.layout, e.domain) for e in entries}
    if len(facts) > 1:
        raise SystemExit(f"zone {entries[0].number} has entries that disagree on its label or type: {sorted(facts)}")
    base, facets = _zone_type(entries[0])
    return Zone(entries[0].number, entries[0].label, base, facets)


def _zone_type(entry: GlossaryZone) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Base type and facets (in ``FACETS`` order) of a zone, from Type, Lengte, Formaat and ToegelatenDomein.

    - Formaat JJJJ-MM-DD → date (pattern ``\\d{4}-\\d{2}-\\d{2}``); one that also allows JJJJ-00-00 (a
      birth date) → a 10-character string of that pattern; JJJJ-MM → gYearMonth; --MM-DD → gMonthDay.
    - Formaat UU:MM:SS.SSS → time, UUMM (Numeriek) → integer of 4 digits, each with the pattern the
      layout and its domain give (hours 00-23, minutes and seconds 00-59).
    - Numeriek → integer, totalDigits Lengte; JJJJK (a quarter) and JJJJ (a year) add their pattern;
      min/max when ToegelatenDomein is one simple interval ``[a;b]`` (besides the words for type and unit).
    - Alfanumeriek (or no type, as TWCT001 SocialActionDetails) → string, maxLength Lengte; a layout of
      letter codes (AANNNNNNN, CCC of CCC.CC) adds its pattern (A a letter, N and C a digit).
    """
    layout = entry.layout.splitlines()[0].strip() if entry.layout else ""
    word = layout.split(" ")[0] if layout else ""
    numeric = entry.kind == "Numeriek"
    if layout.startswith("JJJJ-MM-DD"):
        if "JJJJ-00-00" in entry.layout:
            return "string", (("length", "10"), ("pattern", DATE_PATTERN))
        return "date", (("pattern", DATE_PATTERN),)
    if word == "JJJJ-MM":
        return "gYearMonth", (("pattern", r"\d{4}-\d{2}"),)
    if word == "--MM-DD":
        return "gMonthDay", (("pattern", r"--\d{2}-\d{2}"),)
    if word.startswith("UU"):
        pattern = "".join(_HOUR_PARTS[part] for part in re.findall(r"UU|SSS|MM|SS|[:.]", word))
        if numeric:
            return "integer", (("digits", entry.length), ("pattern", pattern))
        return "time", (("pattern", pattern),)
    if numeric:
        facets: list[tuple[str, str]] = []
        if bounds := _simple_range(entry.domain):
            facets += [("min", bounds[0]), ("max", bounds[1])]
        facets.append(("digits", entry.length))
        if word in _NUMERIC_LAYOUTS:
            facets.append(("pattern", _NUMERIC_LAYOUTS[word]))
        return "integer", tuple(facets)
    facets = [("maxlen", entry.length)]
    alternatives = layout.split(" of ")
    if layout and all(re.fullmatch(r"[ANC]+(?:[.-][ANC]+)*", a) for a in alternatives):
        letters = {"A": "[A-Za-z]", "N": r"\d", "C": r"\d", ".": r"\.", "-": "-"}
        patterns = ["".join(_counted(letters[c], n) for c, n in _runs(a)) for a in alternatives]
        facets.append(("pattern", "|".join(patterns)))
    return "string", tuple(facets)


def _simple_range(domain: str) -> tuple[str, str] | None:
    """(min, max) if the domain is one integer interval and words for type and unit, else None."""
    found = _RANGE.findall(domain)
    rest = _UNIT_EXAMPLE.sub(" ", _UNIT_NOTE.sub(" ", _RANGE.sub(" ", domain)))
    if len(found) != 1 or _RANGE_WORDS.sub("", rest):
        return None
    low, high = found[0]
    return str(int(low)), str(int(high))


def _runs(text: str) -> list[tuple[str, int]]:
    return [(m.group(0)[0], len(m.group(0))) for m in re.finditer(r"(.)\1*", text)]


def _counted(pattern: str, times: int) -> str:
    return pattern if times == 1 else f"{pattern}{{{times}}}"


def build(source: Path, target: Path) -> None:
    """Write our XSD for one catalogue."""
    target.write_bytes(write_xsd(load_catalogue(source)))
    print(f"{_shown(source)} -> {_shown(target)}")


def _shown(path: Path) -> Path:
    return path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; 0 on success."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("extract", help="official XSD -> our catalogue (one-off bootstrap)")
    one.add_argument("official", type=Path)
    one.add_argument("out", type=Path)
    glossary = commands.add_parser(
        "extract-glossary", help="official functional-block and zone glossaries -> our catalogue (one-off bootstrap)"
    )
    glossary.add_argument("functional_blocks", type=Path)
    glossary.add_argument("zones", type=Path)
    glossary.add_argument("out", type=Path)
    two = commands.add_parser("build", help="our catalogue -> our XSD")
    two.add_argument("catalogue", type=Path)
    two.add_argument("out", type=Path)
    commands.add_parser("build-all", help="every xsd/catalogue/*.cat -> xsd/*.xsd")
    args = parser.parse_args(argv)
    if args.command == "extract":
        header = (
            f"# Extracted from {args.official.name} by scripts/build_xsd.py extract.\n"
            "# Review by hand: from now on this file is our data; rebuild the XSD with build."
        )
        args.out.write_text(format_catalogue(extract(args.official), header), encoding="utf-8")
        print(f"{args.official} -> {args.out}")
    elif args.command == "extract-glossary":
        header = (
            f"# Extracted from the glossaries functional-blocks/{args.functional_blocks.name} and "
            f"zones/{args.zones.name}\n# by scripts/build_xsd.py extract-glossary.\n"
            "# Review by hand: from now on this file is our data; rebuild the XSD with build."
        )
        catalogue = extract_glossary(args.functional_blocks, args.zones)
        args.out.write_text(format_catalogue(catalogue, header), encoding="utf-8")
        print(f"{args.functional_blocks} + {args.zones} -> {args.out}")
    elif args.command == "build":
        build(args.catalogue, args.out)
    else:
        for source in sorted((ROOT / "xsd" / "catalogue").glob("*.cat")):
            build(source, ROOT / "xsd" / f"{source.stem}.xsd")
    return 0


if __name__ == "__main__":
    sys.exit(main())
