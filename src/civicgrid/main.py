"""The app factory: middleware, routers, error handlers, the built web console."""

from __future__ import annotations

import logging
import mimetypes
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civicgrid import __version__
from civicgrid.authz.dependencies import install_authenticator
from civicgrid.city import get_city
from civicgrid.config import Settings, get_settings
from civicgrid.db import get_engine, session_factory, transaction
from civicgrid.kit import textinput
from civicgrid.kit.errors import AppError
from civicgrid.kit.i18n import negotiate, pick, set_language

log = logging.getLogger(__name__)

DENIAL_STATUSES = frozenset({401, 403})


def _include_routers(app: FastAPI) -> None:
    """Each domain's router; add a line when a domain lands."""
    from civicgrid.alerts.endpoints import router as alerts_router
    from civicgrid.apiclients.endpoints import router as apiclients_router
    from civicgrid.audit.endpoints import router as audit_router
    from civicgrid.disputes.endpoints import router as disputes_router
    from civicgrid.files.endpoints import router as files_router
    from civicgrid.gazetteer.endpoints import router as gazetteer_router
    from civicgrid.geo.endpoints import router as geo_router
    from civicgrid.inbox.endpoints import router as inbox_router
    from civicgrid.matters.endpoints import router as matters_router
    from civicgrid.matters.figures.endpoints import router as matter_figures_router
    from civicgrid.matters.hotline.endpoints import router as hotline_router
    from civicgrid.matters.open311.endpoints import admin_router as open311_admin_router
    from civicgrid.matters.open311.endpoints import rating_router as resident_rating_router
    from civicgrid.matters.open311.endpoints import router as open311_router
    from civicgrid.people import service as people_service
    from civicgrid.people.endpoints import router as people_router
    from civicgrid.people.orgs.endpoints import router as orgs_router
    from civicgrid.realtime.endpoints import router as realtime_router
    from civicgrid.response.endpoints import router as response_router
    from civicgrid.supervision.endpoints import router as supervision_router
    from civicgrid.worktime.endpoints import router as worktime_router

    install_authenticator(people_service)

    # Matched in this order, every router's routes walked until one matches (twice a request in
    # FastAPI 0.165): the hottest path, POST /api/v1/matters, first (no path here shadows another's).
    app.include_router(matters_router)
    app.include_router(people_router)
    app.include_router(orgs_router)
    app.include_router(geo_router)
    app.include_router(gazetteer_router)
    app.include_router(realtime_router)
    app.include_router(audit_router)
    app.include_router(alerts_router)
    app.include_router(worktime_router)
    app.include_router(matter_figures_router)
    app.include_router(open311_router)
    app.include_router(open311_admin_router)
    app.include_router(resident_rating_router)
    app.include_router(inbox_router)
    app.include_router(files_router)
    app.include_router(apiclients_router)
    app.include_router(hotline_router)
    app.include_router(response_router)
    app.include_router(supervision_router)
    app.include_router(disputes_router)


def _audit_denial(app: FastAPI, request: Request, status: int, code: str) -> None:
    """Denied requests land in the audit chain too, in their own transaction (the request's rolled back)."""
    from civicgrid.audit.service import Actor, record, set_actor

    principal = getattr(request.state, "principal", None)
    with transaction(app.state.engine, info={"ip": request.client.host if request.client else None}) as session:
        if principal is not None:
            set_actor(session, Actor(principal.username, principal.user_id))
        else:
            set_actor(session, Actor("anonymous"))
        record(session, "auth.denied", "request", f"{request.method} {request.url.path}"[:64],
               after={"status": status, "code": code})


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        lang = getattr(request.state, "lang", None)
        if exc.status in DENIAL_STATUSES:
            try:
                await run_in_threadpool(_audit_denial, app, request, exc.status, exc.code)
            except Exception:
                log.exception("could not audit a denied request")
        headers = dict(getattr(exc, "headers", None) or {})  # Retry-After of a 503 (db.WriteTurnBusy)
        if exc.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse(exc.body(lang), status_code=exc.status, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        lang = getattr(request.state, "lang", None)
        fields = []
        for err in exc.errors():
            loc = [str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path")]
            fields.append({"field": ".".join(loc), "message": err.get("msg", "")})
        names = ", ".join(f["field"] for f in fields if f["field"]) or "-"
        body = {"error": {"code": "invalid",
                          "message": pick(f"请求内容不合法：{names}", f"Invalid request: {names}", lang),
                          "fields": fields}}
        return JSONResponse(body, status_code=422)


class RefusedBody(HTTPException):
    """Raised into the app by :class:`RequestContext`'s ``receive`` once the body is refused (over
    the limit, or a NUL in a text body). An ``HTTPException``, so FastAPI's body parsing passes it
    on instead of answering 400; the refusal has already gone out by then and whatever the app
    answers is dropped."""

    def __init__(self, status: int) -> None:
        super().__init__(status_code=status)


class RequestContext:
    """Pure ASGI middleware (no extra task per request, unlike ``@app.middleware``): the caller's
    language and a request id on ``request.state``; the input checks every endpoint shares — a 413
    for a body over the limit (declared by ``Content-Length``, or counted as it streams: a chunked
    body is refused as soon as the limit has been read, without reading the rest) and a 422 for a
    NUL in the path, the query or a text body (:mod:`civicgrid.kit.textinput`); and the request id
    and two safety headers on every response."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        lang = negotiate(headers.get("accept-language"), self.settings.default_language)
        request_id = headers.get("x-request-id") or uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["lang"] = lang
        state["request_id"] = request_id
        set_language(lang)
        limit = self.settings.max_body_bytes

        def refusal(status: int) -> JSONResponse:
            if status == 413:
                limit_mb = limit // (1024 * 1024)
                error = {"code": "payload_too_large", "message": pick(
                    f"请求内容过大（上限 {limit_mb} MB）", f"Request body too large (limit {limit_mb} MB)", lang)}
            else:
                error = {"code": "invalid", "message": pick(*textinput.MESSAGE, lang)}
            return JSONResponse({"error": error}, status_code=status, headers={"X-Request-ID": request_id})

        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await refusal(413)(scope, receive, send)
            return
        if textinput.in_target(scope.get("path", ""), scope.get("query_string", b"")):
            await refusal(422)(scope, receive, send)
            return

        scanner = textinput.BodyScanner.for_content_type(headers.get("content-type"))
        received = 0
        started = refused = False

        async def refuse(status: int) -> None:
            nonlocal refused
            if started:
                raise RefusedBody(status)  # too late to answer: the server drops the connection
            refused = True
            await refusal(status)(scope, receive, send)
            raise RefusedBody(status)

        async def receive_checked() -> Message:
            # Count what arrives, whatever the framing (Content-Length may be absent or false).
            nonlocal received
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > limit:
                    await refuse(413)
                if scanner is not None and scanner.feed(chunk):
                    await refuse(422)
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the refusal went out already
            if message["type"] == "http.response.start":
                started = True
                out = MutableHeaders(scope=message)
                out["X-Request-ID"] = request_id
                out.setdefault("X-Content-Type-Options", "nosniff")
                out.setdefault("Referrer-Policy", "same-origin")
            await send(message)

        try:
            await self.app(scope, receive_checked, send_with_headers)
        except RefusedBody:
            if not refused:
                raise


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    from civicgrid.headers import SecurityHeaders
    from civicgrid.kit.redact import install_log_redaction

    app.add_middleware(RequestContext, settings=settings)
    app.add_middleware(SecurityHeaders)  # outermost: also on the 413 RequestContext answers itself
    install_log_redaction()  # no token, key or password from a query string in any log


ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
IMMUTABLE = "public, max-age=31536000, immutable"
DOCS_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>civicgrid API</title>
<link rel="icon" type="image/svg+xml" href="/favicon.svg">
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script><script src="/docs/init.js"></script></body></html>
"""


def _static_file(static_dir: Path, path: str, accept_encoding: str) -> tuple[Path, dict[str, str]] | None:
    """The file to send for ``path`` under the built console, and its headers: the brotli or
    gzip copy the build wrote beside it when the browser accepts one; hashed assets cached for a
    year (their names change with their content), everything else revalidated."""
    root = static_dir.resolve()
    target = (static_dir / path).resolve()
    if not path or root not in target.parents or not target.is_file():
        return None
    headers = {"Cache-Control": IMMUTABLE if path.startswith("assets/") else "no-cache"}
    accepted = {part.split(";")[0].strip() for part in accept_encoding.split(",")}
    for encoding, suffix in ENCODINGS:
        packed = target.with_name(target.name + suffix)
        if encoding in accepted and packed.is_file():
            headers.update({"Content-Encoding": encoding, "Vary": "Accept-Encoding"})
            return packed, headers
    if any(target.with_name(target.name + suffix).is_file() for _, suffix in ENCODINGS):
        headers["Vary"] = "Accept-Encoding"
    return target, headers


def _mount_web(app: FastAPI, static_dir: Path) -> None:
    index = static_dir / "index.html"

    @app.get("/api/docs", include_in_schema=False)
    async def _docs() -> Response:
        # Swagger UI from the package (web build: docs/), no CDN: it loads on an offline network.
        return HTMLResponse(DOCS_PAGE, headers={"Cache-Control": "no-cache"})

    # A plain ``def``: the file checks below touch the disk, so they run in the thread pool
    # (FileResponse then streams the file from worker threads too).
    @app.get("/{path:path}", include_in_schema=False)
    def _web(request: Request, path: str) -> Response:
        if path.startswith(("api/", "open311/")):
            return JSONResponse({"error": {"code": "not_found", "message": "Not found"}}, status_code=404)
        found = _static_file(static_dir, path, request.headers.get("accept-encoding", ""))
        if found is not None:
            file, headers = found
            media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
            return FileResponse(file, media_type=media_type, headers=headers)
        if index.is_file():
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return JSONResponse({"error": {"code": "web_not_built", "message":
                             "网页控制台尚未构建，请运行 make web / The web console is not built: run `make web`"}},
                            status_code=404)


def create_app(settings: Settings | None = None, *, start_workers: bool | None = None) -> FastAPI:
    """Build the application for a database; ``start_workers`` overrides the timer-worker setting."""
    settings = settings or get_settings()
    run_workers = settings.run_timer_worker if start_workers is None else start_workers

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from civicgrid.lifecycle import shutdown, startup

        await startup(app, settings, run_workers)
        try:
            yield
        finally:
            await shutdown(app)

    app = FastAPI(title="civicgrid", version=__version__, lifespan=lifespan,
                  docs_url=None, openapi_url="/api/openapi.json", redoc_url=None)
    engine = get_engine(settings.database_url)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factories = {True: session_factory(engine, write=True),
                                   False: session_factory(engine, write=False)}
    _install_middleware(app, settings)
    _install_error_handlers(app)

    @app.get("/api/v1/health", tags=["system"])
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    @app.get("/api/v1/health/live", tags=["system"])
    async def live() -> dict[str, Any]:
        """Liveness: answered on the event loop with no database, no thread and no file, so it
        answers while the database is slow or every pooled connection is busy (a load
        balancer's or orchestrator's probe; public)."""
        return {"status": "live", "version": __version__}

    @app.get("/api/v1/city", tags=["system"])
    def city() -> dict[str, Any]:
        """The city this deployment governs (its city.json): names, the matter-number prefix and
        the map's default extent. Public: the login page shows the city's name."""
        c = get_city()
        return {"code": c.code, "name": c.name_zh, "name_en": c.name_en, "short_name": c.short_name,
                "province": c.province_zh, "province_en": c.province_en,
                "matter_number_prefix": c.matter_number_prefix,
                "map": {"west": c.map.west, "south": c.map.south, "east": c.map.east, "north": c.map.north,
                        "centre": list(c.map.centre)}}

    _include_routers(app)
    _mount_web(app, Path(settings.static_dir))
    return app
