"""The streaming loop shared by the messages whose forms are small (Dimona, DmfA modifications, DRS).

Each ``Form`` directly under the root is handed to a reader when it ends, then cleared and dropped,
so memory stays flat however many forms a file holds. Errors of the parser (and values a reader
cannot convert, when the schema is checked elsewhere) become ``InvalidDocument``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, Any, TypeVar

from lxml import etree

from cbss_batch.parse.dmfa import InvalidDocument
from cbss_batch.xmlsafe import PARSER_OPTIONS

T = TypeVar("T")


def stream_forms(source: IO[bytes], root: str, schema: etree.XMLSchema | None,
                 read_form: Callable[[Any, int], T]) -> Iterator[T]:
    """``read_form(form, index)`` for every Form under ``root``, in document order."""
    etree.clear_error_log()
    context = etree.iterparse(source, events=("end",), tag=("Form", root), schema=schema, **PARSER_OPTIONS)
    index = 0
    closed = False
    try:
        for _event, element in context:
            parent = element.getparent()
            if element.tag == root and parent is None:
                closed = True
                continue
            if element.tag != "Form" or parent is None or parent.tag != root or parent.getparent() is not None:
                continue  # an element named Form deeper in the tree: not a declaration
            index += 1
            yield read_form(element, index)
            element.clear(keep_tail=True)
            while element.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as exc:
        raise InvalidDocument(str(exc)) from exc
    except (ValueError, LookupError, TypeError, AttributeError) as exc:
        raise InvalidDocument(f"unreadable value: {exc.__class__.__name__}: {exc}") from exc
    if not closed:
        raise InvalidDocument("the document ended before its root element was closed")
