"""三员分立 over real HTTP (issue 9 §2): GB/T 22239-2019 8.1.4.2 (管理用户权限分离) and the
security management centre's 8.1.5.1 系统管理 / 8.1.5.2 审计管理 / 8.1.5.3 安全管理.

The system administrator creates, locks and unlocks accounts with business roles that neither
reveal personal data nor read the audit log; the security administrator assigns every other
role and alone edits role permissions; the audit administrator reads and verifies the log —
the other two's actions included — and grants nothing. Nobody grants to themselves.
"""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import Engine

from tests.conftest import LiveServer
from tests.factories import DEFAULT_PASSWORD, auth_headers, login, make_user_committed

CITY = "431100000000"
VILLAGE = "431102001001"


def _admin(server: LiveServer, engine: Engine, role: str) -> tuple[str, str]:
    user = make_user_committed(engine, role=role, division_code=CITY)
    return user.id, login(server.url, user.username)


def _named_admin(server: LiveServer, engine: Engine, role: str) -> tuple[str, str]:
    """(login name, token) of a new administrator of ``role``."""
    user = make_user_committed(engine, role=role, division_code=CITY)
    return user.username, login(server.url, user.username)


def _new_account(role: str) -> dict[str, str]:
    return {"username": f"new_{uuid.uuid4().hex[:8]}", "display_name": "新账号", "role": role,
            "division_code": VILLAGE, "password": "Village#Walk7"}


def test_system_administrator_grants_only_plain_business_roles(live_server: LiveServer, engine: Engine) -> None:
    _, sysadmin = _admin(live_server, engine, "sysadmin")
    users = f"{live_server.url}/api/v1/users"
    for role in ("auditor", "mediator", "county_plc_staff", "sysadmin", "secadmin", "auditadmin"):
        refused = httpx.post(users, json=_new_account(role), headers=auth_headers(sysadmin))
        assert refused.status_code == 403, (role, refused.text)
        assert refused.json()["error"]["code"] == "not_grantable"
    assert "三员分立" in refused.json()["error"]["message"]
    created = httpx.post(users, json=_new_account("village_officer"), headers=auth_headers(sysadmin))
    assert created.status_code == 201, created.text
    account = created.json()["id"]
    # Nor may it give an existing account a reveal role afterwards.
    grant = httpx.put(f"{users}/{account}/role", json={"role": "mediator"}, headers=auth_headers(sysadmin))
    assert grant.status_code == 403 and grant.json()["error"]["code"] == "not_grantable"
    moved = httpx.put(f"{users}/{account}/role", json={"role": "grid_worker"}, headers=auth_headers(sysadmin))
    assert moved.status_code == 200 and moved.json()["role"] == "grid_worker"


def test_security_administrator_grants_reveal_and_audit_roles(live_server: LiveServer, engine: Engine) -> None:
    _, sysadmin = _admin(live_server, engine, "sysadmin")
    _, secadmin = _admin(live_server, engine, "secadmin")
    users = f"{live_server.url}/api/v1/users"
    account = httpx.post(users, json=_new_account("grid_worker"), headers=auth_headers(sysadmin)).json()["id"]
    for role in ("mediator", "auditor"):
        granted = httpx.put(f"{users}/{account}/role", json={"role": role}, headers=auth_headers(secadmin))
        assert granted.status_code == 200 and granted.json()["role"] == role
    # Once it reads the audit log, the system administrator can neither move nor lock the account.
    moved = httpx.put(f"{users}/{account}/role", json={"role": "grid_worker"}, headers=auth_headers(sysadmin))
    assert moved.status_code == 403
    assert httpx.post(f"{users}/{account}/lock", headers=auth_headers(sysadmin)).status_code == 403
    # The security administrator creates no accounts and grants no administrator role.
    assert httpx.post(users, json=_new_account("grid_worker"), headers=auth_headers(secadmin)).status_code == 403
    admin_role = httpx.put(f"{users}/{account}/role", json={"role": "auditadmin"}, headers=auth_headers(secadmin))
    assert admin_role.status_code == 403 and admin_role.json()["error"]["code"] == "not_grantable"


def test_nobody_grants_a_role_to_themselves(live_server: LiveServer, engine: Engine) -> None:
    for role in ("sysadmin", "secadmin"):
        me, token = _admin(live_server, engine, role)
        response = httpx.put(f"{live_server.url}/api/v1/users/{me}/role", json={"role": "grid_worker"},
                             headers=auth_headers(token))
        assert response.status_code == 403, role
        assert response.json()["error"] == {"code": "not_grantable", "message": "不能给自己授予角色"}


def test_audit_administrator_reads_the_others_actions_and_grants_nothing(live_server: LiveServer,
                                                                         engine: Engine) -> None:
    sysadmin_name, sysadmin = _named_admin(live_server, engine, "sysadmin")
    secadmin_name, secadmin = _named_admin(live_server, engine, "secadmin")
    _, auditadmin = _admin(live_server, engine, "auditadmin")
    users = f"{live_server.url}/api/v1/users"
    account = httpx.post(users, json=_new_account("grid_worker"), headers=auth_headers(sysadmin)).json()["id"]
    assert httpx.put(f"{users}/{account}/role", json={"role": "mediator"},
                     headers=auth_headers(secadmin)).status_code == 200

    about = []
    for name in (sysadmin_name, secadmin_name):  # each administrator's own entries (the log spans every chain)
        log = httpx.get(f"{live_server.url}/api/v1/audit", params={"limit": 500, "actor": name},
                        headers=auth_headers(auditadmin))
        assert log.status_code == 200
        about += [(e["action"], e["actor"].split("_")[0]) for e in log.json()["items"] if e["entity_id"] == account]
    assert ("create", "sysadmin") in about and ("users.role_assigned", "secadmin") in about
    assert httpx.get(f"{live_server.url}/api/v1/audit/verify", headers=auth_headers(auditadmin)).json()["ok"]

    assert httpx.post(users, json=_new_account("grid_worker"), headers=auth_headers(auditadmin)).status_code == 403
    assert httpx.put(f"{users}/{account}/role", json={"role": "grid_worker"},
                     headers=auth_headers(auditadmin)).status_code == 403
    assert httpx.post(f"{users}/{account}/lock", headers=auth_headers(auditadmin)).status_code == 403
    # …and the other two read no audit log.
    for token in (sysadmin, secadmin):
        assert httpx.get(f"{live_server.url}/api/v1/audit", headers=auth_headers(token)).status_code == 403


def test_lock_and_unlock(live_server: LiveServer, engine: Engine) -> None:
    _, sysadmin = _admin(live_server, engine, "sysadmin")
    worker = make_user_committed(engine, role="grid_worker", division_code="431102001001001")
    session = login(live_server.url, worker.username)
    users = f"{live_server.url}/api/v1/users/{worker.id}"
    locked = httpx.post(f"{users}/lock", headers=auth_headers(sysadmin))
    assert locked.status_code == 200 and locked.json()["is_active"] is False
    assert httpx.get(f"{live_server.url}/api/v1/auth/me", headers=auth_headers(session)).status_code == 401
    body = {"username": worker.username, "password": DEFAULT_PASSWORD}
    assert httpx.post(f"{live_server.url}/api/v1/auth/login", json=body).status_code == 401
    assert httpx.post(f"{users}/unlock", headers=auth_headers(sysadmin)).json()["is_active"] is True
    assert login(live_server.url, worker.username)


def test_only_the_security_administrator_edits_role_permissions(live_server: LiveServer, engine: Engine) -> None:
    from tests.factories import make_role_committed

    _, sysadmin = _admin(live_server, engine, "sysadmin")
    _, secadmin = _admin(live_server, engine, "secadmin")
    _, auditadmin = _admin(live_server, engine, "auditadmin")
    role = make_role_committed(engine, permissions={"geo.read"})
    url = f"{live_server.url}/api/v1/roles/{role.code}/permissions"
    body = {"permissions": ["geo.read", "matters.read"]}
    assert httpx.put(url, json=body, headers=auth_headers(sysadmin)).status_code == 403
    edited = httpx.put(url, json=body, headers=auth_headers(secadmin))
    assert edited.status_code == 200 and edited.json()["permissions"] == ["geo.read", "matters.read"]
    unknown = httpx.put(url, json={"permissions": ["nuclear.launch"]}, headers=auth_headers(secadmin))
    assert unknown.status_code == 422
    # The data cannot be edited into a break of the separation.
    grid = f"{live_server.url}/api/v1/roles/grid_worker/permissions"
    reveal = httpx.put(grid, json={"permissions": ["geo.read", "pii.reveal"]}, headers=auth_headers(secadmin))
    assert reveal.status_code == 409 and reveal.json()["error"]["code"] == "separation_of_duties"
    fixed = httpx.put(f"{live_server.url}/api/v1/roles/auditadmin/permissions", json={"permissions": []},
                      headers=auth_headers(secadmin))
    assert fixed.status_code == 409
    assert httpx.put(f"{live_server.url}/api/v1/roles/nope/permissions", json=body,
                     headers=auth_headers(secadmin)).status_code == 404

    log = httpx.get(f"{live_server.url}/api/v1/audit", params={"action": "roles.permissions_set"},
                    headers=auth_headers(auditadmin)).json()["items"]
    mine = [e for e in log if e["entity_id"] == role.code]
    assert mine and mine[0]["after"] == {"before": ["geo.read"], "after": ["geo.read", "matters.read"]}
    assert mine[0]["actor"].startswith("secadmin")


def test_security_administrator_resets_a_lost_authenticator(live_server: LiveServer, engine: Engine) -> None:
    _, sysadmin = _admin(live_server, engine, "sysadmin")
    me, secadmin = _admin(live_server, engine, "secadmin")
    mediator = make_user_committed(engine, role="mediator", division_code="431102001000")
    session = login(live_server.url, mediator.username)
    url = f"{live_server.url}/api/v1/users/{mediator.id}/totp"
    assert httpx.delete(url, headers=auth_headers(sysadmin)).status_code == 403  # a reveal holder
    assert httpx.delete(f"{live_server.url}/api/v1/users/{me}/totp", headers=auth_headers(secadmin)).status_code == 403
    reset = httpx.delete(url, headers=auth_headers(secadmin))
    assert reset.status_code == 200 and reset.json()["totp_enrolled"] is False
    assert httpx.get(f"{live_server.url}/api/v1/auth/me", headers=auth_headers(session)).status_code == 401
    again = httpx.post(f"{live_server.url}/api/v1/auth/login",
                       json={"username": mediator.username, "password": DEFAULT_PASSWORD})
    assert again.status_code == 200 and again.json()["pending"] == "totp_enrolment"
