"""Demo disputes for 零陵区 (names marked 演示): the county joint mediation centre, township and
village mediation committees, a registry of mediators (the five elders of every kind, a lawyer),
disputes at every stage of their life cycle, and the last period's screening reports for half of
the village committees (zero reports included), so the daily check warns about the other half.

Every write goes through the disputes service and the workflow kit (audited like any other);
idempotent: nothing is done when the demo centre already exists.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from civicgrid.audit.service import set_actor, system_actor
from civicgrid.authz.principal import Principal
from civicgrid.db import transaction
from civicgrid.disputes import service as disputes
from civicgrid.disputes.schemas import AgreementIn, DisputeCreate, MediatorIn, PartyIn, ScreeningIn
from civicgrid.kit.clock import CHINA_TZ, utcnow
from civicgrid.people.orgs import service as orgs
from civicgrid.simulate import repository

LINGLING = "431102000000"
DEMO = "（演示）"
CENTRE = "零陵区矛盾纠纷多元化解中心" + DEMO
# The demo acts for the system (role "system": the workflow's system actor) with the city's scope,
# so the scoped reads of the services apply as they do to a real caller.
SYSTEM = Principal(
    user_id="",
    username="demo",
    role="system",
    division_code="431100000000",
    jurisdiction="4311",
    permissions=frozenset({"*"}),
    display_name="演示数据 / demo",
)

ELDERS = [
    ("retired_cadre", "周国庆"),
    ("teacher", "蒋淑芬"),
    ("veteran", "唐建军"),
    ("party_member", "何春生"),
    ("model_worker", "陈桂兰"),
]
SCENARIOS = [  # title, category, complexity, what happens
    ("邻里排水沟纠纷", "neighbours", "simple", "oral"),
    ("宅基地界址纠纷", "housing_homestead", "general", "written"),
    ("山林边界纠纷", "land_forest", "complex", "transfer_written"),
    ("赡养老人纠纷", "marriage_family", "general", "mediating"),
    ("装修噪音纠纷", "neighbours", "simple", "failed"),
    ("拖欠工资纠纷", "labour", "general", "routed"),
    ("物业费纠纷", "property_management", "general", "refused"),
    ("买卖合同纠纷", "contract", "general", "registered"),
]


def _today() -> date:
    return utcnow().astimezone(CHINA_TZ).date()


def _parties() -> list[PartyIn]:
    return [
        PartyIn(
            kind="person",
            role="applicant",
            full_name="蒋大伯",
            doc_type="resident_id",
            id_number="11010519491231002X",
            phone="13800138000",
        ),
        PartyIn(kind="person", role="respondent", full_name="唐二嫂", doc_type="none"),
    ]


def seed_disputes(engine: Engine, *, echo: Callable[[str], None] = print) -> int:
    """Create the demo mediation bodies, mediators, disputes and screening reports once; returns
    the number of disputes created (0 when the demo exists)."""
    with transaction(engine) as session:
        set_actor(session, system_actor("demo"))
        units, _total = orgs.list_units(session, SYSTEM, limit=200, offset=0, type_code="joint_mediation_centre")
        if any(u.name == CENTRE for u in units):
            return 0
        echo("创建演示矛盾纠纷、调解组织与调解员 / creating demo disputes, mediation bodies and mediators …")
        return _seed(session)


def _seed(session: Session) -> int:
    centre = orgs.create_unit(
        session, None, name=CENTRE, type_code="joint_mediation_centre", division_code=LINGLING, demo=True
    )
    townships = repository.divisions_at(session, "township", LINGLING[:6])[:2]
    created = 0
    villages_seen: list[str] = []
    for t_code, t_name in townships:
        township = orgs.create_unit(
            session,
            None,
            name=f"{t_name}人民调解委员会{DEMO}",
            type_code="township_mediation",
            division_code=t_code,
            demo=True,
        )
        villages = repository.divisions_at(session, "village", t_code[:9])[:3]
        for index, (v_code, v_name) in enumerate(villages):
            village = orgs.create_unit(
                session,
                None,
                name=f"{v_name}人民调解委员会{DEMO}",
                type_code="village_mediation",
                division_code=v_code,
                demo=True,
            )
            villages_seen.append(v_code)
            kind, name = ELDERS[index % len(ELDERS)]
            elder = disputes.add_mediator(
                session,
                SYSTEM,
                MediatorIn(
                    full_name=name,
                    category="five_elders",
                    elder_kind=kind,
                    specialties=["neighbours", "marriage_family"],
                    org_unit_id=village.id,
                ),
            )
            grid = repository.first_grid(session, v_code)
            if grid is None:
                continue
            for title, category, complexity, fate in SCENARIOS[index::3]:
                dispute = disputes.register(
                    session,
                    SYSTEM,
                    DisputeCreate(
                        title=title,
                        summary=f"{v_name}{title}（演示）",
                        happened_on=_today() - timedelta(days=3),
                        division_code=grid,
                        category=category,
                        source="screening",
                        complexity=complexity,
                        parties=_parties(),
                        unit_id=None if fate == "registered" else village.id,
                    ),
                )
                created += 1
                _play(session, dispute.id, fate, elder.id, township.id)
    disputes.add_mediator(
        session,
        SYSTEM,
        MediatorIn(full_name="赵明律", category="lawyer", specialties=["contract", "labour"], org_unit_id=centre.id),
    )
    # The last due week's screening reports: half the committees file (zero reports count).
    start, _end = disputes.last_due_period("village", utcnow())
    for v_code in villages_seen[::2]:
        disputes.file_screening(
            session,
            SYSTEM,
            ScreeningIn(division_code=v_code, period_start=start, found=0, note="本周未发现矛盾纠纷（零报告，演示）"),
        )
    disputes.check_screening(session)
    return created


def _play(session: Session, dispute_id: str, fate: str, mediator_id: str, township_unit_id: str) -> None:
    def act(action: str, note: str | None = None, **data: object) -> None:
        disputes.act(session, SYSTEM, dispute_id, action, note=note, data=dict(data))

    if fate in ("registered", "routed"):
        return
    if fate == "refused":
        act("refuse", "被申请人表示不同意调解（演示）")
        return
    act("accept", mediator_id=mediator_id)
    if fate == "mediating":
        disputes.record_session(
            session,
            SYSTEM,
            dispute_id,
            held_at=None,
            participants="双方当事人",
            notes="初次调解，双方同意再谈",
            result="progress",
        )
        return
    if fate == "failed":
        disputes.record_session(
            session, SYSTEM, dispute_id, held_at=None, participants="双方当事人", notes="分歧较大", result="failed"
        )
        act("report_police", "双方扬言械斗，已报告派出所（演示）")
        act("fail", "双方分歧较大，已告知其他途径", routes=["litigation"])
        # 治安防范到位 has something to count: a failed one that turned criminal afterwards.
        act("record_turned", "调解不成后双方发生打斗，公安机关已立案（演示）", kind="criminal")
        return
    if fate == "oral":
        act("settle_oral", terms="当场疏通排水沟，互不追究")
        disputes.return_visit(
            session, SYSTEM, dispute_id, performed="performed", note="回访：已疏通，双方无异议（演示）"
        )
        return
    if fate == "transfer_written":
        for _ in range(2):
            disputes.record_session(
                session,
                SYSTEM,
                dispute_id,
                held_at=None,
                participants="双方当事人",
                notes="村级调解未果",
                result="failed",
            )
        act("transfer", "两次调解不成，提请乡镇调委会", unit_id=township_unit_id)
        act("accept")
    disputes.draft_agreement(
        session,
        SYSTEM,
        dispute_id,
        AgreementIn(
            facts="双方因界址发生争执",
            issues="界址",
            responsibilities="双方均有责任",
            terms="以老界碑为准重新立界",
            performance="现场立界",
            perform_by=_today() + timedelta(days=14),
        ),
    )
    detail = disputes.detail(session, SYSTEM, dispute_id)
    for party in detail.parties:
        disputes.sign(session, SYSTEM, dispute_id, party_id=party.id, mediator=False)
    disputes.sign(session, SYSTEM, dispute_id, party_id=None, mediator=True)
    disputes.seal(session, SYSTEM, dispute_id)
