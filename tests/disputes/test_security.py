"""治安防范到位 (security prevention in place), the third of the four "in place" figures
(docs/figures.md): of the disputes received in the range, those reported to the police
(人民调解法 2010 Art. 25), those recorded as turned into a criminal case (民转刑) or a collective
incident (群体性事件), and the 1-3-5 ring hit rate of the police calls at the disputes' places
while they were open. Known rows in a county no other test uses; exact values."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from civicgrid.db import transaction
from civicgrid.kit.clock import FakeClock, utcnow
from tests.conftest import LiveServer, Yongzhou
from tests.disputes.conftest import act, bodies, dispute_body, police_call

COUNTY = "431181"  # 祁阳市: no other test files disputes or incidents here


def test_security_prevention_counts_referrals_turned_disputes_and_the_ring_at_their_places(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock
) -> None:
    b = bodies(live_server, engine, yongzhou, COUNTY, 3)
    p = b.place
    referred = b.village.post("/api/v1/disputes", dispute_body(p, unit_id=b.village_committee)).json()
    turned = b.village.post("/api/v1/disputes", dispute_body(p, unit_id=b.village_committee)).json()
    b.village.post("/api/v1/disputes", dispute_body(p))  # a quiet one: counts in the denominator only

    assert act(b.village, referred["id"], "accept").status_code == 200
    assert act(b.village, referred["id"], "report_police", "双方扬言械斗").status_code == 200
    assert act(b.village, referred["id"], "record_turned", kind="criminal").status_code == 422  # what happened
    bad = act(b.village, referred["id"], "record_turned", "x", kind="riot")
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "kind"
    done = act(b.village, referred["id"], "record_turned", "李四持刀伤人，公安已立案", kind="criminal")
    assert done.status_code == 200, done.text
    assert done.json()["turned_criminal_at"] and done.json()["turned_collective_at"] is None
    assert act(b.village, referred["id"], "record_turned", "再次记录", kind="criminal").status_code == 409

    assert act(b.village, turned["id"], "record_turned", "三十余村民聚集堵路", kind="collective").status_code == 200
    assert act(b.village, turned["id"], "accept").status_code == 200
    assert act(b.village, turned["id"], "fail", "分歧过大", routes=["litigation"]).status_code == 200
    # A failed mediation may turn criminal later: recorded on the concluded file, counted once.
    late = act(b.village, turned["id"], "record_turned", "调解不成后发生殴打", kind="criminal")
    assert late.status_code == 200, late.text

    now = utcnow()
    with transaction(engine) as session:
        session.add(police_call(now + timedelta(minutes=5), p.lng, p.lat, p.grid, True))
        session.add(police_call(now + timedelta(minutes=6), p.lng + 0.0003, p.lat, p.grid, False))
        session.add(police_call(now + timedelta(minutes=10), p.lng, p.lat + 0.0002, p.grid, None))  # none arrived yet
        session.add(police_call(now - timedelta(days=1), p.lng, p.lat, p.grid, False))  # before registration
        session.add(police_call(now + timedelta(minutes=5), p.lng + 0.01, p.lat, p.grid, False))  # ~1 km away
    clock.advance(timedelta(minutes=15))

    figures = b.village.get("/api/v1/dispute-figures", division_code=p.village, start="2026-12-01", end="2026-12-31")
    assert figures.status_code == 200, figures.text
    f = figures.json()
    assert f["received"] == 3
    assert (f["police_referred"], f["turned_criminal"], f["turned_collective"]) == (1, 2, 1)
    assert f["turned_rate"] == round(2 / 3, 4)  # two of three disputes turned (one both ways: once)
    assert (f["ring_calls"], f["ring_arrived"], f["ring_hit"], f["ring_hit_rate"]) == (3, 2, 1, 0.5)

    before = b.village.get(
        "/api/v1/dispute-figures", division_code=p.village, start="2026-11-01", end="2026-11-30"
    ).json()
    assert before["turned_rate"] is None and before["ring_hit_rate"] is None  # nothing received: no rate
