"""The in-memory dispatch index: where every unit is now and whether it can be sent.

Units are kept in square buckets of ``CELL_DEG`` degrees (about 1 km) keyed by their latest
position. "Which available units reach this point first?" walks the buckets in rings around the
point, keeps the best ``k`` by estimated travel time (:meth:`Params.eta_seconds`, which depends on
the unit's type, so a car two rings out can beat a foot patrol next door), and stops when no unit
in a farther ring could arrive sooner even at the fastest speed of any type. A position report
moves one unit between two buckets under a lock: microseconds. The index is per process and
rebuilt from the database (units, members, latest track points) when first used after a start;
status changes reach it after their transaction commits.
"""

from __future__ import annotations

import heapq
import math
import threading
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from civicgrid.response import repository
from civicgrid.response.params import Params, great_circle_m

CELL_DEG = 0.01
METRES_PER_DEG = 111_195.0


@dataclass
class UnitEntry:
    unit_id: str
    call_sign: str
    unit_type: str
    division_code: str
    org_unit_id: str
    availability: str  # the unit's workflow status, mirrored (set_status), read by nearest()
    members: frozenset[str] = frozenset()
    lng: float | None = None
    lat: float | None = None
    at: datetime | None = None
    cell: tuple[int, int] | None = None


@dataclass(frozen=True)
class Candidate:
    unit_id: str
    call_sign: str
    unit_type: str
    division_code: str
    distance_m: float
    eta_seconds: float
    cross_border: bool
    lng: float
    lat: float
    at: datetime | None


@dataclass
class UnitIndex:
    """Units by bucket; thread-safe (the event loop and worker threads both report positions)."""

    units: dict[str, UnitEntry] = field(default_factory=dict)
    cells: dict[tuple[int, int], set[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def cell_of(lng: float, lat: float) -> tuple[int, int]:
        return (math.floor(lng / CELL_DEG), math.floor(lat / CELL_DEG))

    def put(self, entry: UnitEntry) -> None:
        """Add or replace a unit (keeping the position it already had when the entry has none)."""
        with self.lock:
            old = self.units.get(entry.unit_id)
            if old is not None and entry.lng is None and old.lng is not None:
                entry.lng, entry.lat, entry.at = old.lng, old.lat, old.at
            self._remove(entry.unit_id)
            self.units[entry.unit_id] = entry
            if entry.lng is not None and entry.lat is not None:
                entry.cell = self.cell_of(entry.lng, entry.lat)
                self.cells.setdefault(entry.cell, set()).add(entry.unit_id)

    def _remove(self, unit_id: str) -> None:
        old = self.units.pop(unit_id, None)
        if old is not None and old.cell is not None:
            bucket = self.cells.get(old.cell)
            if bucket is not None:
                bucket.discard(unit_id)
                if not bucket:
                    del self.cells[old.cell]

    def move(self, unit_id: str, lng: float, lat: float, at: datetime) -> bool:
        """A position report; an older report than the one held is ignored. False: unknown unit."""
        with self.lock:
            entry = self.units.get(unit_id)
            if entry is None:
                return False
            if entry.at is not None and at < entry.at:
                return True
            cell = self.cell_of(lng, lat)
            if cell != entry.cell:
                if entry.cell is not None:
                    bucket = self.cells.get(entry.cell)
                    if bucket is not None:
                        bucket.discard(unit_id)
                        if not bucket:
                            del self.cells[entry.cell]
                self.cells.setdefault(cell, set()).add(unit_id)
                entry.cell = cell
            entry.lng, entry.lat, entry.at = lng, lat, at
            return True

    def set_status(self, unit_id: str, status: str) -> None:
        with self.lock:
            entry = self.units.get(unit_id)
            if entry is not None:
                entry.availability = status

    def get(self, unit_id: str) -> UnitEntry | None:
        return self.units.get(unit_id)

    def is_member(self, unit_id: str, user_id: str) -> bool:
        entry = self.units.get(unit_id)
        return entry is not None and user_id in entry.members

    def nearest(self, lng: float, lat: float, *, county: str, urban_class: str, params: Params, k: int,
                types: frozenset[str] | None = None, status: str = "available") -> list[Candidate]:
        """The ``k`` units of ``status`` (and of ``types``) with the shortest ETA to the point:
        units of the incident's county (``county``: a 6-digit prefix) within the maximum radius,
        units of other counties within the cross-border distance (flagged)."""
        cx, cy = self.cell_of(lng, lat)
        cos_lat = max(0.1, math.cos(math.radians(lat)))
        cell_m = CELL_DEG * METRES_PER_DEG * cos_lat  # the narrower side of a bucket
        fastest = params.max_speed(urban_class) / params.detour.get(urban_class, 1.3)  # metres of distance per second
        max_rings = int(params.max_radius_m / cell_m) + 2
        best: list[tuple[float, str, Candidate]] = []  # a max-heap by ETA (negated)
        with self.lock:
            for ring in range(max_rings + 1):
                if len(best) >= k:
                    floor_m = max(0.0, (ring - 1) * cell_m)
                    if floor_m / fastest >= -best[0][0]:
                        break
                for cell in _ring_cells(cx, cy, ring):
                    bucket = self.cells.get(cell)
                    if not bucket:
                        continue
                    for unit_id in bucket:
                        entry = self.units[unit_id]
                        if entry.availability != status or (types is not None and entry.unit_type not in types):
                            continue
                        assert entry.lng is not None and entry.lat is not None
                        distance = great_circle_m(lng, lat, entry.lng, entry.lat)
                        cross = not entry.division_code.startswith(county)
                        if distance > (params.cross_border_m if cross else params.max_radius_m):
                            continue
                        eta = params.eta_seconds(entry.unit_type, urban_class, distance)
                        candidate = Candidate(unit_id, entry.call_sign, entry.unit_type, entry.division_code,
                                              distance, eta, cross, entry.lng, entry.lat, entry.at)
                        item = (-eta, unit_id, candidate)
                        if len(best) < k:
                            heapq.heappush(best, item)
                        elif eta < -best[0][0]:
                            heapq.heapreplace(best, item)
        return [c for _, _, c in sorted(best, key=lambda t: (-t[0], t[1]))]


def _ring_cells(cx: int, cy: int, ring: int) -> list[tuple[int, int]]:
    if ring == 0:
        return [(cx, cy)]
    cells = [(cx + dx, cy - ring) for dx in range(-ring, ring + 1)]
    cells += [(cx + dx, cy + ring) for dx in range(-ring, ring + 1)]
    cells += [(cx - ring, cy + dy) for dy in range(-ring + 1, ring)]
    cells += [(cx + ring, cy + dy) for dy in range(-ring + 1, ring)]
    return cells


_indexes: dict[str, UnitIndex] = {}
_build_lock = threading.Lock()


def build(session: Session) -> UnitIndex:
    """A new index of every unit with its members and latest track position."""
    index = UnitIndex()
    units = repository.all_units(session)
    members: dict[str, set[str]] = {}
    for unit_id, user_id in repository.all_members(session):
        members.setdefault(unit_id, set()).add(user_id)
    positions = {u: (at, lng, lat) for u, at, lng, lat in repository.latest_positions(session)}
    for unit in units:
        at, lng, lat = positions.get(unit.id, (None, None, None))
        index.put(UnitEntry(unit.id, unit.call_sign, unit.unit_type, unit.division_code, unit.org_unit_id,
                            unit.status, frozenset(members.get(unit.id, ())), lng, lat, at))
    return index


def index_for(session: Session) -> UnitIndex:
    """The process's index for this database, built on first use (after a restart: from the DB)."""
    key = str(session.get_bind().engine.url)
    index = _indexes.get(key)
    if index is None:
        with _build_lock:
            index = _indexes.get(key)
            if index is None:
                index = _indexes[key] = build(session)
    return index


def cached(url: str) -> UnitIndex | None:
    return _indexes.get(url)


def forget() -> None:
    """Drop every index (tests; a restart does the same)."""
    with _build_lock:
        _indexes.clear()
