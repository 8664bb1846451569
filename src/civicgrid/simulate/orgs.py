"""Demo org units for Yongzhou (names marked 演示): the city's and every county's 综治中心 and
公安(分)局, the city command centre, and in 零陵区 a few 派出所 and 司法所, a sector mediation
committee, a patrol platform, and one station — 朝阳派出所 — whose responsibility area spans parts
of two townships (two villages of 朝阳街道 and two of 南津渡街道), with its own demo login.

All writes go through ``people.orgs.service`` (audited like any other); idempotent: nothing is
done when demo units already exist."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from civicgrid.audit.service import set_actor, system_actor
from civicgrid.db import transaction
from civicgrid.geo import service as geo
from civicgrid.people import service as people
from civicgrid.people.orgs import service as orgs
from civicgrid.people.orgs.models import OrgUnit
from civicgrid.simulate import repository
from civicgrid.simulate.demo import DEMO_PASSWORD, DemoLogin

CITY = "431100000000"
LINGLING = "431102000000"
CHAOYANG = "431102001"  # 朝阳街道
NANJINDU = "431102002"  # 南津渡街道
DEMO = "（演示）"
STATION_LOGIN = "chaoyang_ps"


def seed_org_units(engine: Engine, *, echo: Callable[[str], None] = print) -> list[DemoLogin]:
    """Create the demo units (once) and the station's account; returns the extra demo login."""
    with transaction(engine) as session:
        set_actor(session, system_actor("demo"))
        if repository.demo_units_exist(session, "永州市综治中心" + DEMO):
            return _station_login(session)
        echo("创建演示机构与责任区 / creating demo org units and responsibility areas …")

        created: list[OrgUnit] = []

        def unit(name: str, type_code: str, division: str, parent: OrgUnit | None = None) -> OrgUnit:
            created.append(orgs.create_unit(session, None, name=name + DEMO, type_code=type_code,
                                            division_code=division, parent_id=parent.id if parent else None,
                                            demo=True))
            return created[-1]

        unit("永州市综治中心", "governance_centre", CITY)
        bureau = unit("永州市公安局", "police_bureau", CITY)
        unit("永州市公安局指挥中心", "command_centre", CITY, bureau)
        branches: dict[str, OrgUnit] = {}
        for code, name in repository.divisions_at(session, "county", "4311"):
            unit(f"{name}综治中心", "governance_centre", code)
            branches[code] = unit(f"永州市公安局{name}分局", "police_branch", code, bureau)
        lingling = branches[LINGLING]
        unit("零陵区医疗纠纷人民调解委员会", "sector_mediation", LINGLING)
        patrol = unit("零陵区城区巡防平台", "patrol_platform", LINGLING, lingling)
        townships = dict(repository.divisions_at(session, "township", LINGLING[:6]))
        for code in list(townships)[:4]:
            unit(f"{townships[code][:-2]}司法所", "justice_office", code)
        for code in list(townships)[2:4]:
            unit(f"{townships[code][:-2]}派出所", "police_station", LINGLING, lingling)

        # 朝阳派出所: two villages of 朝阳街道 and two of 南津渡街道 (whole villages, parts of townships).
        villages = [c for c, _ in repository.divisions_at(session, "village", CHAOYANG)][:2]
        villages += [c for c, _ in repository.divisions_at(session, "village", NANJINDU)][:2]
        station = unit("朝阳派出所", "police_station", LINGLING, lingling)
        grids = repository.grids_of_villages(session, villages)
        orgs.set_area(session, None, station.id, grids=grids)
        # The patrol platform watches the station's corridor and is in its first grid now.
        orgs.set_area(session, None, patrol.id, grids=grids[: max(1, len(grids) // 2)])
        orgs.move_unit(session, patrol, grids[0])

        user = repository.user_by_username(session, STATION_LOGIN)
        if user is None:
            user = people.create_user(session, username=STATION_LOGIN, display_name="朝阳派出所 周斌（演示）",
                                      role="station_commander", division_code=LINGLING, password=DEMO_PASSWORD)
        orgs.set_membership(session, None, user, station.id)
        echo(f"  {len(created)} 个机构 units; 朝阳派出所责任区 station area: {len(grids)} 个网格 grids")
        return _station_login(session)


def _station_login(session: Session) -> list[DemoLogin]:
    user = repository.user_by_username(session, STATION_LOGIN)
    if user is None:
        return []
    return [DemoLogin(user.username, user.role_code, "派出所指挥员（责任区：朝阳派出所）", user.division_code,
                      geo.name_of(session, user.division_code) or user.division_code)]
