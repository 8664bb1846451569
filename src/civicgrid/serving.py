"""Serving the app with uvicorn on a listener that keeps TCP_NODELAY on every accepted socket.

uvicorn's own ``bind_socket`` creates the listener as ``socket.socket(family)``, leaving
``proto`` 0; on the asyncio event loop the accepted sockets then never get TCP_NODELAY and each
keep-alive response waits ~40 ms for Nagle/delayed-ACK (uvicorn issue #3149; measured here:
44 ms p50 with ``--workers 2 --loop asyncio``, 0.5 ms with this listener — docs/operations.md).
Creating the listener with IPPROTO_TCP ourselves makes the setup independent of uvloop.
"""

from __future__ import annotations

import socket

APP = "civicgrid.main:create_app"


def tcp_listener(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening socket that says it is TCP, so asyncio sets TCP_NODELAY on what it accepts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def serve(host: str, port: int, workers: int = 1, loop: str = "auto", log_level: str = "info") -> None:
    """Run the app (``workers`` processes under uvicorn's supervisor) on :func:`tcp_listener`."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(APP, factory=True, host=host, port=port, workers=workers, loop=loop,
                            log_level=log_level, proxy_headers=False)
    sock = tcp_listener(host, port)
    if workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        uvicorn.Server(config).run(sockets=[sock])
