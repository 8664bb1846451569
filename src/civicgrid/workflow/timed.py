"""Timed steps: a stretch of an entity's life with a time limit, a warning at a share of it, an
expiry, and what expiry does.

A domain declares its timed steps as data beside its transition table::

    CLOCK = StepClock(TICKET_WORKFLOW, [
        TimedStep("handle", limit=lambda session, ticket: (3, "working_days"), warn_share=0.75,
                  on_expiry=escalate_ticket),
    ], warning_kind="ticket.warning", expiry_kind="ticket.expiry",
       rules={"yellow": Rule(...), "red": Rule(...)}, load=get_ticket, is_open=..., reason=...)

and its transitions' effects call ``CLOCK.begin(session, entity, "handle", step.at)`` /
``CLOCK.stop(entity)``, with ``deadlines=CLOCK.deadlines`` on the transitions that (re)start a
step. The entity keeps its clock in four columns: ``step``, ``step_started_at``,
``step_due_at`` and ``alert`` (``none`` / ``yellow`` / ``red``), plus ``overdue`` if it has one.

The clock arms two timers per step (through the workflow's deadlines, so leaving the state
cancels them): the warning when ``warn_share`` of the limit is used (office time for working
units, clock time otherwise) and the expiry. When one fires and the entity is still in that
step with that due time, the clock sets ``alert``, calls the domain's ``on_alert`` hook (its own
realtime message), raises the warning in the one warning loop
(:func:`civicgrid.alerts.service.raise_alert`, which also delivers the owning unit's inbox
notice), and on expiry runs the step's ``on_expiry`` hook (e.g. escalate).

Limits are ``(amount, unit)``: a :class:`~civicgrid.worktime.arith.Unit` (``minutes``,
``hours``, ``days``: calendar time; ``working_hours``, ``working_days``: office time on the
city's working calendar) or ``(0, "statutory:<rule code>")``: a statutory period
(:mod:`civicgrid.worktime.statutory`) counted from the step's start.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, object_session

from civicgrid.alerts import service as alerts
from civicgrid.timers import service as timers
from civicgrid.timers.models import Timer
from civicgrid.workflow.engine import Deadline, Step, Workflow
from civicgrid.worktime import service as worktime
from civicgrid.worktime.arith import Unit

STATUTORY = "statutory:"
Limit = tuple[int, str]


@dataclass(frozen=True)
class TimedStep:
    """One timed step: its name, its limit for an entity (read when the step begins), the share
    of the limit after which it warns, and what its expiry does besides the red warning."""

    name: str
    limit: Callable[[Session, Any], Limit]
    warn_share: float = 0.75
    on_expiry: Callable[[Session, Any], None] | None = None


def due_after(session: Session, start: datetime, limit: Limit) -> datetime:
    """When a step started at ``start`` with ``limit`` runs out (UTC)."""
    amount, unit = limit
    if unit.startswith(STATUTORY):
        result = worktime.statutory_deadline(session, unit.removeprefix(STATUTORY), start, [])
        if result.due_at is None:  # pragma: no cover - an exclusion cannot run from the start
            raise ValueError(f"statutory period {unit} has no end")
        return result.due_at.astimezone(UTC)
    return worktime.deadline(session, start, amount, unit).at.astimezone(UTC)


def warning_at(session: Session, start: datetime, due: datetime, unit: str, share: float) -> datetime:
    """The moment ``share`` of the step's time is used: office time for working units, clock
    time otherwise (calendar and statutory)."""
    if unit not in (Unit.WORKING_HOURS, Unit.WORKING_DAYS):
        return start + (due - start) * share
    calendar = worktime.load(session)
    used = calendar.office_minutes_between(start, due) * share
    return calendar.add_office_minutes(start, used).at.astimezone(UTC)


class StepClock:
    """The timed steps of one workflow, their timers and what their timers do (see the module
    docstring). Registers the handlers of ``warning_kind`` and ``expiry_kind``."""

    def __init__(
        self,
        workflow: Workflow,
        steps: Sequence[TimedStep],
        *,
        warning_kind: str,
        expiry_kind: str,
        rules: dict[str, alerts.Rule],
        load: Callable[[Session, str], Any],
        is_open: Callable[[Any], bool],
        reason: Callable[[Any, str], alerts.Reason],
        label: Callable[[Any], str | None] = lambda entity: None,
        on_alert: Callable[[Session, Any, str], None] | None = None,
        notify: str | None = alerts.NOTIFY_DEFAULT,
    ) -> None:
        self.workflow = workflow
        self.steps = {s.name: s for s in steps}
        self.warning_kind, self.expiry_kind = warning_kind, expiry_kind
        self.rules, self.load, self.is_open, self.reason, self.label = rules, load, is_open, reason, label
        self.on_alert, self.notify = on_alert, notify
        timers.handler(warning_kind)(self._on_warning)
        timers.handler(expiry_kind)(self._on_expiry)

    # ---------------------------------------------------------------- starting and stopping

    def limit(self, session: Session, entity: Any, name: str) -> Limit:
        return self.steps[name].limit(session, entity)

    def begin(self, session: Session, entity: Any, name: str, at: datetime) -> None:
        """Start step ``name`` now: its due time from its limit, no warning yet. The timers follow
        from :meth:`deadlines` on the transition that called this."""
        entity.step = name
        entity.step_started_at = at
        entity.step_due_at = due_after(session, at, self.limit(session, entity, name))
        entity.alert = "none"

    def stop(self, entity: Any) -> None:
        """No timed step any more (the transition's retiming cancels the timers)."""
        entity.step = None
        entity.step_started_at = None
        entity.step_due_at = None
        entity.alert = "none"

    def timed_deadlines(
        self, session: Session, name: str, started: datetime, due: datetime, unit: str
    ) -> list[Deadline]:
        """The warning and expiry timers of step ``name`` started at ``started``, due at ``due``."""
        share = self.steps[name].warn_share
        payload = {"step": name, "due": due.isoformat()}
        return [
            Deadline(
                "warning",
                warning_at(session, started, due, unit, share),
                self.warning_kind,
                {**payload, "alert": "yellow"},
            ),
            Deadline("expiry", due, self.expiry_kind, {**payload, "alert": "red"}),
        ]

    def deadlines_of(self, session: Session, entity: Any) -> list[Deadline]:
        """The timers of the step ``entity`` is in (none outside a timed step)."""
        if entity.step is None or entity.step_due_at is None or entity.step_started_at is None:
            return []
        unit = self.limit(session, entity, entity.step)[1]
        return self.timed_deadlines(session, entity.step, entity.step_started_at, entity.step_due_at, unit)

    def deadlines(self, entity: Any, step: Step) -> Iterable[Deadline]:
        """A transition's deadline rule: the timers of the step the effect began."""
        session = object_session(entity)
        if session is None:
            raise RuntimeError(f"{self.workflow.entity_type} is not attached to a session")
        return self.deadlines_of(session, entity)

    # ---------------------------------------------------------------- the timers firing

    def _still_due(self, entity: Any, payload: dict[str, Any]) -> bool:
        """A timer is stale when the entity has moved on (another step, a new due time, finished)."""
        if entity is None or not self.is_open(entity) or entity.step != payload.get("step") or not payload.get("due"):
            return False
        return entity.step_due_at is not None and entity.step_due_at == datetime.fromisoformat(str(payload["due"]))

    def _warn(self, session: Session, entity: Any, colour: str) -> None:
        entity.alert = colour
        if self.on_alert is not None:
            self.on_alert(session, entity, colour)
        alerts.raise_alert(
            session,
            rule=self.rules[colour],
            level=colour,
            reasons=[self.reason(entity, colour)],
            division_code=entity.division_code,
            source_type=self.workflow.entity_type,
            source_id=entity.id,
            source_label=self.label(entity),
            notify=self.notify,
        )

    def _on_warning(self, session: Session, timer: Timer) -> None:
        """Yellow: the warning share of the step's time is used."""
        entity = self.load(session, timer.ref_id)
        if entity is None or not self._still_due(entity, json.loads(timer.payload or "{}")) or entity.alert != "none":
            return
        self._warn(session, entity, "yellow")

    def _on_expiry(self, session: Session, timer: Timer) -> None:
        """Red: the step's time ran out; then the step's own expiry hook (e.g. escalate)."""
        entity = self.load(session, timer.ref_id)
        if entity is None or not self._still_due(entity, json.loads(timer.payload or "{}")) or entity.alert == "red":
            return
        if hasattr(entity, "overdue"):
            entity.overdue = True
        self._warn(session, entity, "red")
        hook = self.steps[entity.step].on_expiry
        if hook is not None:
            hook(session, entity)
