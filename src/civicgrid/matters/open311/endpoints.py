"""Open311 GeoReport v2 routes (``/open311/v2/…``, JSON or XML by suffix) and the client
administration API (``/api/v1/open311/clients``).

GeoReport routes answer errors in the specification's shape — ``[{"code", "description"}]`` or
``<errors><error>…`` — with the HTTP status, in the caller's language (``Accept-Language``, or a
``locale`` parameter). The API key is read, in this order, from the ``X-API-Key`` header,
``Authorization: ApiKey <key>``, HTTP Basic credentials (the key as user name or password), then
the specification's ``api_key`` parameter (form field on POST, or query). Headers are preferred:
a query string ends up in access logs and proxy logs (issue 9 §3.3; the app's own logs redact it,
a proxy's may not).
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from civicgrid.apiclients.models import ApiClient
from civicgrid.audit.service import Actor, record, set_actor
from civicgrid.authz.dependencies import require
from civicgrid.authz.principal import Principal
from civicgrid.db import DbSession, transaction
from civicgrid.kit.errors import AppError
from civicgrid.kit.i18n import negotiate, pick, set_language
from civicgrid.matters.endpoints import ERRORS
from civicgrid.matters.open311 import rating, service
from civicgrid.matters.open311.render import FORMATS, render
from civicgrid.matters.open311.schemas import (
    Open311ClientCreate,
    Open311ClientCreated,
    Open311ClientRead,
    Open311Error,
)
from civicgrid.matters.schemas import MyReport, SatisfactionIn

log = logging.getLogger(__name__)

DENIALS = frozenset({401, 403})


# ---------------------------------------------------------------- language, format, errors


def _language(request: Request) -> str:
    locale = request.query_params.get("locale")
    if locale:
        return negotiate(locale.replace("_", "-"))
    return str(getattr(request.state, "lang", None) or "zh-CN")


def _format_of(request: Request) -> str:
    fmt = str(request.path_params.get("fmt") or "").lower()
    if fmt in FORMATS:
        return fmt
    return "xml" if request.url.path.endswith(".xml") else "json"


def _audit_denial(request: Request, status: int, code: str) -> None:
    """A refused key lands in the audit chain, in its own transaction (the request's rolled back)."""
    ip = request.client.host if request.client else None
    with transaction(request.app.state.engine, info={"ip": ip}) as session:
        set_actor(session, Actor("anonymous"))
        record(session, "open311.denied", "request", f"{request.method} {request.url.path}"[:64],
               after={"status": status, "code": code})


def _audit_denial_safely(request: Request, status: int, code: str) -> None:
    try:
        _audit_denial(request, status, code)
    except Exception:
        log.exception("could not audit a denied Open311 request")


async def _error(request: Request, status: int, code: str, message: str) -> Response:
    answer = render(_format_of(request), "errors", "error", [Open311Error(code=status, description=message)],
                    status=status)
    if status in DENIALS:
        # Audited once the response is out: this route class answers errors while the request's
        # session (and, on SQLite, the process write lock) is still open, so a transaction of
        # our own started here would wait on it.
        answer.background = BackgroundTask(_audit_denial_safely, request, status, code)
    if status == 401:
        answer.headers["WWW-Authenticate"] = 'Basic realm="open311"'
    return answer


class Open311Route(APIRoute):
    """Renders every error of a GeoReport route in the specification's format. A malformed or
    refused field is a 400 there (the platform's 422 becomes 400)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            lang = _language(request)
            request.state.lang = lang
            set_language(lang)
            try:
                return await original(request)
            except AppError as exc:
                status = 400 if exc.status == 422 else exc.status
                return await _error(request, status, exc.code, exc.message(lang))
            except RequestValidationError as exc:
                names = ", ".join(".".join(str(p) for p in e.get("loc", ())[1:]) for e in exc.errors()) or "-"
                return await _error(request, 400, "bad_request",
                                    pick(f"请求参数不合法：{names}", f"Invalid parameters: {names}", lang))

        return handler


def _checked_format(fmt: str) -> str:
    if fmt.lower() not in FORMATS:
        raise AppError(f"不支持的格式 .{fmt}：请用 .json 或 .xml", f"Unsupported format .{fmt}: use .json or .xml",
                       status=404, code="unknown_format")
    return fmt.lower()


# ---------------------------------------------------------------- the API key


def _header_key(request: Request) -> str | None:
    """The key from ``X-API-Key``, ``Authorization: ApiKey <key>`` or HTTP Basic credentials."""
    direct = request.headers.get("x-api-key", "").strip()
    if direct:
        return direct
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    value = value.strip()
    if not value:
        return None
    if scheme.lower() == "apikey":
        return value
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password or user or None


def _client(session: Session, request: Request, posted: str | None = None) -> ApiClient:
    raw = _header_key(request) or posted or request.query_params.get("api_key")
    try:
        return service.authenticate(session, raw)
    except AppError:
        # End the request's transaction now: the refusal is audited in a transaction of its own,
        # which on SQLite would otherwise wait on this one's write lock.
        session.rollback()
        raise


async def posted_fields(request: Request) -> dict[str, str]:
    """The fields of a POST: a form (urlencoded or multipart; files are ignored) or a JSON object."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            raise AppError("请求体不是合法的 JSON", "The body is not valid JSON", status=400,
                           code="bad_request") from None
        if not isinstance(body, dict):
            raise AppError("请求体应为 JSON 对象", "The body must be a JSON object", status=400, code="bad_request")
        return {str(k): str(v) for k, v in body.items() if isinstance(v, str | int | float) and not isinstance(v, bool)}
    form = await request.form()
    fields: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            fields.setdefault(key, value)
    return fields


# ---------------------------------------------------------------- GeoReport v2

router = APIRouter(prefix="/open311", tags=["open311"], route_class=Open311Route)


@router.get("/discovery.{fmt}", summary="Service discovery / 服务发现")
def discovery(fmt: str, request: Request, session: DbSession) -> Response:
    """Where the GeoReport v2 endpoint is and which formats it speaks; public."""
    fmt = _checked_format(fmt)
    base = str(request.base_url).rstrip("/")
    return render(fmt, "discovery", None, service.discovery(session, f"{base}/open311/v2", request.state.lang))


@router.get("/v2/services.{fmt}", summary="GET services / 服务列表")
def get_services(fmt: str, request: Request, session: DbSession) -> Response:
    """Every active matter type of the current catalogue; public (no key)."""
    fmt = _checked_format(fmt)
    return render(fmt, "services", "service", service.services(session, request.state.lang))


@router.get("/v2/services/{service_code}.{fmt}", summary="GET service definition / 服务定义")
def get_service_definition(service_code: str, fmt: str, session: DbSession) -> Response:
    """The definition of one service (no extra attributes); 404 for an unknown code."""
    fmt = _checked_format(fmt)
    return render(fmt, "service_definition", None, service.service_definition(session, service_code))


@router.post("/v2/requests.{fmt}", summary="POST a service request / 提交诉求")
def post_request(fmt: str, request: Request, session: DbSession,
                 fields: dict[str, str] = Depends(posted_fields),
                 idempotency_key: str | None = Header(default=None, alias="Idempotency-Key")) -> Response:
    """File a request: it becomes a matter at once (channel ``open311``)."""
    fmt = _checked_format(fmt)
    client = _client(session, request, fields.get("api_key"))
    created = service.submit(session, client, fields, token=idempotency_key, lang=request.state.lang)
    return render(fmt, "service_requests", "request", [created])


@router.get("/v2/requests.{fmt}", summary="GET service requests / 诉求列表")
def get_requests(fmt: str, request: Request, session: DbSession, service_request_id: str | None = None,
                 service_code: str | None = None, start_date: str | None = None, end_date: str | None = None,
                 status: str | None = None) -> Response:
    """The client's division's Open311 requests, with the standard filters."""
    fmt = _checked_format(fmt)
    client = _client(session, request)
    query = service.RequestQuery(service_request_id=service_request_id, service_code=service_code,
                                 start_date=start_date, end_date=end_date, status=status)
    return render(fmt, "service_requests", "request", service.list_requests(session, client, query,
                                                                             request.state.lang))


@router.get("/v2/requests/{service_request_id}.{fmt}", summary="GET a service request / 诉求详情")
def get_request(service_request_id: str, fmt: str, request: Request, session: DbSession) -> Response:
    """One request of the client's division; 404 otherwise."""
    fmt = _checked_format(fmt)
    client = _client(session, request)
    found = service.get_request(session, client, service_request_id, request.state.lang)
    return render(fmt, "service_requests", "request", [found])


@router.get("/v2/tokens/{token}.{fmt}", summary="GET a request id from a token / 令牌查询")
def get_token(token: str, fmt: str, request: Request, session: DbSession) -> Response:
    """The service request id a token stands for (the filing client only)."""
    fmt = _checked_format(fmt)
    client = _client(session, request)
    return render(fmt, "service_requests", "request", [service.resolve_token(session, client, token)])


# ---------------------------------------------------------------- client administration

admin_router = APIRouter(prefix="/api/v1/open311", tags=["open311"])


@admin_router.post("/clients", status_code=201, response_model=Open311ClientCreated,
                   summary="Register an Open311 client / 登记 Open311 接入方")
def create_client(body: Open311ClientCreate, session: DbSession,
                  principal: Principal = Depends(require("open311.manage"))) -> Open311ClientCreated:
    """Register a client for a division inside the caller's jurisdiction; the key is shown once."""
    client, raw = service.create_client(session, name=body.name, division_code=body.division_code,
                                        contact=body.contact, created_by=principal.username, principal=principal)
    return Open311ClientCreated(**service.client_read(session, client).model_dump(), api_key=raw)


@admin_router.get("/clients", response_model=list[Open311ClientRead], summary="Open311 clients / 接入方列表")
def list_clients(session: DbSession,
                 principal: Principal = Depends(require("open311.manage"))) -> list[Open311ClientRead]:
    """The clients registered inside the caller's jurisdiction."""
    return [service.client_read(session, c) for c in service.list_clients(session, principal)]


@admin_router.post("/clients/{client_id}/revoke", response_model=Open311ClientRead,
                   summary="Revoke an Open311 client's key / 吊销接入方密钥")
def revoke_client(client_id: str, session: DbSession,
                  principal: Principal = Depends(require("open311.manage"))) -> Open311ClientRead:
    """Revoke at once; 404 for a client outside the caller's jurisdiction."""
    return service.client_read(session, service.revoke_client(session, client_id, principal=principal))


# ---------------------------------------------------------------- the resident's rating link

rating_router = APIRouter(prefix="/api/v1/resident-ratings", tags=["open311"])


@rating_router.get("/{rating_key}", response_model=MyReport, summary="A resident's report / 居民查看诉求",
                   responses=ERRORS)
def resident_report(rating_key: str, request: Request, session: DbSession) -> MyReport:
    """Public, behind the link the filing Open311 client gave its resident (the key is the
    credential): the request's public view and whether it may be rated now. No personal data."""
    return rating.view(session, rating_key, request.state.lang)


@rating_router.post("/{rating_key}", response_model=MyReport, summary="A resident rates / 居民评价",
                    responses=ERRORS)
def resident_rate(rating_key: str, body: SatisfactionIn, request: Request, session: DbSession) -> MyReport:
    """满意度 from the resident who reported through Open311: once, on a closed matter."""
    return rating.rate(session, rating_key, body.satisfaction, body.note, request.state.lang)
