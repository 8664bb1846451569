"""Queries of the hotline interface: the matters handed back to the hotline that filed them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.authz.scoping import unscoped
from civicgrid.events.models import DomainEvent
from civicgrid.matters.models import Matter


def handed_back(session: Session, client_id: str, after: str | None, limit: int,
                name: str = "matters.handed_back") -> list[DomainEvent]:
    """``name`` events (``matters.handed_back``, ``matters.extended``) of the tickets
    ``client_id`` filed, after the event id ``after`` (ids are time-ordered), oldest first."""
    query = (
        select(DomainEvent)
        .join(Matter, Matter.id == DomainEvent.entity_id)
        .where(
            DomainEvent.name == name,
            DomainEvent.entity_type == "matter",
            Matter.reporter_id == client_id,
            unscoped("a client reads back the returns of the tickets it filed, wherever they were routed"),
        )
    )
    if after:
        query = query.where(DomainEvent.id > after)
    return list(session.scalars(query.order_by(DomainEvent.id).limit(limit)))
