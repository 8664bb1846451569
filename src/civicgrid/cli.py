"""The ``civicgrid`` command: serve, demo, db upgrade, import-divisions, user create, audit verify."""

from __future__ import annotations

import sys

import typer

from civicgrid.config import get_settings

app = typer.Typer(help="civicgrid 市域社会治理平台 — city-scale governance platform", no_args_is_help=True)
db_app = typer.Typer(help="Database schema / 数据库结构", no_args_is_help=True)
audit_app = typer.Typer(help="Audit chain / 审计链", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply the migrations to the configured database / 升级数据库结构."""
    from civicgrid.migrate import upgrade

    url = get_settings().database_url
    upgrade(url, revision)
    typer.echo(f"database at {revision}: {_safe_url(url)}")


@db_app.command("revision")
def db_revision(message: str = typer.Option(..., "-m"), autogenerate: bool = True) -> None:
    """Generate a new migration from the models (developers) / 生成迁移脚本."""
    from alembic import command

    from civicgrid.migrate import alembic_config

    command.revision(alembic_config(get_settings().database_url), message=message, autogenerate=autogenerate)


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the audit chain; exit 1 naming the first broken sequence number / 校验审计链."""
    from civicgrid.audit.service import verify
    from civicgrid.db import get_engine

    with get_engine().connect() as conn:
        result = verify(conn)
    if result.ok:
        typer.echo(f"audit chain intact: {result.checked} entries / 审计链完整：{result.checked} 条")
        return
    typer.echo(f"audit chain broken at seq {result.broken_seq}: {result.reason} / "
               f"审计链在第 {result.broken_seq} 条处断裂", err=True)
    raise typer.Exit(1)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:  # pragma: no cover - console entry
    app(prog_name="civicgrid")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
