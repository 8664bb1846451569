"""The demo grid layer: plausible, deterministic township, village and grid polygons.

Published data stops at county outlines (docs/data-format.md); a city that imports its real
grids never runs this. For the demo and the tests we draw the rest, always the same way:

1. **Township seats.** Inside each county outline, townships keep their published point;
   a township without one but with published village points sits at their mean; the others
   are placed by a few rounds of Lloyd's algorithm (k-means over points sampled evenly inside
   the county, the known seats held fixed), which spreads them like real seats are spread.
2. **Township territories.** Voronoi cells of the seats *and* of the published village points
   (each labelled with its township), merged per township and clipped to the county outline.
   Labelling the known village points keeps every real village inside its own township.
3. **Villages.** Inside its township's territory each village keeps its published point or
   gets one by Lloyd's algorithm; its polygon is its Voronoi cell clipped to the territory.
4. **Grids.** Each village is split into one or more grids the same way (Lloyd + Voronoi);
   urban communities get more grids than rural villages (see :func:`grid_count`). Codes are
   the village code plus a 3-digit sequence (GB/T 30428.1 style).

Voronoi cells partition the plane, so clipping them to a polygon partitions that polygon:
grids cover their county without gaps or overlaps, up to floating-point slivers.

Statistical-only units (``host_code`` set, e.g. 431171 永州经济技术开发区) have no outline of
their own; their townships are placed inside the host county's outline together with the
host's townships, and the unit's outline is the union of its townships' territories.

Randomness comes from numpy's PCG64 seeded with the division code, so the same input always
gives the same layer, on every machine.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPoint
from shapely.geometry.base import BaseGeometry

from civicgrid.geo.importer import polygonal

FloatArray = npt.NDArray[np.float64]
URBAN_GRIDS = {"111": 4, "112": 3, "121": 3, "122": 2, "123": 1, "210": 2, "220": 1}
LLOYD_ROUNDS = 10


@dataclass(frozen=True)
class Site:
    """What the generator needs to know about a division."""

    code: str
    name: str
    level: str
    parent_code: str | None
    urban_rural_code: str | None = None
    lng: float | None = None
    lat: float | None = None
    host_code: str | None = None


@dataclass(frozen=True)
class GeneratedGrid:
    code: str
    village_code: str
    name: str
    geometry: BaseGeometry
    lng: float
    lat: float


@dataclass
class GeneratedLayer:
    """Points for divisions that had none, generated outlines, and the grids."""

    points: dict[str, tuple[float, float]] = field(default_factory=dict)
    boundaries: dict[str, BaseGeometry] = field(default_factory=dict)
    grids: list[GeneratedGrid] = field(default_factory=list)


def grid_count(village: Site, cell_area: float, median_area: float) -> int:
    """How many grids a village gets: by its urban–rural class (城乡分类代码), else by its name
    (社区/居委会 are urban communities), plus one for a rural village twice the typical size."""
    if village.urban_rural_code in URBAN_GRIDS:
        count = URBAN_GRIDS[village.urban_rural_code]
    elif "社区" in village.name or "居委会" in village.name:
        count = 3
    else:
        count = 1
    if count == 1 and median_area > 0 and cell_area > 2 * median_area:
        count = 2
    return count


def short_name(village_name: str) -> str:
    """长丰社区居委会 → 长丰社区, 东冲村委会 → 东冲村, 横冲村村委会 → 横冲村, 迴峰路居委会 → 迴峰路社区."""
    name = village_name.removesuffix("委员会")
    if name.endswith("村村委会"):
        return name[: -len("村委会")]
    if name.endswith("村委会"):
        return name[: -len("委会")]
    if name.endswith("社区居委会"):
        return name[: -len("居委会")]
    if name.endswith("居委会"):
        return name[: -len("居委会")] + "社区"
    return name


def _rng(code: str) -> np.random.Generator:
    return np.random.default_rng(int(code))


def _sample_inside(region: BaseGeometry, count: int, rng: np.random.Generator) -> FloatArray:
    """``count`` points uniformly inside ``region`` (rejection sampling in its bounding box)."""
    shapely.prepare(region)
    x0, y0, x1, y1 = region.bounds
    chunks: list[FloatArray] = []
    have = 0
    for _ in range(200):
        xs = rng.uniform(x0, x1, count * 2)
        ys = rng.uniform(y0, y1, count * 2)
        inside = shapely.contains_xy(region, xs, ys)
        chunk = np.column_stack([xs[inside], ys[inside]])
        chunks.append(chunk)
        have += len(chunk)
        if have >= count:
            break
    points = np.vstack(chunks)[:count] if chunks else np.empty((0, 2))
    if len(points) == 0:  # a sliver: fall back to a point surely inside
        p = region.representative_point()
        points = np.array([[p.x, p.y]])
    return points


def _lloyd(region: BaseGeometry, fixed: FloatArray, n: int, rng: np.random.Generator) -> FloatArray:
    """``n`` new points spread evenly inside ``region`` around the ``fixed`` ones."""
    if n == 0:
        return np.empty((0, 2))
    samples = _sample_inside(region, min(6000, max(64, 24 * (n + len(fixed)))), rng)
    if len(samples) < n:
        samples = np.vstack([samples] * (n // len(samples) + 1))
        samples = samples + rng.normal(0, 1e-6, samples.shape)
    scale = np.array([math.cos(math.radians(float(samples[:, 1].mean()))), 1.0])
    new = samples[rng.choice(len(samples), n, replace=False)].copy()
    f = len(fixed)
    assign = np.zeros(len(samples), dtype=np.int64)
    for _ in range(LLOYD_ROUNDS):
        centers = np.vstack([fixed, new]) if f else new
        d = (((samples[:, None, :] - centers[None, :, :]) * scale) ** 2).sum(axis=2)
        assign = d.argmin(axis=1)
        for j in range(n):
            members = samples[assign == f + j]
            if len(members):
                new[j] = members.mean(axis=0)
    # A mean can fall outside a non-convex region: move it to the nearest of its own samples.
    for j in range(n):
        if not shapely.contains_xy(region, new[j, 0], new[j, 1]):
            members = samples[assign == f + j]
            pool = members if len(members) else samples
            k = (((pool - new[j]) * scale) ** 2).sum(axis=1).argmin()
            new[j] = pool[k]
    return new


def _cells(points: FloatArray, region: BaseGeometry) -> list[BaseGeometry]:
    """Voronoi cell of each point (in input order) clipped to ``region``."""
    if len(points) == 1:
        return [region]
    x0, y0, x1, y1 = region.bounds
    pad = max(x1 - x0, y1 - y0)
    frame = shapely.box(x0 - pad, y0 - pad, x1 + pad, y1 + pad)
    diagram = shapely.voronoi_polygons(MultiPoint(points.tolist()), extend_to=frame, ordered=True)
    cells = list(diagram.geoms)
    return [polygonal(shapely.intersection(cell, region)) for cell in cells]


def _distinct(points: FloatArray) -> FloatArray:
    """Nudge exact duplicates apart (Voronoi needs distinct sites); deterministic."""
    seen: set[tuple[float, float]] = set()
    out = points.copy()
    for i in range(len(out)):
        key = (round(float(out[i, 0]), 9), round(float(out[i, 1]), 9))
        while key in seen:
            out[i] += 1e-6
            key = (round(float(out[i, 0]), 9), round(float(out[i, 1]), 9))
        seen.add(key)
    return out


def _inside(region: BaseGeometry, site: Site) -> bool:
    return (
        site.lng is not None
        and site.lat is not None
        and bool(shapely.contains_xy(region, site.lng, site.lat))
    )


def generate_layer(divisions: list[Site], county_outlines: dict[str, BaseGeometry]) -> GeneratedLayer:
    """Generate points, township/village outlines and grids for every county that has an outline.

    ``county_outlines`` maps county codes to WGS-84 polygons; counties whose ``host_code``
    names one of them are generated inside the host's outline.
    """
    layer = GeneratedLayer()
    children: dict[str, list[Site]] = defaultdict(list)
    for d in divisions:
        if d.parent_code:
            children[d.parent_code].append(d)
    for kids in children.values():
        kids.sort(key=lambda s: s.code)
    counties = [d for d in divisions if d.level == "county"]
    hosted: dict[str, list[Site]] = defaultdict(list)
    for c in counties:
        if c.host_code:
            hosted[c.host_code].append(c)
    for county in counties:
        outline = county_outlines.get(county.code)
        if outline is None or county.host_code:
            continue
        units = [county, *hosted.get(county.code, [])]
        _generate_county(layer, polygonal(outline), units, children)
    return layer


def _generate_county(
    layer: GeneratedLayer, outline: BaseGeometry, units: list[Site], children: dict[str, list[Site]]
) -> None:
    townships = [t for unit in units for t in children.get(unit.code, []) if t.level == "township"]
    if not townships:
        return
    rng = _rng(units[0].code)
    # 1. township seats
    anchors: dict[str, tuple[float, float]] = {}
    known_villages: dict[str, list[Site]] = defaultdict(list)
    for t in townships:
        for v in children.get(t.code, []):
            if _inside(outline, v):
                known_villages[t.code].append(v)
    for t in townships:
        if _inside(outline, t):
            anchors[t.code] = (t.lng, t.lat)  # type: ignore[assignment]
        elif known_villages[t.code]:
            pts = np.array([[v.lng, v.lat] for v in known_villages[t.code]])
            mean = pts.mean(axis=0)
            if shapely.contains_xy(outline, mean[0], mean[1]):
                anchors[t.code] = (float(mean[0]), float(mean[1]))
            else:
                anchors[t.code] = (float(pts[0, 0]), float(pts[0, 1]))
            layer.points[t.code] = anchors[t.code]
    fixed = [anchors[t.code] for t in townships if t.code in anchors]
    fixed += [(v.lng, v.lat) for vs in known_villages.values() for v in vs]  # type: ignore[misc]
    missing = [t for t in townships if t.code not in anchors]
    placed = _lloyd(outline, np.array(fixed, dtype=np.float64).reshape(-1, 2), len(missing), rng)
    for t, p in zip(missing, placed, strict=True):
        anchors[t.code] = (float(p[0]), float(p[1]))
        layer.points[t.code] = anchors[t.code]

    # 2. township territories
    labels: list[str] = []
    sites: list[tuple[float, float]] = []
    for t in townships:
        labels.append(t.code)
        sites.append(anchors[t.code])
        for v in known_villages[t.code]:
            labels.append(t.code)
            sites.append((v.lng, v.lat))  # type: ignore[arg-type]
    cells = _cells(_distinct(np.array(sites, dtype=np.float64)), outline)
    by_township: dict[str, list[BaseGeometry]] = defaultdict(list)
    for label, cell in zip(labels, cells, strict=True):
        by_township[label].append(cell)
    territories = {code: polygonal(shapely.union_all(parts)) for code, parts in by_township.items()}

    # 3. villages, 4. grids
    village_cells: dict[str, tuple[Site, BaseGeometry, tuple[float, float]]] = {}
    for t in townships:
        territory = territories[t.code]
        layer.boundaries[t.code] = territory
        villages = [v for v in children.get(t.code, []) if v.level == "village"]
        if not villages or territory.is_empty:
            continue
        known = [v for v in villages if v in known_villages[t.code]]
        unknown = [v for v in villages if v not in known_villages[t.code]]
        fixed_pts = np.array([[v.lng, v.lat] for v in known], dtype=np.float64).reshape(-1, 2)
        new_pts = _lloyd(territory, fixed_pts, len(unknown), _rng(t.code))
        for v, p in zip(unknown, new_pts, strict=True):
            layer.points[v.code] = (float(p[0]), float(p[1]))
        ordered = known + unknown
        points = _distinct(np.vstack([fixed_pts, new_pts]))
        for v, cell, p in zip(ordered, _cells(points, territory), points, strict=True):
            village_cells[v.code] = (v, cell, (float(p[0]), float(p[1])))
    areas = sorted(cell.area for _, cell, _ in village_cells.values())
    median = areas[len(areas) // 2] if areas else 0.0
    for code in sorted(village_cells):
        village, cell, _point = village_cells[code]
        layer.boundaries[code] = cell
        if cell.is_empty:
            continue
        count = grid_count(village, cell.area, median)
        pieces = (
            [cell]
            if count == 1
            else _cells(_distinct(_lloyd(cell, np.empty((0, 2)), count, _rng(code))), cell)
        )
        pieces = [p for p in pieces if not p.is_empty] or [cell]
        base = short_name(village.name)
        for seq, piece in enumerate(pieces, start=1):
            spot = piece.representative_point()
            layer.grids.append(
                GeneratedGrid(
                    f"{code}{seq:03d}", code, f"{base}第{seq}网格", piece, float(spot.x), float(spot.y)
                )
            )
    for unit in units[1:]:  # statistical-only units: their outline is their townships' union
        parts = [territories[t.code] for t in children.get(unit.code, []) if t.code in territories]
        if parts:
            layer.boundaries[unit.code] = polygonal(shapely.union_all(parts))
