"""Fixtures of the API client tests: clients registered for org units, and a caller by key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Engine

import civicgrid.matters.hotline.service  # noqa: F401  (registers the hotline's record kinds)
from civicgrid.apiclients import service as apiclients
from civicgrid.db import transaction
from tests.conftest import LiveServer
from tests.factories import make_org_unit_committed
from tests.matters.conftest import clock  # noqa: F401  (the fake clock the live server shares)

HOTLINE_KINDS = ("hotline_ticket", "hotline_return_visit")


@dataclass
class Client:
    """A registered client over real HTTP: its id, its key and the unit it acts as."""

    server: LiveServer
    id: str
    key: str
    unit_id: str

    def headers(self, lang: str = "zh-CN") -> dict[str, str]:
        return {"X-API-Key": self.key, "Accept-Language": lang}

    def get(self, path: str, lang: str = "zh-CN", **params: str) -> httpx.Response:
        return httpx.get(self.server.url + path, headers=self.headers(lang), params=params or None, timeout=30)

    def post(self, path: str, json: Any, lang: str = "zh-CN") -> httpx.Response:
        return httpx.post(self.server.url + path, json=json, headers=self.headers(lang), timeout=60)


def make_client(
    server: LiveServer,
    engine: Engine,
    division_code: str,
    *,
    kinds: tuple[str, ...] = HOTLINE_KINDS,
    system_kind: str = "hotline_12345",
    name: str = "12345 热线",
) -> Client:
    """A client acting as a new org unit of ``division_code``."""
    unit_id = make_org_unit_committed(
        engine, division_code=division_code, type_code="government_department", name=f"{name}中心"
    )
    with transaction(engine) as session:
        client, key = apiclients.create_client(
            session,
            name=name,
            system_kind=system_kind,
            record_kinds=list(kinds),
            org_unit_id=unit_id,
            created_by="test",
        )
        return Client(server, client.id, key, unit_id)
