"""The workflow kit on a small entity of its own: table checks, permission, jurisdiction, guard,
timeline, audit, deadline timers and after-commit realtime messages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import pytest
from pydantic import BaseModel, Field
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from civicgrid.authz.principal import Principal
from civicgrid.db import Base
from civicgrid.kit.clock import FakeClock, get_clock, set_clock
from civicgrid.kit.errors import Invalid, NotFound
from civicgrid.kit.ids import new_id
from civicgrid.timers.models import Timer
from civicgrid.workflow.engine import Deadline, InvalidTransition, Step, Transition, Workflow
from civicgrid.workflow.models import TimelineEvent
from tests.factories import audit_mark, audit_since


class TicketStatus(StrEnum):
    OPEN = "open"
    WORKING = "working"
    DONE = "done"
    CANCELLED = "cancelled"


class Ticket(Base):
    """A test-only entity with a life cycle."""

    __tablename__ = "test_workflow_tickets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    division_code: Mapped[str] = mapped_column(String(15))
    status: Mapped[TicketStatus] = mapped_column(String(16), default=TicketStatus.OPEN)
    title: Mapped[str] = mapped_column(String(64), default="")


def _must_have_title(ticket: Ticket, step: Step) -> tuple[str, str] | None:
    return None if ticket.title else ("缺少标题", "The ticket has no title")


def _work_deadline(ticket: Ticket, step: Step) -> list[Deadline]:
    return [Deadline("work", step.at + timedelta(hours=4), "test.ticket_due", {"level": "red"})]


TICKETS = Workflow("ticket", [
    Transition("start", {TicketStatus.OPEN}, TicketStatus.WORKING, permission="tickets.handle",
               guard=_must_have_title, deadlines=_work_deadline),
    Transition("urge", {TicketStatus.WORKING}, TicketStatus.WORKING, permission="tickets.supervise",
               keep_deadlines=True),
    Transition("finish", {TicketStatus.WORKING}, TicketStatus.DONE, permission="tickets.handle"),
    Transition("cancel", {TicketStatus.OPEN, TicketStatus.WORKING}, TicketStatus.CANCELLED,
               permission="tickets.handle", note_required=True),
], status_enum=TicketStatus)

HANDLER = Principal("u1", "lin", "village_officer", "431102001001", "431102001001",
                    frozenset({"tickets.handle"}))
SUPERVISOR = Principal("u2", "zhou", "county_plc_staff", "431102000000", "431102",
                       frozenset({"tickets.supervise"}))
OTHER_COUNTY = Principal("u3", "tang", "village_officer", "431103001001", "431103001001",
                         frozenset({"tickets.handle"}))


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    previous = get_clock()
    fake = FakeClock(datetime(2026, 11, 30, 1, 0, tzinfo=UTC))
    set_clock(fake)
    yield fake
    set_clock(previous)


@pytest.fixture
def tickets(db: Session) -> Session:
    Ticket.__table__.create(db.connection(), checkfirst=True)  # type: ignore[attr-defined]
    return db


def _ticket(session: Session, title: str = "路灯不亮") -> Ticket:
    ticket = Ticket(division_code="431102001001", title=title)
    session.add(ticket)
    session.flush()
    return ticket


def test_transition_sets_status_and_writes_timeline(tickets: Session, clock: FakeClock) -> None:
    ticket = _ticket(tickets)
    event = TICKETS.transition(tickets, ticket, "start", HANDLER, note="到场", lng=111.6, lat=26.2)
    assert ticket.status == TicketStatus.WORKING
    assert (event.seq, event.from_status, event.to_status) == (1, "open", "working")
    assert (event.actor_name, event.at, event.lng) == ("lin", clock.now(), 111.6)
    TICKETS.transition(tickets, ticket, "finish", HANDLER)
    steps = tickets.scalars(select(TimelineEvent.action).where(TimelineEvent.entity_type == "ticket",
                                                               TimelineEvent.entity_id == ticket.id)
                            .order_by(TimelineEvent.seq)).all()
    assert steps == ["start", "finish"]


def test_action_not_in_table_answers_409_with_allowed_actions(tickets: Session, clock: FakeClock) -> None:
    ticket = _ticket(tickets)
    with pytest.raises(InvalidTransition) as err:
        TICKETS.transition(tickets, ticket, "finish", HANDLER)
    assert err.value.status == 409
    assert err.value.details["allowed_actions"] == ["start", "cancel"]
    assert ticket.status == TicketStatus.OPEN


def test_role_without_permission_is_refused(tickets: Session, clock: FakeClock) -> None:
    ticket = _ticket(tickets)
    TICKETS.transition(tickets, ticket, "start", HANDLER)
    with pytest.raises(InvalidTransition) as err:
        TICKETS.transition(tickets, ticket, "finish", SUPERVISOR)
    assert err.value.details["allowed_actions"] == ["urge"]


def test_out_of_jurisdiction_is_not_found(tickets: Session, clock: FakeClock) -> None:
    ticket = _ticket(tickets)
    with pytest.raises(NotFound):
        TICKETS.transition(tickets, ticket, "start", OTHER_COUNTY)


def test_guard_refuses_with_its_reason(tickets: Session, clock: FakeClock) -> None:
    ticket = _ticket(tickets, title="")
    with pytest.raises(InvalidTransition) as err:
        TICKETS.transition(tickets, ticket, "start", HANDLER)
    assert err.value.en == "The ticket has no title"


def test_note_required(tickets: Session, clock: FakeClock) -> None:
    ticket = _ticket(tickets)
    with pytest.raises(Exception, match="requires a note"):
        TICKETS.transition(tickets, ticket, "cancel", HANDLER, note=" ")
    TICKETS.transition(tickets, ticket, "cancel", HANDLER, note="重复上报")
    assert ticket.status == TicketStatus.CANCELLED


def test_deadline_armed_kept_and_cancelled(tickets: Session, clock: FakeClock) -> None:
    ticket = _ticket(tickets)
    TICKETS.transition(tickets, ticket, "start", HANDLER)
    key = f"ticket:{ticket.id}:work"
    timer = tickets.scalars(select(Timer).where(Timer.key == key)).one()
    assert timer.due_at == clock.now() + timedelta(hours=4) and timer.state == "pending"
    TICKETS.transition(tickets, ticket, "urge", SUPERVISOR)  # keeps the clock running
    assert tickets.scalars(select(Timer).where(Timer.key == key)).one().state == "pending"
    TICKETS.transition(tickets, ticket, "finish", HANDLER)
    assert tickets.scalars(select(Timer).where(Timer.key == key)).one().state == "cancelled"


def test_every_step_lands_in_the_audit_chain(tickets: Session, clock: FakeClock) -> None:
    ticket = _ticket(tickets)
    tickets.info["actor"] = None
    before = audit_mark(tickets)
    TICKETS.transition(tickets, ticket, "start", HANDLER)
    tickets.commit()  # links are written when the transaction commits
    rows = audit_since(tickets, before)
    kinds = {(r.action, r.entity_type) for r in rows}
    assert ("update", "test_workflow_tickets") in kinds
    assert ("create", "timeline_events") in kinds
    update = next(r for r in rows if r.entity_type == "test_workflow_tickets" and r.action == "update")
    assert '"status":"working"' in (update.after or "")


class RecordingBackend:
    """A hub backend that keeps what it is asked to send (the real hub decides when)."""

    name = "recording"

    def __init__(self) -> None:
        self.sent: list[object] = []
        self.calls = 0

    def send(self, messages: list[object], hub: object) -> None:
        self.sent.extend(messages)
        self.calls += 1

    def start(self, hub: object) -> None:
        return None

    def stop(self) -> None:
        return None


@pytest.fixture
def recorded() -> Iterator[RecordingBackend]:
    from civicgrid.realtime.hub import Hub, get_hub, set_hub

    previous = get_hub()
    backend = RecordingBackend()
    set_hub(Hub(backend))  # type: ignore[arg-type]
    yield backend
    set_hub(previous)


def test_realtime_message_only_after_commit(tickets: Session, clock: FakeClock, recorded: RecordingBackend) -> None:
    ticket = _ticket(tickets)
    tickets.commit()
    nested = tickets.begin_nested()
    TICKETS.transition(tickets, ticket, "start", HANDLER)
    nested.rollback()  # the savepoint's step is undone...
    tickets.commit()  # ...and the outer commit must not push it
    assert recorded.sent == []
    ticket = _ticket(tickets)
    TICKETS.transition(tickets, ticket, "start", HANDLER)
    assert recorded.sent == []  # not yet committed
    tickets.commit()
    [message] = recorded.sent
    assert (message.channel, message.event, message.division_code) == (  # type: ignore[attr-defined]
        f"entity:ticket:{ticket.id}", "ticket.start", "431102001001")


def test_a_transactions_messages_go_out_together_in_order(tickets: Session, clock: FakeClock,
                                                          recorded: RecordingBackend) -> None:
    first, dropped, last = _ticket(tickets), _ticket(tickets), _ticket(tickets)
    tickets.commit()
    recorded.sent.clear()
    recorded.calls = 0
    TICKETS.transition(tickets, first, "start", HANDLER)
    nested = tickets.begin_nested()
    TICKETS.transition(tickets, dropped, "start", HANDLER)
    nested.rollback()
    TICKETS.transition(tickets, last, "start", HANDLER)
    tickets.commit()
    # One call to the backend (one NOTIFY round trip on PostgreSQL), the savepoint's message left out.
    assert recorded.calls == 1
    assert [m.channel for m in recorded.sent] == [  # type: ignore[attr-defined]
        f"entity:ticket:{first.id}", f"entity:ticket:{last.id}"]


def test_table_refuses_unknown_status() -> None:
    with pytest.raises(ValueError, match="unknown statuses"):
        Workflow("x", [Transition("go", {"open"}, "nowhere", permission="p")], status_enum=TicketStatus)


def test_allowed_actions_runs_the_guards(tickets: Session, clock: FakeClock) -> None:
    """The one list (409 body, detail page) leaves out what a guard would refuse now."""
    untitled = _ticket(tickets, title="")
    assert TICKETS.allowed_actions(untitled, HANDLER) == ["cancel"]
    with pytest.raises(InvalidTransition) as err:
        TICKETS.transition(tickets, untitled, "start", HANDLER)
    assert err.value.details["allowed_actions"] == ["cancel"]
    assert TICKETS.allowed_actions(_ticket(tickets), HANDLER) == ["start", "cancel"]
    assert TICKETS.allowed_actions(_ticket(tickets), OTHER_COUNTY) == []  # outside the jurisdiction


class _Rating(BaseModel):
    stars: int = Field(strict=True, ge=1, le=5, json_schema_extra={"zh": "应为 1–5", "en": "must be 1 to 5"})


RATED = Workflow("ticket", [
    Transition("rate", {TicketStatus.OPEN}, TicketStatus.DONE, permission="tickets.handle", schema=_Rating),
], status_enum=TicketStatus)


@pytest.mark.parametrize("data", [{}, {"stars": 6}, {"stars": "5"}, {"stars": True}])
def test_payload_schema_refuses_with_the_field_in_both_languages(tickets: Session, clock: FakeClock,
                                                                 data: dict[str, object]) -> None:
    ticket = _ticket(tickets)
    with pytest.raises(Invalid) as err:
        RATED.transition(tickets, ticket, "rate", HANDLER, data=data)
    assert (err.value.status, err.value.details) == (422, {"field": "stars"})
    assert (err.value.zh, err.value.en) == ("stars：应为 1–5", "stars: must be 1 to 5")
    assert ticket.status == TicketStatus.OPEN


def test_payload_schema_hands_the_effect_the_validated_values(tickets: Session, clock: FakeClock) -> None:
    ticket = _ticket(tickets)
    event = RATED.transition(tickets, ticket, "rate", HANDLER, data={"stars": 4, "junk": "x"})
    assert (ticket.status, event.data) == (TicketStatus.DONE, '{"stars": 4}')


UNTIMED = Workflow("ticket", [
    Transition("finish", {TicketStatus.OPEN}, TicketStatus.DONE, permission="tickets.handle"),
], status_enum=TicketStatus, untimed=True)


def test_an_untimed_life_cycle_sends_no_timer_statement(tickets: Session, clock: FakeClock) -> None:
    """A life cycle that never arms a timer (a dispatch's incident and unit steps) cancels none: its
    steps send no statement to the timers table, where a timed one sends its cancel."""
    from sqlalchemy import event

    sent: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        sent.append(statement)

    engine = tickets.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        UNTIMED.transition(tickets, _ticket(tickets), "finish", HANDLER)
        untimed = [s for s in sent if "timers" in s]
        sent.clear()
        TICKETS.transition(tickets, _ticket(tickets), "cancel", HANDLER, note="重复")
        timed = [s for s in sent if "timers" in s]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert untimed == [] and len(timed) == 1 and timed[0].lstrip().upper().startswith("UPDATE")


def test_an_untimed_life_cycle_refuses_deadlines(tickets: Session, clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        Workflow("x", [Transition("go", {"open"}, "done", permission="p", deadlines=_work_deadline)], untimed=True)
    with pytest.raises(ValueError):
        UNTIMED.start(tickets, Ticket(id=new_id(), division_code="431102001001", title="t"), HANDLER,
                      action="open", status=TicketStatus.OPEN, deadlines=_work_deadline)
