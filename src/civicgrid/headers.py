"""Browser security headers on every HTTP response (issue 9 §3.5).

The console is built by Vite into files under ``/assets``: no inline script, no ``eval`` (vue-i18n
compiles its messages without ``new Function``), so ``script-src 'self'`` holds
(tests/web/test_csp.py loads it in Chromium and fails on any violation). Styles set through the
CSSOM (Vue bindings, Element Plus poppers) pass any policy, but ECharts writes its tooltips as
HTML with ``style="…"`` attributes, hence ``style-src 'self' 'unsafe-inline'`` (a style cannot run
code); ECharts paints on canvas and exports ``data:``/``blob:`` images. The realtime socket is
same-origin (``connect-src 'self'`` covers ``ws:``/``wss:`` to the same host in CSP level 3, which
tests/web/test_csp.py checks in Chromium). The API docs (``/api/docs``) are Swagger UI served from
the package and started from a file (main.py ``DOCS_PAGE``): the same policy holds for them.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONSOLE_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HEADERS: tuple[tuple[str, str], ...] = (
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
    ("permissions-policy", "camera=(self), microphone=(self), geolocation=(self)"),
)


class SecurityHeaders:
    """Pure ASGI middleware: Content-Security-Policy, X-Frame-Options, X-Content-Type-Options,
    Referrer-Policy (and two more) on every HTTP response, replacing any set further in."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = CONSOLE_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out["Content-Security-Policy"] = policy
                for name, value in HEADERS:
                    out[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
