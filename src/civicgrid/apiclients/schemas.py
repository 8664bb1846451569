"""Bodies of the API client administration and of batch answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class SystemKindRead(BaseModel):
    code: str
    name_zh: str
    name_en: str


class RecordKindRead(BaseModel):
    code: str
    name_zh: str
    name_en: str


class ApiClientCreate(BaseModel):
    """A client to register: its name, its kind of system, the unit it acts as, what it may send."""

    name: str = Field(min_length=1, max_length=100)
    system_kind: str = Field(min_length=1, max_length=32)
    org_unit_id: str = Field(min_length=1, max_length=32)
    record_kinds: list[str] = Field(min_length=1, max_length=20)
    contact: str = Field(default="", max_length=200)


class ApiClientRead(BaseModel):
    """A registered client; the key is never shown again, only its first characters."""

    id: str
    name: str
    contact: str
    system_kind: str
    system_kind_name: str
    org_unit_id: str | None
    division_code: str
    record_kinds: list[str]
    key_prefix: str
    active: bool
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    rotated_at: datetime | None
    last_used_at: datetime | None


class ApiClientKey(ApiClientRead):
    """The answer to a registration or a rotation: the key, shown this once."""

    api_key: str


class BatchItemResult(BaseModel):
    """One item of a batch: ``accepted``, ``duplicate`` (the first result) or ``refused`` (why)."""

    sender_id: str
    outcome: str
    result_type: str | None = None
    result_id: str | None = None
    status: int
    code: str | None = None
    message: str | None = None


class BatchAnswer(BaseModel):
    """One result per item, in the order sent, and the counts."""

    accepted: int
    duplicate: int
    refused: int
    items: list[BatchItemResult]

    @classmethod
    def of(cls, results: Sequence[Any]) -> BatchAnswer:
        """From :class:`civicgrid.apiclients.service.ItemResult` rows."""
        items = [
            BatchItemResult(
                sender_id=r.sender_id,
                outcome=r.outcome,
                result_type=r.result_type,
                result_id=r.result_id,
                status=r.status,
                code=r.code,
                message=r.message,
            )
            for r in results
        ]
        return cls(
            accepted=sum(i.outcome == "accepted" for i in items),
            duplicate=sum(i.outcome == "duplicate" for i in items),
            refused=sum(i.outcome == "refused" for i in items),
            items=items,
        )
