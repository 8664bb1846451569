"""Personal data as a type (DESIGN.md rule 8): one column type, one set of masked response types.

:class:`Personal` is the SQLAlchemy type of every column that holds a person's phone number,
resident ID number, name or address. It encrypts on bind and decrypts on result (the cipher of
:mod:`civicgrid.kit.pii`, AES-256-GCM or SM4-GCM by ``CIVICGRID_PII_CIPHER``), binding the
column's context (``"matters.reporter_phone"``) as associated data, so code above the models
only ever sees clear values and the database only ever holds ciphertext. Core and driver
statements (:mod:`civicgrid.kit.statements`) apply the same bind processor, so the intake's fast
path encrypts exactly as the unit of work does. Equality search goes through a keyed-hash
column beside it (:func:`lookup_hash`, :func:`lookup_hashes`); the audit chain never records a
``Personal`` column's value.

The ``Masked*`` types are what response schemas declare for such a field: whatever value a
schema is given, it serialises masked (138****5678, 431102********123X, 李**, 湖南省永州市****),
so no list, detail or export can leak the clear value by accident. A clear value leaves the
platform only through the audited reveal (:mod:`civicgrid.reveal`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import PlainSerializer
from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from civicgrid.kit.pii import get_cipher, mask_address, mask_name, mask_phone, mask_resident_id

Kind = Literal["phone", "id_number", "name", "address"]

MASKS: dict[str, Callable[[str], str]] = {
    "phone": mask_phone, "id_number": mask_resident_id, "name": mask_name, "address": mask_address,
}


class Personal(TypeDecorator[str]):
    """A person's phone, ID number, name or address: ciphertext in the database, clear in Python.

    ``context`` names the column (``"<table>.<column>"``; it is the associated data, so keep it
    when a column is renamed); ``kind`` says how the value is masked; ``length`` bounds the
    stored ciphertext (None: unbounded text)."""

    impl = String
    cache_ok = True

    def __init__(self, context: str, kind: Kind, length: int | None = None) -> None:
        super().__init__(length)
        self.context = context
        self.kind = kind
        self.length = length

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return get_cipher().encrypt(str(value), self.context)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return get_cipher().decrypt(value, self.context)

    def mask(self, value: str | None) -> str | None:
        """The value as lists show it."""
        return None if value is None else MASKS[self.kind](value)


def lookup_hash(normalized: str, context: str) -> str:
    """The keyed hash to store beside a :class:`Personal` value (same ``context``) for equality
    lookups; HMAC-SHA256, or HMAC-SM3 under ``sm4-gcm``."""
    return get_cipher().lookup_hash(normalized, context)


def lookup_hashes(normalized: str, context: str) -> tuple[str, ...]:
    """Every hash an equal stored value may carry: search with ``IN`` so rows written before a
    switch of ``CIVICGRID_PII_CIPHER`` are still found."""
    return get_cipher().lookup_hashes(normalized, context)


def is_personal(column_type: Any) -> bool:
    """Whether a column's type is :class:`Personal` (the audit chain redacts those)."""
    return isinstance(column_type, Personal)


def _masker(kind: Kind) -> Callable[[str | None], str | None]:
    mask = MASKS[kind]

    def serialise(value: str | None) -> str | None:
        return None if value is None else mask(value)

    return serialise


# Every mask keeps the value's length and decides what to show from the length alone, so masking
# a masked value changes nothing (FastAPI serialises a returned model, validates that, and
# serialises again).
MaskedPhone = Annotated[str | None, PlainSerializer(_masker("phone"), return_type=str | None, when_used="always")]
MaskedIdNumber = Annotated[str | None, PlainSerializer(_masker("id_number"), return_type=str | None,
                                                       when_used="always")]
MaskedName = Annotated[str | None, PlainSerializer(_masker("name"), return_type=str | None, when_used="always")]
MaskedAddress = Annotated[str | None, PlainSerializer(_masker("address"), return_type=str | None,
                                                      when_used="always")]
