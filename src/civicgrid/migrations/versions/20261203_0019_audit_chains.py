"""Audit chains per county (issue 10 §2): ``audit_log`` gets a ``chain`` column and the primary
key (chain, seq); every existing entry is the city-wide chain (``city``), which goes on as before.
The purge permit names its chain, and the delete triggers read it.

SQLite rebuilds the table to change its primary key, which drops its triggers: they are made
again here, as 0001 and 0016 made them.

Revision ID: 0019_audit_chains
Revises: 0018_inbox
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_audit_chains"
down_revision: str | None = "0018_inbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG_FUNCTION = """
    CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM audit_purge_permits
                                        WHERE OLD.chain = {chain} AND OLD.seq <= through_seq) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only';
    END $$;
"""
_SQLITE_NO_DELETE = """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    WHEN NOT EXISTS (SELECT 1 FROM audit_purge_permits WHERE {match} OLD.seq <= through_seq)
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"""
_SQLITE_NO_UPDATE = """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"""


_COLUMNS = ("seq", "at", "actor", "actor_id", "action", "entity_type", "entity_id", "division_code", "ip",
            "before", "after", "prev_hash", "hash")


def _sqlite_rebuild(chained: bool) -> None:
    """SQLite cannot change a primary key: copy both tables into new ones (no reflection)."""
    chain = "chain VARCHAR(12) NOT NULL, " if chained else ""
    pk = "chain, seq" if chained else "seq"
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    op.execute(f"""CREATE TABLE audit_log_new ({chain}seq INTEGER NOT NULL, at DATETIME NOT NULL,
        actor VARCHAR(64) NOT NULL, actor_id VARCHAR(32), action VARCHAR(64) NOT NULL,
        entity_type VARCHAR(64) NOT NULL, entity_id VARCHAR(64), division_code VARCHAR(15), ip VARCHAR(64),
        before TEXT, after TEXT, prev_hash VARCHAR(64) NOT NULL, hash VARCHAR(64) NOT NULL,
        CONSTRAINT pk_audit_log PRIMARY KEY ({pk}), CONSTRAINT uq_audit_log_hash UNIQUE (hash))""")
    columns = ", ".join(_COLUMNS)
    if chained:
        op.execute(f"INSERT INTO audit_log_new (chain, {columns}) SELECT 'city', {columns} FROM audit_log")
    else:
        op.execute(f"INSERT INTO audit_log_new ({columns}) SELECT {columns} FROM audit_log")
    op.execute("DROP TABLE audit_log")
    op.execute("ALTER TABLE audit_log_new RENAME TO audit_log")
    op.execute("CREATE INDEX ix_audit_log_action ON audit_log (action)")
    op.execute("CREATE INDEX ix_audit_log_division_code ON audit_log (division_code)")
    if chained:
        op.execute("CREATE INDEX ix_audit_log_at ON audit_log (at)")
    op.execute("DROP TABLE audit_purge_permits")
    op.execute(f"CREATE TABLE audit_purge_permits ({chain}through_seq INTEGER NOT NULL, "
               f"CONSTRAINT pk_audit_purge_permits PRIMARY KEY ({'chain' if chained else 'through_seq'}))")
    op.execute(_SQLITE_NO_UPDATE)
    op.execute(_SQLITE_NO_DELETE.format(match="chain = OLD.chain AND" if chained else ""))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _sqlite_rebuild(chained=True)
        return
    op.add_column("audit_log", sa.Column("chain", sa.String(length=12), nullable=False, server_default="city"))
    op.alter_column("audit_log", "chain", server_default=None)
    op.drop_constraint("pk_audit_log", "audit_log", type_="primary")
    op.create_primary_key("pk_audit_log", "audit_log", ["chain", "seq"])
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.execute("DELETE FROM audit_purge_permits")  # a permit lives only inside a purge's transaction
    op.add_column("audit_purge_permits", sa.Column("chain", sa.String(length=12), nullable=False,
                                                   server_default="city"))
    op.alter_column("audit_purge_permits", "chain", server_default=None)
    op.drop_constraint("pk_audit_purge_permits", "audit_purge_permits", type_="primary")
    op.create_primary_key("pk_audit_purge_permits", "audit_purge_permits", ["chain"])
    op.execute(_PG_FUNCTION.format(chain="audit_purge_permits.chain"))


def downgrade() -> None:
    counties = op.get_bind().execute(sa.text("SELECT count(*) FROM audit_log WHERE chain <> 'city'")).scalar()
    if counties:
        raise RuntimeError("county audit chains hold entries: one chain cannot take them back (no downgrade)")
    if op.get_bind().dialect.name != "postgresql":
        _sqlite_rebuild(chained=False)
        return
    op.drop_constraint("pk_audit_purge_permits", "audit_purge_permits", type_="primary")
    op.create_primary_key("pk_audit_purge_permits", "audit_purge_permits", ["through_seq"])
    op.drop_column("audit_purge_permits", "chain")
    op.drop_index(op.f("ix_audit_log_at"), "audit_log")
    op.drop_constraint("pk_audit_log", "audit_log", type_="primary")
    op.create_primary_key("pk_audit_log", "audit_log", ["seq"])
    op.drop_column("audit_log", "chain")
    op.execute(_PG_FUNCTION.replace("OLD.chain = {chain} AND ", ""))
