"""The supervision figures (docs/figures.md, 执法监督统计口径) over real HTTP, each computed by hand
from a small set of records: cases received, filed and closed by event time; breaches by rule and
unit; warnings acknowledged in time; measures by kind and duration; property seized, held, held
after its case ended, returned. A unit's figures take in the units under it; another county's
user gets 404; the Excel export carries the same numbers."""

from __future__ import annotations

import io
from datetime import timedelta

import httpx
from openpyxl import load_workbook
from sqlalchemy import Engine

from civicgrid.alerts import service as alerts
from civicgrid.audit.service import set_actor, system_actor
from civicgrid.authz.principal import Principal
from civicgrid.db import transaction
from civicgrid.kit.clock import FakeClock
from civicgrid.people.orgs import service as orgs
from civicgrid.supervision import catalogue
from tests.conftest import LiveServer, Yongzhou
from tests.factories import assert_out_of_scope_404, auth_headers, login, make_user_committed
from tests.supervision.helpers import alerts_about, clocks_of, cst, ev, ingester, send, station

URL = "/api/v1/supervision/figures"
LINGLING = "431122000000"  # 东安县: a county no other supervision test writes in (the figures are exact)
OTHER = "431128000000"  # 新田县


def _unit(engine: Engine, type_code: str, parent: str | None = None) -> str:
    with transaction(engine) as session:
        set_actor(session, system_actor("test"))
        return orgs.create_unit(session, None, name=f"测试{type_code}", type_code=type_code, division_code=LINGLING,
                                parent_id=parent).id


def _feed(engine: Engine, clock: FakeClock, who: Principal, events: list[tuple[str, str, dict[str, object]]],
          sender: str = "ga-431122-fig") -> None:
    """Each event received a minute after it happened, in order."""
    for kind, at, data in events:
        clock.set(cst(at) + timedelta(minutes=1))
        result = send(engine, who, [ev(kind, cst(at), **data)], sender=sender)
        assert result.applied == 1, result


def test_figures_from_the_records(engine: Engine, live_server: LiveServer, yongzhou: Yongzhou,
                                  clock: FakeClock) -> None:
    branch = _unit(engine, "police_branch")
    u = _unit(engine, "police_station", branch)  # under the branch
    w = _unit(engine, "police_station")
    who = ingester(LINGLING)
    clock.set(cst("2026-10-04 19:00"))
    _feed(engine, clock, who, [
        ("case.opened", "2026-10-04 20:00", dict(case="FIG3", kind="criminal", unit_id=u, title="C3 诈骗案")),
        ("case.opened", "2026-10-05 09:00", dict(case="FIG1", kind="criminal", unit_id=u, title="C1 盗窃案",
                                                 persons=[{"id": "P1", "role": "suspect", "name": "王小明"}])),
        ("case.stage_changed", "2026-10-05 09:05", dict(case="FIG3", stage="filed")),
        ("measure.started", "2026-10-05 09:10", dict(case="FIG1", measure="S1", kind="summons", person="P1")),
        ("property.moved", "2026-10-05 10:00", dict(case="FIG1", item="I1", action="seize", description="手机",
                                                    measure="seized", value_fen=350000, to_holder="民警 刘")),
        ("property.moved", "2026-10-05 10:01", dict(case="FIG1", item="I2", action="seize", description="现金",
                                                    measure="seized", value_fen=100000, to_holder="民警 刘")),
        ("property.moved", "2026-10-05 12:00", dict(case="FIG1", item="I1", action="transfer", from_holder="民警 刘",
                                                    to_holder="保管员 赵")),
        # 传唤 from 09:10 runs 12 hours (刑事诉讼法 Art. 119): leaving at 23:00 breaches at 21:10.
        ("person.entered", "2026-10-05 09:10", dict(case="FIG1", person="P1", area="BA1")),
        ("person.left", "2026-10-05 23:00", dict(case="FIG1", person="P1", area="BA1")),
        ("measure.started", "2026-10-05 23:00", dict(case="FIG1", measure="D1", kind="criminal_detention",
                                                     person="P1")),
        ("document.issued", "2026-10-06 08:00", dict(case="FIG1", doc_type="custody_receipt", measure="D1")),
        ("document.issued", "2026-10-06 08:30", dict(case="FIG1", doc_type="family_notice", measure="D1")),
        ("document.issued", "2026-10-06 09:00", dict(case="FIG1", doc_type="interrogation_record", measure="D1")),
        ("case.opened", "2026-10-06 09:00", dict(case="FIG2", kind="administrative", unit_id=w, title="C2 殴打他人",
                                                 persons=[{"id": "Q", "role": "offender"}])),
        ("measure.started", "2026-10-06 09:10", dict(case="FIG2", measure="Q1", kind="questioning", person="Q")),
        ("measure.ended", "2026-10-06 12:10", dict(case="FIG2", measure="Q1")),
        ("case.stage_changed", "2026-10-06 12:10", dict(case="FIG2", stage="investigating")),
        ("case.stage_changed", "2026-10-06 12:30", dict(case="FIG1", stage="filed")),
        ("case.stage_changed", "2026-10-07 09:00", dict(case="FIG2", stage="decided")),
        ("property.moved", "2026-10-07 09:00", dict(case="FIG1", item="I1", action="return", from_holder="保管员 赵",
                                                    to_holder="被害人 李")),
        ("case.stage_changed", "2026-10-07 10:00", dict(case="FIG2", stage="executed")),
        ("case.stage_changed", "2026-10-08 10:00", dict(case="FIG1", stage="prosecution_review")),
        ("measure.ended", "2026-10-08 10:00", dict(case="FIG1", measure="D1", reason="transferred")),
        ("case.stage_changed", "2026-10-10 09:00", dict(case="FIG3", stage="withdrawn")),  # after the range
    ])
    # Another county's case: never in 零陵's figures.
    cold = station(engine, OTHER)
    _feed(engine, clock, ingester(OTHER), [
        ("case.opened", "2026-10-10 10:00", dict(case="FIGL1", kind="criminal", unit_id=cold, title="L1 盗窃案"))],
        sender="ga-431128-fig")
    summons = clocks_of(engine, "FIG1")["summons_duration"]
    assert summons.status == "breached" and summons.breached_at == cst("2026-10-05 21:10")
    [breach] = alerts_about(engine, summons.id)
    assert breach.raised_at == cst("2026-10-05 23:01")  # raised when the leaving was received
    handler = Principal(user_id="", username="duty", role="case_officer", division_code=LINGLING,
                        jurisdiction="431122", permissions=frozenset({"alerts.read", "alerts.handle"}))
    clock.set(cst("2026-10-05 23:20"))
    with transaction(engine) as session:
        set_actor(session, system_actor("test"))
        alerts.act(session, handler, breach.id, "acknowledge", note=None)

    staff = make_user_committed(engine, role="supervision_centre_staff", division_code=LINGLING)
    other = make_user_committed(engine, role="supervision_centre_staff", division_code=OTHER)
    token, other_token = login(live_server.url, staff.username), login(live_server.url, other.username)
    q = "start=2026-10-05&end=2026-10-09"
    got = httpx.get(f"{live_server.url}{URL}?division_code={LINGLING}&{q}", headers=auth_headers(token))
    assert got.status_code == 200, got.text
    f = got.json()
    assert f["cases"] == {"received": 2, "received_criminal": 1, "received_administrative": 1, "filed": 2,
                          "closed": 2}
    assert f["breaches"]["total"] == 1
    assert [(r["rule_code"], r["count"]) for r in f["breaches"]["by_rule"]] == [("summons_duration", 1)]
    assert [(r["unit_id"], r["unit_name"], r["count"]) for r in f["breaches"]["by_unit"]] == [(u, "测试police_station",
                                                                                             1)]
    assert f["warnings"] == {"raised": 1, "withdrawn": 0, "acknowledged_in_time": 1, "acknowledged_late": 0,
                             "not_acknowledged": 0, "in_time_rate": 1.0}
    measures = {m["kind"]: m for m in f["measures"]}
    assert set(measures) == {"summons", "criminal_detention", "questioning"}
    assert (measures["summons"]["started"], measures["summons"]["ended"]) == (1, 1)
    assert measures["summons"]["avg_hours"] == round((cst("2026-10-05 23:00") - cst("2026-10-05 09:10"))
                                                     .total_seconds() / 3600, 2)
    assert measures["criminal_detention"]["max_hours"] == 59.0 and measures["questioning"]["avg_hours"] == 3.0
    assert measures["criminal_detention"]["name_zh"] == "刑事拘留"
    assert f["property"] == {"seized": 2, "seized_value_fen": 450000, "held_at_end": 1, "held_value_fen": 100000,
                             "held_after_case_ended": 1, "overdue_for_disposal": 0, "returned": 1, "disposed": 0}
    # The cash still held when FIG1 went for prosecution (10-08) has its disposal limit (city practice,
    # 30 days): a range ending after it counts the item overdue.
    later = httpx.get(f"{live_server.url}{URL}?division_code={LINGLING}&start=2026-10-01&end=2026-11-30",
                      headers=auth_headers(token)).json()
    assert later["property"]["held_at_end"] == 1 and later["property"]["overdue_for_disposal"] == 1

    # A unit takes in the units under it: the branch sees C1 and C3, the other station C2.
    by_branch = httpx.get(f"{live_server.url}{URL}?division_code={LINGLING}&unit_id={branch}&{q}",
                          headers=auth_headers(token)).json()
    assert by_branch["cases"] == {"received": 1, "received_criminal": 1, "received_administrative": 0, "filed": 2,
                                  "closed": 1}
    assert by_branch["unit_name"] == "测试police_branch" and by_branch["breaches"]["total"] == 1
    by_w = httpx.get(f"{live_server.url}{URL}?division_code={LINGLING}&unit_id={w}&{q}",
                     headers=auth_headers(token)).json()
    assert (by_w["cases"]["received"], by_w["cases"]["closed"], by_w["breaches"]["total"]) == (1, 1, 0)
    # A range that ends before 10-08: C1 not yet closed, so its cash is held but not "after the case ended".
    early = httpx.get(f"{live_server.url}{URL}?division_code={LINGLING}&start=2026-10-05&end=2026-10-06",
                      headers=auth_headers(token)).json()
    assert early["property"]["held_at_end"] == 2 and early["property"]["held_after_case_ended"] == 0
    assert early["cases"]["closed"] == 0 and early["cases"]["filed"] == 2

    # Another county: 404 for 零陵 and for its units; the city's figures show only its own case.
    assert_out_of_scope_404(live_server.url, other_token, f"{URL}?division_code={LINGLING}&{q}")
    assert_out_of_scope_404(live_server.url, other_token, f"{URL}?division_code=431100000000&unit_id={u}&{q}")
    city = httpx.get(f"{live_server.url}{URL}?division_code=431100000000&start=2026-10-01&end=2026-10-31",
                     headers=auth_headers(other_token)).json()
    assert city["cases"]["received"] == 1

    xlsx = httpx.get(f"{live_server.url}{URL}/export?division_code={LINGLING}&{q}", headers=auth_headers(token))
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    rows = {r[0]: r[2] for r in sheet.iter_rows(min_row=3, values_only=True)}
    assert rows["受案数"] == 2 and rows["办结数（移送起诉、不予立案、撤案、执行完毕、不予处罚）"] == 2
    assert rows[f"超期：{catalogue.rules()['summons_duration'].name_zh}"] == 1
    assert rows["超期：测试police_station"] == 1 and rows["传唤：期内开始"] == 1
    assert rows["案结未处置（件）"] == 1 and rows["预警按时签收率"] == 1.0
