"""Delivery channels behind the inbox: how an item that is already written reaches a person.

The inbox row is the truth (written in the causing transaction, read and acknowledged over the
API); a channel only tells the person that it is there. Every channel queues its work for after
the commit, so a rolled-back transaction sends nothing.

* ``websocket`` — the realtime hub, channel ``user:<recipient id>`` (the console's bell);
* ``log`` — the stand-in for an SMS gateway or a vendor push service: it logs what it would
  send, with the phone number masked (``138****5678``), never in clear.

``CIVICGRID_INBOX_CHANNELS=websocket,log`` (the default) chooses them. An SMS gateway or a
vendor push service is another :class:`Channel` registered with :func:`register`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from civicgrid.db import after_commit

log = logging.getLogger("civicgrid.inbox")


@dataclass(frozen=True)
class Delivery:
    """One item on its way to its recipient: ``event`` is ``inbox.item`` (new) or
    ``inbox.repush`` (催办重推); ``data`` is the item's summary; ``masked_phone`` the recipient's
    phone as every reader sees it (None when the account has none)."""

    event: str
    recipient_id: str
    data: dict[str, Any]
    title_zh: str
    masked_phone: str | None


class Channel(Protocol):
    """A way to reach a person. ``deliver`` runs inside the causing transaction and must only
    queue its sending for after the commit (``db.after_commit`` or the realtime hub)."""

    name: str

    def deliver(self, session: Session, delivery: Delivery) -> None: ...


class WebSocketChannel:
    """The realtime hub's user channel. No division code: the message is the recipient's own,
    whatever place the linked record belongs to (a grid worker's item about a village matter)."""

    name = "websocket"

    def deliver(self, session: Session, delivery: Delivery) -> None:
        from civicgrid.realtime import hub

        hub.publish(session, channel=f"user:{delivery.recipient_id}", event=delivery.event,
                    data=delivery.data, division_code=None)


class LogChannel:
    """What an SMS gateway would send, logged (the default stand-in for SMS and vendor push)."""

    name = "log"

    def deliver(self, session: Session, delivery: Delivery) -> None:
        phone = delivery.masked_phone or "(无手机号 / no phone)"
        prefix = "[催办重推] " if delivery.event == "inbox.repush" else ""
        line = f"would send SMS to {phone}: {prefix}{delivery.title_zh}"
        after_commit(session, lambda: log.info(line))


_factories: dict[str, Callable[[], Channel]] = {"websocket": WebSocketChannel, "log": LogChannel}


def register(name: str, factory: Callable[[], Channel]) -> None:
    """Make another channel (an SMS gateway, a vendor push service) available by name."""
    _factories[name] = factory


def configured(names: str) -> list[Channel]:
    """The channels a comma-separated setting names; ValueError for an unknown name."""
    chosen: list[Channel] = []
    for name in (part.strip() for part in names.split(",")):
        if not name:
            continue
        if name not in _factories:
            raise ValueError(f"unknown inbox channel {name!r} (known: {', '.join(sorted(_factories))})")
        chosen.append(_factories[name]())
    return chosen
