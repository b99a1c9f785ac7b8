"""The XSD files we ship: which file checks which message, compiled once, and what they declare.

Kept apart from the staging code (and its database imports) so that ``cbss-batch validate``
starts without them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lxml import etree

from cbss_batch.xmlsafe import hardened_parser, load_schema

DMFA_SCHEMA = "DmfAOriginal_20223.xsd"
DIMONA_SCHEMA = "Dimona_20231.xsd"
_XS = "{http://www.w3.org/2001/XMLSchema}"


def schema(path: Path) -> etree.XMLSchema:
    """The compiled schema at ``path`` (cached)."""
    return load_schema(path)


def scenario_schema_name(xsd_dir: Path, root: str) -> str:
    """Our schema file for a DRS scenario root (the newest version present), e.g. ``ZIMA001_20231.xsd``."""
    candidates = sorted(xsd_dir.glob(f"{root}_*.xsd"))
    if not candidates:
        raise LookupError(f"no schema for {root} in {xsd_dir}")
    return candidates[-1].name


@lru_cache(maxsize=4)
def known_elements(xsd_dir: Path) -> dict[str, str]:
    """Every element our schemas declare, with its base type (``integer``, ``string``…; "" for blocks).

    The diagnosis uses it to tell an unknown element (092) from a misplaced one, and a non-numeric
    value of a numeric zone (002) from another invalid value.
    """
    found: dict[str, str] = {}
    for path in sorted(xsd_dir.glob("*.xsd")):
        root = etree.parse(str(path), hardened_parser()).getroot()
        named = {t.get("name"): t for t in root.iter(f"{_XS}simpleType") if t.get("name")}
        for element in root.iter(f"{_XS}element"):
            name = element.get("name")
            if not name:
                continue
            simple = named.get(element.get("type") or "")
            if simple is None:
                simple = element.find(f"{_XS}simpleType")
            restriction = simple.find(f"{_XS}restriction") if simple is not None else None
            base = (restriction.get("base") or "") if restriction is not None else (element.get("type") or "")
            found.setdefault(name, base.split(":")[-1] if base.startswith("xs:") else "")
    return found
