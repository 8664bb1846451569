"""Routes of statutory time (法定期间): the rules with their legal basis, and computing a
deadline from a rule, a start and optional adjustments (exclusions and restarts)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from civicgrid.authz.dependencies import require
from civicgrid.authz.principal import Principal
from civicgrid.db import DbSession
from civicgrid.kit.clock import CHINA_TZ
from civicgrid.kit.i18n import pick
from civicgrid.worktime import service, statutory
from civicgrid.worktime.schemas import (
    AdjustmentRuleRead,
    CitationRead,
    StatutoryComputeIn,
    StatutoryDeadlineRead,
    StatutoryRuleRead,
)

# Reading or computing statutory time changes nothing; the working calendar's one permission
# is what this domain has (roles.json).
PERMISSION = "calendar.manage"

router = APIRouter(prefix="/api/v1/worktime/statutory", tags=["statutory time"])

ERRORS: dict[int | str, dict[str, Any]] = {401: {"description": "Not logged in"},
                                           403: {"description": "Permission missing"},
                                           422: {"description": "Unknown rule, or an adjustment it does not allow"}}


def _citation(c: statutory.Citation) -> CitationRead:
    return CitationRead(law_zh=c.law_zh, law_en=c.law_en, version=c.version, article=c.article, paragraph=c.paragraph,
                        text=pick(c.text_zh, c.text_en), verified=c.verified, note=c.note)


def _adjustment(a: statutory.AdjustmentRule) -> AdjustmentRuleRead:
    return AdjustmentRuleRead(code=a.code, name=pick(a.name_zh, a.name_en), name_zh=a.name_zh, name_en=a.name_en,
                              basis=_citation(a.basis))


def _rule(r: statutory.StatutoryRule) -> StatutoryRuleRead:
    return StatutoryRuleRead(
        code=r.code, name=pick(r.name_zh, r.name_en), name_zh=r.name_zh, name_en=r.name_en, unit=r.unit.value,
        amount=r.amount, amount_text=pick(r.amount_zh, r.amount_en), start_mode=r.start_mode.value,
        holidays=r.holidays.value, basis=[_citation(c) for c in r.basis], counting=_citation(r.counting),
        exclusions=[_adjustment(a) for a in r.exclusions], restarts=[_adjustment(a) for a in r.restarts],
        verified=r.verified, note=pick(r.note_zh, r.note_en))


@router.get("/rules", response_model=list[StatutoryRuleRead], responses=ERRORS)
def list_rules(principal: Annotated[Principal, Depends(require(PERMISSION))]) -> list[StatutoryRuleRead]:
    """Every statutory rule with its legal basis (law, article, version) and whether it was verified."""
    return [_rule(r) for r in service.statutory_rules()]


@router.post("/compute", response_model=StatutoryDeadlineRead, responses=ERRORS)
def compute(session: DbSession, body: StatutoryComputeIn,
            principal: Annotated[Principal, Depends(require(PERMISSION))]) -> StatutoryDeadlineRead:
    """The deadline of a rule from a start and optional adjustments, with the reasoning in words."""
    events = [statutory.ClockEvent(statutory.EventKind(e.kind), e.at, e.reason) for e in body.adjustments]
    result = service.statutory_deadline(session, body.rule, body.start, events)
    due_local = None
    if result.due_at is not None:
        # A day period ends at 24:00 of its last day: say so rather than "00:00 the next day".
        due_local = (f"{result.last_day.isoformat()} 24:00" if result.last_day is not None
                     else result.due_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M"))
    remaining_minutes = int(result.remaining.total_seconds() // 60) if result.remaining is not None else None
    return StatutoryDeadlineRead(
        rule=result.rule.code, rule_name=pick(result.rule.name_zh, result.rule.name_en), due_at=result.due_at,
        due_local=due_local, counting_from=result.counting_from, paused=result.paused, last_day=result.last_day,
        nominal_last_day=result.nominal_last_day, remaining_days=result.remaining_days,
        remaining_minutes=remaining_minutes,
        explanation=pick(result.explanation_zh, result.explanation_en), explanation_zh=result.explanation_zh,
        explanation_en=result.explanation_en, verified=result.rule.verified,
        assumed_years=sorted(result.assumed_years))
