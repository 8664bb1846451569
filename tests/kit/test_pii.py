"""Personal-data helpers: GB 11643 and GB 32100 check digits, phones, AES-GCM, keyed hashes."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from civicgrid.kit.errors import Invalid
from civicgrid.kit.pii import (
    PiiCipher,
    derive_key,
    is_valid_resident_id,
    is_valid_uscc,
    keyed_hash,
    mask_address,
    mask_name,
    mask_phone,
    mask_resident_id,
    normalize_phone,
    resident_id_check_char,
    sm3_keyed_hash,
    sm4_gcm_open,
    sm4_gcm_seal,
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
    assert token.startswith("aes-gcm.") and "13812345678" not in token
    assert b"13812345678" not in base64.urlsafe_b64decode(token[len("aes-gcm."):])
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


# RFC 8998 (2021), Appendix A.1 "SM4-GCM Test Vectors".
RFC8998_KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
RFC8998_IV = bytes.fromhex("00001234567800000000ABCD")
RFC8998_AAD = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
RFC8998_PLAIN = bytes.fromhex("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
                              "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA")
RFC8998_CIPHER = bytes.fromhex("17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
                               "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D")
RFC8998_TAG = bytes.fromhex("83DE3541E4C2B58177E065A9BF7B62EC")


def test_sm4_gcm_matches_the_rfc_8998_vector() -> None:
    sealed = sm4_gcm_seal(RFC8998_KEY, RFC8998_IV, RFC8998_PLAIN, RFC8998_AAD)
    assert sealed == RFC8998_CIPHER + RFC8998_TAG
    assert sm4_gcm_open(RFC8998_KEY, RFC8998_IV, sealed, RFC8998_AAD) == RFC8998_PLAIN
    with pytest.raises(InvalidTag):
        sm4_gcm_open(RFC8998_KEY, RFC8998_IV, sealed, RFC8998_AAD[:-1])


def test_sm3_matches_the_standards_example() -> None:
    # SM3 of "abc": GB/T 32905-2016 Appendix A, example 1. HMAC-SM3 is RFC 2104 over that hash.
    digest = hashes.Hash(hashes.SM3())
    digest.update(b"abc")
    assert digest.finalize().hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert len(sm3_keyed_hash("13812345678", b"k" * 32)) == 64
    assert sm3_keyed_hash("13812345678", b"k" * 32) != keyed_hash("13812345678", b"k" * 32)


def test_sm4_gcm_round_trips_and_both_algorithms_decrypt_after_a_switch() -> None:
    key, lookup = os.urandom(32), os.urandom(32)
    aes = PiiCipher(key, lookup)
    sm4 = PiiCipher(key, lookup, algorithm="sm4-gcm")
    token = sm4.encrypt("湖南省永州市零陵区", "parties.address")
    assert token.startswith("sm4-gcm.") and sm4.decrypt(token, "parties.address") == "湖南省永州市零陵区"
    with pytest.raises(ValueError):
        sm4.decrypt(token, "parties.name")  # the context is bound as associated data
    # A switch of CIVICGRID_PII_CIPHER leaves every stored value readable, either way.
    assert aes.decrypt(token, "parties.address") == "湖南省永州市零陵区"
    assert sm4.decrypt(aes.encrypt("13812345678", "users.phone"), "users.phone") == "13812345678"
    # The values written before the prefix named the algorithm (v1. = AES-256-GCM).
    nonce = os.urandom(12)
    legacy = "v1." + base64.urlsafe_b64encode(nonce + AESGCM(key).encrypt(nonce, b"13812345678",
                                                                          b"users.phone")).decode()
    assert sm4.decrypt(legacy, "users.phone") == aes.decrypt(legacy, "users.phone") == "13812345678"
    with pytest.raises(ValueError):
        aes.decrypt("des." + token.partition(".")[2], "parties.address")
    # The lookup hash is HMAC-SM3 under sm4-gcm; a search tries both, so rows of before a switch match.
    assert sm4.lookup_hash("13812345678", "users.phone") != aes.lookup_hash("13812345678", "users.phone")
    assert set(sm4.lookup_hashes("13812345678", "users.phone")) == {
        aes.lookup_hash("13812345678", "users.phone"), sm4.lookup_hash("13812345678", "users.phone")}
    with pytest.raises(ValueError):
        PiiCipher(key, lookup, algorithm="des")


def test_masks_keep_the_length_and_are_idempotent() -> None:
    assert mask_name("李建国") == "李**" and mask_name("张三") == "张*" and mask_name("王") == "*"
    assert mask_address("湖南省永州市零陵区南津中路12号") == "湖南省永州市" + "*" * 10
    assert mask_address("南津中路") == "南津**"
    for mask, value in ((mask_phone, "13812345678"), (mask_name, "欧阳娜娜"), (mask_resident_id, "11010519491231002X"),
                        (mask_address, "湖南省永州市冷水滩区凤凰街道")):
        once = mask(value)
        assert once != value and len(once) == len(value) and mask(once) == once
