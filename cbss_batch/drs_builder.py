"""Social-risk declarations for tests, samples and benchmarks: a schema-valid document of any scenario.

``make_risk_declaration("ZIMA001", {"INSS": "85073003328", "IdentificationOfRisk": "002", …})``
builds one Form from our catalogue: every mandatory block and zone, plus the optional blocks needed
to hold the zones asked for, each zone filled with the given value or a sample its type accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path

from lxml import etree

from cbss_batch.schemas.catalogue import FACETS, Block, Catalogue, Group, Ref, Zone, load_catalogue

CATALOGUES = Path(__file__).resolve().parent.parent / "xsd" / "catalogue"
XS = "http://www.w3.org/2001/XMLSchema"

# Plausible defaults, tried before generic samples; the caller's values win over these.
DEFAULTS = {
    "TypeForm": "SU", "AttestationStatus": "0", "Trusteeship": "0", "IdentificationOfRisk": "001",
    "FormCreationDate": "2026-11-20", "FormCreationHour": "09:00:00.000", "INSS": "85073003328",
    "NOSSRegistrationNbr": "175110801", "CompanyID": "0403170701", "LanguageCodePdf": "1",
}
_SAMPLES = {
    "date": ["2026-10-01"], "time": ["09:00:00.000"], "gYearMonth": ["2026-10"], "gYear": ["2026"],
    "gMonthDay": ["--10-01"], "boolean": ["true"], "string": ["x", "1", "100", "AB1234567", "2026-10-01"],
}


@cache
def catalogue(scenario: str) -> Catalogue:
    """Our catalogue of a scenario (the newest version present)."""
    paths = sorted(CATALOGUES.glob(f"{scenario}_*.cat"))
    if not paths:
        raise LookupError(f"no catalogue for {scenario} in {CATALOGUES}")
    return load_catalogue(paths[-1])


@cache
def _zone_schema(base: str, facets: tuple[tuple[str, str], ...]) -> etree.XMLSchema:
    schema = etree.Element(f"{{{XS}}}schema", nsmap={"xs": XS})
    element = etree.SubElement(schema, f"{{{XS}}}element", name="v")
    restriction = etree.SubElement(etree.SubElement(element, f"{{{XS}}}simpleType"), f"{{{XS}}}restriction")
    restriction.set("base", f"xs:{base}")
    for key, value in facets:
        etree.SubElement(restriction, f"{{{XS}}}{FACETS[key]}", value=value)
    return etree.XMLSchema(schema)


def _fits(zone: Zone, value: str) -> bool:
    node = etree.Element("v")
    node.text = value
    return bool(_zone_schema(zone.base, zone.facets).validate(etree.ElementTree(node)))


def _sample(zone: Zone, root: str) -> str:
    facets = dict(zone.facets)
    digits = int(facets.get("digits", "1"))
    numbers = [facets.get("min"), "1", "0", "0" * (digits - 1) + "1", "1" + "0" * (digits - 1)]
    candidates = [*(v for k, v in zone.facets if k == "enum"), root if zone.label == "Identification" else None,
                  DEFAULTS.get(zone.label), *(numbers if zone.base == "integer" else _SAMPLES.get(zone.base, ["x"]))]
    for candidate in candidates:
        if candidate is not None and _fits(zone, candidate):
            return candidate
    raise ValueError(f"no sample value fits zone {zone.label}")


def make_risk_declaration(scenario: str, values: Mapping[str, str] | None = None) -> bytes:
    """A one-Form document of ``scenario`` holding ``values`` (XML label → text) wherever the label occurs."""
    cat = catalogue(scenario)
    wanted = dict(values or {})
    definitions = cat.definitions

    @cache
    def holds(label: str) -> bool:
        item = definitions[label]
        return label in wanted or (isinstance(item, Block) and _group_holds(item.content))

    def _group_holds(group: Group) -> bool:
        return any((isinstance(p, Ref) and holds(p.label)) or (isinstance(p, Group) and _group_holds(p))
                   for p in group.items)

    def add(parent: etree._Element, particle: object) -> None:
        if isinstance(particle, Ref):
            if particle.max == 0:
                return
            if particle.min > 0 or holds(particle.label):
                for _ in range(max(particle.min, 1)):
                    element(parent, particle.label)
        elif isinstance(particle, Group):
            if particle.min == 0 and not _group_holds(particle):
                return
            if particle.kind == "choice":
                chosen = next((p for p in particle.items if isinstance(p, Ref) and holds(p.label)
                               or isinstance(p, Group) and _group_holds(p)), particle.items[0])
                add(parent, chosen)
            else:
                for item in particle.items:
                    add(parent, item)

    def element(parent: etree._Element, label: str) -> None:
        item = definitions[label]
        node = etree.SubElement(parent, label)
        if isinstance(item, Block):
            add(node, item.content)
        else:
            node.text = wanted.get(label) or _sample(item, cat.root)

    root = etree.Element(cat.root)
    root_block = definitions[cat.root]
    assert isinstance(root_block, Block)
    add(root, root_block.content)
    body: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return body
