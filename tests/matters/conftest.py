"""Fixtures of the matters tests: real Yongzhou grids, people at each level, a fake clock that
the live server shares (same process), and the timer worker."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import httpx
import pytest
from sqlalchemy import Engine

from civicgrid.db import transaction
from civicgrid.kit.clock import CHINA_TZ, Clock, FakeClock, set_clock
from civicgrid.timers.worker import TimerWorker
from tests.conftest import LiveServer, Yongzhou
from tests.factories import auth_headers, login, make_user_committed


@dataclass(frozen=True)
class Place:
    """A grid, a point inside it, and the codes of the units above it."""

    grid: str
    lng: float
    lat: float

    @property
    def village(self) -> str:
        return self.grid[:12]

    @property
    def township(self) -> str:
        return self.grid[:9] + "000"

    @property
    def county(self) -> str:
        return self.grid[:6] + "000000"


def place_in(yongzhou: Yongzhou, prefix: str, nth: int = 0) -> Place:
    """A point that the grid index puts in the nth grid under ``prefix``."""
    from sqlalchemy import select

    from civicgrid.geo.models import Grid
    from civicgrid.geo.service import locate_code

    with transaction(yongzhou.engine, write=False) as session:
        grids = session.execute(select(Grid.code, Grid.lng, Grid.lat).where(Grid.code.like(prefix + "%"))
                                .order_by(Grid.code).limit(40)).all()
        found = []
        for code, lng, lat in grids:
            if locate_code(session, lng, lat) == code:
                found.append(Place(code, lng, lat))
    assert len(found) > nth, f"no usable grid under {prefix}"
    return found[nth]


def china(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CHINA_TZ)


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    """A fake clock for the test and the live server; the real one afterwards."""
    fake = FakeClock(china(2026, 12, 7, 9, 0))  # a Monday
    set_clock(fake)
    try:
        yield fake
    finally:
        set_clock(Clock())


@pytest.fixture
def worker(engine: Engine) -> TimerWorker:
    return DrainingWorker(engine, lease_seconds=60)


class DrainingWorker(TimerWorker):
    """``run_due`` runs everything due, not one claim batch: other tests' matters leave timers in
    the shared database that fall due when a test moves the clock forward."""

    def run_due(self) -> int:
        total = 0
        while claimed := super().run_due():
            total += claimed
        return total


class Actor:
    """A user with a role and a place, logged in over HTTP; ``relogin`` after the clock jumps
    (tokens expire after 30 idle minutes)."""

    def __init__(self, server: LiveServer, engine: Engine, role: str, division_code: str) -> None:
        self.server = server
        self.user = make_user_committed(engine, role=role, division_code=division_code)
        self.user_id = self.user.id
        self.token = login(server.url, self.user.username)

    def relogin(self) -> None:
        self.token = login(self.server.url, self.user.username)

    def headers(self, lang: str = "zh-CN", **extra: str) -> dict[str, str]:
        return {**auth_headers(self.token), "Accept-Language": lang, **extra}

    def get(self, path: str, lang: str = "zh-CN", **params: str) -> httpx.Response:
        return httpx.get(self.server.url + path, headers=self.headers(lang), params=params or None, timeout=30)

    def post(self, path: str, json: object = None, lang: str = "zh-CN", headers: dict[str, str] | None = None,
             **kwargs: object) -> httpx.Response:
        return httpx.post(self.server.url + path, json=json, headers={**self.headers(lang), **(headers or {})},
                          timeout=30, **kwargs)  # type: ignore[arg-type]

    def put(self, path: str, json: object = None, lang: str = "zh-CN") -> httpx.Response:
        return httpx.put(self.server.url + path, json=json, headers=self.headers(lang), timeout=30)

    def act(self, matter_id: str, action: str, note: str | None = None, **data: object) -> httpx.Response:
        return self.post(f"/api/v1/matters/{matter_id}/transitions", {"action": action, "note": note, **data})


def actor(server: LiveServer, engine: Engine, role: str, division_code: str) -> Actor:
    return Actor(server, engine, role, division_code)
