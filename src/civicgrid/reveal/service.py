"""Reveal personal data in clear: the one path by which a clear value leaves the platform.

Lists, details and exports serialise personal data masked (:mod:`civicgrid.kit.personal`). A
reveal is one deliberate call, for one field of one record, by a holder of ``pii.reveal``, with
a stated purpose; it answers 404 for a record outside the caller's jurisdiction and writes one
``pii.reveal`` audit entry naming the entity, the field and the purpose (never the value).
Printing a record's document (事项登记表, a mediation agreement) shows several fields in clear,
so it is a reveal too: :func:`print_document` audits it the same way, once, and renders the
page with the viewer's watermark (:mod:`civicgrid.kit.printing`).

Each domain registers what may be revealed of its records (:func:`register`): the entity's
name, its scoped loader (the domain service's own ``get``, which raises 404 outside the
jurisdiction) and the fields.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from civicgrid.audit.service import record
from civicgrid.authz.principal import Principal
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import Invalid, NotFound, PermissionDenied
from civicgrid.kit.printing import Document, render, watermark_text

PERMISSION = "pii.reveal"
PURPOSE_MAX = 200


@dataclass(frozen=True)
class Revealable:
    """What may be revealed of one kind of record. ``load(session, principal, id)`` is the
    domain's scoped loader (404 outside the caller's jurisdiction); ``entity_type`` is the name
    the audit chain uses for the record (its table)."""

    entity: str
    entity_type: str
    load: Callable[[Session, Principal, str], Any]
    fields: frozenset[str]


_REGISTRY: dict[str, Revealable] = {}


def register(revealable: Revealable) -> None:
    """Declare what may be revealed of a kind of record (each domain service, at import)."""
    _REGISTRY[revealable.entity] = revealable


def registered() -> dict[str, Revealable]:
    """Every registered kind of record (tests and docs)."""
    return dict(_REGISTRY)


def _checked(principal: Principal, entity: str, fields: Sequence[str], purpose: str) -> tuple[Revealable, str]:
    if not principal.can(PERMISSION):
        raise PermissionDenied(PERMISSION)
    revealable = _REGISTRY.get(entity)
    if revealable is None:
        raise NotFound("记录", "record")
    unknown = [f for f in fields if f not in revealable.fields]
    if unknown or not fields:
        raise Invalid(f"不能查看的字段：{', '.join(unknown)}", f"Field cannot be revealed: {', '.join(unknown)}",
                      details={"field": "field"})
    stated = " ".join(purpose.split())
    if not stated:
        raise Invalid("请填写查看明文的事由", "State the purpose of revealing personal data",
                      details={"field": "purpose"})
    if len(stated) > PURPOSE_MAX:
        raise Invalid(f"事由过长（上限 {PURPOSE_MAX} 字）", f"Purpose too long (at most {PURPOSE_MAX} characters)",
                      details={"field": "purpose"})
    return revealable, stated


def _audit(session: Session, revealable: Revealable, row: Any, entity_id: str, after: dict[str, Any]) -> None:
    # The entry names who (the session's actor) saw which field of which record and why, never the value.
    code = getattr(row, "division_code", None)
    record(session, "pii.reveal", revealable.entity_type, entity_id,
           division_code=code if isinstance(code, str) else None, after=after)


def reveal(session: Session, principal: Principal, entity: str, entity_id: str, field: str,
           purpose: str) -> str | None:
    """The clear value of one field of one record, audited. 403 without ``pii.reveal``; 404 for a
    record that is missing or outside the caller's jurisdiction; 422 for a field that cannot be
    revealed or an empty purpose."""
    revealable, stated = _checked(principal, entity, [field], purpose)
    row = revealable.load(session, principal, entity_id)
    value = getattr(row, field)
    _audit(session, revealable, row, entity_id,
           {"field": field, "purpose": stated, "present": value is not None})
    return value


def print_document(session: Session, principal: Principal, entity: str, entity_id: str, fields: Sequence[str],
                   purpose: str, build: Callable[[Any, dict[str, str | None]], Document]) -> tuple[str, Document]:
    """A printable page of one record showing ``fields`` in clear, and the document it shows:
    checked and audited as one reveal (one entry naming the fields, the purpose and the
    document), built by ``build(row, clear_values)`` and rendered under the viewer's watermark
    (name, username, time)."""
    revealable, stated = _checked(principal, entity, list(fields), purpose)
    row = revealable.load(session, principal, entity_id)
    values = {f: getattr(row, f) for f in fields}
    document = build(row, values)
    _audit(session, revealable, row, entity_id,
           {"fields": list(fields), "purpose": stated, "document": document.title, "print": True})
    return render(document, watermark_text(principal.display_name, principal.username, utcnow())), document
