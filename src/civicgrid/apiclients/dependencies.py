"""The dependency that authenticates an API client: ``Depends(require_client("hotline_ticket"))``.

The key travels in a header only — ``X-API-Key: <key>`` or ``Authorization: ApiKey <key>`` — so it
never lands in an access log (a query string does; one that carries ``api_key`` is refused).
No key → 401; an unknown or revoked key, or a client that may not send this record kind → 403,
each in Chinese and English. The refusal is audited by the app's error handler. An address that
keeps presenting bad keys (:data:`THROTTLE`: 20 refusals in 5 minutes, per process, like the
login's lock-out) is answered 429 with ``Retry-After`` until its refusals age out.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session

from civicgrid.apiclients import service
from civicgrid.apiclients.models import ApiClient
from civicgrid.authz.principal import Principal
from civicgrid.config import get_settings
from civicgrid.db import DbSession
from civicgrid.kit.errors import AppError
from civicgrid.people.addresses import client_address


class FailureThrottle:
    """Refusals per client address in a sliding window (monotonic time, in process memory)."""

    def __init__(self, limit: int = 20, window_seconds: float = 300.0) -> None:
        self.limit, self.window = limit, window_seconds
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        seen = self._seen.setdefault(address, deque())
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        return seen

    def wait(self, address: str) -> int:
        """Seconds until ``address`` may try again (0: now)."""
        now = time.monotonic()
        with self._lock:
            seen = self._recent(address, now)
            if len(seen) < self.limit:
                if not seen:
                    self._seen.pop(address, None)
                return 0
            return max(1, int(seen[0] + self.window - now) + 1)

    def failed(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent(address, now).append(now)

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()


THROTTLE = FailureThrottle()


class TooManyFailures(AppError):
    status = 429
    code = "too_many_failures"

    def __init__(self, wait: int) -> None:
        super().__init__(f"密钥错误次数过多，请 {wait} 秒后再试", f"Too many refused keys: try again in {wait} s")
        self.headers = {"Retry-After": str(wait)}


@dataclass(frozen=True)
class ClientCaller:
    """The calling client and the principal it acts with (its owning unit's scope)."""

    client: ApiClient
    principal: Principal


def header_key(request: Request) -> str | None:
    """The key from ``X-API-Key`` or ``Authorization: ApiKey <key>``; None when neither is sent."""
    direct = request.headers.get("x-api-key", "").strip()
    if direct:
        return direct
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "apikey" else None


class ClientRequirement:
    """Requires an API client allowed to send ``record_kind`` (see the module docstring)."""

    def __init__(self, record_kind: str) -> None:
        self.record_kind = record_kind

    def __repr__(self) -> str:
        return f"require_client({self.record_kind!r})"

    def __call__(self, request: Request, session: DbSession) -> ClientCaller:
        return self.check(request, session)

    def check(self, request: Request, session: Session) -> ClientCaller:
        address = client_address(
            request.client.host if request.client else None,
            request.headers.get("x-forwarded-for"),
            get_settings().trusted_proxies,
        )
        wait = THROTTLE.wait(address)
        if wait:
            raise TooManyFailures(wait)
        try:
            return self._check(request, session)
        except AppError as exc:
            if exc.status == 403 or exc.code == "api_key_in_query":
                THROTTLE.failed(address)
            raise

    def _check(self, request: Request, session: Session) -> ClientCaller:
        if "api_key" in request.query_params:
            raise AppError(
                "API 密钥只能放在请求头中（X-API-Key），不能放在地址里：地址会写入访问日志，请更换该密钥",
                "The API key goes in a header (X-API-Key), never in the address: addresses are logged; rotate that key",
                status=401,
                code="api_key_in_query",
            )
        write = request.method not in ("GET", "HEAD", "OPTIONS")
        client = service.authenticate(session, header_key(request), self.record_kind, touch=write)
        return ClientCaller(client, service.client_principal(client))


def require_client(record_kind: str) -> ClientRequirement:
    """The dependency for endpoints that API clients call to send (or read back) ``record_kind``."""
    return ClientRequirement(record_kind)
