"""The audit chain: append, verify, and detect an altered, deleted or reordered row."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from civicgrid.audit.service import Actor, record, set_actor, verify
from civicgrid.db import get_engine, transaction
from tests.conftest import new_database


@pytest.fixture
def chain_engine(tmp_path: Path) -> Iterator[Engine]:
    """A database of its own: these tests commit and tamper."""
    url, cleanup = new_database(tmp_path)
    engine = get_engine(url)
    yield engine
    engine.dispose()
    cleanup()  # type: ignore[operator]


def _append(engine: Engine, n: int, who: str = "alice") -> None:
    for i in range(n):
        with transaction(engine) as session:
            set_actor(session, Actor(who, "u1"))
            record(session, "test.event", "thing", str(i), division_code="431102000000", after={"i": i})


def _tamper(engine: Engine, *statements: str) -> None:
    """Bypass the append-only triggers, as a database administrator could."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        for stmt in statements:
            conn.execute(text(stmt))


def test_intact_chain_verifies(chain_engine: Engine) -> None:
    _append(chain_engine, 5)
    with chain_engine.connect() as conn:
        result = verify(conn)
    assert result.ok and result.checked == 5


def test_application_cannot_update_or_delete(chain_engine: Engine) -> None:
    _append(chain_engine, 1)
    with pytest.raises(Exception, match="append-only"), chain_engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory'"))
    with pytest.raises(Exception, match="append-only"), chain_engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))


def test_altered_row_is_named(chain_engine: Engine) -> None:
    _append(chain_engine, 6)
    _tamper(chain_engine, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 4")
    with chain_engine.connect() as conn:
        result = verify(conn)
    assert not result.ok and result.broken_seq == 4


def test_deleted_row_is_named(chain_engine: Engine) -> None:
    _append(chain_engine, 6)
    _tamper(chain_engine, "DELETE FROM audit_log WHERE seq = 3")
    with chain_engine.connect() as conn:
        result = verify(conn)
    assert not result.ok and result.broken_seq == 3


def test_reordered_rows_are_named(chain_engine: Engine) -> None:
    _append(chain_engine, 6)
    # swap the contents of links 2 and 5 by renumbering them
    _tamper(chain_engine,
            "UPDATE audit_log SET seq = 1000 WHERE seq = 2",
            "UPDATE audit_log SET seq = 2 WHERE seq = 5",
            "UPDATE audit_log SET seq = 5 WHERE seq = 1000")
    with chain_engine.connect() as conn:
        result = verify(conn)
    assert not result.ok and result.broken_seq == 2


def test_concurrent_writers_keep_one_unbroken_chain(chain_engine: Engine) -> None:
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            _append(chain_engine, 15, who=name)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with chain_engine.connect() as conn:
        result = verify(conn)
        actors = conn.execute(text("SELECT actor, count(*) FROM audit_log GROUP BY actor")).all()
    assert result.ok and result.checked == 60
    assert sorted(actors) == [("w0", 15), ("w1", 15), ("w2", 15), ("w3", 15)]
