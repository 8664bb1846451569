"""Every query on the audit log: the auditors' reads, scoped by the principal
(``authz.scoping.visible``), and the chain's own reads (its head, the verify walk), which act for
the system."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, bindparam, delete, func, or_, select
from sqlalchemy.orm import Session

from civicgrid.audit.models import AuditEntry
from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import CITY_PREFIX_LEN, unscoped, visible
from civicgrid.kit.statements import DriverStatement

HEAD = DriverStatement(lambda _d: select(AuditEntry.seq, AuditEntry.hash)
                       .where(AuditEntry.chain == bindparam("chain"),
                              unscoped("the chain's head: every write links to it"))
                       .order_by(AuditEntry.seq.desc()).limit(1))
"""The last entry's (seq, hash) of one chain; every writing transaction reads those of its chains
(compiled once, run on the driver: kit.statements)."""


def chains(conn: Connection) -> list[str]:
    """The names of the chains that hold entries, in order."""
    return sorted(conn.scalars(select(AuditEntry.chain).where(unscoped("verify walks every chain"))
                               .group_by(AuditEntry.chain)))


def iter_chain(conn: Connection, chain: str, batch: int = 5000) -> Iterator[dict[str, Any]]:
    """Every entry of one chain in sequence order, streamed (``civicgrid audit verify`` recomputes it)."""
    # A statement option: Connection.execution_options() would change the connection for good,
    # and every later statement on it would run through a server-side cursor.
    query = (select(AuditEntry.__table__).where(AuditEntry.chain == chain, unscoped("verify walks the whole chain"))
             .order_by(AuditEntry.seq).execution_options(yield_per=batch))
    for row in conn.execute(query).mappings():
        yield dict(row)


def _scope(principal: Principal) -> ColumnElement[bool]:
    """Entries of records inside the jurisdiction; entries tied to no division (logins, denials)
    only for a city-wide (or wider) auditor."""
    clause = visible(AuditEntry.division_code, principal)
    if len(principal.jurisdiction) <= CITY_PREFIX_LEN:
        return or_(clause, AuditEntry.division_code.is_(None))
    return clause


def _filtered(stmt: Select[Any], principal: Principal, *,
              action: str | None, entity_type: str | None, actor: str | None) -> Select[Any]:
    stmt = stmt.where(_scope(principal))
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if entity_type:
        stmt = stmt.where(AuditEntry.entity_type == entity_type)
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    return stmt


def list_entries(session: Session, principal: Principal, *, action: str | None = None,
                 entity_type: str | None = None, actor: str | None = None, limit: int = 50,
                 offset: int = 0) -> tuple[Sequence[AuditEntry], int]:
    """Newest first, with the total count for paging."""
    filters = {"action": action, "entity_type": entity_type, "actor": actor}
    rows = session.scalars(_filtered(select(AuditEntry), principal, **filters)
                           .order_by(AuditEntry.at.desc(), AuditEntry.chain, AuditEntry.seq.desc())
                           .limit(limit).offset(offset)).all()
    total = session.scalar(_filtered(select(func.count()).select_from(AuditEntry), principal, **filters)) or 0
    return rows, int(total)


# ---------------------------------------------------------------- the chain's own reads (system)

_CHAIN = "the chain's own bookkeeping: verify, anchors and the retention purge act for the system"


def latest_purge_after(conn: Connection, chain: str, action: str) -> str | None:
    """The ``after`` of the chain's newest entry with ``action`` (the latest purge's record)."""
    return conn.scalar(select(AuditEntry.after).where(AuditEntry.chain == chain, AuditEntry.action == action,
                                                      unscoped(_CHAIN))
                       .order_by(AuditEntry.seq.desc()).limit(1))


def first_seq(conn: Connection, chain: str) -> int | None:
    return conn.scalar(select(func.min(AuditEntry.seq)).where(AuditEntry.chain == chain, unscoped(_CHAIN)))


def last_seq_before(conn: Connection, chain: str, cutoff: datetime) -> int | None:
    return conn.scalar(select(func.max(AuditEntry.seq)).where(AuditEntry.chain == chain, AuditEntry.at < cutoff,
                                                               unscoped(_CHAIN)))


def entry_at(conn: Connection, chain: str, seq: int) -> Any:
    """(hash, at) of one entry."""
    return conn.execute(select(AuditEntry.hash, AuditEntry.at)
                        .where(AuditEntry.chain == chain, AuditEntry.seq == seq, unscoped(_CHAIN))).one()


def first_after(conn: Connection, chain: str, seq: int) -> Any:
    """(seq, hash, at) of the chain's first entry after ``seq``, or None."""
    return conn.execute(select(AuditEntry.seq, AuditEntry.hash, AuditEntry.at)
                        .where(AuditEntry.chain == chain, AuditEntry.seq > seq, unscoped(_CHAIN))
                        .order_by(AuditEntry.seq).limit(1)).first()


def delete_through(conn: Connection, chain: str, seq: int) -> int:
    """Delete the chain's entries up to ``seq`` (the purge, under its permit); how many."""
    return int(conn.execute(delete(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq <= seq,
                                                     unscoped(_CHAIN))).rowcount or 0)
