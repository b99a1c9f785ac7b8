"""Our schemas from our catalogues, and the one-off bootstrap of a catalogue from an official schema.

    python scripts/build_xsd.py extract OFFICIAL.xsd OUT.cat   # facts of an official schema → our catalogue
    python scripts/build_xsd.py build IN.cat OUT.xsd           # our catalogue → our XSD
    python scripts/build_xsd.py build-all                      # every xsd/catalogue/*.cat → xsd/*.xsd

``extract`` reads only facts (names, base types, facets, cardinalities, zone numbers); the content
models of ``complexContent`` extensions are flattened into one sequence that accepts the same
documents. Review the written catalogue by hand: from then on it is our data, and the XSD is rebuilt
from it. The tests check that the committed ``xsd/*.xsd`` are exactly what ``build`` writes.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Literal

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
    elif args.command == "build":
        build(args.catalogue, args.out)
    else:
        for source in sorted((ROOT / "xsd" / "catalogue").glob("*.cat")):
            build(source, ROOT / "xsd" / f"{source.stem}.xsd")
    return 0


if __name__ == "__main__":
    sys.exit(main())
