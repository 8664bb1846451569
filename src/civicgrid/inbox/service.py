"""The inbox's rules: send in the causing transaction, push after commit, read and acknowledge,
re-push and raise what is not acknowledged.

    inbox.service.send(session, recipients=[user_id], kind=Kind.ORDER, title=("督办：…", "Supervision: …"),
                       link=("matter", matter.id), division_code=matter.division_code, needs_ack=True)

``send`` writes one row per recipient in the caller's transaction (a rollback sends nothing)
and hands each to the configured delivery channels (:mod:`civicgrid.inbox.channels`), which
only act after the commit. An item that needs acknowledgement arms two durable timers:
``inbox:<id>:repush`` (``CIVICGRID_INBOX_REPUSH_SECONDS`` after sending, default 15 s: pushed
again, 催办重推) and ``inbox:<id>:raise`` (``CIVICGRID_INBOX_RAISE_SECONDS`` after sending,
default 60 s: an item to the recipient's supervisors, 上报主管, and an ``inbox.raise`` audit
entry). Acknowledging (确认收到) cancels both.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from civicgrid.audit.service import record
from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import jurisdiction_prefix
from civicgrid.config import get_settings
from civicgrid.inbox import channels, repository
from civicgrid.inbox.models import Escalation, InboxItem, Kind
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import Invalid, NotFound
from civicgrid.people import service as people
from civicgrid.people.models import User
from civicgrid.timers import service as timers
from civicgrid.timers.models import Timer

REPUSH_KIND = "inbox.repush"
RAISE_KIND = "inbox.raise"
SUPERVISE_PERMISSION = "inbox.supervise"
# Jurisdiction prefix lengths from the city down to the grid (DESIGN.md rule 6).
_LEVEL_LENGTHS = (2, 4, 6, 9, 12)

Text = tuple[str, str]


def repush_key(item_id: str) -> str:
    return f"inbox:{item_id}:repush"


def raise_key(item_id: str) -> str:
    return f"inbox:{item_id}:raise"


# ---------------------------------------------------------------- sending


def send(session: Session, *, recipients: Iterable[str], kind: Kind | str, title: Text, body: Text = ("", ""),
         link: tuple[str, str] | None = None, division_code: str | None = None, needs_ack: bool = False,
         sender_id: str | None = None, source_item_id: str | None = None,
         known_users: Mapping[str, User] | None = None) -> list[InboxItem]:
    """Write one item per active recipient (duplicates and unknown or inactive users are skipped)
    in the caller's transaction, arm the acknowledgement timers, and queue the pushes for after
    the commit. Returns the items written.

    ``known_users``: the active users among the recipients, read by the caller with
    :func:`active_users` (a caller sending several messages reads them once); without it they
    are read here."""
    kind = Kind(kind)
    if not title[0] or not title[1]:
        raise ValueError("an inbox item needs a title in Chinese and in English")
    wanted = set(recipients)
    if known_users is None:
        users = repository.active_users(session, wanted)
    else:
        users = sorted((known_users[u] for u in wanted if u in known_users), key=lambda user: user.id)
    now = utcnow()
    items = [InboxItem(recipient_id=user.id, recipient_division_code=user.division_code, kind=kind.value,
                       title_zh=title[0][:200], title_en=title[1][:200], body_zh=body[0], body_en=body[1],
                       link_type=link[0] if link else None, link_id=link[1] if link else None,
                       division_code=division_code, needs_ack=needs_ack, sender_id=sender_id,
                       source_item_id=source_item_id, escalation=Escalation.NONE.value, repushes=0,
                       created_at=now) for user in users]
    if not items:
        return []
    repository.add(session, items)
    settings = get_settings()
    by_id = {user.id: user for user in users}
    for item in items:
        if item.needs_ack:
            common: dict[str, Any] = {"ref_type": "inbox_item", "ref_id": item.id,
                                      "division_code": item.division_code}
            timers.arm(session, kind=REPUSH_KIND, key=repush_key(item.id),
                       due_at=now + timedelta(seconds=settings.inbox_repush_seconds), **common)
            timers.arm(session, kind=RAISE_KIND, key=raise_key(item.id),
                       due_at=now + timedelta(seconds=settings.inbox_raise_seconds), **common)
        _push(session, item, by_id[item.recipient_id], "inbox.item")
    return items


def active_users(session: Session, user_ids: Collection[str]) -> dict[str, User]:
    """The active users among ``user_ids``, by id (for :func:`send`'s ``known_users``)."""
    return {user.id: user for user in repository.active_users(session, set(user_ids))}


def send_to_holders(session: Session, *, permission: str, division_codes: Collection[str],
                    exclude: Collection[str] = (), **message: Any) -> list[InboxItem]:
    """:func:`send` to the active users whose own code is one of ``division_codes`` and whose
    role grants ``permission`` (a unit's handlers, a grid's grid worker), except ``exclude``
    (the user who caused it)."""
    holders = repository.users_holding(session, permission, division_codes)
    return send(session, recipients=[u.id for u in holders if u.id not in set(exclude)], **message)


def holders(session: Session, permission: str, division_codes: Collection[str]) -> list[User]:
    """The active users whose own code is one of ``division_codes`` and whose role grants ``permission``."""
    return repository.users_holding(session, permission, division_codes)


def summary(item: InboxItem) -> dict[str, Any]:
    """What a push carries: enough for the bell to show the item without a round trip."""
    return {"id": item.id, "kind": item.kind, "title_zh": item.title_zh, "title_en": item.title_en,
            "link_type": item.link_type, "link_id": item.link_id, "division_code": item.division_code,
            "needs_ack": item.needs_ack, "repushes": item.repushes, "escalation": item.escalation,
            "created_at": item.created_at.isoformat()}


def _push(session: Session, item: InboxItem, user: User | None, event: str) -> None:
    delivery = channels.Delivery(event=event, recipient_id=item.recipient_id, data=summary(item),
                                 title_zh=item.title_zh,
                                 masked_phone=people.masked_phone(user) if user is not None else None)
    for channel in channels.configured(get_settings().inbox_channels):
        channel.deliver(session, delivery)


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class Page:
    items: list[InboxItem]
    cursor: str | None
    unread: int
    pending_ack: int


MAX_LIMIT = 200


def _valid_cursor(cursor: str) -> str:
    if len(cursor) != 32 or any(c not in "0123456789abcdef" for c in cursor):
        raise Invalid("since：游标格式不正确", "since: malformed cursor", details={"field": "since"})
    return cursor


def list_items(session: Session, principal: Principal, *, since: str | None = None, unread: bool | None = None,
               kind: str | None = None, pending_ack: bool = False, offset: int = 0, limit: int = 50) -> Page:
    """My items. With ``since`` (a cursor from an earlier answer, or an item id): what arrived
    after it, oldest first, and the new cursor — what a reconnecting client missed. Without it:
    unread first, then newest first; the cursor is my newest item's id (whatever the filters)."""
    limit = max(1, min(limit, MAX_LIMIT))
    cursor: str | None
    if since is not None:
        items = repository.since(session, principal.user_id, _valid_cursor(since), limit)
        cursor = items[-1].id if items else since
    else:
        items = repository.list_for(session, principal.user_id, unread=unread, kind=kind, pending_ack=pending_ack,
                                    offset=offset, limit=limit)
        cursor = repository.newest_id(session, principal.user_id)
    unread_count, pending = repository.counts(session, principal.user_id)
    return Page(items=items, cursor=cursor, unread=unread_count, pending_ack=pending)


def counts(session: Session, principal: Principal) -> tuple[int, int]:
    """(unread, acknowledgement pending) of the caller."""
    return repository.counts(session, principal.user_id)


def get_item(session: Session, principal: Principal, item_id: str) -> InboxItem:
    """One of my items; 404 for anyone else's (no existence leak)."""
    item = repository.get_for(session, principal.user_id, item_id)
    if item is None:
        raise NotFound("消息", "inbox item")
    return item


def mark_read(session: Session, principal: Principal, item_id: str) -> InboxItem:
    """Mark one of my items read (idempotent: the first read time stays)."""
    item = get_item(session, principal, item_id)
    if item.read_at is None:
        item.read_at = utcnow()
        session.flush()
    return item


def mark_all_read(session: Session, principal: Principal) -> int:
    """Mark every unread item of mine read (row by row, so each lands in the audit chain)."""
    now = utcnow()
    items = repository.list_for(session, principal.user_id, unread=True, kind=None, pending_ack=False,
                                offset=0, limit=1000)
    for item in items:
        item.read_at = now
    session.flush()
    return len(items)


def acknowledge(session: Session, principal: Principal, item_id: str) -> InboxItem:
    """确认收到: only the recipient; reads the item too and cancels its re-push and raise timers.
    Acknowledging again changes nothing."""
    item = get_item(session, principal, item_id)
    if not item.needs_ack:
        raise Invalid("此消息无需确认收到", "This item does not need acknowledgement", code="no_ack_needed")
    if item.acknowledged_at is None:
        now = utcnow()
        item.acknowledged_at = now
        item.read_at = item.read_at or now
        item.escalation = Escalation.ACKNOWLEDGED.value
        session.flush()
        timers.cancel(session, repush_key(item.id))
        timers.cancel(session, raise_key(item.id))
    return item


# ---------------------------------------------------------------- supervisors


def _ancestor_codes(code: str) -> list[str]:
    """The 12-digit codes of the units above a division or grid code, nearest first."""
    own = jurisdiction_prefix(code)
    return [own[:length].ljust(12, "0") for length in reversed(_LEVEL_LENGTHS) if length < len(own)]


def supervisors(session: Session, item: InboxItem) -> list[User]:
    """Who an unacknowledged item is raised to: the active users of the nearest unit above the
    recipient (village above a grid, township above a village, …, up to the province) whose
    role grants ``inbox.supervise``; the recipient is never their own supervisor.

    The one place that defines "supervisor": an org unit's head (org units are being added)
    slots in here, before the walk up the division tree."""
    for code in _ancestor_codes(item.recipient_division_code):
        found = [u for u in repository.users_holding(session, SUPERVISE_PERMISSION, [code])
                 if u.id != item.recipient_id]
        if found:
            return found
    return []


# ---------------------------------------------------------------- timer handlers


def _waiting(item: InboxItem | None) -> bool:
    return item is not None and item.needs_ack and item.acknowledged_at is None


@timers.handler(REPUSH_KIND)
def on_repush(session: Session, timer: Timer) -> None:
    """催办重推: push an unacknowledged item again (idempotent per timer: the count says how often)."""
    item = repository.get_unscoped(session, timer.ref_id)
    if not _waiting(item) or item is None:
        return
    item.repushes += 1
    if item.escalation == Escalation.NONE.value:
        item.escalation = Escalation.REPUSHED.value
    session.flush()
    users = repository.active_users(session, [item.recipient_id])
    _push(session, item, users[0] if users else None, "inbox.repush")


@timers.handler(RAISE_KIND)
def on_raise(session: Session, timer: Timer) -> None:
    """上报主管: tell the recipient's supervisors that an item was not acknowledged in time, once."""
    item = repository.get_unscoped(session, timer.ref_id)
    if not _waiting(item) or item is None or item.escalation == Escalation.RAISED.value:
        return
    found = supervisors(session, item)
    item.escalation = Escalation.RAISED.value
    item.raised_at = utcnow()
    session.flush()
    recipient = repository.active_users(session, [item.recipient_id])
    name = recipient[0].display_name if recipient else item.recipient_id
    seconds = get_settings().inbox_raise_seconds
    sent = send(session, recipients=[u.id for u in found], kind=Kind.ESCALATION,
                title=(f"未确认收到：{item.title_zh}", f"Not acknowledged: {item.title_en}"),
                body=(f"{name} 在 {seconds} 秒内未确认收到此消息。",
                      f"{name} did not acknowledge this within {seconds} s."),
                link=(item.link_type, item.link_id) if item.link_type and item.link_id else None,
                division_code=item.division_code, source_item_id=item.id)
    record(session, "inbox.raise", "inbox_items", item.id, division_code=item.division_code,
           after={"recipient_id": item.recipient_id, "supervisors": [u.id for u in found],
                  "items": [s.id for s in sent]})
