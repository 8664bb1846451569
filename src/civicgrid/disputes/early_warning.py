"""Early warning (预知预报) of disputes that may escalate: explainable rules over a dispute's facts.

Six rules, each a plain comparison with a threshold of local practice (``data/practice.json``,
``early_warning``), each saying in words (zh and en) why it fired:

``repeat_parties``     another dispute within the lookback shares a party (the same document
                       number, by its keyed hash, or the same unified social credit code)
``police_calls``       police calls (警情) within the radius of the dispute's point in the last
                       30 days — read through :func:`civicgrid.response.service.calls_near`
``threats``            threats recorded on the file (the ``record_threat`` action)
``scale``              many people involved, or a large amount at stake
``failed_mediations``  mediation sessions that failed
``overdue_steps``      the mediation limit passed, or a step waits too long (not routed, not accepted)

:func:`assess` is pure (facts in, findings out) so that ``bench/early_warning.py`` measures the
very rules shipped here. :func:`evaluate` gathers a dispute's facts and raises one warning per
rule and dispute through the platform's warning loop (``alerts.service.raise_alert``: level,
reasons, the handling body's division, the mediator as owner); a rule warns once while its
warning is open. When ``combined_findings`` rules or more fire together, each is raised one level.
It runs on each new fact (registration, hand-off, session, action, limit breach) and as the
periodic job ``disputes.early_warning`` (new police calls arrive without touching the file).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from civicgrid.alerts import service as alerts
from civicgrid.disputes import catalogue, repository
from civicgrid.disputes.models import Dispute
from civicgrid.kit.clock import utcnow
from civicgrid.timers import periodic

LEVELS = ("blue", "yellow", "orange", "red")
RULE_PREFIX = "disputes.ew_"  # every early-warning rule's code starts so (withdrawn when the dispute ends)
OPEN = frozenset(repository.OPEN)

RULES: dict[str, alerts.Rule] = {
    "repeat_parties": alerts.Rule(
        "disputes.ew_repeat_parties", "同一当事人反复发生纠纷", "Repeated disputes between the same parties"
    ),
    "police_calls": alerts.Rule(
        "disputes.ew_police_calls", "同一地点反复报警", "Repeated police calls at the same place"
    ),
    "threats": alerts.Rule("disputes.ew_threats", "纠纷中有扬言威胁", "Threats recorded in the dispute"),
    "scale": alerts.Rule("disputes.ew_scale", "涉及人数多或金额大", "Many people involved or a large amount at stake"),
    "failed_mediations": alerts.Rule("disputes.ew_failed_mediations", "多次调解不成", "Mediation failed repeatedly"),
    "overdue_steps": alerts.Rule("disputes.ew_overdue_steps", "纠纷办理环节超期", "A step of the dispute is overdue"),
}


@dataclass(frozen=True)
class Facts:
    """What the rules look at. ``police_calls`` is ``None`` when the dispute has no point (no
    place to count calls at); the other counts are 0 when nothing is known."""

    number: str
    repeat_disputes: int = 0
    police_calls: int | None = None
    threats: int = 0
    people_involved: int = 0
    amount_fen: int = 0
    failed_attempts: int = 0
    overdue: bool = False
    waiting_step: str | None = None  # "route" | "accept": the step waiting
    waiting_days: int = 0


@dataclass(frozen=True)
class Finding:
    rule: str
    level: str
    reason: alerts.Reason


def config() -> dict[str, Any]:
    return dict(catalogue.practice()["early_warning"])


def _raise(level: str) -> str:
    return LEVELS[min(LEVELS.index(level) + 1, len(LEVELS) - 1)]


def _yuan(fen: int) -> str:
    return f"{fen / 100:,.0f}"


def assess(facts: Facts, cfg: dict[str, Any] | None = None) -> list[Finding]:
    """The findings of the rules on ``facts``, each with its level and reason in words."""
    cfg = cfg or config()
    n = facts.number
    found: list[Finding] = []

    c = cfg["repeat_parties"]
    if facts.repeat_disputes >= int(c["min_other"]):
        found.append(
            Finding(
                "repeat_parties",
                c["level"],
                alerts.Reason(
                    f"纠纷 {n}：当事人在近 {c['lookback_days']} 天内另有 {facts.repeat_disputes} 起纠纷",
                    f"dispute {n}: its parties had {facts.repeat_disputes} other dispute(s) in the last "
                    f"{c['lookback_days']} days",
                ),
            )
        )
    c = cfg["police_calls"]
    if facts.police_calls is not None and facts.police_calls >= int(c["min_calls"]):
        found.append(
            Finding(
                "police_calls",
                c["level"],
                alerts.Reason(
                    f"纠纷 {n}：发生地 {c['radius_m']} 米内近 {c['window_days']} 天报警 {facts.police_calls} 次",
                    f"dispute {n}: {facts.police_calls} police calls within {c['radius_m']} m of the place in the "
                    f"last {c['window_days']} days",
                ),
            )
        )
    c = cfg["threats"]
    if facts.threats >= int(c["min"]):
        found.append(
            Finding(
                "threats",
                c["level"],
                alerts.Reason(
                    f"纠纷 {n}：记录有扬言威胁 {facts.threats} 次", f"dispute {n}: {facts.threats} threat(s) recorded"
                ),
            )
        )
    c = cfg["scale"]
    many, large = facts.people_involved >= int(c["min_people"]), facts.amount_fen >= int(c["min_amount_fen"])
    if many or large:
        zh, en = [], []
        if many:
            zh.append(f"涉及 {facts.people_involved} 人（≥{c['min_people']}）")
            en.append(f"{facts.people_involved} people involved (≥ {c['min_people']})")
        if large:
            zh.append(f"争议金额 {_yuan(facts.amount_fen)} 元（≥{_yuan(int(c['min_amount_fen']))} 元）")
            en.append(f"CNY {_yuan(facts.amount_fen)} at stake (≥ {_yuan(int(c['min_amount_fen']))})")
        found.append(
            Finding("scale", c["level"], alerts.Reason(f"纠纷 {n}：" + "，".join(zh), f"dispute {n}: " + "; ".join(en)))
        )
    c = cfg["failed_mediations"]
    if facts.failed_attempts >= int(c["min"]):
        found.append(
            Finding(
                "failed_mediations",
                c["level"],
                alerts.Reason(
                    f"纠纷 {n}：已调解不成 {facts.failed_attempts} 次",
                    f"dispute {n}: mediation failed {facts.failed_attempts} times",
                ),
            )
        )
    c = cfg["overdue_steps"]
    if facts.overdue:
        found.append(
            Finding(
                "overdue_steps",
                c["level"],
                alerts.Reason(f"纠纷 {n}：调解已超过时限", f"dispute {n}: mediation is past its limit"),
            )
        )
    elif facts.waiting_step == "route" and facts.waiting_days > int(c["route_within_days"]):
        found.append(
            Finding(
                "overdue_steps",
                c["level"],
                alerts.Reason(
                    f"纠纷 {n}：登记 {facts.waiting_days} 天未分流（应在 {c['route_within_days']} 天内）",
                    f"dispute {n}: registered {facts.waiting_days} days ago and not routed "
                    f"(within {c['route_within_days']} days)",
                ),
            )
        )
    elif facts.waiting_step == "accept" and facts.waiting_days > int(c["accept_within_days"]):
        found.append(
            Finding(
                "overdue_steps",
                c["level"],
                alerts.Reason(
                    f"纠纷 {n}：分流 {facts.waiting_days} 天未受理（应在 {c['accept_within_days']} 天内）",
                    f"dispute {n}: routed {facts.waiting_days} days ago and not accepted "
                    f"(within {c['accept_within_days']} days)",
                ),
            )
        )

    if len(found) >= int(cfg["combined_findings"]):
        note = alerts.Reason(
            f"（同时存在 {len(found)} 项风险，等级上调一级）", f" ({len(found)} risks at once: one level up)"
        )
        found = [
            Finding(f.rule, _raise(f.level), alerts.Reason(f.reason.zh + note.zh, f.reason.en + note.en)) for f in found
        ]
    return found


def flagged(facts: Facts, cfg: dict[str, Any] | None = None) -> bool:
    """Whether any rule fires (what the bench counts as a prediction of escalation)."""
    return bool(assess(facts, cfg))


def facts_of(session: Session, dispute: Dispute, now: datetime | None = None) -> Facts:
    """Gather a dispute's facts from its file, the other disputes and rapid response's calls."""
    from civicgrid.response import service as response

    now = now or utcnow()
    cfg = config()
    since = now - timedelta(days=int(cfg["repeat_parties"]["lookback_days"]))
    repeat = repository.disputes_sharing_parties(session, dispute.id, since)
    calls: int | None = None
    if dispute.lng is not None and dispute.lat is not None:
        c = cfg["police_calls"]
        calls = len(
            response.calls_near(
                session,
                dispute.lng,
                dispute.lat,
                since=now - timedelta(days=int(c["window_days"])),
                until=now,
                radius_m=float(c["radius_m"]),
            )
        )
    waiting_step, waiting_since = None, None
    if dispute.status == "registered":
        waiting_step, waiting_since = "route", dispute.registered_at
    elif dispute.status == "routed" and dispute.routed_at is not None:
        waiting_step, waiting_since = "accept", dispute.routed_at
    return Facts(
        number=dispute.number,
        repeat_disputes=repeat,
        police_calls=calls,
        threats=dispute.threats,
        people_involved=dispute.people_involved,
        amount_fen=dispute.amount_fen,
        failed_attempts=dispute.failed_attempts,
        overdue=dispute.overdue,
        waiting_step=waiting_step,
        waiting_days=(now - waiting_since).days if waiting_since else 0,
    )


def evaluate(session: Session, dispute: Dispute, now: datetime | None = None) -> list[Finding]:
    """Run the rules on an open dispute and raise a warning per finding (once while open)."""
    if dispute.status not in OPEN:
        return []
    session.flush()
    findings = assess(facts_of(session, dispute, now))
    owner = None
    if dispute.mediator_id:
        mediator = repository.mediator_unscoped(session, dispute.mediator_id, "the warning names its owner")
        owner = mediator.user_id if mediator else None
    for f in findings:
        alerts.raise_alert(
            session,
            rule=RULES[f.rule],
            level=f.level,
            reasons=[f.reason],
            division_code=dispute.handler_division_code or dispute.division_code,
            source_type="dispute",
            source_id=dispute.id,
            source_label=dispute.number,
            owner_user_id=owner,
        )
    return findings


def run(session: Session, now: datetime | None = None) -> int:
    """Evaluate every open dispute; the number of findings."""
    return sum(len(evaluate(session, d, now)) for d in repository.open_unscoped(session, "the early-warning job"))


@periodic.job(
    "disputes.early_warning", zh="矛盾纠纷预警规则", en="Dispute early-warning rules", every=timedelta(hours=1)
)
def _job(session: Session) -> None:
    run(session)
