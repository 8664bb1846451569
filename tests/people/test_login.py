"""Login, tokens, lockout and logout over real HTTP (issue 2 §3, issue 9 §3)."""

from __future__ import annotations

import json
import statistics
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, select, text

from civicgrid.audit.models import AuditEntry
from civicgrid.kit.clock import FakeClock
from tests.conftest import LiveServer
from tests.factories import DEFAULT_PASSWORD, auth_headers, login, make_user_committed, totp_code
from tests.people.conftest import new_address

COUNTY = "431102000000"  # 零陵区
_ADDRESS = new_address()


def _post_login(server: LiveServer, username: str, password: str, lang: str | None = None, *,
                ip: str | None = None, code: str | None = None) -> httpx.Response:
    headers = {"Accept-Language": lang} if lang else {}
    headers["X-Forwarded-For"] = ip or _ADDRESS
    body = {"username": username, "password": password, **({"code": code} if code else {})}
    return httpx.post(f"{server.url}/api/v1/auth/login", json=body, headers=headers)


@pytest.fixture(autouse=True)
def _own_address() -> None:
    """Each test logs in from an address of its own (its failures lock and throttle only it)."""
    global _ADDRESS
    _ADDRESS = new_address()


def _events(engine: Engine, user_id: str) -> list[tuple[str, dict[str, object] | None]]:
    with engine.connect() as conn:
        rows = conn.execute(select(AuditEntry.action, AuditEntry.after).where(AuditEntry.entity_id == user_id)
                            .order_by(AuditEntry.seq)).all()
    return [(action, json.loads(after) if after else None) for action, after in rows]


def test_login_returns_token_and_user_object(live_server: LiveServer, engine: Engine) -> None:
    user = make_user_committed(engine, role="county_plc_staff", division_code=COUNTY, display_name="李四")
    response = _post_login(live_server, user.username, DEFAULT_PASSWORD, code=totp_code(user.username))
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
    assert me["pending"] is None and body["pending"] is None
    assert me["second_factor_required"] is True and me["totp_enrolled"] is True

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
    assert fifth.headers["Retry-After"] == str(15 * 60)

    # Locked: even the right password is refused, in the caller's language.
    clock.advance(timedelta(minutes=5))
    locked = _post_login(live_server, user.username, DEFAULT_PASSWORD, lang="en")
    assert locked.status_code == 423
    assert locked.json()["error"]["message"] == (
        "Too many failed logins: the account is locked; try again in 10 minutes")
    assert locked.headers["Retry-After"] == str(10 * 60)

    # The lock holds at the address that failed, not for the owner elsewhere (a stranger cannot
    # keep an account locked: issue 9 §3).
    assert _post_login(live_server, user.username, DEFAULT_PASSWORD, ip=new_address()).status_code == 200

    clock.advance(timedelta(minutes=10, seconds=1))
    assert _post_login(live_server, user.username, DEFAULT_PASSWORD).status_code == 200
    actions = [action for action, _ in _events(engine, user.id)]
    assert actions.count("auth.login_failed") == 6  # five wrong passwords and one attempt while locked
    assert actions.count("auth.locked") == 1 and actions[-1] == "auth.login"
    assert actions.count("auth.login") == 2


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


# ---------------------------------------------------------------- issue 9 §3: no oracle, lock-outs


def _comparable(response: httpx.Response) -> tuple[int, object, dict[str, str]]:
    headers = {k: v for k, v in response.headers.items() if k not in ("date", "x-request-id")}
    return response.status_code, response.json(), headers


def test_production_hashes_passwords_with_rfc_9106_argon2id() -> None:
    """The suite hashes cheaply (tests/conftest.py); production keeps RFC 9106's first
    recommended argon2id parameters: 64 MiB, 3 passes, 4 lanes."""
    from argon2 import Type

    from civicgrid.people import service
    from tests.conftest import PRODUCTION_PASSWORD_HASHER

    hasher = PRODUCTION_PASSWORD_HASHER
    assert (hasher.type, hasher.memory_cost, hasher.time_cost, hasher.parallelism) == (Type.ID, 65536, 3, 4)
    assert service._hasher is not hasher  # the suite's own, cheap one
    assert service.verify_password(hasher.hash("Test#Pass2026"), "Test#Pass2026")


def test_known_and_unknown_names_answer_alike(live_server: LiveServer, engine: Engine, clock: FakeClock) -> None:
    """Six bad logins for a known name and for an unknown one: the same statuses, bodies and
    headers, lock-out included (before issue 9 an unknown name was never locked)."""
    user = make_user_committed(engine, role="grid_worker", division_code="431102001001001")
    known = [_post_login(live_server, user.username, "Wrong#Pass1") for _ in range(6)]
    unknown = [_post_login(live_server, "nobody_" + user.username, "Wrong#Pass1") for _ in range(6)]
    assert [r.status_code for r in known] == [401, 401, 401, 401, 423, 423]
    assert [_comparable(r) for r in known] == [_comparable(r) for r in unknown]
    assert known[-1].headers["Retry-After"] == str(15 * 60)


def test_known_and_unknown_names_cost_one_password_hash_each(live_server: LiveServer, engine: Engine,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             production_password_hashing: None) -> None:
    """Alike in time: every path verifies exactly one argon2 hash (an unknown name against a dummy
    one, a locked name too); before issue 9 a locked name answered in 3 ms, an unknown one in 184."""
    from civicgrid.people import service

    calls: list[str] = []
    real = service.verify_password

    def counting(password_hash: str, password: str) -> bool:
        calls.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(service, "verify_password", counting)
    user = make_user_committed(engine, role="grid_worker", division_code="431102001001001")
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    for _ in range(7):  # the last two answer 423: locked, and still one hash each
        for kind, name in (("known", user.username), ("unknown", "ghost_" + user.username)):
            calls.clear()
            started = time.perf_counter()
            _post_login(live_server, name, "Wrong#Pass1")
            timings[kind].append(time.perf_counter() - started)
            assert len(calls) == 1, (kind, calls)
    known, unknown = statistics.median(timings["known"]), statistics.median(timings["unknown"])
    assert max(known, unknown) < 2 * min(known, unknown), timings


def test_an_address_with_many_failures_is_throttled(live_server: LiveServer, engine: Engine,
                                                    monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    """A stranger cycling through names is stopped by the per-address throttle: 429 with
    Retry-After, for every name (the owner's right password included) — from that address only."""
    from civicgrid.config import get_settings

    monkeypatch.setattr(get_settings(), "login_address_max_failures", 8)
    user = make_user_committed(engine, role="grid_worker", division_code="431102001001001")
    for i in range(8):
        assert _post_login(live_server, f"guess_{i}_{user.username}", "Wrong#Pass1").status_code == 401
    clock.advance(timedelta(minutes=3))
    throttled = _post_login(live_server, user.username, DEFAULT_PASSWORD)
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "too_many_attempts"
    assert throttled.json()["error"]["message"] == "此地址登录失败次数过多，请 12 分钟后再试"
    assert throttled.headers["Retry-After"] == str(12 * 60)
    assert _post_login(live_server, user.username, DEFAULT_PASSWORD, ip=new_address()).status_code == 200
    clock.advance(timedelta(minutes=12, seconds=1))
    assert _post_login(live_server, user.username, DEFAULT_PASSWORD).status_code == 200


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(live_server: LiveServer, engine: Engine,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from civicgrid.config import get_settings

    user = make_user_committed(engine, role="grid_worker", division_code="431102001001001")
    spoofed = new_address()
    monkeypatch.setattr(get_settings(), "trusted_proxies", "")
    _post_login(live_server, user.username, "Wrong#Pass1", ip=spoofed)
    monkeypatch.setattr(get_settings(), "trusted_proxies", "127.0.0.1/32")
    # Through the proxy: the right-most untrusted hop is the client, whatever the client prepended.
    _post_login(live_server, user.username, "Wrong#Pass1", ip=f"6.6.6.6, {spoofed}")
    with engine.connect() as conn:
        seen = [ip for (ip,) in conn.execute(text("SELECT ip FROM login_failures WHERE username = :u ORDER BY id"),
                                             {"u": user.username})]
    assert seen == ["127.0.0.1", spoofed]


# ---------------------------------------------------------------- issue 9 §2: second factor


def test_second_factor_code_is_required_checked_once_and_counts_as_a_failure(
        live_server: LiveServer, engine: Engine) -> None:
    """RFC 6238: a holder of pii.reveal logs in with a 6-digit code; a wrong one is a failed
    login (five lock), and an accepted code is not accepted again (§5.2)."""
    user = make_user_committed(engine, role="mediator", division_code="431102001000")
    missing = _post_login(live_server, user.username, DEFAULT_PASSWORD)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "totp_required"
    code = totp_code(user.username)
    assert _post_login(live_server, user.username, DEFAULT_PASSWORD, code=code).status_code == 200
    replay = _post_login(live_server, user.username, DEFAULT_PASSWORD, code=code)
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "totp_invalid"
    for _ in range(3):
        wrong = _post_login(live_server, user.username, DEFAULT_PASSWORD, code="000000")
        assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "动态验证码错误或已使用"
    assert _post_login(live_server, user.username, DEFAULT_PASSWORD, code="000000").status_code == 423
    reasons = [after["reason"] for action, after in _events(engine, user.id)
               if action == "auth.login_failed" and after]
    assert reasons == ["wrong_totp"] * 5
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT totp_secret FROM users WHERE id = :i"), {"i": user.id}).scalar_one()
    from tests.factories import TOTP_SECRETS

    assert TOTP_SECRETS[user.username] not in stored and stored.startswith("aes-gcm.")


def test_enrolment_is_forced_for_a_reveal_holder_without_an_authenticator(live_server: LiveServer,
                                                                         engine: Engine) -> None:
    from civicgrid.kit.clock import utcnow
    from civicgrid.people import totp

    user = make_user_committed(engine, role="petition_officer", division_code=COUNTY, enrol_totp=False)
    first = _post_login(live_server, user.username, DEFAULT_PASSWORD)
    assert first.status_code == 200 and first.json()["pending"] == "totp_enrolment"
    token = first.json()["access_token"]
    division = f"{live_server.url}/api/v1/divisions/{COUNTY}"
    refused = httpx.get(division, headers=auth_headers(token))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "totp_enrolment_required"
    assert "动态验证码" in refused.json()["error"]["message"]

    enrol = httpx.post(f"{live_server.url}/api/v1/auth/totp/enrol", headers=auth_headers(token))
    assert enrol.status_code == 200, enrol.text
    secret = enrol.json()["secret"]
    assert enrol.json()["uri"].startswith(f"otpauth://totp/civicgrid%3A{user.username}?secret={secret}")
    assert enrol.json()["qr_svg"].startswith("data:image/svg+xml")
    bad = httpx.post(f"{live_server.url}/api/v1/auth/totp/confirm", json={"code": "000000"},
                     headers=auth_headers(token))
    assert bad.status_code == 422
    confirmed = httpx.post(f"{live_server.url}/api/v1/auth/totp/confirm",
                           json={"code": totp.code_at(secret, utcnow())}, headers=auth_headers(token))
    assert confirmed.status_code == 200 and confirmed.json() == {"pending": None}
    assert httpx.get(division, headers=auth_headers(token)).status_code in (200, 404)  # past the check
    again = httpx.post(f"{live_server.url}/api/v1/auth/totp/enrol", headers=auth_headers(token))
    assert again.status_code == 409
    # From now on the password alone is not enough.
    assert _post_login(live_server, user.username, DEFAULT_PASSWORD).json()["error"]["code"] == "totp_required"
    assert "auth.totp_enrolled" in [action for action, _ in _events(engine, user.id)]


# ---------------------------------------------------------------- issue 9 §2: forced password change


def test_first_login_may_only_change_the_password(live_server: LiveServer, engine: Engine) -> None:
    """GB/T 22239-2019 8.1.4.2: default passwords are changed. A password someone else chose
    gives a session that may only change it (403 with a Chinese message elsewhere)."""
    user = make_user_committed(engine, role="grid_worker", division_code="431102001001001",
                               must_change_password=True)
    first = _post_login(live_server, user.username, DEFAULT_PASSWORD)
    assert first.status_code == 200 and first.json()["pending"] == "password_change"
    token = first.json()["access_token"]
    me = httpx.get(f"{live_server.url}/api/v1/auth/me", headers=auth_headers(token))
    assert me.status_code == 200 and me.json()["pending"] == "password_change"
    division = f"{live_server.url}/api/v1/divisions/{COUNTY}"
    refused = httpx.get(division, headers=auth_headers(token))
    assert refused.status_code == 403
    assert refused.json()["error"] == {"code": "password_change_required",
                                       "message": "首次登录或密码已被重置，请先修改密码"}
    change = f"{live_server.url}/api/v1/auth/password"
    common = httpx.post(change, json={"current_password": DEFAULT_PASSWORD, "new_password": "Password1"},
                        headers=auth_headers(token))
    assert common.status_code == 422
    wrong = httpx.post(change, json={"current_password": "Nope#2026", "new_password": "Grid#Walk2026"},
                       headers=auth_headers(token))
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "wrong_password"
    done = httpx.post(change, json={"current_password": DEFAULT_PASSWORD, "new_password": "Grid#Walk2026"},
                      headers=auth_headers(token))
    assert done.status_code == 200 and done.json() == {"pending": None}
    assert httpx.get(f"{live_server.url}/api/v1/auth/me", headers=auth_headers(token)).json()["pending"] is None
    assert httpx.get(division, headers=auth_headers(token)).status_code in (200, 404)  # past the check
    assert _post_login(live_server, user.username, DEFAULT_PASSWORD).status_code == 401
    again = _post_login(live_server, user.username, "Grid#Walk2026")
    assert again.status_code == 200 and again.json()["pending"] is None
    assert "auth.password_changed" in [action for action, _ in _events(engine, user.id)]


def test_a_limited_session_opens_no_realtime_socket(live_server: LiveServer, engine: Engine) -> None:
    from tests.realtime.test_socket import close_code, frame, open_socket

    user = make_user_committed(engine, role="grid_worker", division_code="431102001001001",
                               must_change_password=True)
    token = _post_login(live_server, user.username, DEFAULT_PASSWORD).json()["access_token"]
    with open_socket(live_server, token) as ws:
        error = frame(ws)
        assert (error["type"], error["code"]) == ("error", "not_authenticated")
        assert close_code(ws) == 4401
