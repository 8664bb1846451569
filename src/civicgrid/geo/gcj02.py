"""GCJ-02 ("Mars coordinates", the datum of Amap/AutoNavi and Tencent maps) ↔ WGS-84.

GCJ-02 is WGS-84 plus a deliberate, smooth offset of a few hundred metres that is defined
only by its forward formula (WGS-84 → GCJ-02); the state publishes no inverse. We use the
forward formula as circulated publicly since 2009 (Krasovsky 1940 ellipsoid,
a = 6378245 m, e² = 0.00669342162296594323) and invert it numerically: start from the
GCJ-02 point and repeat ``wgs += gcj − forward(wgs)``. The offset's gradient is about 1e-5
per degree, so each step shrinks the error by roughly five orders of magnitude; two to three
steps reach 1e-9° (0.1 mm), and we stop below 1e-10° or after 10 steps. The published
formula itself is the residual error versus the real (secret) implementation: about 1 m.

Outside China (the usual rectangle test) both datums coincide and points pass unchanged.
Everything is vectorised with numpy so whole polygons convert in one call.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

A = 6378245.0
EE = 0.00669342162296594323
TOLERANCE_DEG = 1e-10
MAX_ITERATIONS = 10

FloatArray = npt.NDArray[np.float64]


def out_of_china(lng: Any, lat: Any) -> Any:
    """True where a point is outside the rectangle in which GCJ-02 applies an offset."""
    return (lng < 72.004) | (lng > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _offset(lng: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The GCJ-02 offset in degrees (Δlng, Δlat) at a WGS-84 point."""
    x = lng - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    d_lat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * sqrt_abs_x
        + common
        + (20.0 * np.sin(y * math.pi) + 40.0 * np.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * math.pi) + 320.0 * np.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    )
    d_lng = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * sqrt_abs_x
        + common
        + (20.0 * np.sin(x * math.pi) + 40.0 * np.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * math.pi) + 300.0 * np.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    )
    rad_lat = lat / 180.0 * math.pi
    magic = 1.0 - EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * math.pi)
    d_lng = (d_lng * 180.0) / (A / sqrt_magic * np.cos(rad_lat) * math.pi)
    return d_lng, d_lat


def wgs84_to_gcj02_array(lng: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Forward transform of arrays of WGS-84 points."""
    lng_a = np.asarray(lng, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    d_lng, d_lat = _offset(lng_a, lat_a)
    outside = out_of_china(lng_a, lat_a)
    return np.where(outside, lng_a, lng_a + d_lng), np.where(outside, lat_a, lat_a + d_lat)


def gcj02_to_wgs84_array(lng: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Inverse transform of arrays of GCJ-02 points (iterated to < 1e-10°)."""
    g_lng = np.asarray(lng, dtype=np.float64)
    g_lat = np.asarray(lat, dtype=np.float64)
    w_lng = g_lng.copy()
    w_lat = g_lat.copy()
    for _ in range(MAX_ITERATIONS):
        f_lng, f_lat = wgs84_to_gcj02_array(w_lng, w_lat)
        e_lng = g_lng - f_lng
        e_lat = g_lat - f_lat
        w_lng = w_lng + e_lng
        w_lat = w_lat + e_lat
        if e_lng.size == 0 or max(float(np.max(np.abs(e_lng))), float(np.max(np.abs(e_lat)))) < TOLERANCE_DEG:
            break
    return w_lng, w_lat


def wgs84_to_gcj02(lng: float, lat: float) -> tuple[float, float]:
    """Forward transform of one WGS-84 point → (lng, lat) in GCJ-02."""
    out_lng, out_lat = wgs84_to_gcj02_array([lng], [lat])
    return float(out_lng[0]), float(out_lat[0])


def gcj02_to_wgs84(lng: float, lat: float) -> tuple[float, float]:
    """Inverse transform of one GCJ-02 point → (lng, lat) in WGS-84."""
    out_lng, out_lat = gcj02_to_wgs84_array([lng], [lat])
    return float(out_lng[0]), float(out_lat[0])


def geometry_gcj02_to_wgs84(geometry: dict[str, Any]) -> dict[str, Any]:
    """Convert every coordinate of a GeoJSON geometry (Point … MultiPolygon) to WGS-84."""
    kind = geometry["type"]
    if kind == "GeometryCollection":
        return {"type": kind, "geometries": [geometry_gcj02_to_wgs84(g) for g in geometry["geometries"]]}
    coords = geometry["coordinates"]
    flat: list[list[float]] = []

    def collect(node: Any) -> None:
        if node and isinstance(node[0], int | float):
            flat.append([float(node[0]), float(node[1])])
        else:
            for child in node:
                collect(child)

    collect(coords)
    if not flat:
        return {"type": kind, "coordinates": coords}
    arr = np.asarray(flat, dtype=np.float64)
    w_lng, w_lat = gcj02_to_wgs84_array(arr[:, 0], arr[:, 1])
    it = iter(zip(w_lng.tolist(), w_lat.tolist(), strict=True))

    def rebuild(node: Any) -> Any:
        if node and isinstance(node[0], int | float):
            x, y = next(it)
            return [x, y]
        return [rebuild(child) for child in node]

    return {"type": kind, "coordinates": rebuild(coords)}
