"""Rules of the 12345 hotline interface: its tickets become matters through the intake (channel
``hotline``), keeping the ticket number (``external_ref``, unique for ``hotline_12345``) and the
request type; a unit may return a misrouted ticket (``return_to_hotline``, an outbox event the
hotline reads back); the hotline reports its return visit (``return_visit``). The hotline is a
platform API client (:mod:`civicgrid.apiclients`): batches are idempotent by ticket number or visit
id. Every function flushes, never commits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from civicgrid.apiclients import service as apiclients
from civicgrid.apiclients.models import ApiClient
from civicgrid.authz.principal import Principal
from civicgrid.kit.errors import Conflict, Invalid, NotFound
from civicgrid.kit.i18n import pick
from civicgrid.matters import repository
from civicgrid.matters import service as matters
from civicgrid.matters.hotline import repository as hotline_repository
from civicgrid.matters.hotline.schemas import (
    ExtendedPage,
    ExtendedRead,
    HandedBackPage,
    HandedBackRead,
    ReturnVisitIn,
    TicketIn,
    TicketRead,
)
from civicgrid.matters.models import REQUEST_TYPES, Channel, Matter
from civicgrid.matters.schemas import MatterCreate
from civicgrid.matters.workflow import HOTLINE

TICKET = apiclients.register_record_kind("hotline_ticket", "12345 热线工单", "12345 hotline ticket", ["matters.report"])
RETURN_VISIT = apiclients.register_record_kind(
    "hotline_return_visit", "12345 热线回访", "12345 hotline return visit", ["matters.return_visit"]
)
_BY_NAME = {zh: code for code, (zh, _en) in REQUEST_TYPES.items()}


def _invalid(exc: ValidationError) -> Invalid:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or "-"
    return Invalid(f"{field}：{first.get('msg', '')}", f"{field}: {first.get('msg', '')}", details={"field": field})


def request_type_code(value: str) -> str:
    """A request type by code or by its Chinese name (咨询 → consultation); 422 otherwise."""
    clean = value.strip()
    code = _BY_NAME.get(clean, clean.lower())
    if code not in REQUEST_TYPES:
        raise Invalid(
            "request_type 应为 咨询/求助/投诉/举报/建议",
            "request_type must be consultation, help, complaint, report or suggestion",
            details={"field": "request_type"},
        )
    return code


def file_ticket(session: Session, principal: Principal, payload: Mapping[str, Any]) -> apiclients.Applied:
    """One ticket becomes a matter (channel ``hotline``), keeping its number and request type. A
    number another ticket already holds → 409; a bad field, an unknown type or a place outside the
    city → 422 naming the field."""
    try:
        ticket = TicketIn.model_validate(dict(payload))
    except ValidationError as exc:
        raise _invalid(exc) from None
    kind = request_type_code(ticket.request_type)
    ref = ticket.ticket_number.strip()
    if repository.external_ref_taken(session, HOTLINE, ref):
        raise Conflict(f"工单 {ref} 已登记为另一事项", f"Ticket {ref} is already recorded as another matter")
    try:
        data = MatterCreate(
            type_code=ticket.type_code,
            title=ticket.title,
            description=ticket.description,
            lng=ticket.lng,
            lat=ticket.lat,
            address=ticket.address,
            channel=Channel.HOTLINE.value,
            reporter_name=ticket.caller_name,
            reporter_phone=ticket.caller_phone,
        )
    except ValidationError as exc:
        raise _invalid(exc) from None
    matter, _ = matters.report(
        session, principal, data, columns={"external_system": HOTLINE, "external_ref": ref, "request_type": kind}
    )
    return apiclients.Applied("matter", matter.id)


def receive_tickets(
    session: Session, client: ApiClient, principal: Principal, tickets: list[dict[str, Any]], lang: str | None
) -> list[apiclients.ItemResult]:
    """A batch of tickets, idempotent by ticket number (see :func:`apiclients.service.run_batch`)."""
    items = [(str(t.get("ticket_number") or ""), t) for t in tickets]
    return apiclients.run_batch(
        session, client, TICKET.code, items, lambda s, payload: file_ticket(s, principal, payload), lang
    )


def _ticket(session: Session, principal: Principal, ticket_number: str, *, for_update: bool = False) -> Matter:
    matter = repository.by_external_ref(session, HOTLINE, ticket_number.strip(), principal, for_update=for_update)
    if matter is None:
        raise NotFound("工单", "ticket")
    return matter


def read_ticket(session: Session, principal: Principal, ticket_number: str, lang: str | None) -> TicketRead:
    """A ticket the client filed or that lies in its scope; 404 otherwise (also for another
    system's record of the same number)."""
    matter = _ticket(session, principal, ticket_number)
    names = REQUEST_TYPES.get(matter.request_type or "")
    return TicketRead(
        ticket_number=matter.external_ref or "",
        matter_id=matter.id,
        number=matter.number,
        request_type=matter.request_type,
        request_type_name=pick(*names, lang) if names else None,
        status=matter.status,
        division_code=matter.division_code,
        reported_at=matter.reported_at,
        status_changed_at=matter.status_changed_at,
        closed_at=matter.closed_at,
        result=matter.result,
        satisfaction=matter.satisfaction,
    )


def record_visit(session: Session, principal: Principal, payload: Mapping[str, Any]) -> apiclients.Applied:
    """The caller's satisfaction from the hotline's return visit: the ``return_visit`` transition
    (closed → evaluated) on a ticket this client filed — or, when the caller could not be reached,
    ``return_visit_unreached`` (closed stays closed, not rated: nobody fills it in); 404 for an
    unknown ticket, 409 when the ticket is not closed (or was visited already)."""
    try:
        visit = ReturnVisitIn.model_validate(dict(payload))
    except ValidationError as exc:
        raise _invalid(exc) from None
    matter = _ticket(session, principal, visit.ticket_number)
    if not visit.reached:  # 未评价: on the timeline, the matter stays closed and unrated
        matters.act(session, principal, matter.id, "return_visit_unreached",
                    note=visit.note or "回访未联系上来电人，记为未评价 / the caller could not be reached: not rated")
    else:
        matters.act(session, principal, matter.id, "return_visit", note=visit.note, satisfaction=visit.satisfaction)
    return apiclients.Applied("matter", matter.id)


def receive_visits(
    session: Session, client: ApiClient, principal: Principal, visits: list[dict[str, Any]], lang: str | None
) -> list[apiclients.ItemResult]:
    """A batch of return visits, idempotent by the hotline's visit id."""
    items = [(str(v.get("visit_id") or ""), v) for v in visits]
    return apiclients.run_batch(
        session, client, RETURN_VISIT.code, items, lambda s, payload: record_visit(s, principal, payload), lang
    )


def returns(session: Session, client: ApiClient, after: str | None, limit: int) -> HandedBackPage:
    """The tickets units returned to the hotline (退回热线), oldest first after the cursor."""
    rows = hotline_repository.handed_back(session, client.id, after, limit)
    items = []
    for event in rows:
        data = json.loads(event.payload)
        items.append(
            HandedBackRead(
                id=event.id,
                ticket_number=data["external_ref"],
                matter_id=data["matter_id"],
                number=data["number"],
                reason=data["reason"],
                handed_back_at=data["handed_back_at"],
            )
        )
    return HandedBackPage(items=items, next_after=rows[-1].id if rows else after)


def extensions(session: Session, client: ApiClient, after: str | None, limit: int) -> ExtendedPage:
    """延期告知: the tickets whose time limit was extended, oldest first after the cursor."""
    rows = hotline_repository.handed_back(session, client.id, after, limit, name="matters.extended")
    items = []
    for event in rows:
        data = json.loads(event.payload)
        items.append(ExtendedRead(id=event.id, ticket_number=data["external_ref"], matter_id=data["matter_id"],
                                  number=data["number"], days=data["days"], step_due_at=data["step_due_at"],
                                  reason=data["reason"], extended_at=data["extended_at"]))
    return ExtendedPage(items=items, next_after=rows[-1].id if rows else after)
