"""Reading and validating the import formats (docs/data-format.md); no database access here.

Every problem is reported with where it is (CSV line number, GeoJSON feature number) and why,
in Chinese and English, and a file with any problem is refused as a whole: the service only
writes once the entire file has been read cleanly.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from civicgrid.geo.gcj02 import gcj02_to_wgs84, geometry_gcj02_to_wgs84
from civicgrid.kit.errors import AppError

LEVELS = ("city", "county", "township", "village")
REQUIRED_COLUMNS = ("code", "name", "level", "parent_code")
OPTIONAL_COLUMNS = ("urban_rural_code", "lng", "lat", "attr_source", "host_code")
DATUMS = ("gcj02", "wgs84")
# Plausible bounds for a point in China, WGS-84 or GCJ-02 (both differ by < 0.01°).
LNG_RANGE = (73.0, 136.0)
LAT_RANGE = (3.0, 54.0)
GRID_KINDS = ("comprehensive", "dedicated")


class ImportRefused(AppError):
    """A reference-data file that cannot be imported; nothing of it is written."""

    status = 422
    code = "import_refused"


@dataclass(frozen=True)
class DivisionRow:
    """One validated line of a divisions CSV (coordinates already in WGS-84)."""

    line: int
    code: str
    name: str
    level: str
    parent_code: str | None
    urban_rural_code: str | None
    lng: float | None
    lat: float | None
    attr_source: str | None
    host_code: str | None


@dataclass(frozen=True)
class BoundaryFeature:
    """A validated polygon for a division or a grid (WGS-84, made valid)."""

    index: int
    code: str
    name: str | None
    kind: str | None
    geometry: BaseGeometry


def digest(data: bytes) -> str:
    """SHA-256 of an input file, recorded with every import."""
    return hashlib.sha256(data).hexdigest()


def level_of_code(code: str) -> str:
    """The level a 12-digit statistical code has by its structure (GB/T 2260 + township/village digits)."""
    if code[4:] == "0" * 8:
        return "city"
    if code[6:] == "0" * 6:
        return "county"
    if code[9:] == "000":
        return "township"
    return "village"


def _refuse_line(line: int, zh: str, en: str) -> ImportRefused:
    return ImportRefused(f"第 {line} 行：{zh}", f"line {line}: {en}", details={"line": line})


def _is_code(value: str, digits: int = 12) -> bool:
    return len(value) == digits and value.isdigit()


def _coordinate(raw: str, line: int, column: str, bounds: tuple[float, float]) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise _refuse_line(
            line, f"{column} 不是数字：{raw!r}", f"{column} is not a number: {raw!r}"
        ) from None
    if not math.isfinite(value) or not bounds[0] <= value <= bounds[1]:
        raise _refuse_line(
            line,
            f"{column} 超出中国范围（{bounds[0]}–{bounds[1]}）：{raw}",
            f"{column} outside China ({bounds[0]}–{bounds[1]}): {raw}",
        )
    return value


def parse_divisions_csv(
    data: bytes, *, datum: str = "gcj02", known_parents: dict[str, str] | None = None
) -> list[DivisionRow]:
    """Parse and validate a divisions CSV; returns rows ordered parents first.

    ``known_parents`` maps codes already in the database to their level, so a file may add
    villages under townships imported earlier. The top row's parent (e.g. the province) may be
    outside both. Raises :class:`ImportRefused` naming the first bad line.
    """
    if datum not in DATUMS:
        raise ImportRefused(f"未知坐标系：{datum}", f"unknown datum: {datum}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused("文件不是 UTF-8 编码", f"file is not UTF-8: {exc}") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ImportRefused("文件为空", "file is empty", details={"line": 1}) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise _refuse_line(1, f"缺少列：{', '.join(missing)}", f"missing columns: {', '.join(missing)}")
    unknown = [c for c in header if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise _refuse_line(1, f"未知列：{', '.join(unknown)}", f"unknown columns: {', '.join(unknown)}")
    pos = {name: i for i, name in enumerate(header)}

    rows: dict[str, DivisionRow] = {}
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            raise _refuse_line(
                line,
                f"应有 {len(header)} 列，实有 {len(record)} 列",
                f"expected {len(header)} fields, found {len(record)}",
            )

        def cell(name: str, record: list[str] = record) -> str:
            return record[pos[name]].strip() if name in pos else ""

        code = cell("code")
        if not _is_code(code):
            raise _refuse_line(
                line, f"区划代码必须是 12 位数字：{code!r}", f"code must be 12 digits: {code!r}"
            )
        if code in rows:
            raise _refuse_line(
                line,
                f"区划代码重复：{code}（首次出现在第 {rows[code].line} 行）",
                f"duplicate code {code} (first on line {rows[code].line})",
            )
        name = cell("name")
        if not name or len(name) > 64:
            raise _refuse_line(line, "名称为空或超过 64 个字符", "name is empty or longer than 64 characters")
        level = cell("level")
        if level not in LEVELS:
            raise _refuse_line(
                line,
                f"层级必须是 {'/'.join(LEVELS)} 之一：{level!r}",
                f"level must be one of {'/'.join(LEVELS)}: {level!r}",
            )
        if level_of_code(code) != level:
            raise _refuse_line(
                line,
                f"代码 {code} 的结构与层级 {level} 不符",
                f"code {code} is not shaped like a {level} code",
            )
        parent = cell("parent_code") or None
        if parent is not None and not _is_code(parent):
            raise _refuse_line(
                line, f"上级代码必须是 12 位数字：{parent!r}", f"parent_code must be 12 digits: {parent!r}"
            )
        urban = cell("urban_rural_code") or None
        if urban is not None and not _is_code(urban, 3):
            raise _refuse_line(
                line,
                f"城乡分类代码必须是 3 位数字：{urban!r}",
                f"urban_rural_code must be 3 digits: {urban!r}",
            )
        raw_lng, raw_lat = cell("lng"), cell("lat")
        lng = lat = None
        if raw_lng or raw_lat:
            if not (raw_lng and raw_lat):
                raise _refuse_line(
                    line,
                    "经度和纬度必须同时填写或同时留空",
                    "lng and lat must both be given or both be empty",
                )
            lng = _coordinate(raw_lng, line, "lng", LNG_RANGE)
            lat = _coordinate(raw_lat, line, "lat", LAT_RANGE)
            if datum == "gcj02":
                lng, lat = gcj02_to_wgs84(lng, lat)
        source = cell("attr_source") or None
        if source is not None and len(source) > 32:
            raise _refuse_line(line, "attr_source 超过 32 个字符", "attr_source longer than 32 characters")
        host = cell("host_code") or None
        if host is not None and not _is_code(host):
            raise _refuse_line(
                line, f"host_code 必须是 12 位数字：{host!r}", f"host_code must be 12 digits: {host!r}"
            )
        rows[code] = DivisionRow(line, code, name, level, parent, urban, lng, lat, source, host)

    if not rows:
        raise ImportRefused("文件没有数据行", "file has no data rows", details={"line": 2})
    known = known_parents or {}
    levels = {code: row.level for code, row in rows.items()}
    for row in rows.values():
        _check_parent(row, levels, known)
    return sorted(rows.values(), key=lambda r: (LEVELS.index(r.level), r.code))


def _check_parent(row: DivisionRow, levels: dict[str, str], known: dict[str, str]) -> None:
    index = LEVELS.index(row.level)
    if row.parent_code is None:
        if index != 0:
            raise _refuse_line(row.line, "缺少上级代码", "parent_code is missing")
        return
    parent_level = levels.get(row.parent_code) or known.get(row.parent_code)
    if parent_level is None:
        if index == 0:  # the top of the file hangs under something outside it (a province)
            return
        raise _refuse_line(
            row.line,
            f"上级 {row.parent_code} 不在文件或数据库中",
            f"parent {row.parent_code} is neither in the file nor in the database",
        )
    if LEVELS.index(parent_level) != index - 1:
        raise _refuse_line(
            row.line,
            f"上级 {row.parent_code} 的层级是 {parent_level}，不是 {LEVELS[index - 1]}",
            f"parent {row.parent_code} is a {parent_level}, not a {LEVELS[index - 1]}",
        )
    prefix = {"county": 4, "township": 6, "village": 9}[row.level]
    if row.code[:prefix] != row.parent_code[:prefix]:
        raise _refuse_line(
            row.line,
            f"代码 {row.code} 不在上级 {row.parent_code} 之下",
            f"code {row.code} does not lie under its parent {row.parent_code}",
        )


def _refuse_feature(index: int, zh: str, en: str) -> ImportRefused:
    return ImportRefused(f"第 {index} 个要素：{zh}", f"feature {index}: {en}", details={"feature": index})


def parse_polygons_geojson(data: bytes, *, digits: int, datum: str = "gcj02") -> list[BoundaryFeature]:
    """Parse a GeoJSON FeatureCollection of (Multi)Polygons keyed by a ``code`` property.

    ``digits`` is 12 for division boundaries and 15 for grids. Invalid rings (self-touching
    outlines are common in published data) are repaired with ``make_valid`` and only the
    polygonal part is kept. Features are numbered from 1 in error messages.
    """
    if datum not in DATUMS:
        raise ImportRefused(f"未知坐标系：{datum}", f"unknown datum: {datum}")
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportRefused("不是合法的 GeoJSON 文件", f"not a valid GeoJSON file: {exc}") from None
    if (
        not isinstance(doc, dict)
        or doc.get("type") != "FeatureCollection"
        or not isinstance(doc.get("features"), list)
    ):
        raise ImportRefused("GeoJSON 必须是 FeatureCollection", "GeoJSON must be a FeatureCollection")
    out: list[BoundaryFeature] = []
    seen: dict[str, int] = {}
    for index, feature in enumerate(doc["features"], start=1):
        if not isinstance(feature, dict):
            raise _refuse_feature(index, "不是要素对象", "not a Feature object")
        props = feature.get("properties") or {}
        code = str(props.get("code", "")).strip()
        if not _is_code(code, digits):
            raise _refuse_feature(
                index,
                f"code 属性必须是 {digits} 位数字：{code!r}",
                f"property code must be {digits} digits: {code!r}",
            )
        if code in seen:
            raise _refuse_feature(
                index,
                f"代码重复：{code}（首次出现在第 {seen[code]} 个要素）",
                f"duplicate code {code} (first in feature {seen[code]})",
            )
        seen[code] = index
        geometry = feature.get("geometry")
        if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
            raise _refuse_feature(
                index, "几何必须是 Polygon 或 MultiPolygon", "geometry must be a Polygon or MultiPolygon"
            )
        try:
            converted = geometry_gcj02_to_wgs84(geometry) if datum == "gcj02" else geometry
            geom = shape(converted)
        except Exception as exc:
            raise _refuse_feature(index, f"几何无法解析：{exc}", f"geometry cannot be read: {exc}") from None
        geom = polygonal(geom)
        if geom.is_empty or geom.area <= 0:
            raise _refuse_feature(index, "多边形为空或面积为零", "polygon is empty or has no area")
        lng0, lat0, lng1, lat1 = geom.bounds
        if lng0 < LNG_RANGE[0] or lng1 > LNG_RANGE[1] or lat0 < LAT_RANGE[0] or lat1 > LAT_RANGE[1]:
            raise _refuse_feature(
                index,
                "坐标超出中国范围（需要经度, 纬度顺序）",
                "coordinates outside China (expected lng, lat order)",
            )
        name = props.get("name")
        kind = props.get("kind")
        if kind is not None and kind not in GRID_KINDS:
            raise _refuse_feature(
                index, f"kind 必须是 {'/'.join(GRID_KINDS)} 之一", f"kind must be one of {GRID_KINDS}"
            )
        out.append(BoundaryFeature(index, code, str(name)[:64] if name else None, kind, geom))
    if not out:
        raise ImportRefused("文件没有要素", "file has no features")
    return out


def polygonal(geom: BaseGeometry) -> BaseGeometry:
    """The valid polygonal part of a geometry (repairs self-intersections, drops slivers' lines)."""
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return shapely.MultiPolygon()
    return shapely.union_all(parts)


def geometry_json(geom: BaseGeometry, precision: int = 7) -> str:
    """Compact GeoJSON text of a geometry, coordinates rounded (7 decimals ≈ 1 cm)."""
    rounded = shapely.set_precision(geom, 10**-precision) if precision < 12 else geom
    if rounded.is_empty:
        rounded = geom
    return json.dumps(shapely.geometry.mapping(rounded), separators=(",", ":"))


def read_geometry(text: str) -> BaseGeometry:
    """A stored GeoJSON geometry back as shapely."""
    return shape(json.loads(text))


def round_coords(value: Any, digits: int) -> Any:
    """Round the numbers in nested coordinate lists (for smaller map payloads)."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, list | tuple):
        return [round_coords(v, digits) for v in value]
    return value
