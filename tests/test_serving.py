"""``civicgrid serve --certfile --keyfile``: HTTPS and WSS from the command an operator runs,
with one process and with ``--workers 2`` (each worker wraps its own listener)."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from civicgrid.migrate import upgrade
from civicgrid.serving import tls_options
from tests.conftest import free_port
from tests.tls import self_signed_certificate


def _trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def _serve_https(tmp_path: Path, workers: int, *,
                 through_settings: bool = False) -> tuple[subprocess.Popen[str], str, Path]:
    url = f"sqlite:///{tmp_path / 'tls.sqlite3'}"
    upgrade(url)
    cert, key = self_signed_certificate(tmp_path)
    port = free_port()
    env = {**os.environ, "CIVICGRID_DATABASE_URL": url, "CIVICGRID_RUN_TIMER_WORKER": "false",
           "CIVICGRID_ENV": "development"}  # serve refuses the built-in secret key elsewhere
    args = ["--port", str(port), "--workers", str(workers)]
    if through_settings:
        env |= {"CIVICGRID_TLS_CERTFILE": str(cert), "CIVICGRID_TLS_KEYFILE": str(key)}
    else:
        args += ["--certfile", str(cert), "--keyfile", str(key)]
    # The server's log goes to a file: a pipe nobody reads fills up (an access line per health
    # poll while a loaded machine starts it) and then blocks the server mid-request — the WSS
    # handshakes that hung in CI.
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "civicgrid.cli", "serve", *args], env=env,
                              stdout=subprocess.DEVNULL, stderr=log, text=True)
    log.close()  # the child holds its own copy
    base = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/api/v1/health/live", verify=_trusting(cert), timeout=1).status_code == 200:
                return server, base, cert
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise AssertionError((tmp_path / "serve.log").read_text()[-4000:] or "the server did not start")
        time.sleep(0.2)


def _wss_answer_to_a_bad_token(base: str, cert: Path, log: Path) -> dict[str, object]:
    """The app's answer over WSS to a bad token. The client runs in a thread given 45 s: when a
    handshake fails, websockets 17 joins its reader thread without a timeout and can wait forever
    (CI, twice this session, single-process TLS server under the load of three passes: the cause is
    not found — see docs/performance.md). One more try on a new connection then; a first failure
    is reported as a warning in the run's summary, a second fails the test with the server's log."""
    failures: list[str] = []
    for _ in range(2):
        answer: dict[str, object] = {}

        def talk(answer: dict[str, object] = answer) -> None:
            try:
                with connect(base.replace("https://", "wss://") + "/api/v1/ws", ssl=_trusting(cert),
                             open_timeout=20) as ws:
                    ws.send(json.dumps({"action": "auth", "token": "not-a-token"}))
                    answer.update(json.loads(ws.recv(timeout=20)))
            except Exception as exc:  # reported below, in the test's thread
                answer["error"] = repr(exc)

        client = threading.Thread(target=talk, daemon=True)
        client.start()
        client.join(45)
        if not client.is_alive() and "error" not in answer:
            if failures:
                warnings.warn(f"WSS answered on the second try; first: {failures[0]}", stacklevel=2)
            return answer
        failures.append("hung" if client.is_alive() else str(answer["error"]))
    raise AssertionError(f"WSS failed twice ({failures}); server log:\n{log.read_text()[-4000:]}")


@pytest.mark.parametrize(("workers", "through_settings"), [(1, True), (2, False)])
def test_serve_speaks_https_and_wss_with_a_certificate(tmp_path: Path, workers: int, through_settings: bool) -> None:
    server, base, cert = _serve_https(tmp_path, workers, through_settings=through_settings)
    try:
        for _ in range(4):  # new connections, spread over the workers
            assert httpx.get(f"{base}/api/v1/health", verify=_trusting(cert), timeout=10).json()["status"] == "ok"
        with pytest.raises(httpx.HTTPError):  # plain HTTP on the TLS port is refused
            httpx.get(base.replace("https://", "http://") + "/api/v1/health/live", timeout=5)
        # over WSS, refused by the app
        assert _wss_answer_to_a_bad_token(base, cert, tmp_path / "serve.log")["code"] == "not_authenticated"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_tls_options_are_checked_before_serving(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    assert tls_options(None, None) == {}
    assert tls_options(str(cert), str(key)) == {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    with pytest.raises(ValueError, match="not found"):
        tls_options(str(tmp_path / "missing.pem"), str(key))
    with pytest.raises(ValueError, match="certificate"):
        tls_options(None, str(key))
    (tmp_path / "other").mkdir()
    other_cert, _ = self_signed_certificate(tmp_path / "other")
    with pytest.raises(ssl.SSLError):  # a key that is not the certificate's
        tls_options(str(other_cert), str(key))
