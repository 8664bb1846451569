"""A lean HTTP/1.1 load generator for the benchmarks (in the spirit of wrk): N keep-alive
connections on one asyncio loop, each sending its next request as soon as the previous answer
is in (closed loop), so the clients take a small share of the machine's two cores and the
figure measures the server. httpx in threads costs ~1–2 ms of CPU per request on this machine,
which the server would otherwise have to share.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Request = tuple[str, str, dict[str, str], Any]
"""(method, path, extra headers, JSON body or None)."""


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    started: list[float] = field(default_factory=list)  # when each request went out (seconds in)
    statuses: dict[int, int] = field(default_factory=dict)
    first_failure: str | None = None
    elapsed: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies)


def _encode(host: str, port: int, headers: dict[str, str], request: Request) -> bytes:
    method, path, extra, body = request
    payload = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in {**headers, **extra}.items()]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length)
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, body
        body += chunk[:-2]


async def _run(host: str, port: int, clients: int, seconds: float, headers: dict[str, str],
               make: Callable[[int, int], Request], expect: frozenset[int]) -> LoadResult:
    result = LoadResult()
    begin = time.perf_counter()
    deadline = begin + seconds

    async def client(n: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        i = 0
        try:
            while time.perf_counter() < deadline:
                data = _encode(host, port, headers, make(n, i))
                t0 = time.perf_counter()
                writer.write(data)
                status, body = await _read_response(reader)
                result.latencies.append(time.perf_counter() - t0)
                result.started.append(t0 - begin)
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status not in expect and result.first_failure is None:
                    result.first_failure = f"{status} {body[:300].decode(errors='replace')}"
                i += 1
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    result.elapsed = time.perf_counter() - t0
    return result


def run_load(host: str, port: int, *, clients: int, seconds: float, headers: dict[str, str],
             make: Callable[[int, int], Request], expect: frozenset[int] = frozenset({200, 201})) -> LoadResult:
    """``clients`` connections for ``seconds``; ``make(client, i)`` builds each request."""
    return asyncio.run(_run(host, port, clients, seconds, headers, make, expect))
