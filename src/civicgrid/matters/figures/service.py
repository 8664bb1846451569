"""Matter figures for any division and date range — definitions, upkeep and reads.

Definitions / 口径 (also in ``docs/figures.md``)
------------------------------------------------
Scope / 范围: a division code prefix (city 4311, county 431102, township 431102001, village
431102001001 or a 15-digit grid) and an inclusive range of local dates (Asia/Shanghai). A matter
belongs to a division by **where it happened** (its grid code), not by who owns it now, so an
escalated matter still counts for the village where it was reported. 按事发网格归属统计。

- received 受理数: matters reported (``reported_at``) in the range. 期内上报的事项数。
- void 不予受理/撤销: of those, now rejected or cancelled. 其中不予受理或已撤销的。
- closed 办结数: matters closed (status closed or evaluated, ``closed_at`` set) in the range.
  期内办结的事项数（状态为已办结或已评价）。
- closure rate 办结率 = received in the range that are closed now ÷ (received − void).
  A cohort figure: of what came in during the period, how much is done. 期内受理事项中已办结数
  ÷（期内上报数 − 不予受理/撤销数）。
- on-time closure rate 按期办结率 = closed in the range without any step ever running late
  (``overdue`` false) ÷ closed. 期内办结事项中未曾超期的比例。
- rework rate 返工率 = closed in the range with ``rework_count`` > 0 ÷ closed. 期内办结事项中
  曾被退回返工的比例。
- average handling time 平均办理时长 (hours) = mean of ``closed_at − dispatched_at`` over the
  matters closed in the range that were dispatched (whole seconds, then hours).
  期内办结且经过派遣的事项，派遣至办结的平均小时数。
- satisfaction 满意度 = mean of the 1–5 evaluations of matters closed in the range.
  期内办结事项评价分（1–5）的平均值。
- settled-level shares 化解层级占比 = closed in the range by ``settled_level`` ÷ closed:
  village 村级 (小事不出村), village + township 乡镇及以下 (大事不出乡镇), not city
  (矛盾不上交 = 1 − city share).

A rate whose denominator is zero is ``null`` (no data), never 0.

How they stay fast / 如何保持快速
--------------------------------
Counters per (local day, county / township / village) live in three rollup tables, changed by a
``before_flush`` listener on every ORM insert, update or delete of a :class:`Matter` (and by
:func:`count_inserted` for the intake, which inserts matters with Core), in the same
transaction: the old facts (attribute history) are subtracted, the new ones added, so a matter
that changes day, grid or state after the fact (reopened, re-evaluated, corrected) moves exactly.
A city-wide query sums the county table (13 × days rows). ``rebuild`` recomputes all three tables
from the matters table (``civicgrid figures rebuild``). Bulk ``UPDATE``/``DELETE`` statements on
matters would bypass the listener, so they are refused (run ``figures rebuild`` after any
out-of-band change made with raw SQL).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy import inspect as orm_inspect
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.orm import attributes as orm_attributes

from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import jurisdiction_prefix
from civicgrid.kit.clock import CHINA_TZ, utcnow
from civicgrid.kit.errors import Invalid
from civicgrid.kit.i18n import pick
from civicgrid.matters.figures import repository
from civicgrid.matters.figures.models import COUNTERS
from civicgrid.matters.figures.repository import (
    CLOSED_STATUSES,
    FACT_COLUMNS,
    SETTLED_LEVELS,
    VOID_STATUSES,
    WIDTHS,
    Key,
)
from civicgrid.matters.figures.schemas import (
    BreakdownRead,
    FiguresByChildren,
    FiguresRead,
    LevelRate,
    SettledShare,
    TrendRead,
    TypeFigures,
)
from civicgrid.matters.models import Matter

MAX_RANGE_DAYS = 3700
"""About ten years: longer ranges are refused rather than summed."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# ---------------------------------------------------------------- what one matter contributes


@dataclass(frozen=True)
class MatterFacts:
    """The values of one matter that the figures read."""

    grid_code: str | None
    status: str | None
    reported_at: datetime | None
    closed_at: datetime | None
    dispatched_at: datetime | None
    overdue: bool
    rework_count: int
    satisfaction: int | None
    settled_level: str | None

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> MatterFacts:
        # Column defaults (False, 0) are applied at INSERT; a new object may still hold None.
        return cls(
            grid_code=values.get("grid_code"),
            status=values.get("status"),
            reported_at=_aware(values.get("reported_at")),
            closed_at=_aware(values.get("closed_at")),
            dispatched_at=_aware(values.get("dispatched_at")),
            overdue=bool(values.get("overdue") or False),
            rework_count=int(values.get("rework_count") or 0),
            satisfaction=values.get("satisfaction"),
            settled_level=values.get("settled_level"),
        )

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES and self.closed_at is not None


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # raw SQLite text from load_facts
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def local_date(moment: datetime) -> date:
    """The Asia/Shanghai calendar day of a UTC moment."""
    return moment.astimezone(CHINA_TZ).date()


def _seconds(moment: datetime) -> int:
    # Whole seconds, floored per timestamp: the same arithmetic as the SQL side.
    return (moment - _EPOCH) // timedelta(seconds=1)


def contributions(facts: MatterFacts) -> dict[tuple[str, date], dict[str, int]]:
    """What one matter adds to the rollup: keyed by (grid code, local day)."""
    out: dict[tuple[str, date], dict[str, int]] = {}
    if not facts.grid_code or facts.reported_at is None:
        return out
    cohort = out.setdefault((facts.grid_code, local_date(facts.reported_at)), dict.fromkeys(COUNTERS, 0))
    cohort["received"] += 1
    cohort["received_void"] += int(facts.status in VOID_STATUSES)
    cohort["received_closed"] += int(facts.is_closed)
    if facts.is_closed and facts.closed_at is not None:
        outcome = out.setdefault((facts.grid_code, local_date(facts.closed_at)), dict.fromkeys(COUNTERS, 0))
        outcome["closed"] += 1
        outcome["closed_on_time"] += int(not facts.overdue)
        outcome["closed_reworked"] += int(facts.rework_count > 0)
        if facts.dispatched_at is not None:
            outcome["handled_count"] += 1
            outcome["handling_seconds"] += _seconds(facts.closed_at) - _seconds(facts.dispatched_at)
        if facts.satisfaction is not None:
            outcome["satisfaction_count"] += 1
            outcome["satisfaction_sum"] += int(facts.satisfaction)
        if facts.settled_level in SETTLED_LEVELS:
            outcome[f"settled_{facts.settled_level}"] += 1
    return out


def rollup_delta(old: MatterFacts | None, new: MatterFacts | None) -> dict[Key, dict[str, int]]:
    """The counter changes, per rollup row, of a matter going from ``old`` to ``new``
    (None: did not exist / no longer exists)."""
    deltas: dict[Key, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
    for facts, sign in ((old, -1), (new, 1)):
        if facts is None:
            continue
        for (grid, day), counters in contributions(facts).items():
            for width in WIDTHS:
                row = deltas[(width, grid[:width], day)]
                for name, value in counters.items():
                    row[name] += sign * value
    return {key: row for key, row in deltas.items() if any(row.values())}


def count_inserted(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Add matters written with a Core ``INSERT`` (the intake path) to the rollups, as the flush
    listener does for ORM inserts: one upsert per rollup table for all of them."""
    total: dict[Key, dict[str, int]] = {}
    for row in rows:
        _add(total, rollup_delta(None, MatterFacts.from_values(row)))
    if total:
        repository.apply_deltas(session.connection(), total)


def _add(total: dict[Key, dict[str, int]], delta: Mapping[Key, Mapping[str, int]]) -> None:
    for key, counters in delta.items():
        row = total.setdefault(key, dict.fromkeys(COUNTERS, 0))
        for name, value in counters.items():
            row[name] += value


# ---------------------------------------------------------------- the flush listener


def _old_and_new(session: Session, obj: Matter) -> tuple[MatterFacts, MatterFacts]:
    state = orm_inspect(obj)
    committed = state.committed_state
    unknown = any(
        name in state.unloaded or committed.get(name, None) is orm_attributes.NO_VALUE
        for name in FACT_COLUMNS
    )
    stored = repository.load_facts(session.connection(), obj.id) if unknown else None
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for name in FACT_COLUMNS:
        if stored is not None:
            old[name] = stored[name]
        else:
            old[name] = committed[name] if name in committed else state.dict.get(name)
        new[name] = state.dict[name] if name in state.dict else old[name]
    return MatterFacts.from_values(old), MatterFacts.from_values(new)


def _facts_now(obj: Matter) -> MatterFacts:
    return MatterFacts.from_values({name: orm_inspect(obj).dict.get(name) for name in FACT_COLUMNS})


def _touches_facts(obj: Matter) -> bool:
    state = orm_inspect(obj)
    return any(name in state.committed_state for name in FACT_COLUMNS)


def _before_flush(session: Session, _ctx: UOWTransaction, _instances: Any) -> None:
    total: dict[Key, dict[str, int]] = {}

    for obj in session.new:
        if isinstance(obj, Matter):
            _add(total, rollup_delta(None, _facts_now(obj)))
    for obj in session.dirty:
        if isinstance(obj, Matter) and _touches_facts(obj):
            old, new = _old_and_new(session, obj)
            if old != new:
                _add(total, rollup_delta(old, new))
    for obj in session.deleted:
        if isinstance(obj, Matter):
            old, _ = _old_and_new(session, obj)
            _add(total, rollup_delta(old, None))
    if total:
        repository.apply_deltas(session.connection(), total)


def _refuse_bulk_writes(state: ORMExecuteState) -> None:
    # A bulk UPDATE/DELETE on matters never passes through the unit of work, so the rollup
    # would silently drift; refusing it keeps the figures exact.
    if (state.is_update or state.is_delete) and state.bind_mapper is not None \
            and state.bind_mapper.class_ is Matter:
        raise RuntimeError("bulk UPDATE/DELETE of matters bypasses the matter figures rollup: "
                           "change Matter objects through the session instead")


def install() -> None:
    """Register the rollup listeners on every Session (idempotent)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "do_orm_execute", _refuse_bulk_writes)


install()


# ---------------------------------------------------------------- reads


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def to_figures(code: str, name: str | None, day_from: date, day_to: date,
               counters: Mapping[str, int]) -> FiguresRead:
    """Turn summed counters into the figures (the definitions in this module's docstring)."""
    c = {n: int(counters.get(n, 0)) for n in COUNTERS}
    closed = c["closed"]
    handled = c["handled_count"]
    return FiguresRead(
        division=code, name=name, date_from=day_from, date_to=day_to,
        received=c["received"], received_void=c["received_void"], received_closed=c["received_closed"],
        closed=closed, closed_on_time=c["closed_on_time"], closed_reworked=c["closed_reworked"],
        closure_rate=_rate(c["received_closed"], c["received"] - c["received_void"]),
        on_time_rate=_rate(c["closed_on_time"], closed),
        rework_rate=_rate(c["closed_reworked"], closed),
        avg_handling_hours=c["handling_seconds"] / handled / 3600 if handled else None,
        handled_count=handled,
        satisfaction=_rate(c["satisfaction_sum"], c["satisfaction_count"]),
        satisfaction_count=c["satisfaction_count"],
        not_rated=closed - c["satisfaction_count"],
        settled={lvl: SettledShare(count=c[f"settled_{lvl}"], share=_rate(c[f"settled_{lvl}"], closed))
                 for lvl in SETTLED_LEVELS},
        rates=level_rates(c),
    )


def level_rates(c: Mapping[str, int]) -> list[LevelRate]:
    """小事不出村, 大事不出乡镇 and 矛盾不上交 (docs/figures.md). The third needs what was carried
    above the city (to the province, to Beijing), which only petitions will record: until then it
    is not available — never 1 − the city's share, which would count a matter the city settled
    itself as "not carried up" and one it sent to the province as nothing at all."""
    closed = c["closed"]
    village = c["settled_village"]
    township = village + c["settled_township"]
    return [
        LevelRate(key="in_village", name=pick("小事不出村", "Small matters settled in the village"),
                  numerator=village, denominator=closed, rate=_rate(village, closed),
                  definition=pick("期内办结事项中在村（社区）一级化解的 ÷ 期内办结数",
                                  "closed in the range and settled at village level ÷ closed in the range")),
        LevelRate(key="in_township", name=pick("大事不出乡镇", "Larger matters settled in the township"),
                  numerator=township, denominator=closed, rate=_rate(township, closed),
                  definition=pick("期内办结事项中在村或乡镇（街道）一级化解的 ÷ 期内办结数",
                                  "closed in the range and settled at village or township level ÷ closed")),
        LevelRate(key="not_escalated", name=pick("矛盾不上交", "Disputes kept inside the city"),
                  numerator=None, denominator=None, rate=None, available=False,
                  definition=pick("在本市化解、未上交省和北京的 ÷ 全部；"
                                  "须信访模块记录上交省、京的事项后方可计算，暂不提供",
                                  "settled inside the city, not carried to the province or Beijing ÷ all; not "
                                  "available until the petitions module records what was carried up")),
    ]


def trend(session: Session, principal: Principal, code: str, day_from: date | None = None,
          day_to: date | None = None, step: str = "week") -> TrendRead:
    """The figures of a division per week (Monday–Sunday) or calendar month over the range (the
    first and last periods cut to it); at most 120 periods."""
    start, end = _check_range(day_from, day_to)
    prefix, name = _resolve(session, principal, code)
    periods: list[FiguresRead] = []
    first = start
    while first <= end:
        if step == "month":
            following = (first.replace(day=1) + timedelta(days=32)).replace(day=1)
        else:
            following = first + timedelta(days=7 - first.weekday())
        last = min(following - timedelta(days=1), end)
        periods.append(to_figures(code, name, first, last,
                                  figures_for_prefix(session, prefix, first, last, principal=principal)))
        if len(periods) > 120:
            raise Invalid("时间段过多（最多 120 个），请缩短范围或按月查看",
                          "Too many periods (at most 120): shorten the range or step by month",
                          details={"field": "step"})
        first = last + timedelta(days=1)
    return TrendRead(division=code, name=name, step=step, periods=periods)


def breakdown(session: Session, principal: Principal, code: str, day_from: date | None = None,
              day_to: date | None = None) -> BreakdownRead:
    """The division's matters by category and type over the range."""
    start, end = _check_range(day_from, day_to)
    prefix, name = _resolve(session, principal, code)
    rows = repository.breakdown(session, prefix, start, end, principal=principal)
    return BreakdownRead(division=code, name=name, date_from=start, date_to=end, types=[
        TypeFigures(category=r["category"], category_name=pick(r["category_zh"], r["category_en"]),
                    type_code=r["type_code"], type_name=pick(r["name_zh"], r["name_en"]),
                    received=int(r["received"]), closed=int(r["closed"]), on_time=int(r["on_time"]),
                    overdue_open=int(r["overdue_open"])) for r in rows])


def figures_for_prefix(session: Session, prefix: str, day_from: date, day_to: date, *,
                       source: str = "rollup", principal: Principal | None = None) -> dict[str, int]:
    """The summed counters of one prefix and range, from the rollup (default) or the raw rows, of
    what ``principal`` may see (``None``: the system — the command line, the simulator, the bench)."""
    if source == "raw":
        sums = repository.sum_raw(session, prefix, day_from, day_to, principal=principal)
    else:
        sums = repository.sum_for(session, prefix, day_from, day_to, principal=principal)
    return sums.get("", dict.fromkeys(COUNTERS, 0))


def _check_range(day_from: date | None, day_to: date | None) -> tuple[date, date]:
    today = local_date(utcnow())
    end = day_to or today
    start = day_from or end.replace(day=1)
    if start > end:
        raise Invalid("起始日期晚于截止日期", "'from' is after 'to'", details={"field": "from"})
    if (end - start).days > MAX_RANGE_DAYS:
        raise Invalid("日期范围过长（最多约十年）", "Date range too long (about ten years at most)",
                      details={"field": "from"})
    return start, end


def _resolve(session: Session, principal: Principal, code: str) -> tuple[str, str | None]:
    """The prefix and name of a division or grid the caller governs (404 otherwise)."""
    from civicgrid.geo import service as geo

    if len(code) == 15:
        grid = geo.get_grid(session, principal, code)
        return code, grid.name
    division = geo.get_division(session, principal, code)
    return jurisdiction_prefix(code), division.name


def matter_figures(session: Session, principal: Principal, code: str,
                   day_from: date | None = None, day_to: date | None = None) -> FiguresRead:
    """The figures of one division (or grid) the caller governs over an inclusive range of local
    dates (default: this month to date). 404 for a division outside the caller's jurisdiction."""
    start, end = _check_range(day_from, day_to)
    prefix, name = _resolve(session, principal, code)
    return to_figures(code, name, start, end, figures_for_prefix(session, prefix, start, end, principal=principal))


def matter_figures_by_children(session: Session, principal: Principal, code: str,
                               day_from: date | None = None, day_to: date | None = None) -> FiguresByChildren:
    """The figures of a division and of each child division in the caller's jurisdiction
    (city → counties → townships → villages → grids), children with no matters included as zeros."""
    from civicgrid.geo import service as geo

    start, end = _check_range(day_from, day_to)
    prefix, name = _resolve(session, principal, code)
    parent = to_figures(code, name, start, end, figures_for_prefix(session, prefix, start, end, principal=principal))
    width = repository.child_width(len(prefix))
    if width is None:
        return FiguresByChildren(division=parent, children=[])
    sums = repository.sum_for(session, prefix, start, end, group_width=width, principal=principal)
    kids: list[tuple[str, str | None, str]]
    if width == 15:  # a village's grids: those with matters in the range
        kids = [(grid, geo.name_of(session, grid), grid) for grid in sorted(sums)]
    else:
        kids = [(d.code, d.name, jurisdiction_prefix(d.code)) for d in geo.list_children(session, principal, code)]
    known = {key for _, _, key in kids}
    # Matters in a code the division tree does not list (e.g. a grid added later) still count.
    kids += [(key, None, key) for key in sorted(sums) if key not in known and key.startswith(principal.jurisdiction)]
    children = [to_figures(kid_code, kid_name, start, end, sums.get(key, dict.fromkeys(COUNTERS, 0)))
                for kid_code, kid_name, key in kids]
    return FiguresByChildren(division=parent, children=children)


def rebuild(session: Session) -> dict[str, int]:
    """Recompute every rollup table from the matters table (one INSERT … SELECT … GROUP BY
    each); returns the rows written per table."""
    return repository.rebuild(session)
