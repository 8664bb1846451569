"""Migration 0021 moves the Open311 clients into the platform's registry: same ids, same key
hashes, so every key issued before keeps working; the downgrade moves them back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from civicgrid.apiclients import service as apiclients
from civicgrid.migrate import alembic_config, upgrade


def test_open311_clients_become_api_clients_and_their_keys_still_work(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'moved.sqlite3'}"
    upgrade(url, "0020_files_store")
    key = apiclients.new_api_key("open311")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO open311_clients (id, name, contact, division_code, key_hash, key_prefix, active, "
                "created_at, created_by, revoked_at) VALUES ('c1', '零陵随手拍', '区融媒体中心', '431102000000', "
                ":hash, :prefix, 1, :at, 'admin', NULL)"
            ),
            {"hash": apiclients.key_hash(key), "prefix": key[:9], "at": datetime(2026, 12, 1, tzinfo=UTC)},
        )
    upgrade(url)
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT name, system_kind, division_code, record_kinds, key_hash, active FROM api_clients")
        ).one()
        tables = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))}
        fk = conn.execute(text("PRAGMA foreign_key_list(open311_requests)")).all()
    assert tuple(row) == ("零陵随手拍", "open311", "431102000000", '["open311_request"]', apiclients.key_hash(key), 1)
    assert "open311_clients" not in tables and {"api_clients", "api_receipts"} <= tables
    assert {(r[2], r[3]) for r in fk} == {("matters", "matter_id"), ("api_clients", "client_id")}

    command.downgrade(alembic_config(url), "0020_files_store")
    with engine.connect() as conn:
        back = conn.execute(text("SELECT id, key_hash FROM open311_clients")).one()
    assert tuple(back) == ("c1", apiclients.key_hash(key))
    engine.dispose()
