"""Serving the app with uvicorn on a listener that keeps TCP_NODELAY on every accepted socket.

uvicorn's own ``bind_socket`` creates the listener as ``socket.socket(family)``, leaving
``proto`` 0; on the asyncio event loop the accepted sockets then never get TCP_NODELAY and each
keep-alive response waits ~40 ms for Nagle/delayed-ACK (uvicorn issue #3149; measured here:
44 ms p50 with ``--workers 2 --loop asyncio``, 0.5 ms with this listener — docs/operations.md).
Creating the listener with IPPROTO_TCP ourselves makes the setup independent of uvloop.

With several workers each process listens on a socket of its own, bound to the same port with
``SO_REUSEPORT``, and the kernel spreads new connections across them. On one shared listener
the worker that woke first accepted every connection pending at that moment, so a burst of
connections (a dozen officials opening the console, the benchmark's eight clients) often all
landed on one process while the other idled (seen with ``ss -tnp``; bench/matters.py measured
2 processes no faster than 1).
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TypeVar

APP = "civicgrid.main:create_app"
S = TypeVar("S", bound=socket.socket)


def tcp_listener(host: str, port: int, backlog: int = 2048, reuse_port: bool = False) -> socket.socket:
    """A listening socket that says it is TCP, so asyncio sets TCP_NODELAY on what it accepts;
    ``reuse_port``: one of several processes' listeners on the same port."""
    sock = _bound(socket.socket, host, port, reuse_port)
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def _bound(kind: type[S], host: str, port: int, reuse_port: bool) -> S:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = kind(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


class _WorkerListener(socket.socket):
    """What the supervisor hands each worker: the parent only holds the port (bound, never
    listening, so no connection waits on it); unpickled in a worker (multiprocessing's spawn
    pickles the sockets it passes), it becomes a listener of that process's own on the same
    port (:func:`tcp_listener` with ``reuse_port``)."""

    address: tuple[str, int]
    backlog: int

    def __reduce__(self) -> tuple[object, tuple[str, int, int, bool]]:
        return tcp_listener, (self.address[0], self.address[1], self.backlog, True)


def worker_listener(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """The port for several workers (see :class:`_WorkerListener`); fails at once if it is taken."""
    sock = _bound(_WorkerListener, host, port, reuse_port=True)
    sock.address, sock.backlog = (host, sock.getsockname()[1]), backlog
    return sock


def serve(host: str, port: int, workers: int = 1, loop: str = "auto", log_level: str = "info",
          certfile: str | None = None, keyfile: str | None = None) -> None:
    """Run the app on :func:`tcp_listener`, or with ``workers`` processes under uvicorn's
    supervisor, each on a listener of its own (:func:`worker_listener`).

    With ``certfile`` (and ``keyfile``, unless the key is in the certificate's file) it serves
    HTTPS and WSS: browsers give geolocation and the microphone only to a secure origin. Each
    process makes its TLS context from the files (uvicorn's ``ssl_*`` options travel in the
    config to every worker) and wraps the connections it accepts on its own listener."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    tls = tls_options(certfile, keyfile)
    config = uvicorn.Config(APP, factory=True, host=host, port=port, workers=workers, loop=loop,
                            log_level=log_level, proxy_headers=False,
                            ssl_certfile=tls.get("ssl_certfile"), ssl_keyfile=tls.get("ssl_keyfile"))
    if workers > 1:
        Multiprocess(config, sockets=[worker_listener(host, port)]).run()
    else:
        uvicorn.Server(config).run(sockets=[tcp_listener(host, port)])


def tls_options(certfile: str | None, keyfile: str | None) -> dict[str, str]:
    """uvicorn's TLS options for a certificate and key (PEM), checked now rather than in each
    worker: a missing file or a key that does not match the certificate stops ``serve`` with
    the reason."""
    if not certfile:
        if keyfile:
            raise ValueError("a TLS key without a certificate: give --certfile too")
        return {}
    import ssl

    for path in (certfile, keyfile):
        if path and not Path(path).is_file():
            raise ValueError(f"TLS file not found: {path}")
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile or None)
    options = {"ssl_certfile": certfile}
    if keyfile:
        options["ssl_keyfile"] = keyfile
    return options
