"""One city's settings (issue 10 §3): the prefix, names, map extent and reference data come from
the city's ``city.json``; a second, made-up city (tests/data/cities/shili) runs with its own
prefix, divisions and catalogue without a code change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from civicgrid.city import CityConfigError, get_city, load_city
from civicgrid.config import Settings, get_settings
from tests.conftest import LiveServer, new_database, start_server
from tests.factories import auth_headers, login, make_user_committed

SHILI = Path(__file__).parent / "data" / "cities" / "shili"


def test_yongzhou_is_the_default_city(live_server: LiveServer) -> None:
    city = httpx.get(f"{live_server.url}/api/v1/city").json()  # public: the login page names the city
    assert (city["code"], city["name"], city["name_en"], city["matter_number_prefix"]) == (
        "431100000000", "永州市", "Yongzhou", "YZ")
    box = city["map"]
    assert box["west"] < 111.6 < box["east"] and box["south"] < 26.4 < box["north"]


def test_a_wrong_city_file_names_the_field(tmp_path: Path) -> None:
    raw = json.loads((SHILI / "city.json").read_text(encoding="utf-8"))
    for name in ("divisions.csv", "counties.geojson", "catalogue.json"):
        (tmp_path / name).write_bytes((SHILI / name).read_bytes())
    (tmp_path / "city.json").write_text(json.dumps({**raw, "matter_number_prefix": "sl-1"}), encoding="utf-8")
    with pytest.raises(CityConfigError, match="matter_number_prefix"):
        load_city(tmp_path)
    (tmp_path / "city.json").write_text(json.dumps({**raw, "code": "439901000000"}), encoding="utf-8")
    with pytest.raises(CityConfigError, match="code"):
        load_city(tmp_path)
    with pytest.raises(CityConfigError, match="not found"):
        load_city(tmp_path / "missing")


@pytest.fixture
def shili(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[LiveServer]:
    """A fresh database and a live app configured for the made-up city 示例市."""
    monkeypatch.setenv("CIVICGRID_CITY_DIR", str(SHILI))
    get_settings.cache_clear()
    get_city.cache_clear()
    server: LiveServer | None = None
    cleanup = None
    try:
        url, cleanup = new_database(tmp_path)  # the migration seeds the city's own catalogue
        from civicgrid.db import get_engine, transaction
        from civicgrid.geo.service import load_reference_data
        from civicgrid.main import create_app

        engine = get_engine(url)
        with transaction(engine) as session:
            load_reference_data(session)  # the city's divisions and outlines, grids generated
        server = start_server(create_app(Settings(database_url=url), start_workers=False))
        server.engine = engine  # type: ignore[attr-defined]
        yield server
    finally:
        if server is not None:
            server.stop()
        monkeypatch.delenv("CIVICGRID_CITY_DIR")
        get_settings.cache_clear()
        get_city.cache_clear()
        if server is not None:
            server.engine.dispose()  # type: ignore[attr-defined]
        if cleanup is not None:
            cleanup()  # type: ignore[operator]


def test_a_second_city_runs_with_its_own_prefix_divisions_and_catalogue(shili: LiveServer) -> None:
    city = httpx.get(f"{shili.url}/api/v1/city").json()
    assert (city["name"], city["matter_number_prefix"]) == ("示例市", "SL")

    make_user_committed(shili.engine, role="grid_worker", division_code="439901001001",  # type: ignore[attr-defined]
                        username="shili_grid")
    headers = auth_headers(login(shili.url, "shili_grid"))
    with httpx.Client(base_url=shili.url, headers=headers, timeout=30) as client:
        types = client.get("/api/v1/matter-types").json()
        assert sorted(t["code"] for t in types) == ["JM01", "JM02"]  # not one of Yongzhou's types

        tree = client.get("/api/v1/divisions/439901001001").json()
        assert tree["name"] == "河口社区"

        body = {"type_code": "JM01", "title": "占道摆摊", "description": "菜市场门口", "lng": 100.05, "lat": 30.1,
                "channel": "grid_worker"}
        created = client.post("/api/v1/matters", json=body)
        assert created.status_code == 201, created.text
        matter = created.json()
        assert matter["number"].startswith("SL-")  # the city's prefix, not YZ
        assert matter["division_code"].startswith("4399")
