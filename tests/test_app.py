"""The app shell over real HTTP: health, error format, language, body limit, unknown API paths."""

from __future__ import annotations

import httpx

from tests.conftest import LiveServer


def test_health(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/api/v1/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert response.headers["x-request-id"]


def test_unknown_api_path_is_json_404(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_body_over_limit_is_413_in_the_callers_language(live_server: LiveServer) -> None:
    big = b"x" * (10 * 1024 * 1024 + 1)
    zh = httpx.post(f"{live_server.url}/api/v1/auth/login", content=big,
                    headers={"content-type": "application/json"})
    en = httpx.post(f"{live_server.url}/api/v1/auth/login", content=big,
                    headers={"content-type": "application/json", "accept-language": "en"})
    assert zh.status_code == en.status_code == 413
    assert "请求内容过大" in zh.json()["error"]["message"]
    assert "too large" in en.json()["error"]["message"]


def test_malformed_payload_names_the_field(live_server: LiveServer) -> None:
    response = httpx.post(f"{live_server.url}/api/v1/auth/login", json={"username": "x"},
                          headers={"accept-language": "en"})
    assert response.status_code == 422
    body = response.json()["error"]
    assert body["code"] == "invalid" and "password" in body["message"]
