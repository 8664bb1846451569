"""Migration 0020 moves the matter photos kept as BLOBs into the file store (and its downgrade
brings them back), on SQLite and, when the tests run on PostgreSQL, there too."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text

from civicgrid.files import backends
from civicgrid.migrate import alembic_config, upgrade
from tests.conftest import _drop_postgres, blank_postgres


@pytest.fixture
def blank_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty database of the kind the tests run on, and a file store directory of its own."""
    monkeypatch.setenv("CIVICGRID_FILES_DIR", str(tmp_path / "files"))
    backends.settings.cache_clear()
    base = os.environ.get("CIVICGRID_TEST_DATABASE_URL", "")
    try:
        if base.startswith("postgresql"):
            url, name = blank_postgres(base)
            yield url
            _drop_postgres(base, name)
        else:
            yield f"sqlite:///{tmp_path / 'before.sqlite3'}"
    finally:
        monkeypatch.undo()
        backends.settings.cache_clear()


def _without_foreign_keys(engine: Engine) -> str:
    return (
        "SET session_replication_role = replica" if engine.dialect.name == "postgresql" else "PRAGMA foreign_keys = OFF"
    )


def test_migration_0020_moves_photo_blobs_into_the_store_and_back(blank_url: str) -> None:
    # Found by its message, so the test follows the migration when the chain is renumbered.
    migration = next(
        r
        for r in ScriptDirectory.from_config(alembic_config(blank_url)).walk_revisions()
        if (r.doc or "").startswith("files store")
    )
    before = str(migration.down_revision)
    upgrade(blank_url, before)
    plain = create_engine(blank_url)
    first, second = b"\xff\xd8\xff\xe0 first photo", b"\x89PNG\r\n\x1a\n second photo"
    at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    rows = [("p1", "image/jpeg", first), ("p2", "image/png", second), ("p3", "image/jpeg", first)]
    with plain.begin() as conn:
        conn.execute(text(_without_foreign_keys(plain)))
        for photo_id, content_type, data in rows:
            conn.execute(
                text(
                    "INSERT INTO matter_photos (id, matter_id, division_code, stage, content_type, size, "
                    "sha256, data, created_at) VALUES (:id, 'm1', '431102001001', 'report', :ct, :size, "
                    ":sha, :data, :at)"
                ),
                {
                    "id": photo_id,
                    "ct": content_type,
                    "size": len(data),
                    "sha": hashlib.sha256(data).hexdigest(),
                    "data": data,
                    "at": at,
                },
            )
    command.upgrade(alembic_config(blank_url), migration.revision)

    columns = {c["name"] for c in inspect(plain).get_columns("matter_photos")}
    assert "data" not in columns and "sha256" not in columns and "file_id" in columns
    with plain.connect() as conn:
        moved = conn.execute(
            text(
                "SELECT p.id, f.owner_type, f.owner_id, f.division_code, f.kind, f.content_type, "
                "f.size, f.sha256, f.backend, f.storage_key FROM matter_photos p "
                "JOIN stored_files f ON f.id = p.file_id ORDER BY p.id"
            )
        ).all()
    assert [m[0] for m in moved] == ["p1", "p2", "p3"]
    root = Path(backends.settings().dir)
    for (_, owner_type, owner_id, division, kind, content_type, size, sha, backend, key), (_, ct, data) in zip(
        moved, rows, strict=True
    ):
        assert (owner_type, owner_id, division, kind, content_type, backend) == (
            "matter",
            "m1",
            "431102001001",
            "photo",
            ct,
            "fs",
        )
        assert size == len(data) and sha == hashlib.sha256(data).hexdigest()
        assert (root / key).read_bytes() == data
    assert moved[0][9] == moved[2][9]  # the same bytes are one blob

    command.downgrade(alembic_config(blank_url), before)
    with plain.connect() as conn:
        back = conn.execute(text("SELECT id, content_type, size, data FROM matter_photos ORDER BY id")).all()
    assert [(b[0], b[1], b[2], bytes(b[3])) for b in back] == [(i, ct, len(d), d) for i, ct, d in rows]
    assert "stored_files" not in inspect(plain).get_table_names()
    plain.dispose()
