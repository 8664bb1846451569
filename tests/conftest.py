"""Shared fixtures: a migrated database (SQLite, or PostgreSQL when CIVICGRID_TEST_DATABASE_URL
names one), per-test rollback sessions, and a live HTTP server for API tests.

Outside CI a PostgreSQL URL that cannot be reached skips the run with a message; in CI
(``CI=true``) it fails.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from civicgrid.db import dispose_engines, get_engine
from civicgrid.migrate import upgrade

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# The suite's passes run at once on two cores: a SQLite writer may wait long for its turn behind a
# worker's reference-data load. Production keeps 10 s; the tests of the 503 set their own.
os.environ.setdefault("CIVICGRID_WRITE_LOCK_TIMEOUT_SECONDS", "120")

# httpx's module functions (httpx.get, httpx.post, ...) give up after 5 s by default: shorter
# than a first request that builds a process cache (the grid index) on a 2-core machine running
# the suite's parallel workers. Calls that name no timeout wait up to 60 s here.
HTTP_TIMEOUT = 60.0


def _patient(function: Any) -> Any:
    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        return function(*args, **kwargs)

    return call


for _name in ("request", "stream", "get", "options", "head", "post", "put", "patch", "delete"):
    setattr(httpx, _name, _patient(getattr(httpx, _name)))


# Password hashing at test cost. Production's argon2id (RFC 9106: 64 MiB, 3 passes, 4 lanes) takes
# 0.4-1 s of CPU per hash or login on this 2-core machine, and the suite logs in about a thousand
# times a pass: half of an API test's time went to argon2 (measured, docs/performance.md). The
# suite's own processes hash with the smallest argon2id instead (1 MiB, 1 pass, 1 lane: the same
# algorithm, format and verify path). Subprocesses (`civicgrid serve`, the CLI) keep production's
# parameters and verify these hashes by the parameters written in them. Tests that measure the
# cost itself take the ``production_password_hashing`` fixture; PRODUCTION_PASSWORD_HASHER is
# what production runs (tests/people/test_login.py checks its parameters).
def _cheap_password_hashing() -> Any:
    from argon2 import PasswordHasher

    from civicgrid.people import service

    production = service._hasher
    service._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    service._dummy_hash.cache_clear()
    return production


PRODUCTION_PASSWORD_HASHER = _cheap_password_hashing()


def _fresh_postgres(base_url: str) -> tuple[str, str]:
    """Create a throw-away database on the server; return (url, name). Under pytest-xdist each
    worker makes its own (the name says which: gw0, gw1, ...; "main" without xdist)."""
    url = make_url(base_url)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"civicgrid_test_{worker}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False), name


def _drop_postgres(base_url: str, name: str) -> None:
    admin = create_engine(make_url(base_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def new_database(tmp_dir: Path) -> tuple[str, object]:
    """A brand-new migrated database; returns its URL and a cleanup callable."""
    base = os.environ.get("CIVICGRID_TEST_DATABASE_URL", "")
    if base.startswith("postgresql"):
        try:
            url, name = _fresh_postgres(base)
        except Exception as exc:
            if IN_CI:
                raise
            pytest.skip(f"PostgreSQL not reachable at {base}: {exc}")
        upgrade(url)
        return url, lambda: _drop_postgres(base, name)
    path = tmp_dir / f"{uuid.uuid4().hex[:8]}.sqlite3"
    url = f"sqlite:///{path}"
    upgrade(url)
    return url, lambda: None


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's migrated database URL; the process settings point at it (and the file
    store at a directory of the session's own)."""
    os.environ["CIVICGRID_FILES_DIR"] = str(tmp_path_factory.mktemp("files"))
    from civicgrid.files import backends

    backends.settings.cache_clear()
    url, cleanup = new_database(tmp_path_factory.mktemp("db"))
    os.environ["CIVICGRID_DATABASE_URL"] = url
    from civicgrid.config import get_settings

    get_settings.cache_clear()
    yield url
    dispose_engines()
    cleanup()  # type: ignore[operator]


@pytest.fixture
def production_password_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Production's argon2 parameters for one test (its factory users' hashes too); the suite's
    cheap ones again afterwards."""
    from civicgrid.people import service
    from tests import factories

    monkeypatch.setattr(service, "_hasher", PRODUCTION_PASSWORD_HASHER)
    service._dummy_hash.cache_clear()
    factories._hash.cache_clear()
    yield
    service._dummy_hash.cache_clear()
    factories._hash.cache_clear()


@pytest.fixture(scope="session")
def engine(db_url: str) -> Engine:
    return get_engine(db_url)


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test (services may commit
    savepoints; nothing reaches the database)."""
    conn = engine.connect()
    outer = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        if outer.is_active:
            outer.rollback()
        conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """uvicorn serving the app on a real port in a background thread."""

    def __init__(self, url: str, server: object, thread: threading.Thread) -> None:
        self.url = url
        self.ws_url = url.replace("http://", "ws://")
        self._server = server
        self._thread = thread

    def stop(self) -> None:
        self._server.should_exit = True  # type: ignore[attr-defined]
        self._thread.join(timeout=10)


def start_server(app: object) -> LiveServer:
    import uvicorn

    port = free_port()
    # proxy_headers=False as `civicgrid serve` runs it: X-Forwarded-For is the app's to judge
    # (CIVICGRID_TRUSTED_PROXIES), not uvicorn's.
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio",  # type: ignore[arg-type]
                            proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    # Startup (the app's lifespan: realtime backend, caches) can take long on a 2-core machine
    # running several workers; a server that failed shows as a dead thread at once.
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("live server did not start (its thread ended: see the log above)")
        if time.monotonic() > deadline:
            raise RuntimeError("live server did not start within 120 s")
        time.sleep(0.05)
    return LiveServer(f"http://127.0.0.1:{port}", server, thread)


@pytest.fixture(scope="session")
def app(db_url: str) -> object:
    from civicgrid.config import get_settings
    from civicgrid.main import create_app

    return create_app(get_settings(), start_workers=False)


@pytest.fixture(scope="session")
def live_server(app: object) -> Iterator[LiveServer]:
    """The app over real HTTP and WebSocket, on the session's database."""
    server = start_server(app)
    yield server
    server.stop()


# ---------------------------------------------------------------- geo: the Yongzhou reference data
# (geo engineer) Other domains' tests take ``yongzhou`` to get real divisions and grids.


class Yongzhou:
    """The shipped Yongzhou data, loaded (committed) once per test session."""

    city = "431100000000"
    lingling = "431102000000"  # 零陵区
    lengshuitan = "431103000000"  # 冷水滩区

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def grid_in(self, prefix: str) -> str:
        """The first grid code under a jurisdiction prefix (e.g. ``"431102"``)."""
        from sqlalchemy import select

        from civicgrid.geo.models import Grid

        # A read (DEFERRED) transaction, so it never waits on a test's open write transaction.
        with self.engine.execution_options(sqlite_begin="DEFERRED").connect() as conn:
            first = select(Grid.code).where(Grid.code.like(prefix + "%")).order_by(Grid.code).limit(1)
            code = conn.scalar(first)
        assert code is not None, f"no grid under {prefix}"
        return str(code)

    def village_in(self, prefix: str) -> str:
        return self.grid_in(prefix)[:12]


@pytest.fixture(scope="session")
def yongzhou(engine: Engine) -> Yongzhou:
    """1 city, 13 county-level units, 195 townships, 3,331 villages and the generated grids."""
    from civicgrid.db import transaction
    from civicgrid.geo.service import load_reference_data

    with transaction(engine) as session:
        load_reference_data(session)
    return Yongzhou(engine)


@pytest.fixture(autouse=True)
def _fresh_calendar_cache() -> Iterator[None]:
    """Tests roll back calendar imports; a process-cached calendar must not outlive them."""
    yield
    from civicgrid.geo import index
    from civicgrid.worktime.service import forget

    forget()
    index.forget()  # a rolled-back import must not leave its grids in the process index


@pytest.fixture(autouse=True)
def _no_browser_event_loop(request: pytest.FixtureRequest) -> Iterator[None]:
    """Playwright's sync API keeps its asyncio loop set as the main thread's running loop for as
    long as the session's Chromium lives, so under pytest-xdist a test that a worker runs after a
    browser test would look as if it ran on the event loop (the app refuses database calls
    there: kit.statements). Tests that do not drive the browser run with that loop unset."""
    loop = asyncio._get_running_loop()
    if loop is None or "browser" in request.fixturenames:
        yield
        return
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(loop)
