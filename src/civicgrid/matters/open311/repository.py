"""Every query of the Open311 interface. Client lists take the administrator's jurisdiction
prefix; request lists take the client's (DESIGN.md rule 5: ``authz.scoping.scope_clause``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from civicgrid.authz.scoping import scope_clause
from civicgrid.matters.models import Matter, MatterType
from civicgrid.matters.open311.models import Open311Client, Open311Request

# ---------------------------------------------------------------- clients


def client_by_key_hash(session: Session, key_hash: str) -> Open311Client | None:
    return session.scalar(select(Open311Client).where(Open311Client.key_hash == key_hash))


def get_client(session: Session, client_id: str, prefix: str | None) -> Open311Client | None:
    """A client under ``prefix`` (``None``: any, for the command line, which acts as the system)."""
    query = select(Open311Client).where(Open311Client.id == client_id)
    if prefix is not None:
        query = query.where(scope_clause(Open311Client.division_code, prefix))
    return session.scalar(query)


def list_clients(session: Session, prefix: str | None) -> Sequence[Open311Client]:
    query = select(Open311Client)
    if prefix is not None:
        query = query.where(scope_clause(Open311Client.division_code, prefix))
    return session.scalars(query.order_by(Open311Client.created_at, Open311Client.id)).all()


# ---------------------------------------------------------------- requests


def request_by_token(session: Session, client_id: str, token: str) -> Open311Request | None:
    return session.scalar(select(Open311Request).where(Open311Request.client_id == client_id,
                                                       Open311Request.token == token))


def request_by_matter(session: Session, matter_id: str) -> Open311Request | None:
    return session.scalar(select(Open311Request).where(Open311Request.matter_id == matter_id))


def list_requests(session: Session, prefix: str, client_id: str, *, ids: Collection[str] | None = None,
                  service_codes: Collection[str] | None = None, start: datetime | None = None,
                  end: datetime | None = None, statuses: Collection[str] | None = None,
                  limit: int = 1000) -> list[tuple[Matter, Open311Request]]:
    """Matters filed through Open311 whose place lies under ``prefix`` or that the client
    ``client_id`` filed (elsewhere in the city: it reads those back as their public view), newest
    first."""
    query = (select(Matter, Open311Request).join(Open311Request, Open311Request.matter_id == Matter.id)
             .where(or_(scope_clause(Open311Request.grid_code, prefix), Open311Request.client_id == client_id)))
    if ids is not None:
        query = query.where(Matter.id.in_(list(ids)))
    if service_codes is not None:
        query = query.where(Matter.type_code.in_(list(service_codes)))
    if start is not None:
        query = query.where(Matter.reported_at >= start)
    if end is not None:
        query = query.where(Matter.reported_at <= end)
    if statuses is not None:
        query = query.where(Matter.status.in_(list(statuses)))
    query = query.order_by(Matter.reported_at.desc(), Matter.id).limit(limit)
    return [(matter, link) for matter, link in session.execute(query).all()]


def types_by_id(session: Session, type_ids: Collection[str]) -> dict[str, MatterType]:
    if not type_ids:
        return {}
    rows = session.scalars(select(MatterType).where(MatterType.id.in_(list(type_ids))))
    return {t.id: t for t in rows}
