"""`civicgrid user create`, `civicgrid admins init` and `civicgrid roles sync` against a real
database; passwords come from standard input (a subprocess, as a script would run them), never
from arguments."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import Engine, create_engine, select, text
from typer.testing import CliRunner

from civicgrid.cli import app as cli
from civicgrid.kit.pii import get_cipher
from civicgrid.people.models import PHONE_CONTEXT, User
from civicgrid.people.service import verify_password
from tests.conftest import new_database

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _civicgrid(db_url: str, args: list[str], stdin: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIVICGRID_DATABASE_URL": db_url, "PYTHONPATH": SRC}
    return subprocess.run([sys.executable, "-m", "civicgrid.cli", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def test_user_create_reads_the_password_from_stdin(engine: Engine, db_url: str) -> None:
    name = f"cli_{uuid.uuid4().hex[:8]}"
    result = _civicgrid(db_url, ["user", "create", "--username", name, "--role", "township_officer",
                                 "--division", "431102001000", "--display-name", "王五",
                                 "--phone", "13900001111"], "Town#2026x\n")
    assert result.returncode == 0, result.stderr
    with engine.connect() as conn:
        row = conn.execute(select(User.__table__).where(User.username == name)).mappings().one()
    assert row["display_name"] == "王五" and row["role_code"] == "township_officer"
    assert verify_password(row["password_hash"], "Town#2026x") and row["must_change_password"]
    assert row["phone_cipher"] == "13900001111"  # the column type decrypts what it reads
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT phone_cipher FROM users WHERE username = :u"), {"u": name}).scalar_one()
    assert "1111" not in stored and get_cipher().decrypt(stored, PHONE_CONTEXT) == "13900001111"

    runner = CliRunner()
    old_way = runner.invoke(cli, ["user", "create", "--username", name + "_0", "--role", "grid_worker",
                                  "--division", "431102001001001", "--password", "Town#2026x"])
    assert old_way.exit_code == 2 and "--password" in old_way.output
    weak = runner.invoke(cli, ["user", "create", "--username", name + "_2", "--role", "grid_worker",
                               "--division", "431102001001001"], input="Password1\n")
    assert weak.exit_code == 1 and "too common" in weak.output
    unknown = runner.invoke(cli, ["user", "create", "--username", name + "_3", "--role", "king",
                                  "--division", "431102001001001"], input="Town#2026x\n")
    assert unknown.exit_code == 1 and "Unknown role: king" in unknown.output
    empty = runner.invoke(cli, ["user", "create", "--username", name + "_4", "--role", "grid_worker",
                                "--division", "431102001001001"], input="")
    assert empty.exit_code == 1 and "no password" in empty.output

    synced = runner.invoke(cli, ["roles", "sync"])
    assert synced.exit_code == 0 and "granted 0, revoked 0" in synced.output


def test_admins_init_creates_the_three_once(tmp_path: Path) -> None:
    """三员 at install (GB/T 22239-2019 8.1.5.1–8.1.5.3), on a database of their own."""
    url, cleanup = new_database(tmp_path)
    try:
        short = _civicgrid(url, ["admins", "init"], "Sys#Admin2026\n")
        assert short.returncode == 1 and "no password for secadmin" in short.stderr  # and nothing created
        passwords = "Sys#Admin2026\nSec#Admin2026\nAud#Admin2026\n"
        first = _civicgrid(url, ["admins", "init"], passwords)
        assert first.returncode == 0, first.stderr
        assert "sysadmin: sysadmin created" in first.stdout
        engine = create_engine(url)
        with engine.connect() as conn:
            rows = {r.role_code: r for r in conn.execute(select(User.__table__).order_by(User.username))}
        engine.dispose()
        assert set(rows) == {"sysadmin", "secadmin", "auditadmin"}
        assert verify_password(rows["secadmin"].password_hash, "Sec#Admin2026")
        assert all(r.must_change_password and r.division_code == "431100000000" for r in rows.values())

        again = _civicgrid(url, ["admins", "init", "--sysadmin", "root2"], passwords)
        assert again.returncode == 1 and "runs once" in again.stderr
    finally:
        cleanup()  # type: ignore[operator]
