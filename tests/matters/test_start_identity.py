"""Start is a transition: a matter reported through the API's group-commit intake (rows inserted in
batches) and one reported through the ORM path (``service.report`` → ``Workflow.start``) leave
the same timeline and audit rows, field by field — only the ids, the number and the moments
(one week apart, so the office-time deadlines fall alike) differ."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from civicgrid.audit.service import Actor, set_actor
from civicgrid.db import transaction
from civicgrid.kit.clock import Clock, FakeClock, set_clock
from civicgrid.matters import service
from civicgrid.matters.models import Matter
from civicgrid.matters.schemas import MatterCreate
from civicgrid.people.models import User
from civicgrid.people.service import principal_of
from civicgrid.timers.models import Timer
from civicgrid.workflow.models import TimelineEvent
from tests.conftest import LiveServer, Yongzhou
from tests.factories import audit_mark, audit_since
from tests.matters.conftest import actor, china, place_in


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    fake = FakeClock(china(2026, 12, 7, 9, 0))  # a Monday
    set_clock(fake)
    try:
        yield fake
    finally:
        set_clock(Clock())


BODY = {"type_code": "SR01", "title": "暴露垃圾", "description": "路口有一堆垃圾", "channel": "grid_worker"}


def _seq(engine: Engine) -> dict[str, int]:
    with transaction(engine, write=False) as session:
        return audit_mark(session)


def _normal(value: Any, names: dict[str, str], base: datetime) -> Any:
    """Ids and the number named by role, moments as seconds after the report, recursively."""
    if isinstance(value, dict):
        return {k: _normal(v, names, base) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v, names, base) for v in value]
    if isinstance(value, datetime):
        return f"+{(value - base).total_seconds():.0f}s"
    if isinstance(value, str):
        for real, name in names.items():
            value = value.replace(real, name)
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return _normal(moment, names, base) if moment.tzinfo is not None else value
    return value


Rows = tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]


def _rows(engine: Engine, matter_id: str, since: int) -> Rows:
    """The matter's timeline, timers and the audit entries that its creation wrote, normalised."""
    with transaction(engine, write=False) as session:
        matter = session.get_one(Matter, matter_id)
        events = session.scalars(
            select(TimelineEvent).where(TimelineEvent.entity_id == matter_id).order_by(TimelineEvent.seq)
        ).all()
        timers = session.scalars(select(Timer).where(Timer.ref_id == matter_id).order_by(Timer.kind)).all()
        names = {
            matter_id: "<matter>",
            matter.number: "<number>",
            **{e.id: f"<event {e.seq}>" for e in events},
            **{t.id: f"<timer {t.kind}>" for t in timers},
        }
        entries = [
            e
            for e in audit_since(session, since)
            if matter_id in f"{e.entity_id} {e.after}"
        ]
        base = matter.reported_at
        timeline = [
            _normal({c.key: getattr(e, c.key) for c in TimelineEvent.__table__.columns}, names, base) for e in events
        ]
        audit = [
            _normal(
                {
                    "action": e.action,
                    "entity_type": e.entity_type,
                    "entity_id": e.entity_id,
                    "actor": e.actor,
                    "actor_id": e.actor_id,
                    "ip": e.ip,
                    "division_code": e.division_code,
                    "at": e.at,
                    "before": json.loads(e.before) if e.before else None,
                    "after": json.loads(e.after) if e.after else None,
                },
                names,
                base,
            )
            for e in entries
        ]
        armed = [
            _normal(
                {
                    "kind": t.kind,
                    "key": t.key,
                    "due_at": t.due_at,
                    "payload": json.loads(t.payload or "{}"),
                    "ref_type": t.ref_type,
                    "division_code": t.division_code,
                    "state": t.state,
                },
                names,
                base,
            )
            for t in timers
        ]
        return timeline, audit, armed


def test_intake_and_orm_creation_leave_identical_timeline_and_audit_rows(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock
) -> None:
    place = place_in(yongzhou, "431126", 1)
    grid_worker = actor(live_server, engine, "grid_worker", place.grid)
    body = {**BODY, "lng": place.lng, "lat": place.lat}

    since = _seq(engine)
    created = grid_worker.post("/api/v1/matters", body, headers={"Idempotency-Key": "same-a"})
    assert created.status_code == 201, created.text
    by_intake = _rows(engine, created.json()["id"], since)

    clock.advance(timedelta(days=7))  # past the duplicate window; the same weekday and hour
    since = _seq(engine)
    with transaction(engine) as session:
        principal = principal_of(session.get_one(User, grid_worker.user_id))
        set_actor(session, Actor(principal.username, principal.user_id))
        session.info["ip"] = "127.0.0.1"
        matter, fresh = service.report(session, principal, MatterCreate(**body), idempotency_key="same-b")
        matter_id = matter.id
    assert fresh
    by_orm = _rows(engine, matter_id, since)

    intake_timeline, intake_audit, intake_timers = by_intake
    orm_timeline, orm_audit, orm_timers = by_orm
    assert [e["action"] for e in intake_timeline] == ["report"]
    assert orm_timeline == intake_timeline
    assert [t["kind"] for t in intake_timers] == ["matter.expiry", "matter.warning"]
    assert orm_timers == intake_timers
    # matter, timeline entry, two timers (yellow at 75 %, red at expiry), in the same order
    assert [(e["action"], e["entity_type"]) for e in intake_audit] == [
        ("create", "matters"),
        ("create", "timeline_events"),
        ("timer.arm", "timers"),
        ("timer.arm", "timers"),
    ]
    for intake_entry, orm_entry in zip(intake_audit, orm_audit, strict=True):
        for field in intake_entry:
            after = orm_entry[field]
            if field == "after" and orm_entry["entity_type"] == "matters":
                after = {**after, "idempotency_key": intake_entry[field]["idempotency_key"]}  # keys differ by design
            assert after == intake_entry[field], (intake_entry["entity_type"], field)
