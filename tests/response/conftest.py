"""Fixtures of the rapid-response tests: places in Yongzhou (a central-city village), people of a
county command and of a unit, units placed by position reports, a fake clock the live server
shares."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from civicgrid.db import transaction
from civicgrid.geo.models import Division, Grid
from civicgrid.geo.service import locate_code
from civicgrid.kit.clock import Clock, FakeClock, set_clock
from civicgrid.response import service
from civicgrid.workflow.engine import SYSTEM
from tests.conftest import LiveServer, Yongzhou
from tests.factories import auth_headers, login, make_user_committed
from tests.matters.conftest import Place

# The system acting city-wide (the scoping helper needs a jurisdiction prefix).
CITY = replace(SYSTEM, jurisdiction="4311")
START = datetime(2031, 6, 2, 1, 0, tzinfo=UTC)  # 09:00 in Yongzhou


def places_in(yongzhou: Yongzhou, county: str, urban_rural: str | None, count: int, skip: int = 0) -> list[Place]:
    """Grids (one per village) of a county whose village has this urban–rural code, each with a
    point the grid index puts in it."""
    found: list[Place] = []
    with transaction(yongzhou.engine, write=False) as session:
        query = (select(Grid.code, Grid.lng, Grid.lat).join(Division, Division.code == Grid.village_code)
                 .where(Grid.code.like(county + "%")).order_by(Grid.code))
        if urban_rural is not None:
            query = query.where(Division.urban_rural_code == urban_rural)
        seen: set[str] = set()
        for code, lng, lat in session.execute(query):
            if code[:12] in seen or locate_code(session, lng, lat) != code:
                continue
            seen.add(code[:12])
            found.append(Place(code, lng, lat))
            if len(found) >= count + skip:
                break
    assert len(found) >= count + skip, f"not enough places in {county} ({urban_rural})"
    return found[skip:]


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    set_clock(fake)
    try:
        yield fake
    finally:
        set_clock(Clock())


@dataclass
class Caller:
    server: LiveServer
    user_id: str
    username: str
    token: str

    def get(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(self.server.url + path, headers=auth_headers(self.token), params=params or None, timeout=30)

    def post(self, path: str, json: object = None) -> httpx.Response:
        return httpx.post(self.server.url + path, json=json if json is not None else {},
                          headers=auth_headers(self.token), timeout=30)


def caller(server: LiveServer, engine: Engine, role: str, division_code: str) -> Caller:
    user = make_user_committed(engine, role=role, division_code=division_code)
    return Caller(server, user.id, user.username, login(server.url, user.username))


def make_unit(engine: Engine, *, org_unit_id: str, unit_type: str, members: list[str], call_sign: str,
              sign_on: bool = True) -> str:
    """A unit registered by the system and (by default) signed on; its id."""
    with transaction(engine) as session:
        unit = service.create_unit(session, CITY, call_sign=call_sign, unit_type=unit_type,
                                   org_unit_id=org_unit_id, members=members)
        if sign_on:
            service.unit_action(session, CITY, unit.id, "sign_on", None)
        return unit.id


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()
