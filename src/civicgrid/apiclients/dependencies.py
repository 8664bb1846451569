"""The dependency that authenticates an API client: ``Depends(require_client("hotline_ticket"))``.

The key travels in a header only — ``X-API-Key: <key>`` or ``Authorization: ApiKey <key>`` — so it
never lands in an access log (a query string does; one that carries ``api_key`` is refused).
No key → 401; an unknown or revoked key, or a client that may not send this record kind → 403,
each in Chinese and English. The refusal is audited by the app's error handler.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session

from civicgrid.apiclients import service
from civicgrid.apiclients.models import ApiClient
from civicgrid.authz.principal import Principal
from civicgrid.db import DbSession
from civicgrid.kit.errors import AppError


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
