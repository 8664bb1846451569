"""The demo's org units: every county has its 综治中心 and 公安分局, and the demo station's
account sees only its area, which spans parts of two townships; seeding twice adds nothing."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine, func, select

from civicgrid.db import transaction
from civicgrid.kit.clock import utcnow
from civicgrid.people import totp
from civicgrid.people.orgs.models import OrgUnit
from civicgrid.simulate.demo import DEMO_PASSWORD
from civicgrid.simulate.orgs import STATION_LOGIN, seed_org_units
from tests.conftest import LiveServer, Yongzhou
from tests.factories import auth_headers, login


def _first_login(url: str, username: str) -> str:
    """A demo account's first login as a person does it: the demo password, a new password, then
    an authenticator (a station commander may reveal personal data); the token is then full."""
    token = login(url, username, DEMO_PASSWORD)
    changed = httpx.post(f"{url}/api/v1/auth/password", headers=auth_headers(token),
                         json={"current_password": DEMO_PASSWORD, "new_password": "Zhou#Station2026"})
    assert changed.status_code == 200, changed.text
    if changed.json()["pending"] == "totp_enrolment":
        secret = httpx.post(f"{url}/api/v1/auth/totp/enrol", headers=auth_headers(token)).json()["secret"]
        code = totp.code_for_step(secret, totp.step_of(utcnow()))
        confirmed = httpx.post(f"{url}/api/v1/auth/totp/confirm", headers=auth_headers(token), json={"code": code})
        assert confirmed.status_code == 200 and confirmed.json()["pending"] is None, confirmed.text
    return token


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

    token = _first_login(live_server.url, STATION_LOGIN)
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
