"""`civicgrid demo`: a ready-to-use Yongzhou database with one login per role.

Every demo account shares the published demo password, so each must change it at its first login
(the console shows the change-password page). The three administrators (三员) and the holders of
``pii.reveal`` then enrol an authenticator app (TOTP, RFC 6238): the console shows the QR code and
the secret once; any authenticator app, ``oathtool --totp -b KEY`` or
``python -m civicgrid.people.totp KEY`` gives the codes.

Idempotent: running it again keeps what is there (reference data is re-applied as an upsert,
existing demo accounts are left alone), so a restarted demo never duplicates anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from civicgrid.audit.service import set_actor, system_actor
from civicgrid.db import transaction
from civicgrid.gazetteer import service as gazetteer
from civicgrid.geo import service as geo
from civicgrid.people import service as people
from civicgrid.simulate import repository

DEMO_PASSWORD = "Yongzhou@2026"
CITY = "431100000000"
COUNTY = "431102000000"  # 零陵区
TOWNSHIP = "431102001000"  # 朝阳街道


@dataclass(frozen=True)
class DemoLogin:
    """One printed demo account."""

    username: str
    role: str
    role_name: str
    division_code: str
    division_name: str
    second_factor: bool = False


def _first_village(session: Session) -> str:
    code = repository.first_village(session, TOWNSHIP)
    if code is None:
        raise RuntimeError(f"no village under {TOWNSHIP}: the reference data did not load")
    return code


def _first_grid(session: Session, village: str) -> str:
    code = repository.first_grid(session, village)
    if code is None:
        raise RuntimeError(f"no grid in village {village}")
    return code


# username, role, where (a resolver of the division code), display name
Where = Callable[[Session], str]
ACCOUNTS: list[tuple[str, str, Where, str]] = [
    ("sysadmin", "sysadmin", lambda s: CITY, "系统管理员 赵刚"),
    ("secadmin", "secadmin", lambda s: CITY, "安全管理员 孙丽"),
    ("auditadmin", "auditadmin", lambda s: CITY, "审计管理员 钱进"),
    ("admin", "admin", lambda s: CITY, "业务管理员 吴峰"),
    ("city_plc", "city_plc_staff", lambda s: CITY, "市委政法委 王敏"),
    ("city_cmd", "city_commander", lambda s: CITY, "市局指挥总台 李强"),
    ("supervisor", "enforcement_supervisor", lambda s: CITY, "执法监督员 陈静"),
    ("hotline", "hotline_operator", lambda s: CITY, "12345热线话务员 秦雪"),
    ("auditor", "auditor", lambda s: CITY, "安全审计员 周洁"),
    ("lingling_plc", "county_plc_staff", lambda s: COUNTY, "零陵区委政法委 蒋华"),
    ("lingling_zzzx", "governance_centre_staff", lambda s: COUNTY, "零陵区综治中心 陈明"),
    ("lingling_cmd", "county_commander", lambda s: COUNTY, "零陵分局指挥中台 唐勇"),
    ("lingling_petition", "petition_officer", lambda s: COUNTY, "零陵区信访局 胡芳"),
    ("chaoyang_station", "station_commander", lambda s: TOWNSHIP, "朝阳派出所指挥支台 邓军"),
    ("chaoyang_officer", "township_officer", lambda s: TOWNSHIP, "朝阳街道综治中心 刘洋"),
    ("chaoyang_mediator", "mediator", lambda s: TOWNSHIP, "人民调解员（五老）杨德明"),
    ("village_officer", "village_officer", _first_village, "社区书记 黄丽"),
    ("volunteer", "volunteer", _first_village, "蓝背心志愿者 邓小云"),
    ("grid_worker", "grid_worker", lambda s: _first_grid(s, _first_village(s)), "网格员 蒋小燕"),
]


def reference_loaded(session: Session) -> bool:
    return repository.has_grids(session)


def seed(engine: Engine, *, echo: Callable[[str], None] = print) -> list[DemoLogin]:
    """Load Yongzhou (divisions, boundaries, generated grids), sync roles, create demo accounts."""
    with transaction(engine) as session:
        set_actor(session, system_actor("demo"))
        if not reference_loaded(session):
            echo("导入永州区划与网格 / loading Yongzhou divisions and grids …")
            for report in geo.load_reference_data(session):
                echo(f"  {report.kind} ({report.source}): {report.created} 新增 created, "
                     f"{report.updated} 更新 updated")
    with transaction(engine) as session:
        set_actor(session, system_actor("demo"))
        places = gazetteer.load_demo_places(session)
        if places is not None:
            echo(f"  places ({places.source}): {places.created} 新增 created（演示生成的地名 / generated demo places）")
        people.sync_roles(session)
    logins: list[DemoLogin] = []
    with transaction(engine) as session:
        set_actor(session, system_actor("demo"))
        shared_hash = people.hash_password(DEMO_PASSWORD)
        roles = {role.code: role for role in people.list_roles(session)}
        for username, role, where, display in ACCOUNTS:
            code = where(session)
            if repository.user_named(session, username) is None:
                people.create_user(session, username=username, display_name=display, role=role,
                                   division_code=code, password=DEMO_PASSWORD, password_hash=shared_hash,
                                   must_change_password=True)
            logins.append(DemoLogin(username, role, people.role_name(roles[role], "zh-CN"), code,
                                    geo.name_of(session, code) or code,
                                    people.needs_second_factor(role, roles[role].permission_set)))
    return logins


def seed_matters(engine: Engine, logins: list[DemoLogin], *, weeks: float, matters_per_day: float, seed: int,
                 echo: Callable[[str], None] = print) -> str:
    """Replay ``weeks`` of matters up to now (see :mod:`civicgrid.simulate.matters`), centred on the
    demo grid worker's grid so that every printed account has a queue; skipped when the database
    already holds matters. Returns the one-line summary."""
    from civicgrid.simulate import matters

    focus = next((login.division_code for login in logins if login.role == "grid_worker"), None)
    report = matters.generate(engine, weeks=weeks, matters_per_day=matters_per_day, seed=seed, focus_grid=focus,
                              echo=echo)
    return matters.format_summary(report)


def format_logins(logins: list[DemoLogin], url: str) -> str:
    """The table `civicgrid demo` prints."""
    lines = [f"\n永州市域社会治理平台 civicgrid — {url}",
             f"演示账号（初始密码均为 / initial password for all: {DEMO_PASSWORD}）",
             "首次登录须修改密码；标 * 的账号还须绑定动态验证码"
             "（手机验证器 App 扫码，或 .venv/bin/python -m civicgrid.people.totp 密钥）",
             "Each account changes its password at first login; those marked * also enrol an authenticator app "
             "(TOTP: scan the QR code, or .venv/bin/python -m civicgrid.people.totp KEY).", ""]
    width = max(len(login.username) for login in logins)
    for login in logins:
        mark = "*" if login.second_factor else " "
        lines.append(f" {mark}{login.username.ljust(width)}  {login.role_name}（{login.role}） @ "
                     f"{login.division_name} {login.division_code}")
    return "\n".join(lines) + "\n"
