"""Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): the second factor of the three
administrators and of every holder of ``pii.reveal`` (GB/T 22239-2019 8.1.4.1 d: two or more
combined authentication techniques at level 3).

HMAC-SHA1, 6 digits, 30-second steps — what every authenticator app (FreeOTP, Google
Authenticator, 微信/阿里云 authenticators) expects from an ``otpauth://`` URI. A code is accepted
for the step before and after the current one (clock drift, RFC 6238 §5.2) and only once: the
caller stores the step it matched and passes it back as ``after``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from datetime import datetime
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
ISSUER = "civicgrid"


def new_secret() -> str:
    """A fresh 160-bit secret in base32 (RFC 4226 §4 recommends 160 bits)."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _key(secret: str) -> bytes:
    padded = secret.upper() + "=" * (-len(secret) % 8)
    return base64.b32decode(padded)


def hotp(key: bytes, counter: int, digits: int = DIGITS) -> str:
    """RFC 4226 §5.3: HMAC-SHA1 of the counter, dynamically truncated."""
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10 ** digits).zfill(digits)


def step_of(at: datetime) -> int:
    """The RFC 6238 time step T = floor(unix time / 30)."""
    return int(at.timestamp()) // STEP_SECONDS


def code_for_step(secret: str, step: int) -> str:
    """The code of one time step."""
    return hotp(_key(secret), step)


def code_at(secret: str, at: datetime) -> str:
    """The code an authenticator shows at ``at``."""
    return code_for_step(secret, step_of(at))


def matching_step(secret: str, code: str, at: datetime, *, after: int | None = None) -> int | None:
    """The step (current ± 1) whose code is ``code`` and that comes after ``after`` (a step
    already used), or None."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    key = _key(secret)
    now = step_of(at)
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(hotp(key, step), code):
            return step
    return None


def provisioning_uri(secret: str, account: str, issuer: str = ISSUER) -> str:
    """The ``otpauth://totp/…`` URI an authenticator app scans (Key Uri Format)."""
    label = quote(f"{issuer}:{account}")
    query = urlencode({"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS,
                       "period": STEP_SECONDS})
    return f"otpauth://totp/{label}?{query}"


def qr_svg_data_uri(uri: str) -> str:
    """The URI as a QR code, an SVG ``data:`` URI the console shows in an ``<img>``."""
    import segno

    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


def main(argv: list[str] | None = None) -> int:
    """``python -m civicgrid.people.totp KEY``: the current code of a key, like ``oathtool --totp -b``
    (for a tester without an authenticator app; it knows only the key it is given)."""
    import sys
    from datetime import UTC

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m civicgrid.people.totp KEY", file=sys.stderr)
        return 2
    print(code_at(args[0].replace(" ", ""), datetime.now(UTC)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
