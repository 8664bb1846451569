"""The app factory: middleware, routers, error handlers, the built web console."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civicgrid import __version__
from civicgrid.authz.dependencies import install_authenticator
from civicgrid.config import Settings, get_settings
from civicgrid.db import get_engine, session_factory, transaction
from civicgrid.kit.errors import AppError
from civicgrid.kit.i18n import negotiate, pick, set_language

log = logging.getLogger(__name__)

DENIAL_STATUSES = frozenset({401, 403})


def _include_routers(app: FastAPI) -> None:
    """Each domain's router; add a line when a domain lands."""
    from civicgrid.audit.endpoints import router as audit_router
    from civicgrid.gazetteer.endpoints import router as gazetteer_router
    from civicgrid.geo.endpoints import router as geo_router
    from civicgrid.inbox.endpoints import router as inbox_router
    from civicgrid.matters.endpoints import router as matters_router
    from civicgrid.matters.figures.endpoints import router as matter_figures_router
    from civicgrid.matters.open311.endpoints import admin_router as open311_admin_router
    from civicgrid.matters.open311.endpoints import router as open311_router
    from civicgrid.people import service as people_service
    from civicgrid.people.endpoints import router as people_router
    from civicgrid.realtime.endpoints import router as realtime_router
    from civicgrid.worktime.endpoints import router as worktime_router

    install_authenticator(people_service)

    app.include_router(people_router)
    app.include_router(geo_router)
    app.include_router(gazetteer_router)
    app.include_router(realtime_router)
    app.include_router(audit_router)
    app.include_router(matters_router)
    app.include_router(worktime_router)
    app.include_router(matter_figures_router)
    app.include_router(open311_router)
    app.include_router(open311_admin_router)
    app.include_router(inbox_router)


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
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(lang), status_code=exc.status, headers=headers)

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


class RequestContext:
    """Pure ASGI middleware (no extra task per request, unlike ``@app.middleware``): the caller's
    language and a request id on ``request.state``, a 413 for a declared body over the limit,
    and the request id and two safety headers on every response."""

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
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.settings.max_body_bytes:
            limit_mb = self.settings.max_body_bytes // (1024 * 1024)
            refusal = JSONResponse({"error": {"code": "payload_too_large", "message": pick(
                f"请求内容过大（上限 {limit_mb} MB）", f"Request body too large (limit {limit_mb} MB)", lang)}},
                status_code=413, headers={"X-Request-ID": request_id})
            await refusal(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out["X-Request-ID"] = request_id
                out.setdefault("X-Content-Type-Options", "nosniff")
                out.setdefault("Referrer-Policy", "same-origin")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(RequestContext, settings=settings)


def _mount_web(app: FastAPI, static_dir: Path) -> None:
    index = static_dir / "index.html"

    @app.get("/{path:path}", include_in_schema=False)
    async def _web(path: str) -> Response:
        if path.startswith(("api/", "open311/")):
            return JSONResponse({"error": {"code": "not_found", "message": "Not found"}}, status_code=404)
        target = (static_dir / path).resolve()
        if path and target.is_file() and static_dir.resolve() in target.parents:
            return FileResponse(target)
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
                  docs_url="/api/docs", openapi_url="/api/openapi.json", redoc_url=None)
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

    _include_routers(app)
    _mount_web(app, Path(settings.static_dir))
    return app
