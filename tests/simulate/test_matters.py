"""The demo's weeks of matters: a small replay on its own committed database (SQLite, or
PostgreSQL when CIVICGRID_TEST_DATABASE_URL names one), checked the way a user would notice:
every state is there, the demo accounts have queues, the figures and the audit chain hold, a
second run adds nothing and the same seed gives the same matters."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from civicgrid.audit.models import AuditEntry
from civicgrid.audit.service import verify
from civicgrid.authz.principal import Principal
from civicgrid.db import get_engine, transaction
from civicgrid.kit.clock import CHINA_TZ, Clock, get_clock
from civicgrid.matters import service as matters
from civicgrid.matters.figures.service import figures_for_prefix, to_figures
from civicgrid.matters.workflow import FINISHED, MatterStatus
from civicgrid.people import service as people
from civicgrid.people.models import User
from civicgrid.simulate import repository
from civicgrid.simulate.demo import DemoLogin, seed
from civicgrid.simulate.matters import SimulationReport, format_summary, generate
from tests.conftest import new_database

END = datetime(2026, 11, 26, 16, 0, tzinfo=CHINA_TZ)  # a Thursday afternoon
SEED = 7
# One xdist worker runs the whole module (make test: --dist loadgroup), so the module's replay is
# built once a pass, not once on each worker (measured: 2 × 107 s on SQLite, 2 × 306 s on
# PostgreSQL, docs/performance.md).
pytestmark = pytest.mark.xdist_group("simulate-replay")


def _quiet(_: str) -> None:
    pass


@dataclass
class Replay:
    url: str
    engine: Engine
    logins: list[DemoLogin]
    report: SimulationReport


def _replay(tmp: Path, *, days: float, per_day: float) -> tuple[Replay, object]:
    url, cleanup = new_database(tmp)
    engine = get_engine(url)
    logins = seed(engine, echo=_quiet)
    focus = next(login.division_code for login in logins if login.role == "grid_worker")
    report = generate(engine, weeks=days / 7, matters_per_day=per_day, seed=SEED, end=END, focus_grid=focus,
                      echo=_quiet)
    return Replay(url, engine, logins, report), cleanup


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replay]:
    """Four days (Sunday afternoon to Thursday afternoon), about 20 matters a day."""
    done, cleanup = _replay(tmp_path_factory.mktemp("sim"), days=4, per_day=20)
    yield done
    done.engine.dispose()
    cleanup()  # type: ignore[operator]


def test_every_state_and_side_path_is_present(replay: Replay) -> None:
    report = replay.report
    assert not report.skipped and report.failures == []
    assert type(get_clock()) is Clock  # the real clock is back
    missing = [s.value for s in MatterStatus if not report.by_status.get(s.value)]
    assert missing == ["handed_back"]  # returned to the 12345 hotline: only a hotline API client's ticket can be
    flags = report.flags
    assert flags["overdue"] > 0 and flags["reworked"] > 0 and flags["supervised"] > 0 and flags["urged"] > 0
    assert 0 < flags["auto_escalated"] < flags["escalated"]  # by the timer, and by hand
    assert flags["duplicate_links"] > 0
    assert report.timers_fired > 0
    line = format_summary(report)
    assert f"{report.matters} 件" in line and "evaluated" in line and "\n" not in line


def test_matters_fall_in_the_period_on_the_real_workflow(replay: Replay) -> None:
    with transaction(replay.engine, write=False) as session:
        first, last = repository.reported_range(session)
        rows = repository.fingerprint(session)
    assert first is not None and last is not None
    assert END.timestamp() - 4 * 86400 <= first.timestamp() and last < END
    assert len(rows) == replay.report.matters
    scores = [row[7] for row in rows if row[4] == "evaluated"]
    assert scores and all(1 <= s <= 5 for s in scores)
    assert sum(s >= 4 for s in scores) / len(scores) > 0.6  # mostly satisfied
    settled = [row[6] for row in rows if row[4] in ("closed", "evaluated")]
    assert "village" in settled and "township" in settled and "county" in settled
    assert all(level is None for row in rows for level in [row[6]] if row[4] not in ("closed", "evaluated"))


def _principal(engine: Engine, username: str) -> Principal:
    with transaction(engine, write=False) as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        return people.principal_of(user)


@pytest.mark.parametrize(("username", "queue"), [
    ("village_officer", "mine"), ("chaoyang_officer", "mine"), ("lingling_plc", "mine"), ("city_plc", "mine"),
    ("grid_worker", "reported_by_me")])
def test_demo_accounts_have_live_queues(replay: Replay, username: str, queue: str) -> None:
    principal = _principal(replay.engine, username)
    with transaction(replay.engine, write=False) as session:
        page = matters.list_matters(session, principal, queue=queue, limit=200)
        statuses = {m.status for m in page.items}
    assert page.total > 0
    assert statuses - {"closed", "evaluated", "rejected", "cancelled", "merged"}, f"{username}: no open matter"


def test_village_queue_holds_work_in_every_early_state(replay: Replay) -> None:
    principal = _principal(replay.engine, "village_officer")
    with transaction(replay.engine, write=False) as session:
        statuses = {m.status for m in matters.list_matters(session, principal, queue="mine", limit=200).items}
        done = {m.status for m in matters.list_matters(session, principal, queue="done", limit=200).items}
    assert {"reported", "accepted", "dispatched", "handling", "handled", "verified"} <= statuses
    assert not statuses & {str(s) for s in FINISHED}  # 我的待办: open work only
    assert "evaluated" in done and done <= {str(s) for s in FINISHED}


def test_figures_from_rollups_equal_the_raw_records(replay: Replay) -> None:
    day_from, day_to = date(2026, 11, 1), date(2026, 11, 30)
    with transaction(replay.engine, write=False) as session:
        for prefix in ("4311", "431102", "431102001", "431102001001"):
            rollup = figures_for_prefix(session, prefix, day_from, day_to)
            raw = figures_for_prefix(session, prefix, day_from, day_to, source="raw")
            assert rollup == raw, prefix
        city = to_figures("431100000000", "永州市", day_from, day_to, figures_for_prefix(session, "4311", day_from,
                                                                                          day_to))
    assert city.received == replay.report.matters
    assert city.closed == replay.report.by_status.get("closed", 0) + replay.report.by_status.get("evaluated", 0)
    assert sum(share.count for share in city.settled.values()) == city.closed
    assert city.satisfaction is not None and 3.5 < city.satisfaction <= 5


def test_audit_chain_verifies(replay: Replay) -> None:
    with replay.engine.connect() as conn:
        result = verify(conn)
    assert result.ok, result.reason
    assert result.checked > replay.report.matters * 5


def _counts(engine: Engine) -> tuple[int, int]:
    with transaction(engine, write=False) as session:
        return repository.matter_count(session), int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def test_second_run_adds_nothing(replay: Replay) -> None:
    before = _counts(replay.engine)
    again = generate(replay.engine, weeks=1, matters_per_day=50, seed=SEED + 1, echo=_quiet)
    assert again.skipped and again.matters == replay.report.matters
    assert _counts(replay.engine) == before


def test_demo_command_skips_existing_matters(replay: Replay, monkeypatch: pytest.MonkeyPatch) -> None:
    from civicgrid.cli import app
    from civicgrid.config import get_settings

    monkeypatch.setenv("CIVICGRID_DATABASE_URL", replay.url)
    monkeypatch.setenv("CIVICGRID_ENV", "development")  # keep the session's key (no var/secret_key)
    get_settings.cache_clear()
    try:
        matters_before = _counts(replay.engine)[0]
        result = CliRunner().invoke(app, ["demo", "--no-serve", "--weeks", "1", "--matters-per-day", "5"])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "跳过" in result.output and f"{matters_before} 件" in result.output
    assert "village_officer" in result.output
    assert _counts(replay.engine)[0] == matters_before


def test_same_seed_gives_the_same_matters(replay: Replay, tmp_path: Path) -> None:
    """Two days replayed twice on fresh databases: the same matters, states and times."""
    first, cleanup_first = _replay(tmp_path / "a", days=2, per_day=10)
    second, cleanup_second = _replay(tmp_path / "b", days=2, per_day=10)
    try:
        with transaction(first.engine, write=False) as a, transaction(second.engine, write=False) as b:
            rows_a, rows_b = repository.fingerprint(a), repository.fingerprint(b)
        assert rows_a and rows_a == rows_b
        assert first.report.by_status == second.report.by_status and first.report.flags == second.report.flags
    finally:
        first.engine.dispose()
        second.engine.dispose()
        cleanup_first()  # type: ignore[operator]
        cleanup_second()  # type: ignore[operator]
