"""geo: divisions, grids and the import log

Written by hand. Geometry is GeoJSON text (WGS-84) so SQLite and PostgreSQL share one schema;
the ``*_code_pattern`` indexes let PostgreSQL answer the jurisdiction filter
(``code LIKE 'prefix%'``) from a btree whatever the database collation.

Revision ID: 0002_geo
Revises: 0001_audit
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.db import UTCDateTime

revision: str = "0002_geo"
down_revision: str | None = "0001_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "divisions",
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("parent_code", sa.String(length=12), nullable=True),
        sa.Column("urban_rural_code", sa.String(length=3), nullable=True),
        sa.Column("lng", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("point_source", sa.String(length=16), nullable=True),
        sa.Column("attr_source", sa.String(length=32), nullable=True),
        sa.Column("host_code", sa.String(length=12), nullable=True),
        sa.Column("boundary", sa.Text(), nullable=True),
        sa.Column("boundary_generated", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_divisions")),
    )
    op.create_index(op.f("ix_divisions_level"), "divisions", ["level"])
    op.create_index(op.f("ix_divisions_parent_code"), "divisions", ["parent_code"])
    op.create_index(op.f("ix_divisions_host_code"), "divisions", ["host_code"])
    op.create_index(
        "ix_divisions_code_pattern", "divisions", ["code"], postgresql_ops={"code": "varchar_pattern_ops"}
    )

    op.create_table(
        "grids",
        sa.Column("code", sa.String(length=15), nullable=False),
        sa.Column("village_code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("boundary", sa.Text(), nullable=False),
        sa.Column("lng", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("area_km2", sa.Float(), nullable=False),
        sa.Column("generated", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["village_code"], ["divisions.code"], name=op.f("fk_grids_village_code_divisions")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_grids")),
    )
    op.create_index(op.f("ix_grids_village_code"), "grids", ["village_code"])
    op.create_index(
        "ix_grids_code_pattern", "grids", ["code"], postgresql_ops={"code": "varchar_pattern_ops"}
    )

    op.create_table(
        "geo_imports",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("import_id", sa.String(length=32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_geo_imports")),
    )


def downgrade() -> None:
    op.drop_table("geo_imports")
    op.drop_index("ix_grids_code_pattern", table_name="grids")
    op.drop_index(op.f("ix_grids_village_code"), table_name="grids")
    op.drop_table("grids")
    op.drop_index("ix_divisions_code_pattern", table_name="divisions")
    op.drop_index(op.f("ix_divisions_host_code"), table_name="divisions")
    op.drop_index(op.f("ix_divisions_parent_code"), table_name="divisions")
    op.drop_index(op.f("ix_divisions_level"), table_name="divisions")
    op.drop_table("divisions")
