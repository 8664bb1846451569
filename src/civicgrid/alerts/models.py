"""A warning and its life cycle's data."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from civicgrid.db import Base, UTCDateTime
from civicgrid.kit.ids import new_id


class AlertStatus(StrEnum):
    RAISED = "raised"  # 已发出：等待确认
    ACKNOWLEDGED = "acknowledged"  # 已确认：正在处置
    ESCALATED = "escalated"  # 已上报上一级：等待上一级确认
    HANDLED = "handled"  # 已处置（记录所采取的措施）
    WITHDRAWN = "withdrawn"  # 已撤回（数据迟到、依法例外……），有理由，不删除


OPEN_STATUSES = (AlertStatus.RAISED, AlertStatus.ACKNOWLEDGED, AlertStatus.ESCALATED)


class AlertLevel(StrEnum):
    """Four levels, as Chinese early warnings are graded: 蓝 (一般), 黄 (较重), 橙 (严重), 红 (特别严重)."""

    BLUE = "blue"
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"


class Alert(Base):
    """One warning: what rule raised it about which record, how grave, why (in words), who owns
    it (``division_code``: the owner's division; escalation moves it one level up, keeping
    ``origin_code``), by when it must be acknowledged, and what was done."""

    __tablename__ = "alerts"
    __scope_column__ = "division_code"
    __table_args__ = (
        Index("ix_alerts_division_code_pattern", "division_code",
              postgresql_ops={"division_code": "varchar_pattern_ops"}),
        Index("ix_alerts_source", "source_type", "source_id"),
        Index("ix_alerts_status_level", "status", "level"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    rule_code: Mapped[str] = mapped_column(String(64), nullable=False)
    rule_name: Mapped[str] = mapped_column(String(100), nullable=False)
    legal_basis: Mapped[str | None] = mapped_column(String(300))
    level: Mapped[str] = mapped_column(String(8), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    source_type: Mapped[str] = mapped_column(String(48), nullable=False)
    source_id: Mapped[str] = mapped_column(String(64), nullable=False)
    source_label: Mapped[str | None] = mapped_column(String(100))
    reasons: Mapped[str] = mapped_column(Text, nullable=False)  # JSON [{"zh": …, "en": …}]
    division_code: Mapped[str] = mapped_column(String(15), nullable=False)
    origin_code: Mapped[str] = mapped_column(String(15), nullable=False)
    owner_user_id: Mapped[str | None] = mapped_column(String(32))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    ack_due_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    action_taken: Mapped[str | None] = mapped_column(Text)
    withdraw_reason: Mapped[str | None] = mapped_column(String(32))
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def reason_list(self) -> list[dict[str, Any]]:
        return list(json.loads(self.reasons))
