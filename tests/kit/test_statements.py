"""Driver statements behave exactly as the same statement through Core, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, bindparam, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from civicgrid.audit.models import AuditEntry
from civicgrid.db import make_engine
from civicgrid.kit.ids import new_id
from civicgrid.kit.statements import DriverStatement, pipeline
from civicgrid.timers.models import Timer

T = Timer.__table__.c


def _timer(**values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": new_id(), "kind": "test.driver", "key": f"driver:{new_id()}", "ref_type": "test", "ref_id": "x",
        "division_code": "431125", "due_at": datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=8))),
        "state": "pending", "attempts": 0, "max_attempts": 3, "lease_owner": None, "lease_until": None,
        "last_error": None, "payload": '{"a": 1}', "created_at": datetime(2026, 3, 1, 1, 0, tzinfo=UTC),
        "fired_at": None}
    row.update(values)
    return row


INSERT = DriverStatement.insert_into(Timer)
BY_KIND = DriverStatement(lambda _d: select(T.id, T.due_at, T.attempts, T.payload, T.fired_at)
                          .where(T.kind == bindparam("kind"), T.state != "done").order_by(T.due_at))


def test_rows_written_and_read_as_through_core(db: Session) -> None:
    conn = db.connection()
    rows = [_timer(), _timer(due_at=datetime(2026, 3, 2, 1, 0, tzinfo=UTC), attempts=2)]
    INSERT.executemany(conn, rows)
    core = conn.execute(select(T.id, T.due_at, T.attempts, T.payload, T.fired_at)
                        .where(T.kind == "test.driver").order_by(T.due_at)).all()
    driver = BY_KIND.execute(conn, {"kind": "test.driver"})
    assert [tuple(r) for r in core] == driver
    # The aware time of another zone went in as UTC and comes back aware, in UTC.
    assert driver[0][1] == datetime(2026, 3, 1, 1, 30, tzinfo=UTC) and driver[0][1].tzinfo is not None
    assert driver[1][2] == 2 and driver[0][4] is None
    # The literal of the statement (state != 'done') was bound: a done timer is not returned.
    INSERT.executemany(conn, [_timer(state="done")])
    assert len(BY_KIND.execute(conn, {"kind": "test.driver"})) == 2


def test_constraint_errors_are_sqlalchemys(db: Session) -> None:
    conn = db.connection()
    row = _timer()
    INSERT.executemany(conn, [row])
    nested = conn.begin_nested()
    with pytest.raises(IntegrityError):
        INSERT.executemany(conn, [{**row, "id": new_id()}])  # the same key
    nested.rollback()


def test_a_missing_value_is_refused_not_written_as_null(db: Session) -> None:
    row = _timer()
    del row["payload"]
    with pytest.raises(KeyError, match="payload"):
        INSERT.executemany(db.connection(), [row])


def test_refuses_to_run_outside_a_transaction(engine: Engine) -> None:
    with engine.connect() as conn, pytest.raises(RuntimeError, match="transaction"):
        BY_KIND.execute(conn, {"kind": "x"})


def test_expanding_parameters_cannot_be_precompiled(db: Session) -> None:
    stmt = DriverStatement(lambda _d: select(T.id).where(T.kind.in_(bindparam("kinds", expanding=True))))
    with pytest.raises(ValueError, match="expanding"):
        stmt.execute(db.connection(), {"kinds": ["a"]})


def test_textual_sql_and_numbers(db: Session) -> None:
    conn = db.connection()
    assert DriverStatement(lambda _d: text("SELECT :n + 1")).execute(conn, {"n": 41}) == [(42,)]
    last = DriverStatement(lambda _d: select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1))
    core = conn.execute(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1)).all()
    assert [tuple(r) for r in core] == last.execute(conn, {})


def test_a_pipeline_sends_together_and_its_rows_are_read_after(db: Session) -> None:
    conn = db.connection()
    early, late = _timer(), _timer(due_at=datetime(2026, 3, 9, tzinfo=UTC))
    with pipeline(conn):
        INSERT.executemany(conn, [late, early])
        found = BY_KIND.send(conn, {"kind": "test.driver"})
        if conn.dialect.name == "postgresql":  # psycopg's pipeline mode: nothing waited for yet
            assert conn.connection.dbapi_connection.pgconn.pipeline_status  # type: ignore[union-attr]
    assert [row[0] for row in found.rows()] == [early["id"], late["id"]]
    assert found.rows()[0][1] == datetime(2026, 3, 1, 1, 30, tzinfo=UTC)  # processed as ever
    # Outside a pipeline a sent statement's rows are already in.
    assert len(BY_KIND.send(conn, {"kind": "test.driver"}).rows()) == 2


def test_an_error_in_a_pipeline_is_sqlalchemys_and_the_transaction_goes_on(db: Session) -> None:
    conn = db.connection()
    row = _timer()
    INSERT.executemany(conn, [row])
    nested = conn.begin_nested()
    with pytest.raises(IntegrityError), pipeline(conn):
        INSERT.executemany(conn, [{**row, "id": new_id()}])  # the same key
        BY_KIND.send(conn, {"kind": "test.driver"})
    nested.rollback()
    assert len(BY_KIND.execute(conn, {"kind": "test.driver"})) == 1


def test_a_query_alone_begins_nothing_and_keeps_the_prepared_statements(db_url: str) -> None:
    """On PostgreSQL ``query`` runs in autocommit: no BEGIN, and no ROLLBACK when the pool takes
    the connection back, which psycopg would answer with DEALLOCATE ALL."""
    if not db_url.startswith("postgresql"):
        pytest.skip("psycopg's prepared statements: the PostgreSQL pass runs this")
    engine = make_engine(db_url)
    try:
        prepared = DriverStatement(lambda _d: text("SELECT count(*) FROM pg_prepared_statements"))
        in_transaction = DriverStatement(lambda _d: text("SELECT now() <> statement_timestamp()"))
        # psycopg prepares a statement on its 5th run on a connection; the pool's one connection
        # keeps it from then on.
        seen = [prepared.query(engine, {})[0][0] for _ in range(8)]
        assert seen[-1] >= 1, seen
        assert in_transaction.query(engine, {}) == [(False,)]
    finally:
        engine.dispose()
