"""Publishing domain events and delivering them to consumers, exactly once.

``publish(session, name, entity_type=…, entity_id=…, division_code=…, **fields)`` validates the
fields against the event's contract, writes the event, and arms one timer per consumer
subscribed to it (kind ``event:<consumer>``, due now) — all in the caller's transaction, so a
rolled-back transaction hands nothing off, and a committed one cannot lose its hand-offs: the
timers are durable rows. The timer worker delivers each (usually within a poll, a second): the
consumer's handler runs in the worker's transaction together with the delivery row and the timer
being marked done. A process killed (even with ``kill -9``) before delivery leaves the timer
pending; killed during delivery, its transaction rolls back and the lease runs out, and another
worker delivers again. The unique (event, consumer) delivery row makes a second delivery of a
committed one impossible. So each consumer's effects happen exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.events.contracts import CONTRACTS, ContractSpec
from civicgrid.events.models import DomainEvent, EventDelivery
from civicgrid.kit.clock import utcnow
from civicgrid.timers import service as timers
from civicgrid.timers.models import Timer

Consumer = Callable[[Session, DomainEvent], None]
KIND_PREFIX = "event:"


@dataclass(frozen=True)
class Subscription:
    event: str
    consumer: str
    handle: Consumer

    @property
    def kind(self) -> str:
        return f"{KIND_PREFIX}{self.consumer}"


_subscriptions: dict[str, dict[str, Subscription]] = {}


def contract(name: str) -> ContractSpec:
    spec = CONTRACTS.get(name)
    if spec is None:
        raise ValueError(f"no contract for event {name!r}: add it to civicgrid.events.contracts")
    return spec


def subscribe(event: str, consumer: str) -> Callable[[Consumer], Consumer]:
    """Register ``fn(session, event)`` as ``consumer``'s handler of ``event`` (one per pair).
    ``consumer`` names the receiving module and purpose, e.g. ``disputes.register``; it must be
    unique across events (its timers' kind is ``event:<consumer>``)."""
    contract(event)

    def register(fn: Consumer) -> Consumer:
        sub = Subscription(event, consumer, fn)
        for other in _subscriptions.values():
            if consumer in other and other[consumer].event != event:
                raise ValueError(f"consumer {consumer!r} already handles {other[consumer].event!r}")
        _subscriptions.setdefault(event, {})[consumer] = sub
        timers.handler(sub.kind)(_deliverer(sub))
        return fn

    return register


def unsubscribe(event: str, consumer: str) -> None:
    sub = _subscriptions.get(event, {}).pop(consumer, None)
    if sub is not None:
        timers.unregister(sub.kind)


def publish(session: Session, name: str, *, entity_type: str, entity_id: str, division_code: str | None,
            **fields: Any) -> DomainEvent:
    """Write the event and arm its delivery to every subscribed consumer, in the caller's
    transaction. The fields must satisfy the event's contract."""
    spec = contract(name)
    if "division_code" in spec.model.model_fields and "division_code" not in fields:
        fields["division_code"] = division_code  # a contract that carries the division gets the event's
    payload = spec.model(**fields).model_dump(mode="json")
    event = DomainEvent(name=name, version=spec.version, entity_type=entity_type, entity_id=entity_id,
                        division_code=division_code, payload=json.dumps(payload, ensure_ascii=False, sort_keys=True),
                        created_at=utcnow())
    session.add(event)
    session.flush()
    for sub in _subscriptions.get(name, {}).values():
        timers.arm(session, kind=sub.kind, key=f"event:{event.id}:{sub.consumer}", due_at=event.created_at,
                   ref_type="domain_event", ref_id=event.id, division_code=division_code,
                   payload={"event_id": event.id, "consumer": sub.consumer}, max_attempts=10)
    return event


def _deliverer(sub: Subscription) -> timers.Handler:
    def deliver(session: Session, timer: Timer) -> None:
        event_id = str(timer.data["event_id"])
        if session.scalar(select(EventDelivery.id).where(EventDelivery.event_id == event_id,
                                                          EventDelivery.consumer == sub.consumer)):
            return  # delivered already: never twice
        event = session.get(DomainEvent, event_id)
        if event is None:
            raise LookupError(f"event {event_id} not found")
        sub.handle(session, event)
        session.add(EventDelivery(event_id=event_id, consumer=sub.consumer, division_code=event.division_code,
                                  delivered_at=utcnow()))
        session.flush()

    deliver.__qualname__ = f"deliver.{sub.consumer}"
    return deliver


def deliveries(session: Session, event_id: str) -> list[EventDelivery]:
    return list(session.scalars(select(EventDelivery).where(EventDelivery.event_id == event_id)
                                .order_by(EventDelivery.delivered_at)))


def consumer_kinds(event: str | None = None) -> set[str]:
    """The timer kinds of the consumers (of ``event``), for a worker restricted to them."""
    subs = [s for subs in _subscriptions.values() for s in subs.values() if event is None or s.event == event]
    return {s.kind for s in subs}
