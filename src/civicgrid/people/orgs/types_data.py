"""The shipped org unit types (``data/org_unit_types.json``): types as data, with zh/en names.

A unit names its type by code; :func:`get_type` refuses an unknown one. Kept free of ORM imports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

TYPES_FILE = Path(__file__).resolve().parent / "data" / "org_unit_types.json"


@dataclass(frozen=True)
class OrgUnitType:
    """One type of org unit (派出所, 司法所, …). ``mobile`` units move: their current grid is tracked."""

    code: str
    name_zh: str
    name_en: str
    group: str
    mobile: bool = False


@lru_cache(maxsize=4)
def _load(path: Path) -> dict[str, OrgUnitType]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, OrgUnitType] = {}
    for item in raw["types"]:
        code = item["code"]
        if code in out:
            raise ValueError(f"org unit type {code!r} is listed twice")
        out[code] = OrgUnitType(code, item["zh"], item["en"], item["group"], bool(item.get("mobile", False)))
    return out


def load_types(path: Path = TYPES_FILE) -> list[OrgUnitType]:
    """Every shipped type, in file order."""
    return list(_load(path).values())


def get_type(code: str, path: Path = TYPES_FILE) -> OrgUnitType | None:
    return _load(path).get(code)
