"""people: org units, their departments and responsibility areas; users.org_unit_id

An account may belong to an org unit (派出所, 司法所, 综治中心…); a unit may have a responsibility
area, resolved to grids in ``org_unit_area_grids`` and indexed both ways (unit → grids for the
scoping subquery, grid → units for "who covers this grid").

Revision ID: 0011_org_units
Revises: 0010_matters_nearby_index
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from civicgrid.db import UTCDateTime

revision: str = "0011_org_units"
down_revision: str | None = "0010_matters_nearby_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "org_units",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("type_code", sa.String(length=40), nullable=False),
        sa.Column("division_code", sa.String(length=12), nullable=False),
        sa.Column("parent_id", sa.String(length=32), nullable=True),
        sa.Column("area_kind", sa.String(length=16), nullable=True),
        sa.Column("area_polygon", sa.Text(), nullable=True),
        sa.Column("area_version", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("area_updated_at", UTCDateTime(), nullable=True),
        sa.Column("current_grid_code", sa.String(length=15), nullable=True),
        sa.Column("current_grid_at", UTCDateTime(), nullable=True),
        sa.Column("demo", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["org_units.id"], name=op.f("fk_org_units_parent_id_org_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_units")),
    )
    op.create_index("ix_org_units_division_code", "org_units", ["division_code"],
                    postgresql_ops={"division_code": "varchar_pattern_ops"})
    op.create_index(op.f("ix_org_units_parent_id"), "org_units", ["parent_id"])
    op.create_table(
        "org_unit_departments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("unit_id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("matter_type_code", sa.String(length=40), nullable=True),
        sa.Column("division_code", sa.String(length=12), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["org_units.id"], ondelete="CASCADE",
                                name=op.f("fk_org_unit_departments_unit_id_org_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_unit_departments")),
        sa.UniqueConstraint("unit_id", "code", name="uq_org_unit_departments_unit_id_code"),
    )
    op.create_table(
        "org_unit_area_grids",
        sa.Column("unit_id", sa.String(length=32), nullable=False),
        sa.Column("grid_code", sa.String(length=15), nullable=False),
        sa.Column("village_code", sa.String(length=12), nullable=False),
        sa.Column("whole_village", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["org_units.id"], ondelete="CASCADE",
                                name=op.f("fk_org_unit_area_grids_unit_id_org_units")),
        sa.PrimaryKeyConstraint("unit_id", "grid_code", name=op.f("pk_org_unit_area_grids")),
    )
    op.create_index("ix_org_unit_area_grids_grid_code", "org_unit_area_grids", ["grid_code", "unit_id"])
    op.create_index("ix_org_unit_area_grids_unit_village", "org_unit_area_grids", ["unit_id", "village_code"])
    if op.get_bind().dialect.name == "sqlite":
        # Not a batch copy: with foreign keys on, dropping the old users table would cascade to
        # auth_tokens and login_failures. SQLite adds a NULL column with a reference in place.
        op.execute("ALTER TABLE users ADD COLUMN org_unit_id VARCHAR(32) REFERENCES org_units (id)")
    else:
        op.add_column("users", sa.Column("org_unit_id", sa.String(length=32), nullable=True))
        op.create_foreign_key(op.f("fk_users_org_unit_id_org_units"), "users", "org_units", ["org_unit_id"], ["id"])
    op.create_index(op.f("ix_users_org_unit_id"), "users", ["org_unit_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_users_org_unit_id"), table_name="users")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot drop a column with a reference: the table is copied (with foreign keys on,
        # that drops the sessions in auth_tokens — a downgrade logs everyone out).
        with op.batch_alter_table("users") as batch:
            batch.drop_column("org_unit_id")
    else:
        op.drop_constraint(op.f("fk_users_org_unit_id_org_units"), "users", type_="foreignkey")
        op.drop_column("users", "org_unit_id")
    op.drop_table("org_unit_area_grids")
    op.drop_table("org_unit_departments")
    op.drop_index(op.f("ix_org_units_parent_id"), table_name="org_units")
    op.drop_index("ix_org_units_division_code", table_name="org_units")
    op.drop_table("org_units")
