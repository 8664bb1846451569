"""Platform API clients (issue 14 §5): keys by header only, record kinds, revocation and rotation,
administration inside the administrator's jurisdiction."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine, select

from civicgrid.apiclients.service import key_hash
from civicgrid.audit.models import AuditEntry
from civicgrid.db import transaction
from tests.apiclients.conftest import make_client
from tests.conftest import LiveServer, Yongzhou
from tests.factories import make_org_unit_committed
from tests.matters.conftest import actor

RETURNS = "/api/v1/hotline/returns"


def test_the_key_travels_in_a_header_only(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    client = make_client(live_server, engine, yongzhou.city)
    url = live_server.url + RETURNS
    assert httpx.get(url, headers={"X-API-Key": client.key}).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"ApiKey {client.key}"}).status_code == 200

    missing = httpx.get(url)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "api_key_required"
    assert missing.json()["error"]["message"].startswith("缺少 API 密钥")
    # A key in the address is refused even when it is right: addresses land in access logs.
    in_query = httpx.get(url, params={"api_key": client.key})
    assert in_query.status_code == 401 and in_query.json()["error"]["code"] == "api_key_in_query"
    both = httpx.get(url, params={"api_key": client.key}, headers={"X-API-Key": client.key})
    assert both.status_code == 401
    # A user's bearer token is no API key.
    assert httpx.get(url, headers={"Authorization": f"Bearer {client.key}"}).status_code == 401

    wrong = httpx.get(url, headers={"X-API-Key": client.key[:-2] + "xx", "Accept-Language": "en"})
    assert wrong.status_code == 403 and wrong.json()["error"] == {
        "code": "invalid_api_key",
        "message": "Invalid or revoked API key",
    }


def test_a_client_sends_only_its_record_kinds(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    tickets_only = make_client(live_server, engine, yongzhou.city, kinds=("hotline_ticket",))
    visit = {"visits": [{"visit_id": "v1", "ticket_number": "T1", "satisfaction": 5}]}
    refused = tickets_only.post("/api/v1/hotline/return-visits", visit)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "record_kind_not_allowed"
    assert "hotline_return_visit" in refused.json()["error"]["message"]
    # An Open311 application holds no hotline kind at all; its key opens no hotline route.
    open311 = make_client(
        live_server, engine, yongzhou.city, kinds=("open311_request",), system_kind="open311", name="随手拍"
    )
    assert open311.key.startswith("o311_")
    assert open311.get(RETURNS).status_code == 403


def test_administrators_register_list_rotate_and_revoke(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou
) -> None:
    admin = actor(live_server, engine, "admin", yongzhou.city)
    unit_id = make_org_unit_committed(
        engine, division_code=yongzhou.city, type_code="government_department", name="市 12345 热线中心"
    )
    created = admin.post(
        "/api/v1/api-clients",
        {
            "name": "永州 12345",
            "system_kind": "hotline_12345",
            "org_unit_id": unit_id,
            "record_kinds": ["hotline_ticket", "hotline_return_visit"],
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["api_key"]
    assert key.startswith("cgk_") and body["key_prefix"] == key[:8] and body["division_code"] == yongzhou.city
    assert body["system_kind_name"] == "12345 政务服务便民热线"
    headers = {"X-API-Key": key}
    assert httpx.get(live_server.url + RETURNS, headers=headers).status_code == 200

    listed = admin.get("/api/v1/api-clients").json()
    mine = next(c for c in listed if c["id"] == body["id"])
    assert "api_key" not in mine and "key_hash" not in mine and mine["last_used_at"] is None
    kinds = admin.get("/api/v1/api-clients/kinds").json()
    assert {"hotline_12345", "police_110", "court_case", "petition_national"} <= {
        k["code"] for k in kinds["system_kinds"]
    }

    bad_kind = admin.post(
        "/api/v1/api-clients",
        {"name": "x", "system_kind": "hotline_12345", "org_unit_id": unit_id, "record_kinds": ["no_such_kind"]},
    )
    assert bad_kind.status_code == 422

    rotated = admin.post(f"/api/v1/api-clients/{body['id']}/rotate")
    assert rotated.status_code == 200, rotated.text
    new_key = rotated.json()["api_key"]
    assert new_key != key
    assert httpx.get(live_server.url + RETURNS, headers=headers).status_code == 403
    assert httpx.get(live_server.url + RETURNS, headers={"X-API-Key": new_key}).status_code == 200

    revoked = admin.post(f"/api/v1/api-clients/{body['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    gone = httpx.get(live_server.url + RETURNS, headers={"X-API-Key": new_key})
    assert gone.status_code == 403 and gone.json()["error"]["code"] == "invalid_api_key"
    assert admin.post(f"/api/v1/api-clients/{body['id']}/rotate").status_code == 409

    grid_worker = actor(live_server, engine, "grid_worker", yongzhou.grid_in("431102"))
    assert grid_worker.get("/api/v1/api-clients").status_code == 403

    with transaction(engine, write=False) as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.entity_type == "api_clients", AuditEntry.entity_id == body["id"])
        ).all()
    assert len(rows) >= 3  # created, rotated, revoked
    for secret in (key, new_key, key_hash(key), key_hash(new_key)):
        assert all(secret not in (r.after or "") and secret not in (r.before or "") for r in rows)


def test_administration_stays_inside_the_jurisdiction(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou
) -> None:
    theirs = make_client(live_server, engine, yongzhou.lengshuitan, name="冷水滩 110")
    lingling_admin = actor(live_server, engine, "admin", yongzhou.lingling)
    assert theirs.id not in [c["id"] for c in lingling_admin.get("/api/v1/api-clients").json()]
    for action in ("revoke", "rotate"):
        response = lingling_admin.post(f"/api/v1/api-clients/{theirs.id}/{action}")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    # A unit of another county cannot be given a client either (404, like an unknown unit).
    outside = lingling_admin.post(
        "/api/v1/api-clients",
        {"name": "x", "system_kind": "police_110", "org_unit_id": theirs.unit_id, "record_kinds": ["hotline_ticket"]},
    )
    assert outside.status_code == 404
    assert theirs.get(RETURNS).status_code == 200  # untouched


def test_an_address_that_keeps_sending_bad_keys_is_slowed_down(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou
) -> None:
    from civicgrid.apiclients.dependencies import THROTTLE

    client = make_client(live_server, engine, yongzhou.city)
    url = live_server.url + RETURNS
    THROTTLE.reset()
    try:
        for _ in range(THROTTLE.limit):
            assert httpx.get(url, headers={"X-API-Key": "cgk_guess"}).status_code == 403
        slowed = httpx.get(url, headers={"X-API-Key": client.key})  # even the right key waits now
        assert slowed.status_code == 429 and slowed.json()["error"]["code"] == "too_many_failures"
        assert 1 <= int(slowed.headers["retry-after"]) <= 300
    finally:
        THROTTLE.reset()
    assert httpx.get(url, headers={"X-API-Key": client.key}).status_code == 200
