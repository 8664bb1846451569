"""The ``civicgrid`` command: serve, demo, db upgrade, import-divisions, user create, admins init, audit verify."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer

from civicgrid.city import get_city
from civicgrid.config import Settings, get_settings

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
def audit_verify(anchors: Path | None = typer.Option(
        None, "--anchors", exists=True, dir_okay=False,
        help="Anchors kept off the server (JSON lines of `audit anchor`) / 链外保存的锚点文件")) -> None:
    """Recompute the audit chain; exit 1 naming the first broken sequence number / 校验审计链.

    With --anchors, an anchored entry that is missing (a cut tail, a truncated table) or whose
    hash differs (rows rewritten with recomputed hashes) fails too."""
    from civicgrid.audit.service import verify
    from civicgrid.db import get_engine

    known = _read_anchor_file(anchors) if anchors else []
    with get_engine().connect() as conn:
        result = verify(conn, known)
    if result.ok:
        against = f", {len(known)} anchors match / 与 {len(known)} 个锚点一致" if known else ""
        typer.echo(f"audit chains intact: {result.checked} entries in {result.chains} chains / "
                   f"审计链完整：{result.chains} 条链共 {result.checked} 条{against}")
        return
    typer.echo(f"audit chain broken at {result.where()}: {result.reason} / "
               f"审计链 {result.chain} 在第 {result.broken_seq} 条处断裂", err=True)
    raise typer.Exit(1)


def _read_anchor_file(path: Path) -> list[Any]:
    from civicgrid.audit.service import read_anchors

    try:
        return read_anchors(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        typer.echo(f"{path}: {exc} / 锚点文件格式错误", err=True)
        raise typer.Exit(2) from None


def _append_anchors(path: Path, anchors: Sequence[Any]) -> None:
    """Append anchor lines and flush them to disk (a purge deletes only after this returned)."""
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        for anchor in anchors:
            out.write(anchor.to_json() + "\n")
        out.flush()
        os.fsync(out.fileno())


@audit_app.command("anchor")
def audit_anchor(
    out: Path | None = typer.Option(None, "--out", dir_okay=False,
                                    help="Append to this JSON-lines file (else print) / 追加写入此文件"),
    every: int = typer.Option(1000, "--every", min=1, help="A checkpoint every N entries / 每 N 条一个检查点"),
) -> None:
    """Write down the chain's head and checkpoints (chain, seq, hash, time) for the audit
    administrator to keep off the server / 导出审计链锚点（链外保存）.

    The chain is verified first, against the anchors already in --out: a chain that is broken,
    or that no longer matches what was written down, is not anchored (exit 1)."""
    from civicgrid.audit.service import verify
    from civicgrid.db import get_engine

    known = _read_anchor_file(out) if out is not None and out.is_file() else []
    with get_engine().connect() as conn:
        result = verify(conn, known, checkpoint_every=every)
    if not result.ok:
        typer.echo(f"audit chain broken at {result.where()}: {result.reason} — not anchored / "
                   f"审计链 {result.chain} 在第 {result.broken_seq} 条处断裂，未导出锚点", err=True)
        raise typer.Exit(1)
    have = {(a.chain, a.seq) for a in known}
    fresh = [a for a in result.anchors() if (a.chain, a.seq) not in have]
    if out is None:
        for anchor in fresh:
            typer.echo(anchor.to_json())
        return
    _append_anchors(out, fresh)
    head = ", ".join(f"{h.chain} head seq {h.seq}" for h in result.heads) or "empty chain"
    typer.echo(f"{len(fresh)} anchors appended to {out} ({head}) / 已写入 {len(fresh)} 个锚点", err=True)


@audit_app.command("purge")
def audit_purge(anchors_out: Path = typer.Option(Path("var/audit-anchors.jsonl"), "--anchors-out", dir_okay=False,
                                                 help="Where the boundary's anchors go first / 清理前写入锚点的文件"),
                ) -> None:
    """Delete audit entries older than CIVICGRID_AUDIT_RETENTION_DAYS (at least 183: 网络安全法
    Art. 21), after verifying the chain and writing the anchors of the boundary / 清理过期审计日志.

    On PostgreSQL run it with a role that may delete from audit_log (its owner or a superuser;
    the application's role may not — docs/operations.md)."""
    from civicgrid.audit.service import purge, system_actor
    from civicgrid.db import get_engine
    from civicgrid.kit.errors import AppError

    settings = _checked_settings()
    try:
        report = purge(get_engine(), settings.audit_retention, system_actor(),
                       lambda anchors: _append_anchors(anchors_out, anchors))
    except AppError as exc:
        typer.echo(f"{exc.zh} / {exc.en}", err=True)
        raise typer.Exit(1) from None
    if report.through_seq is None:
        typer.echo(f"nothing older than {report.cutoff:%Y-%m-%d} / 没有超过保留期限的审计日志")
        return
    for anchor in report.anchors:
        typer.echo(anchor.to_json())
    through = ", ".join(f"chain {chain} through seq {seq}" for chain, seq in report.through)
    typer.echo(f"deleted {report.deleted} entries ({through}; older than "
               f"{report.cutoff:%Y-%m-%d}); anchors appended to {anchors_out} — keep a copy off the server / "
               f"已删除 {report.deleted} 条，锚点已写入 {anchors_out}")


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
          workers: int = typer.Option(1, help="Worker processes (see docs/operations.md) / 进程数"),
          certfile: str = typer.Option("", help="TLS certificate (PEM) for HTTPS; default "
                                       "CIVICGRID_TLS_CERTFILE / HTTPS 证书"),
          keyfile: str = typer.Option("", help="TLS private key (PEM); default CIVICGRID_TLS_KEYFILE / HTTPS 私钥"),
          ) -> None:
    """Serve the API and web console / 启动服务. Refuses an un-migrated database. With a
    certificate it serves HTTPS (browsers allow geolocation and the microphone only there)."""
    from civicgrid.db import get_engine
    from civicgrid.migrate import current_revision, head_revision

    settings = _checked_settings()
    _refuse_builtin_secret(settings)
    current = current_revision(get_engine())
    head = head_revision(settings.database_url)
    if current != head:
        typer.echo(f"数据库尚未迁移到最新版本（当前 {current or '空'}，需要 {head}）：请先运行 `civicgrid db upgrade`\n"
                   f"The database is not migrated (at {current or 'nothing'}, needs {head}): "
                   "run `civicgrid db upgrade` first.", err=True)
        raise typer.Exit(2)
    from civicgrid.serving import serve as run_server
    from civicgrid.serving import tls_options

    certfile, keyfile = certfile or settings.tls_certfile, keyfile or settings.tls_keyfile
    try:
        tls_options(certfile, keyfile)
    except (ValueError, OSError) as exc:
        typer.echo(f"HTTPS 证书或私钥不可用 / TLS certificate or key unusable: {exc}", err=True)
        raise typer.Exit(2) from None
    run_server(host, port, workers, certfile=certfile or None, keyfile=keyfile or None)


@app.command("import-places")
def import_places(path: Path = typer.Argument(..., exists=True, dir_okay=False,
                                             help="Named places CSV / 地名 CSV（docs/data-format.md）")) -> None:
    """Import named places (compounds, schools, markets …) for the address search / 导入地名."""
    from civicgrid.audit.service import set_actor, system_actor
    from civicgrid.db import get_engine, transaction
    from civicgrid.gazetteer import service as gazetteer
    from civicgrid.kit.errors import AppError

    try:
        with transaction(get_engine()) as session:
            set_actor(session, system_actor("cli"))
            report = gazetteer.import_places(session, path.read_bytes(), source=path.name)
    except AppError as exc:
        typer.echo(f"import refused, nothing written / 导入被拒绝，未写入任何数据: {exc.zh} / {exc.en}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"places ({report.source}): {report.created} 新增 created, {report.updated} 更新 updated, "
               f"{report.unchanged} 未变 unchanged")


def _checked_settings() -> Settings:
    """The settings, or exit 2 with what is wrong (e.g. an audit retention under six months)."""
    from pydantic import ValidationError

    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            typer.echo(f"configuration refused / 配置无效: {error['msg']}", err=True)
        raise typer.Exit(2) from None


def _refuse_builtin_secret(settings: Settings) -> None:
    """Anyone who has read the source could forge tokens and personal-data lookups with the
    built-in key: outside development the server does not start with it."""
    if settings.uses_builtin_secret and not settings.is_development:
        typer.echo("拒绝启动：仍在使用内置的默认密钥 secret_key。请设置 CIVICGRID_SECRET_KEY（至少 32 个随机字符），"
                   "或仅在开发环境设置 CIVICGRID_ENV=development（见 docs/operations.md）。\n"
                   "Refusing to start: secret_key is still the built-in default. Set CIVICGRID_SECRET_KEY "
                   "(32+ random characters), or CIVICGRID_ENV=development on a development machine only "
                   "(docs/operations.md).", err=True)
        raise typer.Exit(2)


def _ensure_demo_secret() -> None:
    """Give the demo a key of its own: a random one written once under var/ (mode 0600) and read
    from there by every later command (Settings.secret_key_file), so `make demo` still starts
    with one command and no demo runs on the key printed in the source."""
    import os
    import secrets

    settings = get_settings()
    if not settings.uses_builtin_secret or settings.is_development:
        return
    path = Path(settings.secret_key_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # written by another run meanwhile, or empty: settings decide below
        pass
    else:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
        typer.echo(f"generated a secret key in {path} (mode 0600) / 已生成密钥文件 {path}")
    get_settings.cache_clear()
    if get_settings().uses_builtin_secret:
        typer.echo(f"{path} is empty: remove it or set CIVICGRID_SECRET_KEY / 密钥文件为空", err=True)
        raise typer.Exit(2)


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
    division: str = typer.Option("", "--division", help="Their division (default: the city of city.json) / 所在区划"),
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
            people.init_admins(session, division_code=division or get_city().code,
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


@timers_app.command("jobs")
def timers_jobs() -> None:
    """Periodic jobs: schedule, next run, last run / 周期任务：计划、下次运行、上次运行."""
    from civicgrid.db import get_engine, transaction
    from civicgrid.main import create_app
    from civicgrid.timers import periodic

    create_app(get_settings(), start_workers=False)  # registers every module's jobs
    with transaction(get_engine(), write=False) as session:
        rows = periodic.status(session)
    if not rows:
        typer.echo("no periodic jobs registered / 未登记周期任务")
    for row in rows:
        next_due = row.next_due.isoformat() if row.next_due else "not armed / 未排定（worker 启动后排定）"
        last = f"{row.last_run.isoformat()} {row.last_state}" if row.last_run else "never / 从未运行"
        typer.echo(f"{row.name}  {row.title_zh} / {row.title_en}\n  {row.schedule}; next {next_due}; last {last}"
                   + (f"; error: {row.last_error}" if row.last_error else ""))


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
         sim_seed: int = typer.Option(20261129, "--seed", help="Random seed of the replay / 随机种子"),
         supervision_days: float = typer.Option(10.0, "--supervision-days", min=0.0,
                                                help="Days of case-handling events to replay (0: none) / "
                                                     "回放执法办案事件的天数"),
         simulate: bool = typer.Option(True, "--simulate/--no-simulate",
                                       help="Run the rapid-response simulator while serving / 运行快警模拟")) -> None:
    """Migrate, load Yongzhou, demo accounts and weeks of matters, print the logins, serve / 演示环境一键启动."""
    from civicgrid.db import get_engine
    from civicgrid.migrate import upgrade
    from civicgrid.simulate.demo import format_logins, seed, seed_matters
    from civicgrid.simulate.disputes import seed_disputes
    from civicgrid.simulate.orgs import seed_org_units
    from civicgrid.simulate.response import seed_response

    _ensure_demo_secret()
    settings = get_settings()
    upgrade(settings.database_url)
    logins = seed(get_engine(), echo=typer.echo)
    logins += seed_org_units(get_engine(), echo=typer.echo)
    seed_disputes(get_engine(), echo=typer.echo)
    logins += seed_response(get_engine(), echo=typer.echo)
    if weeks > 0:
        typer.echo(seed_matters(get_engine(), logins, weeks=weeks, matters_per_day=matters_per_day, seed=sim_seed,
                                echo=typer.echo))
    from civicgrid.simulate import supervision as supervision_demo

    logins += supervision_demo.seed_accounts(get_engine())
    if supervision_days > 0:
        typer.echo(supervision_demo.format_summary(supervision_demo.generate(get_engine(), days=supervision_days,
                                                                             echo=typer.echo)))
    typer.echo(format_logins(logins, f"http://{host}:{port}"))
    import os

    if simulate and "CIVICGRID_RESPONSE_SIMULATOR" not in os.environ:
        # The demo's city is alive: incidents arrive and the demo units answer them (an explicit
        # CIVICGRID_RESPONSE_SIMULATOR=0 wins).
        os.environ["CIVICGRID_RESPONSE_SIMULATOR"] = "1"
        get_settings.cache_clear()
    if serve_after:
        serve(host=host, port=port, workers=1, certfile="", keyfile="")  # typer fills no defaults here


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
            client = open311.revoke_client(session, client_id, principal=None)
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
