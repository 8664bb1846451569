"""Routes of the inbox: my items (unread first, or since a cursor), counts, read, acknowledge."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from civicgrid.authz.dependencies import require
from civicgrid.authz.principal import Principal
from civicgrid.db import DbSession
from civicgrid.inbox import service
from civicgrid.inbox.models import InboxItem
from civicgrid.inbox.schemas import InboxCounts, InboxItemRead, InboxPage, MarkedRead
from civicgrid.kit.i18n import pick
from civicgrid.kit.pagination import Offset

router = APIRouter(prefix="/api/v1/inbox", tags=["inbox"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in"}, 403: {"description": "Permission missing"},
    404: {"description": "No such item of yours"}, 422: {"description": "Invalid field"},
}
READ = "inbox.read"


def _read(item: InboxItem) -> InboxItemRead:
    return InboxItemRead(
        id=item.id, kind=item.kind, title=pick(item.title_zh, item.title_en), body=pick(item.body_zh, item.body_en),
        title_zh=item.title_zh, title_en=item.title_en, body_zh=item.body_zh, body_en=item.body_en,
        link_type=item.link_type, link_id=item.link_id, division_code=item.division_code,
        needs_ack=item.needs_ack, escalation=item.escalation, repushes=item.repushes,
        source_item_id=item.source_item_id, created_at=item.created_at, read_at=item.read_at,
        acknowledged_at=item.acknowledged_at)


@router.get("", response_model=InboxPage, responses=ERRORS)
def list_items(session: DbSession,
               since: Annotated[str | None, Query(description="A cursor: only items after it, oldest first")] = None,
               unread: Annotated[bool | None, Query(description="true: unread only; false: read only")] = None,
               kind: Annotated[str | None, Query(max_length=20)] = None,
               pending_ack: Annotated[bool, Query(description="Only items still waiting for 确认收到")] = False,
               offset: Offset = 0,
               limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = 50,
               principal: Principal = Depends(require(READ))) -> InboxPage:
    """My items: unread first, then newest; with ``since``, what arrived after that cursor."""
    page = service.list_items(session, principal, since=since, unread=unread, kind=kind, pending_ack=pending_ack,
                              offset=offset, limit=limit)
    return InboxPage(items=[_read(i) for i in page.items], cursor=page.cursor, unread=page.unread,
                     pending_ack=page.pending_ack)


@router.get("/count", response_model=InboxCounts, responses=ERRORS)
def count(session: DbSession, principal: Principal = Depends(require(READ))) -> InboxCounts:
    """How many of my items are unread, and how many still wait for 确认收到."""
    unread, pending = service.counts(session, principal)
    return InboxCounts(unread=unread, pending_ack=pending)


@router.post("/read-all", response_model=MarkedRead, responses=ERRORS)
def read_all(session: DbSession, principal: Principal = Depends(require(READ))) -> MarkedRead:
    """Mark every unread item of mine read."""
    return MarkedRead(marked=service.mark_all_read(session, principal))


@router.get("/{item_id}", response_model=InboxItemRead, responses=ERRORS)
def get_item(session: DbSession, item_id: str, principal: Principal = Depends(require(READ))) -> InboxItemRead:
    """One of my items (404 for anyone else's)."""
    return _read(service.get_item(session, principal, item_id))


@router.post("/{item_id}/read", response_model=InboxItemRead, responses=ERRORS)
def mark_read(session: DbSession, item_id: str, principal: Principal = Depends(require(READ))) -> InboxItemRead:
    """Mark one of my items read."""
    return _read(service.mark_read(session, principal, item_id))


@router.post("/{item_id}/ack", response_model=InboxItemRead, responses=ERRORS)
def acknowledge(session: DbSession, item_id: str, principal: Principal = Depends(require(READ))) -> InboxItemRead:
    """确认收到: only the recipient; stops the re-push and the raise to a supervisor."""
    return _read(service.acknowledge(session, principal, item_id))
