"""The console's supervision reads over real HTTP: the case-handling areas and an area's live room
board (who, which room, since when, on which measure, its countdown), the property ledger, and
the breach map (open breaches per unit and per region); another county gets 404 or nothing."""

from __future__ import annotations

from datetime import datetime

import httpx
from sqlalchemy import Engine

from civicgrid.kit.clock import FakeClock
from tests.conftest import LiveServer, Yongzhou
from tests.factories import assert_out_of_scope_404, auth_headers, login, make_user_committed
from tests.supervision.helpers import cst, ev, ingester, send, station

URL = "/api/v1/supervision"


def test_rooms_ledger_and_breach_map(engine: Engine, live_server: LiveServer, yongzhou: Yongzhou,
                                     clock: FakeClock) -> None:
    unit = station(engine, yongzhou.lingling)
    who = ingester(yongzhou.lingling)
    clock.set(cst("2026-10-12 10:00"))
    answer = send(engine, who, [
        ev("case.opened", cst("2026-10-12 08:00"), case="R1", kind="criminal", unit_id=unit, title="R1 盗窃案",
           persons=[{"id": "P1", "role": "suspect", "name": "王小明"}]),
        ev("measure.started", cst("2026-10-12 08:10"), case="R1", measure="S1", kind="summons", person="P1"),
        ev("person.entered", cst("2026-10-12 08:10"), case="R1", person="P1", area="BA1", area_title="测试办案区",
           room="HW1", room_title="候问室一", room_type="waiting"),
        ev("person.entered", cst("2026-10-12 08:40"), case="R1", person="P1", area="BA1", room="XW1",
           room_title="讯问室一", room_type="interview"),
        ev("property.moved", cst("2026-10-12 08:30"), case="R1", item="I1", action="seize", description="手机",
           measure="seized", value_fen=150000, owner_name="王小明", to_holder="民警 刘"),
        # A second case whose 传唤 ran 13 hours: breached at its deadline, its warning still open.
        ev("case.opened", cst("2026-10-10 08:00"), case="R2", kind="criminal", unit_id=unit, title="R2 诈骗案"),
        ev("measure.started", cst("2026-10-10 08:00"), case="R2", measure="S2", kind="summons",
           person={"id": "Q"}),
        ev("measure.ended", cst("2026-10-10 21:00"), case="R2", measure="S2"),
    ])
    assert answer.refused == 0, answer
    mine = make_user_committed(engine, role="case_officer", division_code=yongzhou.lingling)
    other = make_user_committed(engine, role="supervision_centre_staff", division_code=yongzhou.lengshuitan)
    h = auth_headers(login(live_server.url, mine.username))
    other_token = login(live_server.url, other.username)

    areas = httpx.get(f"{live_server.url}{URL}/areas", headers=h).json()
    area = next(a for a in areas if a["code"] == "BA1")
    assert (area["title"], area["inside"], area["unit_id"]) == ("测试办案区", 1, unit)
    board = httpx.get(f"{live_server.url}{URL}/areas/{area['id']}/board", headers=h).json()
    assert {r["title"] for r in board["rooms"]} == {"候问室一", "讯问室一"}
    [occupant] = board["occupants"]
    assert (occupant["person_name"], occupant["room_title"], occupant["case_title"]) == ("王**", "讯问室一",
                                                                                          "R1 盗窃案")
    assert datetime.fromisoformat(occupant["entered_at"]) == cst("2026-10-12 08:40")
    assert occupant["measure_kind"] == "summons"
    assert occupant["clock"]["rule_code"] == "summons_duration"
    assert datetime.fromisoformat(occupant["clock"]["due_at"]) == cst("2026-10-12 20:10")  # 12 h from 到案

    ledger = httpx.get(f"{live_server.url}{URL}/property?status=held", headers=h).json()
    [item] = [i for i in ledger["items"] if i["case_title"] == "R1 盗窃案"]
    assert (item["description"], item["owner_name"], item["value_fen"], item["case_stage"]) == (
        "手机", "王**", 150000, "accepted")
    assert httpx.get(f"{live_server.url}{URL}/property?status=returned", headers=h).json()["total"] == 0

    city = httpx.get(f"{live_server.url}{URL}/breach-map?division_code=431100000000", headers=h).json()
    regions = {r["code"]: r["open_breaches"] for r in city["regions"]}
    assert regions["431102000000"] >= 1  # other tests may leave breaches in 零陵 too
    [row] = [u for u in city["units"] if u["unit_id"] == unit]
    assert (row["breaches"], row["open_breaches"]) == (1, 1)
    county = httpx.get(f"{live_server.url}{URL}/breach-map?division_code={yongzhou.lingling}", headers=h).json()
    # Regions below the county are its townships (other tests' cases may have breaches there); a
    # county-level unit is listed itself.
    assert all(r["code"].startswith(yongzhou.lingling[:6]) and r["code"] != yongzhou.lingling
               for r in county["regions"])
    assert any(u["unit_id"] == unit for u in county["units"])

    assert_out_of_scope_404(live_server.url, other_token, f"{URL}/areas/{area['id']}/board")
    assert_out_of_scope_404(live_server.url, other_token, f"{URL}/breach-map?division_code={yongzhou.lingling}")
    oh = auth_headers(other_token)
    assert all(a["id"] != area["id"] for a in httpx.get(f"{live_server.url}{URL}/areas", headers=oh).json())
    assert httpx.get(f"{live_server.url}{URL}/property", headers=oh).json()["total"] == 0
    theirs = httpx.get(f"{live_server.url}{URL}/breach-map?division_code=431100000000", headers=oh).json()
    assert all(u["unit_id"] != unit for u in theirs["units"]) and all(
        r["code"] != "431102000000" for r in theirs["regions"])
