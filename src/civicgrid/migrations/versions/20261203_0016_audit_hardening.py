"""audit chain hardening: TRUNCATE refused, purge only through a permit, a non-owner app role

Revision ID: 0016_audit_hardening
Revises: 0015_alerts
Create Date: 2026-12-03

Issue 9 §3.1/§3.2. On PostgreSQL:

- a statement-level ``BEFORE TRUNCATE`` trigger (row triggers do not fire on TRUNCATE);
- the row trigger lets a DELETE through only for rows covered by a permit in
  ``audit_purge_permits``, which ``civicgrid audit purge`` writes and removes inside its own
  transaction (so no other transaction ever sees one);
- when the migration runs as a superuser: ``audit_log`` is handed to a NOLOGIN owner role
  ``civicgrid_audit_owner``, and a NOLOGIN group role ``civicgrid_app`` gets what the
  application needs — SELECT/INSERT/UPDATE/DELETE on every other table, only SELECT and INSERT
  on ``audit_log``, nothing on the permits — so a login role that is a member of
  ``civicgrid_app`` (docs/operations.md) can neither TRUNCATE, DELETE, UPDATE, DROP nor disable
  the triggers of the chain. Roles are cluster-wide: created once, never dropped here.

SQLite has no TRUNCATE (``DELETE`` without ``WHERE`` fires the triggers) and no roles: the
delete trigger reads the same permits table; the file's permissions are the boundary there.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_audit_hardening"
down_revision: str | None = "0015_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWNER_ROLE = "civicgrid_audit_owner"
APP_ROLE = "civicgrid_app"


def _create_role(name: str) -> None:
    # Several databases of one server may migrate at once (the test suite does): the loser of
    # the race finds the role there.
    op.execute(f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{name}') THEN
                CREATE ROLE {name} NOLOGIN;
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$;
    """)


def upgrade() -> None:
    op.create_table(
        "audit_purge_permits",
        sa.Column("through_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("through_seq", name=op.f("pk_audit_purge_permits")),
    )
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TRIGGER audit_log_no_delete")
        op.execute("""CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
                      WHEN NOT EXISTS (SELECT 1 FROM audit_purge_permits WHERE OLD.seq <= through_seq)
                      BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""")
        return
    op.execute("""
        CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM audit_purge_permits WHERE OLD.seq <= through_seq) THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION 'audit_log is append-only';
        END $$;
    """)
    op.execute("""
        CREATE FUNCTION audit_log_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit_log is append-only: TRUNCATE refused'; END $$;
    """)
    op.execute("""CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
                  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_no_truncate()""")
    superuser = op.get_bind().execute(sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar()
    if not superuser:
        return  # docs/operations.md gives the statements for an administrator to run
    _create_role(OWNER_ROLE)
    _create_role(APP_ROLE)
    op.execute(f"ALTER TABLE audit_log OWNER TO {OWNER_ROLE}")
    op.execute(f"ALTER TABLE audit_purge_permits OWNER TO {OWNER_ROLE}")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
    op.execute(f"REVOKE ALL ON audit_log, audit_purge_permits FROM {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT ON audit_log TO {APP_ROLE}")
    # Tables of later migrations (run by this same role) are the application's too.
    defaults = "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT"
    op.execute(f"{defaults} SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}")
    op.execute(f"{defaults} USAGE, SELECT, UPDATE ON SEQUENCES TO {APP_ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TRIGGER audit_log_no_delete")
        op.execute("""CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
                      BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""")
        op.drop_table("audit_purge_permits")
        return
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS audit_log_no_truncate()")
    op.execute("""
        CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
    """)
    superuser = op.get_bind().execute(sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar()
    if superuser:
        op.execute("ALTER TABLE audit_log OWNER TO CURRENT_USER")
    op.drop_table("audit_purge_permits")
