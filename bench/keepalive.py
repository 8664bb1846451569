"""Keep-alive latency of the ways to run several app processes behind one port.

Why this exists: uvicorn issue #3149 reports that on Linux every keep-alive request after
the first costs about 40 ms when the listening socket is created before the server starts
(``uvicorn --workers N``, the gunicorn worker). Such a listener is made with ``proto`` 0,
accepted sockets inherit it, and asyncio only turns on TCP_NODELAY for sockets that report
IPPROTO_TCP; Nagle's algorithm then holds the response's second segment until the client's
delayed ACK (40 ms on Linux). This script measures the setups we could recommend, side by
side, instead of trusting the report.

The client sends sequential ``GET /api/v1/health`` requests on ONE persistent HTTP/1.1
connection and prints p50/p99 per request.

    python bench/keepalive.py                      # start every setup in turn, print the table
    python bench/keepalive.py --requests 2000      # more samples per setup
    python bench/keepalive.py --url http://127.0.0.1:8000   # measure a server that is running
    python bench/keepalive.py serve --workers 4 --port 8000 # the fixed launcher on its own
    python bench/keepalive.py sockets              # TCP_NODELAY of accepted sockets, by listener and loop
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from civicgrid.serving import APP, serve

HEALTH = "/api/v1/health"
WARMUP = 20


@dataclass(frozen=True)
class Setup:
    """One way to run the app: a label and the command (``{port}`` is filled in)."""

    label: str
    argv: tuple[str, ...]


def setups(workers: int) -> list[Setup]:
    """The setups compared; the commands are exactly what docs/operations.md quotes."""
    py = sys.executable
    uvicorn = (py, "-m", "uvicorn", "--factory", APP, "--host", "127.0.0.1", "--port", "{port}",
               "--log-level", "warning")
    gunicorn = (py, "-m", "gunicorn", f"{APP}()", "-b", "127.0.0.1:{port}", "-w", str(workers),
                "--log-level", "warning")
    this = (py, str(Path(__file__).resolve()), "serve", "--port", "{port}", "--workers", str(workers))
    return [
        Setup("uvicorn --workers 1 (uvloop)", (*uvicorn, "--workers", "1")),
        Setup("uvicorn --workers 1 --loop asyncio", (*uvicorn, "--workers", "1", "--loop", "asyncio")),
        Setup(f"uvicorn --workers {workers} (uvloop)", (*uvicorn, "--workers", str(workers))),
        Setup(f"uvicorn --workers {workers} --loop asyncio",
              (*uvicorn, "--workers", str(workers), "--loop", "asyncio")),
        Setup(f"uvicorn --workers {workers} --loop asyncio --http h11",
              (*uvicorn, "--workers", str(workers), "--loop", "asyncio", "--http", "h11")),
        Setup(f"gunicorn -w {workers} UvicornWorker (uvloop)",
              (*gunicorn, "-k", "uvicorn_worker.UvicornWorker")),
        Setup(f"gunicorn -w {workers} worker on asyncio + httptools",
              (*gunicorn, "--pythonpath", str(Path(__file__).resolve().parent),
               "-k", "keepalive.AsyncioHttptoolsWorker")),
        Setup(f"gunicorn -w {workers} UvicornH11Worker (asyncio + h11)",
              (*gunicorn, "-k", "uvicorn_worker.UvicornH11Worker")),
        Setup(f"fixed listener, {workers} workers, asyncio", (*this, "--loop", "asyncio")),
        Setup(f"fixed listener, {workers} workers (uvloop)", this),
    ]


try:  # the gunicorn worker that shows the fault there too: uvicorn's defaults minus uvloop
    from uvicorn_worker import UvicornWorker

    class AsyncioHttptoolsWorker(UvicornWorker):
        """``uvicorn_worker.UvicornWorker`` on the asyncio loop (as on a machine without uvloop)."""

        CONFIG_KWARGS = {"loop": "asyncio", "http": "httptools"}  # noqa: RUF012 - gunicorn's own API
except ImportError:  # gunicorn is optional; the other setups still run
    pass


# --------------------------------------------------------------------------- the client

def _read_response(reader: BinaryIO) -> int:
    """Read one HTTP/1.1 response (status, headers, Content-Length body); return the status."""
    status_line = reader.readline()
    if not status_line:
        raise ConnectionError("server closed the keep-alive connection")
    length = 0
    while True:
        line = reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
        if name.strip().lower() == b"connection" and value.strip().lower() == b"close":
            raise ConnectionError("server asked to close the connection: not a keep-alive measurement")
    reader.read(length)
    return int(status_line.split()[1])


def measure(host: str, port: int, requests: int, path: str = HEALTH) -> list[float]:
    """Milliseconds per request for ``requests`` sequential requests on one connection."""
    sock = socket.create_connection((host, port), timeout=10)
    # The client sends each request in one write and sets NODELAY, so any delay seen is the server's.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = sock.makefile("rb")
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: keep-alive\r\n\r\n".encode()
    times: list[float] = []
    try:
        for i in range(WARMUP + requests):
            start = time.perf_counter_ns()
            sock.sendall(request)
            status = _read_response(reader)
            elapsed = (time.perf_counter_ns() - start) / 1e6
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")
            if i >= WARMUP:
                times.append(elapsed)
    finally:
        reader.close()
        sock.close()
    return times


def percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def summary(times: list[float]) -> tuple[float, float, float]:
    ordered = sorted(times)
    return percentile(ordered, 50), percentile(ordered, 99), statistics.fmean(ordered)


# --------------------------------------------------------------------------- running setups

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(port: int, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            measure("127.0.0.1", port, 1)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not answer in time")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    # The server runs in its own process group (its workers included); end exactly that group.
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def _bench_env(tmp: Path) -> dict[str, str]:
    """A migrated throw-away SQLite database, and no timer worker, for the servers under test."""
    from civicgrid.migrate import upgrade

    url = f"sqlite:///{tmp / 'keepalive.sqlite3'}"
    upgrade(url)
    env = dict(os.environ)
    env.update({"CIVICGRID_DATABASE_URL": url, "CIVICGRID_RUN_TIMER_WORKER": "false"})
    return env


def run_all(requests: int, workers: int) -> int:
    print(f"keep-alive latency: {requests} sequential GET {HEALTH} on one HTTP/1.1 connection "
          f"(after {WARMUP} warm-up requests), {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"{_versions()}")
    sockets_report()
    print()
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        env = _bench_env(Path(tmp))
        for setup in setups(workers):
            port = _free_port()
            argv = [part.replace("{port}", str(port)) for part in setup.argv]
            proc = subprocess.Popen(argv, env=env, start_new_session=True,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                _wait_ready(port, proc)
                p50, p99, mean = summary(measure("127.0.0.1", port, requests))
                line = f"{p50:8.2f} {p99:8.2f} {mean:8.2f}"
            except Exception as exc:
                line = f"failed: {exc}"
            finally:
                _stop(proc)
            print(f"{setup.label:<44} {line}", flush=True)
            rows.append((setup.label, shlex.join(argv)))
    print("\n(columns: p50 ms, p99 ms, mean ms)\ncommands:")
    for label, command in rows:
        print(f"  {label}: {command}")
    return 0


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("uvicorn", "uvloop", "httptools", "gunicorn", "uvicorn-worker"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} -")
    return ", ".join(found)


# --------------------------------------------------------------------------- the fixed launcher

# tcp_listener and serve live in civicgrid.serving (what `civicgrid serve` runs).


# --------------------------------------------------------------------------- the mechanism itself

async def _accepted_nodelay(listener: socket.socket) -> bool:
    """Serve one connection on ``listener``; return whether the accepted socket has TCP_NODELAY."""
    import asyncio

    loop = asyncio.get_running_loop()
    result: asyncio.Future[bool] = loop.create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            result.set_result(bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)))
            transport.close()

    server = await loop.create_server(Probe, sock=listener)
    _reader, writer = await asyncio.open_connection(*listener.getsockname()[:2])
    nodelay = await result
    writer.close()
    server.close()
    return nodelay


def sockets_report() -> int:
    """Show the mechanism of issue #3149 directly: which listeners give accepted sockets NODELAY."""
    import asyncio

    listeners = [
        ("socket(AF_INET) - uvicorn bind_socket", 0, False),
        ("socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)", socket.IPPROTO_TCP, False),
        ("socket(AF_INET) + TCP_NODELAY on listener (gunicorn)", 0, True),
    ]
    loops: list[tuple[str, Any]] = [("asyncio", asyncio.run)]
    try:
        import uvloop

        loops.append(("uvloop", uvloop.run))
    except ImportError:
        print("uvloop not installed: asyncio only")
    for loop_name, run in loops:
        for label, proto, listener_nodelay in listeners:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
            if listener_nodelay:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen()
            nodelay = run(_accepted_nodelay(sock))
            print(f"{loop_name:<8} {label:<56} accepted socket TCP_NODELAY={nodelay}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    srv = sub.add_parser("serve", help="run the app with the fixed listener")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8000)
    srv.add_argument("--workers", type=int, default=2)
    srv.add_argument("--loop", default="auto")
    sub.add_parser("sockets", help="show which listeners give accepted sockets TCP_NODELAY")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--url", help="measure this running server instead of starting each setup")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.host, args.port, args.workers, args.loop)
        return 0
    if args.command == "sockets":
        return sockets_report()
    if args.url:
        parts = urlsplit(args.url)
        p50, p99, mean = summary(measure(parts.hostname or "127.0.0.1", parts.port or 80, args.requests))
        print(f"{args.url}: p50 {p50:.2f} ms, p99 {p99:.2f} ms, mean {mean:.2f} ms "
              f"({args.requests} requests)")
        return 0
    return run_all(args.requests, args.workers)


if __name__ == "__main__":
    sys.exit(main())
