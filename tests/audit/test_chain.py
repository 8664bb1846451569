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


# ---------------------------------------------------------------- chains per county (issue 10 §2)


def _record_in(engine: Engine, division: str | None, n: int) -> None:
    for i in range(n):
        with transaction(engine) as session:
            set_actor(session, Actor("alice", "u1"))
            record(session, "test.event", "thing", f"{division}-{i}", division_code=division, after={"i": i})


def test_each_county_and_the_city_keep_a_chain_of_their_own(chain_engine: Engine) -> None:
    _record_in(chain_engine, "431102001001", 3)  # a village of 零陵区
    _record_in(chain_engine, "431103000000", 2)  # 冷水滩区 itself
    _record_in(chain_engine, "431100000000", 1)  # the city
    _record_in(chain_engine, None, 1)  # tied to no division (a login)
    with chain_engine.connect() as conn:
        rows = conn.execute(text("SELECT chain, seq FROM audit_log ORDER BY chain, seq")).all()
        result = verify(conn)
    assert [tuple(r) for r in rows] == [("431102", 1), ("431102", 2), ("431102", 3), ("431103", 1),
                                        ("431103", 2), ("city", 1), ("city", 2)]
    assert result.ok and result.checked == 7 and result.chains == 3
    assert sorted((h.chain, h.seq) for h in result.heads) == [("431102", 3), ("431103", 2), ("city", 2)]


def test_verify_names_the_chain_and_first_entry_of_a_tampered_row(chain_engine: Engine) -> None:
    from typer.testing import CliRunner

    from civicgrid.cli import app as cli
    from civicgrid.config import get_settings

    _record_in(chain_engine, "431102001001", 3)
    _record_in(chain_engine, "431103001001", 3)
    _tamper(chain_engine, "UPDATE audit_log SET actor = 'mallory' WHERE chain = '431103' AND seq = 2")
    with chain_engine.connect() as conn:
        result = verify(conn)
    assert (result.ok, result.chain, result.broken_seq) == (False, "431103", 2)
    import os

    os.environ["CIVICGRID_DATABASE_URL"], previous = str(chain_engine.url.render_as_string(hide_password=False)), \
        os.environ.get("CIVICGRID_DATABASE_URL", "")
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(cli, ["audit", "verify"])
    finally:
        os.environ["CIVICGRID_DATABASE_URL"] = previous
        get_settings.cache_clear()
    assert out.exit_code == 1 and "chain 431103, seq 2" in out.stderr


def test_writers_of_two_counties_do_not_wait_for_each_other(chain_engine: Engine) -> None:
    """PostgreSQL: one transaction holding 零陵区's chain does not stop a commit in 冷水滩区; a
    second writer of 零陵区 waits for it (SQLite serialises every writer on its database lock)."""
    if chain_engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has one writer at a time whatever the chain")
    from civicgrid.audit.service import take_head

    holder = chain_engine.connect()
    from sqlalchemy.orm import Session

    session = Session(bind=holder)
    session.begin()
    take_head(session, division_codes=["431102001001"])  # 零陵区's lock, held until this ends
    try:
        other = threading.Thread(target=_record_in, args=(chain_engine, "431103001001", 1))
        other.start()
        other.join(timeout=10)
        assert not other.is_alive()  # another county committed meanwhile
        same = threading.Thread(target=_record_in, args=(chain_engine, "431102002001", 1))
        same.start()
        same.join(timeout=1)
        assert same.is_alive()  # the same county waits for the holder
    finally:
        session.rollback()
        session.close()
        holder.close()
    same.join(timeout=10)
    assert not same.is_alive()
    with chain_engine.connect() as conn:
        assert verify(conn).ok
