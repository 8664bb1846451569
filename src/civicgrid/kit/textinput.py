"""No NUL character in any text input (issue 9 §3.4).

PostgreSQL's ``text`` cannot hold U+0000: a NUL in a login name, a search filter or a path
parameter reached the driver and answered 500 (and a login attempt so refused was never
audited). SQLite stores it and every later comparison goes wrong. No text this platform takes
has a use for it, so it is refused at the door, once for every endpoint, as a malformed request
(422): in the path, in the query string, and in JSON or URL-encoded bodies as they stream
(``\\u0000`` is the only way JSON can carry it, a raw control character being invalid JSON
already; the text ``\\u0000`` — a backslash, then u0000 — is refused with it). Files
(multipart bodies) are binary and pass untouched; what reads them checks them.
"""

from __future__ import annotations

MESSAGE = ("请求内容含有不允许的空字符（NUL，\\x00）",
           "The request contains a NUL character (\\x00), which is not allowed")


def in_target(path: str, query_string: bytes) -> bool:
    """Whether the decoded path or the raw query string carries a NUL."""
    return "\x00" in path or b"\x00" in query_string or b"%00" in query_string


class BodyScanner:
    """Finds a NUL in a text body fed chunk by chunk (a pattern may straddle two chunks)."""

    def __init__(self, patterns: tuple[bytes, ...]) -> None:
        self.patterns = patterns
        self._keep = max(len(p) for p in patterns) - 1
        self._tail = b""

    @classmethod
    def for_content_type(cls, content_type: str | None) -> BodyScanner | None:
        """The scanner for a body of this type; None for bodies that are not text (files)."""
        kind = (content_type or "").split(";", 1)[0].strip().lower()
        if kind == "application/json" or kind.endswith("+json"):
            return cls((b"\\u0000", b"\x00"))
        if kind == "application/x-www-form-urlencoded":
            return cls((b"%00", b"\x00"))
        return None

    def feed(self, chunk: bytes) -> bool:
        """True once a NUL has been seen."""
        window = self._tail + chunk
        if any(p in window for p in self.patterns):
            return True
        self._tail = window[-self._keep:] if self._keep else b""
        return False
