"""Days of case handling for the demo: Yongzhou's police case systems feeding the supervision centre.

:func:`generate` plays a realistic event stream through **the real intake path** — the route a
case-handling system calls as a platform API client (``supervision.endpoints.ingest_from_client``,
the same function the HTTP route runs, acting as the client's principal, with the client as the
sender) — while a :class:`~civicgrid.kit.clock.FakeClock` moves through the period and the timer
worker fires every clock's warning and deadline when the clock passes it.

Each county's public-security branch has one API client (system kind ``police_case``): its case
system, forwarding through the boundary platform. Cases are accepted at 零陵区's demo stations
(about two thirds) and at the county branches. A criminal case goes 受案 → 传唤 into the station's
case-handling area (候问室, 讯问室) → leaves, or is detained (刑事拘留) with the family notice, the
custody receipt and the first interrogation, a 提请批捕 within 3 days (or extended to 7 with an
approval recorded), the procuratorate's decision, arrest or bail; property is seized, handed to the
custodian and sometimes returned. Administrative (治安) cases are accepted, questioned, decided and
executed, some 快速办理.

What makes it realistic rather than tidy:

* **late events** — about 5 % of the events that may arrive late (a person leaving the area, a
  document, the end of a measure, a return of property) reach the centre hours after they happened:
  a breach already raised is then withdrawn as late data and a 迟报 warning goes to the sender;
* **duplicates** — about 5 % of all events are sent a second time (the platform's retry), which
  changes nothing;
* **real breaches** — a few officers are slow: a 传唤 held past 12 hours, a detainee delivered to
  the detention house late, a family notice after 24 hours, a 提请批捕 after 3 days with no extension;
* **refusals** — about 1 % of the events come with a broken twin naming a measure the record does
  not hold (a typo in the case system), refused in the batch answer, the rest of the batch applied.

Events that have not happened, or not arrived, by the end of the period are not sent: people still
sit in the rooms and clocks still run when the demo starts. Idempotent: nothing is done when the
database already holds supervision cases. The same seed and end moment give the same stream.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from civicgrid.apiclients import service as apiclients
from civicgrid.apiclients.dependencies import ClientCaller
from civicgrid.apiclients.models import ApiClient
from civicgrid.audit.service import Actor, set_actor, system_actor
from civicgrid.db import transaction
from civicgrid.kit.clock import CHINA_TZ, FakeClock, get_clock, set_clock
from civicgrid.people import service as people
from civicgrid.people.orgs import service as orgs
from civicgrid.people.orgs.models import OrgUnit
from civicgrid.simulate import repository
from civicgrid.simulate.demo import DEMO_PASSWORD, DemoLogin
from civicgrid.simulate.disputes import SYSTEM
from civicgrid.supervision import endpoints as supervision_routes
from civicgrid.supervision.schemas import BatchBody, EventBody
from civicgrid.supervision.workflow import DUE_KIND, WARN_KIND
from civicgrid.timers.worker import TimerWorker

DEFAULT_DAYS = 10.0
DEFAULT_CASES_PER_DAY = 8.0
DEFAULT_SEED = 20261203
LATE_SHARE = 0.05
DUPLICATE_SHARE = 0.05
BAD_SHARE = 0.01
LINGLING = "431102000000"
CLIENT_PREFIX = "公安执法办案系统（演示）"
Echo = Callable[[str], None]

SURNAMES = "蒋唐李周陈邓刘胡杨黄何王张谭彭欧阳雷"
GIVEN = ["建国", "小军", "海涛", "丽华", "志强", "春梅", "伟", "芳", "勇", "敏", "德明", "桂香", "晓东", "红", "文斌"]
OFFICERS = ["民警 蒋立", "民警 唐明", "民警 周涛", "民警 陈欣", "民警 邓伟", "民警 胡斌", "辅警 李航"]
CUSTODIAN = "涉案财物管理员 杨丽"
CRIMINAL = [  # category, title, amount range (yuan; 0: none), share with property
    ("theft", "盗窃案", (800, 30000), 0.7), ("fraud", "电信网络诈骗案", (5000, 300000), 0.5),
    ("injury", "故意伤害案", (0, 0), 0.2), ("affray", "寻衅滋事案", (0, 0), 0.2),
    ("drugs", "贩卖毒品案", (2000, 50000), 0.6), ("gambling", "开设赌场案", (10000, 200000), 0.8),
]
ADMIN = [("fight", "殴打他人"), ("nuisance", "扰乱公共秩序"), ("gambling", "赌博"), ("drug_use", "吸食毒品"),
         ("theft_minor", "盗窃（治安）"), ("prostitution", "卖淫嫖娼")]
PROPERTY = [("手机", 1500, 8000), ("电动自行车", 1200, 4000), ("现金", 500, 50000), ("笔记本电脑", 3000, 12000),
            ("赌具", 100, 2000), ("银行卡", 0, 0), ("车辆", 20000, 150000)]
SHOWCASE = ("summons", "custody", "arrest_request")
HOUR_RATE = (0.3, 0.25, 0.2, 0.15, 0.1, 0.15, 0.3, 0.6, 1.0, 1.3, 1.4, 1.3,
             1.0, 1.0, 1.3, 1.4, 1.4, 1.3, 1.2, 1.3, 1.4, 1.3, 1.0, 0.6)


@dataclass
class Planned:
    """One event of the stream: when it happened, whether it may arrive late, and its body."""

    at: datetime
    kind: str
    data: dict[str, Any]
    event_id: str
    may_be_late: bool = False


@dataclass
class Handler:
    """A handling unit and the case system (API client) that reports for it."""

    unit: OrgUnit
    client_id: str


@dataclass
class SupervisionReport:
    skipped: bool = False
    cases: int = 0
    events: int = 0
    sent: int = 0
    applied: int = 0
    duplicates: int = 0
    refused: int = 0
    late: int = 0
    batches: int = 0
    timers_fired: int = 0
    breaches: int = 0
    late_reports: int = 0
    seconds: float = 0.0
    refusals: list[str] = field(default_factory=list)


def format_summary(report: SupervisionReport) -> str:
    if report.skipped:
        return "执法监督演示数据已存在，跳过 / supervision demo data exists: skipped"
    return (f"执法监督 supervision: {report.cases} 起案件 cases, {report.sent} 条事件 events sent in "
            f"{report.batches} 批 batches（采用 applied {report.applied}, 重复 duplicates {report.duplicates}, "
            f"拒收 refused {report.refused}, 迟到 late {report.late}）; 超期 breaches {report.breaches}, "
            f"迟报预警 late-report warnings {report.late_reports}; {report.seconds:.0f} s")


# ---------------------------------------------------------------- the stream


class Stream:
    """Plans the events of every case from a seeded random stream."""

    def __init__(self, rng: random.Random, handlers: list[Handler], start: datetime, end: datetime) -> None:
        self.rng, self.handlers, self.start, self.end = rng, handlers, start, end
        self.by_sender: dict[str, list[Planned]] = {}
        self.serial = 0
        self.slow = ""  # the showcase's forced breach of the case being planned

    def _id(self, case: str) -> str:
        self.serial += 1
        return f"{case}-E{self.serial:06d}"

    def _name(self) -> str:
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)

    def _moment(self) -> datetime:
        span = (self.end - self.start).total_seconds()
        while True:
            moment = self.start + timedelta(seconds=self.rng.uniform(0, span))
            if self.rng.random() < HOUR_RATE[moment.astimezone(CHINA_TZ).hour] / 1.4:
                return moment.replace(microsecond=0)

    def case(self, number: int) -> None:
        """Plan case ``number``; the first three are the showcase — criminal cases of a station on the
        first day, each with one real breach (a 传唤 held too long, a detainee delivered late, a
        提请批捕 after three days), so every demo board has breaches whatever the draw."""
        handler = self.rng.choice(self.handlers)
        at = self._moment()
        criminal = self.rng.random() < 0.6
        self.slow = SHOWCASE[number - 1] if number <= len(SHOWCASE) else ""
        if self.slow:
            handler, criminal = self.handlers[0], True
            at = self.start + timedelta(hours=2 + 3 * number)
        day = at.astimezone(CHINA_TZ).strftime("%Y%m%d")
        ref = f"{'A' if criminal else 'X'}{day}{number:04d}"
        events: list[Planned] = []

        def emit(moment: datetime, event_kind: str, /, may_be_late: bool = False, **data: Any) -> None:
            events.append(Planned(moment.replace(microsecond=0), event_kind, {"case": ref, **data}, self._id(ref),
                                  may_be_late))

        if ref.startswith("A"):
            self._criminal(handler, ref, at, emit)
        else:
            self._administrative(handler, ref, at, emit)
        self.by_sender.setdefault(handler.client_id, []).extend(events)

    def _area(self, handler: Handler) -> dict[str, Any]:
        title = handler.unit.name.removesuffix("（演示）")
        return {"area": f"BA-{handler.unit.id[:6]}", "area_title": f"{title}执法办案区"}

    def _bring_in(self, handler: Handler, at: datetime, emit: Callable[..., None], person: str, kind: str,
                  limit_hours: float, slow: bool) -> datetime:
        """传唤 / 询问查证 into the case-handling area: waiting room, then the interview room; leaves
        after a few hours (past the limit when ``slow``). Returns when the person left."""
        area = self._area(handler)
        emit(at, "measure.started", measure=f"{person}-{kind[:3].upper()}", kind=kind, person=person)
        emit(at, "person.entered", person=person, room="HW1", room_title="候问室一", room_type="waiting", **area)
        room_at = at + timedelta(minutes=self.rng.randint(10, 50))
        interview = self.rng.choice([("XW1", "讯问室一"), ("XW2", "讯问室二"), ("XW3", "询问室一")])
        emit(room_at, "person.entered", person=person, room=interview[0], room_title=interview[1],
             room_type="interview", **area)
        hours = self.rng.uniform(limit_hours + 0.3, limit_hours + 2.5) if slow else self.rng.uniform(1.5, limit_hours
                                                                                                       * 0.8)
        left = at + timedelta(hours=hours)
        emit(left, "person.left", may_be_late=True, person=person, **area)
        return left

    def _criminal(self, handler: Handler, ref: str, at: datetime, emit: Callable[..., None]) -> None:
        rng = self.rng
        category, title, amount, property_share = rng.choice(CRIMINAL)
        suspect, victim = "P1", "P2"
        amount_fen = rng.randint(*amount) * 100 if amount[1] else None
        emit(at, "case.opened", kind="criminal", unit_id=handler.unit.id, title=f"{self._name()}等{title}",
             case_no=f"{ref[1:9]}-{ref[-4:]}", category=category, officers=rng.sample(OFFICERS, 2),
             enterprise_involved=rng.random() < 0.1, amount_fen=amount_fen,
             incident_no=f"J{ref[1:]}" if rng.random() < 0.7 else None,
             persons=[{"id": suspect, "role": "suspect", "name": self._name()},
                      {"id": victim, "role": "victim", "name": self._name()}])
        left = self._bring_in(handler, at + timedelta(minutes=rng.randint(20, 240)), emit, suspect, "summons", 12,
                              slow=rng.random() < 0.08 or self.slow == "summons")
        if rng.random() < property_share:
            self._property(ref, at + timedelta(minutes=rng.randint(30, 300)), emit, victim)
        fate = 0.9 if self.slow else rng.random()
        if fate < 0.15:  # not filed
            emit(left + timedelta(days=rng.uniform(1, 3)), "case.stage_changed", stage="not_filed")
            return
        filed = left + timedelta(hours=rng.uniform(1, 30))
        emit(filed, "case.stage_changed", stage="filed")
        if fate < 0.55:  # no detention: investigation, then transfer or withdrawal
            emit(filed + timedelta(days=rng.uniform(1, 4)), "case.stage_changed", stage="investigating")
            if rng.random() < 0.4:
                bail = filed + timedelta(days=rng.uniform(0.2, 2))
                emit(bail, "measure.started", measure=f"{suspect}-BAIL", kind="bail", person=suspect)
            emit(filed + timedelta(days=rng.uniform(8, 40)), "case.stage_changed",
                 stage="prosecution_review" if rng.random() < 0.8 else "withdrawn")
            return
        self._detention(ref, left, filed, emit, suspect)

    def _detention(self, ref: str, left: datetime, filed: datetime, emit: Callable[..., None], suspect: str) -> None:
        rng = self.rng
        detained = left  # 刑事拘留 on leaving the summons: the same moment
        measure = f"{suspect}-DET"
        emit(detained, "measure.started", measure=measure, kind="criminal_detention", person=suspect)
        slow = rng.random() < 0.06 or self.slow == "custody"
        emit(detained + timedelta(hours=rng.uniform(25, 30) if slow else rng.uniform(1, 16)), "document.issued",
             may_be_late=True, doc_type="custody_receipt", document_no=f"{ref}-SY", measure=measure)
        slow = rng.random() < 0.06
        emit(detained + timedelta(hours=rng.uniform(25, 36) if slow else rng.uniform(0.5, 20)), "document.issued",
             may_be_late=True, doc_type="family_notice", document_no=f"{ref}-TZ", measure=measure)
        emit(detained + timedelta(hours=rng.uniform(2, 20)), "document.issued", may_be_late=True,
             doc_type="interrogation_record", document_no=f"{ref}-XW", measure=measure)
        choice = 0.36 if self.slow == "arrest_request" else rng.random()
        if self.slow and self.slow != "arrest_request":
            choice = 0.9
        if choice < 0.1:  # released on bail
            out = detained + timedelta(days=rng.uniform(1, 2.8))
            emit(out, "measure.ended", may_be_late=True, measure=measure, reason="bail")
            emit(out, "measure.started", measure=f"{suspect}-BAIL", kind="bail", person=suspect)
            return
        investigating = max(filed, detained) + timedelta(hours=rng.uniform(2, 20))
        emit(investigating, "case.stage_changed", stage="investigating")
        if choice < 0.3:  # extended to 7 days (公安机关办理刑事案件程序规定 Art. 129), approval recorded
            emit(detained + timedelta(days=rng.uniform(1.5, 2.8)), "measure.extended", measure=measure,
                 limit="arrest_request", to="cpl_arrest_request_extended", approver="分局副局长 何建军",
                 document_no=f"{ref}-YC", article="公安机关办理刑事案件程序规定第129条")
            requested = detained + timedelta(days=rng.uniform(4, 6.8))
        elif choice < 0.38:  # slow: asked after 3 days, no extension
            requested = detained + timedelta(days=rng.uniform(3.1, 3.6))
        else:
            requested = detained + timedelta(days=rng.uniform(1.5, 2.9))
        requested = max(requested, investigating + timedelta(hours=1))
        emit(requested, "case.stage_changed", stage="arrest_requested")
        emit(requested, "document.issued", doc_type="arrest_request", document_no=f"{ref}-TQ", measure=measure)
        decided = requested + timedelta(days=rng.uniform(2, 6.8))
        if rng.random() < 0.8:
            emit(decided, "case.stage_changed", stage="arrest_approved")
            emit(decided, "measure.ended", measure=measure, reason="arrest")
            arrest = f"{suspect}-ARR"
            emit(decided, "measure.started", measure=arrest, kind="arrest", person=suspect)
            emit(decided + timedelta(hours=rng.uniform(1, 20)), "document.issued", may_be_late=True,
                 doc_type="family_notice", document_no=f"{ref}-DBTZ", measure=arrest)
            emit(decided + timedelta(hours=rng.uniform(2, 20)), "document.issued", may_be_late=True,
                 doc_type="interrogation_record", document_no=f"{ref}-DBXW", measure=arrest)
            emit(decided + timedelta(days=rng.uniform(20, 55)), "case.stage_changed", stage="prosecution_review")
        else:
            emit(decided, "case.stage_changed", stage="arrest_refused")
            emit(decided, "measure.ended", measure=measure, reason="released")
            emit(decided + timedelta(hours=1), "measure.started", measure=f"{suspect}-BAIL", kind="bail",
                 person=suspect)

    def _property(self, ref: str, at: datetime, emit: Callable[..., None], owner: str) -> None:
        rng = self.rng
        for n in range(rng.choice([1, 1, 1, 2, 3])):
            name, low, high = rng.choice(PROPERTY)
            item = f"W{n + 1}"
            officer = rng.choice(OFFICERS)
            emit(at, "property.moved", item=item, action="seize", description=name,
                 measure="frozen" if name == "银行卡" else "seized", value_fen=rng.randint(low, high) * 100 if high
                 else None, owner_name=self._name(), label_no=f"{ref}-{item}", to_holder=officer,
                 place="办案区临时存放柜")
            handed = at + timedelta(hours=rng.uniform(1, 20))
            emit(handed, "property.moved", item=item, action="transfer", from_holder=officer, to_holder=CUSTODIAN,
                 place="涉案财物管理中心")
            if rng.random() < 0.4:
                emit(handed + timedelta(days=rng.uniform(2, 12)), "property.moved", may_be_late=True, item=item,
                     action="return", from_holder=CUSTODIAN, to_holder=f"被害人 {self._name()}")

    def _administrative(self, handler: Handler, ref: str, at: datetime, emit: Callable[..., None]) -> None:
        rng = self.rng
        category, title = rng.choice(ADMIN)
        fast = rng.random() < 0.3
        emit(at, "case.opened", kind="administrative", unit_id=handler.unit.id, title=f"{self._name()}{title}案",
             case_no=f"{ref[1:9]}-{ref[-4:]}", category=category, officers=rng.sample(OFFICERS, 2),
             fast_track=fast, incident_no=f"J{ref[1:]}" if rng.random() < 0.8 else None,
             persons=[{"id": "P1", "role": "offender", "name": self._name()}])
        left = self._bring_in(handler, at + timedelta(minutes=rng.randint(10, 120)), emit, "P1", "questioning", 8,
                              slow=rng.random() < 0.03)
        if category in ("gambling", "drug_use") and rng.random() < 0.5:
            self._property(ref, at + timedelta(minutes=rng.randint(20, 120)), emit, "P1")
        if rng.random() < 0.1:
            emit(left + timedelta(hours=rng.uniform(2, 48)), "case.stage_changed", stage="not_punished")
            return
        emit(left, "case.stage_changed", stage="investigating")
        decided = left + (timedelta(hours=rng.uniform(2, 40) if rng.random() < 0.95 else rng.uniform(49, 60))
                          if fast else timedelta(days=rng.uniform(1, 25)))
        emit(decided, "case.stage_changed", stage="decided")
        if rng.random() < 0.4:
            detained = decided + timedelta(hours=1)
            days = rng.choice([3, 5, 7, 10])
            emit(detained, "measure.started", measure="P1-XJ", kind="administrative_detention", person="P1")
            emit(detained + timedelta(days=days), "measure.ended", may_be_late=True, measure="P1-XJ",
                 reason="served")
            emit(detained + timedelta(days=days), "case.stage_changed", stage="executed")
        else:
            emit(decided + timedelta(days=rng.uniform(0.1, 3)), "case.stage_changed", stage="executed")


@dataclass(order=True)
class Arrival:
    at: datetime
    seq: int
    sender: str = field(compare=False)
    event: Planned = field(compare=False)
    late: bool = field(compare=False, default=False)


def _tick(moment: datetime, minutes: int = 5) -> datetime:
    """The boundary platform forwards every five minutes: the next tick at or after ``moment``."""
    base = moment.replace(second=0, microsecond=0)
    extra = (-base.minute) % minutes
    if extra == 0 and moment > base:
        extra = minutes
    return base + timedelta(minutes=extra)


def arrivals(stream: Stream, rng: random.Random, end: datetime) -> tuple[list[Arrival], int]:
    """When each event reaches the centre: the next forwarding tick a few minutes after it happened;
    late ones hours after; duplicates sent again; a few broken ones. Only what has arrived by ``end``."""
    out: list[Arrival] = []
    seq = 0
    late = 0
    for sender, events in stream.by_sender.items():
        for planned in events:
            if planned.at > end:
                continue
            is_late = planned.may_be_late and rng.random() < LATE_SHARE / 0.4
            delay = timedelta(hours=rng.uniform(2, 20)) if is_late else timedelta(minutes=rng.uniform(1, 8))
            moment = _tick(planned.at + delay)
            if rng.random() < BAD_SHARE:  # a typo in the case system: a measure the record does not hold
                seq += 1
                broken = Planned(planned.at + timedelta(minutes=1), "measure.ended",
                                 {"case": planned.data["case"], "measure": "P1-SUMX"}, planned.event_id + "B")
                out.append(Arrival(moment, seq, sender, broken))
            for again in ([0] + ([1] if rng.random() < DUPLICATE_SHARE else [])):
                at = moment + timedelta(minutes=rng.choice([5, 10, 30, 60])) * again
                if at <= end:
                    seq += 1
                    out.append(Arrival(at, seq, sender, planned, is_late and not again))
                    late += 1 if is_late and not again else 0
    heapq.heapify(out)
    return out, late


# ---------------------------------------------------------------- set-up


def _handlers(engine: Engine, echo: Echo) -> list[Handler]:
    """The handling units (零陵区's demo stations; every county branch) and one case-system client per
    county branch, registered once."""
    with transaction(engine) as session:
        set_actor(session, system_actor("demo"))
        stations, _ = orgs.list_units(session, SYSTEM, limit=200, type_code="police_station")
        branches, _ = orgs.list_units(session, SYSTEM, limit=200, type_code="police_branch")
        stations = [u for u in stations if u.demo]
        branches = [u for u in branches if u.demo]
        clients = {c.org_unit_id: c for c in apiclients.all_clients(session, system_kind="police_case")
                   if c.name.startswith(CLIENT_PREFIX)}
        made = 0
        for branch in branches:
            if branch.id not in clients:
                client, _key = apiclients.create_client(
                    session, name=f"{CLIENT_PREFIX}{branch.name.removesuffix('（演示）')}", system_kind="police_case",
                    record_kinds=[supervision_routes.EVENT_KIND.code], created_by="demo", org_unit_id=branch.id,
                    contact="公安边界平台 / public-security boundary platform")
                clients[branch.id] = client
                made += 1
        by_county = {b.division_code: b for b in branches}
        handlers: list[Handler] = []
        for unit in stations:
            parent = by_county.get(unit.division_code)
            if parent is not None:
                handlers += [Handler(unit, clients[parent.id].id)] * 4  # stations handle most cases
        handlers += [Handler(b, clients[b.id].id) for b in branches]
        session.expunge_all()
    if made:
        echo(f"  {made} 个公安办案系统接入方 case-system API clients（演示）")
    return handlers


DEMO_ACCOUNTS = [  # username, role, display name, unit name (its division is the account's)
    ("supervision_centre", "supervision_centre_staff", "市执法监管中心 罗文（演示）", "永州市公安局（演示）"),
    ("lingling_legal", "police_legal_reviewer", "零陵分局法制大队 曾晖（演示）", "永州市公安局零陵区分局（演示）"),
    ("chaoyang_case_officer", "case_officer", "朝阳派出所办案民警 彭超（演示）", "朝阳派出所（演示）"),
]


def seed_accounts(engine: Engine) -> list[DemoLogin]:
    """The supervision roles' demo accounts (centre staff at the city bureau, the 零陵 legal reviewer,
    a 朝阳派出所 case officer), each a member of its unit; existing ones are kept."""
    logins: list[DemoLogin] = []
    with transaction(engine) as session:
        set_actor(session, system_actor("demo"))
        roles = {r.code: r for r in people.list_roles(session)}
        for username, role, display, unit_name in DEMO_ACCOUNTS:
            units, _ = orgs.list_units(session, SYSTEM, limit=5, search=unit_name)
            found = next((u for u in units if u.name == unit_name), None)
            if found is None or role not in roles:
                continue
            unit = found
            user = repository.user_named(session, username)
            if user is None:
                user = people.create_user(session, username=username, display_name=display, role=role,
                                          division_code=unit.division_code, password=DEMO_PASSWORD,
                                          must_change_password=True)
                orgs.set_membership(session, None, user, unit.id)
            logins.append(DemoLogin(username, role, people.role_name(roles[role], "zh-CN"), unit.division_code,
                                    unit_name, people.needs_second_factor(role, roles[role].permission_set)))
    return logins


def _case_count(engine: Engine) -> int:
    with transaction(engine, write=False) as session:
        return repository.supervision_case_count(session)


# ---------------------------------------------------------------- the replay


def _send(engine: Engine, client_id: str, batch: list[Planned], report: SupervisionReport) -> None:
    with transaction(engine) as session:
        client: ApiClient | None = repository.api_client(session, client_id)
        assert client is not None
        set_actor(session, Actor(f"apiclient:{client.id}"))  # as apiclients.service.authenticate does
        caller = ClientCaller(client, apiclients.client_principal(client))
        body = BatchBody(sender=client.id, events=[EventBody(event_id=p.event_id, kind=p.kind, at=p.at, data=p.data)
                                                   for p in batch])
        answer = supervision_routes.ingest_from_client(session, body, caller)
    report.batches += 1
    report.sent += len(batch)
    report.applied += answer.applied
    report.duplicates += answer.duplicates
    report.refused += answer.refused
    report.refusals += [f"{r.event_id}: {r.reason_en}" for r in answer.results if r.outcome == "refused"]


def _next_timer_due(engine: Engine) -> datetime | None:
    """When the earliest pending timer of a supervision clock falls due."""
    with transaction(engine, write=False) as session:
        return repository.next_timer_due_of(session, [WARN_KIND, DUE_KIND])


def _replay(engine: Engine, clock: FakeClock, queue: list[Arrival], end: datetime, report: SupervisionReport,
            echo: Echo) -> None:
    worker = TimerWorker(engine, worker_id="demo-supervision", lease_seconds=3600, kinds=[WARN_KIND, DUE_KIND])
    day = None
    while queue:
        moment = queue[0].at
        next_timer = _next_timer_due(engine)
        if next_timer is not None and next_timer < moment and next_timer > clock.now():
            clock.set(next_timer)
            fired = worker.run_due()
            report.timers_fired += fired
            if fired:
                continue
        clock.set(max(clock.now(), moment))
        report.timers_fired += worker.run_due()
        today = moment.astimezone(CHINA_TZ).date()
        if today != day:
            day = today
            echo(f"  {today.isoformat()} 已送达 {report.sent} 条事件 events sent")
        batches: dict[str, list[Planned]] = {}
        while queue and queue[0].at == moment:
            arrival = heapq.heappop(queue)
            batches.setdefault(arrival.sender, []).append(arrival.event)
        for sender, batch in batches.items():
            _send(engine, sender, batch, report)
    clock.set(max(clock.now(), end))
    report.timers_fired += worker.run_due()


def generate(engine: Engine, *, days: float = DEFAULT_DAYS, cases_per_day: float = DEFAULT_CASES_PER_DAY,
             seed: int = DEFAULT_SEED, end: datetime | None = None, echo: Echo = print) -> SupervisionReport:
    """Replay ``days`` of case handling ending at ``end`` (default: now) through the intake route of
    the case systems' API clients (module docstring); skipped when supervision cases exist. The
    clock is the real one again when this returns, also after an error."""
    began = time.monotonic()
    if _case_count(engine):
        return SupervisionReport(skipped=True)
    if days <= 0 or cases_per_day < 0:
        raise ValueError("days must be positive and cases_per_day not negative")
    handlers = _handlers(engine, echo)
    if not handlers:
        echo("  ! 没有演示公安机构（先运行 seed_org_units）/ no demo police units: skipped")
        return SupervisionReport(skipped=True)
    previous = get_clock()
    finish = (end or previous.now()).astimezone(UTC).replace(microsecond=0)
    start = finish - timedelta(days=days)
    rng = random.Random(seed)
    stream = Stream(rng, handlers, start, finish)
    cases = max(1, round(days * cases_per_day))
    for number in range(1, cases + 1):
        stream.case(number)
    queue, late = arrivals(stream, rng, finish)
    report = SupervisionReport(cases=cases, events=sum(len(v) for v in stream.by_sender.values()), late=late)
    echo(f"执法办案事件回放 supervision replay {start.astimezone(CHINA_TZ):%Y-%m-%d %H:%M} — "
         f"{finish.astimezone(CHINA_TZ):%Y-%m-%d %H:%M}: {cases} 起案件 cases, {len(queue)} 条送达 arrivals")
    fake = FakeClock(min([a.at for a in queue], default=start))
    set_clock(fake)
    try:
        _replay(engine, fake, queue, finish, report, echo)
    finally:
        set_clock(previous)
    with transaction(engine, write=False) as session:
        report.breaches, report.late_reports = repository.supervision_outcome(session)
    report.seconds = time.monotonic() - began
    for refusal in report.refusals[:5]:
        echo(f"  拒收 refused: {refusal}")
    return report
