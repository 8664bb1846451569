"""The rapid-response parameters (``data/response.json`` or ``CIVICGRID_RESPONSE_CONFIG``): travel
speeds and detour factors for the ETA, the cross-border distance, the urban–rural classes, the
default ring zone of each class and the ring rules. Configuration, not code: a city edits the
file."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from civicgrid.config import get_settings

DEFAULT_PATH = Path(__file__).parent / "data" / "response.json"
EARTH_RADIUS_M = 6_371_008.8
CLASSES = ("central", "town", "rural")


def great_circle_m(lng1: float, lat1: float, lng2: float, lat2: float) -> float:
    """Haversine distance in metres (WGS-84 mean radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class RingRule:
    zone: str | None
    priority: int | None
    wave: str | None
    target_seconds: int

    def matches(self, zone: str, priority: int, wave: str) -> bool:
        return ((self.zone is None or self.zone == zone) and (self.priority is None or self.priority == priority)
                and (self.wave is None or self.wave == wave))


class Params:
    """The parsed parameters, with the two computations that read them."""

    def __init__(self, raw: dict[str, Any]) -> None:
        eta = raw["eta"]
        self.detour: dict[str, float] = {k: float(v) for k, v in eta["detour_factor"].items()}
        # metres per second by unit type and class
        self.speed: dict[str, dict[str, float]] = {
            t: {c: float(kmh) / 3.6 for c, kmh in by_class.items()} for t, by_class in eta["speed_kmh"].items()}
        self.turnout: dict[str, float] = {t: float(s) for t, s in eta.get("turnout_seconds", {}).items()}
        self.max_radius_m = float(eta["max_radius_km"]) * 1000
        self.cross_border_m = float(eta["cross_border_km"]) * 1000
        self.k = int(eta["k"])
        self.urban_classes: dict[str, str] = dict(raw["urban_classes"])
        self.default_zone: dict[str, str] = dict(raw["default_zone"])
        self.ring_basis: str = raw["rings"]["basis"]
        self.ring_rules = [RingRule(r.get("zone"), r.get("priority"), r.get("wave"), int(r["target_seconds"]))
                           for r in raw["rings"]["rules"]]
        self.categories: dict[str, dict[str, Any]] = dict(raw["categories"])
        for c in CLASSES:
            if c not in self.detour:
                raise ValueError(f"response parameters: no detour factor for class {c!r}")
        if self.ring_basis not in ("call", "dispatch"):
            raise ValueError("response parameters: rings.basis must be 'call' or 'dispatch'")

    def max_speed(self, urban_class: str | None = None) -> float:
        """The fastest speed of any type (in the class, or in any class), m/s: with the detour
        factor, the lower bound of any ETA per metre."""
        return max(v for by_class in self.speed.values() for c, v in by_class.items()
                   if urban_class is None or c == urban_class)

    def eta_seconds(self, unit_type: str, urban_class: str, distance_m: float) -> float:
        """Distance × detour factor / speed of the type in the class of the incident's place, plus
        the type's turnout time."""
        speed = self.speed.get(unit_type, {}).get(urban_class) or 5 / 3.6
        return distance_m * self.detour.get(urban_class, 1.3) / speed + self.turnout.get(unit_type, 0.0)

    def ring_target(self, zone: str, priority: int, wave: str = "first") -> int | None:
        for rule in self.ring_rules:
            if rule.matches(zone, priority, wave):
                return rule.target_seconds
        return None

    def urban_class(self, urban_rural_code: str | None) -> str | None:
        return self.urban_classes.get(urban_rural_code or "")


@lru_cache(maxsize=4)
def _load(path: str) -> Params:
    return Params(json.loads(Path(path).read_text(encoding="utf-8")))


def get_params() -> Params:
    """The parameters in force (read once per process and path)."""
    return _load(get_settings().response_config or str(DEFAULT_PATH))
