"""Our message catalogues (``xsd/catalogue/*.cat``) and the XSDs written from them.

``load_catalogue(path).zone_number(label)`` turns an element name into its zone or block number, so an
XSD error on element X becomes the official anomaly id ``<zone>-<code>``.
"""

from cbss_batch.schemas.catalogue import (
    Block,
    Catalogue,
    CatalogueError,
    Group,
    Ref,
    Wildcard,
    Zone,
    format_catalogue,
    load_catalogue,
    parse_catalogue,
    write_xsd,
)

__all__ = [
    "Block",
    "Catalogue",
    "CatalogueError",
    "Group",
    "Ref",
    "Wildcard",
    "Zone",
    "format_catalogue",
    "load_catalogue",
    "parse_catalogue",
    "write_xsd",
]
