"""Generic permission tests, run for every endpoint under /api/v1 (DESIGN.md rule 9).

They walk ``app.routes``, so an endpoint added later is covered without touching this file:
- every route except the public allow-list declares exactly one permission dependency
  (``require(...)`` or ``require_login``), naming a permission the role catalogue knows;
- no token (or a bogus one) → 401;
- a user whose role grants no permission at all → 403 wherever a permission is needed.

The third generic check — a row outside the caller's jurisdiction answers 404 — needs real
rows: ``test_out_of_scope.py`` walks the same routes with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from sqlalchemy import Engine

from civicgrid.apiclients.dependencies import ClientRequirement
from civicgrid.authz.dependencies import Require
from civicgrid.people.roles_data import load_permissions
from tests.conftest import LiveServer
from tests.factories import auth_headers, login, make_role_committed, make_user_committed

PUBLIC = {("GET", "/api/v1/health"), ("GET", "/api/v1/health/live"), ("GET", "/api/v1/city"),
          ("POST", "/api/v1/auth/login"),
          # The resident's rating link: the key in the path is the credential (matters/open311/rating.py).
          ("GET", "/api/v1/resident-ratings/{rating_key}"), ("POST", "/api/v1/resident-ratings/{rating_key}")}
# Path parameters get a code-shaped value: the permission check runs before the row is looked up.
PLACEHOLDER = "431100000000"


def _requirements(dependant: Dependant) -> Iterator[Require]:
    for sub in dependant.dependencies:
        if isinstance(sub.call, Require):
            yield sub.call
        yield from _requirements(sub)


def _iter_routes(app: FastAPI) -> Iterator[Any]:
    # FastAPI ≥ 0.120 keeps included routers nested; iter_route_contexts flattens them.
    iterate = getattr(routing, "iter_route_contexts", None)
    return iter(iterate(app.routes)) if iterate is not None else iter(app.routes)


def _for_clients(dependant: Dependant) -> bool:
    """Whether the route is called by API clients with a key (``require_client``): those answer
    401/403 by key and record kind, tested in tests/apiclients, not by a user's role."""
    return any(isinstance(sub.call, ClientRequirement) or _for_clients(sub) for sub in dependant.dependencies)


def _api_routes(app: FastAPI) -> list[tuple[str, str, Dependant]]:
    """(method, path, dependant) of every HTTP endpoint under /api/v1 that users call (WebSockets
    authenticate in their handshake and are tested by the realtime module; API-client routes by
    tests/apiclients)."""
    routes = []
    for route in _iter_routes(app):
        path, methods, dependant = route.path, route.methods, getattr(route, "dependant", None)
        if (path and path.startswith("/api/v1/") and methods and dependant is not None
                and not _for_clients(dependant)):
            for method in sorted(set(methods) - {"HEAD", "OPTIONS"}):
                routes.append((method, path, dependant))
    return routes


def _url(server: LiveServer, path: str) -> str:
    return server.url + re.sub(r"\{[^}]+\}", PLACEHOLDER, path)


def _guarded(app: FastAPI) -> list[tuple[str, str, str]]:
    """(method, path, permission) of every non-public route that declares a requirement (a route
    declaring none fails the first test)."""
    guarded = []
    for method, path, dependant in _api_routes(app):
        found = next(_requirements(dependant), None)
        if (method, path) not in PUBLIC and found is not None:
            guarded.append((method, path, found.permission))
    return guarded


def test_every_endpoint_declares_exactly_one_known_permission(app: FastAPI) -> None:
    known = {p.code for p in load_permissions()}
    routes = _api_routes(app)
    assert len(routes) > len(PUBLIC), "no API routes found"
    problems = []
    for method, path, dependant in routes:
        found = list(_requirements(dependant))
        if (method, path) in PUBLIC:
            if found:
                problems.append(f"{method} {path}: public, yet declares {found}")
            continue
        if len(found) != 1:
            problems.append(f"{method} {path}: declares {len(found)} permission dependencies: {found}")
        elif found[0].permission and found[0].permission not in known:
            problems.append(f"{method} {path}: permission {found[0].permission!r} is not in roles.json")
    assert not problems, "\n".join(problems)


def test_public_allow_list_is_really_public(live_server: LiveServer) -> None:
    assert httpx.get(f"{live_server.url}/api/v1/health").status_code == 200
    assert httpx.post(f"{live_server.url}/api/v1/auth/login",
                      json={"username": "nobody", "password": "x"}).status_code == 401


def test_no_token_is_401_everywhere(app: FastAPI, live_server: LiveServer) -> None:
    problems = []
    for method, path, _ in _guarded(app):
        for headers in ({}, auth_headers("forged-" + "0" * 40)):
            response = httpx.request(method, _url(live_server, path), headers=headers, json={})
            if response.status_code != 401 or response.json()["error"]["code"] != "not_authenticated":
                kind = "forged token" if headers else "no token"
                problems.append(f"{method} {path} ({kind}): {response.status_code} {response.text[:120]}")
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def powerless_token(live_server: LiveServer, engine: Engine) -> str:
    role = make_role_committed(engine, permissions=set())
    user = make_user_committed(engine, role=role.code, division_code="431100000000")
    return login(live_server.url, user.username)


def test_role_without_the_permission_is_403_everywhere(app: FastAPI, live_server: LiveServer,
                                                       powerless_token: str) -> None:
    problems = []
    checked = 0
    for method, path, permission in _guarded(app):
        if not permission:  # require_login: any logged-in user may call it
            continue
        checked += 1
        response = httpx.request(method, _url(live_server, path), headers=auth_headers(powerless_token),
                                 json={})
        is_json = response.headers.get("content-type", "").startswith("application/json")
        body = response.json() if is_json else {}
        if response.status_code != 403 or body.get("error", {}).get("permission") != permission:
            problems.append(f"{method} {path} ({permission}): {response.status_code} {response.text[:120]}")
    assert checked > 0
    assert not problems, "\n".join(problems)


def test_roles_that_hold_the_permission_get_past_the_check(app: FastAPI, live_server: LiveServer,
                                                           engine: Engine) -> None:
    """The converse, so the 403 test cannot pass by refusing everyone: a role holding exactly the
    route's permission is never answered 401 or 403."""
    tokens: dict[str, str] = {}
    problems = []
    for method, path, permission in _guarded(app):
        if permission not in tokens:
            role = make_role_committed(engine, permissions={permission} if permission else set())
            user = make_user_committed(engine, role=role.code, division_code="431100000000")
            tokens[permission] = login(live_server.url, user.username)
        if method == "POST" and path.endswith("/auth/logout"):
            continue  # would revoke the shared token
        response = httpx.request(method, _url(live_server, path), headers=auth_headers(tokens[permission]),
                                 json={})
        if response.status_code in (401, 403):
            problems.append(f"{method} {path} ({permission}): {response.status_code} {response.text[:120]}")
    assert not problems, "\n".join(problems)
