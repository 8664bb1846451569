"""The realtime hub: publish after commit, fan out by channel, filter by jurisdiction.

    hub.publish(session, channel=f"entity:matter:{matter.id}", event="matter.accepted",
                data={"id": matter.id, "status": "accepted"}, division_code=matter.division_code)

``publish`` only queues the message on the session (:func:`civicgrid.db.after_commit_together`): it goes
out when the transaction commits and never if it rolls back. It then goes to the backend —
in-process by default, PostgreSQL LISTEN/NOTIFY when several processes serve clients (see
:mod:`civicgrid.realtime.backends`) — and every process's hub delivers it to its own subscribers.

Channels a client may subscribe to:

* ``division:<prefix>``: every message whose ``division_code`` starts with the prefix, whatever
  channel it was published on (a county console subscribes to ``division:431102``);
* ``entity:<type>:<id>``: messages published on exactly that channel (one matter, one incident);
* ``user:<id>``: messages for one user; a client may only subscribe to its own.

Whatever the channel, a subscriber receives a message only if its ``division_code`` lies inside
the subscriber's jurisdiction. A message without a division code is delivered only on the
explicit entity or user channel it was published on — so anything that belongs to a place must
carry that place's code. Messages are small notices ("this matter changed"): clients re-fetch
the record over the API, which applies the full authorisation rules.

Delivery is thread-safe: publishes commit in threadpool threads (and in the timer worker),
and each subscriber's queue is filled on its own event loop via ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.db import after_commit_together
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import AppError, Invalid

if TYPE_CHECKING:
    from civicgrid.config import Settings
    from civicgrid.realtime.backends import Backend

log = logging.getLogger(__name__)

_DIVISION = re.compile(r"^division:(\d{2,15})$")
_ENTITY = re.compile(r"^entity:([a-z][a-z0-9_.-]{0,47}):([A-Za-z0-9_.:-]{1,64})$")
_USER = re.compile(r"^user:([A-Za-z0-9_-]{1,64})$")

CHANNEL_FORMS = "division:<prefix>, entity:<type>:<id>, user:<id>"
MAX_CHANNELS_PER_SUBSCRIBER = 256
DEFAULT_QUEUE_SIZE = 1000


class ChannelForbidden(AppError):
    """A channel this subscriber may not listen to (someone else's user channel)."""

    status = 403
    code = "channel_forbidden"


def parse_channel(channel: str) -> tuple[str, str]:
    """``("division", prefix)``, ``("entity", "type:id")`` or ``("user", id)``; :class:`Invalid`
    for anything else."""
    if isinstance(channel, str):
        if match := _DIVISION.match(channel):
            return "division", match.group(1)
        if match := _ENTITY.match(channel):
            return "entity", f"{match.group(1)}:{match.group(2)}"
        if match := _USER.match(channel):
            return "user", match.group(1)
    raise Invalid(f"频道名称不合法：{channel!r}（应为 {CHANNEL_FORMS}）",
                  f"Invalid channel {channel!r} (expected {CHANNEL_FORMS})", code="invalid_channel")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable in a realtime message: {type(value).__name__}")


@dataclass(frozen=True)
class Message:
    """One published notice: the channel it was published on, an event name, small JSON data,
    the division (or grid) code it belongs to, and when it was published (ISO 8601, UTC)."""

    channel: str
    event: str
    data: dict[str, Any]
    division_code: str | None
    at: str

    def to_json(self) -> str:
        return json.dumps({"channel": self.channel, "event": self.event, "data": self.data,
                           "division_code": self.division_code, "at": self.at},
                          ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Message:
        raw = json.loads(text)
        return cls(channel=str(raw["channel"]), event=str(raw["event"]), data=dict(raw["data"]),
                   division_code=raw.get("division_code"), at=str(raw["at"]))

    def frame(self, channel: str) -> dict[str, Any]:
        """What a subscriber receives; ``channel`` is the subscription that matched, ``origin``
        the channel it was published on."""
        return {"type": "event", "channel": channel, "origin": self.channel, "event": self.event,
                "data": self.data, "division_code": self.division_code, "at": self.at}


@dataclass(eq=False)
class Subscription:
    """One connected client: who it is, its channels, and the queue its socket writer drains.
    The queue belongs to ``loop``; only code running on that loop touches it."""

    principal: Principal
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[dict[str, Any]]
    channels: set[str] = field(default_factory=set)
    overflowed: bool = False

    def push(self, frame: dict[str, Any]) -> None:
        """Queue a frame for the client (on the subscription's loop). A client too slow to keep
        up is marked overflowed; its socket writer then closes the connection."""
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.overflowed = True


Delivery = tuple[Subscription, dict[str, Any]]


class Hub:
    """Subscribers of this process, indexed by channel, and the backend that carries published
    messages between processes."""

    def __init__(self, backend: Backend | None = None) -> None:
        from civicgrid.realtime.backends import InProcessBackend

        self.backend: Backend = backend or InProcessBackend()
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()
        self._exact: dict[str, set[Subscription]] = defaultdict(set)
        self._division: dict[str, set[Subscription]] = defaultdict(set)
        self._starts = 0

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Start the backend (a PostgreSQL listener thread); nested starts are counted."""
        with self._lock:
            self._starts += 1
            first = self._starts == 1
        if first:
            self.backend.start(self)

    def stop(self) -> None:
        with self._lock:
            self._starts = max(self._starts - 1, 0)
            last = self._starts == 0
        if last:
            self.backend.stop()

    # ------------------------------------------------------------------ publishing

    def publish(self, session: Session, *, channel: str, event: str, data: dict[str, Any],
                division_code: str | None) -> None:
        """Queue a message to go out when ``session``'s transaction commits (never on rollback).

        The data is encoded now, so a value that cannot be sent fails the request that
        published it rather than vanishing after the commit.
        """
        try:
            parse_channel(channel)
        except Invalid as exc:  # a publisher's bug, not the caller's input
            raise ValueError(exc.en) from None
        if not event:
            raise ValueError("a realtime message needs an event name")
        if division_code is not None and not division_code.isdigit():
            raise ValueError(f"division_code must be digits: {division_code!r}")
        encoded = json.loads(json.dumps(data, ensure_ascii=False, default=_jsonable))
        message = Message(channel=channel, event=event, data=encoded, division_code=division_code,
                          at=utcnow().isoformat())
        # The transaction's messages go out together once it commits (one NOTIFY round trip).
        after_commit_together(session, self._send, message)

    def _send(self, messages: list[Message]) -> None:
        self.backend.send(messages, self)

    def deliver(self, message: Message) -> int:
        """Hand a committed message to this process's matching subscribers (any thread); return
        how many it was queued for."""
        targets: dict[Subscription, str] = {}
        code = message.division_code
        with self._lock:
            if code is not None:
                for end in range(1, len(code) + 1):
                    prefix = code[:end]
                    for sub in self._division.get(prefix, ()):
                        targets.setdefault(sub, f"division:{prefix}")
            for sub in self._exact.get(message.channel, ()):
                targets[sub] = message.channel  # the explicit channel names it best
        by_loop: dict[asyncio.AbstractEventLoop, list[Delivery]] = defaultdict(list)
        for sub, channel in targets.items():
            if code is None or sub.principal.governs(code):
                by_loop[sub.loop].append((sub, message.frame(channel)))
        delivered = 0
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_push_all, items)
                delivered += len(items)
            except RuntimeError:  # that loop has closed; its subscribers are gone
                log.debug("realtime: dropped a message for a closed event loop")
        return delivered

    # ------------------------------------------------------------------ subscribers

    def attach(self, principal: Principal, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> Subscription:
        """A new subscriber on the running event loop (call from that loop)."""
        sub = Subscription(principal=principal, loop=asyncio.get_running_loop(),
                           queue=asyncio.Queue(maxsize=queue_size))
        with self._lock:
            self._subscriptions.add(sub)
        return sub

    def detach(self, sub: Subscription) -> None:
        """Forget a subscriber and all its channels."""
        with self._lock:
            self._subscriptions.discard(sub)
            for channel in sub.channels:
                self._index(channel).discard(sub)
            sub.channels.clear()

    def subscribe(self, sub: Subscription, channel: str) -> None:
        """Add a channel; :class:`Invalid` for a malformed one, :class:`ChannelForbidden` for
        another user's channel. Jurisdiction is applied per message, not here."""
        kind, value = parse_channel(channel)
        if kind == "user" and value != sub.principal.user_id:
            raise ChannelForbidden("只能订阅自己的用户频道",
                                   "You may only subscribe to your own user channel")
        with self._lock:
            if channel not in sub.channels and len(sub.channels) >= MAX_CHANNELS_PER_SUBSCRIBER:
                raise Invalid(f"订阅的频道过多（上限 {MAX_CHANNELS_PER_SUBSCRIBER} 个）",
                              f"Too many channels (at most {MAX_CHANNELS_PER_SUBSCRIBER})",
                              code="too_many_channels")
            sub.channels.add(channel)
            self._index(channel).add(sub)

    def unsubscribe(self, sub: Subscription, channel: str) -> bool:
        """Drop a channel; whether it was subscribed."""
        parse_channel(channel)
        with self._lock:
            if channel not in sub.channels:
                return False
            sub.channels.discard(channel)
            self._index(channel).discard(sub)
            return True

    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscriptions)

    def _index(self, channel: str) -> set[Subscription]:
        # Called with the lock held; channels were validated on subscribe.
        if channel.startswith("division:"):
            return self._division[channel.removeprefix("division:")]
        return self._exact[channel]


def _push_all(items: list[Delivery]) -> None:
    for sub, frame in items:
        sub.push(frame)


_hub: Hub | None = None
_hub_for: tuple[str, str] | None = None  # (backend mode, database URL) the process hub was built for
_hub_lock = threading.Lock()


def get_hub(settings: Settings | None = None) -> Hub:
    """The process hub, created on first use with the backend the settings call for. Given
    settings for another database than the idle hub was built for (a process that starts apps
    on several databases, as the tests do), the hub is built anew: a hub left from a SQLite
    file would otherwise carry a PostgreSQL app's events through that file's sockets, and a
    listener on one PostgreSQL database never hears another's NOTIFY."""
    global _hub, _hub_for
    with _hub_lock:
        if settings is not None and _hub is not None and _hub_for is not None and _hub._starts == 0:
            from civicgrid.realtime.backends import backend_mode

            if (backend_mode(settings), settings.database_url) != _hub_for:
                _hub = None
        if _hub is None:
            from civicgrid.config import get_settings
            from civicgrid.realtime.backends import backend_for, backend_mode

            chosen = settings or get_settings()
            _hub = Hub(backend_for(chosen))
            _hub_for = (backend_mode(chosen), chosen.database_url)
        return _hub


def set_hub(hub: Hub | None) -> None:
    """Replace the process hub (tests; ``None`` makes the next :func:`get_hub` build a new one)."""
    global _hub, _hub_for
    with _hub_lock:
        _hub, _hub_for = hub, None


def publish(session: Session, *, channel: str, event: str, data: dict[str, Any],
            division_code: str | None) -> None:
    """Publish on the process hub after ``session`` commits (see :meth:`Hub.publish`)."""
    get_hub().publish(session, channel=channel, event=event, data=data, division_code=division_code)
