"""Jurisdiction: a division-code prefix (DESIGN.md rule 6), applied by every repository query.

Which tables are scoped is declared on the model: ``__scope_column__ = "division_code"`` (the
column holding the row's division or grid code). A model carrying a division or grid code that
is deliberately not scoped says why in ``__unscoped__``. Every repository function that reads a
scoped model applies :func:`visible` with the caller's principal, or, for a read that acts for the
system (timer handlers, the intake's routing, imports, the demo), :func:`unscoped` with a reason.
``tools/lint/scoped_queries.py`` enforces both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, literal, or_, select, table, true
from sqlalchemy import column as sql_column

from civicgrid.authz.principal import Principal

CITY_PREFIX_LEN = 4


def jurisdiction_prefix(code: str) -> str:
    """The prefix a 12-digit division code (or a 15-digit grid code) governs.

    431100000000 → 4311 (city), 431102000000 → 431102 (county), 431102001000 → 431102001
    (township), 431102001001 → 431102001001 (village); a 15-digit grid code is its own prefix.
    A 2-digit province code ``430000000000`` → ``43``.
    """
    if not code.isdigit() or len(code) not in (12, 15):
        raise ValueError(f"not a division or grid code: {code!r}")
    if len(code) == 15:
        return code
    if code[2:] == "0" * 10:
        return code[:2]
    if code[4:] == "0" * 8:
        return code[:4]
    if code[6:] == "0" * 6:
        return code[:6]
    if code[9:] == "000":
        return code[:9]
    return code


def in_scope(code: str | None, prefix: str) -> bool:
    """Whether a record's code falls inside a jurisdiction prefix."""
    return code is not None and code.startswith(prefix)


def scope_clause(column: Any, prefix: str) -> ColumnElement[bool]:
    """``column LIKE prefix || '%'``: the one scoping predicate, on an indexed code column."""
    if not prefix.isdigit():
        raise ValueError(f"jurisdiction prefix must be digits: {prefix!r}")
    return column.like(literal(prefix + "%"))


# The resolved grids of every responsibility area, maintained by people.orgs (one row per unit and
# grid; ``whole_village`` marks grids whose whole village lies in the area). Named here as a bare
# table so authz imports no domain.
AREA_GRIDS = table("org_unit_area_grids", sql_column("unit_id"), sql_column("grid_code"), sql_column("village_code"),
                   sql_column("whole_village"))


def area_clause(code_column: Any, unit_id: str) -> ColumnElement[bool]:
    """Rows whose code lies in the responsibility area of ``unit_id``: a 15-digit grid code of the
    area, or the 12-digit code of a village lying wholly inside it. A row filed under a township,
    county or a village the area only partly covers is not in the area (it is not known to lie
    there). Two indexed subqueries, never a list of codes: a station may cover hundreds of grids."""
    a = AREA_GRIDS.c
    grids = select(a.grid_code).where(a.unit_id == literal(unit_id))
    villages = select(a.village_code).where(a.unit_id == literal(unit_id), a.whole_village == true())
    return or_(code_column.in_(grids), code_column.in_(villages))


def visible(column: Any, principal: Principal) -> ColumnElement[bool]:
    """The rows of a scoped table ``principal`` may see, by the row's division or grid code
    column: the one helper every repository read applies (DESIGN.md rules 5 and 6).

    The jurisdiction prefix; for a user of an org unit with a responsibility area (a police
    station over parts of two townships) also the area (:func:`area_clause`): the area narrows the
    prefix, it never widens it.
    """
    clause = scope_clause(column, principal.jurisdiction)
    if principal.area_unit_id is None:
        return clause
    return and_(clause, area_clause(column, principal.area_unit_id))


def unscoped(reason: str) -> ColumnElement[bool]:
    """The system marker: a read that acts for the system, not for a caller, and so has no
    principal to scope by (a timer handler, the intake routing a report, an import, the demo
    generator, authentication finding a token's user). Always true; ``reason`` says why, and
    ``grep -rn "unscoped(" src`` lists every such read."""
    if not reason.strip():
        raise ValueError("unscoped() needs a reason")
    return true()
