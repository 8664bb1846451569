"""Routes of warnings (预警)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from civicgrid.alerts import service
from civicgrid.alerts.models import Alert
from civicgrid.alerts.schemas import (
    AlertAction,
    AlertCreate,
    AlertDetailRead,
    AlertFigures,
    AlertPage,
    AlertRead,
    AlertTimelineRead,
    CountyFigures,
    ReasonRead,
    RuleFigures,
    WithdrawReasonRead,
)
from civicgrid.authz.dependencies import require
from civicgrid.authz.principal import Principal
from civicgrid.db import DbSession
from civicgrid.geo import service as geo
from civicgrid.kit.errors import NotFound
from civicgrid.kit.i18n import pick
from civicgrid.kit.ids import new_id
from civicgrid.kit.pagination import Offset

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])
ERRORS: dict[int | str, dict[str, Any]] = {401: {"description": "Not logged in"},
                                           403: {"description": "Missing the permission"},
                                           404: {"description": "Unknown, or outside the caller's jurisdiction"}}
AlertId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Warning id")]
STATUS_PATTERN = "^(raised|acknowledged|escalated|handled|withdrawn|open)$"  # open: the first three
ACTIONS = ("acknowledge", "handle", "escalate", "withdraw")
MANUAL = service.Rule("manual", "人工预警", "Warning raised by hand")


def _read(alert: Alert, principal: Principal, names: dict[str, str]) -> AlertRead:
    return AlertRead(
        id=alert.id, rule_code=alert.rule_code, rule_name=alert.rule_name, legal_basis=alert.legal_basis,
        level=alert.level, status=alert.status, source_type=alert.source_type, source_id=alert.source_id,
        source_label=alert.source_label, reasons=[ReasonRead(**r) for r in alert.reason_list],
        division_code=alert.division_code, division_name=names.get(alert.division_code[:12]),
        origin_code=alert.origin_code, raised_at=alert.raised_at, ack_due_at=alert.ack_due_at,
        acknowledged_at=alert.acknowledged_at, closed_at=alert.closed_at, action_taken=alert.action_taken,
        withdraw_reason=alert.withdraw_reason, allowed_actions=service.allowed_actions(alert, principal))


def _detail(session: DbSession, alert: Alert, principal: Principal) -> AlertDetailRead:
    base = _read(alert, principal, geo.names_of(session, [alert.division_code[:12]]))
    events = [AlertTimelineRead(seq=e.seq, action=e.action, from_status=e.from_status, to_status=e.to_status,
                                actor_name=e.actor_name, at=e.at, note=e.note,
                                data=json.loads(e.data) if e.data else None)
              for e in service.timeline(session, principal, alert)]
    return AlertDetailRead(**base.model_dump(), timeline=events)


@router.get("", response_model=AlertPage, responses=ERRORS)
def list_alerts(session: DbSession,
                status: Annotated[str | None, Query(pattern=STATUS_PATTERN)] = None,
                level: Annotated[str | None, Query(pattern="^(blue|yellow|orange|red)$")] = None,
                source_type: Annotated[str | None, Query(max_length=48)] = None,
                source_id: Annotated[str | None, Query(max_length=64)] = None,
                limit: Annotated[int, Query(ge=1, le=200)] = 50,
                offset: Offset = 0,
                principal: Principal = Depends(require("alerts.read"))) -> AlertPage:
    """Warnings in the caller's jurisdiction, newest first."""
    total, rows = service.listing(session, principal, status=status, level=level, source_type=source_type,
                                  source_id=source_id, limit=limit, offset=offset)
    names = geo.names_of(session, {a.division_code[:12] for a in rows})
    return AlertPage(total=total, items=[_read(a, principal, names) for a in rows])


@router.get("/figures", response_model=AlertFigures, responses=ERRORS)
def figures(session: DbSession, principal: Principal = Depends(require("alerts.read"))) -> AlertFigures:
    """Counts by status, level, rule and county, computed from the warnings the caller may see."""
    result = service.figures(session, principal)
    names = geo.names_of(session, [c["county"] for c in result.by_county])
    return AlertFigures(
        total=result.total, by_status=result.by_status, by_level=result.by_level,
        open_by_level=result.open_by_level, withdrawn=result.withdrawn,
        by_rule=[RuleFigures(**r) for r in result.by_rule],
        by_county=[CountyFigures(county=c["county"], county_name=names.get(c["county"]), total=c["total"],
                                 by_status=c["by_status"]) for c in result.by_county])


@router.get("/withdraw-reasons", response_model=list[WithdrawReasonRead], responses=ERRORS)
def withdraw_reasons(principal: Principal = Depends(require("alerts.read"))) -> list[WithdrawReasonRead]:
    """The reasons a warning may be withdrawn for."""
    return [WithdrawReasonRead(code=code, name=pick(zh, en)) for code, (zh, en) in service.withdraw_reasons().items()]


@router.post("", response_model=AlertDetailRead, status_code=201, responses=ERRORS)
def raise_by_hand(session: DbSession, body: AlertCreate,
                  principal: Principal = Depends(require("alerts.handle"))) -> AlertDetailRead:
    """Raise a warning by hand (an official who sees a risk), inside the caller's jurisdiction."""
    if not principal.governs(body.division_code):
        raise NotFound()
    rule = service.Rule(MANUAL.code, body.rule_name[:100], body.rule_name[:100], body.legal_basis)
    alert = service.raise_alert(session, rule=rule, level=body.level,
                                reasons=[service.Reason(r, r) for r in body.reasons], division_code=body.division_code,
                                source_type=body.source_type, source_id=body.source_id or new_id(),
                                principal=principal)
    return _detail(session, alert, principal)


@router.get("/{alert_id}", response_model=AlertDetailRead, responses=ERRORS)
def get_alert(session: DbSession, alert_id: AlertId,
              principal: Principal = Depends(require("alerts.read"))) -> AlertDetailRead:
    """One warning with its reasons, legal basis and timeline."""
    return _detail(session, service.get(session, principal, alert_id), principal)


@router.post("/{alert_id}/actions/{action}", response_model=AlertDetailRead, responses={**ERRORS, 409: {
    "description": "Not allowed now; the body lists allowed_actions"}})
def act(session: DbSession, alert_id: AlertId,
        action: Annotated[str, Path(pattern="^(acknowledge|handle|escalate|withdraw)$")], body: AlertAction,
        principal: Principal = Depends(require("alerts.read"))) -> AlertDetailRead:
    """Acknowledge, handle (note = the action taken), escalate, or withdraw (reason and note);
    each action checks its own permission in the transition table."""
    alert = service.act(session, principal, alert_id, action, note=body.note, reason=body.reason)
    return _detail(session, alert, principal)
