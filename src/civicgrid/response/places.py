"""What kind of place a point is: its urban–rural class (central / town / rural) and its ring zone.

The class comes from the village's urban–rural code (统计用城乡划分代码: 111 central city; 112,
121, 122, 123 other town; 210, 220 rural). A village without a code (754 of Yongzhou's 3,331) takes
the majority class of its township's coded villages, and is listed by :func:`inferred_villages` for
the city to confirm. The ring zone is a drawn zone (key site, central city) when the point lies in
one — drawn polygons override — else the default zone of the class. Both are cached per process:
the villages until the geography changes, the zones until one is saved (``forget_zones``).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from civicgrid.response import repository
from civicgrid.response.params import get_params

ZONE_PRIORITY = ("key_site", "central_city")  # a key site inside the central city is a key site


@dataclass
class VillageClasses:
    by_village: dict[str, str]
    inferred: dict[str, str]  # village → class taken from its township's majority

    def of(self, code: str) -> str:
        return self.by_village.get(code[:12], "rural")


_lock = threading.Lock()
_classes: dict[str, VillageClasses] = {}
_zones: dict[str, list[tuple[str, str, BaseGeometry]]] = {}


def _key(session: Session) -> str:
    return str(session.get_bind().engine.url)


def village_classes(session: Session) -> VillageClasses:
    key = _key(session)
    cached = _classes.get(key)
    if cached is not None:
        return cached
    params = get_params()
    rows = repository.village_classes(session)
    by_village: dict[str, str] = {}
    township_votes: dict[str, Counter[str]] = {}
    missing: list[tuple[str, str | None]] = []
    for code, township, urban_rural in rows:
        klass = params.urban_class(urban_rural)
        if klass is None:
            missing.append((code, township))
            continue
        by_village[code] = klass
        township_votes.setdefault(township or code[:9] + "000", Counter())[klass] += 1
    inferred: dict[str, str] = {}
    for code, township in missing:
        votes = township_votes.get(township or code[:9] + "000")
        # Ties go to the less urban class: a tighter ring should not be claimed by a guess.
        klass = (max(votes.items(), key=lambda kv: (kv[1], ("central", "town", "rural").index(kv[0])))[0]
                 if votes else "rural")
        by_village[code] = inferred[code] = klass
    result = VillageClasses(by_village, inferred)
    with _lock:
        _classes[key] = result
    return result


def urban_class(session: Session, grid_code: str) -> str:
    return village_classes(session).of(grid_code)


def inferred_villages(session: Session) -> dict[str, str]:
    """Villages whose class was inferred from their township (for the city to confirm)."""
    return dict(village_classes(session).inferred)


def _zone_shapes(session: Session) -> list[tuple[str, str, BaseGeometry]]:
    key = _key(session)
    cached = _zones.get(key)
    if cached is None:
        cached = []
        for zone in repository.active_zones(session):
            geom = shape(json.loads(zone.polygon))
            shapely.prepare(geom)
            cached.append((zone.zone, zone.id, geom))
        cached.sort(key=lambda z: ZONE_PRIORITY.index(z[0]) if z[0] in ZONE_PRIORITY else len(ZONE_PRIORITY))
        with _lock:
            _zones[key] = cached
    return cached


def forget_zones() -> None:
    with _lock:
        _zones.clear()


def forget() -> None:
    with _lock:
        _zones.clear()
        _classes.clear()


def ring_zone(session: Session, grid_code: str, lng: float, lat: float) -> tuple[str, str]:
    """(zone, urban class) of a point: the first drawn zone that holds it, else the class's default."""
    klass = urban_class(session, grid_code)
    for zone, _id, geom in _zone_shapes(session):
        if shapely.intersects_xy(geom, lng, lat):
            return zone, klass
    return get_params().default_zone.get(klass, "town"), klass
