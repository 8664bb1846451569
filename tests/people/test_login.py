"""Login, tokens, lockout and logout over real HTTP (issue 2 §3)."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
from sqlalchemy import Engine, select, text

from civicgrid.audit.models import AuditEntry
from civicgrid.kit.clock import FakeClock
from tests.conftest import LiveServer
from tests.factories import DEFAULT_PASSWORD, auth_headers, login, make_user_committed

COUNTY = "431102000000"  # 零陵区


def _post_login(server: LiveServer, username: str, password: str, lang: str | None = None) -> httpx.Response:
    headers = {"Accept-Language": lang} if lang else {}
    return httpx.post(f"{server.url}/api/v1/auth/login", json={"username": username, "password": password},
                      headers=headers)


def _events(engine: Engine, user_id: str) -> list[tuple[str, dict[str, object] | None]]:
    with engine.connect() as conn:
        rows = conn.execute(select(AuditEntry.action, AuditEntry.after).where(AuditEntry.entity_id == user_id)
                            .order_by(AuditEntry.seq)).all()
    return [(action, json.loads(after) if after else None) for action, after in rows]


def test_login_returns_token_and_user_object(live_server: LiveServer, engine: Engine) -> None:
    user = make_user_committed(engine, role="county_plc_staff", division_code=COUNTY, display_name="李四")
    response = _post_login(live_server, user.username, DEFAULT_PASSWORD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 30 * 60
    assert len(body["access_token"]) >= 40
    me = body["user"]
    assert me["id"] == user.id and me["username"] == user.username and me["display_name"] == "李四"
    assert me["role"] == "county_plc_staff" and me["role_name"] == "县（区）委政法委工作人员"
    assert me["division_code"] == COUNTY and me["jurisdiction"] == "431102"
    assert "pii.reveal" in me["permissions"] and "users.manage" not in me["permissions"]

    again = httpx.get(f"{live_server.url}/api/v1/auth/me", headers=auth_headers(body["access_token"]))
    assert again.status_code == 200
    assert again.json() == me
    assert ("auth.login", {"username": user.username}) in _events(engine, user.id)


def test_token_is_stored_only_as_a_hash(live_server: LiveServer, engine: Engine) -> None:
    user = make_user_committed(engine, role="grid_worker", division_code="431102001001001")
    token = login(live_server.url, user.username)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM auth_tokens WHERE user_id = :u"),
                              {"u": user.id}).all()
    assert len(stored) == 1 and stored[0][0] != token and token not in stored[0][0]


def test_wrong_password_and_unknown_user_get_the_same_401(live_server: LiveServer, engine: Engine) -> None:
    user = make_user_committed(engine, role="grid_worker", division_code="431102001001001")
    wrong = _post_login(live_server, user.username, "Wrong#Pass1")
    unknown = _post_login(live_server, "nobody_" + user.username, "Wrong#Pass1")
    assert wrong.status_code == unknown.status_code == 401
    expected = {"error": {"code": "not_authenticated", "message": "用户名或密码错误"}}
    assert wrong.json() == unknown.json() == expected
    english = _post_login(live_server, user.username, "Wrong#Pass1", lang="en-US,en;q=0.9")
    assert english.json()["error"]["message"] == "Wrong username or password"
    failed = [after for action, after in _events(engine, user.id) if action == "auth.login_failed"]
    assert len(failed) == 2 and failed[0] == {"username": user.username, "reason": "wrong_password"}


def test_five_failures_lock_the_account_for_fifteen_minutes(live_server: LiveServer, engine: Engine,
                                                             clock: FakeClock) -> None:
    user = make_user_committed(engine, role="village_officer", division_code="431102001001")
    for _ in range(4):
        assert _post_login(live_server, user.username, "Wrong#Pass1").status_code == 401
    fifth = _post_login(live_server, user.username, "Wrong#Pass1")
    assert fifth.status_code == 423
    assert fifth.json()["error"]["code"] == "account_locked"
    assert "15 分钟" in fifth.json()["error"]["message"]

    # Locked: even the right password is refused, in the caller's language.
    clock.advance(timedelta(minutes=5))
    locked = _post_login(live_server, user.username, DEFAULT_PASSWORD, lang="en")
    assert locked.status_code == 423
    assert locked.json()["error"]["message"] == (
        "Too many failed logins: the account is locked; try again in 10 minutes")

    clock.advance(timedelta(minutes=10, seconds=1))
    assert _post_login(live_server, user.username, DEFAULT_PASSWORD).status_code == 200
    actions = [action for action, _ in _events(engine, user.id)]
    assert actions.count("auth.login_failed") == 6  # five wrong passwords and one attempt while locked
    assert actions.count("auth.locked") == 1 and actions[-1] == "auth.login"


def test_failures_outside_the_window_do_not_count(live_server: LiveServer, engine: Engine,
                                                  clock: FakeClock) -> None:
    user = make_user_committed(engine, role="village_officer", division_code="431102001001")
    for _ in range(4):
        assert _post_login(live_server, user.username, "Wrong#Pass1").status_code == 401
    clock.advance(timedelta(minutes=15, seconds=1))
    assert _post_login(live_server, user.username, "Wrong#Pass1").status_code == 401
    assert _post_login(live_server, user.username, DEFAULT_PASSWORD).status_code == 200


def test_success_resets_the_failure_count(live_server: LiveServer, engine: Engine, clock: FakeClock) -> None:
    user = make_user_committed(engine, role="village_officer", division_code="431102001001")
    for _ in range(4):
        _post_login(live_server, user.username, "Wrong#Pass1")
    assert _post_login(live_server, user.username, DEFAULT_PASSWORD).status_code == 200
    for _ in range(4):
        assert _post_login(live_server, user.username, "Wrong#Pass1").status_code == 401


def test_idle_timeout_and_activity(live_server: LiveServer, engine: Engine, clock: FakeClock) -> None:
    user = make_user_committed(engine, role="grid_worker", division_code="431102001001001")
    token = login(live_server.url, user.username)
    me = f"{live_server.url}/api/v1/auth/me"
    # Activity every 25 minutes keeps the token alive well past 30 minutes in total.
    for _ in range(3):
        clock.advance(timedelta(minutes=25))
        assert httpx.get(me, headers=auth_headers(token)).status_code == 200
    clock.advance(timedelta(minutes=30, seconds=1))
    expired = httpx.get(me, headers=auth_headers(token))
    assert expired.status_code == 401
    assert expired.json()["error"]["message"] == "登录已超时，请重新登录"


def test_absolute_lifetime_ends_even_an_active_token(live_server: LiveServer, engine: Engine,
                                                     clock: FakeClock) -> None:
    user = make_user_committed(engine, role="grid_worker", division_code="431102001001001")
    token = login(live_server.url, user.username)
    me = f"{live_server.url}/api/v1/auth/me"
    for _ in range(12 * 3 - 1):  # every 20 minutes for 11h40
        clock.advance(timedelta(minutes=20))
        assert httpx.get(me, headers=auth_headers(token)).status_code == 200
    clock.advance(timedelta(minutes=20))  # 12 h after login
    assert httpx.get(me, headers=auth_headers(token)).status_code == 401


def test_logout_revokes_the_token(live_server: LiveServer, engine: Engine) -> None:
    user = make_user_committed(engine, role="grid_worker", division_code="431102001001001")
    token = login(live_server.url, user.username)
    other = login(live_server.url, user.username)
    out = httpx.post(f"{live_server.url}/api/v1/auth/logout", headers=auth_headers(token))
    assert out.status_code == 204
    assert httpx.get(f"{live_server.url}/api/v1/auth/me", headers=auth_headers(token)).status_code == 401
    # Only the token used is revoked: the same user's other session goes on.
    assert httpx.get(f"{live_server.url}/api/v1/auth/me", headers=auth_headers(other)).status_code == 200
    assert "auth.logout" in [action for action, _ in _events(engine, user.id)]


def test_bad_tokens_are_401(live_server: LiveServer) -> None:
    me = f"{live_server.url}/api/v1/auth/me"
    assert httpx.get(me).status_code == 401
    assert httpx.get(me, headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    assert httpx.get(me, headers={"Authorization": "Basic dXNlcjpwYXNz"}).status_code == 401
    assert httpx.get(me).headers["WWW-Authenticate"] == "Bearer"


def test_get_requests_do_not_write_when_last_seen_is_fresh(live_server: LiveServer, engine: Engine,
                                                           db_url: str) -> None:
    """A GET whose token was seen within the last minute needs no write lock: it answers while
    another connection holds SQLite's write lock (on PostgreSQL there is no such lock)."""
    user = make_user_committed(engine, role="grid_worker", division_code="431102001001001")
    token = login(live_server.url, user.username)
    if engine.dialect.name != "sqlite":
        assert httpx.get(f"{live_server.url}/api/v1/auth/me", headers=auth_headers(token)).status_code == 200
        return
    with engine.connect() as blocker:
        blocker.exec_driver_sql("SELECT 1")  # BEGIN IMMEDIATE: holds the write lock
        response = httpx.get(f"{live_server.url}/api/v1/auth/me", headers=auth_headers(token), timeout=5)
        blocker.rollback()
    assert response.status_code == 200


def test_last_seen_is_written_at_most_once_a_minute(live_server: LiveServer, engine: Engine,
                                                    clock: FakeClock) -> None:
    user = make_user_committed(engine, role="grid_worker", division_code="431102001001001")
    token = login(live_server.url, user.username)

    def last_seen() -> object:
        with engine.connect() as conn:
            return conn.execute(text("SELECT last_seen_at FROM auth_tokens WHERE user_id = :u"),
                                {"u": user.id}).scalar_one()

    first = last_seen()
    clock.advance(timedelta(seconds=30))
    httpx.get(f"{live_server.url}/api/v1/auth/me", headers=auth_headers(token))
    assert last_seen() == first
    clock.advance(timedelta(seconds=31))
    httpx.get(f"{live_server.url}/api/v1/auth/me", headers=auth_headers(token))
    assert last_seen() != first
