"""Weeks of city life for the demo: reported matters replayed through the real services.

:func:`generate` moves a :class:`~civicgrid.kit.clock.FakeClock` through a period that ends now
(default four weeks). Matters arrive at plausible rates by weekday and hour, more in urban
communities than in mountain villages, of types weighted by how often they happen (rubbish and
street vending far more than expired food). Every matter is reported with
:func:`civicgrid.matters.service.report` and moved on with :func:`civicgrid.matters.service.act`
by an account of the unit that owns it at that moment, so timelines, the audit chain, timers
and the figure rollups are all the real ones. The timer worker runs whenever the clock passes
a timer's due time: yellow and red alerts and automatic escalation happen by themselves when a
simulated officer is slow.

Each matter carries *traits* drawn at arrival from its own seeded random stream (rejected,
cancelled, a repeat report to merge, wrongly assigned, escalated by hand, late, extension,
rework, urged, supervised, satisfaction…), and an agent that wakes up at realistic moments —
delays are shares of the step's own time limit, counted in office time when the limit is in
working hours or days — looks at the matter as it is now, and does what its owner would do
next, through the actions the workflow currently allows.

A handful of *showcase* matters in the demo accounts' own grid, village, township and county
have fixed traits, so that those queues hold every state on first login (a report of twenty
minutes ago, one accepted, one being handled, one waiting for verification, one escalated…).

The same seed and the same end moment give the same matters, states and figures.
"""

from __future__ import annotations

import bisect
import heapq
import json
import math
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from civicgrid.audit.service import Actor, set_actor, system_actor
from civicgrid.authz.principal import Principal
from civicgrid.db import transaction
from civicgrid.geo import service as geo
from civicgrid.kit.clock import CHINA_TZ, FakeClock, get_clock, set_clock
from civicgrid.kit.errors import AppError
from civicgrid.matters import catalogue
from civicgrid.matters import figures as _figures  # noqa: F401  (keeps the figure rollups in step)
from civicgrid.matters import service as matters
from civicgrid.matters import workflow as wf
from civicgrid.matters.models import Matter
from civicgrid.matters.schemas import IntakeChannel, MatterCreate
from civicgrid.people import service as people
from civicgrid.simulate import repository
from civicgrid.simulate.repository import GridRow
from civicgrid.timers.worker import TimerWorker
from civicgrid.worktime import service as worktime
from civicgrid.worktime.arith import Unit, WorkCalendar

DEFAULT_WEEKS = 4.0
DEFAULT_MATTERS_PER_DAY = 40
DEFAULT_SEED = 20261129
PASSWORD = "Yongzhou@2026"  # the demo password (civicgrid.simulate.demo.DEMO_PASSWORD)

S = wf.MatterStatus
Echo = Callable[[str], None]

# ---------------------------------------------------------------- how the city behaves

# Relative arrivals by weekday (Monday first) and by hour of the day (Asia/Shanghai).
WEEKDAY_RATE = (1.15, 1.1, 1.05, 1.05, 1.0, 0.85, 0.8)
HOUR_RATE = (0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.5, 1.0, 1.8, 2.2, 2.2, 1.8,
             0.9, 0.8, 1.6, 2.0, 1.9, 1.5, 1.0, 0.8, 0.7, 0.5, 0.35, 0.2)
# Matters per grid by the village's urban–rural class (统计用城乡分类代码): a grid in the main
# urban area (111) sees several times the reports of one in a remote village (220).
URBAN_WEIGHT = {"111": 8.0, "112": 5.0, "121": 4.0, "122": 2.5, "123": 1.5, "210": 1.5, "220": 1.0}
UNKNOWN_URBAN_WEIGHT = 1.5
URBAN = frozenset({"111", "112", "121"})
# How often each category is reported, relative to each other (grid-management statistics put
# city appearance, livelihood and public-order hazards far ahead of food and drug safety).
CATEGORY_WEIGHT = {"city_environment": 26.0, "livelihood": 16.0, "public_order": 13.0, "municipal": 12.0,
                   "safety_fire": 10.0, "disputes": 8.0, "special_groups": 5.0, "environment": 4.0,
                   "policy": 3.0, "food_drug": 2.0}
TYPE_BOOST = {"SR01": 2.0, "SR04": 1.5, "AQ02": 1.5, "MS03": 1.3, "SZ02": 1.3, "JF01": 1.5, "SR06": 1.3}
URBAN_TYPES = {"SR04": 2.0, "MS03": 1.8, "JF05": 2.0, "AQ02": 1.8, "MS04": 1.6, "SZ07": 1.5, "AQ04": 1.3}
RURAL_TYPES = {"HB02": 3.0, "MS05": 2.5, "MS01": 2.5, "JF03": 2.5, "AQ08": 3.0, "HB04": 2.0, "TS02": 1.8,
               "JF06": 2.0, "ZC02": 2.0}
# Most of what grid workers find is small and the village's own (小事不出村).
VILLAGE_BOOST = 1.8
SATISFACTION = (2, 3, 8, 30, 57)  # weights of 1..5
SATISFACTION_AFTER_TROUBLE = (5, 7, 15, 35, 38)  # late or reworked

# The role that acts for a unit of each level (the owner; the level above urges, approves and
# supervises with the same accounts).
OWNER_ROLE = {"village": "village_officer", "township": "township_officer", "county": "county_plc_staff",
              "city": "city_plc_staff"}
SUPERVISOR_LEVELS = ("county", "city")  # roles holding matters.supervise

SURNAMES = "王李张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗唐蒋邓谢彭曾欧阳雷龙蒋邹"
GIVEN = ("伟", "芳", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英",
         "华", "平", "刚", "桂英", "建国", "志强", "海燕", "小红", "国庆", "春梅", "德明", "湘云", "永红")
ROLE_TITLE = {"grid_worker": "网格员", "village_officer": "村（社区）干部", "township_officer": "乡镇综治中心",
              "county_plc_staff": "县区委政法委", "city_plc_staff": "市委政法委", "volunteer": "志愿者",
              "hotline_operator": "12345热线话务员"}

DESCRIPTIONS = {
    "city_environment": ("{place}路口发现{name}，影响市容，请尽快处理。", "巡查发现{place}{name}，已拍照取证。",
                         "群众反映{place}{name}多日无人处理。"),
    "livelihood": ("{place}居民反映{name}，希望尽快解决。", "{place}多户群众来电反映{name}。"),
    "public_order": ("网格巡查发现{place}存在{name}，需核实处置。", "{place}群众反映{name}，存在安全隐患。"),
    "municipal": ("{place}{name}，存在安全隐患，请相关部门维修。", "巡查发现{place}{name}，已设置临时警示。"),
    "safety_fire": ("{place}检查发现{name}，需限期整改。", "{place}群众举报{name}，请核查。"),
    "disputes": ("{place}发生{name}，双方情绪激动，需调解。", "{place}当事人申请调解{name}。"),
    "special_groups": ("走访发现{place}{name}，需帮扶跟进。", "{place}网格员走访：{name}，请协调解决。"),
    "environment": ("{place}发现{name}，请环保部门处理。", "群众反映{place}{name}，气味明显。"),
    "policy": ("{place}群众咨询{name}，请答复。", "{place}居民来电咨询{name}。"),
    "food_drug": ("{place}群众举报{name}，请市场监管部门核查。", "巡查发现{place}{name}。"),
}
RESULTS = {
    "city_environment": "已安排保洁人员清理，现场恢复整洁，已拍照留存。",
    "livelihood": "已协调相关单位处理，群众诉求已解决。",
    "public_order": "已会同派出所现场核查，隐患已消除。",
    "municipal": "已通知维修单位，现场已修复。",
    "safety_fire": "已督促责任人整改到位，复查合格。",
    "disputes": "经调解双方达成一致，已签订调解协议。",
    "special_groups": "已上门走访，落实帮扶措施。",
    "environment": "已会同环保部门现场处置，污染源已清除。",
    "policy": "已电话答复，政策解释清楚，群众表示理解。",
    "food_drug": "已下架问题商品，依法立案查处。",
}
HOTLINE_CALLERS = ("王先生", "李女士", "张先生", "刘女士", "陈先生", "唐女士", "蒋先生", "周女士")


# ---------------------------------------------------------------- plans


@dataclass
class Traits:
    """What will happen to one matter, drawn when it arrives."""

    reject: bool = False
    cancel: bool = False
    hand_off: bool = False  # a dispute-type matter handed off to the disputes module (移交矛盾纠纷)
    merge: bool = False  # a repeat report: merge it into the original (else keep it separate)
    wrong_owner: bool = False  # returned upward as wrongly assigned, then reassigned
    hand_escalate: bool = False
    late: bool = False
    extension: bool = False
    rework: bool = False
    urge: bool = False
    supervise: bool = False
    evaluate: bool = True
    handle_share: float = 0.3  # share of the handle limit the owner needs
    satisfaction: int = 5
    stop_at: str | None = None  # the owner has not done the next step yet when the period ends


@dataclass
class Arrival:
    """One matter to be reported: when, what, where, by whom, and what will happen to it."""

    index: int
    at: datetime
    type_code: str
    grid: str
    lng: float
    lat: float
    channel: IntakeChannel
    traits: Traits
    repeat_of: int | None = None  # index of the arrival this one reports again


@dataclass
class Agent:
    """The simulated people around one matter: its random stream, its id once reported, and
    what has been done already."""

    arrival: Arrival
    rng: random.Random
    matter_id: str | None = None
    generation: int = 0  # only the latest planned owner wake counts
    done: set[str] = field(default_factory=set)
    handling_since: datetime | None = None


@dataclass(order=True)
class Wake:
    """A moment at which an agent looks at its matter again."""

    at: datetime
    seq: int
    agent: int = field(compare=False)
    kind: str = field(compare=False)  # report | owner | oversee | decide | answer
    generation: int = field(compare=False, default=0)


@dataclass(frozen=True)
class Showcase:
    """A matter with fixed traits in the demo accounts' units (see the module docstring)."""

    type_code: str
    where: str  # grid | village | township | county: which of the focus units it happens in
    before_end: tuple[str, float]  # ("office" | "clock", minutes before the end)
    traits: dict[str, Any]
    channel: IntakeChannel = "grid_worker"
    repeat: bool = False  # a repeat report of the showcase before it


SHOWCASE: tuple[Showcase, ...] = (
    # finished paths, two to three working days back
    Showcase("SR01", "grid", ("office", 1080), {"handle_share": 0.3, "satisfaction": 5}),
    Showcase("SR01", "grid", ("office", 1070), {"merge": True}, channel="hotline", repeat=True),
    Showcase("SR07", "grid", ("office", 1050), {"rework": True, "satisfaction": 4}),
    Showcase("MS04", "grid", ("office", 1040), {"reject": True}, channel="hotline"),
    Showcase("SR06", "grid", ("office", 1030), {"cancel": True}),
    Showcase("JF02", "grid", ("office", 1025), {"hand_off": True}),
    Showcase("JF01", "grid", ("office", 1020), {"hand_escalate": True, "satisfaction": 4}),
    Showcase("ZA02", "village", ("office", 1010), {"wrong_owner": True}),
    Showcase("SR04", "township", ("office", 1000), {"late": True, "handle_share": 1.6, "satisfaction": 3}),
    Showcase("MS03", "township", ("office", 990), {"handle_share": 0.95, "supervise": True}),
    Showcase("SR02", "township", ("office", 980), {"handle_share": 0.92, "urge": True}),
    Showcase("AQ02", "grid", ("office", 970), {"handle_share": 0.9, "urge": True}),
    Showcase("TS01", "village", ("office", 960), {"late": True, "handle_share": 1.25, "extension": True}),
    Showcase("SZ02", "county", ("office", 950), {"handle_share": 0.4, "satisfaction": 2}),
    # work in hand when the period ends: one matter waiting in each state
    Showcase("SR01", "grid", ("clock", 25), {"stop_at": S.REPORTED}),
    Showcase("SR07", "grid", ("office", 90), {"stop_at": S.ACCEPTED}),
    Showcase("SR06", "grid", ("office", 200), {"stop_at": S.DISPATCHED}),
    Showcase("TS02", "village", ("office", 600), {"stop_at": S.HANDLING, "handle_share": 0.5}),
    Showcase("MS04", "grid", ("office", 420), {"stop_at": S.HANDLED, "handle_share": 0.05}),
    Showcase("HB01", "village", ("office", 460), {"stop_at": S.VERIFIED, "handle_share": 0.2}),
    Showcase("SR01", "village", ("office", 700), {"evaluate": False}),
    Showcase("JF02", "grid", ("office", 320), {"hand_escalate": True, "stop_at": S.ESCALATED}),
    Showcase("ZA02", "grid", ("office", 260), {"wrong_owner": True, "stop_at": S.RETURNED}),
    Showcase("SZ05", "township", ("office", 110), {"stop_at": S.REPORTED}),
    Showcase("ZA01", "township", ("office", 300), {"stop_at": S.HANDLING, "handle_share": 0.6}),
    Showcase("SZ03", "county", ("office", 240), {"stop_at": S.HANDLING}),
)


# ---------------------------------------------------------------- the outcome


@dataclass
class SimulationReport:
    """What a run did (or found, when matters already existed and it was skipped)."""

    skipped: bool
    matters: int
    by_status: dict[str, int]
    flags: dict[str, int]
    failures: list[str]
    seconds: float
    start: datetime | None = None
    end: datetime | None = None
    timers_fired: int = 0


STATUS_ORDER = [str(s) for s in S]


def format_summary(report: SimulationReport) -> str:
    """One line: how many matters, by state, and the side paths."""
    states = " · ".join(f"{s} {report.by_status[s]}" for s in STATUS_ORDER if report.by_status.get(s))
    f = report.flags
    extra = (f"超期 overdue {f.get('overdue', 0)} · 上报 escalated {f.get('escalated', 0)}"
             f"（自动 auto {f.get('auto_escalated', 0)}）· 督办 supervised {f.get('supervised', 0)} · "
             f"催办 urged {f.get('urged', 0)} · 返工 rework {f.get('reworked', 0)} · "
             f"疑似重复 duplicate links {f.get('duplicate_links', 0)}")
    head = "演示事项已存在，跳过生成 / demo matters exist, generation skipped: " if report.skipped else (
        f"演示事项 / demo matters ({report.seconds:.0f} s): ")
    return f"{head}{report.matters} 件 matters — {states} — {extra}"


# ---------------------------------------------------------------- time arithmetic


def office_add(calendar: WorkCalendar, start: datetime, minutes: float) -> datetime:
    """``start`` plus ``minutes`` of office time (fractions allowed), on the working calendar."""
    local = start.astimezone(CHINA_TZ)
    day = local.date()
    clock = local.hour * 60 + local.minute + local.second / 60
    remaining = max(minutes, 0.0)
    for _ in range(3 * 366):
        if calendar.is_working_day(day):
            for p_start, p_end in calendar.hours.periods:
                lo = max(clock, p_start.hour * 60 + p_start.minute)
                hi = p_end.hour * 60 + p_end.minute
                if lo >= hi:
                    continue
                if remaining <= hi - lo:
                    moment = datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ) + timedelta(minutes=lo + remaining)
                    return moment.astimezone(UTC).replace(microsecond=0)
                remaining -= hi - lo
        day += timedelta(days=1)
        clock = 0
    raise ValueError("office time runs past three years")


def office_before(calendar: WorkCalendar, end: datetime, minutes: float) -> datetime:
    """The moment that leaves ``minutes`` of office time until ``end`` (bisection)."""
    lo, hi = end - timedelta(days=60), end
    for _ in range(60):
        mid = lo + (hi - lo) / 2
        if calendar.office_minutes_between(mid, end) > minutes:
            lo = mid
        else:
            hi = mid
    return hi.replace(microsecond=0)


def after_share(calendar: WorkCalendar, start: datetime, limit: tuple[int, str], share: float) -> datetime:
    """``start`` plus ``share`` of a time limit, measured the way the limit is (office time for
    working hours and days, clock time otherwise)."""
    amount, unit = limit
    u = Unit(unit)
    if u is Unit.MINUTES:
        return start + timedelta(minutes=amount * share)
    if u is Unit.HOURS:
        return start + timedelta(hours=amount * share)
    if u is Unit.DAYS:
        return start + timedelta(days=amount * share)
    per = 60 if u is Unit.WORKING_HOURS else calendar.hours.minutes_per_day
    return office_add(calendar, start, amount * per * share)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 60:  # normal approximation keeps big days cheap
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


# ---------------------------------------------------------------- the cast


class Cast:
    """The accounts that act: the demo accounts where they fit, otherwise one account per unit
    and role, created once (``gw`` + grid code for grid workers, ``vo`` + village code…) with
    the demo password."""

    PREFIX: ClassVar[dict[str, str]] = {"grid_worker": "gw", "volunteer": "vt", "village_officer": "vo",
                                        "township_officer": "to", "county_plc_staff": "plc",
                                        "city_plc_staff": "plc", "hotline_operator": "hl"}

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.principals: dict[tuple[str, str], Principal] = {}
        self.created = 0
        self._hash: str | None = None

    def ensure(self, session: Session, role: str, code: str) -> Principal:
        key = (role, code)
        found = self.principals.get(key)
        if found is not None:
            return found
        user = repository.user_with(session, role, code)
        if user is None:
            from civicgrid.authz.scoping import jurisdiction_prefix

            username = f"{self.PREFIX[role]}{jurisdiction_prefix(code)}"
            user = repository.user_named(session, username)
            if user is None:
                if self._hash is None:  # argon2 once: every account shares the demo password
                    self._hash = people.hash_password(PASSWORD)
                name = self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)
                user = people.create_user(session, username=username, display_name=f"{ROLE_TITLE[role]} {name}",
                                          role=role, division_code=code, password=PASSWORD,
                                          password_hash=self._hash, must_change_password=True)
                self.created += 1
        principal = people.principal_of(user)
        self.principals[key] = principal
        return principal

    def get(self, role: str, code: str) -> Principal:
        return self.principals[(role, code)]

    def ensure_verifier(self, session: Session, role: str, code: str) -> Principal:
        """A second account of the unit's role that verifies what the first handled: whoever
        handled a matter never verifies it (matters/workflow.py, GB/T 30428)."""
        key = (f"{role}:verifier", code)
        found = self.principals.get(key)
        if found is not None:
            return found
        username = f"{self.PREFIX[role]}{_prefix(code)}v"
        user = repository.user_named(session, username)
        if user is None:
            if self._hash is None:
                self._hash = people.hash_password(PASSWORD)
            name = self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)
            user = people.create_user(session, username=username, display_name=f"{ROLE_TITLE[role]} {name}",
                                      role=role, division_code=code, password=PASSWORD, password_hash=self._hash,
                                      must_change_password=True)
            self.created += 1
        principal = people.principal_of(user)
        self.principals[key] = principal
        return principal

    def verifier(self, division_code: str) -> Principal:
        level = wf.PREFIX_LEVEL[len(_prefix(division_code))]
        return self.principals[(f"{OWNER_ROLE[str(level)]}:verifier", division_code)]

    def owner(self, division_code: str) -> Principal:
        level = wf.PREFIX_LEVEL[len(_prefix(division_code))]
        return self.get(OWNER_ROLE[str(level)], division_code)


def _prefix(code: str) -> str:
    from civicgrid.authz.scoping import jurisdiction_prefix

    return jurisdiction_prefix(code)


def _levels_from(level: str) -> list[str]:
    levels = [str(lv) for lv in wf.LEVELS]
    return levels[levels.index(level):]


# ---------------------------------------------------------------- the simulation


@dataclass
class _TypeInfo:
    code: str
    category: str
    name: str
    department: str
    owner_level: str
    limits: dict[str, tuple[int, str]]
    auto_escalate: bool


class Simulation:
    """One replay (see the module docstring); :func:`generate` is the entry point."""

    def __init__(self, engine: Engine, *, start: datetime, end: datetime, matters_per_day: float, seed: int,
                 focus_grid: str | None, echo: Echo) -> None:
        self.engine = engine
        self.start, self.end = start, end
        self.rate = matters_per_day
        self.seed = seed
        self.focus = focus_grid
        self.echo = echo
        self.rng = random.Random(f"civicgrid-demo:{seed}")
        self.cast = Cast(random.Random(f"civicgrid-cast:{seed}"))
        self.agents: list[Agent] = []
        self.heap: list[Wake] = []
        self.seq = 0
        self.failures: list[str] = []
        self.timers_fired = 0
        self.types: dict[str, _TypeInfo] = {}
        self.shapes: dict[str, BaseGeometry | None] = {}
        self.names: dict[str, str] = {}
        self._type_weights: dict[bool, tuple[list[str], list[float]]] = {}
        self.calendar: WorkCalendar
        self.sensor: Principal

    # ------------------------------------------------------------ planning

    def plan(self) -> None:
        """Draw every arrival of the period and create the accounts they need."""
        with transaction(self.engine) as session:
            set_actor(session, system_actor("demo-simulator"))
            self.calendar = worktime.load(session)
            for t in catalogue.current_types(session):
                self.types[t.code] = _TypeInfo(t.code, t.category, t.name_zh, t.department, t.owner_level,
                                               catalogue.limits_of(t), t.auto_escalate)
            grid_rows = repository.grids(session)
            if not grid_rows:
                raise RuntimeError("no grids: load the Yongzhou reference data first (civicgrid demo)")
            arrivals = self._background(session, grid_rows)
            arrivals += self._showcase(session, grid_rows)
            arrivals.sort(key=lambda a: (a.at, a.index))
            codes = {a.grid[:12] for a in arrivals} | {a.grid[:9] + "000" for a in arrivals} | {
                a.grid[:6] + "000000" for a in arrivals}
            self.names = repository.division_names(session, sorted(codes))
            self._cast_for(session, arrivals)
            self.sensor = self.cast.ensure(session, "city_plc_staff", wf.owner_code(grid_rows[0].code, "city"))
        for arrival in arrivals:
            agent = Agent(arrival, random.Random(f"civicgrid-matter:{self.seed}:{arrival.index}"))
            self.agents.append(agent)
            self._schedule(len(self.agents) - 1, arrival.at, "report")

    def _background(self, session: Session, grid_rows: list[GridRow]) -> list[Arrival]:
        rng = self.rng
        weights = [URBAN_WEIGHT.get(g.urban_rural_code or "", UNKNOWN_URBAN_WEIGHT) for g in grid_rows]
        cumulative: list[float] = []
        total = 0.0
        for w in weights:
            total += w
            cumulative.append(total)
        by_code = {g.code: g for g in grid_rows}
        focus_sets: list[tuple[float, list[GridRow]]] = []
        if self.focus and self.focus in by_code:
            f = self.focus
            village = [g for g in grid_rows if g.code.startswith(f[:12]) and g.code != f]
            township = [g for g in grid_rows if g.code.startswith(f[:9]) and not g.code.startswith(f[:12])]
            county = [g for g in grid_rows if g.code.startswith(f[:6]) and not g.code.startswith(f[:9])]
            focus_sets = [(0.04, [by_code[f]]), (0.03, village), (0.08, township), (0.10, county)]
        week_mean = sum(WEEKDAY_RATE) / 7
        arrivals: list[Arrival] = []
        day = self.start.astimezone(CHINA_TZ).date()
        last = self.end.astimezone(CHINA_TZ).date()
        while day <= last:
            expected = self.rate * WEEKDAY_RATE[day.weekday()] / week_mean
            for _ in range(_poisson(rng, expected)):
                hour = rng.choices(range(24), weights=HOUR_RATE)[0]
                moment = datetime(day.year, day.month, day.day, hour, tzinfo=CHINA_TZ) + timedelta(
                    seconds=rng.randrange(3600))
                moment = moment.astimezone(UTC)
                pick = rng.random()
                grid: GridRow | None = None
                for share, pool in focus_sets:
                    if pick < share and pool:
                        grid = rng.choice(pool)
                        break
                    pick -= share
                if grid is None:
                    grid = grid_rows[_bisect(cumulative, rng.random() * total)]
                if self.start <= moment < self.end:
                    arrivals.append(self._arrival(session, rng, len(arrivals), moment, grid, arrivals))
            day += timedelta(days=1)
        return arrivals

    def _arrival(self, session: Session, rng: random.Random, index: int, moment: datetime, grid: GridRow,
                 earlier: list[Arrival]) -> Arrival:
        local_hour = moment.astimezone(CHINA_TZ).hour
        recent = [a for a in earlier[-60:] if moment - a.at < timedelta(hours=20) and a.repeat_of is None]
        if recent and rng.random() < 0.04:  # somebody reports the same thing again
            original = rng.choice(recent)
            point = self._point_near(session, rng, original.grid, original.lng, original.lat)
            if point is not None:
                traits = self._traits(rng, self.types[original.type_code], repeat=True)
                return Arrival(index, moment, original.type_code, original.grid, point[0], point[1], "hotline",
                               traits, repeat_of=original.index)
        type_code = self._pick_type(rng, grid)
        lng, lat, code = self._point_in(session, rng, grid)
        channels: tuple[IntakeChannel, ...] = ("grid_worker", "volunteer", "hotline")
        # Grid workers patrol by day; at night people call 12345.
        channel = rng.choices(channels, weights=(70, 10, 20) if 8 <= local_hour < 18 else (15, 15, 70))[0]
        return Arrival(index, moment, type_code, code, lng, lat, channel, self._traits(rng, self.types[type_code]))

    def _pick_type(self, rng: random.Random, grid: GridRow) -> str:
        urban = (grid.urban_rural_code or "") in URBAN
        if urban not in self._type_weights:
            codes = sorted(self.types)
            per_category: dict[str, int] = {}
            for code in codes:
                per_category[self.types[code].category] = per_category.get(self.types[code].category, 0) + 1
            weights = []
            for code in codes:
                info = self.types[code]
                w = CATEGORY_WEIGHT.get(info.category, 1.0) / per_category[info.category] * TYPE_BOOST.get(code, 1.0)
                w *= URBAN_TYPES.get(code, 1.0) if urban else RURAL_TYPES.get(code, 1.0)
                w *= VILLAGE_BOOST if info.owner_level == "village" else 1.0
                weights.append(w)
            self._type_weights[urban] = (codes, weights)
        codes, weights = self._type_weights[urban]
        return rng.choices(codes, weights=weights)[0]

    def _traits(self, rng: random.Random, info: _TypeInfo, *, repeat: bool = False) -> Traits:
        """Everything random about a matter is drawn here, in a fixed order."""
        draws = [rng.random() for _ in range(12)]
        level = info.owner_level
        has_above = wf.level_above(level) is not None
        late = draws[0] < 0.08
        if late:
            share = 1.1 + 0.7 * draws[1]
        elif draws[1] < 0.2:
            share = 0.6 + 0.38 * draws[2]
        else:
            share = max(0.03, rng.betavariate(2, 4) * 0.8)
        trouble = late
        t = Traits(
            reject=not repeat and draws[3] < 0.03,
            cancel=not repeat and 0.03 <= draws[3] < 0.045,
            merge=repeat and draws[4] < 0.75,
            wrong_owner=has_above and draws[5] < 0.02,
            hand_escalate=has_above and draws[6] < {"village": 0.08, "township": 0.05}.get(level, 0.02),
            late=late,
            extension=late and has_above and draws[7] < 0.4,
            rework=draws[8] < 0.07,
            urge=draws[9] < 0.5,
            supervise=late and draws[10] < 0.45,
            evaluate=draws[11] < 0.85,
            handle_share=share,
        )
        weights = SATISFACTION_AFTER_TROUBLE if (trouble or t.rework) else SATISFACTION
        t.satisfaction = rng.choices((1, 2, 3, 4, 5), weights=weights)[0]
        return t

    def _showcase(self, session: Session, grid_rows: list[GridRow]) -> list[Arrival]:
        if not self.focus:
            return []
        f = self.focus
        pools = {
            "grid": [g for g in grid_rows if g.code == f],
            "village": [g for g in grid_rows if g.code.startswith(f[:12]) and g.code != f],
            "township": [g for g in grid_rows if g.code.startswith(f[:9]) and not g.code.startswith(f[:12])],
            "county": [g for g in grid_rows if g.code.startswith(f[:6]) and not g.code.startswith(f[:9])],
        }
        rng = random.Random(f"civicgrid-showcase:{self.seed}")
        out: list[Arrival] = []
        base = 1_000_000  # showcase indexes never meet background ones
        for n, item in enumerate(SHOWCASE):
            if item.type_code not in self.types:
                continue
            pool = pools[item.where] or pools["grid"]
            if not pool:
                continue
            unit, minutes = item.before_end
            if unit == "clock":
                at = self.end - timedelta(minutes=minutes)
            else:
                at = office_before(self.calendar, self.end, minutes)
            if at < self.start:
                continue
            traits = Traits(**{"handle_share": 0.3, "satisfaction": 5, **item.traits})
            if item.repeat and out:
                original = out[-1]
                point = self._point_near(session, rng, original.grid, original.lng, original.lat)
                if point is None:
                    continue
                out.append(Arrival(base + n, max(at, original.at + timedelta(minutes=20)), original.type_code,
                                   original.grid, point[0], point[1], item.channel, traits,
                                   repeat_of=original.index))
                continue
            grid = pool[0] if item.where == "grid" else rng.choice(pool)
            lng, lat, code = self._point_in(session, rng, grid)
            out.append(Arrival(base + n, at, item.type_code, code, lng, lat, item.channel, traits))
        return out

    # ------------------------------------------------------------ places

    def _shape(self, session: Session, code: str) -> BaseGeometry | None:
        if code not in self.shapes:
            text = repository.grid_boundary(session, code)
            geom = shape(json.loads(text)) if text else None
            if geom is not None:
                shapely.prepare(geom)
            self.shapes[code] = geom
        return self.shapes[code]

    def _point_in(self, session: Session, rng: random.Random, grid: GridRow) -> tuple[float, float, str]:
        """A random point of the grid that the city's grid index also puts in it (so intake snaps
        to this grid); the grid's label point when no random one does."""
        geom = self._shape(session, grid.code)
        if geom is not None:
            minx, miny, maxx, maxy = geom.bounds
            for _ in range(20):
                lng, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
                if geom.contains(Point(lng, lat)) and geo.locate_code(session, lng, lat) == grid.code:
                    return round(lng, 6), round(lat, 6), grid.code
        located = geo.locate_code(session, grid.lng, grid.lat)
        return grid.lng, grid.lat, located or grid.code

    def _point_near(self, session: Session, rng: random.Random, code: str, lng: float,
                    lat: float) -> tuple[float, float] | None:
        """A point 20–150 m from another one, in the same grid (a second report of one thing)."""
        for _ in range(12):
            distance, bearing = rng.uniform(20, 150), rng.uniform(0, 2 * math.pi)
            dlat = distance * math.cos(bearing) / 111_000
            dlng = distance * math.sin(bearing) / (111_000 * max(math.cos(math.radians(lat)), 0.01))
            p = (round(lng + dlng, 6), round(lat + dlat, 6))
            if geo.locate_code(session, p[0], p[1]) == code:
                return p
        return None

    def _cast_for(self, session: Session, arrivals: list[Arrival]) -> None:
        """Every account the period needs: reporters, and the owner of every level a matter could
        reach (escalation goes up to the city)."""
        for a in arrivals:
            if a.channel == "grid_worker":
                self.cast.ensure(session, "grid_worker", a.grid)
            elif a.channel == "volunteer":
                self.cast.ensure(session, "volunteer", a.grid[:12])
            else:
                self.cast.ensure(session, "hotline_operator", wf.owner_code(a.grid, "city"))
            # the township urges its villages; owners up to the city
            for level in dict.fromkeys(_levels_from("township") + _levels_from(self.types[a.type_code].owner_level)):
                self.cast.ensure(session, OWNER_ROLE[level], wf.owner_code(a.grid, level))
                self.cast.ensure_verifier(session, OWNER_ROLE[level], wf.owner_code(a.grid, level))
        session.flush()

    # ------------------------------------------------------------ running

    def _schedule(self, agent: int, at: datetime, kind: str, generation: int = 0) -> None:
        self.seq += 1
        heapq.heappush(self.heap, Wake(at, self.seq, agent, kind, generation))

    def _owner_wake(self, index: int, at: datetime) -> None:
        agent = self.agents[index]
        agent.generation += 1
        self._schedule(index, at, "owner", agent.generation)

    def run(self, clock: FakeClock) -> None:
        worker = TimerWorker(self.engine, worker_id="demo-simulator", lease_seconds=3600)
        started = time.monotonic()
        day: date | None = None
        days_total = max(1, (self.end.astimezone(CHINA_TZ).date() - self.start.astimezone(CHINA_TZ).date()).days + 1)
        day_no = 0
        reported = 0
        while True:
            with transaction(self.engine, write=False) as session:
                next_timer = repository.next_timer_due(session)
            next_wake = self.heap[0].at if self.heap else None
            due = [t for t in (next_timer, next_wake) if t is not None and t <= self.end]
            if not due:
                break
            moment = min(due)
            if moment > clock.now():
                clock.set(moment)
            today = clock.now().astimezone(CHINA_TZ).date()
            if today != day:
                day, day_no = today, day_no + 1
                if day_no == 1 or day_no % 7 == 1 or day_no == days_total:
                    self.echo(f"  {today.isoformat()}（第 {day_no}/{days_total} 天 day）"
                              f"已上报 {reported} 件 reported · {time.monotonic() - started:.0f} s")
            if next_timer is not None and next_timer <= moment:
                fired = worker.run_due()
                self.timers_fired += fired
                if fired:
                    continue
            if next_wake is None or next_wake > moment:
                continue
            wake = heapq.heappop(self.heap)
            if wake.kind == "report":
                reported += 1
            self._handle(wake)
        clock.set(max(clock.now(), self.end))
        self.timers_fired += worker.run_due()

    def _handle(self, wake: Wake) -> None:
        agent = self.agents[wake.agent]
        if wake.kind == "owner" and wake.generation != agent.generation:
            return  # superseded by a later plan
        try:
            if wake.kind == "report":
                self._report(wake.agent)
            elif agent.matter_id is not None:
                {"owner": self._owner, "oversee": self._oversee, "decide": self._decide,
                 "answer": self._answer}[wake.kind](wake.agent)
        except AppError as exc:
            self.failures.append(f"{agent.arrival.type_code}#{agent.arrival.index} {wake.kind}: {exc.en}")

    @contextmanager
    def _as(self, principal: Principal) -> Iterator[Session]:
        with transaction(self.engine) as session:
            yield self._acting(session, principal)

    @staticmethod
    def _acting(session: Session, principal: Principal) -> Session:
        """Attribute the session's writes to ``principal`` (before anything is flushed)."""
        set_actor(session, Actor(principal.username, principal.user_id))
        return session

    def _now(self) -> datetime:
        return get_clock().now()

    def _sense(self, session: Session, agent: Agent) -> Matter:
        assert agent.matter_id is not None
        return matters.get(session, self.sensor, agent.matter_id)

    def _act(self, session: Session, principal: Principal, agent: Agent, action: str, note: str | None = None,
             **data: Any) -> Matter:
        assert agent.matter_id is not None
        a = agent.arrival
        jitter = agent.rng.uniform(-0.0003, 0.0003)
        return matters.act(session, principal, agent.matter_id, action, note=note,
                           lng=round(a.lng + jitter, 6), lat=round(a.lat - jitter, 6), **data)

    # ------------------------------------------------------------ what people do

    def _report(self, index: int) -> None:
        agent = self.agents[index]
        a = agent.arrival
        info = self.types[a.type_code]
        village = self.names.get(a.grid[:12], "")
        township = self.names.get(a.grid[:9] + "000", "")
        county = self.names.get(a.grid[:6] + "000000", "")
        place = village.removesuffix("居委会").removesuffix("村委会")
        templates = DESCRIPTIONS.get(info.category, ("{place}{name}。",))
        description = agent.rng.choice(templates).format(place=place, name=info.name)
        reporter_name = reporter_phone = None
        if a.channel == "grid_worker":
            principal = self.cast.get("grid_worker", a.grid)
        elif a.channel == "volunteer":
            principal = self.cast.get("volunteer", a.grid[:12])
        else:  # a 12345 call, entered by the city's hotline operator
            principal = self.cast.get("hotline_operator", wf.owner_code(a.grid, "city"))
            reporter_name = agent.rng.choice(HOTLINE_CALLERS)
            reporter_phone = "1" + agent.rng.choice("3578") + "".join(agent.rng.choice("0123456789") for _ in range(9))
        body = MatterCreate(type_code=a.type_code, title=f"{place}{info.name}"[:120], description=description,
                            lng=a.lng, lat=a.lat, address=f"{county}{township}{village}"[:200], channel=a.channel,
                            reporter_name=reporter_name, reporter_phone=reporter_phone)
        with self._as(principal) as session:
            matter, _ = matters.report(session, principal, body, idempotency_key=f"demo-{self.seed}-{a.index}")
            agent.matter_id = matter.id
            accept_limit = self.types[a.type_code].limits["accept"]
        self._owner_wake(index, after_share(self.calendar, self._now(), accept_limit,
                                            agent.rng.uniform(0.08, 0.45)))

    def _reporter(self, agent: Agent) -> Principal:
        a = agent.arrival
        if a.channel == "grid_worker":
            return self.cast.get("grid_worker", a.grid)
        if a.channel == "volunteer":
            return self.cast.get("volunteer", a.grid[:12])
        return self.cast.get("hotline_operator", wf.owner_code(a.grid, "city"))

    def _owner(self, index: int) -> None:
        agent = self.agents[index]
        traits, info = agent.arrival.traits, self.types[agent.arrival.type_code]
        rng = agent.rng
        now = self._now()
        limits = info.limits
        # One transaction: look at the matter as it is now, then act as its owner.
        with transaction(self.engine) as session:
            matter = self._sense(session, agent)
            status, level = str(matter.status), matter.owner_level
            awaiting_evaluation = status == S.CLOSED and traits.evaluate
            if (status in wf.FINISHED and not awaiting_evaluation) or traits.stop_at == status:
                return
            owner = self.cast.owner(matter.division_code)
            self._acting(session, owner)
            allowed = wf.allowed_actions(matter, owner)
            if "answer_supervision" in allowed:
                self._act(session, owner, agent, "answer_supervision", "已按督办要求落实，正在加快办理。")
            if status == S.RETURNED:
                self._act(session, owner, agent, "reassign", "经核实属本级职责，重新交办", level=level)
                self._owner_wake(index, after_share(self.calendar, now, limits["accept"], rng.uniform(0.1, 0.4)))
                return
            if status in (S.REPORTED, S.ESCALATED):
                if ("merge" in allowed or "keep_separate" in allowed) and self._settle_duplicates(
                        session, owner, agent, allowed):
                    return
                first = "first_owner" not in agent.done
                agent.done.add("first_owner")
                if first and status == S.REPORTED and traits.reject:
                    self._act(session, owner, agent, "reject", "经核实不属于受理范围，已向上报人解释说明。")
                    return
                if first and status == S.REPORTED and traits.cancel:
                    self._act(session, owner, agent, "cancel", "上报人反映问题已自行解决，撤销。")
                    return
                if first and status == S.REPORTED and traits.hand_off and "hand_off" in allowed:
                    self._act(session, owner, agent, "hand_off", "属矛盾纠纷，移交矛盾纠纷多元化解。")
                    return
                if traits.wrong_owner and "returned" not in agent.done and "return" in allowed:
                    agent.done.add("returned")
                    self._act(session, owner, agent, "return", "经核实不属本级职责范围，退回上级重新交办。")
                    self._owner_wake(index, office_add(self.calendar, now, rng.uniform(30, 180)))
                    return
                self._act(session, owner, agent, "accept", "已受理")
                self._owner_wake(index, after_share(self.calendar, now, limits["accept"], rng.uniform(0.05, 0.3)))
                return
            if status == S.ACCEPTED:
                if traits.hand_escalate and "escalated" not in agent.done and "escalate" in allowed:
                    agent.done.add("escalated")
                    self._act(session, owner, agent, "escalate", "超出本级处置能力，提请上级协调处理。")
                    self._owner_wake(index, after_share(self.calendar, now, limits["accept"], rng.uniform(0.1, 0.5)))
                    return
                first_owner = level == info.owner_level
                self._act(session, owner, agent, "dispatch",
                          f"派遣：{info.department}" if first_owner else "组织相关部门联合处置")
                self._owner_wake(index, after_share(self.calendar, now, limits["handle"], rng.uniform(0.01, 0.06)))
                return
            if status == S.DISPATCHED:
                self._act(session, owner, agent, "start", "已到达现场，开始处置")
                self._plan_handling(index, now, limits["handle"])
                return
            if status == S.HANDLING:
                if traits.extension and "extension" not in agent.done and "request_extension" in allowed:
                    agent.done.add("extension")
                    days = rng.choice((1, 2, 3))
                    self._act(session, owner, agent, "request_extension", "情况复杂，需协调多个部门，申请延期。",
                              days=days)
                    self._schedule(index, office_add(self.calendar, now, rng.uniform(30, 150)), "decide")
                    since = agent.handling_since or now
                    self._owner_wake(index, after_share(self.calendar, since, limits["handle"], traits.handle_share))
                    return
                self._act(session, owner, agent, "resolve", "已办结", result=RESULTS.get(info.category, "已处理完毕。"))
                self._owner_wake(index, after_share(self.calendar, now, limits["verify"], rng.uniform(0.1, 0.6)))
                return
            if status == S.HANDLED:
                if traits.rework and "rework" not in agent.done:
                    agent.done.add("rework")
                    session.flush()
                    verifier = self.cast.verifier(matter.division_code)
                    self._acting(session, verifier)
                    self._act(session, verifier, agent, "send_back", "现场核查未整改到位，退回重新处置。")
                    self._owner_wake(index, after_share(self.calendar, now, limits["handle"], rng.uniform(0.1, 0.4)))
                    return
                session.flush()  # what the owner wrote is the owner's; the verification is another person's
                verifier = self.cast.verifier(matter.division_code)
                self._acting(session, verifier)
                self._act(session, verifier, agent, "verify", "现场核查，处置到位")
                self._owner_wake(index, now + timedelta(minutes=rng.uniform(10, 90)))
                return
            if status == S.VERIFIED:
                self._act(session, owner, agent, "close", "结案")
                if traits.evaluate:
                    self._owner_wake(index, office_add(self.calendar, now, rng.uniform(60, 900)))
                return
            if status == S.CLOSED and traits.evaluate:
                score = traits.satisfaction
                note = {5: "回访：群众非常满意", 4: "回访：群众满意", 3: "回访：基本满意",
                        2: "回访：群众不太满意，处置偏慢", 1: "回访：群众不满意"}[score]
                session.flush()  # 满意度 comes from the reporter (the hotline operator's return visit for a call)
                reporter = self._reporter(agent)
                self._acting(session, reporter)
                self._act(session, reporter, agent, "evaluate", note, satisfaction=score)

    def _settle_duplicates(self, session: Session, owner: Principal, agent: Agent, allowed: list[str]) -> bool:
        """Merge a planned repeat report into its original; keep anything else separate.
        Whether the matter is finished (merged)."""
        assert agent.matter_id is not None
        original = None
        if agent.arrival.repeat_of is not None:
            original = next((a.matter_id for a in self.agents if a.arrival.index == agent.arrival.repeat_of), None)
        pending = [d for d in matters.full_detail(session, owner, agent.matter_id).duplicates
                   if d.decision == "pending"]
        if agent.arrival.traits.merge and "merge" in allowed and any(d.candidate_id == original for d in pending):
            self._act(session, owner, agent, "merge", "与已上报事项重复，合并办理", duplicate_of=original)
            return True
        for d in pending:
            self._act(session, owner, agent, "keep_separate", "经核实为不同事项，分别办理", candidate_id=d.candidate_id)
        return False

    def _plan_handling(self, index: int, now: datetime, limit: tuple[int, str]) -> None:
        """When the owner will resolve, and when the level above will look at the alerts. Only
        the first owner is slow as drawn: whoever takes an escalated or reassigned matter over
        handles it in time."""
        agent = self.agents[index]
        share = agent.arrival.traits.handle_share
        if "handled_once" in agent.done:
            share = agent.rng.uniform(0.15, 0.7)
        agent.done.add("handled_once")
        agent.handling_since = now
        if agent.arrival.traits.extension and share > 0.5 and "extension" not in agent.done:
            self._owner_wake(index, after_share(self.calendar, now, limit, 0.5))
        else:
            self._owner_wake(index, after_share(self.calendar, now, limit, share))
        if share > 0.75:  # a yellow alert will come: the level above may urge or supervise
            self._schedule(index, after_share(self.calendar, now, limit, 0.8), "oversee")
        if share > 1.0:
            self._schedule(index, after_share(self.calendar, now, limit, 1.03), "oversee")

    def _oversee(self, index: int) -> None:
        """The level above looks at a matter whose alert has gone off."""
        agent = self.agents[index]
        traits, rng, now = agent.arrival.traits, agent.rng, self._now()
        with transaction(self.engine, write=False) as session:
            matter = self._sense(session, agent)
            status, alert, level, grid = str(matter.status), matter.alert, matter.owner_level, matter.grid_code
        if status in wf.FINISHED:
            return
        if status == S.ESCALATED and "escalation_seen" not in agent.done:
            # Escalated by the timer: the new owner picks it up within its acceptance time.
            agent.done.add("escalation_seen")
            limit = self.types[agent.arrival.type_code].limits["accept"]
            self._owner_wake(index, after_share(self.calendar, now, limit, rng.uniform(0.1, 0.5)))
            return
        if alert not in ("yellow", "red"):
            return
        if traits.supervise and "supervised" not in agent.done:
            above = next((lv for lv in SUPERVISOR_LEVELS if lv in _levels_from(level)[1:]), None)
            if above is not None:
                boss = self.cast.get(OWNER_ROLE[above], wf.owner_code(grid, above))
                with self._as(boss) as session:
                    self._act(session, boss, agent, "supervise", "该事项已超时预警，请于期限内办结并书面报告。",
                              days=rng.choice((1, 2)))
                agent.done.add("supervised")
                owner_answer = office_add(self.calendar, now, rng.uniform(30, 240))
                self._schedule(index, owner_answer, "answer")
                return
        if traits.urge and "urged" not in agent.done:
            above_level = wf.level_above(level)
            if above_level is not None:
                boss = self.cast.get(OWNER_ROLE[above_level], wf.owner_code(grid, above_level))
                with self._as(boss) as session:
                    self._act(session, boss, agent, "urge", "请抓紧办理，按时办结。")
                agent.done.add("urged")

    def _answer(self, index: int) -> None:
        """The owner answers a supervision order, and then hurries."""
        agent = self.agents[index]
        now = self._now()
        with transaction(self.engine, write=False) as session:
            matter = self._sense(session, agent)
            code, status = matter.division_code, str(matter.status)
        if status in wf.FINISHED:
            return
        owner = self.cast.owner(code)
        with self._as(owner) as session:
            matter = self._sense(session, agent)
            if "answer_supervision" in wf.allowed_actions(matter, owner):
                self._act(session, owner, agent, "answer_supervision", "已按督办要求落实，正在加快办理。")
        if status in (S.DISPATCHED, S.HANDLING) and agent.arrival.traits.stop_at != status:
            self._owner_wake(index, office_add(self.calendar, now, agent.rng.uniform(30, 120)))

    def _decide(self, index: int) -> None:
        """The level above approves (mostly) or denies an extension request."""
        agent = self.agents[index]
        with transaction(self.engine, write=False) as session:
            matter = self._sense(session, agent)
            level, grid, pending = matter.owner_level, matter.grid_code, bool(matter.extension_days)
        above = wf.level_above(level)
        if not pending or above is None:
            return
        boss = self.cast.get(OWNER_ROLE[above], wf.owner_code(grid, above))
        approve = agent.rng.random() < 0.85
        with self._as(boss) as session:
            if approve:
                self._act(session, boss, agent, "approve_extension", "同意延期")
            else:
                self._act(session, boss, agent, "deny_extension", "不同意延期，请按原时限办结")


def _bisect(cumulative: list[float], value: float) -> int:
    return min(bisect.bisect_right(cumulative, value), len(cumulative) - 1)


# ---------------------------------------------------------------- entry point


def _report_of(engine: Engine, *, skipped: bool, seconds: float, failures: list[str], start: datetime | None,
               end: datetime | None, timers_fired: int = 0) -> SimulationReport:
    with transaction(engine, write=False) as session:
        by_status = repository.status_counts(session)
        flags = repository.flag_counts(session)
    return SimulationReport(skipped=skipped, matters=sum(by_status.values()), by_status=by_status, flags=flags,
                            failures=failures, seconds=seconds, start=start, end=end, timers_fired=timers_fired)


def generate(engine: Engine, *, weeks: float = DEFAULT_WEEKS, matters_per_day: float = DEFAULT_MATTERS_PER_DAY,
             seed: int = DEFAULT_SEED, end: datetime | None = None, focus_grid: str | None = None,
             echo: Echo = print) -> SimulationReport:
    """Replay ``weeks`` of reported matters ending at ``end`` (default: now) through the real
    services, about ``matters_per_day`` a day; skipped (nothing written) when the database
    already holds matters. ``focus_grid`` is the demo grid worker's grid: a share of the matters
    and the showcase happen there and in its village, township and county. The clock is the
    real one again when this returns, also after an error."""
    began = time.monotonic()
    with transaction(engine, write=False) as session:
        existing = repository.matter_count(session)
    if existing:
        return _report_of(engine, skipped=True, seconds=0.0, failures=[], start=None, end=None)
    if weeks <= 0 or matters_per_day < 0:
        raise ValueError("weeks must be positive and matters_per_day not negative")
    previous = get_clock()
    finish = (end or previous.now()).astimezone(UTC).replace(microsecond=0)
    start = finish - timedelta(days=weeks * 7)
    fake = FakeClock(start)
    set_clock(fake)
    try:
        sim = Simulation(engine, start=start, end=finish, matters_per_day=matters_per_day, seed=seed,
                         focus_grid=focus_grid, echo=echo)
        sim.plan()
        echo(f"回放 {start.astimezone(CHINA_TZ):%Y-%m-%d %H:%M} — {finish.astimezone(CHINA_TZ):%Y-%m-%d %H:%M}："
             f"{len(sim.agents)} 件事项 matters, {sim.cast.created} 个新账号 new accounts")
        sim.run(fake)
    finally:
        set_clock(previous)
    for failure in sim.failures[:10]:
        echo(f"  ! {failure}")
    return _report_of(engine, skipped=False, seconds=time.monotonic() - began, failures=sim.failures,
                      start=start, end=finish, timers_fired=sim.timers_fired)
