"""Audit API: browse the chain within one's jurisdiction, and verify it."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query

from civicgrid.audit import repository
from civicgrid.audit.schemas import AuditEntryRead, AuditPage, VerifyRead
from civicgrid.audit.service import verify
from civicgrid.authz.dependencies import require
from civicgrid.authz.principal import Principal
from civicgrid.db import DbSession
from civicgrid.kit.pagination import Offset

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


def _decode(text: str | None) -> Any:
    return json.loads(text) if text else None


@router.get("", response_model=AuditPage)
def list_audit(session: DbSession, action: str | None = None, entity_type: str | None = None, actor: str | None = None,
               limit: int = Query(50, ge=1, le=500), offset: Offset = 0,
               principal: Principal = Depends(require("audit.read"))) -> AuditPage:
    """审计日志 — the audit chain, newest first, within the caller's jurisdiction."""
    rows, total = repository.list_entries(session, principal, action=action, entity_type=entity_type,
                                          actor=actor, limit=limit, offset=offset)
    items = [AuditEntryRead.model_validate(row).model_copy(
        update={"before": _decode(row.before), "after": _decode(row.after)}) for row in rows]
    return AuditPage(items=items, total=total)


@router.get("/verify", response_model=VerifyRead)
def verify_chain(session: DbSession, principal: Principal = Depends(require("audit.verify"))) -> VerifyRead:
    """校验审计链 — recompute the whole chain (the same check as `civicgrid audit verify`)."""
    result = verify(session.connection())
    return VerifyRead(ok=result.ok, checked=result.checked, broken_seq=result.broken_seq, reason=result.reason)
