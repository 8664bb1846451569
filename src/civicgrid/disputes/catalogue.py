"""Reference data of the disputes module, as data files the city edits without code changes:
the dispute categories (``data/categories.json``) and the local practice (``data/practice.json``:
people's-mediation limits, the judicial-confirmation reminder lead, the screening schedule).

Also the fixed vocabularies: handler kinds (which org unit types may take a dispute), mediator
categories (the five elders 五老 and the others) and document types of parties (GA/T 517 kinds).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from civicgrid.kit.errors import Invalid

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Category:
    code: str
    name_zh: str
    name_en: str
    matter_types: tuple[str, ...]
    sector: str | None


@lru_cache(maxsize=1)
def categories() -> dict[str, Category]:
    raw = json.loads((DATA / "categories.json").read_text(encoding="utf-8"))
    out: dict[str, Category] = {}
    for item in raw["categories"]:
        if item["code"] in out:
            raise ValueError(f"dispute category {item['code']!r} is listed twice")
        out[item["code"]] = Category(
            item["code"], item["zh"], item["en"], tuple(item.get("matter_types", ())), item.get("sector")
        )
    return out


def category(code: str) -> Category:
    found = categories().get(code)
    if found is None:
        raise Invalid(f"未知的纠纷类别：{code}", f"Unknown dispute category: {code}", details={"field": "category"})
    return found


def category_for_matter_type(type_code: str) -> str:
    """The category a handed-off matter type lands in (``other`` when no category names it)."""
    for cat in categories().values():
        if type_code in cat.matter_types:
            return cat.code
    return "other"


@lru_cache(maxsize=1)
def practice() -> dict[str, Any]:
    """Local practice (地方惯例, not law): see ``data/practice.json``."""
    return dict(json.loads((DATA / "practice.json").read_text(encoding="utf-8")))


# ---------------------------------------------------------------- handlers

HANDLER_KINDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # kind → (zh, en, org unit types that may be that handler)
    "village_committee": ("村（社区）人民调解委员会", "Village mediation committee", ("village_mediation",)),
    "township_committee": ("乡镇（街道）人民调解委员会", "Township mediation committee", ("township_mediation",)),
    "sector_committee": ("行业性专业性调解委员会", "Sector mediation committee", ("sector_mediation",)),
    "county_centre": ("县级矛盾纠纷多元化解中心", "County joint mediation centre", ("joint_mediation_centre",)),
    "department": (
        "行政调解（职能部门）",
        "Administrative mediation (department)",
        ("government_department", "justice_office", "police_station"),
    ),
    "court_commissioned": ("法院委派/委托调解", "Court-commissioned mediation", ("court",)),
    "arbitration": ("仲裁", "Arbitration", ("arbitration_commission",)),
}


def handler_kind_of(unit_type: str) -> str | None:
    for kind, (_zh, _en, types) in HANDLER_KINDS.items():
        if unit_type in types:
            return kind
    return None


LEVEL_OF_PREFIX = {12: "village", 9: "township", 6: "county", 4: "city", 2: "province"}
LEVEL_NAMES = {
    "village": ("村（社区）级", "village"),
    "township": ("乡镇（街道）级", "township"),
    "county": ("县（区）级", "county"),
    "city": ("市级", "city"),
    "province": ("省级", "province"),
}

# ---------------------------------------------------------------- mediators

MEDIATOR_CATEGORIES: dict[str, tuple[str, str]] = {
    "five_elders": ("五老调解员", "Five-elders mediator"),
    "lawyer": ("律师调解员", "Lawyer mediator"),
    "professional": ("专职调解员", "Professional mediator"),
    "sector": ("行业性专业性调解员", "Sector mediator"),
    "village": ("村（社区）调解员", "Village mediator"),
}
ELDER_KINDS: dict[str, tuple[str, str]] = {
    "retired_cadre": ("老干部", "Retired cadre"),
    "teacher": ("老教师", "Retired teacher"),
    "veteran": ("老退役军人", "Veteran"),
    "party_member": ("老党员", "Old party member"),
    "model_worker": ("老劳模", "Model worker"),
}

# ---------------------------------------------------------------- parties

DOC_TYPES: dict[str, tuple[str, str]] = {
    # GA/T 517 kinds (our codes; the standard's numeric codes were not verified)
    "resident_id": ("居民身份证", "Resident identity card"),
    "hmt_residence_permit": ("港澳台居民居住证", "Hong Kong/Macao/Taiwan residence permit"),
    "foreigner_permanent_residence": ("外国人永久居留身份证", "Foreigner's permanent residence ID card"),
    "passport": ("护照", "Passport"),
    "none": ("无证件", "No document"),
}
GB11643_DOC_TYPES = frozenset({"resident_id", "hmt_residence_permit"})
"""Document types whose number is a GB 11643 citizen number (the residence permits of Hong Kong,
Macao and Taiwan residents carry one, with codes 810000/820000/830000): their check digit is
verified; no other document number is refused for its form."""

OTHER_ROUTES: dict[str, tuple[str, str]] = {
    # 人民调解法 Art. 26: routes left when mediation fails
    "arbitration": ("仲裁", "arbitration"),
    "administrative": ("行政途径", "administrative channels"),
    "litigation": ("诉讼（司法途径）", "litigation"),
}
