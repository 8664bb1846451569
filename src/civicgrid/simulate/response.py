"""Rapid response in the demo (永州快警, names marked 演示): response units of every county's
police branch and of 朝阳派出所 placed across Yongzhou, ring zones drawn (a central-city zone for
零陵 and key sites), a patrol officer's login with a unit of their own — and the simulator that
keeps the command console alive.

The simulator (``CIVICGRID_RESPONSE_SIMULATOR``, on in ``civicgrid demo``) receives incidents from
a simulated 110 system at a rate that follows the hour of the day and the kind of place (central
city more than town, town more than countryside), dispatches the unit the recommendation ranks
first among the units it drives, and drives them: each acknowledges after a few seconds (now and
then after more than 60 s, so the warning fires), sets off, moves along a straight line towards
the scene at its type's speed in that kind of place (the ETA's speed over its detour factor, so the
simulated arrival matches the estimate), arrives, handles the incident, files the response report
(处警反馈), closes it, and drives back to its post. Every step goes through the response service
and the workflow kit — the timeline, the audit chain, the inbox orders, the warnings and the ring
figures are the real ones of the simulated city; the positions go through the telemetry path like
a vehicle terminal's. Units with members (a person's unit, such as the demo patrol officer's) are
never driven: their people act on the phone page.

The simulator keeps no state of its own that matters: what each unit does next follows from its
assignments in the database (the delays are drawn from the assignment's id), so a restart picks
up where it was; only a unit's straight-line leg starts again from where the index has it.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shapely.geometry import MultiPoint, mapping
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from civicgrid.audit.service import set_actor, system_actor
from civicgrid.authz.principal import Principal
from civicgrid.db import transaction
from civicgrid.geo import service as geo
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import AppError
from civicgrid.people import service as people
from civicgrid.response import repository as response_repository
from civicgrid.response import service as response
from civicgrid.response import telemetry
from civicgrid.response.index import index_for
from civicgrid.response.models import Assignment, AssignmentStatus, Incident, IncidentStatus, ResponseUnit
from civicgrid.response.params import get_params, great_circle_m
from civicgrid.simulate import repository
from civicgrid.simulate.demo import DEMO_PASSWORD, DemoLogin

log = logging.getLogger(__name__)

CITY = "431100000000"
LINGLING = "431102000000"
STATION = "朝阳派出所（演示）"
PATROL_LOGIN = "chaoyang_patrol"
PATROL_UNIT = "朝阳快警01"
SIM_PREFIX = "SIM"  # the simulated 110 numbers
M_PER_DEG = 111_195.0

SIMULATOR = Principal(user_id="", username="simulator", role="system", division_code=CITY, jurisdiction="4311",
                      permissions=frozenset({"*"}), display_name="快警模拟器（演示） / response simulator")

# (type, the kind of place it stands in, how many) per county's police branch.
UNIT_PLAN: list[tuple[str, str, int]] = [
    ("patrol_car", "central", 2),
    ("motorcycle", "central", 1),
    ("foot_patrol", "central", 1),
    ("platform_team", "central", 1),
    ("patrol_car", "town", 2),
    ("station_duty", "town", 1),
    ("village_auxiliary", "rural", 3),
]
TYPE_NAMES = {"patrol_car": "快警", "motorcycle": "铁骑", "foot_patrol": "步巡", "platform_team": "平台",
              "station_duty": "值班", "village_auxiliary": "辅警"}
# Incidents per grid by the kind of place: a central-city grid sees many more than a rural one.
PLACE_WEIGHT = {"central": 8.0, "town": 3.0, "rural": 1.0}
# The share of the day's incidents in each local hour (night low, evening high); mean 1.
_HOURS = [0.6, 0.45, 0.35, 0.3, 0.3, 0.35, 0.55, 0.8, 1.0, 1.1, 1.15, 1.2,
          1.15, 1.1, 1.1, 1.15, 1.25, 1.35, 1.45, 1.5, 1.55, 1.5, 1.2, 0.9]
HOUR_FACTOR = [h * 24 / sum(_HOURS) for h in _HOURS]
CATEGORIES: list[tuple[str, float, str, str]] = [  # category, weight, summary, confirmed nature
    ("public_order", 0.28, "群众报警称有人在店内酗酒滋事", "酗酒滋事"),
    ("dispute", 0.22, "邻里因停车位发生口角", "邻里纠纷"),
    ("traffic", 0.18, "两车剐蹭，双方争执", "轻微交通事故"),
    ("help", 0.15, "老人走失，家属求助", "群众求助"),
    ("criminal", 0.10, "报称电动车被盗", "盗窃"),
    ("fire", 0.02, "路边垃圾堆起火", "一般火情"),
    ("other", 0.05, "噪音扰民", "噪音扰民"),
]
OUTCOMES = ["现场调解，双方和解", "已劝离，现场秩序恢复", "已协助找回并送返", "已告知处理途径，当事人表示理解",
            "已移交交警部门处理"]


def _short(name: str) -> str:
    """零陵区 → 零陵, 祁阳市 → 祁阳 (a call sign's prefix)."""
    for suffix in ("瑶族自治县", "自治县", "区", "县", "市"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


@dataclass(frozen=True)
class Place:
    grid: str
    lng: float
    lat: float
    klass: str


def _places(session: Session, counties: Sequence[str] | None) -> list[Place]:
    params = get_params()
    return [Place(g.code, g.lng, g.lat, params.urban_class(g.urban_rural_code) or "rural")
            for g in repository.grids(session) if counties is None or g.code[:6] in counties]


def _square(lng: float, lat: float, metres: float) -> dict[str, Any]:
    d = metres / M_PER_DEG
    e = d / max(0.1, math.cos(math.radians(lat)))
    return {"type": "Polygon", "coordinates": [[[lng - e, lat - d], [lng + e, lat - d], [lng + e, lat + d],
                                                [lng - e, lat + d], [lng - e, lat - d]]]}


# ---------------------------------------------------------------- the demo seed


def seed_response(engine: Engine, *, counties: Sequence[str] | None = None, seed: int = 20261203,
                  echo: Callable[[str], None] = print) -> list[DemoLogin]:
    """Create the demo response units (once), place them, draw the zones, and make the patrol
    officer's login; returns that login. ``counties`` (6-digit prefixes): only those (tests)."""
    rng = random.Random(seed)
    with transaction(engine) as session:
        set_actor(session, system_actor("demo"))
        if repository.demo_response_units(session):
            return _patrol_login(session)
        echo("创建演示快警警力与快反圈 / creating demo response units and ring zones …")
        orgs = repository.demo_org_units_of(session, ["police_branch", "police_station"])
        branches = {div[:6]: (oid, name) for oid, name, kind, div in orgs if kind == "police_branch"}
        station = next((oid for oid, name, kind, _div in orgs if name == STATION), None)
        places = _places(session, counties)
        by_county: dict[str, dict[str, list[Place]]] = {}
        for p in places:
            by_county.setdefault(p.grid[:6], {}).setdefault(p.klass, []).append(p)
        placed: list[tuple[str, Place]] = []
        names = repository.division_names(session, [c + "000000" for c in sorted(by_county)])
        for county in sorted(by_county):
            branch = branches.get(county)
            if branch is None:
                continue
            short = _short(names.get(county + "000000", county))
            serial = 0
            for unit_type, klass, count in UNIT_PLAN:
                pool = by_county[county].get(klass) or [p for ps in by_county[county].values() for p in ps]
                for _ in range(count):
                    serial += 1
                    unit = response.create_unit(session, SIMULATOR, call_sign=f"{short}{TYPE_NAMES[unit_type]}"
                                                f"{serial:02d}", unit_type=unit_type, org_unit_id=branch[0],
                                                members=[])
                    _sign_on(session, unit)
                    placed.append((unit.id, rng.choice(pool)))
        login: list[DemoLogin] = []
        if station is not None and (counties is None or LINGLING[:6] in counties):
            area = set(repository.org_area_grids(session, station))
            post = [p for p in places if p.grid in area] or places
            user = repository.user_by_username(session, PATROL_LOGIN)
            if user is None:
                user = people.create_user(session, username=PATROL_LOGIN,
                                          display_name="朝阳派出所巡逻民警 蒋磊（演示）", role="patrol_officer",
                                          division_code=LINGLING, password=DEMO_PASSWORD, must_change_password=True)
            for unit_type, call_sign, members in (("patrol_car", PATROL_UNIT, [user.id]),
                                                  ("foot_patrol", "朝阳步巡02", []), ("motorcycle", "朝阳铁骑03", [])):
                unit = response.create_unit(session, SIMULATOR, call_sign=call_sign, unit_type=unit_type,
                                            org_unit_id=station, members=members)
                _sign_on(session, unit)
                placed.append((unit.id, post[len(placed) % len(post)]))
        zones = _draw_zones(session, places, rng)
    now = utcnow()
    with transaction(engine, write=False) as session:
        index = index_for(session)
    telemetry.accept(index, str(engine.url), [telemetry.Point(uid, now, p.lng, p.lat) for uid, p in placed])
    telemetry.flush(engine)
    echo(f"  {len(placed)} 个警力单元 units; {zones} 个快反圈 ring zones")
    with transaction(engine, write=False) as session:
        login = _patrol_login(session)
    return login


SHIFT_DAYS = 7  # the demo plans a week of shifts
DAY_SHIFT_TYPES = ("foot_patrol", "motorcycle")  # on day shifts (08:00–20:00); the others on 24-hour duty
LOCAL = ZoneInfo("Asia/Shanghai")


def _sign_on(session: Session, unit: ResponseUnit) -> None:
    """A demo unit on its shifts for a week from this morning 08:00 (Yongzhou time): 24-hour duty
    (24小时值班) for cars, duty teams and platforms, day shifts for foot and motorcycle patrols —
    on duty now if a shift runs now (the shift signs it on), off duty otherwise."""
    unit.demo = True
    now = utcnow()
    local = now.astimezone(LOCAL)
    morning = datetime.combine(local.date(), time(8), tzinfo=LOCAL)
    if morning > local:
        morning -= timedelta(days=1)
    length = timedelta(hours=12) if unit.unit_type in DAY_SHIFT_TYPES else timedelta(hours=24)
    for day in range(SHIFT_DAYS):
        start = morning + timedelta(days=day)
        if start + length <= now:
            continue
        response.create_shift(session, SIMULATOR, unit.id, starts_at=start.astimezone(now.tzinfo),
                              ends_at=(start + length).astimezone(now.tzinfo),
                              note="演示班次 / demo shift")


def _draw_zones(session: Session, places: list[Place], rng: random.Random) -> int:
    """零陵's central city (the hull of its central-class grid points) and a key site in each
    of the first three counties' central city (a square of 400 m)."""
    made = 0
    central = [p for p in places if p.klass == "central"]
    lingling = [(p.lng, p.lat) for p in central if p.grid.startswith(LINGLING[:6])]
    if len(lingling) >= 3:
        hull = MultiPoint(lingling).convex_hull.buffer(0.002)
        response.create_zone(session, SIMULATOR, zone="central_city", label="零陵中心城区（演示）",
                             division_code=LINGLING, polygon=mapping(hull))
        made += 1
    counties = sorted({p.grid[:6] for p in central})[:3]
    for county in counties:
        site = rng.choice([p for p in central if p.grid.startswith(county)])
        name = geo.name_of(session, site.grid) or site.grid
        response.create_zone(session, SIMULATOR, zone="key_site", label=f"{name}（重点部位·演示）"[:100],
                             division_code=county + "000000", polygon=_square(site.lng, site.lat, 200))
        made += 1
    return made


def _patrol_login(session: Session) -> list[DemoLogin]:
    user = repository.user_by_username(session, PATROL_LOGIN)
    if user is None:
        return []
    return [DemoLogin(user.username, user.role_code, f"巡逻民警（{PATROL_UNIT}，手机页）", user.division_code,
                      "零陵区")]


# ---------------------------------------------------------------- the simulator


@dataclass
class Leg:
    """A straight line from (lng0, lat0) at t0 to (lng1, lat1) at ``speed`` m/s."""

    lng0: float
    lat0: float
    t0: datetime
    lng1: float
    lat1: float
    speed: float

    @property
    def seconds(self) -> float:
        return great_circle_m(self.lng0, self.lat0, self.lng1, self.lat1) / self.speed

    def at(self, now: datetime) -> tuple[float, float, bool]:
        total = self.seconds
        f = 1.0 if total <= 0 else min(1.0, (now - self.t0).total_seconds() / total)
        return self.lng0 + (self.lng1 - self.lng0) * f, self.lat0 + (self.lat1 - self.lat0) * f, f >= 1.0

    def heading(self) -> float:
        dx = (self.lng1 - self.lng0) * math.cos(math.radians(self.lat0))
        return (math.degrees(math.atan2(dx, self.lat1 - self.lat0)) + 360) % 360


@dataclass
class Delays:
    """What one assignment's unit takes for each step (drawn from the assignment's id)."""

    ack: float
    depart: float
    on_scene: float

    @classmethod
    def of(cls, assignment_id: str, turnout: float) -> Delays:
        r = random.Random(assignment_id)
        ack = r.uniform(65, 90) if r.random() < 0.05 else r.uniform(5, 35)
        return cls(ack=ack, depart=turnout + r.uniform(5, 20), on_scene=r.uniform(8 * 60, 30 * 60))


@dataclass
class Tick:
    """What one tick did (for the tests and the log)."""

    received: int = 0
    dispatched: int = 0
    steps: int = 0
    moved: int = 0
    errors: list[str] = field(default_factory=list)


class ResponseSimulator:
    """Drives the demo units; call :meth:`tick` every few seconds (the clock is ``utcnow``)."""

    def __init__(self, engine: Engine, *, per_day: float, seed: int = 20261203,
                 counties: Sequence[str] | None = None) -> None:
        self.engine = engine
        self.per_day = per_day
        self.rng = random.Random(seed)
        self.counties = list(counties) if counties else None
        self.last: datetime | None = None
        self.units: dict[str, str] = {}  # driven unit → type
        self.homes: dict[str, tuple[float, float]] = {}
        self.legs: dict[str, Leg] = {}  # assignment → its leg to the scene
        self.returning: dict[str, Leg] = {}  # unit → its leg back to its post
        self.places: list[Place] = []
        self.cumulative: list[float] = []
        self.serial = 0

    def _load(self) -> None:
        if self.units:
            return
        with transaction(self.engine, write=False) as session:
            self.units = {uid: kind for uid, _sign, kind, members in repository.demo_response_units(session)
                          if members == 0}
            self.places = _places(session, self.counties)
            index = index_for(session)
        total = 0.0
        self.cumulative = []
        for p in self.places:
            total += PLACE_WEIGHT.get(p.klass, 1.0)
            self.cumulative.append(total)
        for uid in self.units:
            entry = index.get(uid)
            if entry is not None and entry.lng is not None and entry.lat is not None:
                self.homes[uid] = (entry.lng, entry.lat)

    def tick(self) -> Tick:
        now = utcnow()
        self._load()
        done = Tick()
        if not self.units or not self.places:
            return done
        elapsed = min(60.0, (now - self.last).total_seconds()) if self.last is not None else 0.0
        self.last = now
        self._receive(now, elapsed, done)
        self._dispatch_waiting(now, done)
        self._advance(now, done)
        self._drive_home(now, done)
        return done

    # -- incidents

    def _poisson(self, mean: float) -> int:
        limit, k, p = math.exp(-mean), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1

    def _receive(self, now: datetime, elapsed: float, done: Tick) -> None:
        hour = (now + timedelta(hours=8)).hour
        mean = self.per_day / 86_400 * elapsed * HOUR_FACTOR[hour]
        for _ in range(self._poisson(mean)):
            place = self.rng.choices(self.places, cum_weights=self.cumulative)[0]
            category, _w, summary, _nature = self.rng.choices(CATEGORIES, weights=[c[1] for c in CATEGORIES])[0]
            priority = 1 if self.rng.random() < 0.05 else (2 if self.rng.random() < 0.35 else 3)
            self.serial += 1
            number = f"{SIM_PREFIX}{now:%Y%m%d%H%M%S}{self.serial:04d}"
            jitter = 0.0004
            item = {"number_110": number, "category": category, "priority": priority,
                    "lng": place.lng + self.rng.uniform(-jitter, jitter),
                    "lat": place.lat + self.rng.uniform(-jitter, jitter), "summary": f"{summary}（演示）",
                    "clock": {"call_received_at": (now - timedelta(seconds=self.rng.uniform(20, 60))).isoformat()}}
            try:
                with transaction(self.engine) as session:
                    set_actor(session, system_actor("simulator"))
                    try:
                        created = response.receive_110(session, SIMULATOR, [item])[0]
                    except AppError:  # the jittered point left the grid layer: take the grid's own point
                        item.update(lng=place.lng, lat=place.lat)
                        created = response.receive_110(session, SIMULATOR, [item])[0]
                    done.received += 1
                    unit = next((c.unit_id for c in created.recommendations if c.unit_id in self.units), None)
                    if unit is not None:
                        response.dispatch(session, SIMULATOR, created.incident.id, [unit])
                        done.dispatched += 1
            except AppError as exc:
                done.errors.append(f"receive {number}: {exc.en}")

    def _dispatch_waiting(self, now: datetime, done: Tick) -> None:
        """Incidents no driven unit could take when they came: dispatch when one is free, cancel
        after 20 minutes (with the reason on the timeline)."""
        with transaction(self.engine, write=False) as session:
            waiting = [i.id for i in repository.simulated_incidents(session, [IncidentStatus.RECEIVED], SIM_PREFIX)
                       if isinstance(i, Incident)]
        for incident_id in waiting:
            try:
                with transaction(self.engine) as session:
                    set_actor(session, system_actor("simulator"))
                    incident = response.get_incident(session, SIMULATOR, incident_id)
                    unit = next((c.unit_id for c in response.recommend(session, incident) if c.unit_id in self.units),
                                None)
                    if unit is not None:
                        response.dispatch(session, SIMULATOR, incident.id, [unit])
                        done.dispatched += 1
                    elif now - incident.call_received_at > timedelta(minutes=20):
                        response.incident_action(session, SIMULATOR, incident.id, "cancel",
                                                 note="附近无可派警力，已转由派出所电话回访（演示）")
            except AppError as exc:
                done.errors.append(f"dispatch {incident_id}: {exc.en}")

    # -- the units

    def _speed(self, unit_type: str, klass: str) -> float:
        params = get_params()
        return (params.speed.get(unit_type, {}).get(klass) or 5 / 3.6) / params.detour.get(klass, 1.3)

    def _advance(self, now: datetime, done: Tick) -> None:
        params = get_params()
        with transaction(self.engine, write=False) as session:
            live = [a for a in repository.live_assignments_of(session, list(self.units)) if isinstance(a, Assignment)]
            index = index_for(session)
            session.expunge_all()
        moves: list[telemetry.Point] = []
        for a in live:
            kind = self.units[a.unit_id]
            delays = Delays.of(a.id, params.turnout.get(kind, 0.0))
            status = AssignmentStatus(a.status)
            if status == AssignmentStatus.ORDERED and now - a.ordered_at >= timedelta(seconds=delays.ack):
                self._step(a.id, "acknowledge", done)
            elif (status == AssignmentStatus.ACKNOWLEDGED and a.acknowledged_at is not None
                  and now - a.acknowledged_at >= timedelta(seconds=delays.depart)):
                if self._step(a.id, "depart", done):
                    self.returning.pop(a.unit_id, None)
                    self._leg(a, index, now)
            elif status == AssignmentStatus.EN_ROUTE:
                leg = self.legs.get(a.id) or self._leg(a, index, now)
                if leg is None:
                    continue
                lng, lat, there = leg.at(now)
                if there:
                    if self._step(a.id, "arrive", done, lng=leg.lng1, lat=leg.lat1):
                        self.legs.pop(a.id, None)
                    moves.append(telemetry.Point(a.unit_id, now, leg.lng1, leg.lat1, 0.0, leg.heading()))
                else:
                    moves.append(telemetry.Point(a.unit_id, now, lng, lat, leg.speed * 3.6, leg.heading()))
            elif (status == AssignmentStatus.ON_SCENE and a.on_scene_at is not None
                  and now - a.on_scene_at >= timedelta(seconds=delays.on_scene)
                  and self._finish(a.incident_id, done)):
                self._head_home(a.unit_id, index, now)
        if moves:
            done.moved += telemetry.accept(index, str(self.engine.url), moves)

    def _leg(self, a: Assignment, index: Any, now: datetime) -> Leg | None:
        entry = index.get(a.unit_id)
        with transaction(self.engine, write=False) as session:
            incident = response_repository.incident_by_id(session, a.incident_id, "the simulator drives the unit there")
            target = (incident.lng, incident.lat, incident.urban_class) if incident is not None else None
        if entry is None or entry.lng is None or entry.lat is None or target is None:
            return None
        leg = Leg(entry.lng, entry.lat, now, target[0], target[1], self._speed(self.units[a.unit_id], target[2]))
        self.legs[a.id] = leg
        return leg

    def _head_home(self, unit_id: str, index: Any, now: datetime) -> None:
        entry, home = index.get(unit_id), self.homes.get(unit_id)
        if entry is None or entry.lng is None or entry.lat is None or home is None:
            return
        self.returning[unit_id] = Leg(entry.lng, entry.lat, now, home[0], home[1],
                                      self._speed(self.units[unit_id], "town"))

    def _drive_home(self, now: datetime, done: Tick) -> None:
        with transaction(self.engine, write=False) as session:
            index = index_for(session)
        moves: list[telemetry.Point] = []
        for unit_id, leg in list(self.returning.items()):
            entry = index.get(unit_id)
            if entry is None or entry.availability != "available":
                self.returning.pop(unit_id, None)  # sent again (or signed off) on the way back
                continue
            lng, lat, there = leg.at(now)
            moves.append(telemetry.Point(unit_id, now, lng, lat, 0.0 if there else leg.speed * 3.6, leg.heading()))
            if there:
                self.returning.pop(unit_id, None)
        if moves:
            done.moved += telemetry.accept(index, str(self.engine.url), moves)

    def _step(self, assignment_id: str, action: str, done: Tick, **where: float) -> bool:
        try:
            with transaction(self.engine) as session:
                set_actor(session, system_actor("simulator"))
                response.assignment_action(session, SIMULATOR, assignment_id, action, **where)  # type: ignore[arg-type]
            done.steps += 1
            return True
        except AppError as exc:
            done.errors.append(f"{action} {assignment_id}: {exc.en}")
            return False

    def _finish(self, incident_id: str, done: Tick) -> bool:
        """Handled, the response report filed, closed (which releases the units)."""
        try:
            with transaction(self.engine) as session:
                set_actor(session, system_actor("simulator"))
                incident = response.get_incident(session, SIMULATOR, incident_id)
                nature = next((c[3] for c in CATEGORIES if c[0] == incident.category), "其他")
                rng = random.Random(incident_id)
                if incident.status == IncidentStatus.ON_SCENE:
                    response.incident_action(session, SIMULATOR, incident_id, "handle")
                if incident.status == IncidentStatus.HANDLED:
                    case = incident.category == "criminal" and rng.random() < 0.6
                    response.incident_action(session, SIMULATOR, incident_id, "file_report", data={
                        "confirmed_nature": nature, "outcome": rng.choice(OUTCOMES) + "（演示）",
                        "case_opened": case,
                        "case_number": f"A{incident.county_code}{incident.number[-9:]}" if case else None})
                if incident.status == IncidentStatus.FEEDBACK_FILED:
                    response.incident_action(session, SIMULATOR, incident_id, "close")
            done.steps += 1
            return True
        except AppError as exc:
            done.errors.append(f"finish {incident_id}: {exc.en}")
            return False


class SimulatorThread:
    """The simulator on a background thread of the serving process (``CIVICGRID_RESPONSE_SIMULATOR``)."""

    def __init__(self, engine: Engine, *, per_day: float, tick_seconds: float) -> None:
        self.simulator = ResponseSimulator(engine, per_day=per_day)
        self.tick_seconds = tick_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="response-simulator", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            try:
                done = self.simulator.tick()
                for error in done.errors:
                    log.info("response simulator: %s", error)
            except Exception:
                log.exception("response simulator tick failed; trying again at the next tick")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


_running: dict[str, tuple[SimulatorThread, int]] = {}
_running_lock = threading.Lock()


def start_simulator(engine: Engine, *, per_day: float, tick_seconds: float) -> SimulatorThread:
    """The process's one simulator for this database: started by the first app of the process
    that asks, shared by any other (each start is matched by a :func:`stop_simulator`) — two
    simulators on one database would double the simulated incidents and race for the same units."""
    key = str(engine.url)
    with _running_lock:
        found = _running.get(key)
        if found is not None:
            _running[key] = (found[0], found[1] + 1)
            return found[0]
        simulator = SimulatorThread(engine, per_day=per_day, tick_seconds=tick_seconds)
        simulator.start()
        _running[key] = (simulator, 1)
        return simulator


def stop_simulator(simulator: SimulatorThread) -> None:
    """Release one start; the last release stops the thread."""
    with _running_lock:
        key = next((k for k, (s, _) in _running.items() if s is simulator), None)
        if key is not None:
            _, starts = _running[key]
            if starts > 1:
                _running[key] = (simulator, starts - 1)
                return
            del _running[key]
    simulator.stop()
