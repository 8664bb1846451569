"""Issue 9 §3.3 (outside security test): the body limit holds for a chunked body, which declares
no length. A 200 MiB chunked body used to be read whole (+578 MiB resident); now the server
counts bytes as they stream and answers 413 once ``max_body_bytes`` (10 MiB) has been read.

The live server runs in this process (tests/conftest.py), so ``/proc/self/status`` is its
memory: the peak (VmHWM) is reset before the request where the kernel allows it.
"""

from __future__ import annotations

import json
import select
import socket
from urllib.parse import urlsplit

from tests.conftest import LiveServer

MIB = 1024 * 1024


def _memory_kib() -> dict[str, int]:
    """VmRSS and VmHWM of this process (the server's), in KiB."""
    out = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(value.split()[0])
    return out


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # resets VmHWM to VmRSS (Linux 4.0+)
    except OSError:
        pass  # the peak then counts from the process start: still an upper bound


def _stream_chunked(url: str, path: str, total: int, chunk: int = MIB) -> tuple[int, bytes]:
    """POST ``total`` bytes with ``Transfer-Encoding: chunked`` over a raw socket, stopping as soon
    as the server answers; returns (bytes of body sent, the server's answer)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=60)
    answer = b""
    sent = 0
    try:
        sock.sendall((f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
                      "Transfer-Encoding: chunked\r\nAccept-Language: zh-CN\r\n\r\n").encode())
        piece = b"x" * chunk
        framed = f"{chunk:x}\r\n".encode() + piece + b"\r\n"
        try:
            while sent < total:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break  # the server answered (or closed) before the body ended
                sock.sendall(framed)
                sent += chunk
            else:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection after answering
        try:
            while b"\r\n\r\n" not in answer or len(answer) < answer.index(b"\r\n\r\n") + 4 + _length(answer):
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except (ConnectionResetError, TimeoutError):
            pass
    finally:
        sock.close()
    return sent, answer


def _length(answer: bytes) -> int:
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    for line in head.split("\r\n"):
        if line.startswith("content-length:"):
            return int(line.split(":", 1)[1])
    return 0


def test_a_chunked_body_over_the_limit_is_refused_as_it_streams(live_server: LiveServer) -> None:
    _reset_peak()
    before = _memory_kib()
    sent, answer = _stream_chunked(live_server.url, "/api/v1/auth/login", 200 * MIB)
    after = _memory_kib()

    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert "请求内容过大" in json.loads(payload)["error"]["message"]
    # Answered once the limit was read, not after the whole body (socket buffers hold a few MiB).
    assert sent < 64 * MIB, sent
    grown_mib = (after["VmHWM"] - before["VmRSS"]) / 1024
    assert grown_mib < 50, f"resident memory grew by {grown_mib:.0f} MiB"


def test_a_chunked_body_under_the_limit_still_reaches_the_endpoint(live_server: LiveServer) -> None:
    parts = urlsplit(live_server.url)
    body = json.dumps({"username": "nobody", "password": "x" * 100}).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall((f"POST /api/v1/auth/login HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                      "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                      ).encode() + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
        answer = b""
        while data := sock.recv(65536):
            answer += data
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]  # read, parsed, and refused as a bad login
