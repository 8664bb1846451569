"""Administration of API clients (``/api/v1/api-clients``): register (the key shown once), list,
revoke, rotate. Every route needs ``apiclients.manage`` and sees the clients inside the caller's
jurisdiction only (404 outside)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from civicgrid.apiclients import service
from civicgrid.apiclients.models import ApiClient
from civicgrid.apiclients.schemas import (
    ApiClientCreate,
    ApiClientKey,
    ApiClientRead,
    RecordKindRead,
    SystemKindRead,
)
from civicgrid.authz.dependencies import require
from civicgrid.authz.principal import Principal
from civicgrid.db import DbSession
from civicgrid.kit.i18n import pick

router = APIRouter(prefix="/api/v1/api-clients", tags=["apiclients"])
MANAGE = "apiclients.manage"


def to_read(client: ApiClient) -> ApiClientRead:
    """The administrator's view of a client (never the key or its hash)."""
    kind = service.system_kinds().get(client.system_kind)
    return ApiClientRead(
        id=client.id,
        name=client.name,
        contact=client.contact,
        system_kind=client.system_kind,
        system_kind_name=pick(kind.name_zh, kind.name_en) if kind else client.system_kind,
        org_unit_id=client.org_unit_id,
        division_code=client.division_code,
        record_kinds=service.kinds_of(client),
        key_prefix=client.key_prefix,
        active=client.active,
        created_at=client.created_at,
        created_by=client.created_by,
        revoked_at=client.revoked_at,
        rotated_at=client.rotated_at,
        last_used_at=client.last_used_at,
    )


@router.get(
    "/kinds",
    response_model=dict[str, list[SystemKindRead] | list[RecordKindRead]],
    summary="Kinds of systems and records / 外部系统与记录类型",
)
def kinds(principal: Principal = Depends(require(MANAGE))) -> dict[str, list[SystemKindRead] | list[RecordKindRead]]:
    """The kinds of external systems and the record kinds a client may be allowed to send."""
    return {
        "system_kinds": [
            SystemKindRead(code=k.code, name_zh=k.name_zh, name_en=k.name_en) for k in service.system_kinds().values()
        ],
        "record_kinds": [
            RecordKindRead(code=k.code, name_zh=k.name_zh, name_en=k.name_en) for k in service.record_kinds().values()
        ],
    }


@router.post("", status_code=201, response_model=ApiClientKey, summary="Register an API client / 登记接入方")
def create_client(
    body: ApiClientCreate, session: DbSession, principal: Principal = Depends(require(MANAGE))
) -> ApiClientKey:
    """Register a client acting as an org unit the caller may see; the key is shown this once."""
    client, raw = service.create_client(
        session,
        name=body.name,
        system_kind=body.system_kind,
        record_kinds=body.record_kinds,
        org_unit_id=body.org_unit_id,
        contact=body.contact,
        created_by=principal.username,
        principal=principal,
    )
    return ApiClientKey(**to_read(client).model_dump(), api_key=raw)


@router.get("", response_model=list[ApiClientRead], summary="API clients / 接入方列表")
def list_clients(session: DbSession, principal: Principal = Depends(require(MANAGE))) -> list[ApiClientRead]:
    """The clients registered inside the caller's jurisdiction (Open311 applications included)."""
    return [to_read(c) for c in service.list_clients(session, principal)]


@router.post("/{client_id}/revoke", response_model=ApiClientRead, summary="Revoke a client's key / 吊销接入方")
def revoke_client(client_id: str, session: DbSession, principal: Principal = Depends(require(MANAGE))) -> ApiClientRead:
    """Revoke at once; 404 outside the caller's jurisdiction."""
    return to_read(service.revoke_client(session, client_id, principal=principal))


@router.post("/{client_id}/rotate", response_model=ApiClientKey, summary="Rotate a client's key / 更换接入方密钥")
def rotate_key(client_id: str, session: DbSession, principal: Principal = Depends(require(MANAGE))) -> ApiClientKey:
    """A new key, shown this once; the old one stops working at once."""
    client, raw = service.rotate_key(session, client_id, principal=principal)
    return ApiClientKey(**to_read(client).model_dump(), api_key=raw)
