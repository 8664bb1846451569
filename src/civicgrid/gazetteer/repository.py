"""Every query of the gazetteer. Division names and places are reference geography, read whole to
build the in-memory search index (as the grid index reads every grid): not records of people or
cases, so the reads are city-wide by design."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.authz.scoping import unscoped
from civicgrid.gazetteer.models import Place
from civicgrid.geo.models import Division, GeoImport

REFERENCE = "the gazetteer indexes every division name: reference geography, searched city-wide"


def division_rows(session: Session) -> list[Any]:
    """(code, name, level, lng, lat) of every division."""
    return list(session.execute(select(Division.code, Division.name, Division.level, Division.lng, Division.lat)
                             .where(unscoped(REFERENCE))))


def division_codes(session: Session) -> set[str]:
    return set(session.scalars(select(Division.code).where(unscoped(REFERENCE))))


def all_places(session: Session) -> list[Place]:
    return list(session.scalars(select(Place).order_by(Place.division_code, Place.name)))


def places_by_key(session: Session) -> dict[tuple[str, str], Place]:
    return {(p.division_code, p.name): p for p in session.scalars(select(Place))}


def add_places(session: Session, places: list[Place]) -> None:
    session.add_all(places)


def version(session: Session) -> str:
    """The latest geo import's seq and random id: every import of divisions or places moves it
    (the id tells apart two imports that got the same seq after a rollback)."""
    row = session.execute(
        select(GeoImport.seq, GeoImport.import_id).order_by(GeoImport.seq.desc()).limit(1)
    ).first()
    return f"{row[0]}:{row[1]}" if row else "0"


def any_place(session: Session) -> bool:
    return session.scalar(select(Place.id).limit(1)) is not None
