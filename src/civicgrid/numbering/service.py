"""Take the next numbers of a series for a day.

``take`` sends the upsert on the connection and returns a reader, so the matters' intake can
send it inside a ``kit.statements.pipeline`` together with its other look-ups (one round trip on
PostgreSQL); ``next_number`` is the plain form for everyone else. The day is the city's local
day (``CHINA_TZ``), formatted ``YYYYMMDD``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from civicgrid.kit.clock import CHINA_TZ
from civicgrid.kit.statements import DriverStatement
from civicgrid.numbering.models import NumberCounter


def _upsert(dialect: str) -> Any:
    table = cast(Table, NumberCounter.__table__)
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    return stmt.on_conflict_do_update(index_elements=[table.c.series, table.c.day],
                                      set_={"last": table.c.last + stmt.excluded.last}).returning(table.c.last)


_TAKE = DriverStatement(_upsert, keys=("series", "day", "last"))


def local_day(at: datetime) -> str:
    """``YYYYMMDD`` of the city's calendar day at ``at``."""
    return at.astimezone(CHINA_TZ).strftime("%Y%m%d")


def take(conn: Connection, series: str, day: str, count: int = 1) -> Callable[[], int]:
    """Atomically take the next ``count`` numbers of ``series`` on ``day``; the reader returns the
    last of them (the first is ``last - count + 1``)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    sent = _TAKE.send(conn, {"series": series, "day": day, "last": count})
    return lambda: int(sent.rows()[0][0])


def next_number(session: Session, series: str, at: datetime) -> tuple[str, int]:
    """The local day of ``at`` and the next number of ``series`` on it."""
    day = local_day(at)
    return day, take(session.connection(), series, day)()
