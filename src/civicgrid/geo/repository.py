"""Every query of the geo domain. Reads that serve a caller take its principal and apply
:func:`civicgrid.authz.scoping.visible` (DESIGN.md rule 5); reads that serve imports, the grid
index, the cached map outlines and the names shown beside a record the caller already sees act for
the system and say so with :func:`civicgrid.authz.scoping.unscoped`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import scope_clause, unscoped, visible
from civicgrid.geo.models import Division, GeoImport, Grid


def _for_names() -> ColumnElement[bool]:
    return unscoped("names and ancestors shown beside a record the caller already sees")


def _for_maps() -> ColumnElement[bool]:
    return unscoped("map outlines are cached for every caller; geo.service keeps those the caller governs")


def _for_imports() -> ColumnElement[bool]:
    return unscoped("imports and the grid index act for the system")


def get_division(session: Session, code: str, principal: Principal) -> Division | None:
    """One division, or None if missing or not visible to ``principal``."""
    return session.scalars(select(Division).where(Division.code == code, visible(Division.code, principal))).first()


def division_by_code(session: Session, code: str) -> Division | None:
    """One division by code, for its name and parent (no caller: see :func:`_for_names`)."""
    return session.scalars(select(Division).where(Division.code == code, _for_names())).first()


def get_divisions(session: Session, codes: Iterable[str]) -> dict[str, Division]:
    """Divisions by code (names and chains of ancestors; imports)."""
    wanted = list(set(codes))
    if not wanted:
        return {}
    return {d.code: d for d in session.scalars(select(Division).where(Division.code.in_(wanted), _for_names()))}


def children(session: Session, code: str, principal: Principal) -> list[Division]:
    """Direct children of a division that ``principal`` may see, by code."""
    stmt = select(Division).where(Division.parent_code == code, visible(Division.code, principal))
    return list(session.scalars(stmt.order_by(Division.code)))


def map_children(session: Session, code: str) -> list[Division]:
    """Every direct child of a division, for the cached map outlines."""
    stmt = select(Division).where(Division.parent_code == code, _for_maps())
    return list(session.scalars(stmt.order_by(Division.code)))


def map_hosted_children(session: Session, host_code: str) -> list[Division]:
    """Townships of statistical-only units that lie inside ``host_code``'s territory (map outlines)."""
    units = select(Division.code).where(Division.host_code == host_code)
    stmt = select(Division).where(Division.parent_code.in_(units), _for_maps()).order_by(Division.code)
    return list(session.scalars(stmt))


def child_counts(session: Session, codes: Sequence[str], principal: Principal) -> dict[str, int]:
    """Number of child divisions of each code that ``principal`` may see (villages: grids)."""
    if not codes:
        return {}
    rows = session.execute(
        select(Division.parent_code, func.count())
        .where(Division.parent_code.in_(codes), visible(Division.code, principal))
        .group_by(Division.parent_code)
    )
    counts = {parent: n for parent, n in rows if parent is not None}
    grid_rows = session.execute(
        select(Grid.village_code, func.count())
        .where(Grid.village_code.in_(codes), visible(Grid.code, principal))
        .group_by(Grid.village_code)
    )
    for village, n in grid_rows:
        counts[village] = counts.get(village, 0) + n
    return counts


def map_grids_of_village(session: Session, village_code: str) -> list[Grid]:
    """Every grid of a village, for the cached map outlines."""
    stmt = select(Grid).where(Grid.village_code == village_code, _for_maps()).order_by(Grid.code)
    return list(session.scalars(stmt))


def get_grid(session: Session, code: str, principal: Principal) -> Grid | None:
    """One grid, or None if missing or not visible to ``principal``."""
    return session.scalars(select(Grid).where(Grid.code == code, visible(Grid.code, principal))).first()


def grid_by_code(session: Session, code: str) -> Grid | None:
    """One grid by code, for its name (no caller: see :func:`_for_names`)."""
    return session.scalars(select(Grid).where(Grid.code == code, _for_names())).first()


def grids_by_codes(session: Session, codes: Sequence[str]) -> list[Grid]:
    """Grids by code, 500 at a time (imports)."""
    out: list[Grid] = []
    for start in range(0, len(codes), 500):
        out += list(session.scalars(select(Grid).where(Grid.code.in_(codes[start : start + 500]), _for_imports())))
    return out


def all_divisions(session: Session) -> list[Division]:
    return list(session.scalars(select(Division).where(_for_imports()).order_by(Division.code)))


def division_levels(session: Session) -> dict[str, str]:
    return {code: level for code, level in session.execute(select(Division.code, Division.level)
                                                           .where(_for_imports()))}


def all_grid_shapes(session: Session) -> list[tuple[str, str]]:
    """(code, GeoJSON boundary) of every grid, for the in-memory index."""
    return [
        (code, boundary)
        for code, boundary in session.execute(select(Grid.code, Grid.boundary).where(_for_imports())
                                              .order_by(Grid.code))
    ]


def grid_codes(session: Session) -> dict[str, bool]:
    """Every grid code → whether it is generated."""
    return {code: generated for code, generated in session.execute(select(Grid.code, Grid.generated)
                                                                   .where(_for_imports()))}


def count_by_level(session: Session, principal: Principal) -> dict[str, int]:
    """How many divisions of each level ``principal`` may see."""
    stmt = select(Division.level, func.count()).where(visible(Division.code, principal)).group_by(Division.level)
    return {level: n for level, n in session.execute(stmt)}


def count_grids(session: Session, principal: Principal) -> int:
    """How many grids ``principal`` may see."""
    return int(session.scalar(select(func.count()).select_from(Grid).where(visible(Grid.code, principal))) or 0)


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
        session.execute(delete(Grid).where(Grid.code.in_(codes[start : start + 500])))


def add_import(session: Session, entry: GeoImport) -> None:
    session.add(entry)
    session.flush()


def latest_import_version(session: Session) -> str:
    """The version of the geography: the last import's seq and random id ("0" before any)."""
    row = session.execute(
        select(GeoImport.seq, GeoImport.import_id).order_by(GeoImport.seq.desc()).limit(1)
    ).first()
    return f"{row[0]}:{row[1]}" if row else "0"


_FOR_AREAS = "a unit's area is checked against the grids of the unit's own division, which its caller may see"


def grid_points_in_box(session: Session, prefix: str,
                       box: tuple[float, float, float, float]) -> list[tuple[str, float, float]]:
    """(code, lng, lat) of the grids inside ``prefix`` whose representative point lies in the box
    (min_lng, min_lat, max_lng, max_lat): the candidates of a polygon snap."""
    x0, y0, x1, y1 = box
    stmt = (select(Grid.code, Grid.lng, Grid.lat)
            .where(scope_clause(Grid.code, prefix), Grid.lng.between(x0, x1), Grid.lat.between(y0, y1),
                   unscoped(_FOR_AREAS))
            .order_by(Grid.code))
    return [(code, float(lng), float(lat)) for code, lng, lat in session.execute(stmt)]


def grid_villages(session: Session, codes: Sequence[str], prefix: str) -> dict[str, str]:
    """Grid code → village code, for the given grids that exist inside ``prefix``."""
    out: dict[str, str] = {}
    wanted = sorted(set(codes))
    for start in range(0, len(wanted), 500):  # keep the IN list within every driver's limits
        chunk = wanted[start:start + 500]
        stmt = select(Grid.code, Grid.village_code).where(Grid.code.in_(chunk), scope_clause(Grid.code, prefix),
                                                          unscoped(_FOR_AREAS))
        out.update({code: village for code, village in session.execute(stmt)})
    return out


def grid_counts_by_village(session: Session, villages: Sequence[str]) -> dict[str, int]:
    """How many grids each of the given villages has."""
    out: dict[str, int] = {}
    wanted = sorted(set(villages))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        stmt = (select(Grid.village_code, func.count()).where(Grid.village_code.in_(chunk), unscoped(_FOR_AREAS))
                .group_by(Grid.village_code))
        out.update({village: int(n) for village, n in session.execute(stmt)})
    return out
