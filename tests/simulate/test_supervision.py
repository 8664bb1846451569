"""The demo's case-handling stream: four days replayed on a committed database through the case
systems' API-client intake, checked as the centre would notice — breaches stamped at their
deadlines, late data withdrawing a breach and warning the sender, duplicates changing nothing,
broken events refused alone, people still in the rooms, clocks still running; a second run adds
nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy import Engine, func, select

from civicgrid.alerts.models import Alert
from civicgrid.apiclients.models import ApiClient
from civicgrid.audit.models import AuditEntry
from civicgrid.authz.scoping import unscoped
from civicgrid.db import get_engine, transaction
from civicgrid.kit.clock import CHINA_TZ, Clock, get_clock
from civicgrid.simulate.demo import seed
from civicgrid.simulate.orgs import seed_org_units
from civicgrid.simulate.supervision import SupervisionReport, format_summary, generate, seed_accounts
from civicgrid.supervision.models import CaseRecord, IntakeEvent, PropertyItem, RoomVisit
from civicgrid.supervision.models import Clock as LimitClock
from tests.conftest import new_database

END = datetime(2026, 11, 26, 16, 0, tzinfo=CHINA_TZ)
T = unscoped("test")


def _quiet(_: str) -> None:
    pass


@dataclass
class Replay:
    engine: Engine
    report: SupervisionReport


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replay]:
    url, cleanup = new_database(tmp_path_factory.mktemp("supsim"))
    engine = get_engine(url)
    seed(engine, echo=_quiet)
    seed_org_units(engine, echo=_quiet)
    seed_accounts(engine)
    report = generate(engine, days=4, cases_per_day=10, seed=11, end=END, echo=_quiet)
    yield Replay(engine, report)
    engine.dispose()
    cleanup()  # type: ignore[operator]


def test_the_stream_has_late_events_duplicates_refusals_and_breaches(replay: Replay) -> None:
    report, engine = replay.report, replay.engine
    assert not report.skipped and type(get_clock()) is Clock  # the real clock is back
    assert report.sent == report.applied + report.duplicates + report.refused
    assert report.duplicates > 0 and report.late > 0 and report.refused > 0
    # The only refusals are the planted typos (a measure the record does not hold), refused alone.
    assert all("No such measure" in r for r in report.refusals), report.refusals
    assert report.timers_fired > 0
    with transaction(engine, write=False) as session:
        clocks = session.scalars(select(LimitClock).where(T)).all()
        assert {c.status for c in clocks} >= {"met", "breached", "running"}
        for c in clocks:
            if c.status == "breached":  # stamped at the deadline, which had passed by the end
                assert c.breached_at == c.due_at and c.due_at is not None and c.due_at <= END
            if c.status == "met":
                assert c.met_at is not None and (c.due_at is None or c.met_at <= c.due_at)
            if c.status == "running":
                assert c.due_at is None or c.due_at > END
        late_reports = session.scalars(select(Alert).where(Alert.rule_code == "supervision.late_report", T)).all()
        withdrawn = session.scalar(select(func.count()).select_from(Alert).where(
            Alert.withdraw_reason == "late_data", T))
        assert late_reports and withdrawn, "a late event should withdraw a breach as late data"
        assert report.late_reports == len(late_reports) and report.breaches == sum(c.status == "breached"
                                                                                  for c in clocks)
        assert session.scalar(select(func.count()).select_from(PropertyItem).where(PropertyItem.status == "held", T))
        assert session.scalar(select(func.count()).select_from(RoomVisit).where(RoomVisit.left_at.is_(None), T))
        kinds = {k for k, in session.execute(select(CaseRecord.kind).where(T))}
        assert kinds == {"criminal", "administrative"}
    line = format_summary(report)
    assert f"{report.cases} 起案件" in line and "\n" not in line


def test_every_event_came_through_a_case_system_client(replay: Replay) -> None:
    with transaction(replay.engine, write=False) as session:
        clients = {c.id: c for c in session.scalars(select(ApiClient).where(ApiClient.system_kind == "police_case", T))}
        senders = {s for s, in session.execute(select(IntakeEvent.sender_id).where(T).distinct())}
        assert senders and senders <= set(clients)
        assert all(clients[s].org_unit_id for s in senders)
        actors = {a for a, in session.execute(select(AuditEntry.actor).where(
            AuditEntry.entity_type == "supervision_events").distinct())}
        assert actors and all(a.startswith("apiclient:") for a in actors), actors


def test_second_run_adds_nothing(replay: Replay) -> None:
    with transaction(replay.engine, write=False) as session:
        before = session.scalar(select(func.count()).select_from(IntakeEvent).where(T))
    again = generate(replay.engine, days=2, cases_per_day=5, seed=12, end=END, echo=_quiet)
    assert again.skipped
    with transaction(replay.engine, write=False) as session:
        assert session.scalar(select(func.count()).select_from(IntakeEvent).where(T)) == before
