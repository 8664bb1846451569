"""Shared fixtures: a migrated database (SQLite, or PostgreSQL when CIVICGRID_TEST_DATABASE_URL
names one), per-test rollback sessions, and a live HTTP server for API tests.

Outside CI a PostgreSQL URL that cannot be reached skips the run with a message; in CI
(``CI=true``) it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
import shutil
import socket
import sqlite3
import tempfile
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


# ---------------------------------------------------------------- databases from templates
# Each pass migrates one database and loads the Yongzhou reference data into a copy of it ONCE;
# every database a test session (an xdist worker) or a test makes is then a copy: on PostgreSQL
# `CREATE DATABASE … TEMPLATE …` (a file copy on the server), on SQLite the file through
# sqlite3's backup. On this 2-core machine a PostgreSQL migration took 11-15 s and the reference
# data 66-86 s for each worker and each replay of tests/simulate (docs/performance.md).
# The controller (or the single process without xdist) names the run's templates before the
# workers start (they inherit the variable) and removes them when the run ends.

TEMPLATE_RUN = "CIVICGRID_TEST_TEMPLATE_RUN"
MIGRATED, WITH_YONGZHOU = "migrated", "yongzhou"


def _template_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"civicgrid-test-{os.environ[TEMPLATE_RUN]}"


def _pg_admin(base_url: str) -> Engine:
    return create_engine(make_url(base_url).set(database="postgres"), isolation_level="AUTOCOMMIT")


def _pg_template_name(kind: str) -> str:
    return f"civicgrid_tpl_{os.environ[TEMPLATE_RUN]}_{kind}"


@contextlib.contextmanager
def _templates_locked() -> Iterator[Path]:
    """The run's template folder, held by this process alone (workers build and copy in turn:
    PostgreSQL refuses to copy a template another session is connected to)."""
    folder = _template_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield folder
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _load_yongzhou(url: str) -> None:
    from civicgrid.db import make_engine, transaction
    from civicgrid.geo.service import load_reference_data

    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            load_reference_data(session)
    finally:
        engine.dispose()


def _pg_create(base_url: str, name: str, template: str | None = None) -> None:
    admin = _pg_admin(base_url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    finally:
        admin.dispose()


def _pg_template(base_url: str, kind: str, folder: Path) -> str:
    """The run's template of ``kind`` on the server, built by the first process that needs it."""
    name = _pg_template_name(kind)
    if not (folder / f"{kind}.pg-ready").exists():
        _drop_postgres(base_url, name)  # a build that failed half-way
        if kind == MIGRATED:
            _pg_create(base_url, name)
            upgrade(make_url(base_url).set(database=name).render_as_string(hide_password=False))
        else:
            _pg_create(base_url, name, _pg_template(base_url, MIGRATED, folder))
            _load_yongzhou(make_url(base_url).set(database=name).render_as_string(hide_password=False))
        (folder / f"{kind}.pg-ready").touch()
    return name


def _sqlite_copy(source: Path, target: Path) -> None:
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _sqlite_template(kind: str, folder: Path) -> Path:
    path = folder / f"{kind}.sqlite3"
    if not (folder / f"{kind}.sqlite-ready").exists():
        path.unlink(missing_ok=True)
        if kind == MIGRATED:
            upgrade(f"sqlite:///{path}")
        else:
            _sqlite_copy(_sqlite_template(MIGRATED, folder), path)
            _load_yongzhou(f"sqlite:///{path}")
        (folder / f"{kind}.sqlite-ready").touch()
    return path


def _fresh_postgres(base_url: str, kind: str = MIGRATED) -> tuple[str, str]:
    """A throw-away copy of the run's template on the server; return (url, name). Under
    pytest-xdist each worker makes its own (the name says which: gw0, gw1, ...; "main" without
    xdist)."""
    url = make_url(base_url)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"civicgrid_test_{worker}_{uuid.uuid4().hex[:10]}"
    with _templates_locked() as folder:
        _pg_create(base_url, name, _pg_template(base_url, kind, folder))
    return url.set(database=name).render_as_string(hide_password=False), name


def blank_postgres(base_url: str) -> tuple[str, str]:
    """An empty database on the server (no migration: for the migration tests); (url, name)."""
    name = f"civicgrid_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:10]}"
    _pg_create(base_url, name)
    return make_url(base_url).set(database=name).render_as_string(hide_password=False), name


def _pg_fresh_migrated(base_url: str) -> tuple[str, str]:
    name = f"civicgrid_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:10]}"
    _pg_create(base_url, name)
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return url, name


def _drop_postgres(base_url: str, name: str) -> None:
    admin = _pg_admin(base_url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def new_database(tmp_dir: Path, kind: str = MIGRATED) -> tuple[str, object]:
    """A brand-new database at the migrations' head (``kind=WITH_YONGZHOU``: and the Yongzhou
    reference data, committed), copied from the run's template; returns its URL and a cleanup
    callable."""
    base = os.environ.get("CIVICGRID_TEST_DATABASE_URL", "")
    # The templates hold the default city (the migrations seed the city's catalogue): another
    # city's database (CIVICGRID_CITY_DIR, tests/test_city.py) is migrated afresh.
    own_city = "CIVICGRID_CITY_DIR" in os.environ
    if own_city and kind != MIGRATED:
        raise ValueError("the Yongzhou template holds the default city only")
    if base.startswith("postgresql"):
        try:
            if own_city:
                url, name = _pg_fresh_migrated(base)
            else:
                url, name = _fresh_postgres(base, kind)
        except Exception as exc:
            if IN_CI:
                raise
            pytest.skip(f"PostgreSQL not reachable at {base}: {exc}")
        return url, lambda: _drop_postgres(base, name)
    path = tmp_dir / f"{uuid.uuid4().hex[:8]}.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    if own_city:
        upgrade(f"sqlite:///{path}")
        return f"sqlite:///{path}", lambda: None
    with _templates_locked() as folder:
        template = _sqlite_template(kind, folder)
    _sqlite_copy(template, path)
    return f"sqlite:///{path}", lambda: None


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the controller, or a run without xdist
        os.environ.setdefault(TEMPLATE_RUN, uuid.uuid4().hex[:10])


def pytest_unconfigure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or TEMPLATE_RUN not in os.environ:
        return
    folder = _template_dir()
    base = os.environ.get("CIVICGRID_TEST_DATABASE_URL", "")
    if base.startswith("postgresql") and any(folder.glob("*.pg-ready")):
        for kind in (WITH_YONGZHOU, MIGRATED):
            _drop_postgres(base, _pg_template_name(kind))
    shutil.rmtree(folder, ignore_errors=True)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep each ``xdist_group`` on one worker under ``--dist loadgroup``. pytest-xdist 3.8 names
    an item's group by setting ``item._nodeid`` to ``<nodeid>@<group>``; pytest 9 reads the
    node id from ``item._id`` instead, so the suffix never reached the scheduler and both workers
    built tests/simulate's replay (docs/performance.md). Here the suffix goes where pytest 9
    reads it; an id that already carries it (an xdist that sets ``_id`` itself) is left alone."""
    if not hasattr(config, "workerinput") or not getattr(config.option, "loadgroup", False):
        return  # (a worker's own "dist" option is "no": xdist sets option.loadgroup for it)
    try:
        from _pytest.nodeid import NodeId  # pytest >= 9; earlier pytests read _nodeid, as xdist sets
    except ImportError:
        return
    for item in items:
        names = sorted({str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                        for mark in item.iter_markers("xdist_group")})
        if not names or not hasattr(item, "_id"):
            continue
        suffix = "@" + "_".join(names)
        if not item.nodeid.endswith(suffix):
            item._id = NodeId.parse(item.nodeid + suffix)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's database URL: migrated, with the Yongzhou reference data (the ``yongzhou``
    fixture names it); the process settings point at it (and the file store at a directory of
    the session's own)."""
    os.environ["CIVICGRID_FILES_DIR"] = str(tmp_path_factory.mktemp("files"))
    from civicgrid.files import backends

    backends.settings.cache_clear()
    url, cleanup = new_database(tmp_path_factory.mktemp("db"), WITH_YONGZHOU)
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
    """1 city, 13 county-level units, 195 townships, 3,331 villages and the generated grids: the
    session's database was copied with them (``db_url``); checked here, loaded if missing."""
    from sqlalchemy import func, select

    from civicgrid.db import transaction
    from civicgrid.geo.models import Grid
    from civicgrid.geo.service import load_reference_data

    with engine.execution_options(sqlite_begin="DEFERRED").connect() as conn:
        loaded = bool(conn.scalar(select(func.count()).select_from(Grid)))
    if not loaded:
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
