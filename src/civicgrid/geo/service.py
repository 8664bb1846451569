"""Rules of the geo domain: importing reference geography, generating the demo grid layer,
and answering questions about divisions and grids within the caller's jurisdiction.

Imports write in the caller's transaction and never commit: a file is parsed and validated
completely before the first row is written, and any failure rolls everything back, so a
refused or interrupted import leaves nothing half-written. Each import appends one row to
``geo_imports`` (which also versions the in-memory grid index) and one audit event.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from civicgrid.audit import service as audit
from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import in_scope
from civicgrid.city import City, get_city
from civicgrid.config import DATA_DIR
from civicgrid.geo import repository
from civicgrid.geo.generator import Site, generate_layer, short_name
from civicgrid.geo.importer import (
    ImportRefused,
    digest,
    geometry_json,
    parse_divisions_csv,
    parse_polygons_geojson,
    read_geometry,
    round_coords,
)
from civicgrid.geo.index import forget as forget_index
from civicgrid.geo.index import index_for
from civicgrid.geo.models import Division, GeoImport, Grid
from civicgrid.geo.schemas import DivisionBrief, DivisionRead, GridRead
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import AppError, Invalid, NotFound

REFERENCE_DIR = DATA_DIR / "yongzhou"
EARTH_RADIUS_KM = 6371.0088
# Simplification tolerance of the outlines drawn below each level (GEOS coverage simplification:
# roughly the square root of the triangle areas removed, in degrees; the city map of 11 counties
# drops from ~7,500 to ~3,000 vertices) and the decimals kept (5 ≈ 1 m).
MAP_TOLERANCE = {"city": 0.004, "county": 0.0015, "township": 0.0006, "village": 0.0002}
MAP_DECIMALS = 5


@dataclass
class ImportReport:
    """What one import read and changed."""

    kind: str
    source: str
    digest: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    seq: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _finish(session: Session, report: ImportReport, details: dict[str, Any] | None = None) -> ImportReport:
    summary = {k: v for k, v in report.as_dict().items() if k != "seq"}
    summary.update(details or {})
    entry = GeoImport(
        at=utcnow(),
        kind=report.kind,
        source=report.source[:200],
        digest=report.digest,
        summary=json.dumps(summary, ensure_ascii=False, sort_keys=True),
    )
    repository.add_import(session, entry)
    report.seq = entry.seq
    audit.record(session, f"geo.import.{report.kind}", "geo_imports", str(entry.seq), after=summary)
    forget_index(session)  # the next locate in this process re-reads the version (others within 5 s)
    return report


def _same_float(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) < 1e-9


def _changed_codes(codes: list[str], limit: int = 200) -> list[str]:
    return codes[:limit]


# ---------------------------------------------------------------- imports


def import_divisions(session: Session, data: bytes, *, source: str, datum: str = "gcj02") -> ImportReport:
    """Import (upsert) a divisions CSV (docs/data-format.md). Idempotent: re-importing the same
    file changes nothing. Divisions missing from the file are kept (users may point at them).
    A row without coordinates keeps the point the division already has."""
    rows = parse_divisions_csv(data, datum=datum, known_parents=repository.division_levels(session))
    existing = {d.code: d for d in repository.all_divisions(session)}
    now = utcnow()
    report = ImportReport("divisions", source, digest(data))
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    changed: list[str] = []
    for row in rows:
        values: dict[str, Any] = {
            "name": row.name,
            "level": row.level,
            "parent_code": row.parent_code,
            "urban_rural_code": row.urban_rural_code,
            "attr_source": row.attr_source,
        }
        if row.host_code is not None:
            values["host_code"] = row.host_code
        if row.lng is not None:
            values.update(lng=row.lng, lat=row.lat, point_source=(row.attr_source or "imported")[:16])
        old = existing.get(row.code)
        if old is None:
            inserts.append(
                {
                    "code": row.code,
                    "boundary_generated": False,
                    "updated_at": now,
                    "lng": None,
                    "lat": None,
                    "point_source": None,
                    "host_code": None,
                    **values,
                }
            )
            report.created += 1
            continue
        diff = {
            k: v
            for k, v in values.items()
            if not (_same_float(getattr(old, k), v) if k in ("lng", "lat") else getattr(old, k) == v)
        }
        if diff:
            updates.append({"code": row.code, "updated_at": now, **diff})
            changed.append(row.code)
            report.updated += 1
        else:
            report.unchanged += 1
    repository.insert_divisions(session, inserts)
    repository.update_divisions(session, updates)
    session.expire_all()
    return _finish(session, report, {"datum": datum, "changed": _changed_codes(changed)})


def apply_hosts(session: Session, data: bytes, *, source: str) -> ImportReport:
    """Record which county's territory holds each statistical-only unit (CSV ``code,host_code[,note]``)."""
    text = data.decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    report = ImportReport("hosts", source, digest(data))
    levels = repository.division_levels(session)
    updates: list[dict[str, Any]] = []
    existing = repository.get_divisions(session, levels.keys())
    for record in reader:
        line = reader.line_num
        code = (record.get("code") or "").strip()
        host = (record.get("host_code") or "").strip()
        if levels.get(code) != "county" or levels.get(host) != "county" or code == host:
            raise ImportRefused(
                f"第 {line} 行：code 和 host_code 必须是两个已导入的县级区划",
                f"line {line}: code and host_code must be two different imported counties",
                details={"line": line},
            )
        if existing[code].host_code == host:
            report.unchanged += 1
        else:
            updates.append({"code": code, "host_code": host, "updated_at": utcnow()})
            report.updated += 1
    repository.update_divisions(session, updates)
    session.expire_all()
    return _finish(session, report)


def import_boundaries(session: Session, data: bytes, *, source: str, datum: str = "gcj02") -> ImportReport:
    """Import division outlines from GeoJSON (features with a 12-digit ``code`` property).
    Imported outlines replace generated ones and are never overwritten by the generator."""
    features = parse_polygons_geojson(data, digits=12, datum=datum)
    existing = repository.get_divisions(session, [f.code for f in features])
    report = ImportReport("boundaries", source, digest(data))
    updates: list[dict[str, Any]] = []
    for feature in features:
        division = existing.get(feature.code)
        if division is None:
            raise ImportRefused(
                f"第 {feature.index} 个要素：区划 {feature.code} 尚未导入",
                f"feature {feature.index}: division {feature.code} has not been imported",
                details={"feature": feature.index},
            )
        text = geometry_json(feature.geometry)
        if division.boundary == text and not division.boundary_generated:
            report.unchanged += 1
            continue
        updates.append(
            {"code": feature.code, "boundary": text, "boundary_generated": False, "updated_at": utcnow()}
        )
        report.updated += 1
    repository.update_divisions(session, updates)
    session.expire_all()
    return _finish(session, report, {"datum": datum})


def import_grids(session: Session, data: bytes, *, source: str, datum: str = "gcj02") -> ImportReport:
    """Import real grid polygons from GeoJSON (features with a 15-digit ``code`` property whose
    first 12 digits are an imported village; optional ``name`` and ``kind``). Grids that overlap
    each other are refused. Real grids replace the generated layer of every county they touch."""
    features = parse_polygons_geojson(data, digits=15, datum=datum)
    villages = repository.get_divisions(session, [f.code[:12] for f in features])
    for feature in features:
        village = villages.get(feature.code[:12])
        if village is None or village.level != "village":
            raise ImportRefused(
                f"第 {feature.index} 个要素：网格 {feature.code} 的前 12 位不是已导入的村（社区）",
                f"feature {feature.index}: the first 12 digits of grid {feature.code} "
                "are not an imported village",
                details={"feature": feature.index},
            )
    _refuse_overlaps(features)
    report = ImportReport("grids", source, digest(data))
    counties = {f.code[:6] for f in features}
    generated_doomed = [
        code
        for code, generated in repository.grid_codes(session).items()
        if generated and code[:6] in counties
    ]
    repository.delete_grids(session, generated_doomed)
    report.deleted = len(generated_doomed)
    existing = {g.code: g for g in repository.grids_by_codes(session, [f.code for f in features])}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    now = utcnow()
    for feature in features:
        label = feature.geometry.representative_point()
        values = {
            "village_code": feature.code[:12],
            "boundary": geometry_json(feature.geometry),
            "name": feature.name
            or f"{short_name(villages[feature.code[:12]].name)}第{int(feature.code[12:])}网格",
            "kind": feature.kind or "comprehensive",
            "lng": float(label.x),
            "lat": float(label.y),
            "area_km2": area_km2(feature.geometry),
            "generated": False,
        }
        old = existing.get(feature.code)
        if old is None:
            inserts.append({"code": feature.code, "updated_at": now, **values})
            report.created += 1
        elif any(getattr(old, k) != v for k, v in values.items() if k not in ("lng", "lat", "area_km2")):
            updates.append({"code": feature.code, "updated_at": now, **values})
            report.updated += 1
        else:
            report.unchanged += 1
    repository.insert_grids(session, inserts)
    repository.update_grids(session, updates)
    session.expire_all()
    return _finish(session, report, {"datum": datum})


def _refuse_overlaps(features: list[Any]) -> None:
    geoms = [f.geometry for f in features]
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a >= b:
            continue
        shared = shapely.intersection(geoms[a], geoms[b]).area
        if shared > 1e-3 * min(geoms[a].area, geoms[b].area):
            fa, fb = features[a], features[b]
            raise ImportRefused(
                f"第 {fa.index} 个要素（{fa.code}）与第 {fb.index} 个要素（{fb.code}）重叠",
                f"feature {fa.index} ({fa.code}) overlaps feature {fb.index} ({fb.code})",
                details={"feature": fa.index},
            )


def area_km2(geom: BaseGeometry) -> float:
    """Area on the sphere, from degrees scaled at the polygon's latitude (error < 0.1% for
    county-sized and smaller polygons)."""
    lat = geom.centroid.y if not geom.is_empty else 0.0
    scale = (math.pi / 180 * EARTH_RADIUS_KM) ** 2 * math.cos(math.radians(lat))
    return round(float(geom.area) * scale, 4)


def generate_grid_layer(session: Session) -> ImportReport:
    """Generate the demo layer (see :mod:`civicgrid.geo.generator`) for every county that has
    a real outline and no real grids: points for divisions without one, township/village
    outlines where none was imported, and grids marked ``generated``. Deterministic, so
    running it again changes nothing."""
    divisions = repository.all_divisions(session)
    real_grid_counties = {
        code[:6] for code, generated in repository.grid_codes(session).items() if not generated
    }
    sites = [
        Site(
            d.code,
            d.name,
            d.level,
            d.parent_code,
            d.urban_rural_code,
            d.lng if d.point_source != "generated" else None,
            d.lat if d.point_source != "generated" else None,
            d.host_code,
        )
        for d in divisions
    ]
    outlines = {
        d.code: read_geometry(d.boundary)
        for d in divisions
        if d.level == "county"
        and d.boundary
        and not d.boundary_generated
        and not d.host_code
        and d.code[:6] not in real_grid_counties
    }
    layer = generate_layer(sites, outlines)
    by_code = {d.code: d for d in divisions}
    now = utcnow()
    report = ImportReport("generated", "generator", "")
    updates: list[dict[str, Any]] = []
    for code in sorted(set(layer.points) | set(layer.boundaries)):
        d = by_code[code]
        change: dict[str, Any] = {}
        if code in layer.points and d.point_source in (None, "generated"):
            lng, lat = layer.points[code]
            lng, lat = round(lng, 7), round(lat, 7)
            if not (d.point_source == "generated" and _same_float(d.lng, lng) and _same_float(d.lat, lat)):
                change.update(lng=lng, lat=lat, point_source="generated")
        if code in layer.boundaries and (d.boundary is None or d.boundary_generated):
            text = geometry_json(layer.boundaries[code])
            if text != d.boundary:
                change.update(boundary=text, boundary_generated=True)
        if change:
            updates.append({"code": code, "updated_at": now, **change})
    repository.update_divisions(session, updates)

    existing = {code: generated for code, generated in repository.grid_codes(session).items()}
    new_codes = {g.code for g in layer.grids}
    doomed = [
        code
        for code, generated in existing.items()
        if generated and code not in new_codes and code[:6] not in real_grid_counties
    ]
    repository.delete_grids(session, doomed)
    report.deleted = len(doomed)
    inserts: list[dict[str, Any]] = []
    grid_updates: list[dict[str, Any]] = []
    current = {g.code: g for g in repository.grids_by_codes(session, [c for c in new_codes if c in existing])}
    for g in layer.grids:
        values = {
            "village_code": g.village_code,
            "name": g.name,
            "kind": "comprehensive",
            "boundary": geometry_json(g.geometry),
            "lng": round(g.lng, 7),
            "lat": round(g.lat, 7),
            "area_km2": area_km2(g.geometry),
            "generated": True,
        }
        old = current.get(g.code)
        if g.code in existing and old is not None and not old.generated:
            continue  # a real grid with this code: never overwritten
        if old is None:
            inserts.append({"code": g.code, "updated_at": now, **values})
            report.created += 1
        elif old.boundary != values["boundary"] or old.name != values["name"]:
            grid_updates.append({"code": g.code, "updated_at": now, **values})
            report.updated += 1
        else:
            report.unchanged += 1
    repository.insert_grids(session, inserts)
    repository.update_grids(session, grid_updates)
    session.expire_all()
    report.digest = digest(
        json.dumps(sorted((g.code, geometry_json(g.geometry)) for g in layer.grids)).encode()
    )
    return _finish(session, report, {"divisions_updated": len(updates)})


def load_reference_data(session: Session, city: City | None = None) -> list[ImportReport]:
    """Import the city's reference data (divisions, hosts, city and county outlines, as its
    city.json names them; Yongzhou's by default) and generate the grid layer, in the caller's
    transaction. Idempotent; a few seconds on a fresh database."""
    city = city or get_city()

    def source(path: Path) -> str:
        return f"{city.directory.name}/{path.name}"

    reports = [import_divisions(session, city.divisions_file.read_bytes(), source=source(city.divisions_file))]
    if city.hosts_file is not None:
        reports.append(apply_hosts(session, city.hosts_file.read_bytes(), source=source(city.hosts_file)))
    for path in city.boundary_files:
        reports.append(import_boundaries(session, path.read_bytes(), source=source(path)))
    reports.append(generate_grid_layer(session))
    return reports


# ---------------------------------------------------------------- reads


def names_of(session: Session, codes: Iterable[str]) -> dict[str, str]:
    """Names of many divisions (12 digits) in one query; unknown codes are left out."""
    return {code: d.name for code, d in repository.get_divisions(session, codes).items()}


def grid_names_of(session: Session, codes: Iterable[str]) -> dict[str, str]:
    """Names of many grids (15 digits) in one query; unknown codes are left out."""
    return {g.code: g.name for g in repository.grids_by_codes(session, sorted(set(codes)))}


def grid_points_of(session: Session, codes: Iterable[str]) -> dict[str, tuple[str, float, float]]:
    """(name, lng, lat) of many grids (15 digits), the point lying inside each; unknown codes left out."""
    return {g.code: (g.name, g.lng, g.lat) for g in repository.grids_by_codes(session, sorted(set(codes)))}


def name_of(session: Session, code: str) -> str | None:
    """The name of a division (12 digits) or grid (15 digits); None if unknown."""
    if len(code) == 15:
        grid = repository.grid_by_code(session, code)
        return grid.name if grid else None
    division = repository.division_by_code(session, code)
    return division.name if division else None


def chain_of(session: Session, code: str) -> list[DivisionBrief]:
    """The divisions above a grid or division, nearest first, up to the top imported one."""
    out: list[DivisionBrief] = []
    current: str | None = code[:12] if len(code) == 15 else code
    seen: set[str] = set()
    while current and current not in seen:
        seen.add(current)
        d = repository.division_by_code(session, current)
        if d is None:
            break
        out.append(DivisionBrief(code=d.code, name=d.name, level=d.level))
        current = d.parent_code
    return out


def _division_not_found() -> NotFound:
    return NotFound("区划", "division")


def _grid_not_found() -> NotFound:
    return NotFound("网格", "grid")


def _read(d: Division, child_count: int) -> DivisionRead:
    return DivisionRead(
        code=d.code,
        name=d.name,
        level=d.level,
        parent_code=d.parent_code,
        urban_rural_code=d.urban_rural_code,
        lng=d.lng,
        lat=d.lat,
        point_source=d.point_source,
        host_code=d.host_code,
        has_boundary=d.boundary is not None,
        boundary_generated=d.boundary_generated,
        child_count=child_count,
    )


def _grid_as_division(grid: Grid) -> DivisionRead:
    """A grid as the leaf of the division tree: a grid worker's jurisdiction is one grid, so the
    tree rooted at it has that one node (issue 11: the tree asked for a 15-digit code and got 422)."""
    return DivisionRead(
        code=grid.code, name=grid.name, level="grid", parent_code=grid.village_code, urban_rural_code=None,
        lng=grid.lng, lat=grid.lat, point_source="generated" if grid.generated else None, host_code=None,
        has_boundary=grid.boundary is not None, boundary_generated=grid.generated, child_count=0,
    )


def get_division(session: Session, principal: Principal, code: str) -> DivisionRead:
    """A division inside the caller's jurisdiction (404 otherwise); a 15-digit grid code answers
    the grid as a leaf of the tree."""
    if len(code) == 15:
        grid = repository.get_grid(session, code, principal)
        if grid is None:
            raise _grid_not_found()
        return _grid_as_division(grid)
    d = repository.get_division(session, code, principal)
    if d is None:
        raise _division_not_found()
    return _read(d, repository.child_counts(session, [code], principal).get(code, 0))


def list_children(session: Session, principal: Principal, code: str) -> list[DivisionRead]:
    """The in-scope children of a division the caller governs (404 if it does not); a grid has none."""
    if len(code) == 15:
        if repository.get_grid(session, code, principal) is None:
            raise _grid_not_found()
        return []
    if repository.get_division(session, code, principal) is None:
        raise _division_not_found()
    kids = repository.children(session, code, principal)
    counts = repository.child_counts(session, [k.code for k in kids], principal)
    return [_read(k, counts.get(k.code, 0)) for k in kids]


def _grid_read(session: Session, grid: Grid) -> GridRead:
    return GridRead(
        code=grid.code,
        name=grid.name,
        kind=grid.kind,
        village_code=grid.village_code,
        lng=grid.lng,
        lat=grid.lat,
        area_km2=grid.area_km2,
        generated=grid.generated,
        chain=chain_of(session, grid.code),
    )


def get_grid(session: Session, principal: Principal, code: str) -> GridRead:
    """A grid inside the caller's jurisdiction, with its chain (404 otherwise)."""
    grid = repository.get_grid(session, code, principal)
    if grid is None:
        raise _grid_not_found()
    return _grid_read(session, grid)


class OutsideCity(AppError):
    status = 404
    code = "not_found"


def locate_code(session: Session, lng: float, lat: float) -> str | None:
    """The grid code holding a WGS-84 point, or None (no jurisdiction check: for other services)."""
    return index_for(session).locate(lng, lat)


def locate(session: Session, principal: Principal, lng: float, lat: float) -> GridRead:
    """The grid holding a WGS-84 point and its chain; 404 outside every grid or outside the
    caller's jurisdiction."""
    code = locate_code(session, lng, lat)
    if code is None:
        raise OutsideCity("该位置不在本市任何网格内", "This location is not inside any grid of the city")
    grid = repository.get_grid(session, code, principal)
    if grid is None:  # the index is a moment behind a deletion
        raise _grid_not_found()
    return _grid_read(session, grid)


_map_cache: OrderedDict[tuple[str, str, bool], list[dict[str, Any]]] = OrderedDict()
_MAP_CACHE_SIZE = 256


def boundaries_geojson(
    session: Session, principal: Principal, code: str, *, outline: bool = False
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection (WGS-84) for the map: the outlines one level below ``code``
    (city → counties, county → townships, including those of statistical-only units it hosts,
    township → villages, village → grids), or with ``outline`` the division's own outline.
    Only features inside the caller's jurisdiction are returned; ``code`` itself must be in it, or be
    the village holding a grid-level caller's grid (the intake and 12345 maps start on the village:
    that caller sees its own grid drawn there, nothing else). A 15-digit grid code answers the grid's
    own outline (a grid has nothing below it), which is all a grid worker's map may show.
    """
    if len(code) == 15:
        return _grid_outline(session, principal, code)
    division = repository.get_division(session, code, principal)
    if division is None and len(principal.jurisdiction) == 15 and principal.jurisdiction[:12] == code:
        division = repository.division_by_code(session, code)
    if division is None:
        raise _division_not_found()
    key = (
        repository.latest_import_version(session) + "|" + str(session.get_bind().engine.url),
        code,
        outline,
    )
    features = _map_cache.get(key)
    if features is None:
        features = _build_features(session, division, outline)
        _map_cache[key] = features
        while len(_map_cache) > _MAP_CACHE_SIZE:
            _map_cache.popitem(last=False)
    else:
        _map_cache.move_to_end(key)
    visible = [f for f in features if in_scope(f["properties"]["code"], principal.jurisdiction)]
    return {
        "type": "FeatureCollection",
        "features": visible,
        "properties": {"code": division.code, "name": division.name, "level": division.level},
    }


def _grid_outline(session: Session, principal: Principal, code: str) -> dict[str, Any]:
    grid = repository.get_grid(session, code, principal)
    if grid is None:
        raise _grid_not_found()
    feature = _feature(grid.code, grid.name, "grid", grid.generated, read_geometry(grid.boundary))
    return {"type": "FeatureCollection", "features": [feature],
            "properties": {"code": grid.code, "name": grid.name, "level": "grid"}}


def _feature(code: str, name: str, level: str, generated: bool, geom: BaseGeometry) -> dict[str, Any]:
    """One map feature, with a label point inside it and rounded coordinates."""
    label = geom.representative_point() if not geom.is_empty else None
    return {
        "type": "Feature",
        "properties": {
            "code": code,
            "name": name,
            "level": level,
            "generated": generated,
            "label": [round(label.x, MAP_DECIMALS), round(label.y, MAP_DECIMALS)] if label else None,
        },
        "geometry": round_coords(shapely.geometry.mapping(geom), MAP_DECIMALS),
    }


def _build_features(session: Session, division: Division, outline: bool) -> list[dict[str, Any]]:
    items: list[tuple[str, str, str, bool, str]] = []  # code, name, level, generated, boundary
    if outline:
        if division.boundary:
            items.append(
                (division.code, division.name, division.level, division.boundary_generated, division.boundary)
            )
    elif division.level == "village":
        for g in repository.map_grids_of_village(session, division.code):
            items.append((g.code, g.name, "grid", g.generated, g.boundary))
    else:
        kids = repository.map_children(session, division.code)
        if division.level == "county":
            kids += repository.map_hosted_children(session, division.code)
        for k in kids:
            if k.boundary and not k.host_code:  # a hosted unit is drawn through its host county
                items.append((k.code, k.name, k.level, k.boundary_generated, k.boundary))
    if not items:
        return []
    geoms = [read_geometry(text) for *_, text in items]
    tolerance = MAP_TOLERANCE.get(division.level, 0.00005) if not outline else 0.0002
    simplified = _simplify(geoms, tolerance)
    return [_feature(code, name, level, generated, geom)
            for (code, name, level, generated, _), geom in zip(items, simplified, strict=True)]


def _simplify(geoms: list[BaseGeometry], tolerance: float) -> list[BaseGeometry]:
    """Simplify neighbouring outlines together when GEOS can (shared borders stay shared)."""
    try:
        result = shapely.coverage_simplify(geoms, tolerance)
        out = list(result)
        if all(g.is_valid and not g.is_empty for g in out):
            return out
    except Exception:  # older GEOS, or outlines that are not a clean coverage
        pass
    return [g.simplify(tolerance, preserve_topology=True) for g in geoms]


def counts(session: Session, principal: Principal) -> dict[str, int]:
    """How many divisions of each level and grids lie in the caller's jurisdiction."""
    out = repository.count_by_level(session, principal)
    out["grid"] = repository.count_grids(session, principal)
    return out


# ---------------------------------------------------------------- responsibility areas


def area_polygon(geometry: dict[str, Any]) -> BaseGeometry:
    """A drawn responsibility area as shapely: a GeoJSON Polygon or MultiPolygon in WGS-84
    longitude/latitude, valid and inside the plausible range. :class:`Invalid` (422) otherwise."""
    try:
        geom = shapely.geometry.shape(geometry)
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        raise Invalid("责任区多边形不是有效的 GeoJSON", "The area polygon is not valid GeoJSON",
                      details={"field": "polygon"}) from exc
    if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
        raise Invalid("责任区应为 Polygon 或 MultiPolygon", "The area must be a Polygon or a MultiPolygon",
                      details={"field": "polygon"})
    x0, y0, x1, y1 = geom.bounds
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise Invalid("责任区坐标应为 WGS-84 经纬度", "Area coordinates must be WGS-84 longitude/latitude",
                      details={"field": "polygon"})
    if not geom.is_valid:
        raise Invalid("责任区多边形自相交或无效", "The area polygon intersects itself or is invalid",
                      details={"field": "polygon"})
    return geom


def snap_to_grids(session: Session, geom: BaseGeometry, prefix: str) -> list[str]:
    """The grids inside ``prefix`` whose representative point (``Grid.lng/lat``, a point guaranteed
    inside the grid) lies inside the polygon, by code. Boundaries of grids are not cut: a grid is
    wholly in the area or not at all."""
    candidates = repository.grid_points_in_box(session, prefix, geom.bounds)
    if not candidates:
        return []
    shapely.prepare(geom)
    inside = shapely.contains_xy(geom, [c[1] for c in candidates], [c[2] for c in candidates])
    return [c[0] for c, hit in zip(candidates, inside.tolist(), strict=True) if hit]


def grid_villages(session: Session, codes: list[str], prefix: str) -> dict[str, str]:
    """Grid code → village code for the grids among ``codes`` that exist inside ``prefix``."""
    return repository.grid_villages(session, codes, prefix)


def grid_counts_by_village(session: Session, villages: list[str]) -> dict[str, int]:
    """How many grids each village has (to tell whether an area holds a whole village)."""
    return repository.grid_counts_by_village(session, villages)
