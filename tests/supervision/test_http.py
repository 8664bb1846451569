"""The supervision routes over real HTTP: the batch intake with its answer per event, a lawful
exception recorded with approver and document number (board, audit chain, no breach), and
another county's user answered 404 for the case, its persons and its property."""

from __future__ import annotations

import json
from datetime import datetime

import httpx
from sqlalchemy import Engine, select

from civicgrid.audit.models import AuditEntry
from civicgrid.authz.scoping import unscoped
from civicgrid.db import transaction
from civicgrid.kit.clock import FakeClock
from tests.conftest import LiveServer, Yongzhou
from tests.factories import assert_out_of_scope_404, auth_headers, login, make_user_committed
from tests.supervision.helpers import alerts_about, clocks_of, cst, run_timers, station

URL = "/api/v1/supervision"


def _post(server: LiveServer, token: str, sender: str, events: list[dict[str, object]]) -> httpx.Response:
    return httpx.post(f"{server.url}{URL}/events", json={"sender": sender, "events": events},
                      headers=auth_headers(token), timeout=30)


def _event(event_id: str, kind: str, at: str, /, **data: object) -> dict[str, object]:
    return {"event_id": event_id, "kind": kind, "at": cst(at).isoformat(), "data": data}


def test_batch_family_notice_exception_and_scope(engine: Engine, live_server: LiveServer, yongzhou: Yongzhou,
                                                 clock: FakeClock) -> None:
    clock.set(cst("2026-09-30 23:00"))
    township = yongzhou.village_in("431102")[:9] + "000"
    unit = station(engine, township)
    centre = make_user_committed(engine, role="supervision_centre_staff", division_code=yongzhou.lingling)
    officer = make_user_committed(engine, role="case_officer", division_code=township)
    other = make_user_committed(engine, role="supervision_centre_staff", division_code=yongzhou.lengshuitan)
    tokens = {u: login(live_server.url, u.username) for u in (centre, officer, other)}
    h = auth_headers(tokens[centre])

    # No permission to send: a case officer.
    assert _post(live_server, tokens[officer], "sys", [_event("x", "case.opened", "2026-09-30 21:00")]
                 ).status_code == 403

    answer = _post(live_server, tokens[centre], "ga-431102", [
        _event("e1", "case.opened", "2026-09-30 21:00", case="C1", kind="criminal", unit_id=unit, title="王某盗窃案",
               category="盗窃", amount_fen=1250000, incident_no="110-20260930-0031", officers=["民警 刘强"],
               persons=[{"id": "P1", "role": "suspect", "name": "王小明", "id_number": "431102199001011234"}]),
        _event("e2", "measure.started", "2026-09-30 21:40", case="C1", measure="D1", kind="criminal_detention",
               person="P1"),
        _event("e3", "property.moved", "2026-09-30 21:50", case="C1", item="I1", action="seize", description="手机",
               measure="seized", value_fen=350000, owner_name="王小明", label_no="LB-001", to_holder="保管员 赵"),
        _event("e4", "case.stage_changed", "2026-09-30 22:00", case="C1", stage="prosecution_review"),
        _event("e5", "measure.ended", "2026-09-30 22:00", case="NOPE", measure="D1"),
    ])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["applied"], body["refused"]) == (3, 2), body
    refused = {r["event_id"]: r for r in body["results"] if r["outcome"] == "refused"}
    assert refused["e4"]["field"] == "stage" and "accepted" in refused["e4"]["reason"]
    assert refused["e5"]["field"] == "case"

    cases = httpx.get(f"{live_server.url}{URL}/cases", headers=h).json()
    case_id = next(c["id"] for c in cases["items"] if c["external_id"] == "C1")
    detail = httpx.get(f"{live_server.url}{URL}/cases/{case_id}", headers=h).json()
    assert detail["persons"][0]["name"] == "王**" and "19900101" not in (detail["persons"][0]["id_number"] or "")
    assert detail["property"][0]["owner_name"] == "王**"
    notice = next(c for c in detail["clocks"] if c["rule_code"] == "detention_family_notice")
    assert datetime.fromisoformat(notice["due_at"]) == cst("2026-10-01 22:00")
    assert [t["kind"] for t in detail["timeline"]][:3] == ["case.opened", "measure.started", "property.moved"]

    # Lawful exception: family notice impossible (刑事诉讼法 2018 Art. 85(2)), approver + document no.
    path = f"{URL}/clocks/{notice['id']}/exceptions"
    missing = httpx.post(f"{live_server.url}{path}", json={"kind": "family_notice_impossible", "approver": "李局长"},
                         headers=auth_headers(tokens[officer]))
    assert missing.status_code == 422
    wrong = httpx.post(f"{live_server.url}{path}", json={"kind": "appraisal", "approver": "李局长",
                                                          "document_no": "D"}, headers=auth_headers(tokens[officer]))
    assert wrong.status_code == 422 and "family_notice_impossible" in wrong.text
    assert_out_of_scope_404(live_server.url, tokens[other], path, "POST",
                            json={"kind": "family_notice_impossible", "approver": "李局长", "document_no": "D"})
    done = httpx.post(f"{live_server.url}{path}", json={"kind": "family_notice_impossible", "approver": "李局长",
                                                        "document_no": "零公（刑）字〔2026〕88号",
                                                        "note": "嫌疑人拒报家属信息，经查无法联系"},
                      headers=auth_headers(tokens[officer]))
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "excepted"
    board = httpx.get(f"{live_server.url}{URL}/board", headers=h).json()
    assert any(x["clock_id"] == notice["id"] and x["document_no"] == "零公（刑）字〔2026〕88号"
               for x in board["exceptions"])
    with transaction(engine) as session:
        audited = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "supervision_clock_exceptions",
                                                           unscoped("test"))).all()
        assert any("零公（刑）字〔2026〕88号" in (a.after or "") and "李局长" in (a.after or "") for a in audited)
    # An excepted limit never breaches; the delivery limit of the same detention does.
    clock.set(cst("2026-10-01 22:00"))
    run_timers(engine)
    tokens = {u: login(live_server.url, u.username) for u in (centre, officer, other)}  # a day later
    h = auth_headers(tokens[centre])
    by_rule = clocks_of(engine, "C1")
    assert by_rule["detention_family_notice"].status == "excepted"
    assert not [a for a in alerts_about(engine, notice["id"]) if a.rule_code.startswith("supervision.breach")]
    assert by_rule["detention_to_custody"].status == "breached"
    # …and no exception can be recorded on a breached limit.
    late = httpx.post(f"{live_server.url}{URL}/clocks/{by_rule['detention_to_custody'].id}/exceptions",
                      json={"kind": "family_notice_impossible", "approver": "李局长", "document_no": "X"},
                      headers=auth_headers(tokens[officer]))
    assert late.status_code in (409, 422)

    # Another county: 404 for the case, its persons, its property; an empty list.
    person_id, item_id = detail["persons"][0]["id"], detail["property"][0]["id"]
    for p in (f"{URL}/cases/{case_id}", f"{URL}/persons/{person_id}", f"{URL}/property/{item_id}"):
        assert_out_of_scope_404(live_server.url, tokens[other], p)
        assert httpx.get(f"{live_server.url}{p}", headers=h).status_code == 200
    listed = httpx.get(f"{live_server.url}{URL}/cases", headers=auth_headers(tokens[other])).json()
    assert case_id not in {c["id"] for c in listed["items"]}
    item = httpx.get(f"{live_server.url}{URL}/property/{item_id}", headers=h).json()
    assert item["chain"][0]["to_holder"] == "保管员 赵"


def test_rule_catalogue_route_shows_disabled_rules(engine: Engine, live_server: LiveServer, yongzhou: Yongzhou,
                                                   clock: FakeClock) -> None:
    user = make_user_committed(engine, role="case_officer", division_code=yongzhou.lingling)
    rules = httpx.get(f"{live_server.url}{URL}/rules", headers=auth_headers(login(live_server.url, user.username)))
    assert rules.status_code == 200
    by_code = {r["code"]: r for r in rules.json()}
    assert by_code["summons_duration"]["enabled_today"] is True
    psa = by_code["psa_case"]  # the fake clock stands in 2026: the 2025 revision is in force, unverified
    assert psa["enabled_today"] is False and "未经官方文本核实" in psa["disabled_reason"]
    assert [v["valid_until"] for v in psa["versions"]] == ["2025-12-31", None]
    assert json.dumps(by_code["incident_without_case"]["status"]) == '"planned"'
    assert by_code["stale_case"]["enabled_today"] is True  # the city's own practice, labelled so


def test_file_upload_names_row_and_column(engine: Engine, live_server: LiveServer, yongzhou: Yongzhou,
                                          clock: FakeClock) -> None:
    """The same events by CSV, for units without an interface: applied rows, and refusals naming
    the row (header = row 1) and the column."""
    clock.set(cst("2026-10-05 12:00"))
    township = yongzhou.village_in("431102")[:9] + "000"
    unit = station(engine, township)
    centre = make_user_committed(engine, role="supervision_centre_staff", division_code=yongzhou.lingling)
    h = auth_headers(login(live_server.url, centre.username))
    text = "\n".join([
        "event_id,event,at,case,kind,unit_id,title,measure,person,person_name,stage,amount_fen",
        f"u1,case.opened,2026-10-05 08:00,CSV1,criminal,{unit},表格报送案件,,,,,120000",
        "u2,measure.started,2026-10-05 08:30,CSV1,summons,,,S1,P1,李四,,",
        "u3,case.stage_changed,2026-10-05 09:00,CSV1,,,,,,,prosecution_review,",
        "u4,measure.started,昨天,CSV1,summons,,,S2,P1,,,",
        "u5,case.opened,2026-10-05 08:00,CSV2,criminal,{unit},金额有误,,,,,十二元".replace("{unit}", unit),
    ])
    response = httpx.post(f"{live_server.url}{URL}/events/upload", headers=h, data={"sender": "station-upload"},
                          files={"file": ("events.csv", text.encode("utf-8-sig"), "text/csv")}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["applied"], body["refused"]) == (2, 3), body
    by_row = {r["row"]: r for r in body["results"]}
    assert by_row[2]["outcome"] == by_row[3]["outcome"] == "applied"
    assert (by_row[4]["outcome"], by_row[4]["column"]) == ("refused", "stage")
    assert (by_row[5]["outcome"], by_row[5]["column"]) == ("refused", "at")
    assert (by_row[6]["outcome"], by_row[6]["column"]) == ("refused", "amount_fen")
    assert clocks_of(engine, "CSV1")["summons_duration"].due_at == cst("2026-10-05 20:30")
