"""Every query of the API client registry. Administrators' reads are scoped by the client's
division (``authz.scoping.visible``); authentication by key and the operator's command line act
for the system; receipts are read for the client that sent them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.apiclients.models import ApiClient, ApiReceipt
from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import unscoped, visible

_OPERATOR = "the operator's command line acts for the system"


def client_by_key_hash(session: Session, key_hash: str) -> ApiClient | None:
    return session.scalar(
        select(ApiClient).where(ApiClient.key_hash == key_hash, unscoped("authentication: the key names its client"))
    )


def get_client(
    session: Session, client_id: str, principal: Principal, *, system_kind: str | None = None
) -> ApiClient | None:
    """A client registered for a division ``principal`` may see (of ``system_kind``, if given)."""
    query = select(ApiClient).where(ApiClient.id == client_id, visible(ApiClient.division_code, principal))
    if system_kind is not None:
        query = query.where(ApiClient.system_kind == system_kind)
    return session.scalar(query)


def client_for_operator(session: Session, client_id: str, *, system_kind: str | None = None) -> ApiClient | None:
    query = select(ApiClient).where(ApiClient.id == client_id, unscoped(_OPERATOR))
    if system_kind is not None:
        query = query.where(ApiClient.system_kind == system_kind)
    return session.scalar(query)


def list_clients(session: Session, principal: Principal, *, system_kind: str | None = None) -> Sequence[ApiClient]:
    query = select(ApiClient).where(visible(ApiClient.division_code, principal))
    if system_kind is not None:
        query = query.where(ApiClient.system_kind == system_kind)
    return session.scalars(query.order_by(ApiClient.created_at, ApiClient.id)).all()


def all_clients(session: Session, *, system_kind: str | None = None) -> Sequence[ApiClient]:
    query = select(ApiClient).where(unscoped(_OPERATOR))
    if system_kind is not None:
        query = query.where(ApiClient.system_kind == system_kind)
    return session.scalars(query.order_by(ApiClient.created_at, ApiClient.id)).all()


def receipt(session: Session, client_id: str, kind: str, sender_id: str) -> ApiReceipt | None:
    """The receipt of a record the client sent under ``sender_id`` (the client's own rows)."""
    return session.scalar(
        select(ApiReceipt).where(
            ApiReceipt.client_id == client_id,
            ApiReceipt.kind == kind,
            ApiReceipt.sender_id == sender_id,
            unscoped("idempotency: a client reads back its own receipts, whatever their division"),
        )
    )


def add(session: Session, row: ApiClient | ApiReceipt) -> None:
    session.add(row)
    session.flush()
