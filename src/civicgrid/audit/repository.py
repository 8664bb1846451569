"""Every query on the audit log (scoped by jurisdiction)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from civicgrid.audit.models import AuditEntry
from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import CITY_PREFIX_LEN, scope_clause


def _scope(principal: Principal) -> ColumnElement[bool]:
    """Entries of records inside the jurisdiction; entries tied to no division (logins, denials)
    only for a city-wide (or wider) auditor."""
    clause = scope_clause(AuditEntry.division_code, principal.jurisdiction)
    if len(principal.jurisdiction) <= CITY_PREFIX_LEN:
        return or_(clause, AuditEntry.division_code.is_(None))
    return clause


def _filtered(stmt: Select[Any], principal: Principal, *,
              action: str | None, entity_type: str | None, actor: str | None) -> Select[Any]:
    stmt = stmt.where(_scope(principal))
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if entity_type:
        stmt = stmt.where(AuditEntry.entity_type == entity_type)
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    return stmt


def list_entries(session: Session, principal: Principal, *, action: str | None = None,
                 entity_type: str | None = None, actor: str | None = None, limit: int = 50,
                 offset: int = 0) -> tuple[Sequence[AuditEntry], int]:
    """Newest first, with the total count for paging."""
    filters = {"action": action, "entity_type": entity_type, "actor": actor}
    rows = session.scalars(_filtered(select(AuditEntry), principal, **filters)
                           .order_by(AuditEntry.seq.desc()).limit(limit).offset(offset)).all()
    total = session.scalar(_filtered(select(func.count()).select_from(AuditEntry), principal, **filters)) or 0
    return rows, int(total)
