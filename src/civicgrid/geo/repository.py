"""Every query of the geo domain. Reads that serve a caller take its jurisdiction prefix and
apply :func:`civicgrid.authz.scoping.scope_clause` (DESIGN.md rule 5); bulk reads without a
prefix serve imports, the grid index and other domains' services."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import scope_clause, visible
from civicgrid.geo.models import Division, GeoImport, Grid


def get_division(session: Session, code: str, prefix: str | None = None) -> Division | None:
    """One division, or None if missing or outside ``prefix``."""
    stmt = select(Division).where(Division.code == code)
    if prefix is not None:
        stmt = stmt.where(scope_clause(Division.code, prefix))
    return session.scalars(stmt).first()


def get_divisions(session: Session, codes: Iterable[str]) -> dict[str, Division]:
    """Divisions by code (no scoping: used to build a record's chain of ancestors)."""
    wanted = list(set(codes))
    if not wanted:
        return {}
    return {d.code: d for d in session.scalars(select(Division).where(Division.code.in_(wanted)))}


def children(session: Session, code: str, prefix: str) -> list[Division]:
    """Direct children of a division inside ``prefix``, by code."""
    stmt = (
        select(Division)
        .where(Division.parent_code == code, scope_clause(Division.code, prefix))
        .order_by(Division.code)
    )
    return list(session.scalars(stmt))


def hosted_children(session: Session, host_code: str, prefix: str) -> list[Division]:
    """Townships of statistical-only units that lie inside ``host_code``'s territory."""
    units = select(Division.code).where(Division.host_code == host_code)
    stmt = (
        select(Division)
        .where(Division.parent_code.in_(units), scope_clause(Division.code, prefix))
        .order_by(Division.code)
    )
    return list(session.scalars(stmt))


def child_counts(session: Session, codes: Sequence[str], prefix: str) -> dict[str, int]:
    """Number of in-scope child divisions of each code (villages: number of grids)."""
    if not codes:
        return {}
    rows = session.execute(
        select(Division.parent_code, func.count())
        .where(Division.parent_code.in_(codes), scope_clause(Division.code, prefix))
        .group_by(Division.parent_code)
    )
    counts = {parent: n for parent, n in rows if parent is not None}
    grid_rows = session.execute(
        select(Grid.village_code, func.count())
        .where(Grid.village_code.in_(codes), scope_clause(Grid.code, prefix))
        .group_by(Grid.village_code)
    )
    for village, n in grid_rows:
        counts[village] = counts.get(village, 0) + n
    return counts


def grids_of_village(session: Session, village_code: str, prefix: str) -> list[Grid]:
    stmt = (
        select(Grid)
        .where(Grid.village_code == village_code, scope_clause(Grid.code, prefix))
        .order_by(Grid.code)
    )
    return list(session.scalars(stmt))


def get_grid(session: Session, code: str, principal: Principal | None = None) -> Grid | None:
    """One grid, or None if missing or outside what ``principal`` may see (None: unscoped, for
    names and other services)."""
    stmt = select(Grid).where(Grid.code == code)
    if principal is not None:
        stmt = stmt.where(visible(Grid.code, principal))
    return session.scalars(stmt).first()


def all_divisions(session: Session) -> list[Division]:
    return list(session.scalars(select(Division).order_by(Division.code)))


def division_levels(session: Session) -> dict[str, str]:
    return {code: level for code, level in session.execute(select(Division.code, Division.level))}


def all_grid_shapes(session: Session) -> list[tuple[str, str]]:
    """(code, GeoJSON boundary) of every grid, for the in-memory index."""
    return [
        (code, boundary)
        for code, boundary in session.execute(select(Grid.code, Grid.boundary).order_by(Grid.code))
    ]


def grid_codes(session: Session) -> dict[str, bool]:
    """Every grid code → whether it is generated."""
    return {code: generated for code, generated in session.execute(select(Grid.code, Grid.generated))}


def count_by_level(session: Session, prefix: str | None = None) -> dict[str, int]:
    stmt = select(Division.level, func.count()).group_by(Division.level)
    if prefix is not None:
        stmt = stmt.where(scope_clause(Division.code, prefix))
    return {level: n for level, n in session.execute(stmt)}


def count_grids(session: Session, prefix: str | None = None) -> int:
    stmt = select(func.count()).select_from(Grid)
    if prefix is not None:
        stmt = stmt.where(scope_clause(Grid.code, prefix))
    return int(session.scalar(stmt) or 0)


def insert_divisions(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(Division), rows)


def update_divisions(session: Session, rows: list[dict[str, Any]]) -> None:
    """Bulk update by primary key (each dict holds ``code`` and the changed columns)."""
    if rows:
        session.execute(update(Division), rows)


def insert_grids(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(Grid), rows)


def update_grids(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(update(Grid), rows)


def delete_grids(session: Session, codes: Sequence[str]) -> None:
    for start in range(0, len(codes), 500):
        session.query(Grid).filter(Grid.code.in_(codes[start : start + 500])).delete(
            synchronize_session=False
        )


def add_import(session: Session, entry: GeoImport) -> None:
    session.add(entry)
    session.flush()


def latest_import_version(session: Session) -> str:
    """The version of the geography: the last import's seq and random id ("0" before any)."""
    row = session.execute(
        select(GeoImport.seq, GeoImport.import_id).order_by(GeoImport.seq.desc()).limit(1)
    ).first()
    return f"{row[0]}:{row[1]}" if row else "0"


def grid_points_in_box(session: Session, prefix: str,
                       box: tuple[float, float, float, float]) -> list[tuple[str, float, float]]:
    """(code, lng, lat) of the grids inside ``prefix`` whose representative point lies in the box
    (min_lng, min_lat, max_lng, max_lat): the candidates of a polygon snap."""
    x0, y0, x1, y1 = box
    stmt = (select(Grid.code, Grid.lng, Grid.lat)
            .where(scope_clause(Grid.code, prefix), Grid.lng.between(x0, x1), Grid.lat.between(y0, y1))
            .order_by(Grid.code))
    return [(code, float(lng), float(lat)) for code, lng, lat in session.execute(stmt)]


def grid_villages(session: Session, codes: Sequence[str], prefix: str) -> dict[str, str]:
    """Grid code → village code, for the given grids that exist inside ``prefix``."""
    out: dict[str, str] = {}
    wanted = sorted(set(codes))
    for start in range(0, len(wanted), 500):  # keep the IN list within every driver's limits
        chunk = wanted[start:start + 500]
        stmt = select(Grid.code, Grid.village_code).where(Grid.code.in_(chunk), scope_clause(Grid.code, prefix))
        out.update({code: village for code, village in session.execute(stmt)})
    return out


def grid_counts_by_village(session: Session, villages: Sequence[str]) -> dict[str, int]:
    """How many grids each of the given villages has."""
    out: dict[str, int] = {}
    wanted = sorted(set(villages))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        stmt = select(Grid.village_code, func.count()).where(Grid.village_code.in_(chunk)).group_by(Grid.village_code)
        out.update({village: int(n) for village, n in session.execute(stmt)})
    return out
