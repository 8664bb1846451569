"""Every query of the file store. A file is read through its owner's access rule when the owner's
domain registered one (a matter's photos are visible exactly when the matter is), otherwise
through :func:`civicgrid.authz.scoping.visible` on the file's own division code."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import visible
from civicgrid.files.models import StoredFile

OwnerIds = Callable[[Principal], Any]
"""An owner's access rule: the ids of the owner records a principal may see, as a subquery."""


def access(principal: Principal, rules: Mapping[str, OwnerIds]) -> ColumnElement[bool]:
    """The files ``principal`` may read: of an owner type with a rule, those whose owner the rule
    yields; of any other owner type, those whose division code is visible."""
    clauses = [
        and_(StoredFile.owner_type == owner_type, StoredFile.owner_id.in_(rule(principal)))
        for owner_type, rule in sorted(rules.items())
    ]
    default = visible(StoredFile.division_code, principal)
    if rules:
        default = and_(StoredFile.owner_type.not_in(sorted(rules)), default)
    return or_(default, *clauses)


def get(session: Session, file_id: str, principal: Principal, rules: Mapping[str, OwnerIds]) -> StoredFile | None:
    return session.scalar(select(StoredFile).where(StoredFile.id == file_id, access(principal, rules)))
