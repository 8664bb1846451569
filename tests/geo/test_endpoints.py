"""The geo API over real HTTP: answers, and the permission trio on every endpoint."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine

from civicgrid.geo.gcj02 import gcj02_to_wgs84
from tests.conftest import LiveServer, Yongzhou
from tests.factories import (
    assert_out_of_scope_404,
    auth_headers,
    login,
    make_role_committed,
    make_user_committed,
)


@pytest.fixture(scope="module")
def tokens(engine: Engine, live_server: LiveServer, yongzhou: Yongzhou) -> dict[str, str]:
    city = make_user_committed(engine, role="city_plc_staff", division_code=yongzhou.city)
    county = make_user_committed(engine, role="county_plc_staff", division_code=yongzhou.lingling)
    role = make_role_committed(engine, permissions={"users.read"})
    nobody = make_user_committed(engine, role=role.code, division_code=yongzhou.city)
    return {
        name: login(live_server.url, user.username)
        for name, user in (("city", city), ("county", county), ("no_geo", nobody))
    }


def _get(server: LiveServer, path: str, token: str | None = None, **params: object) -> httpx.Response:
    headers = auth_headers(token) if token else {}
    return httpx.get(f"{server.url}{path}", headers=headers, params=params, timeout=30)  # type: ignore[arg-type]


def _paths(yongzhou: Yongzhou) -> list[str]:
    grid = yongzhou.grid_in("431102")
    lng, lat = gcj02_to_wgs84(111.626348, 26.223347)
    return [
        f"/api/v1/divisions/{yongzhou.lingling}",
        f"/api/v1/divisions/{yongzhou.lingling}/children",
        f"/api/v1/grids/{grid}",
        f"/api/v1/geo/{yongzhou.lingling}.geojson",
        f"/api/v1/grids/locate?lng={lng}&lat={lat}",
    ]


def test_no_token_is_401_everywhere(live_server: LiveServer, yongzhou: Yongzhou) -> None:
    for path in _paths(yongzhou):
        response = httpx.get(f"{live_server.url}{path}")
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "not_authenticated"


def test_role_without_geo_read_is_403_everywhere(
    live_server: LiveServer, yongzhou: Yongzhou, tokens: dict[str, str]
) -> None:
    for path in _paths(yongzhou):
        response = httpx.get(f"{live_server.url}{path}", headers=auth_headers(tokens["no_geo"]))
        assert response.status_code == 403, path
        assert response.json()["error"]["permission"] == "geo.read"


def test_other_county_is_404_everywhere(
    live_server: LiveServer, yongzhou: Yongzhou, tokens: dict[str, str]
) -> None:
    other_grid = yongzhou.grid_in("431103")
    token = tokens["county"]
    for path in (
        f"/api/v1/divisions/{yongzhou.lengshuitan}",
        f"/api/v1/divisions/{yongzhou.lengshuitan}/children",
        f"/api/v1/grids/{other_grid}",
        f"/api/v1/geo/{yongzhou.lengshuitan}.geojson",
        f"/api/v1/divisions/{yongzhou.city}",
    ):
        assert_out_of_scope_404(live_server.url, token, path)
    lng, lat = gcj02_to_wgs84(111.607156, 26.434364)  # 冷水滩区 seat
    assert_out_of_scope_404(live_server.url, token, f"/api/v1/grids/locate?lng={lng}&lat={lat}")
    # the same grid answers the city user
    assert _get(live_server, f"/api/v1/grids/{other_grid}", tokens["city"]).status_code == 200


def test_every_geo_route_declares_geo_read(app: object) -> None:
    from civicgrid.geo.endpoints import router

    for route in router.routes:
        deps = [d.call for d in route.dependant.dependencies]  # type: ignore[attr-defined]
        assert any(getattr(d, "permission", None) == "geo.read" for d in deps), route.path  # type: ignore[attr-defined]


def test_division_and_children(live_server: LiveServer, yongzhou: Yongzhou, tokens: dict[str, str]) -> None:
    body = _get(live_server, f"/api/v1/divisions/{yongzhou.lingling}", tokens["county"]).json()
    assert body["name"] == "零陵区" and body["level"] == "county" and body["parent_code"] == yongzhou.city
    assert body["has_boundary"] and not body["boundary_generated"]
    children = _get(live_server, f"/api/v1/divisions/{yongzhou.lingling}/children", tokens["county"]).json()
    assert len(children) == body["child_count"] > 5
    assert all(c["level"] == "township" and c["code"].startswith("431102") for c in children)
    counties = _get(live_server, f"/api/v1/divisions/{yongzhou.city}/children", tokens["city"]).json()
    assert len(counties) == 13


def test_grid_with_chain(live_server: LiveServer, yongzhou: Yongzhou, tokens: dict[str, str]) -> None:
    code = yongzhou.grid_in("431102")
    body = _get(live_server, f"/api/v1/grids/{code}", tokens["county"]).json()
    assert body["code"] == code and body["generated"] is True
    assert [link["level"] for link in body["chain"]] == ["village", "township", "county", "city"]
    assert body["chain"][2]["name"] == "零陵区" and body["chain"][3]["code"] == yongzhou.city


def test_locate(live_server: LiveServer, yongzhou: Yongzhou, tokens: dict[str, str]) -> None:
    lng, lat = gcj02_to_wgs84(111.626348, 26.223347)
    body = _get(live_server, "/api/v1/grids/locate", tokens["county"], lng=lng, lat=lat).json()
    assert body["code"].startswith("431102") and body["chain"][2]["code"] == yongzhou.lingling
    outside = _get(live_server, "/api/v1/grids/locate", tokens["city"], lng=116.39, lat=39.9)
    assert outside.status_code == 404 and "网格" in outside.json()["error"]["message"]
    english = httpx.get(
        f"{live_server.url}/api/v1/grids/locate",
        params={"lng": 116.39, "lat": 39.9},
        headers={**auth_headers(tokens["city"]), "Accept-Language": "en"},
    )
    assert "not inside any grid" in english.json()["error"]["message"]
    bad = _get(live_server, "/api/v1/grids/locate", tokens["city"], lng="east", lat=26)
    assert bad.status_code == 422


def test_city_map_has_the_11_counties(
    live_server: LiveServer, yongzhou: Yongzhou, tokens: dict[str, str]
) -> None:
    response = _get(live_server, f"/api/v1/geo/{yongzhou.city}.geojson", tokens["city"])
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/geo+json")
    assert len(response.content) < 120_000
    doc = response.json()
    features = doc["features"]
    assert len(features) == 11 and doc["type"] == "FeatureCollection"
    assert {f["geometry"]["type"] for f in features} <= {"Polygon", "MultiPolygon"}
    assert not any(f["properties"]["generated"] for f in features)
    lng, lat = features[0]["properties"]["label"]
    assert 110.5 < lng < 112.6 and 24.5 < lat < 27.0  # WGS-84 lng, lat order


def test_drill_down(live_server: LiveServer, yongzhou: Yongzhou, tokens: dict[str, str]) -> None:
    token = tokens["city"]
    townships = _get(live_server, f"/api/v1/geo/{yongzhou.lengshuitan}.geojson", token).json()["features"]
    codes = {f["properties"]["code"] for f in townships}
    assert any(c.startswith("431171") for c in codes)  # the development zone drawn inside its host
    assert all(f["properties"]["generated"] for f in townships)
    township = sorted(c for c in codes if c.startswith("431103"))[0]
    villages = _get(live_server, f"/api/v1/geo/{township}.geojson", token).json()["features"]
    assert villages and all(f["properties"]["level"] == "village" for f in villages)
    village = villages[0]["properties"]["code"]
    grids = _get(live_server, f"/api/v1/geo/{village}.geojson", token).json()["features"]
    assert grids and all(f["properties"]["code"].startswith(village) for f in grids)
    own = _get(live_server, f"/api/v1/geo/{yongzhou.lengshuitan}.geojson", token, outline="true").json()
    assert [f["properties"]["code"] for f in own["features"]] == [yongzhou.lengshuitan]
    # a county user sees its own county's townships only (the hosted zone is outside its prefix)
    county_view = _get(live_server, f"/api/v1/geo/{yongzhou.lingling}.geojson", tokens["county"]).json()
    assert county_view["features"] and all(
        f["properties"]["code"].startswith("431102") for f in county_view["features"]
    )


def test_grid_worker_map_shows_only_their_grid(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    grid = yongzhou.grid_in("431102")
    user = make_user_committed(engine, role="grid_worker", division_code=grid)
    token = login(live_server.url, user.username)
    own = _get(live_server, f"/api/v1/geo/{grid}.geojson", token)
    assert own.status_code == 200, own.text
    assert [f["properties"]["code"] for f in own.json()["features"]] == [grid]
    # The village holding the grid (where the intake and 12345 maps start) draws that one grid.
    village = _get(live_server, f"/api/v1/geo/{grid[:12]}.geojson", token)
    assert village.status_code == 200, village.text
    assert [f["properties"]["code"] for f in village.json()["features"]] == [grid]
    # …but not another village, nor the township above.
    assert _get(live_server, f"/api/v1/geo/{grid[:9]}000.geojson", token).status_code == 404
    other = yongzhou.grid_in("431103")
    assert _get(live_server, f"/api/v1/geo/{other}.geojson", token).status_code == 404


def test_grid_worker_tree_is_their_grid(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    """The 网格管理 tree starts at the account's jurisdiction; for a grid worker that is a 15-digit
    grid code, answered as the tree's one leaf (it was 422; issue 11 §1)."""
    grid = yongzhou.grid_in("431102")
    user = make_user_committed(engine, role="grid_worker", division_code=grid)
    token = login(live_server.url, user.username)
    node = _get(live_server, f"/api/v1/divisions/{grid}", token)
    assert node.status_code == 200, node.text
    body = node.json()
    assert (body["code"], body["level"], body["parent_code"], body["child_count"]) == (grid, "grid", grid[:12], 0)
    assert body["name"] and not body["name"].isdigit()
    assert _get(live_server, f"/api/v1/divisions/{grid}/children", token).json() == []
    other = yongzhou.grid_in("431103")
    assert _get(live_server, f"/api/v1/divisions/{other}", token).status_code == 404
    assert _get(live_server, f"/api/v1/divisions/{grid[:12]}", token).status_code == 404
