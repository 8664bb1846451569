"""The in-memory point → grid index.

A uniform lattice of small cells over the city's bounding box, built once with shapely's
vectorised STRtree query: each cell remembers either the one grid that covers it entirely
(most cells; the answer needs no geometry test at all) or the few grids that touch it (a
prepared point-in-polygon test each, ``intersects_xy``, no Point object created). A lookup is
two multiplications, one list access and at most a couple of prepared tests: a few
microseconds in-process, against milliseconds for a loop over every grid polygon
(``bench/locate.py`` prints both).

The index is cached per database and rebuilt when the geography's version (the latest row of
``geo_imports``) changes, so an import made by any process is picked up by every process on
its next lookup.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from civicgrid.geo import repository
from civicgrid.geo.importer import read_geometry

CELLS_PER_GRID = 16


class GridIndex:
    """Answers "which grid holds this point?" for one set of grid polygons (WGS-84)."""

    def __init__(
        self, items: list[tuple[str, BaseGeometry]], version: str = "", cell_deg: float | None = None
    ) -> None:
        started = time.perf_counter()
        self.version = version
        self.codes = [code for code, _ in items]
        self.geoms = np.array([geom for _, geom in items], dtype=object)
        self._cells: list[int | tuple[int, ...] | None] = []
        self.x0 = self.y0 = 0.0
        self.nx = self.ny = 0
        self.cell = 1.0
        if len(items):
            shapely.prepare(self.geoms)
            self._build(cell_deg)
        self.build_seconds = time.perf_counter() - started

    def _build(self, cell_deg: float | None) -> None:
        x0, y0, x1, y1 = (float(v) for v in shapely.total_bounds(self.geoms))
        if cell_deg is None:
            area = max((x1 - x0) * (y1 - y0), 1e-9)
            cell_deg = min(0.05, max(0.0005, math.sqrt(area / (len(self.codes) * CELLS_PER_GRID))))
        self.cell = cell_deg
        self.x0, self.y0 = x0, y0
        self.nx = int((x1 - x0) / cell_deg) + 1
        self.ny = int((y1 - y0) / cell_deg) + 1
        ix, iy = np.meshgrid(np.arange(self.nx), np.arange(self.ny))
        bx = x0 + ix.ravel() * cell_deg
        by = y0 + iy.ravel() * cell_deg
        boxes = shapely.box(bx, by, bx + cell_deg, by + cell_deg)
        tree = shapely.STRtree(self.geoms)
        box_idx, geom_idx = tree.query(boxes, predicate="intersects")
        covering = shapely.covers(self.geoms[geom_idx], boxes[box_idx])
        cells: list[int | tuple[int, ...] | None] = [None] * (self.nx * self.ny)
        touching: dict[int, list[int]] = {}
        for b, g, covers in zip(box_idx.tolist(), geom_idx.tolist(), covering.tolist(), strict=True):
            if covers:
                cells[b] = g
            elif not isinstance(cells[b], int):
                touching.setdefault(b, []).append(g)
        for b, gs in touching.items():
            if not isinstance(cells[b], int):
                cells[b] = tuple(sorted(gs, key=lambda i: self.codes[i]))
        self._cells = cells

    def __len__(self) -> int:
        return len(self.codes)

    def locate(self, lng: float, lat: float) -> str | None:
        """The code of the grid containing (lng, lat) in WGS-84, or None outside every grid.

        A point exactly on a shared edge belongs to the grid with the smaller code."""
        fx = (lng - self.x0) / self.cell
        fy = (lat - self.y0) / self.cell
        # Written so that NaN fails every comparison and falls out here.
        if not (0.0 <= fx < self.nx and 0.0 <= fy < self.ny):
            return None
        ix = int(fx)
        iy = int(fy)
        entry = self._cells[iy * self.nx + ix]
        if entry is None:
            return None
        if isinstance(entry, int):
            return self.codes[entry]
        for i in entry:
            if shapely.intersects_xy(self.geoms[i], lng, lat):
                return self.codes[i]
        return None


@dataclass
class _Cached:
    index: GridIndex
    checked: float = 0.0  # time.monotonic() of the last version check


_cache: dict[str, _Cached] = {}
_lock = threading.Lock()


def _key(session: Session) -> str:
    bind = session.get_bind()
    return bind.engine.url.render_as_string(hide_password=False)


def build_index(session: Session, version: str = "") -> GridIndex:
    """A fresh index of every grid in the database."""
    items = [(code, read_geometry(text)) for code, text in repository.all_grid_shapes(session)]
    return GridIndex(items, version)


RECHECK_SECONDS = 5.0
"""How long a process trusts its index before asking the database whether the geography was
re-imported (locate runs on every intake; an import in this process drops the index at once)."""


def index_for(session: Session) -> GridIndex:
    """The cached index of this session's database, rebuilt if the geography changed."""
    key = _key(session)
    now = time.monotonic()
    cached = _cache.get(key)
    if cached is not None and now - cached.checked < RECHECK_SECONDS:
        return cached.index
    version = repository.latest_import_version(session)
    if cached is not None and cached.index.version == version:
        cached.checked = now
        return cached.index
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached.index.version == version:
            cached.checked = now
            return cached.index
        index = build_index(session, version)
        _cache[key] = _Cached(index, now)
        return index


def forget(session: Session | None = None) -> None:
    """Drop cached indexes (all, or this session's database)."""
    with _lock:
        if session is None:
            _cache.clear()
        else:
            _cache.pop(_key(session), None)
