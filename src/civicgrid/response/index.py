"""The in-memory dispatch index: where every unit is now and whether it can be sent.

Every unit has a slot in a few flat arrays (longitude, latitude, type, status, placed); a sorted
*snapshot* of the slots by square bucket of ``CELL_DEG`` degrees (about 2 km) answers "which units
are in this block of buckets?" with two binary searches per row of buckets. A position report
writes the unit's slot and, when the unit is not yet marked, marks it *moved*: the snapshot still
lists it under its old bucket, and every query looks at the moved units as well (their current
positions), so no answer ever misses a move. When ``REBUILD_AFTER`` units have moved the
snapshot is re-sorted (from the previous order, which is nearly sorted: a fraction of a
millisecond for 20,000 units).

"Which available units reach this point first?" takes a square of buckets around the point,
computes in one vectorised pass (numpy: the hot loop is not Python) the great-circle distance and the ETA
(:meth:`Params.eta_seconds`: it depends on the unit's type, so a car two kilometres out can beat
a foot patrol next door) of every unit of the right status and type in it, and keeps the best
``k``. The answer is final when the k-th ETA is shorter than any unit outside the square could
achieve even at the fastest speed of any type; otherwise the square grows to exactly the size
that bound needs (a second pass at most, once k units were found). Ties go by unit id, so the
answer is the one a scan over every unit gives (:func:`great_circle_m` and
:meth:`Params.eta_seconds` computed one unit at a time agree with the vectorised figures to
within rounding: tests/response/test_index.py).

The index is per process and database (:func:`index_for`): one instance shared by every request,
WebSocket and simulator of the process, rebuilt from the database (units, members, latest track
points) when first used after a start; status changes reach it after their transaction commits.
Thread-safe: the event loop and worker threads both report positions.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import numpy as np
from sqlalchemy.orm import Session

from civicgrid.response import repository
from civicgrid.response.params import EARTH_RADIUS_M, Params

CELL_DEG = 0.02  # about 2 km: fewer rows of buckets per query, few units per bucket
METRES_PER_DEG = 111_194.0  # a degree of a great circle (WGS-84 mean radius), rounded down
REBUILD_AFTER = 256  # moved units before the snapshot is re-sorted
_RAD = math.pi / 180.0
_HALF_RAD = _RAD / 2
_FALLBACK_SPEED = 5 / 3.6  # Params.eta_seconds' speed for a type the parameters do not name


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


class Candidate(NamedTuple):
    """A recommended unit (a named tuple: a query makes k of them, and a frozen dataclass costs
    several microseconds each to construct)."""

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


class UnitIndex:
    """Units in flat arrays by slot, a bucket-sorted snapshot of the slots, and the moved ones."""

    def __init__(self, capacity: int = 1024, cell_deg: float = CELL_DEG) -> None:
        self.cell_deg = cell_deg
        # bucket (x, y) → one sortable integer key: y × stride + x, both made non-negative
        self._offset_x, self._offset_y = math.ceil(180 / cell_deg) + 1, math.ceil(90 / cell_deg) + 1
        self._stride = 2 * self._offset_x + 1
        self.units: dict[str, UnitEntry] = {}
        self.lock = threading.Lock()
        self._slot: dict[str, int] = {}
        self._ids: list[str] = []
        self._divisions: list[str] = []
        self._type_codes: dict[str, int] = {}
        self._status_codes: dict[str, int] = {}
        self._lng = np.zeros(capacity)
        self._lat = np.zeros(capacity)
        self._half_lng = np.zeros(capacity)  # radians / 2, and the cosine of the latitude: the haversine's terms
        self._half_lat = np.zeros(capacity)
        self._cos_lat = np.zeros(capacity)
        self._type = np.zeros(capacity, np.int32)
        self._status = np.zeros(capacity, np.int32)
        self._placed = np.zeros(capacity, bool)
        self._moved = np.zeros(capacity, bool)
        self._moved_slots = np.zeros(capacity, np.int64)
        self._n_moved = 0
        self._snap_keys = np.zeros(0, np.int64)
        self._snap_key_list: list[int] = []  # the same keys, for bisect (cheaper than numpy on a few rows)
        self._snap_slots = np.zeros(0, np.int64)
        self._county_limits: dict[tuple[str, float, float], np.ndarray] = {}
        self._tables: dict[tuple[int, str, int], tuple[np.ndarray, np.ndarray, float]] = {}
        self._hint = 2  # the square's half-width (buckets) the last answer needed: where the next starts

    # ------------------------------------------------------------ writes

    def _slot_for(self, unit_id: str) -> int:
        slot = self._slot.get(unit_id)
        if slot is None:
            slot = self._slot[unit_id] = len(self._ids)
            self._ids.append(unit_id)
            self._divisions.append("")
            if slot >= self._lng.size:
                self._grow()
        return slot

    def _grow(self) -> None:
        size = self._lng.size * 2
        for name in ("_lng", "_lat", "_half_lng", "_half_lat", "_cos_lat", "_type", "_status", "_placed", "_moved",
                     "_moved_slots"):
            old = getattr(self, name)
            new = np.zeros(size, old.dtype)
            new[:old.size] = old
            setattr(self, name, new)
        self._county_limits.clear()

    def _code(self, codes: dict[str, int], value: str) -> int:
        code = codes.get(value)
        if code is None:
            code = codes[value] = len(codes)
            self._tables.clear()
        return code

    def _place(self, slot: int, lng: float, lat: float) -> None:
        self._lng[slot], self._lat[slot] = lng, lat
        self._half_lng[slot], self._half_lat[slot] = lng * _HALF_RAD, lat * _HALF_RAD
        self._cos_lat[slot] = math.cos(lat * _RAD)
        self._placed[slot] = True

    def _mark_moved(self, slot: int) -> None:
        if not self._moved[slot]:
            self._moved[slot] = True
            self._moved_slots[self._n_moved] = slot
            self._n_moved += 1
            if self._n_moved >= min(REBUILD_AFTER, self._moved_slots.size):
                self._rebuild()

    def _rebuild(self) -> None:
        """Re-sort the snapshot by bucket: the previous order first (nearly sorted, so the stable
        sort runs in linear time), then the slots placed since."""
        n = len(self._ids)
        fresh = np.flatnonzero(self._placed[:n] & self._moved[:n])
        known = self._snap_slots
        slots = np.concatenate((known, np.setdiff1d(fresh, known, assume_unique=True))) if fresh.size else known
        lng, lat = self._lng[slots], self._lat[slots]
        cell = self.cell_deg
        keys = ((np.floor(lat / cell).astype(np.int64) + self._offset_y) * self._stride
                + np.floor(lng / cell).astype(np.int64) + self._offset_x)
        order = np.argsort(keys, kind="stable")
        self._snap_keys, self._snap_slots = keys[order], slots[order]
        self._snap_key_list = self._snap_keys.tolist()
        self._moved[:n] = False
        self._n_moved = 0

    def rebuild(self) -> None:
        """Sort every placed unit into the snapshot now (after loading many units at once)."""
        with self.lock:
            self._rebuild()

    def put(self, entry: UnitEntry) -> None:
        """Add or replace a unit (keeping the position it already had when the entry has none)."""
        with self.lock:
            old = self.units.get(entry.unit_id)
            if old is not None and entry.lng is None and old.lng is not None:
                entry.lng, entry.lat, entry.at = old.lng, old.lat, old.at
            self.units[entry.unit_id] = entry
            slot = self._slot_for(entry.unit_id)
            self._type[slot] = self._code(self._type_codes, entry.unit_type)
            self._status[slot] = self._code(self._status_codes, entry.availability)
            if self._divisions[slot] != entry.division_code:
                self._divisions[slot] = entry.division_code
                for (county, radius_m, cross_m), limits in self._county_limits.items():
                    limits[slot] = radius_m if entry.division_code.startswith(county) else cross_m
            if entry.lng is not None and entry.lat is not None:
                self._place(slot, entry.lng, entry.lat)
                self._mark_moved(slot)

    def move(self, unit_id: str, lng: float, lat: float, at: datetime) -> bool:
        """A position report; an older report than the one held is ignored. False: unknown unit."""
        with self.lock:
            entry = self.units.get(unit_id)
            if entry is None:
                return False
            if entry.at is not None and at < entry.at:
                return True
            slot = self._slot[unit_id]
            self._place(slot, lng, lat)
            entry.lng, entry.lat, entry.at = lng, lat, at
            if not self._moved[slot]:
                self._mark_moved(slot)
            return True

    def set_status(self, unit_id: str, status: str) -> None:
        with self.lock:
            entry = self.units.get(unit_id)
            if entry is not None:
                entry.availability = status
                self._status[self._slot[unit_id]] = self._code(self._status_codes, status)

    # ------------------------------------------------------------ reads

    def get(self, unit_id: str) -> UnitEntry | None:
        return self.units.get(unit_id)

    def is_member(self, unit_id: str, user_id: str) -> bool:
        entry = self.units.get(unit_id)
        return entry is not None and user_id in entry.members

    def _limits(self, county: str, params: Params) -> np.ndarray:
        """Per slot, how far the unit may be from an incident of ``county``: the maximum radius in
        the county, the cross-border distance outside it."""
        key = (county, params.max_radius_m, params.cross_border_m)
        limits = self._county_limits.get(key)
        if limits is None:
            limits = np.full(self._lng.size, params.cross_border_m)
            limits[[i for i, d in enumerate(self._divisions) if d.startswith(county)]] = params.max_radius_m
            if len(self._county_limits) > 64:
                self._county_limits.clear()
            self._county_limits[key] = limits
        return limits

    def _eta_tables(self, params: Params, urban_class: str) -> tuple[np.ndarray, np.ndarray, float]:
        """Per type code: seconds per metre of distance, turnout seconds; and the fastest any unit
        covers distance (metres a second: the top speed over the detour factor)."""
        key = (id(params), urban_class, len(self._type_codes))
        tables = self._tables.get(key)
        if tables is None:
            detour = params.detour.get(urban_class, 1.3)
            names = sorted(self._type_codes, key=self._type_codes.__getitem__)
            per_m = np.array([detour / (params.speed.get(t, {}).get(urban_class) or _FALLBACK_SPEED) for t in names]
                             or [0.0])
            turnout = np.array([params.turnout.get(t, 0.0) for t in names] or [0.0])
            tables = self._tables[key] = (per_m, turnout, params.max_speed(urban_class) / detour)
        return tables

    def _in_square(self, cx: int, cy: int, r: int) -> np.ndarray:
        """The snapshot's slots in buckets (cx ± r, cy ± r): one key range per row of buckets."""
        keys, slots = self._snap_key_list, self._snap_slots
        parts = []
        stride = self._stride
        low = (cy - r + self._offset_y) * stride + cx - r + self._offset_x
        for _ in range(2 * r + 1):
            start = bisect_left(keys, low)
            end = bisect_right(keys, low + 2 * r, start)
            if end > start:
                parts.append(slots[start:end])
            low += stride
        return np.concatenate(parts) if parts else slots[:0]

    def nearest(self, lng: float, lat: float, *, county: str, urban_class: str, params: Params, k: int,
                types: frozenset[str] | None = None, status: str = "available") -> list[Candidate]:
        """The ``k`` units of ``status`` (and of ``types``) with the shortest ETA to the point:
        units of the incident's county (``county``: a 6-digit prefix) within the maximum radius,
        units of other counties within the cross-border distance (flagged)."""
        if k <= 0:
            return []
        cell = self.cell_deg
        cx, cy = math.floor(lng / cell), math.floor(lat / cell)
        # The narrowest bucket anywhere in the largest square a query can take (buckets narrow
        # towards the pole), so "r buckets out" is never nearer than r × cell_m.
        margin = 1.0 + params.max_radius_m / METRES_PER_DEG
        cell_m = cell * METRES_PER_DEG * max(0.01, math.cos(math.radians(min(89.0, abs(lat) + margin)))) * 0.999
        max_r = int(params.max_radius_m / cell_m) + 2
        half_p1, half_l1, cos_p1 = lat * _HALF_RAD, lng * _HALF_RAD, math.cos(lat * _RAD)
        with self.lock:
            want = self._status_codes.get(status)
            if want is None or not self._ids:
                return []
            per_m, turnout, fastest = self._eta_tables(params, urban_class)
            type_ok = None
            if types is not None:
                type_ok = np.array([name in types for name in sorted(self._type_codes,
                                                                     key=self._type_codes.__getitem__)])
            limits = self._limits(county, params)
            moved = self._moved_slots[:self._n_moved]
            r = min(max(1, self._hint), max_r)
            while True:
                slots = self._in_square(cx, cy, r)
                if moved.size:
                    slots = np.concatenate((slots[~self._moved[slots]], moved))
                slots = slots[self._status[slots] == want]
                codes = self._type[slots]
                if type_ok is not None:
                    keep = type_ok[codes]
                    slots, codes = slots[keep], codes[keep]
                # great_circle_m (the haversine) and Params.eta_seconds over every candidate at once.
                s_lat = np.sin(self._half_lat[slots] - half_p1)
                s_lng = np.sin(self._half_lng[slots] - half_l1)
                a = s_lat * s_lat + (s_lng * s_lng) * (self._cos_lat[slots] * cos_p1)
                distance = (2 * EARTH_RADIUS_M) * np.arcsin(np.sqrt(a))
                eta = distance * per_m[codes] + turnout[codes]
                eta[distance > limits[slots]] = math.inf  # beyond the radius (or the cross-border distance)
                if eta.size > k:
                    kth = float(np.partition(eta, k - 1)[k - 1])
                else:
                    kth = float(eta.max()) if eta.size == k else math.inf
                if kth < math.inf:
                    if kth * fastest <= r * cell_m or r >= max_r:
                        break
                    r = min(max_r, max(r + 1, math.ceil(kth * fastest / cell_m)))
                elif r >= max_r:
                    break
                else:
                    r = min(max_r, r * 2)
            self._hint = r
            chosen = np.flatnonzero(eta <= kth) if kth < math.inf else np.flatnonzero(eta < math.inf)
            ids, units = self._ids, self.units
            found = [(e, ids[slot], d) for slot, e, d in zip(slots[chosen].tolist(), eta[chosen].tolist(),
                                                              distance[chosen].tolist(), strict=True)]
            found.sort()
            found = found[:k]
            entries = [units[unit_id] for _, unit_id, _ in found]
        return [Candidate(e.unit_id, e.call_sign, e.unit_type, e.division_code, d, eta,
                          not e.division_code.startswith(county), e.lng, e.lat, e.at)
                for (eta, _, d), e in zip(found, entries, strict=True) if e.lng is not None and e.lat is not None]


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
    index.rebuild()
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
