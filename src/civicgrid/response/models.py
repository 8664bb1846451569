"""Response units (警力单元), incidents (警情), assignments (派警), the track of unit positions
(telemetry) and the ring zones drawn for the 1-3-5 minute targets."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civicgrid.db import Base, UTCDateTime
from civicgrid.kit.clock import utcnow
from civicgrid.kit.ids import new_id


class UnitType(StrEnum):
    PATROL_CAR = "patrol_car"  # 巡逻车
    MOTORCYCLE = "motorcycle"  # 摩托车
    FOOT_PATROL = "foot_patrol"  # 步巡
    STATION_DUTY = "station_duty"  # 派出所值班组
    VILLAGE_AUXILIARY = "village_auxiliary"  # 一村一辅警
    PLATFORM_TEAM = "platform_team"  # 快警平台组


class UnitStatus(StrEnum):
    OFF_DUTY = "off_duty"
    AVAILABLE = "available"
    ASSIGNED = "assigned"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    UNAVAILABLE = "unavailable"


class IncidentStatus(StrEnum):
    RECEIVED = "received"  # 已接警
    DISPATCHED = "dispatched"  # 已派警
    ON_SCENE = "on_scene"  # 已到场
    HANDLED = "handled"  # 已处置
    FEEDBACK_FILED = "feedback_filed"  # 已反馈（处警反馈）
    CLOSED = "closed"  # 已结束
    CANCELLED = "cancelled"  # 已撤销
    TRANSFERRED = "transferred"  # 已移交
    MERGED = "merged"  # 已合并


class AssignmentStatus(StrEnum):
    ORDERED = "ordered"  # 已下令
    ACKNOWLEDGED = "acknowledged"  # 已确认
    EN_ROUTE = "en_route"  # 途中
    ON_SCENE = "on_scene"  # 已到场
    RELEASED = "released"  # 已解除


class IncidentSource(StrEnum):
    DESK = "desk"  # 指挥台录入
    CALL_110 = "110"  # 110 接处警系统
    MATTER = "matter"  # 由上报事项转来


class ResponseUnit(Base):
    """A unit that can be sent: a patrol car, a motorcycle, a foot patrol, a station duty team, a
    village auxiliary police officer, a platform team. It belongs to an org unit (``org_unit_id``:
    a station, a command centre, a platform) and is filed under that unit's division
    (``division_code``, 12 digits) for scoping. ``status`` is driven by its assignments
    (workflow ``response_unit``); its position is telemetry and lives in memory and in
    :class:`UnitTrackPoint`, never on this row (an update per position would be an audit entry)."""

    __tablename__ = "response_units"
    __scope_column__ = "division_code"
    __table_args__ = (
        Index("ix_response_units_division_code", "division_code",
              postgresql_ops={"division_code": "varchar_pattern_ops"}),
        UniqueConstraint("call_sign", name="uq_response_units_call_sign"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    call_sign: Mapped[str] = mapped_column(String(40), nullable=False)  # 呼号, e.g. 零陵快警03
    unit_type: Mapped[str] = mapped_column(String(24), nullable=False)
    org_unit_id: Mapped[str] = mapped_column(String(32), ForeignKey("org_units.id"), nullable=False, index=True)
    division_code: Mapped[str] = mapped_column(String(12), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    demo: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class UnitMember(Base):
    """A member (an account) of a response unit: who receives its orders and may report for it."""

    __tablename__ = "response_unit_members"
    # One id, not (unit, user): the audit chain's entity id holds 64 characters.
    __table_args__ = (UniqueConstraint("unit_id", "user_id", name="uq_response_unit_members_unit_id_user_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    unit_id: Mapped[str] = mapped_column(String(32), ForeignKey("response_units.id", ondelete="CASCADE"),
                                         nullable=False)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
                                         index=True)


class ShiftState(StrEnum):
    PLANNED = "planned"  # 未开始
    ON = "on"  # 在班
    ENDING = "ending"  # 已到下班时间，仍在出警（解除后下班）
    ENDED = "ended"  # 已结束
    CANCELLED = "cancelled"  # 已取消


class UnitShift(Base):
    """A duty period (班次) of a response unit: from ``starts_at`` to ``ends_at`` (UTC) with the
    members on duty (``member_ids``, JSON: a subset of the unit's members; empty = all of them).
    A unit that has shifts is on duty during them: a timer at the start signs it on (available),
    one at the end signs it off (off duty) — after its last assignment is released when it is
    out on one then (``ending``). Filed under the unit's division for scoping."""

    __tablename__ = "response_unit_shifts"
    __scope_column__ = "division_code"
    __table_args__ = (
        Index("ix_response_unit_shifts_unit_starts", "unit_id", "starts_at"),
        Index("ix_response_unit_shifts_division_code", "division_code",
              postgresql_ops={"division_code": "varchar_pattern_ops"}),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    unit_id: Mapped[str] = mapped_column(String(32), ForeignKey("response_units.id", ondelete="CASCADE"),
                                         nullable=False)
    division_code: Mapped[str] = mapped_column(String(12), nullable=False)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    member_ids: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    note: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(12), nullable=False, default=ShiftState.PLANNED)
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    @property
    def members(self) -> list[str]:
        return [str(m) for m in json.loads(self.member_ids or "[]")]


class Incident(Base):
    """One incident (警情): where (``lng``/``lat`` snapped to its grid: ``division_code`` holds the
    15-digit grid code; ``county_code``; ``station_id`` the police station whose responsibility
    area holds the grid), what (category, priority 1 most urgent), where it came from (the desk,
    the 110 system with its own number and clock points, or a reported matter), every clock point,
    the 1-3-5 ring it is measured against with the outcome, and the response report (处警反馈)."""

    __tablename__ = "response_incidents"
    __scope_column__ = "division_code"
    __table_args__ = (
        Index("ix_response_incidents_division_code", "division_code",
              postgresql_ops={"division_code": "varchar_pattern_ops"}),
        Index("ix_response_incidents_received", "call_received_at"),
        Index("ix_response_incidents_source", "source", "source_ref"),
        UniqueConstraint("number", name="uq_response_incidents_number"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(32), nullable=False)
    category: Mapped[str] = mapped_column(String(40), nullable=False)
    priority: Mapped[int] = mapped_column(Integer, nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False, default="")
    lng: Mapped[float] = mapped_column(Float, nullable=False)
    lat: Mapped[float] = mapped_column(Float, nullable=False)
    division_code: Mapped[str] = mapped_column(String(15), nullable=False)
    county_code: Mapped[str] = mapped_column(String(12), nullable=False, index=True)
    station_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("org_units.id"))
    urban_class: Mapped[str] = mapped_column(String(8), nullable=False)
    source: Mapped[str] = mapped_column(String(8), nullable=False)
    source_ref: Mapped[str | None] = mapped_column(String(64))  # the 110 incident number, or the matter id
    source_clock: Mapped[str | None] = mapped_column(Text)  # JSON: the source system's own clock points
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Clock points (UTC). call_received_at is the source's when it gave one.
    call_received_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_on_scene_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reinforcement_on_scene_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The ring (1-3-5): zone, target, what the clock counts from, and the outcome once arrived.
    ring_zone: Mapped[str] = mapped_column(String(16), nullable=False)
    ring_target_seconds: Mapped[int] = mapped_column(Integer, nullable=False)
    ring_basis: Mapped[str] = mapped_column(String(12), nullable=False, default="call")
    arrival_seconds: Mapped[int | None] = mapped_column(Integer)
    ring_hit: Mapped[bool | None] = mapped_column(Boolean)
    # The response report (处警反馈).
    confirmed_nature: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str | None] = mapped_column(Text)
    case_opened: Mapped[bool | None] = mapped_column(Boolean)
    case_number: Mapped[str | None] = mapped_column(String(64))
    merged_into_id: Mapped[str | None] = mapped_column(String(32))
    # Who commands it: None = the tier that received it (the station of its area, else the
    # county); "county" / "city" once that tier took over command (``take_over``, on the timeline).
    command_tier: Mapped[str | None] = mapped_column(String(8))
    command_by: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    @property
    def source_clock_points(self) -> dict[str, Any]:
        return dict(json.loads(self.source_clock)) if self.source_clock else {}


class Assignment(Base):
    """One unit sent to one incident (派警), a sub-entity with its own life cycle: ordered →
    acknowledged → en route → on scene → released. Filed under the incident's grid code
    (``division_code``), so it is seen with the incident; the unit's members act on it by being
    members (:func:`civicgrid.response.service.acting_for_unit`). ``wave`` is ``first`` for the
    first unit on scene and ``reinforcement`` for the others."""

    __tablename__ = "response_assignments"
    __scope_column__ = "division_code"
    __table_args__ = (
        Index("ix_response_assignments_incident", "incident_id"),
        Index("ix_response_assignments_unit_status", "unit_id", "status"),
        Index("ix_response_assignments_division_code", "division_code",
              postgresql_ops={"division_code": "varchar_pattern_ops"}),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    incident_id: Mapped[str] = mapped_column(String(32), ForeignKey("response_incidents.id", ondelete="CASCADE"),
                                             nullable=False)
    unit_id: Mapped[str] = mapped_column(String(32), ForeignKey("response_units.id"), nullable=False)
    division_code: Mapped[str] = mapped_column(String(15), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cross_border: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    eta_seconds: Mapped[int | None] = mapped_column(Integer)
    distance_m: Mapped[int | None] = mapped_column(Integer)
    wave: Mapped[str | None] = mapped_column(String(16))
    ordered_by: Mapped[str | None] = mapped_column(String(32))
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    en_route_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    on_scene_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    order_item_ids: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # the inbox items sent


class UnitTrackPoint(Base):
    """One reported position of a unit: telemetry, written in batches by the position buffer
    (:mod:`civicgrid.response.telemetry`) with a Core statement, never through the unit of work,
    and kept ``CIVICGRID_RESPONSE_TRACK_RETENTION_DAYS``. ``batch`` names the flush that wrote it."""

    __tablename__ = "response_unit_tracks"
    __telemetry__ = "unit positions: a report every few seconds per unit; the audit chain records status changes"
    __audit__ = False
    __table_args__ = (Index("ix_response_unit_tracks_unit_at", "unit_id", "at"),
                      Index("ix_response_unit_tracks_at", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(String(32), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    lng: Mapped[float] = mapped_column(Float, nullable=False)
    lat: Mapped[float] = mapped_column(Float, nullable=False)
    speed_kmh: Mapped[float | None] = mapped_column(Float)
    heading: Mapped[float | None] = mapped_column(Float)
    batch: Mapped[str] = mapped_column(String(32), nullable=False)


class RingZone(Base):
    """A zone drawn for the rings (重点部位 key site, 中心城区 central city): a GeoJSON polygon
    (WGS-84) filed under the county that drew it. A drawn zone overrides the default zone that
    the urban–rural class of the place gives."""

    __tablename__ = "response_ring_zones"
    __scope_column__ = "division_code"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    zone: Mapped[str] = mapped_column(String(16), nullable=False)
    label: Mapped[str] = mapped_column(String(100), nullable=False)
    division_code: Mapped[str] = mapped_column(String(12), nullable=False, index=True)
    polygon: Mapped[str] = mapped_column(Text, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
