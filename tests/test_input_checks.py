"""Issue 9 §3.4 (outside security test, schema fuzzing): the three reproducers that answered 500.

* ``offset=2**63`` on the users, matters and audit lists (a 64-bit overflow in the database) →
  422 with a Chinese message (``kit.pagination.Offset``).
* A NUL character (U+0000) in a login name, a text filter or a path parameter (PostgreSQL's
  ``text`` cannot hold it) → 422 (``kit.textinput``, checked by the app's middleware).
* A calendar CSV with bare CR line ends → parsed.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine

from tests.conftest import LiveServer
from tests.factories import auth_headers, login, make_user_committed


def _headers(live_server: LiveServer, engine: Engine, role: str, lang: str = "zh-CN") -> dict[str, str]:
    user = make_user_committed(engine, role=role, division_code="431100000000")
    return {**auth_headers(login(live_server.url, user.username)), "Accept-Language": lang}


@pytest.mark.parametrize(("path", "role"), [("/api/v1/users", "admin"), ("/api/v1/matters", "city_plc_staff"),
                                            ("/api/v1/audit", "auditor")])
def test_an_offset_past_64_bits_is_422_not_500(live_server: LiveServer, engine: Engine, path: str, role: str) -> None:
    headers = _headers(live_server, engine, role)
    for offset in (2**63, 2**64, 10**30):
        response = httpx.get(live_server.url + path, params={"offset": offset}, headers=headers)
        assert response.status_code == 422, (offset, response.text)
        error = response.json()["error"]
        assert error["code"] == "invalid" and error["message"].startswith("请求内容不合法")
        assert "offset" in error["message"]
    deepest = httpx.get(live_server.url + path, params={"offset": 1_000_000_000}, headers=headers)
    assert deepest.status_code == 200 and deepest.json()["items"] == []


def test_a_nul_in_a_login_name_is_422(live_server: LiveServer, engine: Engine) -> None:
    response = httpx.post(f"{live_server.url}/api/v1/auth/login", json={"username": "ad\x00min", "password": "x"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"] == "请求内容含有不允许的空字符（NUL，\\x00）"
    english = httpx.post(f"{live_server.url}/api/v1/auth/login", json={"username": "a", "password": "\x00"},
                         headers={"Accept-Language": "en"})
    assert english.status_code == 422 and "NUL" in english.json()["error"]["message"]


def test_a_nul_in_a_filter_or_a_path_is_422(live_server: LiveServer, engine: Engine) -> None:
    admin = _headers(live_server, engine, "admin")
    auditor = _headers(live_server, engine, "auditor")
    staff = _headers(live_server, engine, "city_plc_staff")
    for path, params, headers in (("/api/v1/users", {"q": "张\x00"}, admin),
                                  ("/api/v1/audit", {"actor": "\x00"}, auditor),
                                  ("/api/v1/audit", {"action": "auth.login\x00"}, auditor),
                                  ("/api/v1/matters", {"status": "reported\x00"}, staff),
                                  ("/api/v1/matters/%00", {}, staff),
                                  ("/api/v1/users/abc%00def", {}, admin)):
        response = httpx.get(live_server.url + path, params=params, headers=headers)
        assert response.status_code == 422, (path, params, response.text)
        assert "NUL" in response.json()["error"]["message"]
    # A form body too (Open311 posts URL-encoded forms), and a JSON body streamed in pieces.
    form = httpx.post(f"{live_server.url}/open311/v2/requests.json", data={"api_key": "o311_x", "description": "\x00"})
    assert form.status_code == 422

    def pieces() -> object:
        yield b'{"username": "a\\u00'
        yield b'00", "password": "x"}'

    streamed = httpx.post(f"{live_server.url}/api/v1/auth/login", content=pieces(),  # type: ignore[arg-type]
                          headers={"Content-Type": "application/json"})
    assert streamed.status_code == 422
    # Files are not checked at the door (photos are binary): the calendar import refuses the row.
    upload = httpx.post(f"{live_server.url}/api/v1/calendar/years/2034/upload", headers=admin,
                        files={"file": ("2034.csv", b"date,kind,name\n2034-01-01,holiday,\x00\n")})
    assert upload.status_code == 422 and upload.json()["error"]["row"] == 2


def test_a_calendar_csv_with_bare_cr_line_ends_is_read(live_server: LiveServer, engine: Engine) -> None:
    headers = _headers(live_server, engine, "admin")
    for year, ends in ((2035, "\r"), (2036, "\r\n"), (2037, "\n")):
        csv_body = ends.join(["date,kind,name", f"{year}-01-01,holiday,元旦", f"{year}-01-02,holiday,元旦", ""])
        response = httpx.post(f"{live_server.url}/api/v1/calendar/years/{year}/upload", headers=headers,
                              files={"file": (f"{year}.csv", csv_body.encode())}, data={"source": "csv"})
        assert response.status_code == 200, (ends, response.text)
        assert response.json()["holidays"] == 2
