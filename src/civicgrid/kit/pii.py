"""Personal data (DESIGN.md rule 8): validate, encrypt at rest, look up by keyed hash, mask.

Domain-free: validation and masking of phone numbers, resident ID numbers (GB 11643-1999),
names and addresses of people, unified social credit codes (GB 32100-2015), and the cipher
behind :class:`civicgrid.kit.personal.Personal` (the column type every personal-data column
uses: no module encrypts, decrypts or masks by hand). Keys come from Settings: ``pii_key``
(base64, 32 bytes) when set, otherwise derived from ``secret_key`` with HKDF; each purpose
(encryption, lookup hash, token hash) gets its own derived key so that one leaked value does
not open the others. ``pii_cipher`` picks AES-256-GCM (default) or SM4-GCM with HMAC-SM3.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from datetime import date
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from civicgrid.config import get_settings
from civicgrid.kit.errors import Invalid

CIPHERS = ("aes-gcm", "sm4-gcm")
"""The algorithms a ciphertext may name; ``CIVICGRID_PII_CIPHER`` picks the one new values use."""
LEGACY_PREFIX = "v1."  # AES-256-GCM values written before the prefix named the algorithm
_NONCE_BYTES = 12

# ---------------------------------------------------------------- keys


def derive_key(purpose: str, secret: str | None = None, *, length: int = 32, sm3: bool = False) -> bytes:
    """A key for one purpose, derived from the secret key (HKDF-SHA256, or HKDF-SM3 for the
    commercial-cryptography keys)."""
    material = (secret if secret is not None else get_settings().secret_key).encode()
    return _hkdf(material, purpose, length, sm3)


def _hkdf(material: bytes, purpose: str, length: int, sm3: bool) -> bytes:
    algorithm: hashes.HashAlgorithm = hashes.SM3() if sm3 else hashes.SHA256()
    return HKDF(algorithm=algorithm, length=length, salt=b"civicgrid", info=purpose.encode()).derive(material)


def keyed_hash(value: str, key: bytes) -> str:
    """HMAC-SHA256 as hex: stable for equal inputs, useless without the key (no rainbow tables
    over the 10^10 possible phone numbers)."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def sm3_keyed_hash(value: str, key: bytes) -> str:
    """HMAC-SM3 (GB/T 32905-2016) as hex, 64 characters like HMAC-SHA256."""
    mac = crypto_hmac.HMAC(key, hashes.SM3())
    mac.update(value.encode())
    return mac.finalize().hex()


def sm4_gcm_seal(key: bytes, nonce: bytes, plain: bytes, associated: bytes) -> bytes:
    """SM4-GCM (GB/T 32907-2016 in GCM mode, RFC 8998): ciphertext followed by the 16-byte tag."""
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(associated)
    sealed = encryptor.update(plain) + encryptor.finalize()
    return sealed + encryptor.tag


def sm4_gcm_open(key: bytes, nonce: bytes, sealed: bytes, associated: bytes) -> bytes:
    """The plaintext of :func:`sm4_gcm_seal`'s output; :class:`InvalidTag` when it does not verify."""
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, sealed[-16:])).decryptor()
    decryptor.authenticate_additional_data(associated)
    return decryptor.update(sealed[:-16]) + decryptor.finalize()


class PiiCipher:
    """Personal data at rest: AES-256-GCM, or SM4-GCM with an HMAC-SM3 lookup hash (GB/T
    39786-2021, for the commercial-cryptography assessment). ``context`` (e.g.
    ``"users.phone"``) is bound as associated data, so a ciphertext copied into another column
    does not decrypt. Every ciphertext starts with the name of its algorithm (``aes-gcm.`` or
    ``sm4-gcm.``; ``v1.`` is the AES format of before), so values written under either setting
    keep decrypting after a switch."""

    def __init__(self, key: bytes, lookup_key: bytes, *, algorithm: str = "aes-gcm",
                 sm4_key: bytes | None = None, sm3_lookup_key: bytes | None = None) -> None:
        if len(key) != 32:
            raise ValueError("PII key must be 32 bytes (AES-256)")
        if algorithm not in CIPHERS:
            raise ValueError(f"unknown PII cipher {algorithm!r} (one of {', '.join(CIPHERS)})")
        self.algorithm = algorithm
        self._aead = AESGCM(key)
        self._sm4_key = sm4_key if sm4_key is not None else _hkdf(key, "pii-sm4-gcm", 16, True)
        if len(self._sm4_key) != 16:
            raise ValueError("SM4 key must be 16 bytes")
        self._lookup_key = lookup_key
        self._sm3_lookup_key = sm3_lookup_key if sm3_lookup_key is not None else _hkdf(
            lookup_key, "pii-lookup-hmac-sm3", 32, True)

    def encrypt(self, plain: str, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        if self.algorithm == "sm4-gcm":
            sealed = sm4_gcm_seal(self._sm4_key, nonce, plain.encode(), context.encode())
        else:
            sealed = self._aead.encrypt(nonce, plain.encode(), context.encode())
        return f"{self.algorithm}." + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, context: str) -> str:
        algorithm, _, body = token.partition(".")
        if algorithm == "v1":
            algorithm = "aes-gcm"
        if algorithm not in CIPHERS or not body:
            raise ValueError("unknown ciphertext format")
        raw = base64.urlsafe_b64decode(body)
        nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        try:
            if algorithm == "sm4-gcm":
                return sm4_gcm_open(self._sm4_key, nonce, sealed, context.encode()).decode()
            return self._aead.decrypt(nonce, sealed, context.encode()).decode()
        except InvalidTag as exc:
            raise ValueError("ciphertext does not decrypt with this key and context") from exc

    def lookup_hash(self, normalized: str, context: str) -> str:
        """The keyed hash stored beside the ciphertext for equality lookups (HMAC-SHA256, or
        HMAC-SM3 under ``sm4-gcm``)."""
        if self.algorithm == "sm4-gcm":
            return sm3_keyed_hash(f"{context}:{normalized}", self._sm3_lookup_key)
        return keyed_hash(f"{context}:{normalized}", self._lookup_key)

    def lookup_hashes(self, normalized: str, context: str) -> tuple[str, ...]:
        """Every hash a stored equal value may carry (both algorithms), for a search that still
        finds rows written before a switch of ``CIVICGRID_PII_CIPHER``."""
        return (keyed_hash(f"{context}:{normalized}", self._lookup_key),
                sm3_keyed_hash(f"{context}:{normalized}", self._sm3_lookup_key))


@lru_cache(maxsize=8)
def _cipher(pii_key: str, secret_key: str, algorithm: str) -> PiiCipher:
    key = base64.b64decode(pii_key) if pii_key else derive_key("pii-aes-gcm", secret_key)
    sm4_key = _hkdf(base64.b64decode(pii_key), "pii-sm4-gcm", 16, True) if pii_key else derive_key(
        "pii-sm4-gcm", secret_key, length=16, sm3=True)
    return PiiCipher(key, derive_key("pii-lookup-hmac", secret_key), algorithm=algorithm, sm4_key=sm4_key,
                     sm3_lookup_key=derive_key("pii-lookup-hmac-sm3", secret_key, sm3=True))


def get_cipher() -> PiiCipher:
    """The cipher for the configured keys and algorithm (``CIVICGRID_PII_CIPHER``)."""
    settings = get_settings()
    return _cipher(settings.pii_key, settings.secret_key, settings.pii_cipher)


# ---------------------------------------------------------------- phone numbers

_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def normalize_phone(raw: str) -> str:
    """A mainland mobile number as 11 digits (spaces, dashes and a +86 prefix removed).

    Raises :class:`Invalid` (422) for anything else.
    """
    digits = re.sub(r"[\s\-()]", "", raw)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if not _MOBILE.match(digits):
        raise Invalid("手机号码格式不正确（应为 11 位中国大陆手机号）",
                      "Phone number is not a valid 11-digit mainland China mobile number",
                      details={"field": "phone"})
    return digits


def mask_phone(phone: str) -> str:
    """138****5678: the first three and the last four digits."""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


# ---------------------------------------------------------------- names and addresses of people


def mask_name(name: str) -> str:
    """李**: the first character (the surname, mostly) and a star for every other one. Keeps the
    length, so masking a masked value changes nothing."""
    return name[:1] + "*" * (len(name) - 1) if len(name) > 1 else "*" * len(name)


def mask_address(address: str) -> str:
    """湖南省永州市**********: at most the first six characters (province, city, county) out of
    at least the first half masked; keeps the length (masking twice changes nothing)."""
    keep = min(6, len(address) // 2)
    return address[:keep] + "*" * (len(address) - keep)


# ---------------------------------------------------------------- resident ID (GB 11643-1999)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")


def resident_id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("need exactly 17 digits")
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def is_valid_resident_id(value: str) -> bool:
    """Shape, birth date and check character of an 18-character resident ID number."""
    value = value.strip().upper()
    if not _ID_SHAPE.match(value):
        return False
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return resident_id_check_char(value[:17]) == value[17]


def validate_resident_id(value: str) -> str:
    """The normalized (upper-case X) resident ID number, or :class:`Invalid` (422)."""
    normalized = value.strip().upper()
    if not is_valid_resident_id(normalized):
        raise Invalid("公民身份号码不正确（GB 11643 校验失败）",
                      "Resident ID number is invalid (GB 11643 check failed)", details={"field": "id_number"})
    return normalized


def mask_resident_id(value: str) -> str:
    """430103********123X: the address code and the last four characters."""
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


# ---------------------------------------------------------------- USCC (GB 32100-2015)

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_USCC_VALUE = {ch: i for i, ch in enumerate(USCC_ALPHABET)}


def uscc_check_char(first17: str) -> str:
    """The check character of a unified social credit code (weights 3^i mod 31)."""
    if len(first17) != 17 or any(ch not in _USCC_VALUE for ch in first17):
        raise ValueError("need exactly 17 USCC characters")
    total = sum(_USCC_VALUE[ch] * w for ch, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(value: str) -> bool:
    """Alphabet, length, 6-digit division code and check character of an 18-character USCC."""
    value = value.strip().upper()
    if len(value) != 18 or any(ch not in _USCC_VALUE for ch in value) or not value[2:8].isdigit():
        return False
    return uscc_check_char(value[:17]) == value[17]


def validate_uscc(value: str) -> str:
    """The normalized USCC, or :class:`Invalid` (422)."""
    normalized = value.strip().upper()
    if not is_valid_uscc(normalized):
        raise Invalid("统一社会信用代码不正确（GB 32100 校验失败）",
                      "Unified social credit code is invalid (GB 32100 check failed)",
                      details={"field": "uscc"})
    return normalized
