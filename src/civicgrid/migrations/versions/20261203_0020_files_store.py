"""files store: stored_files; matter photos move from BLOBs to the store

Revision ID: 0020_files_store
Revises: 0019_audit_chains
Create Date: 2026-12-03

Creates ``stored_files`` (the metadata of every stored file; the bytes live in the configured
backend, ``CIVICGRID_FILES_BACKEND``, a directory by default). ``matter_photos`` keeps its rows and
ids (the photo's stage and its matter are the matters domain's) and gains ``file_id``: each
photo's bytes are written to the backend, content-addressed, and a ``stored_files`` row (owner
``matter``) made for them; then the ``data``, ``content_type``, ``size`` and ``sha256`` columns
go (they are the stored file's now). A photo whose bytes no longer match its recorded SHA-256 is
moved with the hash of the bytes as they are, and the move logs it. The downgrade writes the bytes
back into the table. Rows moved here are not in the audit chain (a migration is not a request);
the photo rows themselves were audited when they were made.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.db import UTCDateTime
from civicgrid.files import backends
from civicgrid.kit.ids import new_id

revision: str = "0020_files_store"
down_revision: str | None = "0019_audit_chains"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")
BATCH = 200

stored_files = sa.table(
    "stored_files",
    sa.column("id", sa.String),
    sa.column("owner_type", sa.String),
    sa.column("owner_id", sa.String),
    sa.column("division_code", sa.String),
    sa.column("kind", sa.String),
    sa.column("content_type", sa.String),
    sa.column("size", sa.Integer),
    sa.column("sha256", sa.String),
    sa.column("backend", sa.String),
    sa.column("storage_key", sa.String),
    sa.column("file_name", sa.String),
    sa.column("created_by", sa.String),
    sa.column("created_at", UTCDateTime()),
)
photos = sa.table(
    "matter_photos",
    sa.column("id", sa.String),
    sa.column("matter_id", sa.String),
    sa.column("division_code", sa.String),
    sa.column("content_type", sa.String),
    sa.column("size", sa.Integer),
    sa.column("sha256", sa.String),
    sa.column("data", sa.LargeBinary),
    sa.column("file_id", sa.String),
    sa.column("created_at", UTCDateTime()),
)


def upgrade() -> None:
    op.create_table(
        "stored_files",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("owner_type", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("division_code", sa.String(15), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("backend", sa.String(8), nullable=False),
        sa.Column("storage_key", sa.String(200), nullable=False),
        sa.Column("file_name", sa.String(200), nullable=True),
        sa.Column("created_by", sa.String(32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_files")),
    )
    op.create_index("ix_stored_files_owner", "stored_files", ["owner_type", "owner_id"])
    with op.batch_alter_table("matter_photos") as batch:
        batch.add_column(sa.Column("file_id", sa.String(32), nullable=True))
    _move_photos_to_store()
    with op.batch_alter_table("matter_photos") as batch:
        batch.alter_column("file_id", existing_type=sa.String(32), nullable=False)
        batch.create_foreign_key(op.f("fk_matter_photos_file_id_stored_files"), "stored_files", ["file_id"], ["id"])
        batch.create_unique_constraint(op.f("uq_matter_photos_file_id"), ["file_id"])
        batch.drop_column("data")
        batch.drop_column("content_type")
        batch.drop_column("size")
        batch.drop_column("sha256")


def _move_photos_to_store() -> None:
    """Each photo's bytes into the default backend and a stored_files row for them, in batches
    (a photo already moved has its file_id, so a rerun after a failure carries on)."""
    conn = op.get_bind()
    target = backends.backend()
    moved = 0
    while True:
        rows = conn.execute(
            sa.select(
                photos.c.id,
                photos.c.matter_id,
                photos.c.division_code,
                photos.c.content_type,
                photos.c.sha256,
                photos.c.data,
                photos.c.created_at,
            )
            .where(photos.c.file_id.is_(None))
            .order_by(photos.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            data = bytes(row.data)
            digest = hashlib.sha256(data).hexdigest()
            if digest != row.sha256:
                log.warning("matter photo %s: bytes do not match the recorded SHA-256; moved as they are", row.id)
            key = backends.blob_key(digest)
            target.put(key, data)
            file_id = new_id()
            conn.execute(
                stored_files.insert().values(
                    id=file_id,
                    owner_type="matter",
                    owner_id=row.matter_id,
                    division_code=row.division_code,
                    kind="photo",
                    content_type=row.content_type,
                    size=len(data),
                    sha256=digest,
                    backend=target.name,
                    storage_key=key,
                    file_name=None,
                    created_by=None,
                    created_at=row.created_at,
                )
            )
            conn.execute(photos.update().where(photos.c.id == row.id).values(file_id=file_id))
            moved += 1
    if moved:
        log.info("moved %d matter photos into the file store (%s)", moved, target.name)


def downgrade() -> None:
    with op.batch_alter_table("matter_photos") as batch:
        batch.add_column(sa.Column("content_type", sa.String(32), nullable=True))
        batch.add_column(sa.Column("size", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sha256", sa.String(64), nullable=True))
        batch.add_column(sa.Column("data", sa.LargeBinary(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(
            photos.c.id,
            stored_files.c.content_type,
            stored_files.c.sha256,
            stored_files.c.backend,
            stored_files.c.storage_key,
        ).join_from(photos, stored_files, stored_files.c.id == photos.c.file_id)
    ).all()
    for row in rows:
        data = backends.backend(row.backend).get(row.storage_key)
        conn.execute(
            photos.update()
            .where(photos.c.id == row.id)
            .values(content_type=row.content_type, size=len(data), sha256=row.sha256, data=data)
        )
    with op.batch_alter_table("matter_photos") as batch:
        batch.drop_constraint(op.f("uq_matter_photos_file_id"), type_="unique")
        batch.drop_constraint(op.f("fk_matter_photos_file_id_stored_files"), type_="foreignkey")
        batch.drop_column("file_id")
        for name, kind in (
            ("content_type", sa.String(32)),
            ("size", sa.Integer()),
            ("sha256", sa.String(64)),
            ("data", sa.LargeBinary()),
        ):
            batch.alter_column(name, existing_type=kind, nullable=False)
    op.drop_index("ix_stored_files_owner", table_name="stored_files")
    op.drop_table("stored_files")
