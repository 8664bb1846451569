"""Every query of the matter figures: rollup upserts, rollup sums, the raw GROUP BY, the rebuild.

The rollup tables hold one row per (division code, local day) at three widths (county 6,
township 9, village 12 digits of the grid code). Counters are changed only by additive upserts
(``INSERT … ON CONFLICT DO UPDATE SET c = c + excluded.c``) so concurrent transactions never lose
an increment; rows are written in sorted key order so two transactions lock them in the same
order and cannot deadlock each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Date,
    Integer,
    and_,
    case,
    cast,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import scope_clause, unscoped, visible
from civicgrid.kit.clock import CHINA_TZ
from civicgrid.kit.statements import DriverStatement
from civicgrid.matters.figures.models import COUNTERS, ROLLUPS, CountyFigures, TownshipFigures, VillageFigures
from civicgrid.matters.models import Matter

CLOSED_STATUSES: tuple[str, ...] = ("closed", "evaluated")
"""A matter counts as closed (办结) while its status is one of these and ``closed_at`` is set."""
VOID_STATUSES: tuple[str, ...] = ("rejected", "cancelled", "handed_back", "handed_off")
"""Reports that were not taken up here (不予受理 / 撤销 / 退回热线 / 移交矛盾纠纷 — a hand-off counts as
a dispute): outside the closure-rate denominator."""
SETTLED_LEVELS: tuple[str, ...] = ("village", "township", "county", "city")
FINISHED_STATUSES: tuple[str, ...] = (*CLOSED_STATUSES, *VOID_STATUSES, "merged")
WIDTHS: tuple[int, ...] = (6, 9, 12)
"""Code widths that have a rollup table, coarsest first (also the lock order of upserts)."""

Key = tuple[int, str, date]
"""(code width, code, local day) of one rollup row."""

FACT_COLUMNS: tuple[str, ...] = (
    "grid_code", "status", "reported_at", "closed_at", "dispatched_at",
    "overdue", "rework_count", "satisfaction", "settled_level",
)
"""The matter columns the figures read; a change to any other column leaves them alone."""


# ---------------------------------------------------------------- incremental maintenance


def _upsert_statement(dialect: str, model: type[Any]) -> Any:
    """``INSERT … ON CONFLICT DO UPDATE SET c = c + excluded.c`` of one rollup table."""
    table = model.__table__
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:  # pragma: no cover - the two supported databases
        raise RuntimeError(f"matter figures need SQLite or PostgreSQL, not {dialect}")
    return stmt.on_conflict_do_update(
        index_elements=[table.c.code, table.c.day],
        set_={name: table.c[name] + stmt.excluded[name] for name in COUNTERS},
    )


# Every write that moves a matter runs these: compiled once per table and dialect, executed on
# the driver with a list of rows (kit.statements).
_UPSERTS: dict[str, DriverStatement] = {}


def _upsert(conn: Connection, model: type[Any], rows: list[dict[str, Any]]) -> None:
    stmt = _UPSERTS.get(model.__tablename__)
    if stmt is None:
        stmt = _UPSERTS[model.__tablename__] = DriverStatement(
            lambda dialect: _upsert_statement(dialect, model), keys=["code", "day", *COUNTERS])
    stmt.executemany(conn, rows)


def apply_deltas(conn: Connection, deltas: Mapping[Key, Mapping[str, int]]) -> None:
    """Add counter deltas to the rollup rows (creating missing rows), in sorted key order."""
    by_width: dict[int, list[dict[str, Any]]] = {w: [] for w in WIDTHS}
    for (width, code, day) in sorted(deltas):
        counters = deltas[(width, code, day)]
        if not any(counters.values()):
            continue
        by_width[width].append({"code": code, "day": day, **{n: counters.get(n, 0) for n in COUNTERS}})
    for width in WIDTHS:
        if by_width[width]:
            _upsert(conn, ROLLUPS[width], by_width[width])


def load_facts(conn: Connection, matter_id: str) -> dict[str, Any] | None:
    """The stored fact columns of one matter (as of the last flush), for a change whose old
    values the session never loaded."""
    cols = [Matter.__table__.c[name] for name in FACT_COLUMNS]
    row = conn.execute(select(*cols).where(Matter.__table__.c.id == matter_id,
                                           unscoped("the rollups' own bookkeeping of a change"))).mappings().first()
    return dict(row) if row is not None else None


# ---------------------------------------------------------------- SQL expressions


def local_day(column: Any, dialect: str) -> ColumnElement[Any]:
    """The Asia/Shanghai calendar day of a UTC timestamp column, in SQL.

    China has kept UTC+8 without daylight saving since 1991, so SQLite adds 8 hours; PostgreSQL
    converts with the zone name.
    """
    if dialect == "postgresql":
        return cast(func.timezone(literal(str(CHINA_TZ)), column), Date)
    return func.date(column, "+8 hours")


def epoch_seconds(column: Any, dialect: str) -> ColumnElement[Any]:
    """Whole seconds since 1970 (floor) of a UTC timestamp column, in SQL."""
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", column)), BigInteger)
    return cast(func.strftime("%s", column), BigInteger)


def _is_closed() -> ColumnElement[bool]:
    return and_(Matter.status.in_(CLOSED_STATUSES), Matter.closed_at.is_not(None))


def _flag(condition: ColumnElement[bool], value: Any = 1) -> ColumnElement[Any]:
    return case((condition, value), else_=0)


def _seen_by(column: Any, principal: Principal | None) -> ColumnElement[bool]:
    """What ``principal`` may see of a code column; ``None`` is the system (the command line, the
    simulator, the bench), which sees every row."""
    if principal is None:
        return unscoped("figures for the command line, the simulator and the bench")
    return visible(column, principal)


# ---------------------------------------------------------------- reads


def sum_rollup(session: Session, width: int, prefix: str, day_from: date, day_to: date,
               group_width: int | None = None, *, principal: Principal | None) -> dict[str, dict[str, int]]:
    """Counter sums of the rollup at ``width`` over ``code LIKE prefix%`` (and what ``principal``
    may see) and the inclusive day range; grouped by the first ``group_width`` digits of the code
    (``""`` when not grouped)."""
    model = ROLLUPS[width]
    table = model.__table__
    group = func.substr(table.c.code, 1, group_width) if group_width else literal("")
    sums = [func.coalesce(func.sum(table.c[n]), 0).label(n) for n in COUNTERS]
    stmt = (select(group.label("grp"), *sums)
            .where(scope_clause(table.c.code, prefix), _seen_by(table.c.code, principal),
                   table.c.day >= day_from, table.c.day <= day_to)
            .group_by(group))
    return {str(row["grp"]): {n: int(row[n]) for n in COUNTERS} for row in session.execute(stmt).mappings()}


def utc_bounds(day_from: date, day_to: date) -> tuple[datetime, datetime]:
    """[start, end) in UTC of an inclusive range of Asia/Shanghai days."""
    start = datetime.combine(day_from, datetime.min.time(), CHINA_TZ)
    end = datetime.combine(day_to + timedelta(days=1), datetime.min.time(), CHINA_TZ)
    return start, end


def sum_raw(session: Session, prefix: str, day_from: date, day_to: date,
            group_width: int | None = None, *, principal: Principal | None) -> dict[str, dict[str, int]]:
    """The same counters straight from the matters table: one plain aggregate over the rows
    reported or closed in the range (the rollup's reference, and the path for grid prefixes)."""
    dialect = session.get_bind().dialect.name
    start, end = utc_bounds(day_from, day_to)
    reported_in = and_(Matter.reported_at >= start, Matter.reported_at < end)
    closed_in = and_(_is_closed(), Matter.closed_at >= start, Matter.closed_at < end)
    dispatched = and_(closed_in, Matter.dispatched_at.is_not(None))
    rated = and_(closed_in, Matter.satisfaction.is_not(None))
    seconds = epoch_seconds(Matter.closed_at, dialect) - epoch_seconds(Matter.dispatched_at, dialect)
    exprs: dict[str, ColumnElement[Any]] = {
        "received": _flag(reported_in),
        "received_void": _flag(and_(reported_in, Matter.status.in_(VOID_STATUSES))),
        "received_closed": _flag(and_(reported_in, _is_closed())),
        "closed": _flag(closed_in),
        "closed_on_time": _flag(and_(closed_in, Matter.overdue == false())),
        "closed_reworked": _flag(and_(closed_in, Matter.rework_count > 0)),
        "handled_count": _flag(dispatched),
        "satisfaction_count": _flag(rated),
        "satisfaction_sum": _flag(rated, Matter.satisfaction),
        **{f"settled_{lvl}": _flag(and_(closed_in, Matter.settled_level == lvl)) for lvl in SETTLED_LEVELS},
        "handling_seconds": _flag(dispatched, seconds),
    }
    group = func.substr(Matter.grid_code, 1, group_width) if group_width else literal("")
    stmt = (select(group.label("grp"), *[func.coalesce(func.sum(exprs[n]), 0).label(n) for n in COUNTERS])
            .where(scope_clause(Matter.grid_code, prefix), _seen_by(Matter.grid_code, principal),
                   or_(reported_in, closed_in))
            .group_by(group))
    return {str(row["grp"]): {n: int(row[n]) for n in COUNTERS} for row in session.execute(stmt).mappings()}


def rollup_rows(session: Session, width: int) -> dict[tuple[str, date], dict[str, int]]:
    """Every non-zero row of one rollup table (for checks and tests)."""
    table = ROLLUPS[width].__table__
    out: dict[tuple[str, date], dict[str, int]] = {}
    for row in session.execute(select(table).where(unscoped("checks and tests"))).mappings():
        counters = {n: int(row[n]) for n in COUNTERS}
        if any(counters.values()):
            day = row["day"] if isinstance(row["day"], date) else date.fromisoformat(str(row["day"]))
            out[(str(row["code"]), day)] = counters
    return out


# ---------------------------------------------------------------- rebuild from the raw table


def _village_select(dialect: str) -> Any:
    """Village rollup rows computed from the matters table: each matter counts once on its
    reported day (cohort counters) and, when closed, once on its closed day."""
    code = func.substr(Matter.grid_code, 1, 12)
    closed = _is_closed()
    zero = literal(0)
    cohort = select(
        code.label("code"), local_day(Matter.reported_at, dialect).label("day"),
        literal(1).label("received"),
        _flag(Matter.status.in_(VOID_STATUSES)).label("received_void"),
        _flag(closed).label("received_closed"),
        *[zero.label(n) for n in COUNTERS[3:]],
    ).where(unscoped("rebuild recomputes every rollup from every matter"))
    seconds = epoch_seconds(Matter.closed_at, dialect) - epoch_seconds(Matter.dispatched_at, dialect)
    has_dispatch = Matter.dispatched_at.is_not(None)
    rated = Matter.satisfaction.is_not(None)
    outcome = select(
        code.label("code"), local_day(Matter.closed_at, dialect).label("day"),
        zero.label("received"), zero.label("received_void"), zero.label("received_closed"),
        literal(1).label("closed"),
        _flag(Matter.overdue == false()).label("closed_on_time"),
        _flag(Matter.rework_count > 0).label("closed_reworked"),
        _flag(has_dispatch).label("handled_count"),
        _flag(rated).label("satisfaction_count"),
        _flag(rated, Matter.satisfaction).label("satisfaction_sum"),
        *[_flag(Matter.settled_level == lvl).label(f"settled_{lvl}") for lvl in SETTLED_LEVELS],
        _flag(has_dispatch, seconds).label("handling_seconds"),
    ).where(closed, unscoped("rebuild recomputes every rollup from every matter"))
    both = union_all(cohort, outcome).subquery("contributions")
    return (select(both.c.code, both.c.day, *[cast(func.sum(both.c[n]), BigInteger if n == "handling_seconds"
                                                     else Integer).label(n) for n in COUNTERS])
            .group_by(both.c.code, both.c.day))


def _coarser_select(source: type[Any], width: int) -> Any:
    table = source.__table__
    code = func.substr(table.c.code, 1, width)
    return (select(code.label("code"), table.c.day, *[func.sum(table.c[n]).label(n) for n in COUNTERS])
            .group_by(code, table.c.day))


def rebuild(session: Session) -> dict[str, int]:
    """Empty the three rollup tables and refill them from the matters table with one
    INSERT … SELECT … GROUP BY each (village from the raw rows, township from village, county
    from township). Returns the row count of each table."""
    conn = session.connection()
    dialect = conn.dialect.name
    names = ["code", "day", *COUNTERS]
    for model in (CountyFigures, TownshipFigures, VillageFigures):
        conn.execute(delete(model))
    conn.execute(insert(VillageFigures).from_select(names, _village_select(dialect)))
    conn.execute(insert(TownshipFigures).from_select(names, _coarser_select(VillageFigures, 9)))
    conn.execute(insert(CountyFigures).from_select(names, _coarser_select(TownshipFigures, 6)))
    counts: dict[str, int] = {}
    for model in (CountyFigures, TownshipFigures, VillageFigures):
        counts[model.__tablename__] = int(conn.execute(select(func.count()).select_from(model.__table__)
                                                       .where(unscoped("rebuild reports what it wrote"))).scalar_one())
    return counts


def rollup_width(prefix: str) -> int | None:
    """The finest-grained rollup table that still covers a prefix: county table for a province,
    city or county, township table for a township, village table for a village; None for a grid
    (a grid's few matters are summed from the raw rows)."""
    for width in WIDTHS:
        if len(prefix) <= width:
            return width
    return None


def sum_for(session: Session, prefix: str, day_from: date, day_to: date,
            group_width: int | None = None, *, principal: Principal | None) -> dict[str, dict[str, int]]:
    """Counter sums from the right source for a prefix (rollup, or raw rows below a village)."""
    width = rollup_width(prefix)
    if group_width is not None and group_width > WIDTHS[-1]:
        width = None
    if width is not None and group_width is not None:
        width = max(width, group_width)
    if width is None:
        return sum_raw(session, prefix, day_from, day_to, group_width, principal=principal)
    return sum_rollup(session, width, prefix, day_from, day_to, group_width, principal=principal)


def child_width(prefix_len: int) -> int | None:
    """The code width of the children of a prefix: city → county (6) → township (9) → village
    (12) → grid (15); a grid has none."""
    for width in (4, *WIDTHS, 15):
        if prefix_len < width:
            return width
    return None


def breakdown(session: Session, prefix: str, day_from: date, day_to: date, *,
              principal: Principal | None) -> list[dict[str, Any]]:
    """Per matter type (with its category): received in the range, closed in the range, closed on
    time, and open now that ran late — straight from the matters table (the rollups have no type)."""
    from civicgrid.matters.models import MatterType

    start, end = utc_bounds(day_from, day_to)
    reported_in = and_(Matter.reported_at >= start, Matter.reported_at < end)
    closed_in = and_(_is_closed(), Matter.closed_at >= start, Matter.closed_at < end)
    late_open = and_(reported_in, Matter.overdue == true(), Matter.status.not_in(FINISHED_STATUSES))
    stmt = (select(MatterType.category, MatterType.category_zh, MatterType.category_en, Matter.type_code,
                   MatterType.name_zh, MatterType.name_en,
                   func.coalesce(func.sum(_flag(reported_in)), 0).label("received"),
                   func.coalesce(func.sum(_flag(closed_in)), 0).label("closed"),
                   func.coalesce(func.sum(_flag(and_(closed_in, Matter.overdue == false()))), 0).label("on_time"),
                   func.coalesce(func.sum(_flag(late_open)), 0).label("overdue_open"))
            .join(MatterType, MatterType.id == Matter.type_id)
            .where(scope_clause(Matter.grid_code, prefix), _seen_by(Matter.grid_code, principal),
                   or_(reported_in, closed_in))
            .group_by(MatterType.category, MatterType.category_zh, MatterType.category_en, Matter.type_code,
                      MatterType.name_zh, MatterType.name_en)
            .order_by(MatterType.category, Matter.type_code))
    return [dict(row) for row in session.execute(stmt).mappings()]
