"""The closed loop of a matter (GB/T 30428's seven steps) as one transition table.

Main path::

    reported ─accept─▶ accepted ─dispatch─▶ dispatched ─start─▶ handling ─resolve─▶ handled
        ─verify─▶ verified ─close─▶ closed ─evaluate─▶ evaluated
    handled ─send_back─▶ handling (rework_count + 1)

Side paths: ``reject`` / ``cancel`` (reason required) end a matter before dispatch; ``merge``
closes it as a duplicate of another (status ``merged``) and ``keep_separate`` dismisses a
duplicate candidate; ``return`` (wrongly assigned) hands it to the unit one level up, which
``reassign``-s it to a level of its choosing (back to ``reported``); ``escalate`` moves it one
level up (status ``escalated``, accepted by the new owner like a new report);
``request_extension`` / ``approve_extension`` / ``deny_extension``; ``supervise`` (督办, with its
own deadline) and ``answer_supervision``; ``urge`` (催办).

Timed steps (limits from the matter's catalogue type, which is fixed at intake):

* ``accept``: from reported (or escalated, or reassigned) until dispatched;
* ``handle``: from dispatch until handled (restarted by ``send_back``);
* ``verify``: from handled until verified.

Each timed step arms a yellow warning at 75 % of its working time and a red alert at expiry
(``Matter.alert``; red also sets ``overdue``), both pushed to the owner's division channel,
which every level above receives too. When the *handle* step expires and the type says
``auto_escalate``, the matter escalates one level automatically (up to the city).

Who may act (permission from the role, place from the jurisdiction):

* **the owner unit** — the principal whose jurisdiction prefix equals the prefix of the
  matter's ``division_code`` (a village officer for a village-owned matter, a township officer
  for a township-owned one, county or city governance staff for theirs) — accepts, rejects,
  cancels, dispatches, handles, resolves, asks for extensions, returns, escalates, merges and
  answers supervision orders (``matters.handle``), and reassigns a matter returned to it
  (``matters.dispatch``);
* **the owner unit or any level above it** verifies, sends back and closes (``matters.verify``)
  and records the evaluation (``matters.verify``);
* **a level above the owner** approves or denies extensions (``matters.dispatch``), issues
  supervision orders (``matters.supervise``) and urges (``matters.supervise`` or
  ``matters.dispatch``);
* the **system** (timer worker) escalates automatically;
* **two people close the loop** (GB/T 30428): nobody who started, resolved or settled a matter
  verifies it or sends it back; the **worker of the matter's grid** may settle a reported matter
  on the spot (``settle_on_spot``, 就地办结, with a result photo), verified by the owning unit or —
  when drawn for a spot check (``spot_check``, share ``CIVICGRID_MATTER_SPOT_CHECK_SHARE``) — by
  a level above it; the **reporter** alone rates a closed matter (``evaluate``, 满意度) and may
  withdraw a report (``withdraw``, 撤回) within ``CIVICGRID_MATTER_WITHDRAW_MINUTES`` of
  reporting; the owning unit (or the reporter before acceptance) corrects a mis-located matter
  (``correct_place``: re-routed from the new point's grid, a fresh acceptance);
* reporters (grid workers, volunteers) see the matters they reported; the units whose
  jurisdiction holds the matter's grid see it too (a village sees a matter of its grid that the
  township owns), but act on it only as the rules above allow.

Settlement: ``close`` records ``settled_level`` and ``settled_division_code``: the owner when it
was last resolved (ownership cannot change between resolve and close).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, object_session

import civicgrid.matters.figures  # noqa: F401  (the rollup listener must be on wherever matters change)
from civicgrid.alerts import service as alerts
from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import jurisdiction_prefix
from civicgrid.inbox import notices as inbox_notices
from civicgrid.kit.errors import Invalid
from civicgrid.matters import repository
from civicgrid.matters.models import LEVELS, Level, Matter, SupervisionOrder
from civicgrid.matters.schemas import (
    CorrectPlacePayload,
    EvaluatePayload,
    ExtensionPayload,
    KeepSeparatePayload,
    MergePayload,
    ReassignPayload,
    ResolvePayload,
    SettleOnSpotPayload,
    SupervisePayload,
)
from civicgrid.matters.settings import settings
from civicgrid.timers import service as timers
from civicgrid.timers.models import Timer
from civicgrid.workflow.engine import SYSTEM, Deadline, Step, Transition, Workflow
from civicgrid.workflow.timed import StepClock, TimedStep, due_after
from civicgrid.worktime import service as worktime
from civicgrid.worktime.arith import Unit


class MatterStatus(StrEnum):
    """Where a matter stands in the closed loop."""

    REPORTED = "reported"
    ESCALATED = "escalated"
    RETURNED = "returned"
    ACCEPTED = "accepted"
    DISPATCHED = "dispatched"
    HANDLING = "handling"
    HANDLED = "handled"
    VERIFIED = "verified"
    CLOSED = "closed"
    EVALUATED = "evaluated"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    MERGED = "merged"
    HANDED_BACK = "handed_back"  # 退回热线: returned to the external system it came from
    HANDED_OFF = "handed_off"  # 移交矛盾纠纷: registered by the disputes module, counted there


S = MatterStatus
FINISHED = frozenset({S.CLOSED, S.EVALUATED, S.REJECTED, S.CANCELLED, S.MERGED, S.HANDED_BACK, S.HANDED_OFF})
OPEN = frozenset(set(S) - FINISHED)
WAITING = {S.REPORTED, S.ESCALATED}  # awaiting the owner's acceptance
WORKING = {S.DISPATCHED, S.HANDLING}

WARNING_KIND = "matter.warning"
EXPIRY_KIND = "matter.expiry"
SUPERVISION_KIND = "matter.supervision_due"
WARN_SHARE = 0.75

# ---------------------------------------------------------------- levels and owners

PREFIX_LEVEL = {4: Level.CITY, 6: Level.COUNTY, 9: Level.TOWNSHIP, 12: Level.VILLAGE}


def owner_code(grid_code: str, level: str) -> str:
    """The 12-digit code of the unit of ``level`` whose territory holds the grid."""
    if level == Level.VILLAGE:
        return grid_code[:12]
    if level == Level.TOWNSHIP:
        return grid_code[:9] + "000"
    if level == Level.COUNTY:
        return grid_code[:6] + "000000"
    if level == Level.CITY:
        return grid_code[:4] + "00000000"
    raise ValueError(f"unknown level {level!r}")


def level_above(level: str) -> str | None:
    index = [str(lv) for lv in LEVELS].index(level)
    return str(LEVELS[index + 1]) if index + 1 < len(LEVELS) else None


def principal_level(principal: Principal) -> str | None:
    """The level a user works at (None for grid workers and wider-than-city users)."""
    level = PREFIX_LEVEL.get(len(principal.jurisdiction))
    return str(level) if level else None


def is_owner_unit(matter: Matter, principal: Principal) -> bool:
    return principal.role == SYSTEM.role or jurisdiction_prefix(matter.division_code) == principal.jurisdiction


def is_above_owner(matter: Matter, principal: Principal) -> bool:
    owner = jurisdiction_prefix(matter.division_code)
    if principal.role == SYSTEM.role:
        return True
    return owner.startswith(principal.jurisdiction) and owner != principal.jurisdiction


def _move_owner(matter: Matter, level: str) -> None:
    matter.owner_level = level
    matter.division_code = owner_code(matter.grid_code, level)


# ---------------------------------------------------------------- guards

Refusal = tuple[str, str] | None


def _owner(matter: Matter, step: Step) -> Refusal:
    return None if is_owner_unit(matter, step.principal) else (
        "只有责任单位可以执行此操作", "Only the owning unit may do this")


def _owner_or_above(matter: Matter, step: Step) -> Refusal:
    if is_owner_unit(matter, step.principal) or is_above_owner(matter, step.principal):
        return None
    return ("只有责任单位或其上级可以执行此操作", "Only the owning unit or a level above it may do this")


def _above(matter: Matter, step: Step) -> Refusal:
    return None if is_above_owner(matter, step.principal) else (
        "只有上级单位可以执行此操作", "Only a level above the owning unit may do this")


def _can_escalate(matter: Matter, step: Step) -> Refusal:
    if level_above(matter.owner_level) is None:
        return ("市级事项无法再上报", "A city-level matter cannot be escalated further")
    return _owner(matter, step)


def _can_return(matter: Matter, step: Step) -> Refusal:
    if level_above(matter.owner_level) is None:
        return ("市级事项无法退回上级", "A city-level matter has no level above to return it to")
    return _owner(matter, step)


def _extension_pending(matter: Matter, step: Step) -> Refusal:
    if not matter.extension_days:
        return ("没有待审批的延期申请", "There is no extension request to decide")
    return _above(matter, step)


def _no_extension_pending(matter: Matter, step: Step) -> Refusal:
    if matter.extension_days:
        return ("已有延期申请待审批", "An extension request is already waiting for a decision")
    return _owner(matter, step)


def _supervision_open(matter: Matter, step: Step) -> Refusal:
    # Ownership first: it needs no query, and the intake asks the reporter's allowed actions of
    # every new matter (the table's reach includes the reporter).
    if (refusal := _owner(matter, step)) is not None:
        return refusal
    session = object_session(matter)
    if session is None or not repository.open_supervision_orders(session, matter.id, step.principal):
        return ("没有待答复的督办单", "There is no open supervision order to answer")
    return None


def _has_candidates(matter: Matter, step: Step) -> Refusal:
    if (refusal := _owner(matter, step)) is not None:  # no query for a non-owner (see above)
        return refusal
    session = object_session(matter)
    links = repository.duplicates_of(session, matter.id, step.principal) if session else []
    pending = [d for d in links if d.decision == "pending"]
    if not pending:
        return ("没有待处理的疑似重复事项", "There is no pending duplicate candidate")
    return None


# ---------------------------------------------------------------- a loop that two people close (GB/T 30428)

HANDLING = ("start", "resolve", "settle_on_spot")
"""The actions that make someone the matter's handler: a handler never verifies or rates it."""


def _handled_by(matter: Matter, principal: Principal) -> bool:
    session = object_session(matter)
    return bool(principal.user_id) and session is not None and repository.acted_on(
        session, matter.id, principal.user_id, HANDLING)


def is_reporter(matter: Matter, principal: Principal) -> bool:
    return bool(principal.user_id) and matter.reporter_id == principal.user_id


def is_grid_worker_of(matter: Matter, principal: Principal) -> bool:
    """The worker of the matter's grid: a user whose jurisdiction is the grid itself."""
    return len(principal.jurisdiction) == 15 and principal.jurisdiction == matter.grid_code


def reach(matter: Matter, principal: Principal) -> bool:
    """Whom the transition table considers: the owning unit and the levels above it (the
    jurisdiction holds the owner), the matter's reporter (withdraws, rates) and the worker of its
    grid (settles on the spot); the guards then decide each action."""
    return (principal.governs(matter.division_code) or is_reporter(matter, principal)
            or is_grid_worker_of(matter, principal))


def _verifier(matter: Matter, step: Step) -> Refusal:
    """核查: never by whoever handled the matter (started, resolved or settled it on the spot);
    a matter drawn for a spot check (抽查) by a level above its owner; else the worker of the
    matter's grid (the default verifier, on site with a photo: see :func:`default_verifier`), the
    owner or a level above."""
    if _handled_by(matter, step.principal):
        return ("办理人不能核查自己办理的事项，请由其他人员核查",
                "Whoever handled a matter may not verify it: another person must")
    if matter.spot_check:
        return None if is_above_owner(matter, step.principal) else (
            "本事项被抽中抽查，须由上级单位核查", "This matter was drawn for a spot check: a level above verifies it")
    if is_grid_worker_of(matter, step.principal):
        return None
    return _owner_or_above(matter, step)


class VerifierKind(StrEnum):
    """Who verifies a handled matter by default (GB/T 30428, issue 11 §5)."""

    GRID_WORKER = "grid_worker"  # the worker of the matter's grid, on site with a photo
    OWNER = "owner"  # the owning unit (the village officer for a village-owned matter)
    SPOT_CHECK = "spot_check"  # drawn for a spot check: a level above the owner


def default_verifier(session: Session, matter: Matter, handler_id: str | None = None) -> tuple[VerifierKind, list[Any]]:
    """The default verifier of a handled matter and the people it names: a drawn spot check goes to
    a level above; else the worker of the matter's grid unless that person handled (started,
    resolved or settled) it; else the owning unit's officers. Those named get the notice to verify.
    ``handler_id``: who is handling it right now (the transition's timeline row is not written yet)."""
    if matter.spot_check:
        return VerifierKind.SPOT_CHECK, []

    def handled(user_id: str) -> bool:
        return user_id == handler_id or repository.acted_on(session, matter.id, user_id, HANDLING)

    workers = [u for u in inbox_notices.holders(session, "matters.verify", {matter.grid_code}) if not handled(u.id)]
    if workers:
        return VerifierKind.GRID_WORKER, workers
    officers = [u for u in inbox_notices.holders(session, "matters.verify", {matter.division_code})
                if not handled(u.id)]
    return VerifierKind.OWNER, officers


def _on_the_spot(matter: Matter, step: Step) -> Refusal:
    """就地办结: the worker of the matter's grid (the result photo is input: checked by the effect)."""
    if not is_grid_worker_of(matter, step.principal):
        return ("只有本网格的网格员可以就地办结", "Only the worker of the matter's grid may settle it on the spot")
    return None


def _rater(matter: Matter, step: Step) -> Refusal:
    """满意度 comes from the person who reported the matter, never from whoever handled it."""
    if not is_reporter(matter, step.principal):
        return ("满意度只能由上报人评价", "Only the person who reported the matter may rate it")
    if _handled_by(matter, step.principal):
        return ("办理人不能评价自己办理的事项", "Whoever handled a matter may not rate it")
    return None


def withdraw_until(matter: Matter) -> datetime:
    """Until when the reporter may withdraw (撤回) the report."""
    from datetime import timedelta

    return matter.reported_at + timedelta(minutes=settings().withdraw_minutes)


def _withdrawer(matter: Matter, step: Step) -> Refusal:
    """撤回: the reporter, within the configured minutes of reporting (10 by default)."""
    if not is_reporter(matter, step.principal):
        return ("只有上报人可以撤回", "Only the person who reported the matter may withdraw it")
    if step.at > withdraw_until(matter):
        minutes = settings().withdraw_minutes
        return (f"已超过可撤回时间（上报后 {minutes} 分钟内可撤回）",
                f"Too late to withdraw: a report can be withdrawn within {minutes} minutes of reporting")
    return None


UNDOABLE = ("accept", "start", "close")
"""One-click actions (no input): committed at once, and undone (``undo``, 撤回) by the same user
within ``CIVICGRID_MATTER_WITHDRAW_MINUTES`` instead of a confirmation dialog (issue 11 §5)."""


def _undoer(undone: str, back: str) -> Any:
    def guard(matter: Matter, step: Step) -> Refusal:
        """撤回: the matter's last step was ``undone`` from ``back``, taken by this user, within the window."""
        from datetime import timedelta

        session = object_session(matter)
        last = repository.last_event(session, matter.id) if session is not None else None
        if last is None or last.action != undone or last.from_status != back or not step.principal.user_id \
                or last.actor_id != step.principal.user_id:
            return ("只能撤回本人刚刚执行的上一步操作", "Only your own last step can be undone")
        minutes = settings().withdraw_minutes
        at = last.at if last.at.tzinfo else last.at.replace(tzinfo=UTC)
        if step.at > at + timedelta(minutes=minutes):
            return (f"已超过可撤回时间（{minutes} 分钟内可撤回）",
                    f"Too late to undo: a step can be undone within {minutes} minutes")
        return None
    return guard


def _undo(session: Session, matter: Matter, step: Step) -> None:
    """Put back what the undone step set; the timeline keeps both rows (``data.undone``)."""
    last = repository.last_event(session, matter.id)
    assert last is not None
    step.data["undone"] = last.action
    if last.action == "accept":
        matter.accepted_at = None
    elif last.action == "close":
        matter.closed_at = None
        matter.settled_level = None
        matter.settled_division_code = None


def _place_corrector(matter: Matter, step: Step) -> Refusal:
    """更正位置: the owning unit's acceptor, or the reporter (the 12345 operator who filed it) while
    nobody has accepted it yet."""
    if is_owner_unit(matter, step.principal) and step.principal.can("matters.handle"):
        return None
    if matter.status == S.REPORTED and is_reporter(matter, step.principal):
        return None
    return ("只有责任单位或上报人（受理前）可以更正位置",
            "Only the owning unit, or the reporter before acceptance, may correct the place")


def draw_spot_check(share: float) -> bool:
    """Whether an on-the-spot settlement is drawn for a supervisor's spot check (share 0–1)."""
    import secrets

    return share > 0 and secrets.randbelow(1_000_000) < round(share * 1_000_000)


# ---------------------------------------------------------------- timed steps (the kit's StepClock)


def _limit(name: str) -> Any:
    def limit(session: Session, matter: Matter) -> tuple[int, str]:
        from civicgrid.matters import catalogue

        matter_type = repository.type_by_id(session, matter.type_id)
        assert matter_type is not None
        return catalogue.limits_of(matter_type)[name]
    return limit


def _auto_escalate(session: Session, matter: Matter) -> None:
    """A handle step that ran out escalates by itself when the type says ``auto_escalate``."""
    matter_type = repository.type_by_id(session, matter.type_id)
    if matter_type is not None and matter_type.auto_escalate and level_above(matter.owner_level) is not None:
        MATTER_WORKFLOW.transition(session, matter, "escalate", SYSTEM,
                                   note="办理超时，自动上报上一级 / handling time ran out: escalated automatically")


SHANGHAI = ZoneInfo("Asia/Shanghai")
DEADLINE_RULES = {
    "yellow": alerts.Rule("matters.deadline_yellow", "事项办理时限已用 75%", "75 % of a matter step's time used"),
    "red": alerts.Rule("matters.deadline_red", "事项办理超时", "A matter step's time ran out"),
}


def _reason(matter: Matter, colour: str) -> alerts.Reason:
    due = matter.step_due_at.astimezone(SHANGHAI).strftime("%m-%d %H:%M") if matter.step_due_at else "?"
    return alerts.Reason(f"事项 {matter.number} 的“{matter.step}”环节时限至 {due}"
                         + ("，已用 75%" if colour == "yellow" else "，已超时"),
                         f"matter {matter.number}: step '{matter.step}' is due {due}"
                         + (", 75 % used" if colour == "yellow" else ", overdue"))


def _announce_alert(session: Session, matter: Matter, alert: str) -> None:
    from civicgrid.realtime import hub

    above = level_above(matter.owner_level)
    # One message on the owner's division code reaches the owner's channel and every level above it.
    hub.publish(session, channel=f"entity:matter:{matter.id}", event=f"matter.alert.{alert}",
                data={"id": matter.id, "number": matter.number, "alert": alert, "step": matter.step,
                      "due_at": matter.step_due_at.isoformat() if matter.step_due_at else None,
                      "owner": matter.division_code,
                      "above": owner_code(matter.grid_code, above) if above else None},
                division_code=matter.division_code)


def step_due(session: Session, at: datetime, amount: int, unit: str) -> datetime:
    """When a timed step started at ``at`` with a limit of ``amount`` ``unit`` runs out (UTC)."""
    return due_after(session, at, (amount, unit))


def start_step(session: Session, matter: Matter, name: str, at: datetime) -> None:
    """Start the timed step ``name`` (accept / handle / verify) with the type's limit."""
    CLOCK.begin(session, matter, name, at)


def _stop_step(matter: Matter) -> None:
    CLOCK.stop(matter)
    matter.extension_days = None


def step_deadlines(matter: Matter, step: Step) -> Iterable[Deadline]:
    """The yellow and red timers of the step that ``matter`` is in (set by the effect)."""
    return CLOCK.deadlines(matter, step)


# ---------------------------------------------------------------- effects


def _accept(session: Session, matter: Matter, step: Step) -> None:
    matter.accepted_at = step.at


def _dispatch(session: Session, matter: Matter, step: Step) -> None:
    matter.dispatched_at = step.at
    start_step(session, matter, "handle", step.at)
    inbox_notices.matter_dispatched(session, matter, step.principal.user_id or None)


def _resolve(session: Session, matter: Matter, step: Step) -> None:
    matter.result = str(step.data.get("result") or step.note or "")
    matter.handled_at = step.at
    start_step(session, matter, "verify", step.at)
    _ask_to_verify(session, matter, step)


def _ask_to_verify(session: Session, matter: Matter, step: Step) -> None:
    """The default verifier is named on the timeline and told through the inbox."""
    kind, people = default_verifier(session, matter, handler_id=step.principal.user_id or None)
    step.data["verifier"] = str(kind)
    recipients = [u.id for u in people]
    if recipients:
        inbox_notices.matter_to_verify(session, matter, recipients, on_site=kind == VerifierKind.GRID_WORKER,
                                       actor_id=step.principal.user_id or None)


def _settle_on_spot(session: Session, matter: Matter, step: Step) -> None:
    if not repository.has_photo(session, matter.id, "result"):
        raise Invalid("就地办结须先上传处置结果照片", "Settling on the spot needs a photo of the result first",
                      details={"field": "photo"})
    matter.result = str(step.data["result"])
    matter.accepted_at = matter.dispatched_at = matter.handled_at = step.at
    matter.on_spot = True
    matter.spot_check = draw_spot_check(settings().spot_check_share)
    step.data["spot_check"] = matter.spot_check  # on the timeline: who verifies it, and why
    start_step(session, matter, "verify", step.at)
    _ask_to_verify(session, matter, step)


def _correct_place(session: Session, matter: Matter, step: Step) -> None:
    """Re-route from the corrected point: its grid, and the unit of the type's owning level there
    (a fresh acceptance by that unit); the old and new grid and owner go on the timeline."""
    from civicgrid.geo import service as geo

    lng, lat = float(step.data["lng"]), float(step.data["lat"])
    grid = geo.locate_code(session, lng, lat)
    if grid is None:
        raise Invalid("该位置不在本市任何网格内", "The point lies in no grid of the city", details={"field": "lng"})
    matter_type = repository.type_by_id(session, matter.type_id)
    assert matter_type is not None
    step.data.update(from_grid=matter.grid_code, from_division=matter.division_code,
                     from_lng=matter.lng, from_lat=matter.lat, to_grid=grid)
    matter.lng, matter.lat, matter.grid_code = lng, lat, grid
    if step.data.get("address"):
        matter.address = str(step.data["address"])
    _move_owner(matter, matter_type.owner_level)
    step.data["to_division"] = matter.division_code
    matter.accepted_at = None
    matter.extension_days = None
    start_step(session, matter, "accept", step.at)


def _send_back(session: Session, matter: Matter, step: Step) -> None:
    matter.rework_count += 1
    start_step(session, matter, "handle", step.at)


def _verify(session: Session, matter: Matter, step: Step) -> None:
    """The grid worker verifies on site: a photo of what they found, taken since it was handled."""
    if (is_grid_worker_of(matter, step.principal) and not is_owner_unit(matter, step.principal)
            and not repository.has_photo(session, matter.id, "verify", since=matter.handled_at)):
        raise Invalid("现场核查须先上传核查照片", "Verifying on site needs a photo of what you found first",
                      details={"field": "photo"})
    _stop_step(matter)


def _close(session: Session, matter: Matter, step: Step) -> None:
    matter.closed_at = step.at
    matter.settled_level = matter.owner_level
    matter.settled_division_code = matter.division_code
    _stop_step(matter)


def _end(session: Session, matter: Matter, step: Step) -> None:
    matter.closed_at = step.at
    _stop_step(matter)


def _evaluate(session: Session, matter: Matter, step: Step) -> None:
    matter.satisfaction = int(step.data["satisfaction"])
    matter.evaluation_note = step.note


def _escalate(session: Session, matter: Matter, step: Step) -> None:
    above = level_above(matter.owner_level)
    assert above is not None  # the guard refused otherwise
    _move_owner(matter, above)
    matter.escalations += 1
    matter.extension_days = None
    start_step(session, matter, "accept", step.at)


def _return(session: Session, matter: Matter, step: Step) -> None:
    above = level_above(matter.owner_level)
    assert above is not None
    _move_owner(matter, above)
    _stop_step(matter)


def _reassign(session: Session, matter: Matter, step: Step) -> None:
    level = str(step.data["level"])
    target = owner_code(matter.grid_code, level)
    if not step.principal.governs(target):
        raise Invalid("只能交办给本辖区内的单位", "A matter can only be reassigned within your jurisdiction",
                      details={"field": "level"})
    _move_owner(matter, level)
    start_step(session, matter, "accept", step.at)


def _request_extension(session: Session, matter: Matter, step: Step) -> None:
    matter.extension_days = int(step.data["days"])


def _approve_extension(session: Session, matter: Matter, step: Step) -> None:
    days = matter.extension_days or 0
    if matter.step_due_at is not None:
        matter.step_due_at = worktime.deadline(session, matter.step_due_at, days, Unit.WORKING_DAYS).at.astimezone(UTC)
    matter.alert = "none"
    matter.extension_days = None
    if matter.external_system == HOTLINE and matter.step_due_at is not None:
        # The hotline tells its caller the new date (延期告知): an outbox event it reads back.
        from civicgrid.events import service as events

        asked = repository.last_note(session, matter.id, "request_extension") or ""
        events.publish(session, "matters.extended", entity_type="matter", entity_id=matter.id,
                       division_code=matter.division_code, matter_id=matter.id, number=matter.number,
                       external_system=matter.external_system, external_ref=matter.external_ref or "",
                       owner_division_code=matter.division_code, days=days, step_due_at=matter.step_due_at,
                       reason=asked, extended_at=step.at)


def _deny_extension(session: Session, matter: Matter, step: Step) -> None:
    matter.extension_days = None


def _supervise(session: Session, matter: Matter, step: Step) -> None:
    days = int(step.data.get("days") or 3)
    due = worktime.deadline(session, step.at, days, Unit.WORKING_DAYS).at.astimezone(UTC)
    order = SupervisionOrder(matter_id=matter.id, division_code=matter.division_code,
                             issuer_id=step.principal.user_id or "system",
                             issuer_division_code=(step.principal.division_code or matter.division_code)[:15],
                             note=step.note or "", due_at=due, created_at=step.at)
    SUPERVISION_WORKFLOW.start(session, order, step.principal, action="issue", status=SupervisionStatus.OPEN,
                               note=step.note, data={"matter_id": matter.id, "days": days},
                               deadlines=_supervision_due, at=step.at)
    matter.supervised = True
    inbox_notices.supervision_ordered(session, matter, step.note, order.due_at, step.principal.user_id or None)


def _answer_supervision(session: Session, matter: Matter, step: Step) -> None:
    for order in repository.open_supervision_orders(session, matter.id, step.principal):
        SUPERVISION_WORKFLOW.transition(session, order, "answer", step.principal, note=step.note)


def _decide_duplicate(session: Session, matter: Matter, step: Step, field: str, action: str) -> None:
    other = str(step.data[field])
    link = repository.duplicate(session, matter.id, other, step.principal)
    if link is None:
        raise Invalid("该事项不是本事项的疑似重复", "That matter is not a duplicate candidate of this one",
                      details={"field": field})
    DUPLICATE_WORKFLOW.transition(session, link, action, step.principal, note=step.note)


def _merge(session: Session, matter: Matter, step: Step) -> None:
    _decide_duplicate(session, matter, step, "duplicate_of", "merge")
    matter.duplicate_of = str(step.data["duplicate_of"])
    _end(session, matter, step)


def _keep_separate(session: Session, matter: Matter, step: Step) -> None:
    _decide_duplicate(session, matter, step, "candidate_id", "keep_separate")


# ---------------------------------------------------------------- sub-entities' tables


class SupervisionStatus(StrEnum):
    """Where a supervision order (督办单) stands."""

    OPEN = "open"
    ANSWERED = "answered"
    OVERDUE = "overdue"


def _supervision_due(order: SupervisionOrder, step: Step) -> list[Deadline]:
    return [Deadline("due", order.due_at, SUPERVISION_KIND, {"matter_id": order.matter_id})]


def _answered(session: Session, order: SupervisionOrder, step: Step) -> None:
    order.answer = step.note
    order.answered_at = step.at


# issue (start) → open; answer (the owner's answer_supervision) → answered, from open or overdue;
# expire (its timer, for the system) → overdue. Answering cancels the due timer.
SUPERVISION_WORKFLOW = Workflow("matter_supervision", [
    Transition("answer", {SupervisionStatus.OPEN, SupervisionStatus.OVERDUE}, SupervisionStatus.ANSWERED,
               permission="matters.handle", effect=_answered),
    Transition("expire", {SupervisionStatus.OPEN}, SupervisionStatus.OVERDUE, permission="matters.supervise"),
], status_enum=SupervisionStatus)


class DuplicateDecision(StrEnum):
    """What the owning unit decided about a duplicate candidate (written ``pending`` by intake)."""

    PENDING = "pending"
    MERGED = "merged"
    KEPT = "kept"


# The matter's merge / keep_separate decide its candidate link through this table.
DUPLICATE_WORKFLOW = Workflow("matter_duplicate", [
    Transition("merge", {DuplicateDecision.PENDING}, DuplicateDecision.MERGED, permission="matters.handle"),
    Transition("keep_separate", {DuplicateDecision.PENDING}, DuplicateDecision.KEPT, permission="matters.handle"),
], status_enum=DuplicateDecision, status_attr="decision")


# ---------------------------------------------------------------- external systems (12345 hotline)

HOTLINE = "hotline_12345"


def _hotline_owner(matter: Matter, step: Step) -> Refusal:
    if matter.external_system != HOTLINE:
        return ("本事项不是 12345 热线转来的工单", "This matter is not a ticket of the 12345 hotline")
    return _owner(matter, step)


def _hotline_client(matter: Matter, step: Step) -> Refusal:
    if (matter.external_system != HOTLINE or step.principal.role != "api_client"
            or matter.reporter_id != step.principal.user_id):
        return ("回访结果只能由 12345 热线系统报送", "Only the 12345 hotline's system records its return visit")
    return None


def _hotline_unvisited(matter: Matter, step: Step) -> Refusal:
    """An unreached return visit, once: a second report of the same ticket is refused."""
    if (refusal := _hotline_client(matter, step)) is not None:
        return refusal
    session = object_session(matter)
    if session is not None and repository.acted_on(session, matter.id, step.principal.user_id or "",
                                                   ("return_visit_unreached",)):
        return ("已记录回访未联系上", "The unreached return visit is already recorded")
    return None


def _hand_back(session: Session, matter: Matter, step: Step) -> None:
    """退回热线: the ticket leaves the unit's queue (a final status) and the hotline is told
    through the outbox (``matters.handed_back``)."""
    from civicgrid.events import service as events

    _end(session, matter, step)
    events.publish(session, "matters.handed_back", entity_type="matter", entity_id=matter.id,
                   division_code=matter.division_code, matter_id=matter.id, number=matter.number,
                   external_system=matter.external_system or "", external_ref=matter.external_ref or "",
                   owner_division_code=matter.division_code, reason=step.note or "", handed_back_at=step.at)


def _can_hand_off(matter: Matter, step: Step) -> Refusal:
    if (refusal := _owner(matter, step)) is not None:  # no query for a non-owner (see above)
        return refusal
    session = object_session(matter)
    matter_type = repository.type_by_id(session, matter.type_id) if session else None
    if matter_type is None or matter_type.handoff != "disputes":
        return ("该事项类型不移交矛盾纠纷化解", "This matter type is not handed off to dispute resolution")
    return None


def _hand_off(session: Session, matter: Matter, step: Step) -> None:
    """移交矛盾纠纷: the matter closes here, without a settled level (the dispute's counts instead),
    and the disputes module registers it from the ``matters.dispute_reported`` hand-off."""
    from civicgrid.events import service as events

    matter_type = repository.type_by_id(session, matter.type_id)
    assert matter_type is not None
    _end(session, matter, step)
    events.publish(session, "matters.dispute_reported", entity_type="matter", entity_id=matter.id,
                   division_code=matter.division_code, matter_id=matter.id, number=matter.number,
                   type_code=matter.type_code, type_name=matter_type.name_zh, grid_code=matter.grid_code,
                   reported_at=matter.reported_at, summary=matter.description or matter.title)


# ---------------------------------------------------------------- the table

H, D, V, SV = "matters.handle", "matters.dispatch", "matters.verify", "matters.supervise"
RV = "matters.return_visit"
R = "matters.report"
EARLY = {S.REPORTED, S.ESCALATED, S.ACCEPTED}

MATTER_WORKFLOW = Workflow("matter", [
    Transition("accept", WAITING, S.ACCEPTED, permission=H, guard=_owner, effect=_accept, keep_deadlines=True),
    Transition("reject", WAITING, S.REJECTED, permission=H, guard=_owner, effect=_end, note_required=True),
    Transition("cancel", EARLY, S.CANCELLED, permission=H, guard=_owner, effect=_end, note_required=True),
    Transition("dispatch", {S.ACCEPTED}, S.DISPATCHED, permission=H, guard=_owner, effect=_dispatch,
               deadlines=step_deadlines),
    Transition("start", {S.DISPATCHED}, S.HANDLING, permission=H, guard=_owner, keep_deadlines=True),
    Transition("resolve", WORKING, S.HANDLED, permission=H, guard=_owner, effect=_resolve, deadlines=step_deadlines,
               schema=ResolvePayload),
    Transition("verify", {S.HANDLED}, S.VERIFIED, permission=V, guard=_verifier, effect=_verify),
    Transition("send_back", {S.HANDLED}, S.HANDLING, permission=V, guard=_verifier, effect=_send_back,
               deadlines=step_deadlines, note_required=True),
    Transition("close", {S.VERIFIED}, S.CLOSED, permission=V, guard=_owner_or_above, effect=_close),
    Transition("evaluate", {S.CLOSED}, S.EVALUATED, permission=R, guard=_rater, effect=_evaluate,
               schema=EvaluatePayload),
    *[Transition("undo", {source}, back, permission=permission, guard=_undoer(undone, back), effect=_undo,
                 keep_deadlines=True)
      for undone, source, back, permission in (("accept", S.ACCEPTED, S.REPORTED, H),
                                               ("accept", S.ACCEPTED, S.ESCALATED, H),
                                               ("start", S.HANDLING, S.DISPATCHED, H),
                                               ("close", S.CLOSED, S.VERIFIED, V))],
    Transition("settle_on_spot", {S.REPORTED}, S.HANDLED, permission=H, guard=_on_the_spot, effect=_settle_on_spot,
               deadlines=step_deadlines, schema=SettleOnSpotPayload),
    Transition("withdraw", {S.REPORTED}, S.CANCELLED, permission=R, guard=_withdrawer, effect=_end),
    *[Transition("correct_place", {status}, S.REPORTED, permission=permission, guard=_place_corrector,
                 effect=_correct_place, deadlines=step_deadlines, note_required=True, schema=CorrectPlacePayload)
      for status in EARLY for permission in (H, R)],
    Transition("escalate", WAITING | {S.ACCEPTED} | WORKING, S.ESCALATED, permission=H, guard=_can_escalate,
               effect=_escalate, deadlines=step_deadlines, note_required=True),
    Transition("return", EARLY, S.RETURNED, permission=H, guard=_can_return, effect=_return, note_required=True),
    Transition("reassign", {S.RETURNED}, S.REPORTED, permission=D, guard=_owner, effect=_reassign,
               deadlines=step_deadlines, schema=ReassignPayload),
    *[Transition("request_extension", {status}, status, permission=H, guard=_no_extension_pending,
                 effect=_request_extension, keep_deadlines=True, note_required=True, schema=ExtensionPayload)
      for status in WORKING],
    *[Transition("approve_extension", {status}, status, permission=D, guard=_extension_pending,
                 effect=_approve_extension, deadlines=step_deadlines) for status in WORKING],
    *[Transition("deny_extension", {status}, status, permission=D, guard=_extension_pending,
                 effect=_deny_extension, keep_deadlines=True) for status in WORKING],
    *[Transition("supervise", {status}, status, permission=SV, guard=_above, effect=_supervise,
                 keep_deadlines=True, note_required=True, schema=SupervisePayload) for status in OPEN],
    *[Transition("answer_supervision", {status}, status, permission=H, guard=_supervision_open,
                 effect=_answer_supervision, keep_deadlines=True, note_required=True) for status in OPEN],
    *[Transition("urge", {status}, status, permission=permission, guard=_above, keep_deadlines=True)
      for status in OPEN for permission in (SV, D)],
    Transition("merge", EARLY, S.MERGED, permission=H, guard=_has_candidates, effect=_merge, schema=MergePayload),
    Transition("hand_off", EARLY, S.HANDED_OFF, permission=H, guard=_can_hand_off, effect=_hand_off),
    *[Transition("keep_separate", {status}, status, permission=H, guard=_has_candidates, effect=_keep_separate,
                 keep_deadlines=True, schema=KeepSeparatePayload) for status in EARLY],
    Transition("return_to_hotline", EARLY | WORKING, S.HANDED_BACK, permission=H, guard=_hotline_owner,
               effect=_hand_back, note_required=True),
    Transition("return_visit", {S.CLOSED}, S.EVALUATED, permission=RV, guard=_hotline_client, effect=_evaluate,
               schema=EvaluatePayload),
    # The caller could not be reached: on the timeline, and the matter stays not rated (未评价).
    Transition("return_visit_unreached", {S.CLOSED}, S.CLOSED, permission=RV, guard=_hotline_unvisited,
               note_required=True),
], status_enum=MatterStatus, announce=lambda matter: {
    "number": matter.number, "status": str(matter.status), "owner": matter.division_code,
    "owner_level": matter.owner_level, "type": matter.type_code}, reach=reach)


def allowed_actions(matter: Matter, principal: Principal) -> list[str]:
    """The actions this caller may take now: status, permission, jurisdiction and guard (the
    kit's one list, also in every 409 body)."""
    return MATTER_WORKFLOW.allowed_actions(matter, principal)


# ---------------------------------------------------------------- timer handlers

# accept: from reported (or escalated, or reassigned) until dispatched; handle: from dispatch
# until handled; verify: from handled until verified. Limits from the matter's catalogue type.
CLOCK = StepClock(MATTER_WORKFLOW, [
    TimedStep("accept", _limit("accept"), WARN_SHARE),
    TimedStep("handle", _limit("handle"), WARN_SHARE, on_expiry=_auto_escalate),
    TimedStep("verify", _limit("verify"), WARN_SHARE),
], warning_kind=WARNING_KIND, expiry_kind=EXPIRY_KIND, rules=DEADLINE_RULES, load=repository.get_unscoped,
    is_open=lambda matter: matter.status in OPEN, reason=_reason, label=lambda matter: matter.number,
    on_alert=_announce_alert, notify="matters.handle")


@timers.handler(SUPERVISION_KIND)
def on_supervision_due(session: Session, timer: Timer) -> None:
    """A supervision order that is still open at its deadline turns overdue, and says so."""
    from civicgrid.realtime import hub

    order = repository.supervision_order_unscoped(session, timer.ref_id)
    if order is None or order.status != SupervisionStatus.OPEN:
        return
    SUPERVISION_WORKFLOW.transition(session, order, "expire", SYSTEM,
                                    note="督办期限已到 / the supervision order's deadline passed")
    hub.publish(session, channel=f"entity:matter:{order.matter_id}", event="matter.supervision.overdue",
                data={"id": order.matter_id, "order": order.id, "due_at": order.due_at.isoformat()},
                division_code=order.division_code)
