"""The city this deployment governs: its code, names, matter-number prefix, default map extent
and the reference data it loads (divisions, outlines, named places, its matter catalogue).

Everything city-specific is read from one directory holding a ``city.json`` (Yongzhou's ships in
``data/yongzhou/``); ``CIVICGRID_CITY_DIR`` points at another city's. No code names a city: a second
city is a second directory (tests/data/cities/ has a small made-up one).

``city.json``::

    {"code": "431100000000",                   # the city's 12-digit division code
     "name": {"zh-CN": "永州市", "en": "Yongzhou"},
     "short_name": "永州",                      # what people say; the gazetteer drops it in front
     "province": {"zh-CN": "湖南省", "en": "Hunan"}, "province_short_name": "湖南",
     "matter_number_prefix": "YZ",             # YZ-20261203-000001
     "map": {"west": 110.9, "south": 24.6, "east": 112.4, "north": 26.9},   # GCJ-02 degrees
     "files": {"divisions": "divisions.csv", "hosts": "hosts.csv",
               "boundaries": ["city.geojson", "counties.geojson"],
               "places": "places.generated.csv", "catalogue": "../matters/catalogue.json"}}

File names are relative to the directory; a missing optional file is skipped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from civicgrid.config import DATA_DIR, get_settings

DEFAULT_CITY_DIR = DATA_DIR / "yongzhou"
_PREFIX = re.compile(r"^[A-Z]{1,4}$")
_CODE = re.compile(r"^\d{4}0{8}$")


class CityConfigError(ValueError):
    """``city.json`` is missing or wrong; the message names the file and the field (zh / en)."""


@dataclass(frozen=True)
class MapExtent:
    """The map's default view: a box in GCJ-02 degrees."""

    west: float
    south: float
    east: float
    north: float

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.west + self.east) / 2, (self.south + self.north) / 2)


@dataclass(frozen=True)
class City:
    directory: Path
    code: str
    name_zh: str
    name_en: str
    short_name: str
    province_zh: str
    province_en: str
    province_short_name: str
    matter_number_prefix: str
    map: MapExtent
    divisions_file: Path
    hosts_file: Path | None
    boundary_files: tuple[Path, ...]
    places_file: Path | None
    catalogue_file: Path | None

    @property
    def prefix(self) -> str:
        """The division-code prefix of everything in the city (4311 for Yongzhou)."""
        return self.code[:4]

    def name(self, language: str) -> str:
        return self.name_en if language.startswith("en") else self.name_zh

    def spoken_names(self) -> tuple[str, ...]:
        """Words naming the province or the city that may stand in front of an address, longest
        first (湖南省, 湖南, 永州市, 永州)."""
        words = {self.province_zh, self.province_short_name, self.name_zh, self.short_name}
        return tuple(sorted((w for w in words if w), key=lambda w: (-len(w), w)))


def _fail(path: Path, field: str, zh: str, en: str) -> CityConfigError:
    return CityConfigError(f"{path}：{field} {zh} / {path}: {field} {en}")


def load_city(directory: Path) -> City:
    """Read and check ``directory/city.json``."""
    path = directory / "city.json"
    try:
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CityConfigError(f"找不到城市配置 {path} / city configuration {path} not found") from exc
    except json.JSONDecodeError as exc:
        raise CityConfigError(f"{path} 不是有效的 JSON（第 {exc.lineno} 行）/ {path} is not valid JSON "
                              f"(line {exc.lineno})") from exc

    def text(obj: dict[str, Any], key: str, field: str, *, required: bool = True) -> str:
        value = obj.get(key, "")
        if not isinstance(value, str) or (required and not value.strip()):
            raise _fail(path, field, "必须填写文字", "must be a non-empty string")
        return value.strip()

    code = text(raw, "code", "code")
    if not _CODE.match(code):
        raise _fail(path, "code", "必须是市级 12 位区划代码（如 431100000000）",
                    "must be a 12-digit city-level division code (e.g. 431100000000)")
    names = raw.get("name") or {}
    province = raw.get("province") or {}
    if not isinstance(names, dict) or not isinstance(province, dict):
        raise _fail(path, "name/province", "必须是 {\"zh-CN\": …, \"en\": …}", "must be {\"zh-CN\": …, \"en\": …}")
    prefix = text(raw, "matter_number_prefix", "matter_number_prefix")
    if not _PREFIX.match(prefix):
        raise _fail(path, "matter_number_prefix", "必须是 1–4 个大写字母", "must be 1–4 capital letters")
    box = raw.get("map") or {}
    try:
        extent = MapExtent(float(box["west"]), float(box["south"]), float(box["east"]), float(box["north"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(path, "map", "必须给出 west/south/east/north 经纬度", "must give west/south/east/north degrees") \
            from exc
    if not (-180 <= extent.west < extent.east <= 180 and -90 <= extent.south < extent.north <= 90):
        raise _fail(path, "map", "范围无效", "is not a valid box")
    files = raw.get("files") or {}

    def optional(name: str | None) -> Path | None:
        if not name:
            return None
        p = (directory / name).resolve()
        return p if p.is_file() else None

    divisions = optional(files.get("divisions", "divisions.csv"))
    if divisions is None:
        raise _fail(path, "files.divisions", "指向的区划文件不存在", "names no existing divisions file")
    return City(
        directory=directory, code=code,
        name_zh=text(names, "zh-CN", "name.zh-CN"), name_en=text(names, "en", "name.en"),
        short_name=text(raw, "short_name", "short_name", required=False),
        province_zh=text(province, "zh-CN", "province.zh-CN", required=False),
        province_en=text(province, "en", "province.en", required=False),
        province_short_name=text(raw, "province_short_name", "province_short_name", required=False),
        matter_number_prefix=prefix, map=extent, divisions_file=divisions,
        hosts_file=optional(files.get("hosts")),
        boundary_files=tuple(p for p in (optional(n) for n in files.get("boundaries", [])) if p is not None),
        places_file=optional(files.get("places")),
        catalogue_file=optional(files.get("catalogue")),
    )


@lru_cache(maxsize=1)
def get_city() -> City:
    """The configured city (``CIVICGRID_CITY_DIR``, Yongzhou by default); cached like the settings."""
    configured = get_settings().city_dir
    return load_city(Path(configured) if configured else DEFAULT_CITY_DIR)
