"""The `civicgrid` command as an operator runs it (a real subprocess)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from civicgrid.audit.service import Actor, record, set_actor
from civicgrid.db import get_engine, transaction
from tests.conftest import new_database


def _run(*args: str, url: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIVICGRID_DATABASE_URL": url, "CIVICGRID_ENV": "development", **extra}
    return subprocess.run([sys.executable, "-m", "civicgrid.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    result = _run("serve", "--port", "8999", url=f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    assert result.returncode == 2
    assert "civicgrid db upgrade" in result.stderr


def test_serve_refuses_the_builtin_secret_outside_development(tmp_path: Path) -> None:
    """Issue 9 §3.4: the key printed in the source must not sign production tokens."""
    no_key_file = str(tmp_path / "absent" / "secret_key")
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    refused = _run("serve", "--port", "8999", url=url, CIVICGRID_ENV="production",
                   CIVICGRID_SECRET_KEY_FILE=no_key_file)
    assert refused.returncode == 2
    assert "CIVICGRID_SECRET_KEY" in refused.stderr and "默认密钥" in refused.stderr
    assert "db upgrade" not in refused.stderr  # refused before anything else
    # A key of its own passes this check (and stops at the next one: the unmigrated database).
    own_key = _run("serve", "--port", "8999", url=url, CIVICGRID_ENV="production",
                   CIVICGRID_SECRET_KEY="k" * 48, CIVICGRID_SECRET_KEY_FILE=no_key_file)
    assert own_key.returncode == 2 and "civicgrid db upgrade" in own_key.stderr


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


def test_demo_generates_its_own_secret_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`civicgrid demo` writes a random key (mode 0600) once; later commands read it."""
    from civicgrid.cli import _ensure_demo_secret
    from civicgrid.config import get_settings

    key_file = tmp_path / "var" / "secret_key"
    monkeypatch.setenv("CIVICGRID_SECRET_KEY_FILE", str(key_file))
    monkeypatch.setenv("CIVICGRID_ENV", "production")
    monkeypatch.delenv("CIVICGRID_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    try:
        assert get_settings().uses_builtin_secret
        _ensure_demo_secret()
        first = key_file.read_text().strip()
        assert len(first) >= 48 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert get_settings().secret_key == first and not get_settings().uses_builtin_secret
        get_settings.cache_clear()
        _ensure_demo_secret()  # a second demo keeps the key (the data is encrypted with it)
        assert key_file.read_text().strip() == first == get_settings().secret_key
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
