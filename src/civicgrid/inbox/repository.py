"""Every query of the inbox.

An inbox is one user's own mailbox, not a table of places: every read is filtered by the
recipient (``recipient_id = principal.user_id``), which is stricter than any jurisdiction —
another user's item answers 404 even to a city-wide account. The recipient and supervisor
look-ups read the accounts tables (active users by id, or by division and permission).
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.orm import Session, lazyload

from civicgrid.authz.scoping import unscoped
from civicgrid.inbox.models import InboxItem
from civicgrid.people.models import RolePermission, User


def add(session: Session, items: list[InboxItem]) -> None:
    session.add_all(items)
    session.flush()


def get_for(session: Session, recipient_id: str, item_id: str) -> InboxItem | None:
    """The item if it is this recipient's (else None: the caller answers 404)."""
    return session.scalar(select(InboxItem).where(InboxItem.id == item_id, InboxItem.recipient_id == recipient_id))


def get_unscoped(session: Session, item_id: str) -> InboxItem | None:
    """An item by id for the timer handlers (no principal: the system acts)."""
    return session.get(InboxItem, item_id)


def list_for(session: Session, recipient_id: str, *, unread: bool | None, kind: str | None,
             pending_ack: bool, offset: int, limit: int) -> list[InboxItem]:
    """Unread first, then newest first."""
    query = select(InboxItem).where(InboxItem.recipient_id == recipient_id)
    if unread is True:
        query = query.where(InboxItem.read_at.is_(None))
    elif unread is False:
        query = query.where(InboxItem.read_at.is_not(None))
    if kind:
        query = query.where(InboxItem.kind == kind)
    if pending_ack:
        query = query.where(InboxItem.needs_ack.is_(True), InboxItem.acknowledged_at.is_(None))
    unread_first = InboxItem.read_at.is_not(None)  # False (unread) sorts before True
    return list(session.scalars(query.order_by(unread_first, InboxItem.id.desc()).offset(offset).limit(limit)))


def since(session: Session, recipient_id: str, cursor: str, limit: int) -> list[InboxItem]:
    """Items created after ``cursor`` (an item id), oldest first."""
    query = (select(InboxItem).where(InboxItem.recipient_id == recipient_id, InboxItem.id > cursor)
             .order_by(InboxItem.id).limit(limit))
    return list(session.scalars(query))


def newest_id(session: Session, recipient_id: str) -> str | None:
    return session.scalar(select(func.max(InboxItem.id)).where(InboxItem.recipient_id == recipient_id))


def counts(session: Session, recipient_id: str) -> tuple[int, int]:
    """(unread, acknowledgement pending) of one recipient."""
    row = session.execute(
        select(func.count().filter(InboxItem.read_at.is_(None)),
               func.count().filter(InboxItem.needs_ack.is_(True), InboxItem.acknowledged_at.is_(None)))
        .where(InboxItem.recipient_id == recipient_id)).one()
    return int(row[0] or 0), int(row[1] or 0)


_RECIPIENTS = "finding who an item must reach: the sender's unit may not see its recipients' accounts"


def active_users(session: Session, user_ids: Collection[str]) -> list[User]:
    if not user_ids:
        return []
    # The role (joined, and its permissions read by a second statement) is left unloaded: a
    # message needs the recipient's id, code and phone, and loads the role only if it asks for it.
    return list(session.scalars(select(User).where(User.id.in_(list(user_ids)), User.is_active.is_(True),
                                                   unscoped(_RECIPIENTS)).order_by(User.id)
                                .options(lazyload(User.role))))


def users_holding(session: Session, permission: str, division_codes: Collection[str]) -> list[User]:
    """Active users whose own division (or grid) code is one of ``division_codes`` and whose role
    grants ``permission``."""
    if not division_codes:
        return []
    holders = select(RolePermission.role_code).where(RolePermission.permission.in_([permission, "*"]))
    return list(session.scalars(select(User).where(User.division_code.in_(list(division_codes)),
                                                   User.is_active.is_(True), User.role_code.in_(holders),
                                                   unscoped(_RECIPIENTS))
                                .order_by(User.id)))
