"""GCJ-02 ↔ WGS-84 against published point pairs and by round trip."""

from __future__ import annotations

import numpy as np
import pytest

from civicgrid.geo.gcj02 import (
    gcj02_to_wgs84,
    gcj02_to_wgs84_array,
    geometry_gcj02_to_wgs84,
    wgs84_to_gcj02,
    wgs84_to_gcj02_array,
)

# (wgs lng, wgs lat, gcj lng, gcj lat): the test vectors of googollee/eviltransform
# (Shanghai, Shenzhen, Beijing), which every implementation of the public formula reproduces.
KNOWN = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
]


@pytest.mark.parametrize(("w_lng", "w_lat", "g_lng", "g_lat"), KNOWN)
def test_forward_matches_published_pairs(w_lng: float, w_lat: float, g_lng: float, g_lat: float) -> None:
    lng, lat = wgs84_to_gcj02(w_lng, w_lat)
    assert lng == pytest.approx(g_lng, abs=1e-9)
    assert lat == pytest.approx(g_lat, abs=1e-9)


@pytest.mark.parametrize(("w_lng", "w_lat", "g_lng", "g_lat"), KNOWN)
def test_inverse_recovers_wgs84_of_published_pairs(
    w_lng: float, w_lat: float, g_lng: float, g_lat: float
) -> None:
    lng, lat = gcj02_to_wgs84(g_lng, g_lat)
    assert lng == pytest.approx(w_lng, abs=1e-7)
    assert lat == pytest.approx(w_lat, abs=1e-7)


def test_offset_in_yongzhou_is_a_few_hundred_metres_to_the_north_east() -> None:
    # 永州市 seat as published by Amap (GCJ-02); WGS-84 lies about 500 m south-west of it.
    g_lng, g_lat = 111.608019, 26.434516
    lng, lat = gcj02_to_wgs84(g_lng, g_lat)
    assert 0.003 < g_lng - lng < 0.008
    assert -0.004 < g_lat - lat < 0.004


def test_round_trip_over_the_city_is_below_1e7_degrees() -> None:
    rng = np.random.default_rng(7)
    lng = rng.uniform(110.9, 112.4, 5000)
    lat = rng.uniform(24.6, 26.9, 5000)
    w_lng, w_lat = gcj02_to_wgs84_array(*wgs84_to_gcj02_array(lng, lat))
    assert np.max(np.abs(w_lng - lng)) < 1e-7
    assert np.max(np.abs(w_lat - lat)) < 1e-7


def test_outside_china_is_unchanged() -> None:
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
    assert gcj02_to_wgs84(-74.0, 40.7) == (-74.0, 40.7)


def test_geometry_conversion_converts_every_vertex() -> None:
    ring = [[g_lng, g_lat] for _, _, g_lng, g_lat in KNOWN] + [[KNOWN[0][2], KNOWN[0][3]]]
    converted = geometry_gcj02_to_wgs84({"type": "MultiPolygon", "coordinates": [[ring]]})
    out = converted["coordinates"][0][0]
    for (w_lng, w_lat, _, _), (lng, lat) in zip(KNOWN, out, strict=False):
        assert lng == pytest.approx(w_lng, abs=1e-7)
        assert lat == pytest.approx(w_lat, abs=1e-7)
