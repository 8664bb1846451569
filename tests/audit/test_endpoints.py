"""The audit API over real HTTP: scoped by jurisdiction, denials and logins recorded, verify."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from civicgrid.audit.service import Actor, record, set_actor
from civicgrid.db import transaction
from tests.conftest import LiveServer
from tests.factories import auth_headers, login, make_user_committed


def _entries(server: LiveServer, token: str, **params: str) -> list[dict[str, object]]:
    response = httpx.get(f"{server.url}/api/v1/audit", params={"limit": "500", **params},
                         headers=auth_headers(token))
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def test_county_auditor_sees_only_its_county(live_server: LiveServer, engine: Engine) -> None:
    with transaction(engine) as session:
        set_actor(session, Actor("tester"))
        record(session, "test.mark", "thing", "lingling", division_code="431102001001")
        record(session, "test.mark", "thing", "lengshuitan", division_code="431103001001")
    county = make_user_committed(engine, role="auditor", division_code="431102000000")
    city = make_user_committed(engine, role="auditor", division_code="431100000000")
    seen_by_county = {e["entity_id"] for e in _entries(live_server, login(live_server.url, county.username),
                                                          action="test.mark")}
    seen_by_city = {e["entity_id"] for e in _entries(live_server, login(live_server.url, city.username),
                                                        action="test.mark")}
    assert seen_by_county == {"lingling"}
    assert {"lingling", "lengshuitan"} <= seen_by_city


def test_logins_and_denials_are_in_the_chain(live_server: LiveServer, engine: Engine) -> None:
    user = make_user_committed(engine, role="village_officer", division_code="431102001001")
    bad = httpx.post(f"{live_server.url}/api/v1/auth/login", json={"username": user.username, "password": "wrong"})
    assert bad.status_code == 401
    token = login(live_server.url, user.username)
    denied = httpx.get(f"{live_server.url}/api/v1/audit", headers=auth_headers(token))
    assert denied.status_code == 403  # a village officer may not read the audit log
    city = make_user_committed(engine, role="auditor", division_code="431100000000")
    entries = _entries(live_server, login(live_server.url, city.username))
    mine = [(e["action"], e["actor"]) for e in entries if e["actor"] in (user.username, "anonymous")
            or e.get("entity_id") == user.username]
    actions = {a for a, _ in mine}
    assert "auth.login" in actions
    assert "auth.denied" in actions
    assert any(e["action"] == "auth.login_failed" for e in entries)


def test_verify_endpoint(live_server: LiveServer, engine: Engine) -> None:
    city = make_user_committed(engine, role="auditor", division_code="431100000000")
    response = httpx.get(f"{live_server.url}/api/v1/audit/verify",
                         headers=auth_headers(login(live_server.url, city.username)))
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["checked"] > 0 and body["broken_seq"] is None


def test_anchor_download_for_the_city_auditor(live_server: LiveServer, engine: Engine) -> None:
    """Issue 9 §3.1: the audit administrator downloads the anchors (JSON lines) to keep off the server."""
    import json

    from civicgrid.audit.service import read_anchors, verify

    city = make_user_committed(engine, role="auditor", division_code="431100000000")
    token = login(live_server.url, city.username)
    response = httpx.get(f"{live_server.url}/api/v1/audit/anchor", params={"every": "5"},
                         headers=auth_headers(token))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in response.headers["content-disposition"]
    lines = [json.loads(line) for line in response.text.splitlines()]
    heads = [a for a in lines if a["kind"] == "head"]
    assert heads and len({a["chain"] for a in heads}) == len(heads)  # one head per chain (city, counties)
    assert all(a["seq"] % 5 == 0 for a in lines if a["kind"] == "checkpoint")
    with engine.connect() as conn:  # what was downloaded verifies against the database
        assert verify(conn, read_anchors(response.text)).ok
    # A county auditor holds audit.read too, but anchoring every chain is a city-level task: 404.
    county = make_user_committed(engine, role="auditor", division_code="431102000000")
    hidden = httpx.get(f"{live_server.url}/api/v1/audit/anchor",
                       headers=auth_headers(login(live_server.url, county.username)))
    assert hidden.status_code == 404
