"""Canonical form and hashing of audit entries (no database access here)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

GENESIS_HASH = "0" * 64


def to_jsonable(value: Any) -> Any:
    """Turn a column value into plain JSON (datetimes ISO-8601, enums by value, bytes base64)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "b64:" + base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return str(value)


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept: the same bytes on every database and Python."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the canonical JSON of the entry's fields."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(canonical_json(fields).encode("utf-8"))
    return digest.hexdigest()


HASHED_FIELDS = ("seq", "at", "actor", "actor_id", "action", "entity_type", "entity_id",
                 "division_code", "ip", "before", "after")


def hashed_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The part of a row the hash covers; ``at`` as ISO-8601 UTC with microseconds."""
    fields = {name: row.get(name) for name in HASHED_FIELDS}
    at = fields["at"]
    if isinstance(at, datetime):
        fields["at"] = at.isoformat(timespec="microseconds")
    return fields
