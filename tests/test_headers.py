"""Browser security headers on the console and on API answers (issue 9 §3.5)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import LiveServer


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {words[0]: words[1:] for words in parts}


@pytest.mark.parametrize("path", ["/", "/login", "/api/v1/health", "/api/v1/audit", "/api/v1/no-such-thing",
                                  "/open311/discovery.json"])
def test_every_answer_carries_the_security_headers(live_server: LiveServer, path: str) -> None:
    response = httpx.get(f"{live_server.url}{path}")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    csp = _directives(response.headers["content-security-policy"])
    assert csp["script-src"] == ["'self'"]  # no inline script, no eval, no other origin
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["default-src"] == ["'self'"]
    assert "'unsafe-eval'" not in response.headers["content-security-policy"]


def test_a_refused_body_carries_them_too(live_server: LiveServer) -> None:
    big = b"x" * (10 * 1024 * 1024 + 1)
    response = httpx.post(f"{live_server.url}/api/v1/auth/login", content=big,
                          headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_swagger_page_keeps_the_strict_policy(live_server: LiveServer) -> None:
    # Swagger UI is served from the package and started from a file: no inline script, no CDN.
    response = httpx.get(f"{live_server.url}/api/docs")
    csp = _directives(response.headers["content-security-policy"])
    assert csp["script-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert '<script src="/docs/init.js">' in response.text and "cdn" not in response.text
