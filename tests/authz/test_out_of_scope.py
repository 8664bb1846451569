"""The generic out-of-jurisdiction walk (DESIGN.md rules 5, 6 and 9): the converse of
``test_permissions.py``'s 401/403 walk.

Every ``/api/v1`` and ``/open311/v2`` route with a path parameter that names a row (an id, a
division or grid code) is called by a caller of ANOTHER county (冷水滩区) that holds exactly the
route's permission (an Open311 route: a client registered for that county), against real rows of
the first county (零陵区). It must answer 404 — the answer of a row that does not exist, so
nothing leaks — and the same request by a caller of the first county must not, so the walk
cannot pass by refusing everyone.

Routes written later are covered without touching this file: the row behind each path parameter
comes from ``PARAM_FACTORIES`` (by parameter name). A parameter that is in neither that table nor
``PARAM_VALUES`` (parameters that name no row: formats, years, catalogue codes) fails the walk
and says where to add it, so a new route cannot silently skip.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from civicgrid.db import transaction
from civicgrid.kit.clock import utcnow
from civicgrid.matters.open311 import service as open311
from civicgrid.workflow.engine import SYSTEM
from tests.authz.test_permissions import _iter_routes, _requirements
from tests.conftest import LiveServer, Yongzhou
from tests.factories import auth_headers, login, make_org_unit_committed, make_role_committed, make_user_committed
from tests.matters.conftest import Actor, Place, place_in
from tests.matters.test_intake import png

# The system acting city-wide, to make rows (the scoping helper needs a jurisdiction prefix).
CITY = replace(SYSTEM, jurisdiction="4311")
FIRST = "431102"  # 零陵区: where the rows are
FIRST_COUNTY = "431102000000"
OTHER_COUNTY = "431103000000"  # 冷水滩区: where the caller is
PREFIXES = ("/api/v1/", "/open311/v2/")
PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")


class FirstCounty:
    """Real rows of the first county, made on first use: a matter (reported over HTTP by a grid
    worker, so it has its timeline), a photo of it (and its stored file), a user, an Open311 client and a request it
    filed."""

    def __init__(self, server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
        self.server, self.engine, self.yongzhou = server, engine, yongzhou

    @cached_property
    def place(self) -> Place:
        return place_in(self.yongzhou, FIRST, 3)

    @cached_property
    def reporter(self) -> Actor:
        return Actor(self.server, self.engine, "grid_worker", self.place.grid)

    @cached_property
    def matter_id(self) -> str:
        body = {"type_code": "SR01", "title": "路边垃圾", "description": "", "lng": self.place.lng,
                "lat": self.place.lat, "channel": "grid_worker"}
        response = self.reporter.post("/api/v1/matters", body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    @cached_property
    def photo(self) -> dict[str, Any]:
        response = self.reporter.post(f"/api/v1/matters/{self.matter_id}/photos",
                                      files={"file": ("a.png", io.BytesIO(png()), "image/png")},
                                      data={"stage": "report"})
        assert response.status_code == 201, response.text
        return dict(response.json())

    @cached_property
    def photo_id(self) -> str:
        return str(self.photo["id"])

    @cached_property
    def file_id(self) -> str:
        """The stored file of the matter's photo (the file store reads it through the matter)."""
        return str(self.photo["file_id"])

    @cached_property
    def user_id(self) -> str:
        return make_user_committed(self.engine, role="village_officer", division_code=self.place.village,
                                   phone="13800138000").id

    @cached_property
    def client(self) -> tuple[str, str]:
        """(id, api key) of an Open311 client registered for the first county."""
        return _open311_client(self.engine, FIRST_COUNTY, "零陵随手拍")

    @cached_property
    def open311_request(self) -> tuple[str, str]:
        """(service_request_id, token) of a request the first county's client filed."""
        response = httpx.post(f"{self.server.url}/open311/v2/requests.json", timeout=30, data={
            "api_key": self.client[1], "service_code": "SR01", "lat": str(self.place.lat),
            "long": str(self.place.lng), "description": "小区门口垃圾堆放"})
        assert response.status_code == 200, response.text
        first = response.json()[0]
        return str(first["service_request_id"]), str(first["token"])


    @cached_property
    def unit_id(self) -> str:
        """An org unit (a police station) of the first county's township."""
        return make_org_unit_committed(self.engine, division_code=self.place.township)

    @cached_property
    def dispute(self) -> tuple[str, str]:
        """(id, party id) of a dispute registered in the first county's village."""
        response = self.reporter.post("/api/v1/disputes", {
            "title": "邻里纠纷", "happened_on": "2026-12-01", "lng": self.place.lng, "lat": self.place.lat,
            "category": "neighbours", "source": "screening",
            "parties": [{"kind": "person", "full_name": "张三", "doc_type": "passport", "id_number": "E1234567"}]})
        assert response.status_code == 201, response.text
        body = response.json()
        return str(body["id"]), str(body["parties"][0]["id"])

    @cached_property
    def alert_id(self) -> str:
        """A warning raised about the first county's matter, owned by its village."""
        from civicgrid.alerts import service as alerts

        with transaction(self.engine) as session:
            return alerts.raise_alert(session, rule=alerts.Rule("test.walk", "测试预警", "test warning"),
                                      level="blue", reasons=[alerts.Reason("测试", "test")],
                                      division_code=self.place.village, source_type="matter",
                                      source_id=self.matter_id).id

    @cached_property
    def response_units(self) -> tuple[str, str]:
        """Two response units of a first-county station, signed on, placed near the place."""
        from civicgrid.response import service as response
        from civicgrid.response.index import index_for
        from civicgrid.response.telemetry import Point, accept

        station = make_org_unit_committed(self.engine, division_code=FIRST_COUNTY)
        ids = []
        with transaction(self.engine) as session:
            for _ in range(2):
                unit = response.create_unit(session, CITY, call_sign=f"走查快警-{uuid.uuid4().hex[:6]}",
                                            unit_type="patrol_car", org_unit_id=station, members=[])
                response.unit_action(session, CITY, unit.id, "sign_on", None)
                ids.append(unit.id)
        with transaction(self.engine, write=False) as session:
            index = index_for(session)
        accept(index, str(self.engine.url), [Point(u, utcnow(), self.place.lng, self.place.lat + 0.001) for u in ids])
        return ids[0], ids[1]

    @cached_property
    def incident_id(self) -> str:
        """An incident at the first county's place, with the first unit sent to it."""
        from civicgrid.response import service as response

        with transaction(self.engine) as session:
            created = response.create_incident(session, CITY, category="public_order", priority=2,
                                               lng=self.place.lng, lat=self.place.lat)
            response.dispatch(session, CITY, created.incident.id, [self.response_units[0]])
            return created.incident.id

    @cached_property
    def assignment_id(self) -> str:
        from civicgrid.response import service as response

        with transaction(self.engine, write=False) as session:
            incident = response.repository.incident_by_id(session, self.incident_id, "test")
            assert incident is not None
            return response.assignments_of(session, incident)[0].id

    @cached_property
    def shift_id(self) -> str:
        """A shift of the first response unit, tomorrow."""
        from datetime import timedelta

        from civicgrid.kit.clock import utcnow
        from civicgrid.response import service as response

        start = utcnow() + timedelta(days=1)
        with transaction(self.engine) as session:
            return response.create_shift(session, CITY, self.response_units[0], starts_at=start,
                                         ends_at=start + timedelta(hours=8)).id

    @cached_property
    def supervision(self) -> dict[str, str]:
        """A police case of the first county's station (sent through the supervision intake): its
        id, a person, a property item and the family-notice clock of the person's detention."""
        from datetime import timedelta

        from sqlalchemy import select

        from civicgrid.authz.principal import Principal
        from civicgrid.authz.scoping import unscoped
        from civicgrid.kit.clock import utcnow
        from civicgrid.supervision import intake
        from civicgrid.supervision.models import CaseRecord, Clock

        who = Principal(user_id="", username="walk", role="test", division_code=FIRST_COUNTY, jurisdiction=FIRST,
                        permissions=frozenset({"supervision.ingest"}))
        at = utcnow() - timedelta(hours=1)
        ref = f"walk-{uuid.uuid4().hex[:8]}"
        events = [
            intake.EventIn(f"{ref}-1", "case.opened", at, {
                "case": ref, "kind": "criminal", "unit_id": self.unit_id, "title": "走查案件",
                "persons": [{"id": "P1", "name": "王五"}]}),
            intake.EventIn(f"{ref}-2", "measure.started", at, {"case": ref, "measure": "D1",
                                                               "kind": "criminal_detention", "person": "P1"}),
            intake.EventIn(f"{ref}-3", "property.moved", at, {"case": ref, "item": "I1", "action": "seize",
                                                              "description": "手机", "measure": "seized"}),
            intake.EventIn(f"{ref}-4", "person.entered", at, {"case": ref, "person": "P1", "area": "BA-walk"}),
        ]
        with transaction(self.engine) as session:
            result = intake.apply_batch(session, who, "walk", events)
            assert result.applied == 4, result
            case = session.scalars(select(CaseRecord).where(CaseRecord.external_id == ref, unscoped("test"))).one()
            clock = session.scalars(select(Clock).where(Clock.case_id == case.id, unscoped("test"),
                                                        Clock.rule_code == "detention_family_notice")).one()
            from civicgrid.supervision import repository as sup

            person = sup.person_by_external(session, case.id, "P1")
            item = sup.property_by_external(session, case.id, "I1")
            area = sup.area_by_code(session, case.unit_id, "BA-walk")
            assert person is not None and item is not None and area is not None
            return {"case_id": case.id, "person_id": person.id, "property_id": item.id, "clock_id": clock.id,
                    "area_id": area.id}


def _open311_client(engine: Engine, division_code: str, name: str) -> tuple[str, str]:
    with transaction(engine) as session:
        client, key = open311.create_client(session, name=name, division_code=division_code, created_by="test")
        return client.id, key


Factory = Callable[[FirstCounty, str], str]

PARAM_FACTORIES: dict[str, Factory] = {
    "matter_id": lambda rows, path: rows.matter_id,
    "photo_id": lambda rows, path: rows.photo_id,
    "file_id": lambda rows, path: rows.file_id,
    "user_id": lambda rows, path: rows.user_id,
    # A division code, or a grid code where the route serves grids.
    "code": lambda rows, path: rows.place.grid if "/grids/" in path else rows.place.village,
    "client_id": lambda rows, path: rows.client[0],
    "service_request_id": lambda rows, path: rows.open311_request[0],
    "token": lambda rows, path: rows.open311_request[1],
    "unit_id": lambda rows, path: rows.unit_id,
    "alert_id": lambda rows, path: rows.alert_id,
    "response_unit_id": lambda rows, path: rows.response_units[0],
    "incident_id": lambda rows, path: rows.incident_id,
    "assignment_id": lambda rows, path: rows.assignment_id,
    "shift_id": lambda rows, path: rows.shift_id,
    "case_id": lambda rows, path: rows.supervision["case_id"],
    "person_id": lambda rows, path: rows.supervision["person_id"],
    "property_id": lambda rows, path: rows.supervision["property_id"],
    "clock_id": lambda rows, path: rows.supervision["clock_id"],
    "area_id": lambda rows, path: rows.supervision["area_id"],
    "dispute_id": lambda rows, path: rows.dispute[0],
}
"""Path parameter name → the first-county row it names (given the route's path)."""

PARAM_VALUES: dict[str, str] = {
    "fmt": "json",  # Open311's response format
    "rating_key": "x.y",  # a resident's rating link: a capability (HMAC of the matter id), no user's jurisdiction
    "year": "2026",  # the working calendar is national, not a row of a division
    "service_code": "SR01",  # Open311 services are the city's matter catalogue
    "action": "acknowledge",  # a warning's action (the row is the {alert_id})
    # An inbox item belongs to its recipient, not to a division: anyone else gets 404, whatever
    # their jurisdiction (tests/inbox/test_inbox.py); this walk has no division to cross for it.
    "item_id": "0" * 32,
    "unit_action": "sign_on",  # a response unit's action (the row is the {response_unit_id})
    "incident_action": "handle",  # an incident's action (the row is the {incident_id})
}
"""Path parameters that name no row of a division, and the value the walk sends."""

NOT_SCOPED: dict[tuple[str, str], str] = {
    ("PUT", "/api/v1/matter-types/{code}"): "a matter type code: the catalogue is the city's, not a division's",
    ("PUT", "/api/v1/roles/{code}/permissions"): "a role code: roles are the city's (the security administrator)",
}
"""Routes whose row-like parameter names something no division owns, with the reason."""

REQUESTS: dict[tuple[str, str], Callable[[FirstCounty], dict[str, Any]]] = {
    ("POST", "/api/v1/matters/{matter_id}/transitions"): lambda rows: {"json": {"action": "accept"}},
    ("PUT", "/api/v1/org-units/{unit_id}/area"): lambda rows: {"json": {"grids": []}},
    ("PUT", "/api/v1/users/{user_id}/role"): lambda rows: {"json": {"role": "grid_worker"}},
    ("POST", "/api/v1/users/{user_id}/reveal"): lambda rows: {"json": {"purpose": "核实联系方式"}},
    ("POST", "/api/v1/matters/{matter_id}/reveal"): lambda rows: {
        "json": {"field": "reporter_phone", "purpose": "回访上报人"}},
    ("POST", "/api/v1/matters/{matter_id}/print"): lambda rows: {"json": {"purpose": "存档"}},
    ("POST", "/api/v1/disputes/{dispute_id}/transitions"): lambda rows: {"json": {"action": "accept"}},
    ("POST", "/api/v1/disputes/{dispute_id}/sessions"): lambda rows: {"json": {"result": "progress"}},
    ("POST", "/api/v1/disputes/{dispute_id}/agreement"): lambda rows: {
        "json": {"facts": "事实", "issues": "争议", "terms": "协议"}},
    ("POST", "/api/v1/disputes/{dispute_id}/agreement/signatures"): lambda rows: {"json": {"mediator": True}},
    ("POST", "/api/v1/disputes/{dispute_id}/agreement/judicial"): lambda rows: {"json": {"action": "apply"}},
    ("POST", "/api/v1/disputes/{dispute_id}/agreement/print"): lambda rows: {"json": {"purpose": "存档"}},
    ("POST", "/api/v1/disputes/{dispute_id}/agreement/return-visits"): lambda rows: {
        "json": {"performed": "performed", "note": "回访"}},
    ("POST", "/api/v1/disputes/{dispute_id}/attachments"): lambda rows: {
        "files": {"file": ("a.png", io.BytesIO(png()), "image/png")},
        "data": {"session_id": "0" * 32, "kind": "photo"}},
    ("POST", "/api/v1/disputes/{dispute_id}/reveal"): lambda rows: {
        "json": {"party_id": rows.dispute[1], "field": "full_name", "purpose": "核实当事人"}},
    ("POST", "/api/v1/org-units/{unit_id}/departments"): lambda rows: {
        "json": {"code": f"d{uuid.uuid4().hex[:6]}", "name": "治安组"}},
    ("POST", "/api/v1/response/units/{response_unit_id}/positions"): lambda rows: {
        "json": {"points": [{"lng": rows.place.lng, "lat": rows.place.lat}]}},
    ("POST", "/api/v1/response/units/{response_unit_id}/shifts"): lambda rows: {
        "json": {"starts_at": "2031-01-01T00:00:00+00:00", "ends_at": "2031-01-01T08:00:00+00:00"}},
    ("POST", "/api/v1/response/incidents/{incident_id}/dispatch"): lambda rows: {
        "json": {"unit_ids": [rows.response_units[1]]}},
    ("POST", "/api/v1/response/matters/{matter_id}/incident"): lambda rows: {
        "json": {"category": "public_order", "priority": 2}},
    ("POST", "/api/v1/supervision/clocks/{clock_id}/exceptions"): lambda rows: {
        "json": {"kind": "family_notice_impossible", "approver": "李局长", "document_no": "零公〔2026〕1号"}},
    ("POST", "/api/v1/matters/{matter_id}/photos"): lambda rows: {
        "files": {"file": ("a.png", io.BytesIO(png()), "image/png")}, "data": {"stage": "report"}},
    ("POST", "/api/v1/my-reports/{matter_id}/satisfaction"): lambda rows: {"json": {"satisfaction": 5}},
    ("POST", "/api/v1/matters/{matter_id}/place"): lambda rows: {
        "json": {"lng": rows.place.lng, "lat": rows.place.lat, "reason": "位置有误"}},
}
"""What a route needs beyond its path to get past validation (default: ``json={}`` for writes),
so that the answer is about the row, not a 422."""


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    permission: str | None  # None: an Open311 route (the caller is an API-key client)
    params: tuple[str, ...]


def _routes(app: FastAPI) -> list[Route]:
    routes = []
    for route in _iter_routes(app):
        path, methods, dependant = route.path, route.methods, getattr(route, "dependant", None)
        if not path or not methods or dependant is None or not path.startswith(PREFIXES):
            continue
        params = tuple(PARAM.findall(path))
        if not params:
            continue
        found = next(_requirements(dependant), None)
        for method in sorted(set(methods) - {"HEAD", "OPTIONS"}):
            routes.append(Route(method, path, found.permission if found is not None else None, params))
    return routes


def _scoped(app: FastAPI) -> list[Route]:
    """The routes to walk; fails, naming the route, on a path parameter no table knows."""
    unknown = []
    walked = []
    for route in _routes(app):
        missing = [p for p in route.params if p not in PARAM_FACTORIES and p not in PARAM_VALUES]
        if missing:
            unknown += [f"route {route.method} {route.path} has path parameter {p!r} with no factory: add one to "
                        "PARAM_FACTORIES (or, if it names no row of a division, a value to PARAM_VALUES)"
                        for p in missing]
        elif (route.method, route.path) not in NOT_SCOPED and any(p in PARAM_FACTORIES for p in route.params):
            walked.append(route)
    assert not unknown, "\n".join(unknown)
    return walked


def _url(route: Route, rows: FirstCounty) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return PARAM_FACTORIES[name](rows, route.path) if name in PARAM_FACTORIES else PARAM_VALUES[name]

    return PARAM.sub(value, route.path)


class Callers:
    """A caller per county and permission (users with a role of exactly that permission), and an
    Open311 client per county."""

    def __init__(self, server: LiveServer, engine: Engine) -> None:
        self.server, self.engine = server, engine
        self._tokens: dict[tuple[str, str], str] = {}
        self._keys: dict[str, str] = {}

    def token(self, county: str, permission: str) -> str:
        if (county, permission) not in self._tokens:
            role = make_role_committed(self.engine, permissions={permission} if permission else set())
            user = make_user_committed(self.engine, role=role.code, division_code=county)
            self._tokens[(county, permission)] = login(self.server.url, user.username)
        return self._tokens[(county, permission)]

    def api_key(self, county: str, rows: FirstCounty) -> str:
        if county == FIRST_COUNTY:
            return rows.client[1]
        if county not in self._keys:
            self._keys[county] = _open311_client(self.engine, county, "冷水滩随手拍")[1]
        return self._keys[county]

    def call(self, route: Route, rows: FirstCounty, county: str) -> httpx.Response:
        url = self.server.url + _url(route, rows)
        extra = REQUESTS.get((route.method, route.path), lambda _rows: {})(rows)
        if not extra and route.method in ("POST", "PUT", "PATCH"):
            extra = {"json": {}}
        if route.permission is None:  # Open311: the client's key travels as a parameter
            key = self.api_key(county, rows)
            if route.method == "GET":
                extra["params"] = {"api_key": key}
            else:
                extra["data"] = {**extra.get("data", {}), "api_key": key}
            return httpx.request(route.method, url, timeout=30, **extra)
        headers = auth_headers(self.token(county, route.permission))
        return httpx.request(route.method, url, headers=headers, timeout=30, **extra)


@pytest.fixture(scope="module")
def rows(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> FirstCounty:
    return FirstCounty(live_server, engine, yongzhou)


def _is_not_found(response: httpx.Response, route: Route) -> bool:
    if response.status_code != 404:
        return False
    if route.permission is None:  # Open311 errors are a list of {code, description}
        return True
    return bool(response.json().get("error", {}).get("code") == "not_found")


def test_every_route_with_a_row_parameter_answers_404_outside_the_callers_county(
        app: FastAPI, live_server: LiveServer, engine: Engine, rows: FirstCounty) -> None:
    callers = Callers(live_server, engine)
    routes = _scoped(app)
    assert {r.path for r in routes} >= {"/api/v1/matters/{matter_id}", "/api/v1/users/{user_id}",
                                         "/api/v1/divisions/{code}", "/open311/v2/requests/{service_request_id}.{fmt}"}
    leaks = []
    for route in routes:
        outside = callers.call(route, rows, OTHER_COUNTY)
        if outside.status_code == 422:
            leaks.append(f"{route.method} {route.path}: 422 {outside.text[:160]} — add a valid request to REQUESTS")
        elif not _is_not_found(outside, route):
            leaks.append(f"{route.method} {route.path} as {route.permission or 'an Open311 client'} of "
                         f"{OTHER_COUNTY}: {outside.status_code} {outside.text[:160]}")
        # The converse, after the outside call (a write such as a revoke may change the row): the
        # row is real and the caller's own county reaches it.
        inside = callers.call(route, rows, FIRST_COUNTY)
        if inside.status_code in (404, 422):
            leaks.append(f"{route.method} {route.path} inside {FIRST_COUNTY}: {inside.status_code} "
                         f"{inside.text[:160]} — the factory's row is not found by its own county")
    assert not leaks, "\n".join(leaks)


def test_a_new_parameter_without_a_factory_fails_the_walk_by_name(app: FastAPI) -> None:
    saved = PARAM_FACTORIES.pop("matter_id")
    try:
        with pytest.raises(AssertionError) as failure:
            _scoped(app)
    finally:
        PARAM_FACTORIES["matter_id"] = saved
    assert ("route GET /api/v1/matters/{matter_id} has path parameter 'matter_id' with no factory: "
            "add one to PARAM_FACTORIES") in str(failure.value)
