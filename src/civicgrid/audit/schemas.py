"""What the audit API returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEntryRead(BaseModel):
    """One link of the chain as an auditor sees it."""

    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str | None
    division_code: str | None
    ip: str | None
    before: Any = None
    after: Any = None
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEntryRead]
    total: int


class VerifyRead(BaseModel):
    ok: bool
    checked: int
    broken_seq: int | None
    reason: str
    chain: str | None = None  # the chain of the first bad entry (a county's 6-digit code, or city)
    chains: int = 0
