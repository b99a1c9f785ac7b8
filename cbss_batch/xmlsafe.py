"""The one hardened XML layer: parser options, schema loading, prolog screening, error translation.

No entity is ever resolved, no DTD loaded, nothing fetched from the network, ``huge_tree`` stays off
(libxml2's depth and text-size limits hold). A DOCTYPE is refused before parsing: structured
messages never carry one, and it is the vehicle of external-entity and expansion attacks. So is a
declared encoding outside ASCII-compatible ones and UTF-16 (ACRF-138): in UTF-7, say, a DOCTYPE
reads ``+ADwAIQ-DOCTYPE`` and would pass the screening, then be parsed by libxml2 (iconv).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree

from cbss_batch.errors import RejectedFile

PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
}
_PROLOG_LIMIT = 65536
# Encodings the screening can read (PROTOCOL.md §8: the message is ASCII/XML): ASCII-compatible ones, and
# UTF-16, whose head _decode_head decodes. Any other declared encoding could hide a DOCTYPE from it.
_SUPPORTED_ENCODING = re.compile(r"UTF-?8|UTF-?16(LE|BE)?|(US-)?ASCII|ISO-?8859-([1-9]|1[0-6])|LATIN-?[1-9]|"
                                 r"(WINDOWS|CP)-?125[0-8]", re.IGNORECASE)
_ROOT_START = re.compile(rb"<\s*([A-Za-z_][\w.\-]*)")


def hardened_parser() -> etree.XMLParser:
    """A tree parser with every dangerous feature off (small documents: schemas, answers, diagnostics)."""
    return etree.XMLParser(remove_comments=False, **PARSER_OPTIONS)


@lru_cache(maxsize=16)
def load_schema(path: Path) -> etree.XMLSchema:
    """A compiled XSD from our ``xsd/`` folder, parsed with the hardened parser."""
    return etree.XMLSchema(etree.parse(str(path), hardened_parser()))


@dataclass(frozen=True, slots=True)
class Prolog:
    """What the start of a document says: its root element name and declared encoding."""

    root: str
    encoding: str | None


def screen_prolog(head: bytes, name: str) -> Prolog:
    """Check the document start: no DOCTYPE/ENTITY, an element within the first 64 KiB; the root name."""
    text = _decode_head(head[:_PROLOG_LIMIT])
    upper = text.upper()
    for danger in ("<!DOCTYPE", "<!ENTITY"):
        if danger in upper:
            raise RejectedFile(name, f"document contains {danger}: DTDs and entities are not allowed", ("102",))
    match = _ROOT_START.search(text.encode("ascii", "replace"), _skip_prolog(text))
    if match is None:
        if not text.strip():
            raise RejectedFile(name, "the file holds no data", ("134",))
        raise RejectedFile(name, "no XML element found at the start of the file", ("102",))
    encoding = re.search(r"encoding\s*=\s*[\"']([^\"']+)", text[: match.start()])
    if encoding and not _SUPPORTED_ENCODING.fullmatch(encoding.group(1).strip().replace("_", "-")):
        raise RejectedFile(name, f"encoding {encoding.group(1)[:40]!r} is not supported: send UTF-8 "
                                 "(ISO-8859-1 and UTF-16 are read too)", ("138",))
    return Prolog(match.group(1).decode("ascii"), encoding.group(1) if encoding else None)


def _decode_head(head: bytes) -> str:
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom):].decode(codec, "replace")
    if head[:4] in (b"<\x00?\x00", b"<\x00!\x00"):
        return head.decode("utf-16-le", "replace")
    if head[:4] in (b"\x00<\x00?", b"\x00<\x00!"):
        return head.decode("utf-16-be", "replace")
    return head.decode("latin-1")


def _skip_prolog(text: str) -> int:
    """Position after the XML declaration, comments and processing instructions."""
    pos = 0
    while True:
        stripped = len(text) - len(text[pos:].lstrip())
        pos = stripped
        if text.startswith("<?", pos):
            end = text.find("?>", pos)
        elif text.startswith("<!--", pos):
            end = text.find("-->", pos)
        else:
            return pos
        if end < 0:
            return len(text)
        pos = end + 2


class ChainedReader(io.RawIOBase):
    """The parts of a set read as one byte stream, in part order (a multi-part set is one document)."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self._paths: Iterator[Path] = iter(paths)
        self._current: io.BufferedReader | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while True:
            if self._current is None:
                nxt = next(self._paths, None)
                if nxt is None:
                    return 0
                self._current = nxt.open("rb")
            count = self._current.readinto(buffer)
            if count:
                return count
            self._current.close()
            self._current = None

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None
        super().close()


@dataclass(frozen=True, slots=True)
class XmlProblem:
    """One well-formedness or schema problem: annex-30 code, element, message, position."""

    code: str
    message: str
    element: str | None = None
    line: int | None = None
    column: int | None = None


_ELEMENT_IN_MESSAGE = re.compile(r"Element '([^']+)'")
_FACET_CODES = {
    "SCHEMAV_CVC_LENGTH_VALID": "093", "SCHEMAV_CVC_MAXLENGTH_VALID": "093",
    "SCHEMAV_CVC_MINLENGTH_VALID": "093", "SCHEMAV_CVC_TOTALDIGITS_VALID": "093",
    "SCHEMAV_CVC_FRACTIONDIGITS_VALID": "093",
    "SCHEMAV_CVC_PATTERN_VALID": "003", "SCHEMAV_CVC_ENUMERATION_VALID": "008",
    "SCHEMAV_CVC_MININCLUSIVE_VALID": "008", "SCHEMAV_CVC_MAXINCLUSIVE_VALID": "008",
    "SCHEMAV_CVC_MINEXCLUSIVE_VALID": "008", "SCHEMAV_CVC_MAXEXCLUSIVE_VALID": "008",
    "SCHEMAV_CVC_ELT_1": "089",
}


def schema_problem(entry: Any, known_elements: Mapping[str, str]) -> XmlProblem:
    """Translate one libxml2 schema error into the annex-30 code (088–093, 002/003/008 for values).

    ``known_elements`` maps every element our schemas declare to its base type (``integer``,
    ``string``, ``date``…; empty for blocks): an unknown name is 092, a bad value of a numeric zone 002.
    """
    message: str = entry.message
    found = _ELEMENT_IN_MESSAGE.search(message)
    element = found.group(1) if found else None
    type_name: str = entry.type_name
    if type_name in _FACET_CODES:
        code = _FACET_CODES[type_name]
    elif type_name == "SCHEMAV_ELEMENT_CONTENT":
        if "Missing child" in message:
            code = "090"
        elif element is not None and element not in known_elements:
            code = "092"
        else:
            code = "091"
    elif type_name.startswith("SCHEMAV_CVC_DATATYPE_VALID"):
        numeric = known_elements.get(element or "") in ("integer", "decimal")
        code = "002" if numeric or "integer" in message.lower() or "decimal" in message.lower() else "003"
    elif "attribute" in message.lower():
        code = "092"  # an attribute the structure does not know
    elif type_name.startswith(("SCHEMAV_CVC_COMPLEX_TYPE", "SCHEMAV_CVC_ELT", "SCHEMAV_CVC_TYPE")):
        code = "088"
    else:
        code = "088"
    line = entry.line or None
    column = entry.column or None
    return XmlProblem(code, message.strip(), element, line, column)


def syntax_problem(entry: Any) -> XmlProblem:
    """A well-formedness error as code 102 (138 for an unsupported encoding), with its position."""
    code = "138" if "encoding" in entry.message.lower() and "unsupported" in entry.message.lower() else "102"
    return XmlProblem(code, entry.message.strip(), None, entry.line or None, entry.column or None)


_EXPECTED = re.compile(r"Expected is (?:one of )?\( ([^)]*) \)")


def _refine_order(problem: XmlProblem, tree: Any) -> XmlProblem:
    """Tell a cardinality error (090: repeated or missing element) from a sequence error (091)."""
    if problem.code != "091" or problem.line is None or problem.element is None:
        return problem
    on_line = [e for e in tree.iter(problem.element) if e.sourceline == problem.line]
    if not on_line:
        return problem
    repeated = any((p := e.getprevious()) is not None and p.tag == e.tag for e in on_line)
    expected = _EXPECTED.search(problem.message)
    missing = False
    if expected is not None:
        wanted = {name.strip() for name in expected.group(1).split(",")}
        missing = not wanted & {sibling.tag for sibling in on_line[-1].itersiblings()}
    if repeated or missing:
        return XmlProblem("090", problem.message, problem.element, problem.line, problem.column)
    return problem


def diagnose(source_factory: Any, schema: etree.XMLSchema, known_elements: Mapping[str, str],
             *, size: int, max_tree_bytes: int, limit: int | None = None) -> list[XmlProblem]:
    """Second, diagnostic pass on a failing document: well-formedness first, then schema with lines.

    ``source_factory()`` opens the document afresh. The schema pass builds a tree only when the
    document is below ``max_tree_bytes``; above that it streams and reports without line numbers.
    Every schema problem is reported, in document order; ``limit`` keeps only the first ones.
    """
    etree.clear_error_log()
    with source_factory() as source:
        try:
            for _ in etree.iterparse(source, events=("end",), **PARSER_OPTIONS):
                pass
        except etree.XMLSyntaxError as exc:
            entries = [e for e in exc.error_log if e.domain_name == "PARSER"] or list(exc.error_log)
            if entries:
                return [syntax_problem(entries[0])]
            return [XmlProblem("102", str(exc), None, getattr(exc, "lineno", None), None)]
    if size <= max_tree_bytes:
        with source_factory() as source:
            tree = etree.parse(source, hardened_parser())
        try:
            if schema.validate(tree):
                return []
        except etree.Error as exc:  # libxml2 gives up on some odd trees (entity nodes): the document is refused
            return [XmlProblem("088", f"schema validation failed: {exc}")]
        return [_refine_order(schema_problem(e, known_elements), tree) for e in schema.error_log[:limit]]
    etree.clear_error_log()
    with source_factory() as source:
        try:
            for _ in etree.iterparse(source, events=("end",), schema=schema, **PARSER_OPTIONS):
                pass
        except etree.XMLSyntaxError as exc:
            problems = [schema_problem(e, known_elements) for e in exc.error_log if e.domain_name == "SCHEMASV"]
            return problems[:limit] or [XmlProblem("088", str(exc))]
    return []

