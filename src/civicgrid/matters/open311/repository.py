"""Every query of the Open311 interface: requests take the client's principal
(``apiclients.service.client_principal``) and apply ``authz.scoping.visible`` (DESIGN.md rule 5).
The clients are platform API clients (``civicgrid.apiclients.repository``)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from civicgrid.apiclients.models import ApiClient
from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import unscoped, visible
from civicgrid.matters.models import Matter, MatterType
from civicgrid.matters.open311.models import Open311Request

# ---------------------------------------------------------------- requests


def request_by_token(session: Session, client_id: str, token: str, principal: Principal) -> Open311Request | None:
    return session.scalar(select(Open311Request).where(Open311Request.client_id == client_id,
                                                       Open311Request.token == token,
                                                       visible(Open311Request.grid_code, principal)))


def request_by_matter(session: Session, matter_id: str, principal: Principal) -> Open311Request | None:
    return session.scalar(select(Open311Request).where(Open311Request.matter_id == matter_id,
                                                       visible(Open311Request.grid_code, principal)))


def list_requests(session: Session, principal: Principal, client_id: str, *, ids: Collection[str] | None = None,
                  service_codes: Collection[str] | None = None, start: datetime | None = None,
                  end: datetime | None = None, statuses: Collection[str] | None = None,
                  limit: int = 1000) -> list[tuple[Matter, Open311Request]]:
    """Matters filed through Open311 whose place ``principal`` may see or that the client
    ``client_id`` filed (elsewhere in the city: it reads those back as their public view), newest
    first."""
    query = (select(Matter, Open311Request).join(Open311Request, Open311Request.matter_id == Matter.id)
             .where(or_(visible(Open311Request.grid_code, principal), Open311Request.client_id == client_id)))
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


def filing_client(session: Session, matter_id: str) -> ApiClient | None:
    """The Open311 client that filed the matter (a resident's rating link: the key's HMAC names it)."""
    return session.scalar(select(ApiClient).join(Open311Request, Open311Request.client_id == ApiClient.id)
                          .where(Open311Request.matter_id == matter_id,
                                 unscoped("a resident's rating link: the key's HMAC names the matter")))
