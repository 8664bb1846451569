"""Record numbers: one atomic per-day sequence per series (numbering), taken by matters,
rapid-response incidents and disputes; migration 0025 carries the matters' counters over and
starts the day's incident counter after the numbers already given."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.types import Boolean, Date, DateTime, Float, Integer, Numeric

from civicgrid.db import transaction
from civicgrid.migrate import alembic_config, upgrade
from civicgrid.numbering import service as numbering
from tests.conftest import _drop_postgres, blank_postgres


def test_each_series_and_day_counts_on_its_own(engine: Engine) -> None:
    with transaction(engine) as session:
        conn = session.connection()
        first = numbering.take(conn, "test-a", "20261203")()
        assert numbering.take(conn, "test-a", "20261203", 3)() == first + 3  # three taken: the last of them
        assert numbering.take(conn, "test-b", "20261203")() == 1
        assert numbering.take(conn, "test-a", "20261204")() == 1
        with pytest.raises(ValueError):
            numbering.take(conn, "test-a", "20261203", 0)


def test_the_local_day_decides_the_day() -> None:
    # 23:30 UTC on 12-03 is 07:30 on 12-04 in Yongzhou.
    assert numbering.local_day(datetime(2026, 12, 3, 23, 30, tzinfo=UTC)) == "20261204"


def test_concurrent_writers_never_share_a_number(engine: Engine) -> None:
    taken: list[int] = []
    guard = threading.Lock()
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(10):
                with transaction(engine) as session:
                    got = numbering.take(session.connection(), "test-race", "20261203")()
                with guard:
                    taken.append(got)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    assert len(taken) == 60 and len(set(taken)) == 60
    assert max(taken) - min(taken) == 59  # no gap: every committed take is one number


# ---------------------------------------------------------------- the migration


@pytest.fixture
def blank_url(tmp_path: Path) -> Iterator[str]:
    import os

    base = os.environ.get("CIVICGRID_TEST_DATABASE_URL", "")
    if base.startswith("postgresql"):
        url, name = blank_postgres(base)
        yield url
        _drop_postgres(base, name)
    else:
        yield f"sqlite:///{tmp_path / 'before.sqlite3'}"


def _filler(column: dict[str, object]) -> object:
    kind = column["type"]
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, Integer | Float | Numeric):
        return 1
    if isinstance(kind, DateTime | Date):
        return datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    return "x"


def test_migration_0025_keeps_the_matter_counters_and_starts_incidents_after_todays(blank_url: str) -> None:
    migration = next(r for r in ScriptDirectory.from_config(alembic_config(blank_url)).walk_revisions()
                     if (r.doc or "").startswith("numbering"))
    before = str(migration.down_revision)
    upgrade(blank_url, before)
    plain = create_engine(blank_url)
    columns = [c for c in inspect(plain).get_columns("response_incidents")
               if not c["nullable"] and c["name"] not in ("id", "number")]
    names = ", ".join(c["name"] for c in columns)
    binds = ", ".join(f":{c['name']}" for c in columns)
    off = ("SET session_replication_role = replica" if plain.dialect.name == "postgresql"
           else "PRAGMA foreign_keys = OFF")
    with plain.begin() as conn:
        conn.execute(text(off))
        conn.execute(text("INSERT INTO matter_number_counters (day, last) VALUES ('20261201', 41)"))
        for n, number in enumerate(["JQ2026120100007", "JQ2026120100012", "JQ2026120200003"]):
            conn.execute(text(f"INSERT INTO response_incidents (id, number, {names}) VALUES (:id, :number, {binds})"),
                         {"id": f"i{n}", "number": number, **{c["name"]: _filler(c) for c in columns}})
    command.upgrade(alembic_config(blank_url), migration.revision)
    with plain.connect() as conn:
        rows = conn.execute(text("SELECT series, day, last FROM number_counters ORDER BY series, day")).all()
    assert [tuple(r) for r in rows] == [("incident", "20261201", 12), ("incident", "20261202", 3),
                                        ("matter", "20261201", 41)]
    assert "matter_number_counters" not in inspect(plain).get_table_names()
    command.downgrade(alembic_config(blank_url), before)
    with plain.connect() as conn:
        assert [tuple(r) for r in conn.execute(text("SELECT day, last FROM matter_number_counters"))] == [
            ("20261201", 41)]
    plain.dispose()
