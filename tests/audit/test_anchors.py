"""Anchors, TRUNCATE, the application's role and retention (issue 9 §3.1, §3.2), through the
`civicgrid audit …` commands as an operator runs them, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from civicgrid.audit.chain import entry_hash, hashed_fields
from civicgrid.audit.service import Actor, iter_entries, record, set_actor
from civicgrid.cli import app as cli
from civicgrid.config import Settings, get_settings
from civicgrid.db import UTCDateTime, get_engine, transaction
from civicgrid.kit.clock import FakeClock, get_clock, set_clock
from tests.conftest import new_database


@pytest.fixture
def chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A database of its own (these tests commit and tamper), configured for the CLI."""
    url, cleanup = new_database(tmp_path)
    monkeypatch.setenv("CIVICGRID_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = get_engine(url)
    yield engine
    engine.dispose()
    monkeypatch.undo()
    get_settings.cache_clear()
    cleanup()  # type: ignore[operator]


def _append(engine: Engine, n: int) -> None:
    for i in range(n):
        with transaction(engine) as session:
            set_actor(session, Actor("alice", "u1"))
            record(session, "test.event", "thing", str(i), division_code="431102000000", after={"i": i})


def _cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _without_triggers(engine: Engine, *statements: str) -> None:
    """What a database administrator (owner or superuser) can do behind the application's back."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        for stmt in statements:
            conn.execute(text(stmt))
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))


def _anchor(tmp_path: Path, every: int = 2) -> Path:
    out = tmp_path / "anchors.jsonl"
    result = _cli("audit", "anchor", "--out", str(out), "--every", str(every))
    assert result.exit_code == 0, result.output
    return out


def test_anchor_writes_head_and_checkpoints_as_json_lines(chain: Engine, tmp_path: Path) -> None:
    _append(chain, 5)
    out = _anchor(tmp_path)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(a["chain"], a["seq"], a["kind"]) for a in lines] == [
        ("431102", 2, "checkpoint"), ("431102", 4, "checkpoint"), ("431102", 5, "head")]  # 零陵区's chain
    with chain.connect() as conn:
        hashes = dict(conn.execute(text("SELECT seq, hash FROM audit_log")).all())
    assert all(a["hash"] == hashes[a["seq"]] and a["at"] and a["anchored_at"] for a in lines)
    # A later run appends only what is new; the printed form is the same lines.
    _append(chain, 1)
    _anchor(tmp_path)
    assert [json.loads(line)["seq"] for line in out.read_text().splitlines()] == [2, 4, 5, 6]
    printed = _cli("audit", "anchor", "--every", "3")
    assert [json.loads(line)["seq"] for line in printed.stdout.splitlines()] == [3, 6]


def test_verify_with_anchors_detects_a_cut_tail(chain: Engine, tmp_path: Path) -> None:
    _append(chain, 6)
    anchors = _anchor(tmp_path)
    _without_triggers(chain, "DELETE FROM audit_log WHERE seq >= 5")
    assert _cli("audit", "verify").exit_code == 0  # without anchors the shorter chain looks intact
    result = _cli("audit", "verify", "--anchors", str(anchors))
    assert result.exit_code == 1
    assert "seq 6" in result.stderr and "missing" in result.stderr


def test_verify_with_anchors_detects_a_truncated_table(chain: Engine, tmp_path: Path) -> None:
    _append(chain, 4)
    anchors = _anchor(tmp_path)
    truncate = "TRUNCATE audit_log" if chain.dialect.name == "postgresql" else "DELETE FROM audit_log"
    _without_triggers(chain, truncate)
    plain = _cli("audit", "verify")
    assert plain.exit_code == 0 and "0 entries" in plain.stdout  # the finding: an "intact" empty chain
    result = _cli("audit", "verify", "--anchors", str(anchors))
    assert result.exit_code == 1 and "seq 2" in result.stderr and "empty" in result.stderr


def test_verify_with_anchors_detects_rows_rewritten_with_recomputed_hashes(chain: Engine, tmp_path: Path) -> None:
    _append(chain, 6)
    anchors = _anchor(tmp_path)
    # Forge seq 3 and recompute every hash from there on, as someone holding the table could.
    with chain.connect() as conn:
        rows = list(iter_entries(conn, "431102"))
    utc = UTCDateTime()
    prev = rows[1]["hash"]
    updates = []
    for row in rows[2:]:
        row["at"] = utc.process_result_value(row["at"], chain.dialect)
        if row["seq"] == 3:
            row["entity_id"] = "forged"
        row["prev_hash"], row["hash"] = prev, entry_hash(prev, hashed_fields(row))
        prev = row["hash"]
        updates.append(f"UPDATE audit_log SET entity_id = '{row['entity_id']}', prev_hash = '{row['prev_hash']}', "
                       f"hash = '{row['hash']}' WHERE seq = {row['seq']}")
    _without_triggers(chain, *updates)
    assert _cli("audit", "verify").exit_code == 0  # a consistent forgery
    result = _cli("audit", "verify", "--anchors", str(anchors))
    assert result.exit_code == 1
    assert "seq 4" in result.stderr and "anchor" in result.stderr  # the first checkpoint after the forgery
    # … and the next anchoring run refuses to write down the forged chain.
    again = _cli("audit", "anchor", "--out", str(anchors))
    assert again.exit_code == 1 and "seq 4" in again.stderr


def test_verify_refuses_a_malformed_anchor_file(chain: Engine, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"chain": "city", "seq": "x"}\n')
    result = _cli("audit", "verify", "--anchors", str(bad))
    assert result.exit_code == 2 and "not an audit anchor" in result.stderr


# ---------------------------------------------------------------- PostgreSQL: TRUNCATE and roles


def _postgres_only(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no TRUNCATE and no roles (DELETE fires the triggers)")


def test_truncate_is_refused_even_for_the_owner(chain: Engine) -> None:
    _postgres_only(chain)
    _append(chain, 2)
    with pytest.raises(Exception, match="TRUNCATE refused"), chain.begin() as conn:
        conn.execute(text("TRUNCATE audit_log"))
    with chain.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM audit_log")) == 2
        owner = conn.scalar(text("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_log'"))
    assert owner == "civicgrid_audit_owner"


@pytest.fixture
def app_login(chain: Engine) -> Iterator[Engine]:
    """A plain login role with the application's grants (member of civicgrid_app), as
    docs/operations.md tells an operator to create one."""
    _postgres_only(chain)
    name = f"cg_app_{uuid.uuid4().hex[:8]}"
    with chain.begin() as conn:
        conn.execute(text(f"CREATE ROLE {name} LOGIN IN ROLE civicgrid_app"))
    engine = create_engine(make_url(str(chain.url.render_as_string(hide_password=False))).set(username=name))
    yield engine
    engine.dispose()
    with chain.begin() as conn:
        conn.execute(text(f"DROP OWNED BY {name}"))
        conn.execute(text(f"DROP ROLE {name}"))


@pytest.mark.parametrize("statement", [
    "TRUNCATE audit_log",
    "DELETE FROM audit_log",
    "UPDATE audit_log SET actor = 'mallory'",
    "DROP TABLE audit_log",
    "ALTER TABLE audit_log DISABLE TRIGGER USER",
    "INSERT INTO audit_purge_permits (through_seq) VALUES (1000000)",
])
def test_the_application_role_cannot_remove_or_change_entries(chain: Engine, app_login: Engine,
                                                              statement: str) -> None:
    _append(chain, 2)
    with pytest.raises(Exception, match=r"permission denied|must be owner"), app_login.begin() as conn:
        conn.execute(text(statement))
    with chain.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM audit_log")) == 2


def test_the_application_role_still_appends_and_reads(chain: Engine, app_login: Engine) -> None:
    _append(chain, 1)
    with transaction(app_login) as session:  # the real append path: lock, head, INSERT
        set_actor(session, Actor("app"))
        record(session, "test.event", "thing", "as-app")
    with app_login.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM audit_log")) == 2
        assert conn.scalar(text("SELECT count(*) FROM users")) is not None  # the other tables: as before
    assert _cli("audit", "verify").exit_code == 0


# ---------------------------------------------------------------- retention


def test_retention_below_six_months_is_refused_cybersecurity_law_art21_3() -> None:
    """网络安全法 (2017) 第二十一条第（三）项: 网络日志留存不少于六个月 — at least 183 days."""
    with pytest.raises(ValidationError, match="网络安全法"):
        Settings(audit_retention_days=182)
    assert Settings(audit_retention_days=183).audit_retention == timedelta(days=183)
    assert Settings().audit_retention_days == 365


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    previous = get_clock()
    fake = FakeClock(datetime(2026, 12, 3, 8, 0, tzinfo=UTC))
    set_clock(fake)
    yield fake
    set_clock(previous)


def test_purge_keeps_six_months_anchors_first_and_the_rest_still_verifies_art21_3(
        chain: Engine, tmp_path: Path, clock: FakeClock) -> None:
    """网络安全法 Art. 21 (三): entries younger than the retention (≥ 6 months) survive a purge."""
    now = clock.now()
    clock.set(now - timedelta(days=400))
    _append(chain, 3)  # older than the default 365 days
    clock.set(now - timedelta(days=200))
    _append(chain, 2)  # older than 183 days, younger than 365
    clock.set(now)
    _append(chain, 1)
    before = _anchor(tmp_path)  # 2, 4, 6 — the administrator's copy from before the purge
    out = tmp_path / "purge-anchors.jsonl"
    result = _cli("audit", "purge", "--anchors-out", str(out))
    assert result.exit_code == 0, result.output
    assert "deleted 3 entries (chain 431102 through seq 3;" in result.stdout
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(a["kind"], a["seq"]) for a in written] == [("purge", 3), ("retained", 4)]
    with chain.connect() as conn:
        seqs = [r[0] for r in conn.execute(text("SELECT seq FROM audit_log ORDER BY seq"))]
        purge = conn.execute(text("SELECT actor, after FROM audit_log WHERE action = 'audit.purge'")).one()
        assert conn.scalar(text("SELECT count(*) FROM audit_purge_permits")) == 0
    assert seqs == [4, 5, 6, 7]  # the purge is itself the chain's newest entry
    assert json.loads(purge.after)["through_seq"] == 3 and purge.actor.startswith("cli:")
    # The remaining chain verifies from the recorded hash, with every kind of anchor file.
    for anchors in (None, before, out):
        args = ["audit", "verify"] + (["--anchors", str(anchors)] if anchors else [])
        verified = _cli(*args)
        assert verified.exit_code == 0, verified.output
    # Without a permit the trigger still refuses a delete.
    with pytest.raises(Exception, match="append-only"), chain.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 4"))
    # A retained entry removed behind the purge's back is still named.
    _without_triggers(chain, "DELETE FROM audit_log WHERE seq = 4")
    broken = _cli("audit", "verify", "--anchors", str(out))
    assert broken.exit_code == 1 and "seq 4" in broken.stderr


def test_purge_refuses_a_retention_below_the_minimum_art21_3(chain: Engine, monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    """网络安全法 Art. 21 (三): CIVICGRID_AUDIT_RETENTION_DAYS=90 is refused, nothing deleted."""
    _append(chain, 1)
    monkeypatch.setenv("CIVICGRID_AUDIT_RETENTION_DAYS", "90")
    get_settings.cache_clear()
    result = _cli("audit", "purge", "--anchors-out", str(tmp_path / "a.jsonl"))
    assert result.exit_code == 2
    assert "183" in result.stderr and "网络安全法" in result.stderr
    assert not (tmp_path / "a.jsonl").exists()
    with chain.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM audit_log")) == 1
