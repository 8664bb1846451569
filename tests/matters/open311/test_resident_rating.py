"""The resident's rating link behind an Open311 request (issue 11 §5): satisfaction (满意度) comes
from the person who reported, here the resident who filed through an Open311 client's app; nobody
else fills it in, and a matter nobody rated counts as not rated (未评价)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import Engine

from civicgrid.kit.clock import FakeClock
from tests.conftest import LiveServer
from tests.matters.conftest import Place, actor
from tests.matters.open311.test_open311 import lingling, make_client, post  # noqa: F401  (fixture)

RATINGS = "/api/v1/resident-ratings"


def _file(server: LiveServer, key: str, place: Place) -> dict[str, Any]:
    response = post(server, key, service_code="SR01", lat=place.lat, long=place.lng, description="楼下路灯不亮",
                    first_name="李", last_name="四", phone="13800138000")
    assert response.status_code == 200, response.text
    return response.json()[0]  # type: ignore[no-any-return]


def test_the_resident_rates_through_the_link_once_closed(live_server: LiveServer, engine: Engine,
                                                         lingling: Place, clock: FakeClock) -> None:  # noqa: F811
    """GB/T 30428 two-person loop as issue 11 §5 reads it: only the reporter rates, never the handler."""
    _, key = make_client(engine, lingling.county)
    created = _file(live_server, key, lingling)
    link = created["rating_url"]
    assert link.startswith("/rate/") and created["service_request_id"] in link
    rating_key = link.removeprefix("/rate/")
    url = f"{live_server.url}{RATINGS}/{rating_key}"

    early = httpx.get(url, timeout=30)
    assert early.status_code == 200, early.text
    body = early.json()
    assert (body["status"], body["can_rate"], body["can_withdraw"], body["satisfaction"]) == (
        "reported", False, False, None)
    text = early.text
    assert "13800138000" not in text and "李四" not in text and "138****8000" not in text  # no personal data
    assert httpx.post(url, json={"satisfaction": 5}, timeout=30).status_code == 409  # not closed yet

    # A forged or altered link is not found, the same answer as no link at all.
    matter_id, _, signature = rating_key.partition(".")
    forged = f"{matter_id}.{'0' * len(signature)}"
    assert httpx.get(f"{live_server.url}{RATINGS}/{forged}", timeout=30).status_code == 404
    assert httpx.get(f"{live_server.url}{RATINGS}/{matter_id}", timeout=30).status_code == 404

    village = actor(live_server, engine, "village_officer", lingling.village)
    colleague = actor(live_server, engine, "village_officer", lingling.village)
    for who, action, extra in ((village, "accept", {}), (village, "dispatch", {}),
                               (village, "resolve", {"result": "路灯已修复"}), (colleague, "verify", {}),
                               (village, "close", {})):
        answer = who.act(matter_id, action, **extra)
        assert answer.status_code == 200, (action, answer.text)
    # The owning unit never types it in; until the resident rates, the matter is not rated.
    assert village.act(matter_id, "evaluate", satisfaction=5).status_code == 409
    closed = httpx.get(url, timeout=30).json()
    assert (closed["status"], closed["can_rate"], closed["satisfaction"]) == ("closed", True, None)
    assert httpx.post(url, json={"satisfaction": 7}, timeout=30).status_code == 422
    rated = httpx.post(url, json={"satisfaction": 4, "note": "修得及时"}, timeout=30)
    assert rated.status_code == 200, rated.text
    assert (rated.json()["status"], rated.json()["satisfaction"], rated.json()["can_rate"]) == ("evaluated", 4, False)
    assert httpx.post(url, json={"satisfaction": 1}, timeout=30).status_code == 409  # once
    timeline = village.get(f"/api/v1/matters/{matter_id}").json()["timeline"]
    assert (timeline[-1]["action"], timeline[-1]["note"]) == ("evaluate", "修得及时")
    # A retry of the same Open311 request gives the same link (nothing is stored to lose).
    assert httpx.get(f"{live_server.url}{link.replace('/rate/', RATINGS + '/')}", timeout=30).status_code == 200
