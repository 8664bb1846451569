"""GeoReport v2 documents in JSON and XML.

JSON answers are arrays (``services``, ``requests``, errors) or one object (a service
definition), as the specification shows them. XML answers are UTF-8 with the XML declaration,
one root element and one child element per item (``<services><service>…``,
``<service_requests><request>…``, ``<errors><error>…``); ``None`` becomes an empty element and
booleans ``true``/``false``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from fastapi import Response
from pydantic import BaseModel

FORMATS = ("json", "xml")
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "application/xml; charset=utf-8"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(parent: ET.Element, data: dict[str, Any]) -> None:
    for key, value in data.items():
        child = ET.SubElement(parent, key)
        if isinstance(value, dict):
            _fill(child, value)
        elif isinstance(value, list):
            # A list nests one element per item, named in the singular (attributes/attribute,
            # endpoints/endpoint, formats/format).
            for item in value:
                element = ET.SubElement(child, key[:-1] if key.endswith("s") else "item")
                if isinstance(item, dict):
                    _fill(element, item)
                else:
                    element.text = _text(item)
        else:
            child.text = _text(value)


def xml_document(root: str, item: str | None, items: Sequence[BaseModel] | BaseModel) -> bytes:
    """``<root><item>…</item>…</root>``, or ``<root>…</root>`` for a single object (``item`` None)."""
    top = ET.Element(root)
    if isinstance(items, BaseModel):
        _fill(top, items.model_dump())
    else:
        for entry in items:
            _fill(ET.SubElement(top, item or "item"), entry.model_dump())
    body: bytes = ET.tostring(top, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def render(fmt: str, root: str, item: str | None, items: Sequence[BaseModel] | BaseModel, *,
           status: int = 200) -> Response:
    """The resource in the requested format (``json`` or ``xml``)."""
    if fmt == "xml":
        return Response(xml_document(root, item, items), status_code=status, media_type=XML_TYPE)
    data: Any = items.model_dump() if isinstance(items, BaseModel) else [i.model_dump() for i in items]
    return Response(json.dumps(data, ensure_ascii=False).encode("utf-8"), status_code=status, media_type=JSON_TYPE)
