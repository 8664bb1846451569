"""Every query of the matters domain. Queries that load or list matters take the caller's
jurisdiction prefix and apply :func:`civicgrid.kit.scoping.scope_clause` (DESIGN.md rule 5)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, and_, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from civicgrid.kit.scoping import scope_clause
from civicgrid.matters.models import (
    CatalogueVersion,
    DuplicateCandidate,
    Matter,
    MatterNumberCounter,
    MatterPhoto,
    MatterType,
    SupervisionOrder,
)

# ---------------------------------------------------------------- catalogue


def current_version(session: Session) -> CatalogueVersion | None:
    return session.scalar(select(CatalogueVersion).where(CatalogueVersion.is_current.is_(True)))


def versions(session: Session) -> Sequence[CatalogueVersion]:
    return session.scalars(select(CatalogueVersion).order_by(CatalogueVersion.version.desc())).all()


def version_counts(session: Session) -> dict[int, int]:
    rows = session.execute(select(MatterType.version, func.count()).group_by(MatterType.version)).all()
    return {int(v): int(n) for v, n in rows}


def max_version(session: Session) -> int:
    return int(session.scalar(select(func.max(CatalogueVersion.version))) or 0)


def clear_current(session: Session) -> None:
    session.execute(update(CatalogueVersion).where(CatalogueVersion.is_current.is_(True)).values(is_current=False))


def types_of(session: Session, version: int) -> Sequence[MatterType]:
    return session.scalars(select(MatterType).where(MatterType.version == version).order_by(MatterType.code)).all()


def type_by_code(session: Session, version: int, code: str) -> MatterType | None:
    return session.scalar(select(MatterType).where(MatterType.version == version, MatterType.code == code))


def type_by_id(session: Session, type_id: str) -> MatterType | None:
    return session.get(MatterType, type_id)


# ---------------------------------------------------------------- matters


def _visible(principal_prefix: str, user_id: str) -> object:
    """A matter is visible to the units whose jurisdiction holds its owner or its grid, and to the
    person who reported it."""
    return or_(scope_clause(Matter.division_code, principal_prefix), scope_clause(Matter.grid_code, principal_prefix),
               Matter.reporter_id == user_id)


def get_matter(session: Session, matter_id: str, prefix: str, user_id: str, *,
               for_update: bool = False) -> Matter | None:
    query = select(Matter).where(Matter.id == matter_id, _visible(prefix, user_id))  # type: ignore[arg-type]
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def get_unscoped(session: Session, matter_id: str) -> Matter | None:
    """For timer handlers, which act for the system (no principal)."""
    return session.get(Matter, matter_id)


def by_idempotency_key(session: Session, key: str) -> Matter | None:
    return session.scalar(select(Matter).where(Matter.idempotency_key == key))


def next_number(session: Session, day: str) -> int:
    """Atomically take the next sequence number of ``day`` (an upsert that returns the new value)."""
    dialect = session.get_bind().dialect.name
    maker = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = maker(MatterNumberCounter).values(day=day, last=1)
    stmt = stmt.on_conflict_do_update(index_elements=["day"], set_={"last": MatterNumberCounter.last + 1})
    return int(session.execute(stmt.returning(MatterNumberCounter.last)).scalar_one())


def list_matters(session: Session, *, prefix: str, user_id: str, queue: str, owner_prefix: str | None,
                 status: str | None, overdue: bool | None, offset: int, limit: int) -> tuple[list[Matter], int]:
    """A queue: ``mine`` (owned by the caller's unit), ``division`` (everything in the jurisdiction),
    ``reported_by_me``. Mine first, then overdue (red, then yellow) on top, then the nearest due."""
    query: Select[tuple[Matter]] = select(Matter)
    if queue == "reported_by_me":
        query = query.where(Matter.reporter_id == user_id)
    elif queue == "mine":
        query = query.where(Matter.division_code == (owner_prefix or ""))
    else:
        query = query.where(_visible(prefix, user_id))  # type: ignore[arg-type]
    if status:
        query = query.where(Matter.status == status)
    if overdue is not None:
        query = query.where(Matter.overdue.is_(overdue))
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    mine_first = case((Matter.division_code == (owner_prefix or ""), 0), else_=1)
    alert_rank = case((Matter.alert == "red", 0), (Matter.alert == "yellow", 1), else_=2)
    query = query.order_by(mine_first, alert_rank, Matter.step_due_at.is_(None), Matter.step_due_at,
                           Matter.reported_at.desc()).offset(offset).limit(limit)
    return list(session.scalars(query)), total


def nearby_same_type(session: Session, *, type_code: str, since: datetime, exclude_id: str, lng: float, lat: float,
                     dlng: float, dlat: float) -> Sequence[tuple[str, float, float]]:
    """Candidates for duplicates as (id, lng, lat): same type, reported since ``since``, inside a
    small lng/lat box (the caller measures the real distance)."""
    rows = session.execute(select(Matter.id, Matter.lng, Matter.lat).where(
        Matter.type_code == type_code, Matter.reported_at >= since, Matter.id != exclude_id,
        Matter.duplicate_of.is_(None), Matter.status.notin_(("rejected", "cancelled", "merged")),
        and_(Matter.lng.between(lng - dlng, lng + dlng), Matter.lat.between(lat - dlat, lat + dlat)))).all()
    return [(row[0], row[1], row[2]) for row in rows]


def numbers_of(session: Session, matter_ids: Sequence[str]) -> dict[str, str]:
    """The numbers of several matters by id (no scoping: shown beside a matter the caller may see)."""
    if not matter_ids:
        return {}
    return dict(session.execute(select(Matter.id, Matter.number).where(Matter.id.in_(matter_ids))).tuples().all())


# ---------------------------------------------------------------- what hangs off a matter


def photos_of(session: Session, matter_id: str) -> Sequence[MatterPhoto]:
    return session.scalars(select(MatterPhoto).where(MatterPhoto.matter_id == matter_id)
                           .order_by(MatterPhoto.created_at, MatterPhoto.id)).all()


def photo(session: Session, matter_id: str, photo_id: str) -> MatterPhoto | None:
    return session.scalar(select(MatterPhoto).where(MatterPhoto.id == photo_id, MatterPhoto.matter_id == matter_id))


def duplicates_of(session: Session, matter_id: str) -> Sequence[DuplicateCandidate]:
    return session.scalars(select(DuplicateCandidate).where(DuplicateCandidate.matter_id == matter_id)
                           .order_by(DuplicateCandidate.distance_m)).all()


def duplicate(session: Session, matter_id: str, candidate_id: str) -> DuplicateCandidate | None:
    return session.scalar(select(DuplicateCandidate).where(DuplicateCandidate.matter_id == matter_id,
                                                           DuplicateCandidate.candidate_id == candidate_id))


def supervision_orders(session: Session, matter_id: str) -> Sequence[SupervisionOrder]:
    return session.scalars(select(SupervisionOrder).where(SupervisionOrder.matter_id == matter_id)
                           .order_by(SupervisionOrder.created_at)).all()


def open_supervision_orders(session: Session, matter_id: str) -> Sequence[SupervisionOrder]:
    return session.scalars(select(SupervisionOrder).where(SupervisionOrder.matter_id == matter_id,
                                                          SupervisionOrder.status != "answered")).all()


def supervision_order(session: Session, order_id: str) -> SupervisionOrder | None:
    return session.get(SupervisionOrder, order_id)
