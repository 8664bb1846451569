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
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import AppError, NotFound
from civicgrid.workflow import repository
from civicgrid.workflow.models import TimelineEvent

SYSTEM = Principal(user_id="", username="system", role="system", division_code="", jurisdiction="",
                   permissions=frozenset({"*"}), display_name="系统 / system")


class WorkflowEntity(Protocol):
    """What the kit needs of an entity: an id, a status and the division it belongs to."""

    id: str
    status: Any
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

    def __init__(self, action: str, sources: Iterable[str], target: str, *, permission: str,
                 guard: Guard | None = None, deadlines: DeadlineRule | None = None,
                 keep_deadlines: bool = False, effect: Effect | None = None,
                 note_required: bool = False) -> None:
        object.__setattr__(self, "action", action)
        object.__setattr__(self, "sources", frozenset(str(s) for s in sources))
        object.__setattr__(self, "target", str(target))
        object.__setattr__(self, "permission", permission)
        object.__setattr__(self, "guard", guard)
        object.__setattr__(self, "deadlines", deadlines)
        object.__setattr__(self, "keep_deadlines", keep_deadlines)
        object.__setattr__(self, "effect", effect)
        object.__setattr__(self, "note_required", note_required)


class InvalidTransition(AppError):
    """409: the action is not allowed from this status, for this caller, or by a guard."""

    status = 409
    code = "invalid_transition"

    def __init__(self, zh: str, en: str, allowed: Sequence[str]) -> None:
        super().__init__(zh, en, details={"allowed_actions": list(allowed)})


class Workflow:
    """A life cycle: the entity type's name and its transition table."""

    def __init__(self, entity_type: str, transitions: Sequence[Transition], *,
                 status_enum: type[StrEnum] | None = None) -> None:
        self.entity_type = entity_type
        self.transitions = list(transitions)
        self.status_enum = status_enum
        if status_enum is not None:
            known = {str(s) for s in status_enum}
            for t in self.transitions:
                unknown = (t.sources | {t.target}) - known
                if unknown:
                    raise ValueError(f"{entity_type}.{t.action}: unknown statuses {sorted(unknown)}")

    def actions_from(self, status: str) -> list[Transition]:
        return [t for t in self.transitions if str(status) in t.sources]

    def allowed_actions(self, entity: WorkflowEntity, principal: Principal) -> list[str]:
        """Actions this caller may take on the entity now (status and permission; guards not run)."""
        seen: list[str] = []
        for t in self.actions_from(str(entity.status)):
            if principal.can(t.permission) and t.action not in seen:
                seen.append(t.action)
        return seen

    def start(self, session: Session, entity: WorkflowEntity, principal: Principal, *, action: str, status: str,
              note: str | None = None, data: dict[str, Any] | None = None,
              deadlines: DeadlineRule | None = None) -> TimelineEvent:
        """Bring a new entity into being as a step of its life cycle: set its first status, add
        it to the session, write timeline entry 1 (from no status), arm the first deadlines and
        announce it after commit — what :meth:`transition` does for every later step."""
        entity.status = self.status_enum(status) if self.status_enum else status
        session.add(entity)
        step = Step(action=action, principal=principal, at=utcnow(), source="", target=str(status), note=note,
                    data=dict(data or {}))
        event = self._log(session, entity, step)
        if deadlines is not None:
            self._retime(session, entity, Transition(action, [], str(status), permission="", deadlines=deadlines,
                                                     keep_deadlines=True), step)
        self._announce(session, entity, step, event)
        return event

    def transition(self, session: Session, entity: WorkflowEntity, action: str, principal: Principal, *,
                   note: str | None = None, lng: float | None = None, lat: float | None = None,
                   data: dict[str, Any] | None = None) -> TimelineEvent:
        """Perform ``action`` on ``entity`` as ``principal``; see the module docstring."""
        if not principal.governs(entity.division_code):
            raise NotFound()
        source = str(entity.status)
        allowed = self.allowed_actions(entity, principal)
        candidates = [t for t in self.actions_from(source) if t.action == action]
        if not candidates:
            raise InvalidTransition(f"当前状态（{source}）不能执行“{action}”",
                                    f"Action '{action}' is not allowed from status '{source}'", allowed)
        permitted = [t for t in candidates if principal.can(t.permission)]
        if not permitted:
            raise InvalidTransition(f"您的角色不能执行“{action}”", f"Your role may not perform '{action}'", allowed)
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
            raise InvalidTransition(zh, en, allowed)
        if chosen.note_required and not (note and note.strip()):
            raise AppError("该操作需要填写说明", f"Action '{action}' requires a note", status=422,
                           code="note_required")

        entity.status = self.status_enum(chosen.target) if self.status_enum else chosen.target
        if hasattr(entity, "status_changed_at"):
            entity.status_changed_at = step.at
        if chosen.effect is not None:
            chosen.effect(session, entity, step)
        event = self._log(session, entity, step)
        self._retime(session, entity, chosen, step)
        self._announce(session, entity, step, event)
        return event

    # ----------------------------------------------------------------- internals

    def _log(self, session: Session, entity: WorkflowEntity, step: Step) -> TimelineEvent:
        session.flush()
        last = repository.last_seq(session, self.entity_type, entity.id)
        event = TimelineEvent(
            entity_type=self.entity_type, entity_id=entity.id, seq=last + 1, action=step.action,
            from_status=step.source or None, to_status=step.target, actor_id=step.principal.user_id or None,
            actor_name=step.principal.username, actor_role=step.principal.role, at=step.at, note=step.note,
            lng=step.lng, lat=step.lat, division_code=entity.division_code,
            data=json.dumps(step.data, ensure_ascii=False, sort_keys=True, default=str) if step.data else None)
        session.add(event)
        return event

    def timer_key(self, entity: WorkflowEntity, name: str = "") -> str:
        return self.timer_key_of(entity.id, name)

    def timer_key_of(self, entity_id: str, name: str = "") -> str:
        """The key of the entity's timer ``name`` (``""``: the prefix of all its timers)."""
        return f"{self.entity_type}:{entity_id}:{name}"

    def _retime(self, session: Session, entity: WorkflowEntity, chosen: Transition, step: Step) -> None:
        from civicgrid.timers import service as timers

        if not chosen.keep_deadlines:
            timers.cancel_prefix(session, self.timer_key(entity))
        if chosen.deadlines is None:
            return
        for deadline in chosen.deadlines(entity, step):
            timers.arm(session, kind=deadline.kind, key=self.timer_key(entity, deadline.name),
                       due_at=deadline.due_at, ref_type=self.entity_type, ref_id=entity.id,
                       division_code=entity.division_code, payload=deadline.payload)

    def _announce(self, session: Session, entity: WorkflowEntity, step: Step, event: TimelineEvent) -> None:
        from civicgrid.realtime import hub

        hub.publish(session, channel=f"entity:{self.entity_type}:{entity.id}",
                    event=f"{self.entity_type}.{step.action}",
                    data={"id": entity.id, "action": step.action, "from": step.source, "to": step.target,
                          "actor": step.principal.username, "at": step.at.isoformat(), "seq": event.seq},
                    division_code=entity.division_code)

