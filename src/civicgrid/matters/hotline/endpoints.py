"""Routes of the 12345 hotline (``/api/v1/hotline``), called by the hotline's system as a platform
API client (key in the ``X-API-Key`` header; docs/api/clients.md). Batches answer 200 with one
result per item: accepted, duplicate (the first result) or refused (why)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from civicgrid.apiclients.dependencies import ClientCaller, require_client
from civicgrid.apiclients.schemas import BatchAnswer
from civicgrid.db import DbSession
from civicgrid.matters.hotline import service
from civicgrid.matters.hotline.schemas import ExtendedPage, HandedBackPage, ReturnVisitBatch, TicketBatch, TicketRead

router = APIRouter(prefix="/api/v1/hotline", tags=["hotline"])


def _lang(request: Request) -> str | None:
    return getattr(request.state, "lang", None)


@router.post("/tickets", response_model=BatchAnswer, summary="Send hotline tickets / 报送 12345 工单")
def send_tickets(
    body: TicketBatch,
    request: Request,
    session: DbSession,
    caller: Annotated[ClientCaller, Depends(require_client(service.TICKET.code))],
) -> BatchAnswer:
    """Each ticket becomes a matter (channel hotline) keeping its number and request type; a
    ticket number sent before answers the first matter."""
    return BatchAnswer.of(
        service.receive_tickets(session, caller.client, caller.principal, body.tickets, _lang(request))
    )


@router.get("/tickets", response_model=TicketRead, summary="Read back a ticket / 查询工单办理情况")
def read_ticket(
    request: Request,
    session: DbSession,
    caller: Annotated[ClientCaller, Depends(require_client(service.TICKET.code))],
    ticket_number: str = Query(min_length=1, max_length=64),
) -> TicketRead:
    """Where a ticket stands; 404 for a ticket outside the client's scope that it did not file."""
    return service.read_ticket(session, caller.principal, ticket_number, _lang(request))


@router.get("/returns", response_model=HandedBackPage, summary="Tickets returned to the hotline / 退回热线的工单")
def returns(
    session: DbSession,
    caller: Annotated[ClientCaller, Depends(require_client(service.TICKET.code))],
    after: str | None = Query(default=None, max_length=32),
    limit: int = Query(default=100, ge=1, le=500),
) -> HandedBackPage:
    """The tickets units returned (退回热线) since the cursor ``after``, oldest first."""
    return service.returns(session, caller.client, after, limit)


@router.get("/extensions", response_model=ExtendedPage, summary="Tickets whose time limit was extended / 延期告知")
def extensions(
    session: DbSession,
    caller: Annotated[ClientCaller, Depends(require_client(service.TICKET.code))],
    after: str | None = Query(default=None, max_length=32),
    limit: int = Query(default=100, ge=1, le=500),
) -> ExtendedPage:
    """The tickets whose handling time the level above extended since the cursor ``after``,
    oldest first: the hotline tells each caller the new date."""
    return service.extensions(session, caller.client, after, limit)


@router.post("/return-visits", response_model=BatchAnswer, summary="Send return visits / 报送回访结果")
def send_visits(
    body: ReturnVisitBatch,
    request: Request,
    session: DbSession,
    caller: Annotated[ClientCaller, Depends(require_client(service.RETURN_VISIT.code))],
) -> BatchAnswer:
    """The caller's satisfaction with each closed ticket (回访), idempotent by visit id."""
    return BatchAnswer.of(service.receive_visits(session, caller.client, caller.principal, body.visits, _lang(request)))
