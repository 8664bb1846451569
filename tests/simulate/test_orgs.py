"""The demo's org units: every county has its 综治中心 and 公安分局, and the demo station's
account sees only its area, which spans parts of two townships; seeding twice adds nothing."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine, func, select

from civicgrid.db import transaction
from civicgrid.people.orgs.models import OrgUnit
from civicgrid.simulate.demo import DEMO_PASSWORD
from civicgrid.simulate.orgs import STATION_LOGIN, seed_org_units
from tests.conftest import LiveServer, Yongzhou
from tests.factories import auth_headers, login


def _demo_units(engine: Engine) -> list[OrgUnit]:
    with transaction(engine, write=False) as session:
        return list(session.scalars(select(OrgUnit).where(OrgUnit.demo.is_(True))))


def test_demo_units_and_the_two_township_station(live_server: LiveServer, engine: Engine,
                                                 yongzhou: Yongzhou) -> None:
    logins = seed_org_units(engine, echo=lambda _: None)
    assert [x.username for x in logins] == [STATION_LOGIN]
    units = _demo_units(engine)
    assert all(u.name.endswith("（演示）") for u in units)
    with transaction(engine, write=False) as session:
        from civicgrid.geo.models import Division

        counties = session.scalar(select(func.count()).select_from(Division).where(Division.level == "county"))
    for type_code in ("governance_centre", "police_branch"):
        assert len({u.division_code for u in units if u.type_code == type_code and u.division_code != "431100000000"}
                   ) == counties

    token = login(live_server.url, STATION_LOGIN, DEMO_PASSWORD)
    station = next(u for u in units if u.name == "朝阳派出所（演示）")
    area = httpx.get(f"{live_server.url}/api/v1/org-units/{station.id}/area", headers=auth_headers(token)).json()
    assert {g[:9] for g in area["grids"]} == {"431102001", "431102002"}  # 朝阳街道 and 南津渡街道, in part
    assert len(area["whole_villages"]) == 4
    outside = yongzhou.grid_in("431102003")  # 七里店街道, same county
    assert httpx.get(f"{live_server.url}/api/v1/grids/{outside}", headers=auth_headers(token)).status_code == 404
    assert httpx.get(f"{live_server.url}/api/v1/grids/{area['grids'][0]}",
                     headers=auth_headers(token)).status_code == 200

    again = seed_org_units(engine, echo=lambda _: None)
    assert [x.username for x in again] == [STATION_LOGIN] and len(_demo_units(engine)) == len(units)
