"""Open311 documents as bytes: JSON, and the XML the spec requires.

The XML is the spec's schemaless form, without a namespace; lists follow its
element names (`services/service`, `service_requests/request`, `errors/error`),
and JSON is the same tree by the Spark convention (a list is a JSON array).
Text that XML 1.0 cannot carry (most control characters) is replaced, so no
value can break the document.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any, Final

import orjson

__all__ = ["CONTENT_TYPES", "render"]

CONTENT_TYPES: Final = {
    "json": "application/json; charset=utf-8",
    "xml": "text/xml; charset=utf-8",
}
# The element each list holds, by the list's own element name.
ITEMS: Final = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}
_NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
DECLARATION: Final = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("\ufffd", str(value))


def _element(name: str, value: Any) -> ET.Element:
    element = ET.Element(name)
    if isinstance(value, Mapping):
        for key, child in value.items():
            element.append(_element(key, child))
    elif isinstance(value, list):
        for child in value:
            element.append(_element(ITEMS[name], child))
    else:
        element.text = _text(value)
    return element


def render(root: str, value: Any, fmt: str) -> bytes:
    """The document `root` (its XML element name) holding `value`, as `fmt` bytes."""
    if fmt == "json":
        return orjson.dumps(value)
    body: bytes = ET.tostring(_element(root, value), encoding="utf-8", xml_declaration=False)
    return DECLARATION + body
