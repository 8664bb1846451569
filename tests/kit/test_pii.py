"""Personal-data helpers: GB 11643 and GB 32100 check digits, phones, AES-GCM, keyed hashes."""

from __future__ import annotations

import base64
import os

import pytest

from civicgrid.kit.errors import Invalid
from civicgrid.kit.pii import (
    PiiCipher,
    derive_key,
    is_valid_resident_id,
    is_valid_uscc,
    mask_phone,
    mask_resident_id,
    normalize_phone,
    resident_id_check_char,
    uscc_check_char,
    validate_resident_id,
    validate_uscc,
)


def test_resident_id_check_digit() -> None:
    assert is_valid_resident_id("11010519491231002X")
    assert is_valid_resident_id("11010519491231002x")  # lower-case x is normalised
    assert resident_id_check_char("11010519491231002") == "X"
    assert not is_valid_resident_id("110105194912310021")  # wrong check character
    assert not is_valid_resident_id("110105194902300028")  # 30 February
    assert not is_valid_resident_id("11010519491231002")  # 17 characters
    assert validate_resident_id(" 11010519491231002x ") == "11010519491231002X"
    with pytest.raises(Invalid) as err:
        validate_resident_id("110105194912310021")
    assert err.value.status == 422 and "GB 11643" in err.value.en


def test_resident_id_check_digit_against_a_computed_example() -> None:
    # 431102 (零陵区) + 1990-05-17 + 123: S = Σ digit × weight = 255, 255 mod 11 = 2 → 'X'.
    first17 = "43110219900517123"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    assert sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11 == 2
    assert resident_id_check_char(first17) == "X"
    assert mask_resident_id(first17 + "X") == "431102********123X"


def test_uscc_check_digit() -> None:
    assert is_valid_uscc("91350100M000100Y43")
    assert uscc_check_char("91350100M000100Y4") == "3"
    assert not is_valid_uscc("91350100M000100Y44")
    assert not is_valid_uscc("91350100M000100O43")  # O is not in the alphabet
    assert validate_uscc("91350100m000100y43") == "91350100M000100Y43"
    with pytest.raises(Invalid):
        validate_uscc("913501")


def test_phone_normalise_and_mask() -> None:
    assert normalize_phone("+86 138-1234-5678") == "13812345678"
    assert normalize_phone("008613812345678") == "13812345678"
    assert mask_phone("13812345678") == "138****5678"
    for bad in ("12812345678", "1381234567", "abc", "07465551234"):
        with pytest.raises(Invalid):
            normalize_phone(bad)


def test_cipher_round_trip_context_and_key() -> None:
    cipher = PiiCipher(os.urandom(32), os.urandom(32))
    token = cipher.encrypt("13812345678", "users.phone")
    assert "13812345678" not in token
    assert b"13812345678" not in base64.urlsafe_b64decode(token[3:])
    assert cipher.decrypt(token, "users.phone") == "13812345678"
    assert cipher.encrypt("13812345678", "users.phone") != token  # fresh nonce each time
    with pytest.raises(ValueError):
        cipher.decrypt(token, "parties.phone")  # bound to its column
    with pytest.raises(ValueError):
        PiiCipher(os.urandom(32), os.urandom(32)).decrypt(token, "users.phone")


def test_lookup_hash_is_keyed_and_stable() -> None:
    key = derive_key("pii-lookup-hmac", "secret-a")
    a = PiiCipher(os.urandom(32), key)
    b = PiiCipher(os.urandom(32), key)
    c = PiiCipher(os.urandom(32), derive_key("pii-lookup-hmac", "secret-b"))
    assert a.lookup_hash("13812345678", "users.phone") == b.lookup_hash("13812345678", "users.phone")
    assert a.lookup_hash("13812345678", "users.phone") != c.lookup_hash("13812345678", "users.phone")
    assert derive_key("x", "s") != derive_key("y", "s")
