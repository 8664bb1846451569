"""Disputes (矛盾纠纷) registered once, their parties, mediators, sessions, agreements and the
periodic screening reports (排查).

A dispute belongs where it happened: ``division_code`` is the 12-digit village (or the division
given at intake when no grid is known) and ``grid_code`` the grid; scoping uses
``division_code``. The body handling it now (``handler_unit_id``, an org unit) and the body that
settled it (``settled_*``) are recorded beside it, so the figures can say where each dispute was
settled (化解层级). Personal data of parties and mediators (names, ID numbers, phones, home
addresses) are :class:`~civicgrid.kit.personal.Personal` columns.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civicgrid.db import Base, UTCDateTime
from civicgrid.kit.ids import new_id
from civicgrid.kit.personal import Personal


class Source(StrEnum):
    """Where a dispute came from."""

    SCREENING = "screening"  # 网格排查
    WALK_IN = "walk_in"  # 来访申请调解
    HOTLINE = "hotline_12345"  # 12345 热线
    POLICE = "police"  # 警调对接（公安移送）
    COURT = "court"  # 法院委派/委托（诉前、诉中）
    PETITION = "petition"  # 信访转办
    MATTER = "matter"  # 事项移交（网格上报的纠纷类事项）


class Scale(StrEnum):
    """事件规模. GB/T 31000 code values were not found (shared/domain §1): our own codes."""

    GENERAL = "general"  # 一般
    LARGE = "large"  # 较大
    MAJOR = "major"  # 重大
    EXTRAORDINARY = "extraordinary"  # 特别重大


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Complexity(StrEnum):
    """Which local-practice limit applies to people's mediation (简易 / 一般 / 复杂)."""

    SIMPLE = "simple"
    GENERAL = "general"
    COMPLEX = "complex"


class CourtMode(StrEnum):
    """Court referrals (最高人民法院关于人民法院特邀调解的规定 2016 Art. 27)."""

    PRE_FILING = "pre_filing"  # 诉前委派调解: 30 days
    ENTRUSTED_ORDINARY = "entrusted_ordinary"  # 委托调解，普通程序: 15 days
    ENTRUSTED_SUMMARY = "entrusted_summary"  # 委托调解，简易程序: 7 days


class Dispute(Base):
    """A dispute file (矛盾纠纷档案): registered once, routed to one handler at a time, mediated,
    and ended as settled (written or oral agreement), failed (with the routes left, 人民调解法
    Art. 26) or refused (a party declined, Art. 17)."""

    __tablename__ = "disputes"
    __scope_column__ = "division_code"
    __table_args__ = (
        Index(
            "ix_disputes_division_code_pattern",
            "division_code",
            postgresql_ops={"division_code": "varchar_pattern_ops"},
        ),
        Index("ix_disputes_division_status", "division_code", "status"),
        Index("ix_disputes_registered_at", "registered_at"),
        Index("ix_disputes_handler_unit", "handler_unit_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    title: Mapped[str] = mapped_column(String(120), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False, default="")
    happened_on: Mapped[date] = mapped_column(Date, nullable=False)
    place: Mapped[str | None] = mapped_column(String(200))  # where it happened (a place, not a person's home)
    lng: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True)
    division_code: Mapped[str] = mapped_column(String(15), nullable=False)
    category: Mapped[str] = mapped_column(String(32), nullable=False)
    scale: Mapped[str] = mapped_column(String(16), nullable=False)
    people_involved: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    amount_fen: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    risk_level: Mapped[str] = mapped_column(String(8), nullable=False)
    complexity: Mapped[str] = mapped_column(String(8), nullable=False)
    court_mode: Mapped[str | None] = mapped_column(String(24))
    court_receipt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # 签收 of a court referral
    matter_id: Mapped[str | None] = mapped_column(String(32), unique=True)  # handed off from the matters queue
    incident_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # 警调对接
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    registered_by: Mapped[str | None] = mapped_column(String(32))
    handler_kind: Mapped[str | None] = mapped_column(String(24))
    handler_unit_id: Mapped[str | None] = mapped_column(String(32))
    handler_division_code: Mapped[str | None] = mapped_column(String(12))
    handler_level: Mapped[str | None] = mapped_column(String(16))
    routed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    mediator_id: Mapped[str | None] = mapped_column(String(32), index=True)
    mediation_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)  # the limit now running
    limit_basis: Mapped[str | None] = mapped_column(String(64))  # statutory rule code or "local_practice:<n>d"
    overdue: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    failed_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    transfers: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    police_reported: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    threats: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # threats recorded (early warning)
    # 治安防范到位: when the dispute was recorded as turned into a criminal case (民转刑) or a
    # collective incident (群体性事件) — the ``record_turned`` action, open or concluded.
    turned_criminal_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    turned_collective_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))  # written | oral | failed | refused
    other_routes: Mapped[str | None] = mapped_column(String(100))  # Art. 26: arbitration,administrative,litigation
    concluded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    settled_level: Mapped[str | None] = mapped_column(String(16))
    settled_division_code: Mapped[str | None] = mapped_column(String(12))
    settled_unit_id: Mapped[str | None] = mapped_column(String(32))


class DisputeParty(Base):
    """A party (当事人): a person or an organisation. A person's name, document number, phone and
    home address are personal data; an organisation's name and unified social credit code are
    not. ``doc_type`` follows GA/T 517's kinds (our codes; the standard's numeric codes were not
    verified)."""

    __tablename__ = "dispute_parties"
    __scope_column__ = "division_code"  # read through its dispute's scope
    __audit_redact__ = frozenset({"id_number_hash"})

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    dispute_id: Mapped[str] = mapped_column(ForeignKey("disputes.id"), nullable=False, index=True)
    division_code: Mapped[str] = mapped_column(String(15), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # person | organisation
    role: Mapped[str] = mapped_column(String(16), nullable=False)  # applicant | respondent | other
    full_name: Mapped[str | None] = mapped_column(Personal("dispute_parties.full_name", "name"))
    org_name: Mapped[str | None] = mapped_column(String(200))
    uscc: Mapped[str | None] = mapped_column(String(18))
    doc_type: Mapped[str] = mapped_column(String(32), nullable=False, default="none")
    id_number: Mapped[str | None] = mapped_column(Personal("dispute_parties.id_number", "id_number"))
    id_number_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    phone: Mapped[str | None] = mapped_column(Personal("dispute_parties.phone", "phone"))
    address: Mapped[str | None] = mapped_column(Personal("dispute_parties.address", "address"))
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # signed the written agreement


class Mediator(Base):
    """A mediator of the registry: the five elders (五老) with their kind, lawyers, professional,
    sector and village mediators; specialties are dispute category codes."""

    __tablename__ = "mediators"
    __scope_column__ = "division_code"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str | None] = mapped_column(String(32), index=True)
    full_name: Mapped[str] = mapped_column(Personal("mediators.full_name", "name"), nullable=False)
    phone: Mapped[str | None] = mapped_column(Personal("mediators.phone", "phone"))
    category: Mapped[str] = mapped_column(String(16), nullable=False)
    elder_kind: Mapped[str | None] = mapped_column(String(24))
    specialties: Mapped[str] = mapped_column(String(400), nullable=False, default="")  # comma-separated codes
    org_unit_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    division_code: Mapped[str] = mapped_column(String(12), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class MediationSession(Base):
    """One mediation session (调解会): when, who took part, what happened. Attachments wait for
    the platform file store."""

    __tablename__ = "mediation_sessions"
    __scope_column__ = "division_code"  # read through its dispute's scope

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    dispute_id: Mapped[str] = mapped_column(ForeignKey("disputes.id"), nullable=False, index=True)
    division_code: Mapped[str] = mapped_column(String(15), nullable=False)
    handler_unit_id: Mapped[str | None] = mapped_column(String(32))
    mediator_id: Mapped[str | None] = mapped_column(String(32))
    held_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    participants: Mapped[str] = mapped_column(Text, nullable=False, default="")
    notes: Mapped[str] = mapped_column(Text, nullable=False, default="")
    result: Mapped[str] = mapped_column(String(16), nullable=False)  # progress | agreed | failed
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    recorded_by: Mapped[str | None] = mapped_column(String(32))


class Agreement(Base):
    """A mediation agreement: written (调解协议书, the content of 人民调解法 Art. 29; effective when
    every party and the mediator signed and the committee's seal is applied, Art. 29 ¶2) or oral
    (Art. 30, effective when agreed). A written one starts the 30-day period to apply for judicial
    confirmation (Art. 33)."""

    __tablename__ = "mediation_agreements"
    __scope_column__ = "division_code"  # read through its dispute's scope
    __table_args__ = (UniqueConstraint("dispute_id", name="uq_mediation_agreements_dispute_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    dispute_id: Mapped[str] = mapped_column(ForeignKey("disputes.id"), nullable=False)
    division_code: Mapped[str] = mapped_column(String(15), nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)  # written | oral
    facts: Mapped[str] = mapped_column(Text, nullable=False, default="")  # 纠纷的主要事实
    issues: Mapped[str] = mapped_column(Text, nullable=False, default="")  # 争议事项
    responsibilities: Mapped[str] = mapped_column(Text, nullable=False, default="")  # 各方当事人的责任
    terms: Mapped[str] = mapped_column(Text, nullable=False)  # 达成协议的内容
    performance: Mapped[str] = mapped_column(Text, nullable=False, default="")  # 履行方式
    perform_by: Mapped[date | None] = mapped_column(Date)  # 履行期限
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    mediator_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    effective_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    judicial_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    judicial_status: Mapped[str] = mapped_column(String(16), nullable=False, default="none")
    judicial_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Performance follow-up (履行回访): unknown until a return visit records performed / partly / not_performed.
    performance_status: Mapped[str] = mapped_column(String(16), nullable=False, default="unknown")
    visited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class ScreeningReport(Base):
    """A periodic screening report (矛盾纠纷排查报告) of a mediation body for one period; a report
    of zero disputes found is a report filed (零报告)."""

    __tablename__ = "dispute_screening_reports"
    __scope_column__ = "division_code"
    __table_args__ = (
        UniqueConstraint("division_code", "level", "period_start", name="uq_dispute_screening_reports_period"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    division_code: Mapped[str] = mapped_column(String(12), nullable=False, index=True)
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    period_start: Mapped[date] = mapped_column(Date, nullable=False)
    period_end: Mapped[date] = mapped_column(Date, nullable=False)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    found: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    filed_by: Mapped[str | None] = mapped_column(String(32))
    on_time: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
