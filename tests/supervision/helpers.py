"""Shared helpers of the supervision tests: a station, an ingesting principal, events."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, select

from civicgrid.alerts.models import Alert
from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import unscoped
from civicgrid.db import transaction
from civicgrid.kit.ids import new_id
from civicgrid.supervision import intake
from civicgrid.supervision.models import CaseRecord, Clock
from civicgrid.supervision.workflow import DUE_KIND, WARN_KIND
from civicgrid.timers.worker import TimerWorker
from tests.factories import make_org_unit_committed

CST = timezone(timedelta(hours=8))
SENDER = "ga-boundary-431102"


def cst(text: str) -> datetime:
    """A local (Asia/Shanghai) time written as 'YYYY-MM-DD HH:MM'."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=CST)


def ingester(division_code: str) -> Principal:
    return Principal(user_id="", username="ingest-test", role="supervision_centre_staff",
                     division_code=division_code, jurisdiction=division_code.rstrip("0")[:9] or division_code,
                     permissions=frozenset({"supervision.ingest", "supervision.read", "supervision.handle"}))


def station(engine: Engine, division_code: str) -> str:
    return make_org_unit_committed(engine, division_code=division_code, type_code="police_station")


def ev(event_kind: str, at: datetime, event_id: str | None = None, /, **data: Any) -> intake.EventIn:
    return intake.EventIn(event_id=event_id or new_id(), kind=event_kind, at=at, data=data)


def send(engine: Engine, principal: Principal, events: list[intake.EventIn],
         sender: str = SENDER) -> intake.BatchResult:
    with transaction(engine) as session:
        return intake.apply_batch(session, principal, sender, events)


def open_case(engine: Engine, principal: Principal, unit_id: str, at: datetime, kind: str = "criminal",
              **extra: Any) -> str:
    ref = f"A{new_id()[:12]}"
    result = send(engine, principal, [ev("case.opened", at, case=ref, kind=kind, unit_id=unit_id,
                                         title=f"测试案件 {ref}", **extra)])
    assert result.applied == 1, result
    return ref


def clocks_of(engine: Engine, case_ref: str) -> dict[str, Clock]:
    with transaction(engine) as session:
        case = session.scalars(select(CaseRecord).where(CaseRecord.external_id == case_ref, unscoped("test"))).one()
        rows = session.scalars(select(Clock).where(Clock.case_id == case.id, unscoped("test"))).all()
        session.expunge_all()
        return {c.rule_code: c for c in rows}


def alerts_about(engine: Engine, source_id: str) -> list[Alert]:
    with transaction(engine) as session:
        rows = session.scalars(select(Alert).where(Alert.source_id == source_id, unscoped("test"))
                               .order_by(Alert.raised_at, Alert.id)).all()
        session.expunge_all()
        return list(rows)


def run_timers(engine: Engine) -> int:
    worker = TimerWorker(engine, kinds=[WARN_KIND, DUE_KIND])
    total = 0
    while (n := worker.run_due()):
        total += n
    return total
