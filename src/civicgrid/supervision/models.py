"""Records of the enforcement supervision centre: cases, persons, measures, property, places,
the clocks the law sets on them, and the log of every event received.

Everything is scoped by ``division_code``: the division of the handling unit (an org unit of
:mod:`civicgrid.people.orgs`), copied onto each child row so that a child read alone is scoped
like its case. Criminal-procedure data about persons is sensitive (GB/T 35273-2020 Annex B):
names and ID numbers are :class:`~civicgrid.kit.personal.Personal` columns.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from civicgrid.db import Base, UTCDateTime
from civicgrid.kit.clock import utcnow
from civicgrid.kit.ids import new_id
from civicgrid.kit.personal import Personal


class CaseKind(StrEnum):
    CRIMINAL = "criminal"  # 刑事案件
    ADMINISTRATIVE = "administrative"  # 行政（治安）案件


class CriminalStage(StrEnum):
    ACCEPTED = "accepted"  # 受案
    FILED = "filed"  # 立案
    NOT_FILED = "not_filed"  # 不予立案
    INVESTIGATING = "investigating"  # 侦查
    ARREST_REQUESTED = "arrest_requested"  # 提请批准逮捕
    ARREST_APPROVED = "arrest_approved"  # 批准逮捕（继续侦查）
    ARREST_REFUSED = "arrest_refused"  # 不批准逮捕
    PROSECUTION_REVIEW = "prosecution_review"  # 移送审查起诉
    SUPPLEMENTARY = "supplementary"  # 退回补充侦查
    WITHDRAWN = "withdrawn"  # 撤案


class AdminStage(StrEnum):
    ACCEPTED = "accepted"  # 受案
    INVESTIGATING = "investigating"  # 调查
    DECIDED = "decided"  # 作出处罚决定
    NOT_PUNISHED = "not_punished"  # 不予处罚
    EXECUTED = "executed"  # 执行完毕
    WITHDRAWN = "withdrawn"  # 撤销案件


class MeasureKind(StrEnum):
    SUMMONS = "summons"  # 传唤
    COMPELLED_APPEARANCE = "compelled_appearance"  # 拘传
    QUESTIONING = "questioning"  # 询问查证（治安）
    CONTINUED_QUESTIONING = "continued_questioning"  # 继续盘问
    CRIMINAL_DETENTION = "criminal_detention"  # 刑事拘留
    ARREST = "arrest"  # 逮捕
    BAIL = "bail"  # 取保候审
    RESIDENTIAL_SURVEILLANCE = "residential_surveillance"  # 监视居住
    DESIGNATED_RESIDENCE = "designated_residence"  # 指定居所监视居住
    ADMINISTRATIVE_DETENTION = "administrative_detention"  # 行政拘留


# Measures that last while the person is held at the station: leaving the case-handling area ends them.
PRESENCE_MEASURES = frozenset({MeasureKind.SUMMONS, MeasureKind.COMPELLED_APPEARANCE, MeasureKind.QUESTIONING,
                               MeasureKind.CONTINUED_QUESTIONING})


class MeasureStatus(StrEnum):
    RUNNING = "running"
    ENDED = "ended"


class ClockStatus(StrEnum):
    RUNNING = "running"  # 计时中
    PAUSED = "paused"  # 扣除期间（鉴定等），暂停计时
    MET = "met"  # 按期完成
    BREACHED = "breached"  # 超期（盖章于届满时刻）
    EXCEPTED = "excepted"  # 依法例外（如无法通知家属），有批准人与文书号
    STOPPED = "stopped"  # 所监视的措施或阶段已不存在（撤案等）


class PropertyStatus(StrEnum):
    HELD = "held"  # 在库 / 扣押中
    RETURNED = "returned"  # 发还
    CONFISCATED = "confiscated"  # 没收
    AUCTIONED = "auctioned"  # 拍卖
    DESTROYED = "destroyed"  # 销毁


class CaseRecord(Base):
    """A police case as the case-handling system reported it. ``status`` is the case's stage in
    the table of its kind (:mod:`civicgrid.supervision.workflow`)."""

    __tablename__ = "supervision_cases"
    __scope_column__ = "division_code"
    __table_args__ = (
        UniqueConstraint("sender_id", "external_id", name="uq_supervision_cases_sender_external"),
        Index("ix_supervision_cases_division_code", "division_code",
              postgresql_ops={"division_code": "varchar_pattern_ops"}),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    sender_id: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    case_no: Mapped[str | None] = mapped_column(String(64), default=None)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(64), default=None)
    unit_id: Mapped[str] = mapped_column(String(32), ForeignKey("org_units.id"), index=True)
    division_code: Mapped[str] = mapped_column(String(12))
    officers: Mapped[str] = mapped_column(Text, default="[]")  # JSON: staff acting in office (badge no., name)
    enterprise_involved: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    amount_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    incident_no: Mapped[str | None] = mapped_column(String(64), default=None)  # the 110 incident number
    fast_track: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    supplementary_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(24))
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)  # event time of 受案
    stage_at: Mapped[datetime] = mapped_column(UTCDateTime)  # event time of the current stage
    last_event_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CasePerson(Base):
    """A person in a case: suspect, offender, victim or witness. Names and ID numbers are
    personal and, in criminal procedure, sensitive."""

    __tablename__ = "supervision_persons"
    __scope_column__ = "division_code"
    __table_args__ = (UniqueConstraint("case_id", "external_id", name="uq_supervision_persons_case_external"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(String(32), ForeignKey("supervision_cases.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(64))
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    role: Mapped[str] = mapped_column(String(16))  # suspect / offender / victim / witness
    person_name: Mapped[str | None] = mapped_column(Personal("supervision_persons.person_name", "name"), default=None)
    id_number: Mapped[str | None] = mapped_column(Personal("supervision_persons.id_number", "id_number"),
                                                  default=None)
    minor_under_14: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Measure(Base):
    """A coercive or restraining measure on a person, from its start (the 到案 or 带至 moment, or
    the execution) to its end. Its limits are :class:`Clock` rows."""

    __tablename__ = "supervision_measures"
    __scope_column__ = "division_code"
    __table_args__ = (UniqueConstraint("case_id", "external_id", name="uq_supervision_measures_case_external"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(String(32), ForeignKey("supervision_cases.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[str] = mapped_column(String(32), ForeignKey("supervision_persons.id", ondelete="CASCADE"),
                                           index=True)
    external_id: Mapped[str] = mapped_column(String(64))
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    end_reason: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MeasureExtension(Base):
    """An approved extension of one of a case's or measure's limits: the approver, the document number and
    the article, as the case system reported them."""

    __tablename__ = "supervision_measure_extensions"
    __scope_column__ = "division_code"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clock_id: Mapped[str] = mapped_column(String(32), ForeignKey("supervision_clocks.id", ondelete="CASCADE"),
                                          index=True)
    measure_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("supervision_measures.id",
                                                                          ondelete="CASCADE"), default=None)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    limit_code: Mapped[str] = mapped_column(String(64))  # the catalogue rule extended
    to_statutory: Mapped[str] = mapped_column(String(64))  # the statutory rule the limit now counts by
    approver: Mapped[str] = mapped_column(String(100))  # the approving officer, in office
    document_no: Mapped[str] = mapped_column(String(100))
    article: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Clock(Base):
    """One running limit of one rule on one case or measure: when it started, the events that
    adjust it (exclusions, restarts: ``adjustments`` JSON), its deadline and warning moment, and
    how it ended. A breach is stamped at the deadline (``breached_at``) and never edited away:
    only late data proving it was met withdraws it, and the withdrawal stays on the timeline."""

    __tablename__ = "supervision_clocks"
    __scope_column__ = "division_code"
    __table_args__ = (
        UniqueConstraint("case_id", "subject_id", "rule_code", name="uq_supervision_clocks_subject_rule"),
        Index("ix_supervision_clocks_division_code", "division_code",
              postgresql_ops={"division_code": "varchar_pattern_ops"}),
        Index("ix_supervision_clocks_status_due", "status", "due_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(String(32), ForeignKey("supervision_cases.id", ondelete="CASCADE"), index=True)
    subject_id: Mapped[str] = mapped_column(String(32))  # the case or the measure watched
    measure_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("supervision_measures.id",
                                                                          ondelete="CASCADE"), default=None)
    division_code: Mapped[str] = mapped_column(String(12))
    sender_id: Mapped[str] = mapped_column(String(64))
    rule_code: Mapped[str] = mapped_column(String(64))  # catalogue rule
    statutory_code: Mapped[str] = mapped_column(String(64))  # statutory counting rule in force for it
    law_version: Mapped[str] = mapped_column(String(200))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    adjustments: Mapped[str] = mapped_column(Text, default="[]")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    met_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    status: Mapped[str] = mapped_column(String(16))
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    warning_alert_id: Mapped[str | None] = mapped_column(String(32), default=None)
    breach_alert_id: Mapped[str | None] = mapped_column(String(32), default=None)
    explanation: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClockException(Base):
    """A lawful exception recorded on a clock (family notice impossible or withheld, 鉴定 excluded,
    a restart): who approved it, under which document, and who recorded it."""

    __tablename__ = "supervision_clock_exceptions"
    __scope_column__ = "division_code"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clock_id: Mapped[str] = mapped_column(String(32), ForeignKey("supervision_clocks.id", ondelete="CASCADE"),
                                          index=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    approver: Mapped[str] = mapped_column(String(100))
    document_no: Mapped[str] = mapped_column(String(100))
    basis: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text, default=None)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PropertyItem(Base):
    """An item of 涉案财物: seized, sealed, frozen or impounded, with its value, owner, storage
    place and label, until returned, confiscated, auctioned or destroyed."""

    __tablename__ = "supervision_property"
    __scope_column__ = "division_code"
    __table_args__ = (UniqueConstraint("case_id", "external_id", name="uq_supervision_property_case_external"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(String(32), ForeignKey("supervision_cases.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(64))
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    description: Mapped[str] = mapped_column(String(200))
    measure: Mapped[str] = mapped_column(String(16))  # seized / sealed / frozen / impounded
    value_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    owner_person_name: Mapped[str | None] = mapped_column(Personal("supervision_property.owner_person_name", "name"),
                                                          default=None)
    storage_place: Mapped[str | None] = mapped_column(String(200), default=None)
    label_no: Mapped[str | None] = mapped_column(String(64), default=None)
    holder: Mapped[str | None] = mapped_column(String(100), default=None)  # current custodian (in office)
    status: Mapped[str] = mapped_column(String(16))
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustodyTransfer(Base):
    """One link of an item's chain of custody: who handed it over, who received it, where, when."""

    __tablename__ = "supervision_custody_transfers"
    __scope_column__ = "division_code"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    property_id: Mapped[str] = mapped_column(String(32), ForeignKey("supervision_property.id", ondelete="CASCADE"),
                                             index=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    action: Mapped[str] = mapped_column(String(16))  # seize / transfer / return / confiscate / auction / destroy
    from_holder: Mapped[str | None] = mapped_column(String(100), default=None)
    to_holder: Mapped[str | None] = mapped_column(String(100), default=None)
    place: Mapped[str | None] = mapped_column(String(200), default=None)


class HandlingArea(Base):
    """A case-handling area (执法办案场所) of a station or bureau."""

    __tablename__ = "supervision_areas"
    __scope_column__ = "division_code"
    __table_args__ = (UniqueConstraint("unit_id", "code", name="uq_supervision_areas_unit_code"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    unit_id: Mapped[str] = mapped_column(String(32), ForeignKey("org_units.id"), index=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    code: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(100))


class Room(Base):
    """A room of a case-handling area (候问室, 讯问室, 询问室, 人身检查室…)."""

    __tablename__ = "supervision_rooms"
    __scope_column__ = "division_code"
    __table_args__ = (UniqueConstraint("area_id", "code", name="uq_supervision_rooms_area_code"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    area_id: Mapped[str] = mapped_column(String(32), ForeignKey("supervision_areas.id", ondelete="CASCADE"),
                                         index=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    code: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(100))
    room_type: Mapped[str | None] = mapped_column(String(32), default=None)


class RoomVisit(Base):
    """A person's stay in one room (or, with no room, in the area) from entry to leaving."""

    __tablename__ = "supervision_room_visits"
    __scope_column__ = "division_code"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    area_id: Mapped[str] = mapped_column(String(32), ForeignKey("supervision_areas.id", ondelete="CASCADE"),
                                         index=True)
    room_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("supervision_rooms.id", ondelete="CASCADE"),
                                                default=None)
    person_id: Mapped[str] = mapped_column(String(32), ForeignKey("supervision_persons.id", ondelete="CASCADE"),
                                           index=True)
    case_id: Mapped[str] = mapped_column(String(32), ForeignKey("supervision_cases.id", ondelete="CASCADE"), index=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class CaseDocument(Base):
    """A legal document issued in a case (拘留通知书, 提请批准逮捕书, 收押回执…)."""

    __tablename__ = "supervision_documents"
    __scope_column__ = "division_code"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(String(32), ForeignKey("supervision_cases.id", ondelete="CASCADE"), index=True)
    measure_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("supervision_measures.id",
                                                                          ondelete="CASCADE"), default=None)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    doc_type: Mapped[str] = mapped_column(String(40))
    document_no: Mapped[str | None] = mapped_column(String(100), default=None)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IntakeEvent(Base):
    """Every event received, once per (sender, event id): what it said, when it happened, when it
    arrived, and whether it was applied or refused (with the reason). The same event twice finds
    its row and changes nothing."""

    __tablename__ = "supervision_events"
    __scope_column__ = "division_code"
    __table_args__ = (
        UniqueConstraint("sender_id", "event_id", name="uq_supervision_events_sender_event"),
        Index("ix_supervision_events_case_at", "case_id", "event_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    sender_id: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    event_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    payload: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))  # applied / refused
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    case_id: Mapped[str | None] = mapped_column(String(32), default=None)
    division_code: Mapped[str | None] = mapped_column(String(12), default=None)
