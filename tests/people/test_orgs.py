"""Org units and responsibility areas over real HTTP: a police station whose area spans parts of
two townships sees exactly its grids and the matters in them; a drawn polygon snaps to the grids
whose representative point lies inside it; unknown types are refused in Chinese; out of scope is
404; the area change is one audit event."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from civicgrid.audit.models import AuditEntry
from civicgrid.db import transaction
from civicgrid.geo.models import Grid
from civicgrid.people.orgs import service as org_service
from tests.conftest import LiveServer, Yongzhou
from tests.factories import (
    assert_out_of_scope_404,
    auth_headers,
    login,
    make_org_unit_committed,
    make_user_committed,
)
from tests.matters.conftest import Place, place_in

COUNTY = "431102000000"  # 零陵区


class Client:
    """A logged-in user speaking to the live server."""

    def __init__(self, server: LiveServer, engine: Engine, role: str, division_code: str) -> None:
        self.server = server
        self.user = make_user_committed(engine, role=role, division_code=division_code)
        self.token = login(server.url, self.user.username)

    def call(self, method: str, path: str, json: object = None, lang: str = "zh-CN",
             **params: Any) -> httpx.Response:
        return httpx.request(method, self.server.url + path, json=json, params=params or None, timeout=30,
                             headers={**auth_headers(self.token), "Accept-Language": lang})


def _townships_with_grids(yongzhou: Yongzhou, county_prefix: str, need: int) -> list[str]:
    """Township prefixes (9 digits) of the county with at least ``need`` grids, by code."""
    with transaction(yongzhou.engine, write=False) as session:
        codes = session.scalars(select(Grid.code).where(Grid.code.like(county_prefix + "%"))).all()
    counts: dict[str, int] = {}
    for code in codes:
        counts[code[:9]] = counts.get(code[:9], 0) + 1
    return sorted(t for t, n in counts.items() if n >= need)


def _unit(manager: Client, **body: Any) -> dict[str, Any]:
    response = manager.call("POST", "/api/v1/org-units", {"type_code": "police_station", "division_code": COUNTY,
                                                          **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _report(reporter: Client, place: Place, type_code: str) -> str:
    response = reporter.call("POST", "/api/v1/matters", {
        "type_code": type_code, "title": "责任区测试", "description": "", "lng": place.lng, "lat": place.lat,
        "channel": "grid_worker"})
    assert response.status_code == 201, response.text
    assert response.json()["grid_code"] == place.grid
    return str(response.json()["id"])


def test_a_station_over_parts_of_two_townships_sees_exactly_its_area(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    t1, t2 = _townships_with_grids(yongzhou, COUNTY[:6], 6)[:2]
    # Two grids of each township are the station's; two more of each are not. Every grid's village
    # has other grids too only if the township is split inside it: the rule is tested either way.
    inside = [place_in(yongzhou, t1, 0), place_in(yongzhou, t1, 1), place_in(yongzhou, t2, 0),
              place_in(yongzhou, t2, 1)]
    outside = [place_in(yongzhou, t1, 2), place_in(yongzhou, t1, 3), place_in(yongzhou, t2, 2),
               place_in(yongzhou, t2, 3)]
    area = sorted(p.grid for p in inside)

    manager = Client(live_server, engine, "county_plc_staff", COUNTY)
    station = _unit(manager, name="测试派出所（跨两乡镇）")
    response = manager.call("PUT", f"/api/v1/org-units/{station['id']}/area", {"grids": area})
    assert response.status_code == 200, response.text
    assert response.json()["grids"] == area and response.json()["kind"] == "grids"

    officer = Client(live_server, engine, "station_commander", COUNTY)
    response = manager.call("PUT", f"/api/v1/users/{officer.user.id}/org-unit", {"org_unit_id": station["id"]})
    assert response.status_code == 200, response.text

    # Matters in every grid, owned by the village (SR01) and by the township (SR03).
    reporters = {t: Client(live_server, engine, "township_officer", t + "000") for t in (t1, t2)}
    in_ids = {_report(reporters[p.grid[:9]], p, code) for p in inside for code in ("SR01", "SR03")}
    out_ids = {_report(reporters[p.grid[:9]], p, code) for p in outside for code in ("SR01", "SR03")}

    # Grids: exactly the area's.
    for place in inside:
        assert officer.call("GET", f"/api/v1/grids/{place.grid}").status_code == 200
    for place in outside:
        assert_out_of_scope_404(live_server.url, officer.token, f"/api/v1/grids/{place.grid}")
        assert officer.call("GET", "/api/v1/grids/locate", lng=place.lng, lat=place.lat).status_code == 404

    # Matters: those in the area's grids, none elsewhere in the two townships (nor the county's own).
    for queue in ("division", "mine"):
        listed = officer.call("GET", "/api/v1/matters", queue=queue, limit=200).json()["items"]
        assert all(m["grid_code"] in area for m in listed), queue
        if queue == "division":
            assert in_ids <= {m["id"] for m in listed}
        assert not out_ids & {m["id"] for m in listed}
    for matter_id in in_ids:
        assert officer.call("GET", f"/api/v1/matters/{matter_id}").status_code == 200
    for matter_id in out_ids:
        assert_out_of_scope_404(live_server.url, officer.token, f"/api/v1/matters/{matter_id}")
    # The county staff, in no unit, sees both.
    for matter_id in in_ids | out_ids:
        assert manager.call("GET", f"/api/v1/matters/{matter_id}").status_code == 200

    # The station sees its own unit although the unit is filed under the county.
    assert officer.call("GET", f"/api/v1/org-units/{station['id']}").status_code == 200
    # …and its own account (the console reloads it on every page load), filed under the county too.
    assert officer.call("GET", "/api/v1/auth/me").json()["username"] == officer.user.username

    # Clearing the area puts the officer back on the county prefix.
    assert manager.call("PUT", f"/api/v1/org-units/{station['id']}/area", {}).status_code == 200
    assert officer.call("GET", f"/api/v1/matters/{next(iter(out_ids))}").status_code == 200


def test_a_drawn_polygon_snaps_to_the_grids_whose_point_lies_inside(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    township = _townships_with_grids(yongzhou, COUNTY[:6], 6)[0]
    with transaction(engine, write=False) as session:
        points = session.execute(select(Grid.code, Grid.lng, Grid.lat)
                                 .where(Grid.code.like(COUNTY[:6] + "%"))).all()
    mine = [(c, x, y) for c, x, y in points if c.startswith(township)]
    xs, ys = sorted(x for _, x, _ in mine), sorted(y for _, _, y in mine)
    # A box around the middle of the township's grid points (a patrol corridor, say).
    box = (xs[len(xs) // 4], ys[len(ys) // 4], xs[3 * len(xs) // 4], ys[3 * len(ys) // 4])
    expected = sorted(c for c, x, y in points if box[0] < x < box[2] and box[1] < y < box[3])
    assert expected, "the box should hold some grid points"
    polygon = {"type": "Polygon", "coordinates": [[[box[0], box[1]], [box[2], box[1]], [box[2], box[3]],
                                                   [box[0], box[3]], [box[0], box[1]]]]}

    manager = Client(live_server, engine, "county_plc_staff", COUNTY)
    unit = _unit(manager, name="测试巡防平台", type_code="patrol_platform")
    response = manager.call("PUT", f"/api/v1/org-units/{unit['id']}/area", {"polygon": polygon})
    assert response.status_code == 200, response.text
    assert response.json()["kind"] == "polygon" and response.json()["polygon"] == polygon
    assert response.json()["grids"] == expected
    detail = manager.call("GET", f"/api/v1/org-units/{unit['id']}").json()
    assert detail["area"]["grid_count"] == len(expected) and detail["area"]["version"] == 1

    # One audit event names the grids added; the per-grid rows are not audited one by one.
    with transaction(engine, write=False) as session:
        events = session.scalars(select(AuditEntry).where(AuditEntry.action == "orgs.area_set",
                                                          AuditEntry.entity_id == unit["id"])).all()
    assert len(events) == 1 and '"grid_count":' + str(len(expected)) in events[0].after.replace(" ", "")

    # A self-intersecting polygon (a bow tie) and a point are refused in Chinese first.
    bow = {"type": "Polygon", "coordinates": [[[box[0], box[1]], [box[2], box[3]], [box[2], box[1]],
                                               [box[0], box[3]], [box[0], box[1]]]]}
    response = manager.call("PUT", f"/api/v1/org-units/{unit['id']}/area", {"polygon": bow})
    assert response.status_code == 422 and "无效" in response.json()["error"]["message"]
    point = {"type": "Point", "coordinates": [box[0], box[1]]}
    response = manager.call("PUT", f"/api/v1/org-units/{unit['id']}/area", {"polygon": point}, lang="en")
    assert response.status_code == 422 and "Polygon" in response.json()["error"]["message"]


def test_snapping_agrees_with_the_grid_points(engine: Engine, yongzhou: Yongzhou) -> None:
    from civicgrid.geo import service as geo_service

    with transaction(engine, write=False) as session:
        points = session.execute(select(Grid.code, Grid.lng, Grid.lat).where(Grid.code.like("431103%"))).all()
        xs = sorted(x for _, x, _ in points)
        ys = sorted(y for _, _, y in points)
        x0, x1, y0, y1 = xs[len(xs) // 3], xs[2 * len(xs) // 3], ys[len(ys) // 3], ys[2 * len(ys) // 3]
        # A triangle: the lower-right half of the box.
        geom = geo_service.area_polygon({"type": "Polygon",
                                         "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y0]]]})
        got = geo_service.snap_to_grids(session, geom, "431103")
        # Outside the county prefix nothing is taken, although the polygon may reach there.
        elsewhere = geo_service.snap_to_grids(session, geom, "431102")
    slope = (y1 - y0) / (x1 - x0)
    expected = sorted(c for c, x, y in points if x0 < x < x1 and y0 < y < y1 and y - y0 < slope * (x - x0))
    assert got == expected and got
    assert not [c for c in elsewhere if c.startswith("431103")]


def test_unknown_type_and_bad_area_are_refused_in_chinese(live_server: LiveServer, engine: Engine,
                                                          yongzhou: Yongzhou) -> None:
    manager = Client(live_server, engine, "county_plc_staff", COUNTY)
    response = manager.call("POST", "/api/v1/org-units", {"name": "某所", "type_code": "police_statoin",
                                                          "division_code": COUNTY})
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "机构类型不存在：police_statoin"
    response = manager.call("POST", "/api/v1/org-units", {"name": "某所", "type_code": "police_statoin",
                                                          "division_code": COUNTY}, lang="en")
    assert response.json()["error"]["message"] == "Unknown org unit type: police_statoin"
    unit = _unit(manager, name="测试司法所", type_code="justice_office")
    response = manager.call("PATCH", f"/api/v1/org-units/{unit['id']}", {"type_code": "jail"})
    assert response.status_code == 422 and "机构类型不存在" in response.json()["error"]["message"]

    # An area grid outside the unit's county, or a grid that does not exist.
    other = yongzhou.grid_in("431103")
    response = manager.call("PUT", f"/api/v1/org-units/{unit['id']}/area", {"grids": [other]})
    assert response.status_code == 422 and other in response.json()["error"]["message"]
    response = manager.call("PUT", f"/api/v1/org-units/{unit['id']}/area", {"grids": ["431102999999999"]})
    assert response.status_code == 422
    # A unit in another county is refused (the caller's jurisdiction), and the types are data.
    response = manager.call("POST", "/api/v1/org-units", {"name": "越界", "type_code": "court",
                                                          "division_code": "431103000000"})
    assert response.status_code == 403
    types = manager.call("GET", "/api/v1/org-unit-types").json()
    assert {"police_station", "justice_office", "sector_mediation", "patrol_platform"} <= {t["code"] for t in types}
    assert next(t for t in types if t["code"] == "police_station")["name"] == "派出所"


def test_departments_moves_and_out_of_scope_404(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    manager = Client(live_server, engine, "county_plc_staff", COUNTY)
    parent = _unit(manager, name="测试公安分局", type_code="police_branch")
    unit = _unit(manager, name="测试巡防平台（移动）", type_code="patrol_platform", parent_id=parent["id"])
    assert unit["parent_id"] == parent["id"]
    path = f"/api/v1/org-units/{unit['id']}"
    response = manager.call("POST", path + "/departments", {"code": "zhian", "name": "治安中队",
                                                            "matter_type_code": "SR03"})
    assert response.status_code == 201, response.text
    assert manager.call("POST", path + "/departments", {"code": "zhian", "name": "重复"}).status_code == 409
    assert [d["code"] for d in manager.call("GET", path + "/departments").json()] == ["zhian"]
    # A unit cannot sit below itself.
    response = manager.call("PATCH", f"/api/v1/org-units/{parent['id']}", {"parent_id": unit["id"]})
    assert response.status_code == 422
    # A moving unit reports the grid it is in now.
    grid = yongzhou.grid_in(COUNTY[:6])
    moved = manager.call("PATCH", path, {"current_grid_code": grid}).json()
    assert moved["current_grid_code"] == grid and moved["current_grid_at"] is not None

    stranger = Client(live_server, engine, "county_plc_staff", "431103000000")
    for method, sub, body in (("GET", "", None), ("PATCH", "", {"name": "改"}), ("GET", "/area", None),
                              ("PUT", "/area", {"grids": []}), ("GET", "/departments", None),
                              ("POST", "/departments", {"code": "x", "name": "x"})):
        assert_out_of_scope_404(live_server.url, stranger.token, path + sub, method=method, json=body)
    assert unit["id"] not in {u["id"] for u in stranger.call("GET", "/api/v1/org-units", limit=200).json()["items"]}
    assert unit["id"] in {u["id"] for u in manager.call("GET", "/api/v1/org-units", limit=200,
                                                        division=COUNTY[:6]).json()["items"]}
    # Putting one's own account in a unit of another county: 404 for the unit.
    assert_out_of_scope_404(live_server.url, stranger.token, f"/api/v1/users/{stranger.user.id}/org-unit",
                            method="PUT", json={"org_unit_id": unit["id"]})
    # A unit with an area in another county is as invisible as one without.
    with_area = make_org_unit_committed(engine, division_code=COUNTY, area=[yongzhou.grid_in(COUNTY[:6])])
    assert_out_of_scope_404(live_server.url, stranger.token, f"/api/v1/org-units/{with_area}/area")
    assert manager.call("GET", f"/api/v1/org-units/{with_area}").json()["area"]["grid_count"] == 1


@pytest.mark.parametrize("code", ["police_station", "township_mediation", "governance_centre"])
def test_types_are_data_with_both_names(code: str) -> None:
    found = org_service.unit_type(code)
    assert found.name_zh and found.name_en and found.code == code
