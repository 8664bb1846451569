"""A test contract and consumer, registered identically in the test process and in the
subprocesses the kill -9 tests start."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy.orm import Session

from civicgrid.audit.service import record
from civicgrid.events import contracts, service
from civicgrid.events.contracts import Contract, ContractSpec
from civicgrid.events.models import DomainEvent

EVENT = "test.handoff"
CONSUMER = "test.receiver"
RECEIVED = "test.handoff_received"


class Handoff(Contract):
    case_id: str
    note: str


def register() -> None:
    contracts.CONTRACTS[EVENT] = ContractSpec(EVENT, 1, Handoff, "tests", "tests", "live")
    service.subscribe(EVENT, CONSUMER)(receive)


def receive(session: Session, event: DomainEvent) -> None:
    record(session, RECEIVED, "domain_events", event.id, after=event.data)
    marker = os.environ.get("HANDOFF_MARKER")
    if marker:  # the kill -9 test: say we are inside the delivery, then hang until killed
        session.flush()
        ready = Path(marker + ".tmp")  # whole or not at all: the test may read it the moment it exists
        ready.write_text(event.id)
        ready.rename(marker)
        time.sleep(60)


def unregister() -> None:
    service.unsubscribe(EVENT, CONSUMER)
    contracts.CONTRACTS.pop(EVENT, None)
