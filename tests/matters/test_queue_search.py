"""Queues that find things (issue 11 §3): 我的待办 holds only open work, 仅看超期 only open late
matters, one search by number, title, address or the reporter's phone, and filters that the
Excel export follows exactly."""

from __future__ import annotations

import io
import uuid
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import Engine

from tests.conftest import LiveServer, Yongzhou
from tests.matters.conftest import Actor, actor, place_in


def _report(who: Actor, place: Any, title: str, **extra: Any) -> dict[str, Any]:
    body = {"type_code": "SR01", "title": title, "description": "巡查发现", "lng": place.lng, "lat": place.lat,
            "channel": "hotline", **extra}
    response = who.post("/api/v1/matters", body)
    assert response.status_code == 201, response.text
    return response.json()


def _ids(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [m["id"] for m in answer.json()["items"]]


def test_one_search_finds_by_number_title_address_or_phone(live_server: LiveServer, engine: Engine,
                                                           yongzhou: Yongzhou) -> None:
    desk = actor(live_server, engine, "hotline_operator", "431100000000")
    place = place_in(yongzhou, "431102", 5)
    tag = uuid.uuid4().hex[:6]
    phone = f"136{uuid.uuid4().int % 10**8:08d}"
    a = _report(desk, place, f"井盖丢失{tag}", address=f"南津路{tag}号")
    b = _report(desk, place, "路灯不亮", reporter_phone=phone)
    county = actor(live_server, engine, "county_plc_staff", "431102000000")
    search = lambda q: _ids(county.get("/api/v1/matters", queue="division", q=q, limit="200"))  # noqa: E731
    assert search(a["number"]) == [a["id"]]
    assert search(a["number"].lower()) == [a["id"]]
    assert search(f"井盖丢失{tag}") == [a["id"]]
    assert search(f"南津路{tag}") == [a["id"]]
    assert search(f"{phone[:3]} {phone[3:7]} {phone[7:]}") == [b["id"]]  # the phone, however typed
    assert search("100%_") == []  # LIKE wildcards are searched as text
    # Outside the jurisdiction nothing is found, even by number.
    other = actor(live_server, engine, "county_plc_staff", "431103000000")
    assert _ids(other.get("/api/v1/matters", queue="division", q=a["number"])) == []


def test_my_queue_holds_only_open_work_and_filters_follow_into_the_export(live_server: LiveServer, engine: Engine,
                                                                         yongzhou: Yongzhou) -> None:
    place = place_in(yongzhou, "431102", 7)
    worker = actor(live_server, engine, "grid_worker", place.grid)
    village = actor(live_server, engine, "village_officer", place.grid[:12])
    tag = uuid.uuid4().hex[:6]
    open_one = _report(worker, place, f"待办{tag}", channel="grid_worker")
    closed = _report(worker, place, f"已办{tag}", channel="grid_worker")
    answer = village.act(closed["id"], "reject", "重复上报")
    assert answer.status_code == 200, answer.text
    mine = _ids(village.get("/api/v1/matters", queue="mine", limit="200"))
    assert open_one["id"] in mine and closed["id"] not in mine  # 我的待办: no finished matter
    assert closed["id"] in _ids(village.get("/api/v1/matters", queue="done", limit="200"))
    # Filters: by channel and a date range, with a flag nobody has.
    got = _ids(village.get("/api/v1/matters", queue="division", q=tag, channel="grid_worker", limit="200"))
    assert set(got) == {open_one["id"], closed["id"]}
    assert _ids(village.get("/api/v1/matters", queue="division", q=tag, flag="supervised")) == []
    assert _ids(village.get("/api/v1/matters", queue="division", q=tag, reported_from="2000-01-01",
                            reported_to="2000-01-02")) == []
    bad = village.get("/api/v1/matters", flag="nonsense", lang="en")
    assert bad.status_code == 422 and "nonsense" in bad.text
    # The export is exactly what the filters show.
    export = village.get("/api/v1/matters.xlsx", queue="division", q=tag, status="rejected")
    assert export.status_code == 200, export.text
    sheet = load_workbook(io.BytesIO(export.content)).active
    numbers = [cell for row in sheet.iter_rows(values_only=True) for cell in row if str(cell).startswith("YZ-")]
    assert numbers == [closed["number"]]


def test_the_place_filter_finds_the_matters_of_a_grid_or_a_division(live_server: LiveServer, engine: Engine,
                                                                    yongzhou: Yongzhou) -> None:
    """The figures map drills from a division to a grid to its matters: ``place`` filters by
    where a matter happened (its grid), whoever owns it now."""
    desk = actor(live_server, engine, "hotline_operator", "431100000000")
    here, there = place_in(yongzhou, "431103", 14), place_in(yongzhou, "431103", 15)
    assert here.grid != there.grid
    a = _report(desk, here, "井盖松动")
    b = _report(desk, there, "井盖松动")
    county = actor(live_server, engine, "county_plc_staff", "431103000000")
    in_grid = _ids(county.get("/api/v1/matters", queue="division", place=here.grid, limit="200"))
    assert a["id"] in in_grid and b["id"] not in in_grid
    in_village = _ids(county.get("/api/v1/matters", queue="division", place=there.village, limit="200"))
    assert b["id"] in in_village and (here.village == there.village) == (a["id"] in in_village)
    assert county.get("/api/v1/matters", place="4311").status_code == 422
