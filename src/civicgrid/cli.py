"""The ``civicgrid`` command: serve, demo, db upgrade, import-divisions, user create, admins init, audit verify."""

from __future__ import annotations

from pathlib import Path

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
    if revision == "head":  # roles.json may have changed since the roles migration ran
        roles_sync()
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


@app.command("openapi")
def openapi(
    out: Path | None = typer.Option(None, "--out", help="Write to this file instead of stdout"),
) -> None:
    """Print the OpenAPI schema as JSON (the web console's API types are generated from it) / 导出 OpenAPI."""
    import json

    from civicgrid.main import create_app

    # Building the schema only walks the routes: no database connection, no worker.
    schema = create_app(start_workers=False).openapi()
    text = json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    typer.echo(f"OpenAPI schema written to {out} / 已写入 {out}", err=True)


@app.command("serve")
def serve(host: str = typer.Option("127.0.0.1", help="Address to bind / 监听地址"),
          port: int = typer.Option(8000, help="Port / 端口"),
          workers: int = typer.Option(1, help="Worker processes (see docs/operations.md) / 进程数")) -> None:
    """Serve the API and web console / 启动服务. Refuses an un-migrated database."""
    from civicgrid.db import get_engine
    from civicgrid.migrate import current_revision, head_revision

    settings = get_settings()
    current = current_revision(get_engine())
    head = head_revision(settings.database_url)
    if current != head:
        typer.echo(f"数据库尚未迁移到最新版本（当前 {current or '空'}，需要 {head}）：请先运行 `civicgrid db upgrade`\n"
                   f"The database is not migrated (at {current or 'nothing'}, needs {head}): "
                   "run `civicgrid db upgrade` first.", err=True)
        raise typer.Exit(2)
    from civicgrid.serving import serve as run_server

    run_server(host, port, workers)


@app.command("import-divisions")
def import_divisions(
    path: Path = typer.Argument(..., exists=True, dir_okay=False,
                                help="Divisions CSV / 区划 CSV（docs/data-format.md）"),
    boundaries: list[Path] = typer.Option([], "--boundaries", exists=True, dir_okay=False,
                                          help="GeoJSON outlines of divisions (repeatable) / 区划边界"),
    grids: Path | None = typer.Option(None, "--grids", exists=True, dir_okay=False,
                                      help="GeoJSON grids / 网格边界"),
    hosts: Path | None = typer.Option(None, "--hosts", exists=True, dir_okay=False,
                                      help="CSV code,host_code of statistical-only units / 统计用单位所在县"),
    datum: str = typer.Option("gcj02", help="Datum of the coordinates: gcj02 or wgs84 / 坐标系"),
    generate: bool = typer.Option(False, "--generate-grids", help="Draw the demo grid layer / 生成演示网格"),
) -> None:
    """Import divisions (and optionally outlines and grids) in one transaction / 导入区划与网格.

    A malformed file is refused with the line (or feature) number and nothing is written."""
    from civicgrid.audit.service import set_actor, system_actor
    from civicgrid.db import get_engine, transaction
    from civicgrid.geo import service as geo
    from civicgrid.kit.errors import AppError

    try:
        with transaction(get_engine()) as session:
            set_actor(session, system_actor("cli"))
            reports = [geo.import_divisions(session, path.read_bytes(), source=path.name, datum=datum)]
            if hosts is not None:
                reports.append(geo.apply_hosts(session, hosts.read_bytes(), source=hosts.name))
            for outline in boundaries:
                reports.append(geo.import_boundaries(session, outline.read_bytes(), source=outline.name,
                                                     datum=datum))
            if grids is not None:
                reports.append(geo.import_grids(session, grids.read_bytes(), source=grids.name, datum=datum))
            if generate:
                reports.append(geo.generate_grid_layer(session))
    except AppError as exc:
        typer.echo(f"import refused, nothing written / 导入被拒绝，未写入任何数据: {exc.zh} / {exc.en}",
                   err=True)
        raise typer.Exit(1) from None
    for r in reports:
        typer.echo(f"{r.kind:<10} {r.source}: created {r.created}, updated {r.updated}, "
                   f"unchanged {r.unchanged}, deleted {r.deleted}")


user_app = typer.Typer(help="User accounts / 账号", no_args_is_help=True)
roles_app = typer.Typer(help="Roles and permissions / 角色与权限", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(roles_app, name="roles")


def _read_password(label: str) -> str:
    """A password typed at a hidden prompt, twice (a terminal), or one line of standard input (a
    script) — never a command-line argument, which lands in the shell history and ``ps``."""
    import sys

    if sys.stdin.isatty():
        return str(typer.prompt(f"{label} 的密码 / password for {label}", hide_input=True,
                                confirmation_prompt=True))
    line = sys.stdin.readline()
    if not line.strip():
        typer.echo(f"未读到 {label} 的密码（标准输入每行一个）/ no password for {label} on standard input "
                   "(one per line)", err=True)
        raise typer.Exit(1)
    return line.rstrip("\r\n")


@user_app.command("create")
def user_create(
    username: str = typer.Option(..., "--username", help="Login name / 用户名"),
    role: str = typer.Option(..., "--role", help="Role code, e.g. grid_worker / 角色代码"),
    division: str = typer.Option(..., "--division",
                                 help="12-digit division or 15-digit grid code / 区划或网格代码"),
    display_name: str | None = typer.Option(None, "--display-name", help="Name shown / 姓名"),
    phone: str | None = typer.Option(None, "--phone", help="Mobile number (stored encrypted) / 手机号"),
) -> None:
    """Create an account; the password is read from a prompt (or a line of standard input) and
    must be changed at first login / 新建账号（密码从提示符或标准输入读取，首次登录须修改）."""
    from civicgrid.audit.service import set_actor, system_actor
    from civicgrid.db import get_engine, transaction
    from civicgrid.kit.errors import AppError
    from civicgrid.people import service as people

    password = _read_password(username)
    try:
        with transaction(get_engine()) as session:
            set_actor(session, system_actor("cli"))
            user = people.create_user(session, username=username, display_name=display_name or username,
                                      role=role, division_code=division, password=password, phone=phone,
                                      must_change_password=True)
            user_id = user.id
    except AppError as exc:
        typer.echo(f"{exc.zh} / {exc.en}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"user {username} created ({role}, {division}), id {user_id}; the password must be changed at "
               "first login / 账号已创建，首次登录须修改密码")


admins_app = typer.Typer(help="The three administrators (三员) / 系统、安全、审计管理员", no_args_is_help=True)
app.add_typer(admins_app, name="admins")


@admins_app.command("init")
def admins_init(
    division: str = typer.Option("431100000000", "--division", help="Their division (the city) / 所在区划"),
    sysadmin: str = typer.Option("sysadmin", "--sysadmin", help="System administrator's login / 系统管理员"),
    secadmin: str = typer.Option("secadmin", "--secadmin", help="Security administrator's login / 安全管理员"),
    auditadmin: str = typer.Option("auditadmin", "--auditadmin", help="Audit administrator's login / 审计管理员"),
) -> None:
    """Create the system, security and audit administrators, once, at install / 初始化三员账号.

    Each password is read from a hidden prompt (or one line of standard input each, in this order)
    and must be changed by its administrator at first login, who then enrols an authenticator
    (TOTP). Refuses to run when any of the three roles already has an account."""
    from civicgrid.audit.service import set_actor, system_actor
    from civicgrid.db import get_engine, transaction
    from civicgrid.kit.errors import AppError
    from civicgrid.people import service as people

    names = {"sysadmin": sysadmin, "secadmin": secadmin, "auditadmin": auditadmin}
    with transaction(get_engine(), write=False) as session:
        done = people.admins_exist(session)
    if done:
        typer.echo("三员账号已初始化，不能再次运行 / the administrators already exist: admins init runs once",
                   err=True)
        raise typer.Exit(1)
    passwords = {role: _read_password(name) for role, name in names.items()}
    try:
        with transaction(get_engine()) as session:
            set_actor(session, system_actor("cli"))
            people.init_admins(session, division_code=division,
                               accounts=[(role, names[role], passwords[role]) for role in names])
    except AppError as exc:
        typer.echo(f"{exc.zh} / {exc.en}", err=True)
        raise typer.Exit(1) from None
    for role, name in names.items():
        typer.echo(f"{role}: {name} created / 已创建")
    typer.echo("Each must change the password and enrol an authenticator (TOTP) at first login. / "
               "每位管理员首次登录须修改密码并绑定动态验证码。")


@roles_app.command("sync")
def roles_sync() -> None:
    """Bring the roles tables in line with the shipped roles.json / 同步角色与权限."""
    from civicgrid.audit.service import set_actor, system_actor
    from civicgrid.db import get_engine, transaction
    from civicgrid.people import service as people

    with transaction(get_engine()) as session:
        set_actor(session, system_actor("cli"))
        report = people.sync_roles(session)
    typer.echo(f"roles added {report.added_roles or '-'}, updated {report.updated_roles or '-'}; "
               f"granted {len(report.granted)}, revoked {len(report.revoked)} permissions / 角色已同步")


timers_app = typer.Typer(help="Durable timers / 定时任务（时限、升级、提醒）", no_args_is_help=True)
app.add_typer(timers_app, name="timers")


@timers_app.command("status")
def timers_status(failures: int = typer.Option(10, help="How many recent failures to list")) -> None:
    """Timers per state, the overdue backlog, recent failures / 定时任务状态."""
    from civicgrid.db import get_engine, transaction
    from civicgrid.timers import service as timers

    with transaction(get_engine(), write=False) as session:
        report = timers.summary(session, failures=failures)
    states = ", ".join(f"{state} {count}" for state, count in sorted(report.by_state.items())) or "none"
    typer.echo(f"timers: {states}; overdue {report.overdue} / 逾期未执行 {report.overdue}")
    for timer in report.failures:
        last = (timer.last_error or "").strip().splitlines()[-1:] or [""]
        typer.echo(f"  failed {timer.key} ({timer.kind}, {timer.attempts} attempts): {last[0][:200]}")


@timers_app.command("purge")
def timers_purge(older_than_days: int = typer.Option(None, min=1, help="Default: CIVICGRID_TIMER_RETENTION_DAYS"),
                 ) -> None:
    """Delete timers that finished (done or cancelled) long ago / 清理早已结束的定时任务."""
    from datetime import timedelta

    from civicgrid.audit.service import system_actor
    from civicgrid.db import get_engine
    from civicgrid.timers.worker import purge

    retention = timedelta(days=older_than_days) if older_than_days else get_settings().timer_retention
    if retention is None:
        typer.echo("CIVICGRID_TIMER_RETENTION_DAYS=0: finished timers are kept / 已设置为永久保留")
        return
    total = purge(get_engine(), retention, system_actor())
    typer.echo(f"deleted {total} timers finished more than {retention.days} days ago / 已删除 {total} 条")


@timers_app.command("work")
def timers_work(poll: float = typer.Option(None, help="Seconds between polls (default: settings)")) -> None:
    """Run only the timer worker, without serving HTTP (Ctrl-C stops it) / 单独运行定时任务进程."""
    import asyncio
    import signal

    from civicgrid.main import create_app
    from civicgrid.timers.worker import TimerWorker

    settings = get_settings()
    app_ = create_app(settings, start_workers=False)  # imports every domain, so every handler is registered
    worker = TimerWorker(app_.state.engine, lease_seconds=settings.timer_lease_seconds,
                         retention=settings.timer_retention)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        typer.echo(f"timer worker {worker.worker_id} on {_safe_url(settings.database_url)}")
        await worker.run_forever(stop, poll if poll is not None else settings.timer_poll_seconds)

    asyncio.run(run())


@app.command("demo")
def demo(host: str = typer.Option("127.0.0.1"), port: int = typer.Option(8000),
         serve_after: bool = typer.Option(True, "--serve/--no-serve",
                                          help="Serve after seeding / 完成后启动服务"),
         weeks: float = typer.Option(4.0, "--weeks", min=0.0,
                                     help="Weeks of matters to replay, ending now (0: none) / 回放事项的周数"),
         matters_per_day: float = typer.Option(40.0, "--matters-per-day", min=0.0,
                                               help="Matters reported per day, on average / 日均上报事项数"),
         sim_seed: int = typer.Option(20261129, "--seed", help="Random seed of the replay / 随机种子")) -> None:
    """Migrate, load Yongzhou, demo accounts and weeks of matters, print the logins, serve / 演示环境一键启动."""
    from civicgrid.db import get_engine
    from civicgrid.migrate import upgrade
    from civicgrid.simulate.demo import format_logins, seed, seed_matters

    settings = get_settings()
    upgrade(settings.database_url)
    logins = seed(get_engine(), echo=typer.echo)
    if weeks > 0:
        typer.echo(seed_matters(get_engine(), logins, weeks=weeks, matters_per_day=matters_per_day, seed=sim_seed,
                                echo=typer.echo))
    typer.echo(format_logins(logins, f"http://{host}:{port}"))
    if serve_after:
        serve(host=host, port=port, workers=1)


figures_app = typer.Typer(help="Matter figures / 事项统计", no_args_is_help=True)
app.add_typer(figures_app, name="figures")


@figures_app.command("rebuild")
def figures_rebuild() -> None:
    """Recompute the matter figure rollups from the matters table / 从事项表重建统计汇总."""
    from civicgrid.audit.service import record, set_actor, system_actor
    from civicgrid.db import get_engine, transaction
    from civicgrid.matters.figures.service import rebuild

    with transaction(get_engine()) as session:
        set_actor(session, system_actor())
        counts = rebuild(session)
        record(session, "figures.rebuild", "matter_figures", after=counts)
    for table, rows in counts.items():
        typer.echo(f"{table}: {rows} rows / 行")


open311_app = typer.Typer(help="Open311 GeoReport v2 clients / Open311 接入方与密钥", no_args_is_help=True)
app.add_typer(open311_app, name="open311")


@open311_app.command("client-create")
def open311_client_create(
    name: str = typer.Option(..., "--name", help="Client name / 接入方名称"),
    division: str = typer.Option(..., "--division", help="12-digit division it may report for / 辖区代码"),
    contact: str = typer.Option("", "--contact", help="Contact person or address / 联系人"),
) -> None:
    """Register a client and print its API key (shown this once) / 登记接入方并发放密钥."""
    from civicgrid.audit.service import set_actor, system_actor
    from civicgrid.db import get_engine, transaction
    from civicgrid.kit.errors import AppError
    from civicgrid.matters.open311 import service as open311

    actor = system_actor("cli")
    try:
        with transaction(get_engine()) as session:
            set_actor(session, actor)
            client, key = open311.create_client(session, name=name, division_code=division, contact=contact,
                                                created_by=actor.name)
            client_id = client.id
    except AppError as exc:
        typer.echo(f"{exc.zh} / {exc.en}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"client {client_id} ({name}, {division}) registered / 接入方已登记")
    typer.echo(f"api_key: {key}")
    typer.echo("The key is shown only now: hand it to the client over a safe channel. / 密钥仅显示这一次，请妥善转交。")


@open311_app.command("client-revoke")
def open311_client_revoke(client_id: str = typer.Argument(..., help="Client id / 接入方编号")) -> None:
    """Revoke a client's API key at once / 吊销接入方密钥."""
    from civicgrid.audit.service import set_actor, system_actor
    from civicgrid.db import get_engine, transaction
    from civicgrid.kit.errors import AppError
    from civicgrid.matters.open311 import service as open311

    try:
        with transaction(get_engine()) as session:
            set_actor(session, system_actor("cli"))
            client = open311.revoke_client(session, client_id, prefix=None)
            revoked_at = client.revoked_at
    except AppError as exc:
        typer.echo(f"{exc.zh} / {exc.en}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"client {client_id} revoked at {revoked_at} / 密钥已吊销")


@open311_app.command("client-list")
def open311_client_list() -> None:
    """List registered clients (never their keys) / 列出接入方."""
    from civicgrid.db import get_engine, transaction
    from civicgrid.matters.open311 import service as open311

    with transaction(get_engine(), write=False) as session:
        clients = open311.all_clients(session)
        lines = [f"{c.id}  {c.key_prefix}…  {'active' if c.active else 'revoked'}  {c.division_code}  {c.name}"
                 for c in clients]
    typer.echo("\n".join(lines) if lines else "no clients / 暂无接入方")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:  # pragma: no cover - console entry
    app(prog_name="civicgrid")


if __name__ == "__main__":  # pragma: no cover
    main()
