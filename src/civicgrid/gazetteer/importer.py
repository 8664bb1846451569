"""Parsing the named-places CSV (docs/data-format.md, 地名导入格式).

Columns: ``name,aliases,kind,lng,lat,crs,division_code`` and an optional ``generated``
(``true`` for invented demo rows). ``aliases`` is ``|``-separated; ``crs`` is ``gcj02`` (what
Chinese web maps give) or ``wgs84``. A malformed file is refused whole with its line number.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from civicgrid.geo.gcj02 import gcj02_to_wgs84
from civicgrid.kit.errors import AppError

KINDS: dict[str, tuple[str, str]] = {
    "compound": ("小区", "residential compound"),
    "school": ("学校", "school"),
    "market": ("市场", "market"),
    "hospital": ("医院", "hospital or clinic"),
    "bus_stop": ("公交站", "bus stop"),
    "station": ("车站", "bus or railway station"),
    "government": ("机关", "government office"),
    "park": ("公园广场", "park or square"),
    "landmark": ("地标", "landmark"),
    "other": ("其他", "other"),
}
REQUIRED = ("name", "aliases", "kind", "lng", "lat", "crs", "division_code")
# Yongzhou lies well inside these; a swapped or mistyped coordinate does not.
LNG_RANGE = (73.0, 136.0)
LAT_RANGE = (3.0, 54.0)


class PlacesRefused(AppError):
    status = 422
    code = "places_refused"


@dataclass(frozen=True)
class PlaceRow:
    name: str
    aliases: tuple[str, ...]
    kind: str
    lng: float  # WGS-84
    lat: float
    division_code: str
    generated: bool


def _refuse(line: int, zh: str, en: str) -> PlacesRefused:
    return PlacesRefused(f"第 {line} 行：{zh}", f"line {line}: {en}")


def _number(raw: str, line: int, column: str, bounds: tuple[float, float]) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise _refuse(line, f"{column} 不是数字：{raw!r}", f"{column} is not a number: {raw!r}") from None
    if not bounds[0] <= value <= bounds[1]:
        raise _refuse(line, f"{column} 超出中国范围：{value}", f"{column} outside China: {value}")
    return value


def parse_places_csv(data: bytes, known_divisions: set[str]) -> list[PlaceRow]:
    """The rows of a places file, coordinates in WGS-84; refuses the whole file on the first error."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PlacesRefused("文件不是 UTF-8 编码", "the file is not UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise PlacesRefused(f"缺少列：{', '.join(missing)}", f"missing columns: {', '.join(missing)}")
    rows: list[PlaceRow] = []
    seen: set[tuple[str, str]] = set()
    for line, raw in enumerate(reader, start=2):
        name = (raw.get("name") or "").strip()
        if not name or len(name) > 100:
            raise _refuse(line, "名称为空或超过 100 字", "name empty or longer than 100 characters")
        kind = (raw.get("kind") or "").strip()
        if kind not in KINDS:
            raise _refuse(line, f"未知类别 {kind!r}（可选：{'、'.join(KINDS)}）",
                          f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
        code = (raw.get("division_code") or "").strip()
        if code not in known_divisions:
            raise _refuse(line, f"区划代码 {code!r} 不存在", f"unknown division code {code!r}")
        lng = _number((raw.get("lng") or "").strip(), line, "lng", LNG_RANGE)
        lat = _number((raw.get("lat") or "").strip(), line, "lat", LAT_RANGE)
        crs = (raw.get("crs") or "").strip().lower()
        if crs == "gcj02":
            lng, lat = gcj02_to_wgs84(lng, lat)
        elif crs != "wgs84":
            raise _refuse(line, f"坐标系应为 gcj02 或 wgs84：{crs!r}", f"crs must be gcj02 or wgs84: {crs!r}")
        if (code, name) in seen:
            raise _refuse(line, f"同一区划内名称重复：{name}", f"duplicate name in one division: {name}")
        seen.add((code, name))
        aliases = tuple(a.strip() for a in (raw.get("aliases") or "").split("|") if a.strip())
        generated = (raw.get("generated") or "").strip().lower() in ("1", "true", "yes")
        rows.append(PlaceRow(name, aliases, kind, round(lng, 7), round(lat, 7), code, generated))
    return rows
