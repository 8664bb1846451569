"""Warnings (预警, issue 14 §3): one closed loop for every module's warnings. A warning raised,
withdrawn for late data, and another escalated (by hand, and by itself when nobody acknowledged
it in time) appear with their reasons on the timeline and in the figures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine

from civicgrid.alerts import service as alerts
from civicgrid.alerts.workflow import ACK_KIND, parent_code
from civicgrid.db import transaction
from civicgrid.kit.clock import Clock, FakeClock, set_clock
from civicgrid.kit.errors import Invalid
from civicgrid.kit.ids import new_id
from civicgrid.timers.worker import TimerWorker
from tests.conftest import LiveServer, Yongzhou
from tests.factories import auth_headers, login, make_user_committed

START = datetime(2030, 5, 6, 1, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    set_clock(fake)
    try:
        yield fake
    finally:
        set_clock(Clock())


def _raise(engine: Engine, village: str, level: str = "orange") -> str:
    rule = alerts.Rule(f"test.risk_{new_id()[-8:]}", "矛盾纠纷风险", "dispute risk", "人民调解法 (2010) 第 25 条")
    with transaction(engine) as session:
        alert = alerts.raise_alert(session, rule=rule, level=level,
                                   reasons=[alerts.Reason("30 日内同一地点报告 3 起邻里纠纷", "3 neighbour disputes "
                                                          "at one place within 30 days")],
                                   division_code=village, source_type="test", source_id=new_id())
        return alert.id


def test_parent_code() -> None:
    assert parent_code("431102001001001") == "431102001001"
    assert parent_code("431102001001") == "431102001000"
    assert parent_code("431102001000") == "431102000000"
    assert parent_code("431102000000") == "431100000000"
    assert parent_code("431100000000") is None


def test_the_loop_over_http(engine: Engine, live_server: LiveServer, yongzhou: Yongzhou, clock: FakeClock) -> None:
    village = yongzhou.village_in("431102")
    township_code = village[:9] + "000"
    villager = make_user_committed(engine, role="village_officer", division_code=village)
    township = make_user_committed(engine, role="township_officer", division_code=township_code)
    county = make_user_committed(engine, role="county_plc_staff", division_code=yongzhou.lingling)
    other = make_user_committed(engine, role="county_plc_staff", division_code=yongzhou.lengshuitan)
    people = (("village", villager), ("township", township), ("county", county), ("other", other))
    h = {name: auth_headers(login(live_server.url, u.username)) for name, u in people}
    url = f"{live_server.url}/api/v1/alerts"

    def act(who: str, alert_id: str, action: str, **body: object) -> httpx.Response:
        return httpx.post(f"{url}/{alert_id}/actions/{action}", json=body, headers=h[who])

    before = httpx.get(f"{url}/figures", headers=h["county"]).json()
    # Other tests' warnings share this database: advancing the clock 8 h below lets the ack timer
    # escalate theirs too, so the escalations are counted from the rows, not assumed to be one.
    escalated_before = httpx.get(url, params={"status": "escalated", "limit": 1}, headers=h["county"]).json()["total"]

    # 1. Raised, then withdrawn for late data: a status with a reason, not a deletion.
    late = _raise(engine, village)
    assert act("village", late, "withdraw", note="数据迟到", reason="late_data").status_code == 409  # no permission
    refused = act("county", late, "withdraw", note="x", reason="because")
    assert refused.status_code == 422 and "late_data" in refused.json()["error"]["message"]  # the payload's schema
    withdrawn = act("county", late, "withdraw", note="报送数据迟到，实际未发生", reason="late_data")
    assert withdrawn.status_code == 200, withdrawn.text
    body = withdrawn.json()
    assert (body["status"], body["withdraw_reason"]) == ("withdrawn", "late_data")
    assert [e["action"] for e in body["timeline"]] == ["raise", "withdraw"]
    assert body["timeline"][0]["from_status"] is None and "邻里纠纷" in body["timeline"][0]["note"]
    assert body["timeline"][1]["note"] == "报送数据迟到，实际未发生"
    assert body["reasons"][0]["zh"].startswith("30 日内") and body["legal_basis"].startswith("人民调解法")

    # 2. Another one, acknowledged by the village and escalated to the township by hand.
    up = _raise(engine, village, "red")
    assert act("village", up, "acknowledge").json()["status"] == "acknowledged"
    assert act("village", up, "escalate").status_code == 422  # a reason is required
    escalated = act("village", up, "escalate", note="涉及多个村，请镇里协调").json()
    assert (escalated["status"], escalated["division_code"]) == ("escalated", township_code)
    seen_above = httpx.get(f"{url}/{up}", headers=h["township"]).json()
    assert seen_above["timeline"][-1]["data"]["to_division"] == township_code
    assert httpx.get(f"{url}/{up}", headers=h["village"]).status_code == 404  # it left the village
    handled = act("township", up, "acknowledge")
    assert handled.json()["status"] == "acknowledged"
    done = act("township", up, "handle", note="镇综治中心组织三村联调，已化解").json()
    assert (done["status"], done["action_taken"]) == ("handled", "镇综治中心组织三村联调，已化解")

    # 3. A third, not acknowledged in time, escalates by itself (yellow: 8 hours).
    quiet = _raise(engine, village, "yellow")
    worker = TimerWorker(engine, kinds=[ACK_KIND])
    clock.advance(timedelta(hours=7, minutes=59))
    worker.run_due()
    h = {name: auth_headers(login(live_server.url, u.username)) for name, u in people}  # tokens idle out
    assert httpx.get(f"{url}/{quiet}", headers=h["county"]).json()["status"] == "raised"
    clock.advance(timedelta(minutes=2))
    while worker.run_due():
        pass
    h = {name: auth_headers(login(live_server.url, u.username)) for name, u in people}
    auto = httpx.get(f"{url}/{quiet}", headers=h["county"]).json()
    assert (auto["status"], auto["division_code"]) == ("escalated", township_code)
    assert auto["timeline"][-1]["actor_name"] == "system" and "未在时限内确认" in auto["timeline"][-1]["note"]

    # status=open lists what is still to act on (raised, acknowledged, escalated), chosen by the server.
    opened = {a["id"]: a["status"] for a in httpx.get(url, params={"status": "open", "limit": 200},
                                                        headers=h["county"]).json()["items"]}
    assert opened.get(quiet) == "escalated" and late not in opened and up not in opened
    assert all(s in ("raised", "acknowledged", "escalated") for s in opened.values())

    # Another county's staff sees none of it; the figures count each from the rows.
    assert httpx.get(f"{url}/{late}", headers=h["other"]).status_code == 404
    after = httpx.get(f"{url}/figures", headers=h["county"]).json()

    def grew(key: str, status: str) -> int:
        return int(after[key].get(status, 0)) - int(before[key].get(status, 0))

    assert grew("by_status", "withdrawn") == 1 and grew("by_status", "handled") == 1
    escalated_after = httpx.get(url, params={"status": "escalated", "limit": 1}, headers=h["county"]).json()["total"]
    assert grew("by_status", "escalated") == escalated_after - escalated_before >= 1  # ours (checked above) among them
    assert after["total"] - before["total"] == 3
    lingling = next(c for c in after["by_county"] if c["county"] == yongzhou.lingling)
    assert lingling["county_name"] == "零陵区"
    assert yongzhou.lingling not in {c["county"] for c in httpx.get(f"{url}/figures", headers=h["other"]).json()[
        "by_county"]}


def test_a_rule_warns_once_about_a_record(engine: Engine, yongzhou: Yongzhou) -> None:
    rule = alerts.Rule("test.once", "测试", "test")
    source = new_id()
    village = yongzhou.village_in("431103")
    with transaction(engine) as session:
        first = alerts.raise_alert(session, rule=rule, level="blue", reasons=[alerts.Reason("a", "a")],
                                   division_code=village, source_type="test", source_id=source)
        again = alerts.raise_alert(session, rule=rule, level="blue", reasons=[alerts.Reason("b", "b")],
                                   division_code=village, source_type="test", source_id=source)
        assert first.id == again.id
        with pytest.raises(Invalid):
            alerts.raise_alert(session, rule=rule, level="blue", reasons=[], division_code=village,
                               source_type="test", source_id=new_id())
