"""Users API over real HTTP: jurisdiction scoping, creation rules, masked and revealed phones."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import Engine, select, text

from civicgrid.audit.models import AuditEntry
from tests.conftest import LiveServer
from tests.factories import assert_out_of_scope_404, auth_headers, login, make_user_committed

CITY = "431100000000"
LINGLING = "431102000000"
LENGSHUITAN = "431103000000"
PHONE = "13812345678"


def _token(server: LiveServer, engine: Engine, role: str, division: str) -> str:
    return login(server.url, make_user_committed(engine, role=role, division_code=division).username)


def test_list_is_scoped_to_the_jurisdiction(live_server: LiveServer, engine: Engine) -> None:
    mine = make_user_committed(engine, role="grid_worker", division_code="431102001001001")
    theirs = make_user_committed(engine, role="grid_worker", division_code="431103001001001")
    county = _token(live_server, engine, "county_plc_staff", LINGLING)
    city = _token(live_server, engine, "city_plc_staff", CITY)

    seen = httpx.get(f"{live_server.url}/api/v1/users", params={"limit": 200},
                     headers=auth_headers(county)).json()
    assert seen["total"] == len(seen["items"]) or seen["total"] > 200
    assert all(u["division_code"].startswith("431102") for u in seen["items"])
    ids = {u["id"] for u in seen["items"]}
    assert mine.id in ids and theirs.id not in ids

    for user in (mine, theirs):
        found = httpx.get(f"{live_server.url}/api/v1/users", params={"q": user.username},
                          headers=auth_headers(city)).json()
        assert [u["id"] for u in found["items"]] == [user.id]


def test_pagination(live_server: LiveServer, engine: Engine) -> None:
    village = "431102002003"
    made = {make_user_committed(engine, role="grid_worker", division_code=f"{village}00{i}").id
            for i in range(3)}
    token = _token(live_server, engine, "village_officer", village)  # jurisdiction 431102002003
    pages = [httpx.get(f"{live_server.url}/api/v1/users", params={"limit": 2, "offset": off},
                       headers=auth_headers(token)).json() for off in (0, 2)]
    assert pages[0]["total"] == pages[1]["total"] == 4
    assert len(pages[0]["items"]) == 2 and len(pages[1]["items"]) == 2
    got = [u["id"] for page in pages for u in page["items"]]
    assert len(set(got)) == 4 and made < set(got)


def test_user_of_another_county_is_404(live_server: LiveServer, engine: Engine) -> None:
    theirs = make_user_committed(engine, role="grid_worker", division_code="431103001001001")
    token = _token(live_server, engine, "county_plc_staff", LINGLING)
    assert_out_of_scope_404(live_server.url, token, f"/api/v1/users/{theirs.id}")
    assert_out_of_scope_404(live_server.url, token, f"/api/v1/users/{'0' * 32}")
    city = _token(live_server, engine, "city_plc_staff", CITY)
    response = httpx.get(f"{live_server.url}/api/v1/users/{theirs.id}", headers=auth_headers(city))
    assert response.status_code == 200 and response.json()["jurisdiction"] == "431103001001001"


def test_create_user_inside_jurisdiction_only(live_server: LiveServer, engine: Engine) -> None:
    admin = _token(live_server, engine, "sysadmin", LINGLING)
    body = {"username": "zhang_san_lingling", "display_name": "张三", "role": "grid_worker",
            "division_code": "431102001001002", "password": "Grid#2026a", "phone": "+86 138-1234-5678"}
    created = httpx.post(f"{live_server.url}/api/v1/users", json=body, headers=auth_headers(admin))
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["role"] == "grid_worker" and user["role_name"] == "网格员"
    assert user["phone"] == "138****5678" and user["jurisdiction"] == "431102001001002"
    assert user["must_change_password"] is True and user["totp_enrolled"] is False
    assert login(live_server.url, "zhang_san_lingling", "Grid#2026a")

    outside = httpx.post(f"{live_server.url}/api/v1/users", headers=auth_headers(admin),
                         json={**body, "username": "li_si_lengshuitan", "division_code": "431103001001001"})
    assert outside.status_code == 403 and outside.json()["error"]["code"] == "out_of_jurisdiction"
    city_level = httpx.post(f"{live_server.url}/api/v1/users", headers=auth_headers(admin),
                            json={**body, "username": "wang_wu_city", "division_code": CITY})
    assert city_level.status_code == 403

    duplicate = httpx.post(f"{live_server.url}/api/v1/users", json=body, headers=auth_headers(admin))
    assert duplicate.status_code == 409
    unknown_role = httpx.post(f"{live_server.url}/api/v1/users", headers=auth_headers(admin),
                              json={**body, "username": "x_role", "role": "emperor"})
    assert unknown_role.status_code == 422 and "emperor" in unknown_role.json()["error"]["message"]
    bad_phone = httpx.post(f"{live_server.url}/api/v1/users", headers=auth_headers(admin),
                           json={**body, "username": "x_phone", "phone": "12345"})
    assert bad_phone.status_code == 422 and bad_phone.json()["error"]["message"].startswith("手机号码")


def test_password_policy(live_server: LiveServer, engine: Engine) -> None:
    admin = _token(live_server, engine, "sysadmin", CITY)
    base = {"display_name": "测试", "role": "volunteer", "division_code": "431102001001"}
    for i, weak in enumerate(["Ab1#xyz", "abcdefgh1", "ABCDEFGH#", "abcdefghij"]):
        response = httpx.post(f"{live_server.url}/api/v1/users", headers={**auth_headers(admin),
                              "Accept-Language": "en" if i % 2 else "zh-CN"},
                              json={**base, "username": f"weak_{i}_pw", "password": weak})
        assert response.status_code == 422, weak
        error = response.json()["error"]
        assert error["code"] == "weak_password"
        assert ("at least 8 characters" in error["message"]) if i % 2 else ("至少 8 位" in error["message"])
    for i, good in enumerate(["abcdef1#", "ABCdef12", "Ab#defgh"]):
        response = httpx.post(f"{live_server.url}/api/v1/users", headers=auth_headers(admin),
                              json={**base, "username": f"good_{i}_pw", "password": good})
        assert response.status_code == 201, (good, response.text)
    # Issue 9 §3: complex enough, yet what every guessing attack tries first, or the username.
    for common in ["Password1", "Aa123456", "Woaini@1314", "Qwerty123", "Password@2026", "P@ssw0rd",
                   "Zhang_san_pw1"]:
        response = httpx.post(f"{live_server.url}/api/v1/users", headers=auth_headers(admin),
                              json={**base, "username": "zhang_san_pw", "password": common})
        assert response.status_code == 422, common
        assert response.json()["error"]["code"] in ("common_password", "weak_password"), common
    refused = httpx.post(f"{live_server.url}/api/v1/users", headers=auth_headers(admin),
                         json={**base, "username": "x_common", "password": "Password1"})
    assert refused.json()["error"] == {
        "code": "common_password", "field": "password",
        "message": "密码过于常见，容易被猜中（如 Password1、Aa123456、woaini1314），请换一个"}


def test_phone_is_encrypted_masked_found_by_hash_and_reveal_is_audited(live_server: LiveServer,
                                                                        engine: Engine) -> None:
    target = make_user_committed(engine, role="grid_worker", division_code="431102003001001", phone=PHONE)
    with engine.connect() as conn:
        cipher, digest = conn.execute(text("SELECT phone_cipher, phone_hash FROM users WHERE id = :i"),
                                      {"i": target.id}).one()
        audit_text = " ".join(str(a) for (a,) in conn.execute(
            select(AuditEntry.after).where(AuditEntry.entity_id == target.id)))
    assert PHONE not in cipher and PHONE not in digest and "5678" not in cipher
    assert PHONE not in audit_text and digest not in audit_text and "argon2" not in audit_text

    staff = _token(live_server, engine, "county_plc_staff", LINGLING)  # holds pii.reveal
    admin = _token(live_server, engine, "admin", LINGLING)  # does not
    shown = httpx.get(f"{live_server.url}/api/v1/users/{target.id}", headers=auth_headers(staff)).json()
    assert shown["phone"] == "138****5678"

    by_phone = httpx.get(f"{live_server.url}/api/v1/users", params={"phone": "138 1234 5678"},
                         headers=auth_headers(admin)).json()
    assert target.id in [u["id"] for u in by_phone["items"]]
    assert all(u["phone"] == "138****5678" for u in by_phone["items"])

    reveal_url = f"{live_server.url}/api/v1/users/{target.id}/reveal"
    purpose = {"purpose": "核实网格员联系方式"}
    denied = httpx.post(reveal_url, headers=auth_headers(admin), json=purpose)
    assert denied.status_code == 403
    # A reveal states its purpose: none, or only blanks, is refused (and not audited).
    assert httpx.post(reveal_url, headers=auth_headers(staff)).status_code == 422
    blank = httpx.post(reveal_url, headers=auth_headers(staff), json={"purpose": "   "})
    assert blank.status_code == 422 and blank.json()["error"]["field"] == "purpose"
    revealed = httpx.post(reveal_url, headers=auth_headers(staff), json=purpose)
    assert revealed.status_code == 200 and revealed.json() == {"id": target.id, "phone": PHONE}

    other_county = _token(live_server, engine, "county_plc_staff", LENGSHUITAN)
    assert_out_of_scope_404(live_server.url, other_county, f"/api/v1/users/{target.id}/reveal", method="POST",
                            json=purpose)

    with engine.connect() as conn:
        reveals = conn.execute(select(AuditEntry.actor, AuditEntry.after).where(
            AuditEntry.action == "pii.reveal", AuditEntry.entity_id == target.id)).all()
    assert len(reveals) == 1
    assert reveals[0][0].startswith("county_plc_staff")
    assert json.loads(str(reveals[0][1])) == {"field": "phone", "purpose": "核实网格员联系方式", "present": True}


def test_roles_endpoint(live_server: LiveServer, engine: Engine) -> None:
    auditor = _token(live_server, engine, "auditor", CITY)
    roles = httpx.get(f"{live_server.url}/api/v1/roles", headers=auth_headers(auditor)).json()
    by_code = {r["code"]: r for r in roles}
    assert {"admin", "grid_worker", "mediator", "auditor", "enforcement_supervisor"} <= by_code.keys()
    assert by_code["grid_worker"]["name"] == "网格员"
    assert "audit.read" in by_code["auditor"]["permissions"]
    english = httpx.get(f"{live_server.url}/api/v1/roles",
                        headers={**auth_headers(auditor), "Accept-Language": "en"}).json()
    assert {r["code"]: r["name"] for r in english}["grid_worker"] == "Grid worker"
