"""`civicgrid user create` and `civicgrid roles sync` against the test database."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, select, text
from typer.testing import CliRunner

from civicgrid.cli import app as cli
from civicgrid.kit.pii import get_cipher
from civicgrid.people.models import PHONE_CONTEXT, User
from civicgrid.people.service import verify_password


def test_user_create_and_roles_sync(engine: Engine) -> None:
    runner = CliRunner()
    name = f"cli_{uuid.uuid4().hex[:8]}"
    result = runner.invoke(cli, ["user", "create", "--username", name, "--role", "township_officer",
                                 "--division", "431102001000", "--password", "Town#2026x",
                                 "--display-name", "王五", "--phone", "13900001111"])
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        row = conn.execute(select(User.__table__).where(User.username == name)).mappings().one()
    assert row["display_name"] == "王五" and row["role_code"] == "township_officer"
    assert verify_password(row["password_hash"], "Town#2026x")
    assert row["phone_cipher"] == "13900001111"  # the column type decrypts what it reads
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT phone_cipher FROM users WHERE username = :u"), {"u": name}).scalar_one()
    assert "1111" not in stored and get_cipher().decrypt(stored, PHONE_CONTEXT) == "13900001111"

    weak = runner.invoke(cli, ["user", "create", "--username", name + "_2", "--role", "grid_worker",
                               "--division", "431102001001001", "--password", "password"])
    assert weak.exit_code == 1 and "Password does not meet the policy" in weak.output
    unknown = runner.invoke(cli, ["user", "create", "--username", name + "_3", "--role", "king",
                                  "--division", "431102001001001", "--password", "Town#2026x"])
    assert unknown.exit_code == 1 and "Unknown role: king" in unknown.output

    synced = runner.invoke(cli, ["roles", "sync"])
    assert synced.exit_code == 0 and "granted 0, revoked 0" in synced.output
