"""Secrets never reach a log (issue 9 §3.3): the server as an operator runs it (`civicgrid serve`
in a subprocess, uvicorn's access log on), requests carrying secrets in their query strings, and
the captured output searched for them."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from civicgrid.kit.redact import install_log_redaction, redact
from civicgrid.migrate import upgrade
from tests.conftest import free_port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`civicgrid serve` on a fresh SQLite database; yields its URL and the file its output goes to."""
    url = f"sqlite:///{tmp_path / 'logs.sqlite3'}"
    upgrade(url)
    port = free_port()
    log_file = tmp_path / "server.log"
    env = {**os.environ, "CIVICGRID_DATABASE_URL": url, "CIVICGRID_ENV": "development",
           "CIVICGRID_RUN_TIMER_WORKER": "false"}
    with log_file.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "civicgrid.cli", "serve", "--port", str(port)], env=env,
                                  stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, log_file.read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield base, log_file
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_secrets_in_query_strings_never_reach_the_access_log(served: tuple[str, Path]) -> None:
    base, log_file = served
    httpx.get(f"{base}/api/v1/health?token=SECRET-A1&page=2")
    httpx.get(f"{base}/open311/v2/requests.json?api_key=SECRET-B2")
    httpx.get(f"{base}/api/v1/audit?password=SECRET-C3&secret=SECRET-D4&key=SECRET-E5")
    httpx.post(f"{base}/api/v1/auth/login?client_secret=SECRET-F6", json={"username": "x", "password": "y"})
    with (connect(f"{base.replace('http', 'ws')}/api/v1/ws?token=SECRET-G7", open_timeout=10) as ws,
          pytest.raises(ConnectionClosed)):
        while True:
            ws.recv(timeout=10)
    time.sleep(0.5)  # let the server write its last lines
    log = log_file.read_text()
    # The requests were logged (so the search below means something) …
    assert "/api/v1/health?token=***&page=2" in log, log
    assert "/open311/v2/requests.json?api_key=***" in log
    assert "password=***&secret=***&key=***" in log
    assert "client_secret=***" in log
    assert "/api/v1/ws?token=***" in log
    # … and not one secret.
    assert "SECRET-" not in log, [line for line in log.splitlines() if "SECRET-" in line]


def test_the_apps_own_loggers_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    with caplog.at_level(logging.INFO, logger="civicgrid.test"):
        logging.getLogger("civicgrid.test").warning("could not fetch %s", "https://x/y?x-api-key=abc123&q=1")
        logging.getLogger("civicgrid.test").info("retry /ws?access_token=zzz")
    text = caplog.text
    assert "abc123" not in text and "zzz" not in text
    assert "x-api-key=***&q=1" in text and "access_token=***" in text


@pytest.mark.parametrize(("raw", "clean"), [
    ("/a?keyword=ok&tokens=ok&monkey=1", "/a?keyword=ok&tokens=ok&monkey=1"),  # look-alikes kept
    ("/a?Password=P&refresh_token=R", "/a?Password=***&refresh_token=***"),
    ("/a?b=1;key=K", "/a?b=1;key=***"),
])
def test_redact(raw: str, clean: str) -> None:
    assert redact(raw) == clean
