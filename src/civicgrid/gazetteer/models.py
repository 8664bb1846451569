"""Named places (地名): residential compounds, schools, markets, bus stops … imported from CSV.

Reference rows written in bulk by imports, like divisions: they opt out of the per-row audit chain
and each import records one audit event with the counts and the file's SHA-256 instead.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from civicgrid.db import Base, UTCDateTime
from civicgrid.kit.ids import new_id


class Place(Base):
    """A named place inside a division. ``aliases`` are other names people use, ``|``-separated;
    ``lng``/``lat`` are WGS-84 (converted on import when the file says GCJ-02); ``generated``
    marks the demo file's invented places."""

    __tablename__ = "places"
    __unscoped__ = "reference geography (named places), searched city-wide by every caller like a map"
    __audit__ = False
    __table_args__ = (
        Index("ix_places_division_code_pattern", "division_code",
              postgresql_ops={"division_code": "varchar_pattern_ops"}),
        Index("uq_places_division_name", "division_code", "name", unique=True),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    aliases: Mapped[str] = mapped_column(Text, nullable=False, default="")
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    lng: Mapped[float] = mapped_column(Float, nullable=False)
    lat: Mapped[float] = mapped_column(Float, nullable=False)
    division_code: Mapped[str] = mapped_column(String(12), nullable=False)
    source: Mapped[str] = mapped_column(String(200), nullable=False)
    generated: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)

    @property
    def alias_list(self) -> list[str]:
        return [a for a in self.aliases.split("|") if a]
