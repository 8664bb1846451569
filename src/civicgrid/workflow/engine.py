"""One ``transition()`` for every life cycle.

A domain declares its life cycle as data in its ``workflow.py``::

    class TicketStatus(StrEnum):
        OPEN = "open"; DONE = "done"

    ALLOWED_TRANSITIONS = Workflow("ticket", [
        Transition("finish", {TicketStatus.OPEN}, TicketStatus.DONE, permission="tickets.handle",
                   deadlines=lambda entity, step: [], guard=None),
    ])

and every status change goes through ``ALLOWED_TRANSITIONS.transition(session, entity, action,
principal, note=...)``. That one call checks the action against the table, the caller's
permission and jurisdiction and the guard; assigns the status; stamps who/when/where on the
entity's timeline (the audit chain records the row changes by itself); cancels the timers of
the state it leaves and arms those of the state it enters; and queues a realtime message that
goes out only after the transaction commits.

A transition may name a Pydantic ``schema`` for its ``data``: the kit validates the payload
(422 naming the field, in Chinese and English) and hands the effect the validated values, so no
domain checks payloads with if/else. :meth:`Workflow.allowed_actions` runs status, permission,
jurisdiction *and* guards: it is the one list behind the 409 body and every detail page.

Creation is a step too: :meth:`Workflow.start`. What a start writes besides the entity's own
row (timeline entry 1, the first timers, the announcement) is computed once by
:meth:`Workflow.started`, a pure function; ``start`` writes those rows through the ORM, and a
batch writer (the matters intake) inserts the very same rows with one statement per table
(:func:`write_started`), so both paths leave identical timeline and audit rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import AppError, Invalid, NotFound
from civicgrid.kit.ids import new_id
from civicgrid.workflow import repository
from civicgrid.workflow.models import TimelineEvent

SYSTEM = Principal(user_id="", username="system", role="system", division_code="", jurisdiction="",
                   permissions=frozenset({"*"}), display_name="系统 / system")


class WorkflowEntity(Protocol):
    """What the kit needs of an entity: an id and the division it belongs to (and a status, in
    the attribute its workflow's ``status_attr`` names)."""

    id: str
    division_code: str


@dataclass(frozen=True)
class Step:
    """The context of one transition, handed to guards, deadline rules and effects."""

    action: str
    principal: Principal
    at: datetime
    source: str
    target: str
    note: str | None = None
    lng: float | None = None
    lat: float | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Deadline:
    """A timer to arm when the entity enters the transition's target state."""

    name: str
    due_at: datetime
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)


Guard = Callable[[Any, Step], str | tuple[str, str] | None]
DeadlineRule = Callable[[Any, Step], Iterable[Deadline]]
Effect = Callable[[Session, Any, Step], None]


@dataclass(frozen=True)
class Transition:
    """One row of a transition table: ``action`` moves ``sources`` → ``target``.

    ``guard`` returns None to allow or a refusal (a message, or a (zh, en) pair).
    ``deadlines`` names the timers of the target state; ``keep_deadlines`` leaves the timers of
    the source state running (for side actions such as urging that do not change the clock).
    ``effect`` runs after the status is set (e.g. record the level that settled a matter).
    ``schema`` (a Pydantic model) validates the step's ``data`` (422 naming the field; the
    field's ``json_schema_extra={"zh": ..., "en": ...}`` words the error); the effect gets the
    validated values in ``step.data``.
    """

    action: str
    sources: frozenset[str]
    target: str
    permission: str
    guard: Guard | None = None
    deadlines: DeadlineRule | None = None
    keep_deadlines: bool = False
    effect: Effect | None = None
    note_required: bool = False
    schema: type[BaseModel] | None = None

    def __init__(self, action: str, sources: Iterable[str], target: str, *, permission: str,
                 guard: Guard | None = None, deadlines: DeadlineRule | None = None,
                 keep_deadlines: bool = False, effect: Effect | None = None,
                 note_required: bool = False, schema: type[BaseModel] | None = None) -> None:
        object.__setattr__(self, "action", action)
        object.__setattr__(self, "sources", frozenset(str(s) for s in sources))
        object.__setattr__(self, "target", str(target))
        object.__setattr__(self, "permission", permission)
        object.__setattr__(self, "guard", guard)
        object.__setattr__(self, "deadlines", deadlines)
        object.__setattr__(self, "keep_deadlines", keep_deadlines)
        object.__setattr__(self, "effect", effect)
        object.__setattr__(self, "note_required", note_required)
        object.__setattr__(self, "schema", schema)


class InvalidTransition(AppError):
    """409: the action is not allowed from this status, for this caller, or by a guard."""

    status = 409
    code = "invalid_transition"

    def __init__(self, zh: str, en: str, allowed: Sequence[str]) -> None:
        super().__init__(zh, en, details={"allowed_actions": list(allowed)})


@dataclass(frozen=True)
class Announcement:
    """A realtime message, published after the transaction commits."""

    channel: str
    event: str
    data: dict[str, Any]
    division_code: str | None


@dataclass(frozen=True)
class Started:
    """Everything a start writes besides the entity's own row: timeline entry 1 (a
    ``timeline_events`` row with every column), the first timers (``timers`` rows) and the
    announcement. Computed by :meth:`Workflow.started`; written by :meth:`Workflow.start`
    (ORM) or by :func:`insert_started` + :func:`record_started` (a batch)."""

    event: dict[str, Any]
    timers: list[dict[str, Any]]
    announcement: Announcement


def validate_payload(schema: type[BaseModel], data: dict[str, Any] | None) -> dict[str, Any]:
    """``data`` checked by ``schema``: the validated values (unset optional ones left out), or
    422 naming the first wrong field, worded by its ``json_schema_extra`` zh/en when it has them."""
    try:
        model = schema.model_validate(data or {})
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else ""
        info = schema.model_fields.get(name)
        extra = info.json_schema_extra if info is not None and isinstance(info.json_schema_extra, dict) else {}
        zh, en = str(extra.get("zh") or error["msg"]), str(extra.get("en") or error["msg"])
        raise Invalid(f"{name}：{zh}", f"{name}: {en}", details={"field": name}) from None
    return model.model_dump(exclude_none=True)


class Workflow:
    """A life cycle: the entity type's name and its transition table. ``announce`` adds fields
    to every realtime message of the entity (e.g. its number), from the entity; ``status_attr``
    names the attribute that holds the status when it is not ``status`` (e.g. a decision);
    ``reach`` says whom the table considers at all (default: the entity's division lies in the
    caller's jurisdiction) — a life cycle whose reporter or field worker acts on an entity owned
    above them widens it, and its guards then decide each action. ``untimed``: the life cycle
    arms no timers (no transition has deadlines, no start is given any), so its steps have no
    timers to cancel and send no cancel statement; arming through it is refused."""

    def __init__(self, entity_type: str, transitions: Sequence[Transition], *,
                 status_enum: type[StrEnum] | None = None,
                 announce: Callable[[Any], dict[str, Any]] | None = None, status_attr: str = "status",
                 reach: Callable[[Any, Principal], bool] | None = None, untimed: bool = False) -> None:
        if untimed and any(t.deadlines is not None for t in transitions):
            raise ValueError(f"{entity_type}: an untimed life cycle cannot have transitions with deadlines")
        self.untimed = untimed
        self.entity_type = entity_type
        self.reach = reach or (lambda entity, principal: principal.governs(entity.division_code))
        self.status_attr = status_attr
        self.transitions = list(transitions)
        self.status_enum = status_enum
        self.announce = announce
        if status_enum is not None:
            known = {str(s) for s in status_enum}
            for t in self.transitions:
                unknown = (t.sources | {t.target}) - known
                if unknown:
                    raise ValueError(f"{entity_type}.{t.action}: unknown statuses {sorted(unknown)}")

    def actions_from(self, status: str) -> list[Transition]:
        return [t for t in self.transitions if str(status) in t.sources]

    def allowed_actions(self, entity: WorkflowEntity, principal: Principal) -> list[str]:
        """The actions this caller can really take on the entity now: the status allows them, the
        role holds their permission, the entity lies in the caller's jurisdiction and the guard
        consents (payloads are not checked: a wrong one is a 422, not a refusal). The one list
        behind the 409 body and every detail page."""
        if not self.reach(entity, principal):
            return []
        status = self.status_of(entity)
        probe = Step(action="", principal=principal, at=utcnow(), source=status, target="")
        seen: list[str] = []
        for t in self.actions_from(status):
            if t.action in seen or not principal.can(t.permission):
                continue
            if t.guard is None or t.guard(entity, Step(**{**probe.__dict__, "action": t.action,
                                                         "target": t.target})) is None:
                seen.append(t.action)
        return seen

    def status_of(self, entity: Any) -> str:
        """The entity's status, as a string."""
        return str(getattr(entity, self.status_attr))

    def _set_status(self, entity: Any, status: str) -> None:
        # The one place a status is assigned (tools/lint/status_assignment.py keeps it so).
        setattr(entity, self.status_attr, self.status_enum(status) if self.status_enum else status)

    def schema_of(self, action: str) -> type[BaseModel] | None:
        """The payload schema of ``action`` (None: the action takes no data)."""
        return next((t.schema for t in self.transitions if t.action == action and t.schema is not None), None)

    def started(self, entity: WorkflowEntity, principal: Principal, *, action: str, status: str,
                note: str | None = None, data: dict[str, Any] | None = None,
                deadlines: DeadlineRule | None = None, at: datetime | None = None,
                lng: float | None = None, lat: float | None = None) -> Started:
        """What starting ``entity`` (id and division set) writes besides its own row; pure: no
        statement is sent (deadline rules may read)."""
        from civicgrid.timers import service as timers

        step = Step(action=action, principal=principal, at=at or utcnow(), source="", target=str(status),
                    note=note, lng=lng, lat=lat, data=dict(data or {}))
        event = self._event_row(entity, step, seq=1)
        if deadlines is not None and self.untimed:
            raise ValueError(f"{self.entity_type}: an untimed life cycle arms no timers")
        timer_rows = [timers.timer_values(kind=d.kind, key=self.timer_key(entity, d.name), due_at=d.due_at,
                                          ref_type=self.entity_type, ref_id=entity.id,
                                          division_code=entity.division_code, payload=d.payload)
                      for d in (deadlines(entity, step) if deadlines is not None else [])]
        return Started(event, timer_rows, self._message(entity, step, 1))

    def start(self, session: Session, entity: WorkflowEntity, principal: Principal, *, action: str, status: str,
              note: str | None = None, data: dict[str, Any] | None = None,
              deadlines: DeadlineRule | None = None, lng: float | None = None,
              lat: float | None = None, at: datetime | None = None) -> TimelineEvent:
        """Bring a new entity into being as a step of its life cycle: set its first status, add
        it to the session, write timeline entry 1 (from no status), arm the first deadlines and
        announce it after commit — what :meth:`transition` does for every later step. The rows
        are :meth:`started`'s, written through the ORM (entity, then timeline entry, then
        timers: the audit chain's order of a batch start too)."""
        from civicgrid.db import assign_key
        from civicgrid.timers import service as timers

        at = at or utcnow()
        self._set_status(entity, status)
        if hasattr(entity, "status_changed_at") and getattr(entity, "status_changed_at", None) is None:
            entity.status_changed_at = at
        session.add(entity)
        if not assign_key(entity):  # its id from its key's default now: entity and entry 1 in one flush
            session.flush()
        started = self.started(entity, principal, action=action, status=status, note=note, data=data,
                               deadlines=deadlines, at=at, lng=lng, lat=lat)
        event = TimelineEvent(**started.event)
        session.add(event)
        session.flush()  # audit order as added: the entity (and what was pending), then entry 1
        timers.insert_new(session, started.timers)
        for row in started.timers:
            timers.record_armed(session, row)
        _publish(session, started.announcement)
        return event

    def transition(self, session: Session, entity: WorkflowEntity, action: str, principal: Principal, *,
                   note: str | None = None, lng: float | None = None, lat: float | None = None,
                   data: dict[str, Any] | None = None) -> TimelineEvent:
        """Perform ``action`` on ``entity`` as ``principal``; see the module docstring."""
        if not self.reach(entity, principal):
            raise NotFound()
        source = self.status_of(entity)
        candidates = [t for t in self.actions_from(source) if t.action == action]
        if not candidates:
            raise InvalidTransition(f"当前状态（{source}）不能执行“{action}”",
                                    f"Action '{action}' is not allowed from status '{source}'",
                                    self.allowed_actions(entity, principal))
        permitted = [t for t in candidates if principal.can(t.permission)]
        if not permitted:
            raise InvalidTransition(f"您的角色不能执行“{action}”", f"Your role may not perform '{action}'",
                                    self.allowed_actions(entity, principal))
        step = Step(action=action, principal=principal, at=utcnow(), source=source,
                    target=permitted[0].target, note=note, lng=lng, lat=lat, data=dict(data or {}))
        chosen: Transition | None = None
        refusal: str | tuple[str, str] | None = None
        for t in permitted:
            step = Step(**{**step.__dict__, "target": t.target})
            refusal = t.guard(entity, step) if t.guard else None
            if refusal is None:
                chosen = t
                break
        if chosen is None:
            zh, en = refusal if isinstance(refusal, tuple) else (str(refusal), str(refusal))
            raise InvalidTransition(zh, en, self.allowed_actions(entity, principal))
        if chosen.schema is not None:
            step = Step(**{**step.__dict__, "data": validate_payload(chosen.schema, data)})
        if chosen.note_required and not (note and note.strip()):
            raise AppError("该操作需要填写说明", f"Action '{action}' requires a note", status=422,
                           code="note_required")

        self._set_status(entity, chosen.target)
        if hasattr(entity, "status_changed_at"):
            entity.status_changed_at = step.at
        if chosen.effect is not None:
            chosen.effect(session, entity, step)
        event = self._log(session, entity, step)
        self._retime(session, entity, chosen, step)
        self._announce(session, entity, step, event)
        return event

    # ----------------------------------------------------------------- internals

    def _event_row(self, entity: WorkflowEntity, step: Step, *, seq: int) -> dict[str, Any]:
        return {
            "id": new_id(), "entity_type": self.entity_type, "entity_id": entity.id, "seq": seq,
            "action": step.action, "from_status": step.source or None, "to_status": step.target,
            "actor_id": step.principal.user_id or None, "actor_name": step.principal.username,
            "actor_role": step.principal.role, "at": step.at, "note": step.note, "lng": step.lng, "lat": step.lat,
            "division_code": entity.division_code,
            "data": json.dumps(step.data, ensure_ascii=False, sort_keys=True, default=str) if step.data else None}

    def _log(self, session: Session, entity: WorkflowEntity, step: Step) -> TimelineEvent:
        session.flush()
        last = repository.last_seq(session, self.entity_type, entity.id)
        event = TimelineEvent(**self._event_row(entity, step, seq=last + 1))
        session.add(event)
        return event

    def timer_key(self, entity: WorkflowEntity, name: str = "") -> str:
        return self.timer_key_of(entity.id, name)

    def timer_key_of(self, entity_id: str, name: str = "") -> str:
        """The key of the entity's timer ``name`` (``""``: the prefix of all its timers)."""
        return f"{self.entity_type}:{entity_id}:{name}"

    def _retime(self, session: Session, entity: WorkflowEntity, chosen: Transition, step: Step) -> None:
        from civicgrid.timers import service as timers

        if self.untimed:  # it never armed a timer: nothing to cancel, nothing to arm
            return
        if not chosen.keep_deadlines:
            timers.cancel_prefix(session, self.timer_key(entity))
        if chosen.deadlines is None:
            return
        for deadline in chosen.deadlines(entity, step):
            timers.arm(session, kind=deadline.kind, key=self.timer_key(entity, deadline.name),
                       due_at=deadline.due_at, ref_type=self.entity_type, ref_id=entity.id,
                       division_code=entity.division_code, payload=deadline.payload)

    def _message(self, entity: WorkflowEntity, step: Step, seq: int) -> Announcement:
        data = {"id": entity.id, "action": step.action, "from": step.source, "to": step.target,
                "actor": step.principal.username, "at": step.at.isoformat(), "seq": seq}
        if self.announce is not None:
            data.update(self.announce(entity))
        return Announcement(channel=f"entity:{self.entity_type}:{entity.id}", event=f"{self.entity_type}.{step.action}",
                            data=data, division_code=entity.division_code)

    def _announce(self, session: Session, entity: WorkflowEntity, step: Step, event: TimelineEvent) -> None:
        _publish(session, self._message(entity, step, event.seq))


def _publish(session: Session, message: Announcement) -> None:
    from civicgrid.realtime import hub

    hub.publish(session, channel=message.channel, event=message.event, data=message.data,
                division_code=message.division_code)


def insert_started(session: Session, started: Sequence[Started]) -> None:
    """The batch half of :meth:`Workflow.start`: the timeline entries and timers of entities
    inserted in this transaction, one statement per table (the caller may run it inside a
    :func:`~civicgrid.kit.statements.pipeline`); their audit entries and announcements follow
    with :func:`record_started`."""
    from civicgrid.audit.service import insert_rows
    from civicgrid.timers import service as timers

    insert_rows(session, TimelineEvent, [s.event for s in started], audit=False)
    timers.insert_new(session, [row for s in started for row in s.timers])


def record_started(session: Session, started: Started) -> None:
    """The audit entries (timeline entry, then each armed timer: the order of
    :meth:`Workflow.start`) and the announcement of one start written by :func:`insert_started`,
    under the session's current actor."""
    from civicgrid.audit.service import record_created
    from civicgrid.timers import service as timers

    record_created(session, TimelineEvent, started.event)
    for row in started.timers:
        timers.record_armed(session, row)
    _publish(session, started.announcement)
