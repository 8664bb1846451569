"""What other modules send to the inbox, worded once: the matters closed loop's notices.

Called from the transitions that cause them (``matters/workflow.py``), in their transaction.
Takes the record duck-typed (id, number, title, division_code, grid_code), so the inbox imports
no other domain.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from civicgrid.inbox import service
from civicgrid.inbox.models import Kind

HANDLE = "matters.handle"


def holders(session: Session, permission: str, division_codes: set[str]) -> list[Any]:
    """The active users whose own code is one of ``division_codes`` and whose role grants
    ``permission`` (a grid's worker, a unit's officers): whom a notice would reach."""
    return service.holders(session, permission, division_codes)


class MatterLike(Protocol):
    id: str
    number: str
    title: str
    division_code: str
    grid_code: str
    step_due_at: datetime | None


def _due(value: datetime | None) -> tuple[str, str]:
    if value is None:
        return "", ""
    from civicgrid.kit.clock import CHINA_TZ

    local = value.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
    return f"办理期限：{local}", f"Due: {local} (Asia/Shanghai)"


def matter_dispatched(session: Session, matter: MatterLike, actor_id: str | None) -> list[Any]:
    """派单: the handlers of the owning unit and the grid worker of the matter's grid (holders of
    ``matters.handle`` whose own code is the owner's or the grid's), except whoever dispatched
    it. An order: it waits for 确认收到."""
    due_zh, due_en = _due(matter.step_due_at)
    return service.send_to_holders(
        session, permission=HANDLE, division_codes={matter.division_code, matter.grid_code},
        exclude={actor_id} if actor_id else set(), kind=Kind.ORDER,
        title=(f"派单：{matter.number} {matter.title}", f"Dispatched to you: {matter.number} {matter.title}"),
        body=(due_zh, due_en), link=("matter", matter.id), division_code=matter.division_code,
        needs_ack=True, sender_id=actor_id)


def supervision_ordered(session: Session, matter: MatterLike, note: str | None, due_at: datetime,
                        actor_id: str | None) -> list[Any]:
    """督办: the handlers of the owning unit get an order that waits for 确认收到."""
    due_zh, due_en = _due(due_at)
    return service.send_to_holders(
        session, permission=HANDLE, division_codes={matter.division_code},
        exclude={actor_id} if actor_id else set(), kind=Kind.ORDER,
        title=(f"督办：{matter.number} {matter.title}", f"Supervision order: {matter.number} {matter.title}"),
        body=(f"{note or ''}\n答复{due_zh}".strip(), f"{note or ''}\nAnswer by {due_en.removeprefix('Due: ')}".strip()),
        link=("matter", matter.id), division_code=matter.division_code, needs_ack=True, sender_id=actor_id)


def matter_to_verify(session: Session, matter: MatterLike, recipients: list[str], *, on_site: bool,
                     actor_id: str | None) -> list[Any]:
    """核查: the matter's default verifier (the grid's worker on site, else the owning unit's
    officers) is told that it was handled and waits for verification."""
    how_zh, how_en = ("请到现场核查并拍照", "Verify it on site, with a photo") if on_site else (
        "请核查办理结果", "Verify the result")
    return service.send(session, recipients=recipients, kind=Kind.ORDER,
                        title=(f"待核查：{matter.number} {matter.title}", f"To verify: {matter.number} {matter.title}"),
                        body=(how_zh, how_en), link=("matter", matter.id), division_code=matter.division_code,
                        needs_ack=False, sender_id=actor_id)
