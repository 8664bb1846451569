"""TOTP against RFC 6238's own test vectors, the password lists, and the client address rules."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from civicgrid.kit.errors import Invalid
from civicgrid.people import totp
from civicgrid.people.addresses import client_address
from civicgrid.people.passwords import check_password_policy, common_passwords

# RFC 6238 Appendix B, SHA1 column: the key is the ASCII string "12345678901234567890".
RFC_KEY = b"12345678901234567890"
RFC_VECTORS = [(59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"),
               (1234567890, "89005924"), (2000000000, "69279037"), (20000000000, "65353130")]


@pytest.mark.parametrize(("unix", "expected"), RFC_VECTORS)
def test_rfc_6238_appendix_b_vectors(unix: int, expected: str) -> None:
    at = datetime.fromtimestamp(unix, UTC)
    assert totp.hotp(RFC_KEY, totp.step_of(at), digits=8) == expected
    secret = base64.b32encode(RFC_KEY).decode()
    assert totp.code_at(secret, at) == expected[-6:]


def test_a_code_matches_its_step_and_its_neighbours_once() -> None:
    secret = totp.new_secret()
    at = datetime(2026, 12, 3, 9, 0, 15, tzinfo=UTC)
    step = totp.step_of(at)
    assert totp.matching_step(secret, totp.code_for_step(secret, step), at) == step
    assert totp.matching_step(secret, totp.code_for_step(secret, step - 1), at) == step - 1
    assert totp.matching_step(secret, totp.code_for_step(secret, step + 2), at) is None
    # RFC 6238 §5.2: once accepted, neither the same step nor an earlier one passes again.
    assert totp.matching_step(secret, totp.code_for_step(secret, step), at, after=step) is None
    assert totp.matching_step(secret, "12345", at) is None and totp.matching_step(secret, "abcdef", at) is None
    uri = totp.provisioning_uri(secret, "sysadmin")
    assert uri.startswith("otpauth://totp/civicgrid%3Asysadmin?secret=") and "period=30" in uri and "digits=6" in uri


def test_common_password_lists_ship_and_refuse() -> None:
    listed = common_passwords()
    assert len(listed) > 10_000 and {"password1", "aa123456", "woaini1314", "5201314"} <= listed
    for password in ("Password1", "Aa123456", "Woaini1314!", "Qwerty@2026", "1qaz2WSX#"):
        with pytest.raises(Invalid):
            check_password_policy(password)
    with pytest.raises(Invalid) as refused:
        check_password_policy("Zhangwei#2026", "zhangwei")
    assert refused.value.zh == "密码不能包含用户名"
    check_password_policy("Test#Pass2026")
    check_password_policy("Yongzhou@2026")  # the demo's initial password stays valid


def test_forwarded_for_only_from_trusted_proxies() -> None:
    assert client_address("203.0.113.9", "1.2.3.4", "") == "203.0.113.9"
    assert client_address("203.0.113.9", "1.2.3.4", "10.0.0.0/8") == "203.0.113.9"
    assert client_address("10.0.0.2", "1.2.3.4", "10.0.0.0/8") == "1.2.3.4"
    # The client may prepend anything; the right-most untrusted hop counts.
    assert client_address("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.7", "10.0.0.0/8") == "1.2.3.4"
    assert client_address(None, None, "") == "unknown"
