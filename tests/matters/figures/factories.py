"""Factories for figure tests: matters built directly as rows (no workflow), at known times."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.kit.clock import CHINA_TZ, utcnow
from civicgrid.matters.models import CatalogueVersion, Matter, MatterType

_numbers = itertools.count(1)


def local(text: str) -> datetime:
    """An Asia/Shanghai wall-clock time ("2026-11-02 10:00") as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=CHINA_TZ)


def matter_type(session: Session) -> MatterType:
    """Any existing matter type (the shipped catalogue), or one made for the test."""
    existing = session.scalars(select(MatterType).limit(1)).first()
    if existing is not None:
        return existing
    version = 900_000 + int(uuid.uuid4().int % 90_000)
    session.add(CatalogueVersion(version=version, created_at=utcnow(), created_by="test", note="figures test",
                                 is_current=False))
    session.flush()
    mt = MatterType(version=version, code="T" + uuid.uuid4().hex[:6], category="test", category_zh="测试",
                    category_en="Test", name_zh="测试事项", name_en="Test matter", owner_level="village",
                    department="测试", department_en="Test", list_kind="service",
                    limits='{"accept": [2, "working_hours"]}', auto_escalate=False, active=True)
    session.add(mt)
    session.flush()
    return mt


def make_matter(session: Session, mt: MatterType, *, grid_code: str, reported_at: datetime,
                status: str = "reported", flush: bool = True, **values: Any) -> Matter:
    """A matter row with the given facts; anything not given takes a plain default."""
    matter = Matter(
        number=f"FIG-{next(_numbers)}-{uuid.uuid4().hex[:8]}", type_id=mt.id, type_code=mt.code,
        catalogue_version=mt.version, title="测试事项", description="", channel="grid_worker",
        lng=111.6, lat=26.4, grid_code=grid_code, division_code=grid_code[:12], owner_level="village",
        department="测试", status=status, status_changed_at=reported_at, reported_at=reported_at,
        **values,
    )
    session.add(matter)
    if flush:
        session.flush()
    return matter
