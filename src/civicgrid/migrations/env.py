"""Alembic environment: the URL comes from the Config (set by civicgrid.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

import civicgrid.all_models  # noqa: F401  (fills Base.metadata)
from civicgrid.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    engine.pool = pool.NullPool(engine.pool._creator)
    with engine.connect() as conn:
        if conn.dialect.server_version_info is None:
            # The replaced pool never ran the engine's first-connect hook, which reads the server
            # version; SQLite's reflection (a batch migration's table copy) needs it.
            conn.dialect.initialize(conn)
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        conn.commit()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
