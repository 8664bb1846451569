"""The life cycles of a dispute, its mediation sessions and its agreement, as transition tables.

Dispute::

    registered ─route─▶ routed ─accept─▶ mediating ─settle_oral / settle_written─▶ settled
    routed | mediating ─transfer (reason required)─▶ routed        (escalation is a transfer)
    mediating ─fail (routes given, 人民调解法 Art. 26)─▶ failed
    registered | routed | mediating ─refuse (a party's refusal recorded, Art. 17)─▶ refused
    registered | routed | mediating ─report_police (Art. 25)─▶ same status
    registered | routed | mediating ─record_threat (what was said, by whom)─▶ same status
    routed | mediating ─extend_limit (court referral, both parties consent, before expiry)─▶ same status
    any status ─record_turned (criminal 民转刑 | collective 群体性事件, once each)─▶ same status

Who: ``route`` is the registering desk's (``disputes.register``) or a supervisor's
(``disputes.supervise``); ``accept``, ``transfer``, ``settle_*``, ``fail``, ``refuse`` and
``report_police`` belong to the handler — a holder of ``disputes.mediate`` whose jurisdiction
holds the handling body's division (a village mediator cannot act once the township has the
file) — and supervisors may transfer too. The settled level is the level of the body that
settled it (its division code: village, township, county, city).

The limit (:func:`arm_limit`): a court referral runs from the signed receipt under the statutory
rule of its mode (最高人民法院关于人民法院特邀调解的规定 2016 Art. 27), whoever handles it; people's
mediation runs from each acceptance by the local-practice days of its complexity, never beyond
the practice's maximum from the first acceptance. A breach sets ``overdue`` and raises a warning.

Agreement::

    (draft) drafted ─sign (keep)─▶ drafted ─seal (all parties and the mediator signed)─▶ effective
    (record_oral) effective
    effective ─apply_confirmation─▶ effective ─record_court_decision─▶ effective
    effective ─return_visit (performed / partly / not_performed)─▶ effective   (履行回访)

Sealing makes a written agreement effective (Art. 29), settles the dispute, and arms the reminder
of the 30-day period to apply for judicial confirmation (Art. 33; 民事诉讼法 2023 Art. 205).

Session: (record) held.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session, object_session

from civicgrid.alerts import service as alerts
from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import jurisdiction_prefix
from civicgrid.disputes import catalogue, early_warning, repository
from civicgrid.disputes.models import Agreement, Dispute, MediationSession
from civicgrid.events import service as events
from civicgrid.kit.clock import CHINA_TZ
from civicgrid.kit.errors import Invalid, NotFound
from civicgrid.timers import service as timers
from civicgrid.timers.models import Timer
from civicgrid.workflow.engine import SYSTEM, Deadline, Step, Transition, Workflow
from civicgrid.worktime import service as worktime
from civicgrid.worktime import statutory


class DisputeStatus(StrEnum):
    REGISTERED = "registered"  # 已登记
    ROUTED = "routed"  # 已分流（待承办单位受理）
    MEDIATING = "mediating"  # 调解中
    SETTLED = "settled"  # 调解成功
    FAILED = "failed"  # 调解不成（告知其他途径）
    REFUSED = "refused"  # 当事人拒绝调解


S = DisputeStatus
OPEN = frozenset({S.REGISTERED, S.ROUTED, S.MEDIATING})
CONCLUDED = frozenset({S.SETTLED, S.FAILED, S.REFUSED})

LIMIT_KIND = "disputes.limit"
REMINDER_KIND = "disputes.judicial_reminder"

COURT_RULES = {
    "pre_filing": "court_commissioned_pre_filing",
    "entrusted_ordinary": "court_entrusted_ordinary",
    "entrusted_summary": "court_entrusted_summary",
}

RULES = {
    "limit_court": alerts.Rule(
        "disputes.limit_court",
        "法院委派/委托调解超过期限",
        "Court-referred mediation past its limit",
        "最高人民法院关于人民法院特邀调解的规定（2016）第27条",
    ),
    "limit_practice": alerts.Rule(
        "disputes.limit_practice", "人民调解超过本市惯例时限", "People's mediation past the city's practice limit", None
    ),
    "police": alerts.Rule(
        "disputes.police_referral",
        "纠纷可能激化，已报告公安机关",
        "Dispute likely to turn into a public-order or criminal case: reported to the police",
        "人民调解法（2010）第25条",
    ),
    "judicial": alerts.Rule(
        "disputes.judicial_confirmation_due",
        "调解协议司法确认申请期限将届满",
        "The period to apply for judicial confirmation is ending",
        "人民调解法（2010）第33条；民事诉讼法（2023）第205条",
    ),
    "screening": alerts.Rule(
        "disputes.screening_missing", "矛盾纠纷排查报告逾期未报", "Screening report not filed by its day", None
    ),
}

Refusal = tuple[str, str] | None


# ---------------------------------------------------------------- levels and handlers


def level_of(division_code: str) -> str:
    """village / township / county / city / province: the level of a body by its division code."""
    return catalogue.LEVEL_OF_PREFIX.get(len(jurisdiction_prefix(division_code)), "village")


def handles(dispute: Dispute, principal: Principal) -> bool:
    """Whether the caller's jurisdiction holds the body handling the dispute now."""
    if principal.role == SYSTEM.role:
        return True
    if not dispute.handler_division_code:
        return False
    return jurisdiction_prefix(dispute.handler_division_code).startswith(principal.jurisdiction)


def _handler(dispute: Dispute, step: Step) -> Refusal:
    return (
        None
        if handles(dispute, step.principal)
        else ("只有承办单位（或其上级）可以执行此操作", "Only the handling body (or a level above it) may do this")
    )


def _session(entity: Any) -> Session:
    session = object_session(entity)
    if session is None:
        raise RuntimeError("entity is not attached to a session")
    return session


def set_handler(session: Session, dispute: Dispute, unit_id: str) -> None:
    """Make the org unit ``unit_id`` the dispute's handler: it must be a mediation body (a type
    of :data:`catalogue.HANDLER_KINDS`) on the dispute's chain of divisions (its village,
    township, county or city) or a county-wide body of the dispute's county."""
    unit = repository.unit_for_routing(session, unit_id)
    if unit is None:
        raise Invalid("承办单位不存在", "No such handling unit", details={"field": "unit_id"})
    kind = catalogue.handler_kind_of(unit.type_code)
    if kind is None:
        raise Invalid(
            "该机构不能承办矛盾纠纷调解", "That org unit cannot handle a dispute", details={"field": "unit_id"}
        )
    prefix = jurisdiction_prefix(unit.division_code)
    if not (dispute.division_code.startswith(prefix) or unit.division_code[:6] == dispute.division_code[:6]):
        raise Invalid(
            "承办单位须在纠纷所在地的上级区划内",
            "The handling unit must lie over the dispute's place",
            details={"field": "unit_id"},
        )
    if dispute.handler_unit_id == unit.id:
        raise Invalid("已由该单位承办", "That unit handles it already", details={"field": "unit_id"})
    dispute.handler_unit_id = unit.id
    dispute.handler_kind = kind
    dispute.handler_division_code = unit.division_code
    dispute.handler_level = level_of(unit.division_code)


# ---------------------------------------------------------------- the limit


def _end_of_local_day(moment: datetime, days: int) -> datetime:
    day = moment.astimezone(CHINA_TZ).date() + timedelta(days=days + 1)
    return datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ).astimezone(UTC)


def limit_key(dispute_id: str) -> str:
    return f"dispute_limit:{dispute_id}"


def arm_limit(session: Session, dispute: Dispute, at: datetime) -> None:
    """(Re)compute the dispute's limit and arm its timer: a court referral by its statutory rule
    from the signed receipt; people's mediation by local practice from this acceptance."""
    if dispute.court_mode:
        if dispute.due_at is not None:  # counted from the receipt once, whoever handles it
            return
        rule = COURT_RULES[dispute.court_mode]
        start = dispute.court_receipt_at or dispute.registered_at
        result = statutory.deadline(rule, start, [], worktime.load(session))
        assert result.due_at is not None
        dispute.due_at = result.due_at
        dispute.limit_basis = rule
    else:
        practice = catalogue.practice()
        days = int(practice["mediation_days"][dispute.complexity])
        first = dispute.mediation_started_at or at
        dispute.due_at = min(_end_of_local_day(at, days), _end_of_local_day(first, int(practice["mediation_max_days"])))
        dispute.limit_basis = f"local_practice:{days}d"
    timers.cancel(session, limit_key(dispute.id))
    timers.arm(
        session,
        kind=LIMIT_KIND,
        key=limit_key(dispute.id),
        due_at=dispute.due_at,
        ref_type="dispute",
        ref_id=dispute.id,
        division_code=dispute.division_code,
        payload={"due": dispute.due_at.isoformat()},
    )


# ---------------------------------------------------------------- effects


def _route(session: Session, dispute: Dispute, step: Step) -> None:
    set_handler(session, dispute, str(step.data.get("unit_id") or ""))
    dispute.routed_at = step.at
    if dispute.court_mode:
        arm_limit(session, dispute, step.at)


def _accept(session: Session, dispute: Dispute, step: Step) -> None:
    mediator_id = step.data.get("mediator_id")
    if mediator_id:
        if repository.mediator(session, step.principal, str(mediator_id)) is None:
            raise Invalid(
                "调解员不存在或不在本辖区", "No such mediator in your jurisdiction", details={"field": "mediator_id"}
            )
        dispute.mediator_id = str(mediator_id)
    arm_limit(session, dispute, step.at)
    if dispute.mediation_started_at is None:
        dispute.mediation_started_at = step.at


def _transfer(session: Session, dispute: Dispute, step: Step) -> None:
    set_handler(session, dispute, str(step.data.get("unit_id") or ""))
    dispute.transfers += 1
    dispute.routed_at = step.at
    dispute.mediator_id = None
    if not dispute.court_mode:  # people's mediation: the new body's own time starts on acceptance
        timers.cancel(session, limit_key(dispute.id))
        dispute.due_at = None


OUTCOME_WORDS = {
    "written": ("书面调解协议生效", "written agreement effective"),
    "oral": ("达成口头协议", "oral agreement"),
    "failed": ("调解不成", "mediation failed"),
    "refused": ("当事人拒绝调解", "a party refused mediation"),
}


def conclude(session: Session, dispute: Dispute, at: datetime, outcome: str) -> None:
    """End the dispute: stamp the outcome, mark it overdue if it ended past its limit, stop the
    limit's timer, and withdraw its early warnings still open (``disputes.ew_*``: what they warned
    of can no longer happen on this file). Limit breaches and Art. 25 police referrals stay open:
    they are facts someone must answer for, not forecasts."""
    dispute.concluded_at = at
    dispute.outcome = outcome
    if dispute.due_at is not None and at > dispute.due_at:
        dispute.overdue = True
    timers.cancel(session, limit_key(dispute.id))
    zh, en = OUTCOME_WORDS[outcome]
    alerts.withdraw_for_source(
        session,
        source_type="dispute",
        source_id=dispute.id,
        rule_prefix=early_warning.RULE_PREFIX,
        reason="source_closed",
        note=f"纠纷 {dispute.number} 已办结（{zh}），预警撤回 / "
        f"dispute {dispute.number} concluded ({en}): warning withdrawn",
    )


def _settle(outcome: str) -> Any:
    def effect(session: Session, dispute: Dispute, step: Step) -> None:
        conclude(session, dispute, step.at, outcome)
        dispute.settled_level = dispute.handler_level
        dispute.settled_division_code = dispute.handler_division_code
        dispute.settled_unit_id = dispute.handler_unit_id
        if outcome == "oral":
            agreement = Agreement(
                dispute_id=dispute.id,
                division_code=dispute.division_code,
                kind="oral",
                terms=str(step.data.get("terms") or step.note or ""),
                created_at=step.at,
                effective_at=step.at,
            )
            AGREEMENT_WORKFLOW.start(
                session,
                agreement,
                step.principal,
                action="record_oral",
                status="effective",
                note="口头协议（人民调解法第30条）",
            )

    return effect


def _fail(session: Session, dispute: Dispute, step: Step) -> None:
    conclude(session, dispute, step.at, "failed")
    dispute.other_routes = ",".join(step.data["routes"])


def _refuse(session: Session, dispute: Dispute, step: Step) -> None:
    conclude(session, dispute, step.at, "refused")
    dispute.other_routes = ",".join(catalogue.OTHER_ROUTES)


def _report_police(session: Session, dispute: Dispute, step: Step) -> None:
    """人民调解法 Art. 25: a dispute likely to turn into a public-order or criminal case is reported
    to the police — a hand-off (``disputes.police_referral``) and a warning to the place."""
    dispute.police_reported = True
    reason = " ".join((step.note or "").split())
    events.publish(
        session,
        "disputes.police_referral",
        entity_type="dispute",
        entity_id=dispute.id,
        division_code=dispute.division_code,
        dispute_id=dispute.id,
        risk_level=dispute.risk_level,
        reasons=[reason],
        mediator_id=step.principal.user_id or "system",
    )
    alerts.raise_alert(
        session,
        rule=RULES["police"],
        level="orange",
        reasons=[
            alerts.Reason(
                f"纠纷 {dispute.number} 可能激化：{reason}", f"dispute {dispute.number} may escalate: {reason}"
            )
        ],
        division_code=dispute.division_code,
        source_type="dispute",
        source_id=dispute.id,
        source_label=dispute.number,
        principal=step.principal,
    )


def _record_threat(session: Session, dispute: Dispute, step: Step) -> None:
    """A threat heard or reported (扬言报复、威胁): counted on the file for the early warning;
    the words stay in the timeline note."""
    dispute.threats += 1


TURNED = {"criminal": "turned_criminal_at", "collective": "turned_collective_at"}


def _not_turned_yet(dispute: Dispute, step: Step) -> Refusal:
    kinds = [str(step.data["kind"])] if step.data.get("kind") else list(TURNED)
    if all(getattr(dispute, TURNED[k]) is not None for k in kinds):
        return ("已记录", "Already recorded")
    return None


def _record_turned(session: Session, dispute: Dispute, step: Step) -> None:
    """治安防范到位: the dispute turned into a criminal case (民转刑) or a collective incident
    (群体性事件) — recorded once per kind, open or concluded (a failed mediation may turn later);
    what happened stays in the timeline note."""
    setattr(dispute, TURNED[str(step.data["kind"])], step.at)


def _extendable(dispute: Dispute, step: Step) -> Refusal:
    if not dispute.court_mode or dispute.due_at is None:
        return ("只有法院委派/委托调解的期限可以延长", "Only a court referral's limit can be extended")
    if dispute.overdue or step.at > dispute.due_at:
        return ("期限已届满，不能延长", "The limit has passed: it can no longer be extended")
    return _handler(dispute, step)


def _extend_limit(session: Session, dispute: Dispute, step: Step) -> None:
    """特邀调解规定 (2016) Art. 27: the limit of a court referral may be extended when both parties
    agree; the length is what they agreed (no cap was verified), counted in whole days from the
    limit now running."""
    assert dispute.due_at is not None
    dispute.due_at = dispute.due_at + timedelta(days=int(step.data["days"]))
    timers.cancel(session, limit_key(dispute.id))
    timers.arm(
        session,
        kind=LIMIT_KIND,
        key=limit_key(dispute.id),
        due_at=dispute.due_at,
        ref_type="dispute",
        ref_id=dispute.id,
        division_code=dispute.division_code,
        payload={"due": dispute.due_at.isoformat()},
    )


def _has_effective_written(dispute: Dispute, step: Step) -> Refusal:
    agreement = repository.agreement_of(_session(dispute), dispute.id, step.principal)
    if agreement is None or agreement.kind != "written" or agreement.status != "effective":
        return (
            "书面调解协议尚未生效（须各方当事人和调解员签名并加盖调解委员会印章）",
            "The written agreement is not effective yet (all parties and the mediator sign, then the seal)",
        )
    return _handler(dispute, step)


R, M, SV = "disputes.register", "disputes.mediate", "disputes.supervise"
ACTIVE = {S.REGISTERED, S.ROUTED, S.MEDIATING}

DISPUTE_WORKFLOW = Workflow(
    "dispute",
    [
        *[Transition("route", {S.REGISTERED}, S.ROUTED, permission=p, effect=_route) for p in (R, SV)],
        Transition("accept", {S.ROUTED}, S.MEDIATING, permission=M, guard=_handler, effect=_accept),
        Transition(
            "transfer",
            {S.ROUTED, S.MEDIATING},
            S.ROUTED,
            permission=M,
            guard=_handler,
            effect=_transfer,
            note_required=True,
        ),
        Transition("transfer", {S.ROUTED, S.MEDIATING}, S.ROUTED, permission=SV, effect=_transfer, note_required=True),
        Transition("settle_oral", {S.MEDIATING}, S.SETTLED, permission=M, guard=_handler, effect=_settle("oral")),
        Transition(
            "settle_written",
            {S.MEDIATING},
            S.SETTLED,
            permission=M,
            guard=_has_effective_written,
            effect=_settle("written"),
        ),
        Transition("fail", {S.MEDIATING}, S.FAILED, permission=M, guard=_handler, effect=_fail, note_required=True),
        Transition("refuse", ACTIVE, S.REFUSED, permission=M, guard=_handler, effect=_refuse, note_required=True),
        Transition("refuse", ACTIVE, S.REFUSED, permission=R, effect=_refuse, note_required=True),
        *[
            Transition(
                "report_police", {s}, s, permission=M, effect=_report_police, keep_deadlines=True, note_required=True
            )
            for s in ACTIVE
        ],
        *[
            Transition(
                "record_threat", {s}, s, permission=p, effect=_record_threat, keep_deadlines=True, note_required=True
            )
            for s in ACTIVE
            for p in (M, R)
        ],
        *[
            Transition(
                "record_turned",
                {s},
                s,
                permission=p,
                guard=_not_turned_yet,
                effect=_record_turned,
                keep_deadlines=True,
                note_required=True,
            )
            for s in DisputeStatus
            for p in (M, R, SV)
        ],
        *[
            Transition(
                "extend_limit",
                {s},
                s,
                permission=M,
                guard=_extendable,
                effect=_extend_limit,
                keep_deadlines=True,
                note_required=True,
            )
            for s in (S.ROUTED, S.MEDIATING)
        ],
    ],
    status_enum=DisputeStatus,
)


def check_data(action: str, data: dict[str, Any]) -> dict[str, Any]:
    """The extra fields an action needs (422 naming the field) before the transition runs."""
    if action in ("route", "transfer"):
        unit_id = data.get("unit_id")
        if not isinstance(unit_id, str) or not unit_id:
            raise Invalid(
                "unit_id：必填（承办单位）", "unit_id: required (the handling unit)", details={"field": "unit_id"}
            )
        return {"unit_id": unit_id}
    if action == "accept":
        mediator_id = data.get("mediator_id")
        return {"mediator_id": mediator_id} if isinstance(mediator_id, str) and mediator_id else {}
    if action == "fail":
        routes = data.get("routes")
        if not isinstance(routes, list) or not routes or any(r not in catalogue.OTHER_ROUTES for r in routes):
            raise Invalid(
                "routes：须告知当事人其他途径（arbitration/administrative/litigation，人民调解法第26条）",
                "routes: name the routes left to the parties (arbitration, administrative, litigation; "
                "People's Mediation Law Art. 26)",
                details={"field": "routes"},
            )
        return {"routes": [str(r) for r in dict.fromkeys(routes)]}
    if action == "extend_limit":
        days = data.get("days")
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 365:
            raise Invalid(
                "days：延长天数（1–365）", "days: the days of the extension (1–365)", details={"field": "days"}
            )
        if data.get("consent") is not True:
            raise Invalid(
                "consent：须双方当事人同意延长（特邀调解规定第27条）",
                "consent: both parties must agree to the extension (Art. 27)",
                details={"field": "consent"},
            )
        return {"days": days, "consent": True}
    if action == "record_turned":
        kind = data.get("kind")
        if kind not in TURNED:
            raise Invalid(
                "kind：criminal（民转刑）或 collective（群体性事件）",
                "kind: criminal (turned into a criminal case) or collective (a collective incident)",
                details={"field": "kind"},
            )
        return {"kind": kind}
    if action == "settle_oral":
        terms = data.get("terms")
        if not isinstance(terms, str) or not terms.strip():
            raise Invalid(
                "terms：口头协议的内容必填",
                "terms: the oral agreement's content is required",
                details={"field": "terms"},
            )
        return {"terms": terms}
    return {}


def allowed_actions(dispute: Dispute, principal: Principal) -> list[str]:
    if not principal.governs(dispute.division_code):
        return []
    probe = Step(action="", principal=principal, at=dispute.registered_at, source=str(dispute.status), target="")
    allowed: list[str] = []
    for t in DISPUTE_WORKFLOW.actions_from(str(dispute.status)):
        if t.action in allowed or not principal.can(t.permission) or t.action == "settle_written":
            continue
        if t.guard is None or t.guard(dispute, probe) is None:
            allowed.append(t.action)
    return allowed


# ---------------------------------------------------------------- sessions


SESSION_WORKFLOW = Workflow("mediation_session", [])


# ---------------------------------------------------------------- agreements


def _all_signed(agreement: Agreement, step: Step) -> Refusal:
    session = _session(agreement)
    parties = repository.parties_unscoped(session, agreement.dispute_id, "sealing checks every party's signature")
    if not parties or any(p.signed_at is None for p in parties) or agreement.mediator_signed_at is None:
        return (
            "须各方当事人和调解员签名后方可加盖印章（人民调解法第29条）",
            "Every party and the mediator must sign before the seal is applied (People's Mediation Law Art. 29)",
        )
    return None


def _seal(session: Session, agreement: Agreement, step: Step) -> None:
    agreement.sealed_at = step.at
    agreement.effective_at = step.at
    result = statutory.deadline("mediation_judicial_confirmation", step.at, [], worktime.load(session))
    agreement.judicial_due_at = result.due_at


def _reminder(agreement: Agreement, step: Step) -> Iterable[Deadline]:
    if agreement.judicial_due_at is None:
        return []
    lead = timedelta(days=int(catalogue.practice()["judicial_reminder_lead_days"]))
    return [
        Deadline(
            "judicial_reminder",
            max(step.at, agreement.judicial_due_at - lead),
            REMINDER_KIND,
            {"due": agreement.judicial_due_at.isoformat()},
        )
    ]


def _apply_confirmation(session: Session, agreement: Agreement, step: Step) -> None:
    agreement.judicial_status = "applied"
    agreement.judicial_at = step.at


def _court_decision(session: Session, agreement: Agreement, step: Step) -> None:
    agreement.judicial_status = str(step.data["decision"])
    agreement.judicial_at = step.at


def _applied(agreement: Agreement, step: Step) -> Refusal:
    if agreement.kind != "written":
        return ("口头协议不适用", "Not for an oral agreement")
    return None if agreement.judicial_status == "applied" else ("尚未申请司法确认", "No application recorded")


def _not_applied(agreement: Agreement, step: Step) -> Refusal:
    if agreement.kind != "written":
        return ("口头协议不适用", "Not for an oral agreement")
    return None if agreement.judicial_status == "none" else ("已申请司法确认", "Already applied")


PERFORMANCE = ("performed", "partly", "not_performed")


def _is_effective(agreement: Agreement, step: Step) -> Refusal:
    return None if agreement.status == "effective" else ("协议尚未生效", "The agreement is not effective yet")


def _return_visit(session: Session, agreement: Agreement, step: Step) -> None:
    """履行回访: how the agreement is being performed (人民调解法 Art. 31: the committee supervises
    performance)."""
    agreement.performance_status = str(step.data["performed"])
    agreement.visited_at = step.at


AGREEMENT_WORKFLOW = Workflow(
    "mediation_agreement",
    [
        *[
            Transition(
                "return_visit",
                {"effective"},
                "effective",
                permission=p,
                guard=_is_effective,
                effect=_return_visit,
                keep_deadlines=True,
                note_required=True,
            )
            for p in (M, R)
        ],
        Transition("sign", {"drafted"}, "drafted", permission=M, keep_deadlines=True),
        Transition(
            "seal", {"drafted"}, "effective", permission=M, guard=_all_signed, effect=_seal, deadlines=_reminder
        ),
        Transition(
            "apply_confirmation",
            {"effective"},
            "effective",
            permission=M,
            guard=_not_applied,
            effect=_apply_confirmation,
        ),
        Transition(
            "record_court_decision",
            {"effective"},
            "effective",
            permission=M,
            guard=_applied,
            effect=_court_decision,
            keep_deadlines=True,
        ),
    ],
)


# ---------------------------------------------------------------- timer handlers


@timers.handler(LIMIT_KIND)
def on_limit(session: Session, timer: Timer) -> None:
    """The dispute's limit ran out while it is still open: overdue, and a warning to its place."""
    payload = json.loads(timer.payload or "{}")
    dispute = repository.get_unscoped(session, timer.ref_id, "the limit timer acts for the system")
    if (
        dispute is None
        or dispute.status not in OPEN
        or dispute.due_at is None
        or dispute.due_at != datetime.fromisoformat(str(payload.get("due")))
    ):
        return
    dispute.overdue = True
    due = dispute.due_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
    if dispute.court_mode:
        rule = statutory.get_rule(COURT_RULES[dispute.court_mode])
        reasons = [
            alerts.Reason(
                f"纠纷 {dispute.number}：{rule.name_zh}{rule.amount_zh}自签收起算，至 {due} 届满，尚未办结",
                f"dispute {dispute.number}: {rule.name_en}, {rule.amount_en} from the signed receipt, "
                f"ended {due}; not concluded",
            )
        ]
        alert_rule, level = RULES["limit_court"], "orange"
    else:
        label = catalogue.practice()
        reasons = [
            alerts.Reason(
                f"纠纷 {dispute.number}：调解时限至 {due}（{label['label_zh']}），尚未办结",
                f"dispute {dispute.number}: mediation due {due} ({label['label_en']}); not concluded",
            )
        ]
        alert_rule, level = RULES["limit_practice"], "yellow"
    alerts.raise_alert(
        session,
        rule=alert_rule,
        level=level,
        reasons=reasons,
        division_code=dispute.handler_division_code or dispute.division_code,
        source_type="dispute",
        source_id=dispute.id,
        source_label=dispute.number,
    )
    early_warning.evaluate(session, dispute)


@timers.handler(REMINDER_KIND)
def on_judicial_reminder(session: Session, timer: Timer) -> None:
    """The period to apply for judicial confirmation is ending and no application is recorded."""
    agreement = repository.agreement_unscoped(session, timer.ref_id, "the reminder timer acts for the system")
    if agreement is None or agreement.judicial_status != "none" or agreement.judicial_due_at is None:
        return
    dispute = repository.get_unscoped(session, agreement.dispute_id, "the reminder timer acts for the system")
    if dispute is None:
        raise NotFound()
    due = agreement.judicial_due_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d")
    reasons = [
        alerts.Reason(
            f"纠纷 {dispute.number} 的调解协议申请司法确认的期限至 {due} 24:00（人民调解法第33条），"
            "请提醒双方当事人共同申请",
            f"dispute {dispute.number}: the parties may jointly apply for judicial confirmation "
            f"until 24:00 on {due} (People's Mediation Law Art. 33)",
        )
    ]
    alerts.raise_alert(
        session,
        rule=RULES["judicial"],
        level="blue",
        reasons=reasons,
        division_code=dispute.settled_division_code or dispute.division_code,
        source_type="mediation_agreement",
        source_id=agreement.id,
        source_label=dispute.number,
    )


__all__ = ["AGREEMENT_WORKFLOW", "DISPUTE_WORKFLOW", "SESSION_WORKFLOW", "MediationSession"]
