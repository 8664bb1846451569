"""Personal data (DESIGN.md rule 8): validate, encrypt at rest, look up by keyed hash, mask.

Domain-free: any module that stores phone numbers, resident ID numbers (GB 11643-1999) or
unified social credit codes (GB 32100-2015) uses these helpers. Keys come from Settings:
``pii_key`` (base64, 32 bytes) when set, otherwise derived from ``secret_key`` with HKDF;
each purpose (encryption, lookup hash, token hash) gets its own derived key so that one
leaked value does not open the others.
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
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from civicgrid.config import get_settings
from civicgrid.kit.errors import Invalid

CIPHER_PREFIX = "v1."
_NONCE_BYTES = 12

# ---------------------------------------------------------------- keys


def derive_key(purpose: str, secret: str | None = None) -> bytes:
    """A 32-byte key for one purpose, derived from the secret key (HKDF-SHA256)."""
    material = (secret if secret is not None else get_settings().secret_key).encode()
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"civicgrid", info=purpose.encode())
    return kdf.derive(material)


def keyed_hash(value: str, key: bytes) -> str:
    """HMAC-SHA256 as hex: stable for equal inputs, useless without the key (no rainbow tables
    over the 10^10 possible phone numbers)."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


class PiiCipher:
    """AES-256-GCM for personal data at rest; ``context`` (e.g. ``"users.phone"``) is bound as
    associated data, so a ciphertext copied into another column does not decrypt."""

    def __init__(self, key: bytes, lookup_key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("PII key must be 32 bytes (AES-256)")
        self._aead = AESGCM(key)
        self._lookup_key = lookup_key

    def encrypt(self, plain: str, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plain.encode(), context.encode())
        return CIPHER_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, context: str) -> str:
        if not token.startswith(CIPHER_PREFIX):
            raise ValueError("unknown ciphertext format")
        raw = base64.urlsafe_b64decode(token[len(CIPHER_PREFIX):])
        try:
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode()).decode()
        except InvalidTag as exc:
            raise ValueError("ciphertext does not decrypt with this key and context") from exc

    def lookup_hash(self, normalized: str, context: str) -> str:
        """The keyed hash stored beside the ciphertext for equality lookups."""
        return keyed_hash(f"{context}:{normalized}", self._lookup_key)


@lru_cache(maxsize=4)
def _cipher(pii_key: str, secret_key: str) -> PiiCipher:
    key = base64.b64decode(pii_key) if pii_key else derive_key("pii-aes-gcm", secret_key)
    return PiiCipher(key, derive_key("pii-lookup-hmac", secret_key))


def get_cipher() -> PiiCipher:
    """The cipher for the configured keys."""
    settings = get_settings()
    return _cipher(settings.pii_key, settings.secret_key)


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
