"""A loop that two people close (issue 11 §5, GB/T 30428): whoever handled a matter never
verifies it; a grid worker's on-the-spot settlement (就地办结) goes to the village officer, or —
for the configured share — to a supervisor's spot check (抽查); satisfaction (满意度) comes only
from the reporter; the reporter may withdraw (撤回) a report within 10 minutes. Over real HTTP,
against the live server and its database."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from civicgrid.kit.clock import FakeClock
from civicgrid.matters import service
from civicgrid.matters.workflow import draw_spot_check
from tests.conftest import LiveServer, Yongzhou
from tests.matters.conftest import Actor, Place, actor, place_in
from tests.matters.test_intake import png


def report(reporter: Actor, place: Place, type_code: str = "SR01", title: str = "暴露垃圾",
           channel: str = "grid_worker") -> dict[str, Any]:
    body = {"type_code": type_code, "title": title, "description": "路口有垃圾", "lng": place.lng, "lat": place.lat,
            "channel": channel}
    response = reporter.post("/api/v1/matters", body)
    assert response.status_code == 201, response.text
    return response.json()


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()


def refused(response: Any) -> dict[str, Any]:
    assert response.status_code == 409, response.text
    return response.json()["error"]


@pytest.fixture
def spot_share(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set ``CIVICGRID_MATTER_SPOT_CHECK_SHARE`` for the test (the live server shares the process)."""
    def set_share(share: float) -> None:
        monkeypatch.setenv("CIVICGRID_MATTER_SPOT_CHECK_SHARE", str(share))
        service.settings.cache_clear()
    yield set_share
    monkeypatch.delenv("CIVICGRID_MATTER_SPOT_CHECK_SHARE", raising=False)
    service.settings.cache_clear()


def test_the_handler_may_not_verify_and_is_told_why(live_server: LiveServer, engine: Engine,
                                                    yongzhou: Yongzhou) -> None:
    place = place_in(yongzhou, "431103", 4)
    grid_worker = actor(live_server, engine, "grid_worker", place.grid)
    handler = actor(live_server, engine, "village_officer", place.village)
    colleague = actor(live_server, engine, "village_officer", place.village)
    matter = report(grid_worker, place)
    ok(handler.act(matter["id"], "accept"))
    ok(handler.act(matter["id"], "dispatch"))
    # The colleague starts the work, the handler resolves it: neither may verify.
    ok(colleague.act(matter["id"], "start"))
    handled = ok(handler.act(matter["id"], "resolve", result="已清运"))
    assert "verify" not in handled["allowed_actions"] and "send_back" not in handled["allowed_actions"]
    zh = refused(handler.act(matter["id"], "verify"))
    assert zh["message"] == "办理人不能核查自己办理的事项，请由其他人员核查" and "verify" not in zh["allowed_actions"]
    en = refused(handler.post(f"/api/v1/matters/{matter['id']}/transitions", {"action": "verify"}, lang="en"))
    assert en["message"] == "Whoever handled a matter may not verify it: another person must"
    assert refused(colleague.act(matter["id"], "send_back", "再看看"))["message"].startswith("办理人不能核查")
    # A third person of the village verifies; the handler may still close.
    third = actor(live_server, engine, "village_officer", place.village)
    assert "verify" in ok(third.get(f"/api/v1/matters/{matter['id']}"))["allowed_actions"]
    verified = ok(third.act(matter["id"], "verify", "现场核查属实"))
    assert verified["timeline"][-1]["actor_name"] == third.user.username
    assert ok(handler.act(matter["id"], "close"))["status"] == "closed"


def test_on_the_spot_settlement_goes_to_the_village_officer(live_server: LiveServer, engine: Engine,
                                                            yongzhou: Yongzhou, spot_share: Any) -> None:
    spot_share(0)  # no spot check drawn: the owning village verifies
    place = place_in(yongzhou, "431103", 5)
    grid_worker = actor(live_server, engine, "grid_worker", place.grid)
    other_worker = actor(live_server, engine, "grid_worker", place_in(yongzhou, "431103", 6).grid)
    village = actor(live_server, engine, "village_officer", place.village)
    matter = report(grid_worker, place, "SR01", "楼道杂物")
    assert "settle_on_spot" in matter["allowed_actions"]
    # A result photo first; only the worker of the matter's grid settles on the spot.
    no_photo = grid_worker.act(matter["id"], "settle_on_spot", result="已当场清理")
    assert no_photo.status_code == 422 and no_photo.json()["error"]["message"] == "就地办结须先上传处置结果照片"
    photo = grid_worker.post(f"/api/v1/matters/{matter['id']}/photos",
                             files={"file": ("r.png", io.BytesIO(png()), "image/png")}, data={"stage": "result"})
    assert photo.status_code == 201, photo.text
    assert other_worker.act(matter["id"], "settle_on_spot", result="x").status_code in (404, 409)
    assert grid_worker.act(matter["id"], "settle_on_spot").status_code == 422  # the result is required
    settled = ok(grid_worker.act(matter["id"], "settle_on_spot", "当场处置", result="杂物已当场清理"))
    assert (settled["status"], settled["on_spot"], settled["spot_check"], settled["step"]) == (
        "handled", True, False, "verify")
    assert settled["timeline"][-1]["action"] == "settle_on_spot"
    assert settled["timeline"][-1]["data"] == {"result": "杂物已当场清理", "spot_check": False, "verifier": "owner"}
    # The grid worker does not verify their own settlement; the village officer does.
    assert "verify" not in settled["allowed_actions"]
    assert grid_worker.act(matter["id"], "verify").status_code == 409
    detail = ok(village.get(f"/api/v1/matters/{matter['id']}"))
    assert "verify" in detail["allowed_actions"]
    ok(village.act(matter["id"], "verify", "现场核查属实"))
    closed = ok(village.act(matter["id"], "close"))
    assert (closed["settled_level"], closed["on_spot"]) == ("village", True)
    # …and the grid worker who settled it may not rate it either.
    assert refused(grid_worker.act(matter["id"], "evaluate", satisfaction=5))["message"] == (
        "办理人不能评价自己办理的事项")


def test_a_drawn_spot_check_is_verified_by_the_level_above(live_server: LiveServer, engine: Engine,
                                                          yongzhou: Yongzhou, spot_share: Any) -> None:
    spot_share(1)  # every settlement drawn
    place = place_in(yongzhou, "431103", 7)
    grid_worker = actor(live_server, engine, "grid_worker", place.grid)
    village = actor(live_server, engine, "village_officer", place.village)
    township = actor(live_server, engine, "township_officer", place.township)
    matter = report(grid_worker, place, "SR01", "绿化带垃圾")
    grid_worker.post(f"/api/v1/matters/{matter['id']}/photos",
                     files={"file": ("r.png", io.BytesIO(png()), "image/png")}, data={"stage": "result"})
    settled = ok(grid_worker.act(matter["id"], "settle_on_spot", result="已清理"))
    assert settled["spot_check"] is True and settled["timeline"][-1]["data"]["spot_check"] is True
    error = refused(village.act(matter["id"], "verify"))
    assert error["message"] == "本事项被抽中抽查，须由上级单位核查"
    # The supervisor finds it by its flag in the queue, and verifies it.
    flagged = ok(township.get("/api/v1/matters", queue="division", flag="spot_check", limit="200"))["items"]
    assert matter["id"] in [m["id"] for m in flagged] and all(m["spot_check"] for m in flagged)
    assert ok(township.act(matter["id"], "verify", "抽查属实"))["status"] == "verified"


def test_the_spot_check_share_draws_never_and_always() -> None:
    assert not any(draw_spot_check(0) for _ in range(200))
    assert all(draw_spot_check(1) for _ in range(200))


def test_satisfaction_only_from_the_reporter(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    place = place_in(yongzhou, "431103", 8)
    volunteer = actor(live_server, engine, "volunteer", place.village)
    village = actor(live_server, engine, "village_officer", place.village)
    colleague = actor(live_server, engine, "village_officer", place.village)
    matter = report(volunteer, place, "SR01", "路灯不亮", channel="volunteer")
    path = f"/api/v1/my-reports/{matter['id']}"
    early = ok(volunteer.get(path))
    assert (early["status"], early["can_rate"], early["satisfaction"]) == ("reported", False, None)
    assert refused(volunteer.post(f"{path}/satisfaction", {"satisfaction": 5}))["code"] == "invalid_transition"
    for who, action, extra in ((village, "accept", {}), (village, "dispatch", {}),
                               (village, "resolve", {"result": "修好"}), (colleague, "verify", {}),
                               (village, "close", {})):
        ok(who.act(matter["id"], action, **extra))
    # The handler and the owning unit never type in the resident's satisfaction.
    assert "evaluate" not in ok(village.get(f"/api/v1/matters/{matter['id']}"))["allowed_actions"]
    assert refused(village.act(matter["id"], "evaluate", satisfaction=5))["message"] == "满意度只能由上报人评价"
    assert refused(colleague.post(f"{path}/satisfaction", {"satisfaction": 5}))["message"] == "满意度只能由上报人评价"
    assert ok(volunteer.get(path))["can_rate"] is True
    assert volunteer.post(f"{path}/satisfaction", {"satisfaction": 9}).status_code == 422
    rated = ok(volunteer.post(f"{path}/satisfaction", {"satisfaction": 4, "note": "修得挺快"}))
    assert (rated["status"], rated["satisfaction"], rated["can_rate"]) == ("evaluated", 4, False)
    assert refused(volunteer.post(f"{path}/satisfaction", {"satisfaction": 5}))  # once
    timeline = ok(village.get(f"/api/v1/matters/{matter['id']}"))["timeline"]
    assert (timeline[-1]["action"], timeline[-1]["actor_name"]) == ("evaluate", volunteer.user.username)


def test_the_reporter_withdraws_within_ten_minutes(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou,
                                                   clock: FakeClock) -> None:
    place = place_in(yongzhou, "431103", 9)
    grid_worker = actor(live_server, engine, "grid_worker", place.grid)
    village = actor(live_server, engine, "village_officer", place.village)
    first = report(grid_worker, place, "SR06", "小广告")
    second = report(grid_worker, place, "SR07", "乱堆物料")
    mine = ok(grid_worker.get(f"/api/v1/my-reports/{first['id']}"))
    assert mine["can_withdraw"] is True and mine["withdraw_until"] is not None
    # Only the reporter withdraws.
    assert refused(village.post(f"/api/v1/my-reports/{first['id']}/withdraw", {}))["message"] == (
        "只有上报人可以撤回")
    clock.advance(timedelta(minutes=9))
    grid_worker.relogin()
    withdrawn = ok(grid_worker.post(f"/api/v1/my-reports/{first['id']}/withdraw", {"note": "报错了"}))
    assert (withdrawn["status"], withdrawn["can_withdraw"], withdrawn["withdraw_until"]) == ("cancelled", False, None)
    village.relogin()
    timeline = ok(village.get(f"/api/v1/matters/{first['id']}"))["timeline"]
    assert (timeline[-1]["action"], timeline[-1]["to_status"], timeline[-1]["note"]) == (
        "withdraw", "cancelled", "报错了")
    assert first["id"] not in [m["id"] for m in ok(village.get("/api/v1/matters", queue="mine", limit="200"))["items"]]
    # Eleven minutes after reporting it is too late.
    clock.advance(timedelta(minutes=2))
    grid_worker.relogin()
    assert ok(grid_worker.get(f"/api/v1/my-reports/{second['id']}"))["can_withdraw"] is False
    late = refused(grid_worker.post(f"/api/v1/my-reports/{second['id']}/withdraw", {}, lang="en"))
    assert late["message"] == "Too late to withdraw: a report can be withdrawn within 10 minutes of reporting"


def test_the_grid_worker_verifies_on_site_by_default(live_server: LiveServer, engine: Engine,
                                                     yongzhou: Yongzhou) -> None:
    """GB/T 30428-2013 (数字化城市管理信息系统 第 2 部分：管理部件和事件) as issue 11 §5 reads it: the default
    verifier of a handled matter is the worker of its grid unless that person handled it, else the
    village officer; the grid worker verifies on site with a photo, and the handler never verifies."""
    place = place_in(yongzhou, "431103", 10)
    grid_worker = actor(live_server, engine, "grid_worker", place.grid)
    village = actor(live_server, engine, "village_officer", place.village)
    reporter = actor(live_server, engine, "volunteer", place.village)
    matter = report(reporter, place, "SR01", "井盖松动", channel="volunteer")
    for action, extra in (("accept", {}), ("dispatch", {}), ("resolve", {"result": "已加固"})):
        ok(village.act(matter["id"], action, **extra))
    # The grid's worker is named as the default verifier, told through the inbox, and finds it in 我的待办.
    handled = ok(village.get(f"/api/v1/matters/{matter['id']}"))
    assert handled["verifier"]["kind"] == "grid_worker"
    assert grid_worker.user.display_name in handled["verifier"]["names"]
    assert "verify" not in handled["allowed_actions"]  # the village officer handled it
    assert handled["timeline"][-1]["data"]["verifier"] == "grid_worker"
    inbox = ok(grid_worker.get("/api/v1/inbox", limit="50"))["items"]
    assert any(i["link_id"] == matter["id"] and i["title_zh"].startswith("待核查") for i in inbox)
    mine = ok(grid_worker.get("/api/v1/matters", queue="mine", limit="200"))["items"]
    assert matter["id"] in [m["id"] for m in mine]
    assert all(m["status"] not in ("closed", "evaluated", "cancelled") for m in mine)
    # On site: without a photo the verification is refused; with one it goes through.
    assert "verify" in ok(grid_worker.get(f"/api/v1/matters/{matter['id']}"))["allowed_actions"]
    no_photo = grid_worker.act(matter["id"], "verify", "现场已加固")
    assert no_photo.status_code == 422 and no_photo.json()["error"]["message"] == "现场核查须先上传核查照片"
    # Only someone who may verify it now adds a verify photo: the handler may not.
    handler_photo = village.post(f"/api/v1/matters/{matter['id']}/photos",
                                 files={"file": ("v.png", io.BytesIO(png()), "image/png")}, data={"stage": "verify"})
    assert handler_photo.status_code == 403, handler_photo.text
    photo = grid_worker.post(f"/api/v1/matters/{matter['id']}/photos",
                             files={"file": ("v.png", io.BytesIO(png()), "image/png")}, data={"stage": "verify"})
    assert photo.status_code == 201, photo.text
    verified = ok(grid_worker.act(matter["id"], "verify", "现场已加固"))
    assert (verified["status"], verified["timeline"][-1]["actor_name"]) == ("verified", grid_worker.user.username)
    assert [p["stage"] for p in verified["photos"]].count("verify") == 1
    assert matter["id"] not in [m["id"] for m in ok(grid_worker.get("/api/v1/matters", queue="mine",
                                                                     limit="200"))["items"]]
    # The grid worker verifies; the owning unit closes.
    assert "close" not in verified["allowed_actions"]
    assert ok(village.act(matter["id"], "close"))["status"] == "closed"


def test_when_the_grid_worker_settled_it_the_village_officer_verifies(live_server: LiveServer, engine: Engine,
                                                                       yongzhou: Yongzhou, spot_share: Any) -> None:
    """GB/T 30428 as issue 11 §5 reads it: the grid worker who settled a matter on the spot is not
    its verifier; the village officer is named instead and told through the inbox."""
    spot_share(0)
    place = place_in(yongzhou, "431103", 11)
    grid_worker = actor(live_server, engine, "grid_worker", place.grid)
    village = actor(live_server, engine, "village_officer", place.village)
    matter = report(grid_worker, place, "SR01", "路边杂物")
    grid_worker.post(f"/api/v1/matters/{matter['id']}/photos",
                     files={"file": ("r.png", io.BytesIO(png()), "image/png")}, data={"stage": "result"})
    settled = ok(grid_worker.act(matter["id"], "settle_on_spot", result="已清理"))
    assert settled["verifier"]["kind"] == "owner" and village.user.display_name in settled["verifier"]["names"]
    assert grid_worker.user.display_name not in settled["verifier"]["names"]
    assert settled["timeline"][-1]["data"]["verifier"] == "owner"
    assert "verify" not in settled["allowed_actions"]
    inbox = ok(village.get("/api/v1/inbox", limit="50"))["items"]
    assert any(i["link_id"] == matter["id"] and i["title_zh"].startswith("待核查") for i in inbox)
    assert ok(village.act(matter["id"], "verify", "现场核查属实"))["status"] == "verified"
