"""The `civicgrid` command as an operator runs it (a real subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from civicgrid.audit.service import Actor, record, set_actor
from civicgrid.db import get_engine, transaction
from tests.conftest import new_database


def _run(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIVICGRID_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "civicgrid.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    result = _run("serve", "--port", "8999", url=f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    assert result.returncode == 2
    assert "civicgrid db upgrade" in result.stderr


def test_audit_verify_names_the_altered_row(tmp_path: Path) -> None:
    url, cleanup = new_database(tmp_path)
    engine = get_engine(url)
    try:
        for i in range(4):
            with transaction(engine) as session:
                set_actor(session, Actor("operator"))
                record(session, "test.event", "thing", str(i))
        intact = _run("audit", "verify", url=url)
        assert intact.returncode == 0 and "4" in intact.stdout
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            else:
                conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("UPDATE audit_log SET entity_id = 'forged' WHERE seq = 3"))
        broken = _run("audit", "verify", url=url)
        assert broken.returncode == 1
        assert "seq 3" in broken.stderr
    finally:
        engine.dispose()
        cleanup()  # type: ignore[operator]
