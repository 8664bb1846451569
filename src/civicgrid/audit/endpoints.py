"""Audit API: browse the chain within one's jurisdiction, verify it, download its anchors."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.background import BackgroundTask

from civicgrid.audit import repository
from civicgrid.audit.schemas import AuditEntryRead, AuditPage, VerifyRead
from civicgrid.audit.service import audit_export, verify
from civicgrid.authz.dependencies import require
from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import CITY_PREFIX_LEN
from civicgrid.db import DbSession
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import AppError
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
    return VerifyRead(ok=result.ok, checked=result.checked, broken_seq=result.broken_seq, reason=result.reason,
                      chain=None if result.ok else result.chain, chains=result.chains)


@router.get("/anchor", response_class=Response, responses={200: {"content": {"application/x-ndjson": {}}}})
def download_anchor(request: Request, session: DbSession, every: int = Query(1000, ge=1, le=1_000_000),
                    principal: Principal = Depends(require("audit.read"))) -> Response:
    """审计链锚点 — each chain's head and every n-th entry (chain, seq, hash, time) as JSON lines,
    for the audit administrator to keep off the server (`civicgrid audit anchor` writes the same).
    The chains are verified first: a broken chain is not anchored (409). Every chain (city and
    counties) is anchored at once, a city-level task: an auditor of a smaller jurisdiction gets 404."""
    if len(principal.jurisdiction) > CITY_PREFIX_LEN:
        raise AppError("未找到", "Not found", status=404, code="not_found")
    result = verify(session.connection(), checkpoint_every=every)
    if not result.ok:
        raise AppError(f"审计链 {result.chain} 在第 {result.broken_seq} 条处断裂，不能导出锚点",
                       f"The audit chain is broken at {result.where()}: no anchor", status=409,
                       code="audit_chain_broken", details={"chain": result.chain, "broken_seq": result.broken_seq})
    body = "".join(anchor.to_json() + "\n" for anchor in result.anchors())
    name = f"audit-anchor-{utcnow():%Y%m%dT%H%M%SZ}.jsonl"
    head = {h.chain: h.seq for h in result.heads}
    return Response(body, media_type="application/x-ndjson",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'},
                    background=BackgroundTask(audit_export, request.app.state.engine, principal, "audit.anchor",
                                              {"heads": head, "every": every}))
