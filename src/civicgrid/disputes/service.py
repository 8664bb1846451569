"""The rules of the disputes module: registration (once), parties, the life cycle, sessions,
agreements, mediators, hand-offs in, screening reports and the figures. Flushes, never commits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from civicgrid.alerts import service as alerts
from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import jurisdiction_prefix
from civicgrid.disputes import catalogue, early_warning, repository, sheet
from civicgrid.disputes.models import (
    Agreement,
    Dispute,
    DisputeParty,
    MediationSession,
    Mediator,
    ScreeningReport,
)
from civicgrid.disputes.schemas import (
    AgreementIn,
    DisputeCreate,
    MediatorIn,
    PartyIn,
    ScreeningIn,
)
from civicgrid.disputes.workflow import (
    AGREEMENT_WORKFLOW,
    DISPUTE_WORKFLOW,
    RULES,
    SESSION_WORKFLOW,
    check_data,
    handles,
    level_of,
)
from civicgrid.events import service as events
from civicgrid.events.models import DomainEvent
from civicgrid.files import service as files
from civicgrid.files.models import StoredFile
from civicgrid.geo import service as geo
from civicgrid.kit.clock import CHINA_TZ, utcnow
from civicgrid.kit.errors import AppError, Invalid, NotFound
from civicgrid.kit.personal import lookup_hash
from civicgrid.kit.pii import normalize_phone, validate_resident_id, validate_uscc
from civicgrid.kit.printing import Document
from civicgrid.numbering import service as numbering
from civicgrid.reveal import service as reveal
from civicgrid.timers import periodic
from civicgrid.workflow.engine import SYSTEM, Workflow
from civicgrid.workflow.models import TimelineEvent

_PASSPORT = re.compile(r"^[A-Z0-9]{5,20}$")
_DOC_NUMBER = re.compile(r"^[A-Z0-9]{5,32}$")


def _no_agreement() -> AppError:
    return AppError(
        "该纠纷尚无书面调解协议", "The dispute has no written agreement yet", status=409, code="no_agreement"
    )


def _not_open() -> AppError:
    return AppError(
        "纠纷不在调解中，不能执行此操作", "The dispute is not being mediated", status=409, code="dispute_not_mediating"
    )


# ---------------------------------------------------------------- registration


def _number(session: Session, at: datetime) -> str:
    """JF + the local day + the day's sequence (numbering; numbers given before it had a random
    six-character suffix, so the two forms never meet)."""
    day, seq = numbering.next_number(session, "dispute", at)
    return f"JF{day}{seq:05d}"


def _place(
    session: Session, principal: Principal, body: DisputeCreate
) -> tuple[str, str | None, float | None, float | None]:
    """(division or grid code, grid code, lng, lat): a map pin snapped to its grid; else words the
    gazetteer resolves to one place or division; else the division code given."""
    lng, lat = body.lng, body.lat
    if (lng is None) != (lat is None):
        raise Invalid("经纬度须同时填写", "Give both longitude and latitude", details={"field": "lng"})
    if lng is None and body.place and not body.division_code:
        from civicgrid.gazetteer import service as gazetteer

        found = gazetteer.search(session, body.place, limit=5).selected
        if found is not None:
            if found.entry.lng is not None and found.entry.lat is not None:
                lng, lat = found.entry.lng, found.entry.lat
            else:
                code = found.entry.code
                return code, None, None, None
    if lng is not None and lat is not None:
        grid = geo.locate_code(session, lng, lat)
        if grid is None:
            raise Invalid("该位置不在任何网格内", "That point lies in no grid", details={"field": "lng"})
        return grid, grid, lng, lat
    if body.division_code:
        return body.division_code, (body.division_code if len(body.division_code) == 15 else None), None, None
    raise Invalid(
        "请标注地点（地图点位、地名或区划）",
        "Give the place: a map point, a place name or a division",
        details={"field": "place"},
    )


def check_party(raw: PartyIn) -> dict[str, Any]:
    """A party's fields, validated: a GB 11643 number (resident ID, HK/Macao/Taiwan residence
    permit) with a wrong check digit is refused; other document numbers only for their form; an
    organisation's unified social credit code by its GB 32100 check character."""
    values: dict[str, Any] = {"kind": raw.kind, "role": raw.role, "doc_type": raw.doc_type}
    if raw.kind == "person":
        name = " ".join((raw.full_name or "").split())
        if not name:
            raise Invalid("当事人姓名必填", "A person's name is required", details={"field": "full_name"})
        values["full_name"] = name
        number = (raw.id_number or "").strip().upper()
        if raw.doc_type == "none":
            if number:
                raise Invalid(
                    "未选证件类型时不应填写证件号码",
                    "No document type: leave the number empty",
                    details={"field": "id_number"},
                )
        elif not number:
            raise Invalid("证件号码必填", "The document number is required", details={"field": "id_number"})
        elif raw.doc_type in catalogue.GB11643_DOC_TYPES:
            number = validate_resident_id(number)
        elif raw.doc_type == "passport" and not _PASSPORT.match(number):
            raise Invalid(
                "护照号码格式不正确（5–20 位字母或数字）",
                "Passport number: 5 to 20 letters or digits",
                details={"field": "id_number"},
            )
        elif not _DOC_NUMBER.match(number):
            raise Invalid(
                "证件号码格式不正确", "Document number: letters and digits only", details={"field": "id_number"}
            )
        if number:
            values["id_number"] = number
            values["id_number_hash"] = lookup_hash(f"{raw.doc_type}:{number}", "dispute_parties.id_number")
        if raw.phone:
            values["phone"] = normalize_phone(raw.phone)
        if raw.address:
            values["address"] = " ".join(raw.address.split())
        if raw.org_name or raw.uscc:
            raise Invalid(
                "个人当事人不填写单位信息", "A person has no organisation fields", details={"field": "org_name"}
            )
    else:
        org = " ".join((raw.org_name or "").split())
        if not org:
            raise Invalid("单位名称必填", "An organisation's name is required", details={"field": "org_name"})
        values["org_name"] = org
        values["doc_type"] = "none"
        if raw.uscc:
            values["uscc"] = validate_uscc(raw.uscc)
        if raw.phone:
            values["phone"] = normalize_phone(raw.phone)
        if raw.full_name or raw.id_number:
            raise Invalid(
                "单位当事人不填写个人证件", "An organisation has no personal document", details={"field": "full_name"}
            )
    return values


def register(session: Session, principal: Principal, body: DisputeCreate) -> Dispute:
    """Register a dispute once (and route it when ``unit_id`` is given)."""
    catalogue.category(body.category)
    code, grid, lng, lat = _place(session, principal, body)
    if not principal.governs(code) and principal.role != SYSTEM.role:
        raise Invalid(
            "只能登记本辖区内的纠纷",
            "You can only register disputes inside your jurisdiction",
            details={"field": "division_code"},
        )
    if body.source == "court":
        if not body.court_mode or body.court_receipt_at is None:
            raise Invalid(
                "法院委派/委托调解须填写方式和签收时间",
                "A court referral needs its mode and the signed receipt",
                details={"field": "court_mode"},
            )
    elif body.court_mode or body.court_receipt_at:
        raise Invalid(
            "只有法院移送的纠纷填写委派/委托方式",
            "Only a court referral has a court mode",
            details={"field": "court_mode"},
        )
    parties = [check_party(p) for p in body.parties]
    now = utcnow()
    dispute = Dispute(
        number=_number(session, now),
        title=body.title.strip(),
        summary=body.summary,
        happened_on=body.happened_on,
        place=body.place,
        lng=lng,
        lat=lat,
        grid_code=grid,
        division_code=code,
        category=body.category,
        scale=body.scale,
        people_involved=body.people_involved,
        amount_fen=body.amount_fen,
        source=body.source,
        risk_level=body.risk_level,
        complexity=body.complexity,
        court_mode=body.court_mode,
        court_receipt_at=body.court_receipt_at.astimezone(UTC) if body.court_receipt_at else None,
        registered_at=now,
        registered_by=principal.user_id or None,
        overdue=False,
        failed_attempts=0,
        transfers=0,
        police_reported=False,
        threats=0,
    )
    DISPUTE_WORKFLOW.start(
        session,
        dispute,
        principal,
        action="register",
        status="registered",
        data={"source": body.source, "category": body.category},
    )
    for values in parties:
        session.add(DisputeParty(dispute_id=dispute.id, division_code=dispute.division_code, **values))
    session.flush()
    if body.unit_id:
        DISPUTE_WORKFLOW.transition(session, dispute, "route", principal, data={"unit_id": body.unit_id})
    early_warning.evaluate(session, dispute)
    return dispute


def get(session: Session, principal: Principal, dispute_id: str) -> Dispute:
    dispute = repository.get(session, principal, dispute_id)
    if dispute is None:
        raise NotFound()
    return dispute


def listing(
    session: Session,
    principal: Principal,
    *,
    status: str | None,
    mediator_id: str | None,
    handler_unit_id: str | None,
    limit: int,
    offset: int,
) -> tuple[int, list[Dispute]]:
    return repository.listing(
        session,
        principal,
        status=status,
        mediator_id=mediator_id,
        handler_unit_id=handler_unit_id,
        limit=limit,
        offset=offset,
    )


@dataclass
class Detail:
    dispute: Dispute
    parties: list[DisputeParty]
    sessions: list[MediationSession]
    agreement: Agreement | None
    timeline: list[TimelineEvent]
    allowed: list[str]


def detail(session: Session, principal: Principal, dispute_id: str) -> Detail:
    dispute = get(session, principal, dispute_id)
    from civicgrid.disputes.workflow import allowed_actions

    return Detail(
        dispute,
        repository.parties_of(session, dispute.id, principal),
        repository.sessions_of(session, dispute.id, principal),
        repository.agreement_of(session, dispute.id, principal),
        repository.timeline_of(session, dispute.id, principal),
        allowed_actions(dispute, principal),
    )


def act(
    session: Session, principal: Principal, dispute_id: str, action: str, *, note: str | None, data: dict[str, Any]
) -> Dispute:
    dispute = get(session, principal, dispute_id)
    if action == "settle_written":
        raise Invalid(
            "书面协议经盖章生效后自动结案",
            "A written agreement settles the dispute when it is sealed",
            details={"field": "action"},
        )
    DISPUTE_WORKFLOW.transition(session, dispute, action, principal, note=note, data=check_data(action, data))
    session.flush()
    early_warning.evaluate(session, dispute)
    return dispute


# ---------------------------------------------------------------- sessions


def record_session(
    session: Session,
    principal: Principal,
    dispute_id: str,
    *,
    held_at: datetime | None,
    participants: str,
    notes: str,
    result: str,
) -> MediationSession:
    """A mediation session of the handling body; a failed session counts as a failed attempt."""
    dispute = get(session, principal, dispute_id)
    if dispute.status != "mediating":
        raise _not_open()
    if not handles(dispute, principal):
        raise AppError(
            "只有承办单位可以记录调解", "Only the handling body records sessions", status=409, code="not_handler"
        )
    row = MediationSession(
        dispute_id=dispute.id,
        division_code=dispute.division_code,
        handler_unit_id=dispute.handler_unit_id,
        mediator_id=dispute.mediator_id,
        held_at=(held_at or utcnow()).astimezone(UTC),
        participants=participants,
        notes=notes,
        result=result,
        recorded_by=principal.user_id or None,
    )
    SESSION_WORKFLOW.start(
        session, row, principal, action="record", status="held", note=notes[:200] or None, data={"result": result}
    )
    if result == "failed":
        dispute.failed_attempts += 1
    session.flush()
    early_warning.evaluate(session, dispute)
    return row


# ---------------------------------------------------------------- session attachments

ATTACHMENT_KINDS = ("photo", "voice", "document", "agreement")
files.register_owner(repository.SESSION_FILES, repository.visible_session_ids)


def attach(
    session: Session,
    principal: Principal,
    dispute_id: str,
    session_id: str,
    *,
    kind: str,
    content: bytes,
    file_name: str | None,
) -> StoredFile:
    """Attach a file (a photo of the scene, a recording, a case document, the scanned signed
    agreement) to a session, in the file store: the kind's type (by its bytes) and size are the
    store's checks. Only the handling body attaches."""
    dispute = get(session, principal, dispute_id)
    if kind not in ATTACHMENT_KINDS:
        raise Invalid(
            "kind：photo、voice、document 或 agreement",
            "kind: photo, voice, document or agreement",
            details={"field": "kind"},
        )
    if not handles(dispute, principal):
        raise AppError(
            "只有承办单位可以上传调解材料", "Only the handling body attaches files", status=409, code="not_handler"
        )
    if not any(s.id == session_id for s in repository.sessions_of(session, dispute.id, principal)):
        raise Invalid("该调解记录不属于本纠纷", "No such session of this dispute", details={"field": "session_id"})
    return files.store(
        session,
        principal,
        owner_type=repository.SESSION_FILES,
        owner_id=session_id,
        division_code=dispute.division_code,
        kind=kind,
        content=content,
        file_name=file_name,
    )


def attachments(session: Session, session_ids: list[str]) -> dict[str, list[StoredFile]]:
    out: dict[str, list[StoredFile]] = {}
    for f in repository.attachments_of(session, session_ids):
        out.setdefault(f.owner_id, []).append(f)
    return out


# ---------------------------------------------------------------- agreements


def draft_agreement(session: Session, principal: Principal, dispute_id: str, body: AgreementIn) -> Agreement:
    dispute = get(session, principal, dispute_id)
    if dispute.status != "mediating":
        raise _not_open()
    if not handles(dispute, principal):
        raise AppError(
            "只有承办单位可以制作调解协议",
            "Only the handling body drafts the agreement",
            status=409,
            code="not_handler",
        )
    if repository.agreement_of(session, dispute.id, principal) is not None:
        raise AppError(
            "该纠纷已有调解协议", "The dispute has an agreement already", status=409, code="agreement_exists"
        )
    row = Agreement(
        dispute_id=dispute.id,
        division_code=dispute.division_code,
        kind="written",
        facts=body.facts,
        issues=body.issues,
        responsibilities=body.responsibilities,
        terms=body.terms,
        performance=body.performance,
        perform_by=body.perform_by,
        created_at=utcnow(),
    )
    AGREEMENT_WORKFLOW.start(session, row, principal, action="draft", status="drafted")
    session.flush()
    return row


def _agreement(session: Session, principal: Principal, dispute: Dispute) -> Agreement:
    row = repository.agreement_of(session, dispute.id, principal)
    if row is None:
        raise _no_agreement()
    return row


def sign(session: Session, principal: Principal, dispute_id: str, *, party_id: str | None, mediator: bool) -> Agreement:
    """Record a signature (a party's, or the mediator's) on the written agreement."""
    dispute = get(session, principal, dispute_id)
    row = _agreement(session, principal, dispute)
    if bool(party_id) == bool(mediator):
        raise Invalid(
            "请指定签名的当事人或调解员（二选一）",
            "Name one signer: a party or the mediator",
            details={"field": "party_id"},
        )
    if not handles(dispute, principal):
        raise AppError(
            "只有承办单位可以记录签名", "Only the handling body records signatures", status=409, code="not_handler"
        )
    now = utcnow()
    if party_id:
        party = next((p for p in repository.parties_of(session, dispute.id, principal) if p.id == party_id), None)
        if party is None:
            raise Invalid("该当事人不属于本纠纷", "No such party of this dispute", details={"field": "party_id"})
        AGREEMENT_WORKFLOW.transition(session, row, "sign", principal, data={"party_id": party.id})
        party.signed_at = now
    else:
        AGREEMENT_WORKFLOW.transition(session, row, "sign", principal, data={"mediator": True})
        row.mediator_signed_at = now
    session.flush()
    return row


def seal(session: Session, principal: Principal, dispute_id: str) -> Agreement:
    """Apply the committee's seal: the written agreement takes effect (Art. 29) and the dispute is
    settled by the body handling it."""
    dispute = get(session, principal, dispute_id)
    row = _agreement(session, principal, dispute)
    if dispute.status != "mediating":
        raise _not_open()
    AGREEMENT_WORKFLOW.transition(session, row, "seal", principal, note="各方签名、加盖印章，协议生效")
    session.flush()
    DISPUTE_WORKFLOW.transition(session, dispute, "settle_written", principal, note="书面调解协议生效")
    session.flush()
    return row


def judicial(
    session: Session, principal: Principal, dispute_id: str, *, action: str, decision: str | None, note: str | None
) -> Agreement:
    dispute = get(session, principal, dispute_id)
    row = _agreement(session, principal, dispute)
    if action == "apply":
        AGREEMENT_WORKFLOW.transition(session, row, "apply_confirmation", principal, note=note)
    else:
        if decision not in ("confirmed", "rejected"):
            raise Invalid(
                "decision：confirmed 或 rejected", "decision: confirmed or rejected", details={"field": "decision"}
            )
        AGREEMENT_WORKFLOW.transition(
            session, row, "record_court_decision", principal, note=note, data={"decision": decision}
        )
    session.flush()
    return row


def return_visit(session: Session, principal: Principal, dispute_id: str, *, performed: str, note: str) -> Agreement:
    """Record a return visit (履行回访) on an effective agreement: performed, partly or not."""
    dispute = get(session, principal, dispute_id)
    row = _agreement(session, principal, dispute)
    AGREEMENT_WORKFLOW.transition(session, row, "return_visit", principal, note=note, data={"performed": performed})
    session.flush()
    return row


# ---------------------------------------------------------------- personal data: reveal and print


PARTY_FIELDS = frozenset({"full_name", "id_number", "phone", "address"})


@dataclass(frozen=True)
class AgreementSheet:
    """What a printed agreement shows in clear: its parties (the reveal's one field)."""

    dispute: Dispute
    agreement: Agreement
    parties: list[DisputeParty]

    @property
    def division_code(self) -> str:
        return self.dispute.division_code


def _load_party(session: Session, principal: Principal, party_id: str) -> DisputeParty:
    dispute_id, _, pid = party_id.partition(":")
    party = next((p for p in repository.parties_of(session, dispute_id, principal) if p.id == pid), None)
    if party is None:
        raise NotFound()
    return party


def _load_sheet(session: Session, principal: Principal, dispute_id: str) -> AgreementSheet:
    dispute = get(session, principal, dispute_id)
    agreement = repository.agreement_of(session, dispute.id, principal)
    if agreement is None or agreement.kind != "written":
        raise _no_agreement()
    return AgreementSheet(dispute, agreement, repository.parties_of(session, dispute.id, principal))


reveal.register(reveal.Revealable("dispute_party", "dispute_parties", _load_party, PARTY_FIELDS))
reveal.register(reveal.Revealable("mediation_agreement", "mediation_agreements", _load_sheet, frozenset({"parties"})))


def reveal_party(
    session: Session, principal: Principal, dispute_id: str, party_id: str, field: str, purpose: str
) -> str | None:
    """One field of one party in clear, through the audited reveal."""
    get(session, principal, dispute_id)
    return reveal.reveal(session, principal, "dispute_party", f"{dispute_id}:{party_id}", field, purpose)


def print_agreement(session: Session, principal: Principal, dispute_id: str, purpose: str) -> tuple[str, str]:
    """The written agreement (调解协议书, Art. 29) as a printable page with the parties in clear and
    the viewer's watermark. Printing is a reveal: one audit entry."""

    def build(row: AgreementSheet, clear: dict[str, Any]) -> Document:
        unit_name = None
        if row.dispute.settled_unit_id or row.dispute.handler_unit_id:
            unit_id = row.dispute.settled_unit_id or row.dispute.handler_unit_id or ""
            unit = repository.unit_for_routing(session, unit_id)
            unit_name = unit.name if unit else None
        return sheet.document(
            row.dispute, row.agreement, row.parties, unit_name=unit_name, purpose=" ".join(purpose.split())
        )

    page, document = reveal.print_document(
        session, principal, "mediation_agreement", dispute_id, ["parties"], purpose, build
    )
    return page, document.reference


# ---------------------------------------------------------------- mediators


def add_mediator(session: Session, principal: Principal, body: MediatorIn) -> Mediator:
    unit = repository.unit_for_routing(session, body.org_unit_id)
    if unit is None or not principal.governs(unit.division_code):
        raise Invalid(
            "所属机构不存在或不在本辖区", "No such org unit in your jurisdiction", details={"field": "org_unit_id"}
        )
    if (body.category == "five_elders") != (body.elder_kind is not None):
        raise Invalid(
            "五老调解员须注明类别（老干部、老教师、老退役军人、老党员、老劳模），其他调解员不填",
            "A five-elders mediator names the kind (retired cadre, teacher, veteran, old party member, "
            "model worker); other mediators do not",
            details={"field": "elder_kind"},
        )
    for code in body.specialties:
        catalogue.category(code)
    row = Mediator(
        full_name=" ".join(body.full_name.split()),
        phone=normalize_phone(body.phone) if body.phone else None,
        category=body.category,
        elder_kind=body.elder_kind,
        specialties=",".join(dict.fromkeys(body.specialties)),
        org_unit_id=unit.id,
        division_code=unit.division_code,
        user_id=body.user_id,
        active=True,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def mediators(
    session: Session, principal: Principal, *, org_unit_id: str | None, category: str | None, limit: int, offset: int
) -> tuple[int, list[Mediator], dict[str, int], dict[str, dict[str, int]]]:
    total, rows = repository.mediators(
        session, principal, org_unit_id=org_unit_id, category=category, limit=limit, offset=offset
    )
    ids = [m.id for m in rows]
    return total, rows, repository.open_loads(session, ids), repository.outcomes_of(session, ids)


def suggest_mediators(
    session: Session, principal: Principal, dispute_id: str
) -> list[tuple[Mediator, int, dict[str, int], float]]:
    """Mediators for a dispute, best first: specialty in the dispute's category (+2), nearness
    (the dispute's village +2, township +1, county 0), minus the open load (-0.5 each)."""
    dispute = get(session, principal, dispute_id)
    code = dispute.division_code[:12]
    chain = [code, code[:9] + "000", code[:6] + "000000"]
    rows = repository.mediators_near(session, chain)
    loads = repository.open_loads(session, [m.id for m in rows])
    outcomes = repository.outcomes_of(session, [m.id for m in rows])
    scored = []
    for m in rows:
        score = 2.0 if dispute.category in m.specialties.split(",") else 0.0
        score += {0: 2.0, 1: 1.0}.get(chain.index(m.division_code), 0.0)
        score -= 0.5 * loads.get(m.id, 0)
        scored.append((m, loads.get(m.id, 0), outcomes.get(m.id, {}), score))
    return sorted(scored, key=lambda t: -t[3])[:10]


# ---------------------------------------------------------------- hand-offs in


def _register_handoff(
    session: Session,
    *,
    title: str,
    summary: str,
    at: datetime,
    code: str,
    grid: str | None,
    category: str,
    source: str,
    matter_id: str | None = None,
    incident_id: str | None = None,
    place: str | None = None,
    people: int = 2,
) -> Dispute:
    dispute = Dispute(
        number=_number(session, utcnow()),
        title=title[:120],
        summary=summary[:2000],
        happened_on=at.astimezone(CHINA_TZ).date(),
        place=place,
        grid_code=grid,
        division_code=grid or code,
        category=category,
        scale="general",
        people_involved=people,
        amount_fen=0,
        source=source,
        risk_level="low",
        complexity="general",
        registered_at=utcnow(),
        matter_id=matter_id,
        incident_id=incident_id,
        overdue=False,
        failed_attempts=0,
        transfers=0,
        police_reported=False,
        threats=0,
    )
    DISPUTE_WORKFLOW.start(
        session,
        dispute,
        SYSTEM,
        action="register",
        status="registered",
        data={"source": source, "matter_id": matter_id, "incident_id": incident_id},
    )
    session.flush()
    early_warning.evaluate(session, dispute)
    return dispute


@events.subscribe("matters.dispute_reported", "disputes.register_matter")
def on_matter_handed_off(session: Session, event: DomainEvent) -> None:
    """A matter of a dispute type was handed off (its catalogue ``handoff``): registered once here."""
    data = event.data
    if repository.by_matter(session, str(data["matter_id"])) is not None:
        return
    _register_handoff(
        session,
        title=f"{data['type_name']}（事项 {data['number']}）",
        summary=str(data["summary"]),
        at=datetime.fromisoformat(str(data["reported_at"])),
        code=str(data["division_code"]),
        grid=data.get("grid_code"),
        category=catalogue.category_for_matter_type(str(data["type_code"])),
        source="matter",
        matter_id=str(data["matter_id"]),
    )


@events.subscribe("dispatch.mediation_requested", "disputes.register_incident")
def on_police_transfer(session: Session, event: DomainEvent) -> None:
    """警调对接: a police incident better settled by mediation, registered once here."""
    data = event.data
    if repository.by_incident(session, str(data["incident_id"])) is not None:
        return
    _register_handoff(
        session,
        title=f"警调对接（警情 {data['incident_id']}）",
        summary=str(data["summary"]),
        at=datetime.fromisoformat(str(data["happened_at"])),
        code=str(data["division_code"]),
        grid=data.get("grid_code"),
        category="other",
        source="police",
        incident_id=str(data["incident_id"]),
        place=data.get("place"),
        people=int(data.get("party_count") or 2),
    )


# ---------------------------------------------------------------- screening (排查)


def _month_end(day: date) -> date:
    nxt = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def period_of(every: str, day: date) -> tuple[date, date]:
    """The reporting period holding ``day``: a week (Monday–Sunday), a half month (1–15, 16–end)
    or a month."""
    if every == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if every == "half_month":
        if day.day <= 15:
            return day.replace(day=1), day.replace(day=15)
        return day.replace(day=16), _month_end(day)
    if every == "month":
        return day.replace(day=1), _month_end(day)
    raise ValueError(f"unknown screening period {every!r}")


def screening_due(level: str, period_end: date) -> datetime:
    """24:00 (Asia/Shanghai) of the period's last day plus the grace days (local practice)."""
    grace = int(catalogue.practice()["screening"][level]["grace_days"])
    day = period_end + timedelta(days=grace + 1)
    return datetime.combine(day, time(0, 0), tzinfo=CHINA_TZ).astimezone(UTC)


def level_of_body(division_code: str) -> str:
    level = level_of(division_code)
    if level not in catalogue.practice()["screening"]:
        raise Invalid(
            "该区划层级不报送排查报告", "No screening report is due at that level", details={"field": "division_code"}
        )
    return level


SCREENING_WORKFLOW = Workflow("dispute_screening_report", [])


def file_screening(session: Session, principal: Principal, body: ScreeningIn) -> ScreeningReport:
    """File a screening report for the period starting ``period_start``; ``found`` = 0 is a zero report."""
    if not principal.governs(body.division_code):
        raise NotFound()
    level = level_of_body(body.division_code)
    every = catalogue.practice()["screening"][level]["every"]
    start, end = period_of(every, body.period_start)
    if start != body.period_start:
        raise Invalid(
            f"报告期应从 {start.isoformat()} 开始",
            f"The period starts on {start.isoformat()}",
            details={"field": "period_start"},
        )
    if repository.screening_report(session, body.division_code, level, start) is not None:
        raise AppError(
            "该期排查报告已报送", "The report of that period is filed already", status=409, code="screening_filed"
        )
    now = utcnow()
    due = screening_due(level, end)
    row = ScreeningReport(
        division_code=body.division_code,
        level=level,
        period_start=start,
        period_end=end,
        due_at=due,
        found=body.found,
        note=body.note,
        filed_at=now,
        filed_by=principal.user_id or None,
        on_time=now <= due,
    )
    SCREENING_WORKFLOW.start(
        session,
        row,
        principal,
        action="file",
        status="filed",
        note="零报告" if body.found == 0 else f"排查发现 {body.found} 起",
    )
    session.flush()
    return row


def screening_reports(
    session: Session, principal: Principal, *, start: date | None, end: date | None, limit: int, offset: int
) -> tuple[int, list[ScreeningReport]]:
    return repository.screening_reports(session, principal, start=start, end=end, limit=limit, offset=offset)


def last_due_period(level: str, now: datetime) -> tuple[date, date]:
    """The latest period of ``level`` whose report was due by ``now``."""
    every = catalogue.practice()["screening"][level]["every"]
    start, end = period_of(every, now.astimezone(CHINA_TZ).date())
    while screening_due(level, end) > now:
        start, end = period_of(every, start - timedelta(days=1))
    return start, end


def check_screening(session: Session, now: datetime | None = None) -> list[str]:
    """Raise a warning for every mediation body whose latest due report is missing (a zero report
    counts as filed). Returns the codes warned. Run daily by the periodic job."""
    now = now or utcnow()
    types_by_level: dict[str, list[str]] = catalogue.practice()["screening_unit_types"]
    warned: list[str] = []
    for level, types in types_by_level.items():
        start, end = last_due_period(level, now)
        seen: set[str] = set()
        for unit in repository.units_of_types(session, types):
            if unit.division_code in seen or level_of(unit.division_code) != level:
                continue
            seen.add(unit.division_code)
            if repository.screening_report(session, unit.division_code, level, start) is not None:
                continue
            due = screening_due(level, end).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
            alerts.raise_alert(
                session,
                rule=RULES["screening"],
                level="yellow",
                reasons=[
                    alerts.Reason(
                        f"{unit.name} {start.isoformat()} 至 {end.isoformat()} 的矛盾纠纷排查报告"
                        f"应于 {due} 前报送，尚未报送（无纠纷也须零报告）",
                        f"{unit.name}: the screening report for {start.isoformat()}–{end.isoformat()} "
                        f"was due by {due} and is not filed (a zero report is required when "
                        "nothing was found)",
                    )
                ],
                division_code=unit.division_code,
                source_type="screening_period",
                source_id=f"{unit.division_code}:{level}:{start.isoformat()}",
                source_label=unit.name,
            )
            warned.append(unit.division_code)
    return warned


@periodic.job(
    "disputes.screening_check", zh="矛盾纠纷排查报告逾期检查", en="Overdue screening reports", daily_at=time(1, 0)
)
def _screening_job(session: Session) -> None:
    check_screening(session)


# ---------------------------------------------------------------- figures


def _rate(num: int, den: int) -> float | None:
    return None if den == 0 else round(num / den, 4)


def figures(session: Session, principal: Principal, division_code: str, start: date, end: date) -> dict[str, Any]:
    """The figures of a division and an inclusive range of local dates (docs/figures.md)."""
    if end < start or (end - start).days > 3700:
        raise Invalid("日期范围不正确", "Invalid date range", details={"field": "end"})
    try:
        prefix = jurisdiction_prefix(division_code)
    except ValueError as exc:
        raise Invalid("区划代码不正确", "Invalid division code", details={"field": "division_code"}) from exc
    if not (prefix.startswith(principal.jurisdiction) or principal.jurisdiction.startswith(prefix)):
        raise NotFound()
    lo = datetime.combine(start, time(0, 0), tzinfo=CHINA_TZ).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time(0, 0), tzinfo=CHINA_TZ).astimezone(UTC)
    rows = repository.figure_rows(session, principal, prefix, lo, hi)
    received = sum(1 for d in rows if lo <= d.registered_at < hi)
    concluded = [d for d in rows if d.concluded_at is not None and lo <= d.concluded_at < hi]
    settled = [d for d in concluded if d.status == "settled"]
    failed = sum(1 for d in concluded if d.status == "failed")
    refused = sum(1 for d in concluded if d.status == "refused")
    levels = {lv: sum(1 for d in settled if d.settled_level == lv) for lv in ("village", "township", "county", "city")}
    agreements = repository.agreements_in(session, principal, prefix, lo, hi)
    reports = repository.screening_in(session, principal, prefix, start, end)
    cohort = [d for d in rows if lo <= d.registered_at < hi]
    ring = _ring_near(session, cohort, min(hi, utcnow()))
    return {
        "division_code": division_code,
        "start": start,
        "end": end,
        "received": received,
        "concluded": len(concluded),
        "settled": len(settled),
        "failed": failed,
        "refused": refused,
        "success_rate": _rate(len(settled), len(settled) + failed),
        "settled_levels": levels,
        "settled_level_shares": {lv: _rate(n, len(settled)) for lv, n in levels.items()},
        "on_time_rate": _rate(sum(1 for d in concluded if not d.overdue), len(concluded)),
        "agreements_effective": sum(1 for a in agreements if a.kind == "written"),
        "judicial_applied": sum(1 for a in agreements if a.judicial_status != "none"),
        "judicial_confirmed": sum(1 for a in agreements if a.judicial_status == "confirmed"),
        "return_visited": sum(1 for a in agreements if a.visited_at is not None),
        "agreements_performed": sum(1 for a in agreements if a.performance_status == "performed"),
        "screening_due": len(reports),
        "screening_on_time": sum(1 for r in reports if r.on_time),
        "screening_on_time_rate": _rate(sum(1 for r in reports if r.on_time), len(reports)),
        "police_referred": sum(1 for d in cohort if d.police_reported),
        "turned_criminal": sum(1 for d in cohort if d.turned_criminal_at is not None),
        "turned_collective": sum(1 for d in cohort if d.turned_collective_at is not None),
        "turned_rate": _rate(
            sum(1 for d in cohort if d.turned_criminal_at is not None or d.turned_collective_at is not None),
            received,
        ),
        "ring_calls": len(ring),
        "ring_arrived": sum(1 for hit in ring.values() if hit is not None),
        "ring_hit": sum(1 for hit in ring.values() if hit),
        "ring_hit_rate": _rate(sum(1 for hit in ring.values() if hit), sum(1 for h in ring.values() if h is not None)),
    }


def _ring_near(session: Session, disputes: list[Dispute], until: datetime) -> dict[str, bool | None]:
    """Rapid response at the disputes' places (治安防范到位): the police calls received within the
    early-warning radius of each dispute's point while it was open (registration to conclusion,
    or ``until``), by incident, with whether the first unit arrived within its 1-3-5 ring (None:
    none arrived). Read through ``response.service.calls_near``, the one way to read calls by place."""
    from civicgrid.response import service as response

    radius = float(early_warning.config()["police_calls"]["radius_m"])
    found: dict[str, bool | None] = {}
    for d in disputes:
        if d.lng is None or d.lat is None:
            continue
        end = min(d.concluded_at or until, until)
        if end <= d.registered_at:
            continue
        for call in response.calls_near(session, d.lng, d.lat, since=d.registered_at, until=end, radius_m=radius):
            found[call.incident_id] = call.ring_hit
    return found


FIGURE_COLUMNS = [
    ("received", "受理数", "Received"),
    ("concluded", "办结数", "Concluded"),
    ("settled", "调解成功", "Settled"),
    ("failed", "调解不成", "Failed"),
    ("refused", "拒绝调解", "Refused"),
    ("success_rate", "调解成功率", "Success rate"),
    ("settled_village", "村级化解", "Settled at village"),
    ("settled_township", "乡镇级化解", "Settled at township"),
    ("settled_county", "县级化解", "Settled at county"),
    ("settled_city", "市级化解", "Settled at city"),
    ("on_time_rate", "按期办结率", "On-time rate"),
    ("agreements_effective", "书面协议生效", "Written agreements"),
    ("judicial_applied", "申请司法确认", "Judicial confirmation applied"),
    ("judicial_confirmed", "司法确认", "Judicially confirmed"),
    ("return_visited", "已回访协议", "Agreements visited"),
    ("agreements_performed", "回访确认已履行", "Performed (confirmed by return visit)"),
    ("screening_on_time_rate", "排查报告按时率", "Screening reports on time"),
    ("police_referred", "报告公安机关（第25条）", "Reported to the police (Art. 25)"),
    ("turned_criminal", "民转刑", "Turned into criminal cases"),
    ("turned_collective", "转为群体性事件", "Turned into collective incidents"),
    ("turned_rate", "民转刑及群体性事件发生率", "Turned criminal or collective (share of received)"),
    ("ring_calls", "纠纷发生地警情", "Police calls at dispute places"),
    ("ring_hit_rate", "快反圈达标率（纠纷发生地警情）", "Ring hit rate (calls at dispute places)"),
]


def figures_xlsx(session: Session, principal: Principal, division_code: str, start: date, end: date) -> bytes:
    from civicgrid.kit.excel import Column, write_xlsx

    values = figures(session, principal, division_code, start, end)
    flat = {**values, **{f"settled_{lv}": n for lv, n in values["settled_levels"].items()}}
    columns = [
        Column("division_code", "区划", "Division"),
        Column("start", "起", "From"),
        Column("end", "止", "To"),
        *[Column(key, zh, en) for key, zh, en in FIGURE_COLUMNS],
    ]
    return write_xlsx(columns, [flat], sheet="矛盾纠纷 Disputes")


# ---------------------------------------------------------------- early-warning heat map


def warning_heat(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """The open early-warning (and limit) warnings on disputes the caller may see, counted by the
    grid where each dispute happened (its division when no grid is known): warnings, disputes,
    the gravest level, and the grid's name and point for the map."""
    order = early_warning.LEVELS
    warnings = alerts.open_by_source(session, principal, "dispute", "disputes.")
    places = repository.places_of(session, principal, [w[0] for w in warnings])
    cells: dict[str, dict[str, Any]] = {}
    for dispute_id, rule_code, level in warnings:
        if dispute_id not in places:
            continue
        grid, division = places[dispute_id]
        cell = cells.setdefault(
            grid or division, {"code": grid or division, "warnings": 0, "disputes": set(), "level": "blue", "rules": {}}
        )
        cell["warnings"] += 1
        cell["disputes"].add(dispute_id)
        cell["rules"][rule_code] = cell["rules"].get(rule_code, 0) + 1
        if level in order and order.index(level) > order.index(cell["level"]):
            cell["level"] = level
    points = geo.grid_points_of(session, [c for c in cells if len(c) == 15])
    names = geo.names_of(session, [c for c in cells if len(c) != 15])
    out = []
    for code, cell in cells.items():
        name, lng, lat = points.get(code, (names.get(code, code), None, None))
        out.append({**cell, "disputes": len(cell["disputes"]), "name": name, "lng": lng, "lat": lat})
    return sorted(out, key=lambda c: (-c["warnings"], c["code"]))


# ---------------------------------------------------------------- routing choices and the workbench


def handler_choices(session: Session, principal: Principal, dispute_id: str) -> list[tuple[Any, str]]:
    """(org unit, handler kind) of the bodies the dispute may be routed or transferred to: the
    mediation bodies filed on its chain of divisions, the lowest level first."""
    dispute = get(session, principal, dispute_id)
    code = dispute.division_code[:12]
    chain = [code, code[:9] + "000", code[:6] + "000000", code[:4] + "00000000"]
    types = [t for _zh, _en, kinds in catalogue.HANDLER_KINDS.values() for t in kinds]
    units = repository.handler_candidates(session, chain, types)
    rank = {"village": 0, "township": 1, "county": 2, "city": 3}
    units.sort(key=lambda u: (rank.get(level_of(u.division_code), 4), u.division_code, u.name))  # lowest level first
    return [(u, catalogue.handler_kind_of(u.type_code) or "") for u in units if u.id != dispute.handler_unit_id]


@dataclass
class Workbench:
    files: list[Dispute]
    sessions_today: list[MediationSession]
    deadlines: list[Dispute]


def workbench(session: Session, principal: Principal, now: datetime | None = None) -> Workbench:
    """The mediator's workbench: the open files the caller handles (or mediates), the sessions
    held today on them, and the limits that end within three days or have passed."""
    now = now or utcnow()
    files = repository.workbench_files(session, principal, principal.jurisdiction, principal.user_id or None)
    today = now.astimezone(CHINA_TZ).date()
    start = datetime.combine(today, time(0, 0), tzinfo=CHINA_TZ).astimezone(UTC)
    sessions = repository.sessions_between(session, [d.id for d in files], start, start + timedelta(days=1))
    soon = now + timedelta(days=3)
    deadlines = [d for d in files if d.due_at is not None and (d.overdue or d.due_at <= soon)]
    return Workbench(files, sessions, deadlines)


def place_names(session: Session, codes: list[str]) -> dict[str, str]:
    """Names of grids (15 digits) and divisions (12 digits), for pages that name places, not codes."""
    grids = geo.grid_names_of(session, [c for c in codes if len(c) == 15])
    return {**geo.names_of(session, [c for c in codes if len(c) == 12]), **grids}
