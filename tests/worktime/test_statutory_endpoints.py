"""The statutory-time API: the rules with their legal basis, and a deadline with its reasoning."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from tests.conftest import LiveServer
from tests.factories import auth_headers, login, make_role_committed, make_user_committed

BASE = "/api/v1/worktime/statutory"


def _headers(live_server: LiveServer, engine: Engine, lang: str = "zh-CN") -> dict[str, str]:
    user = make_user_committed(engine, role="admin", division_code="431100000000")
    return {**auth_headers(login(live_server.url, user.username)), "Accept-Language": lang}


def test_rules_list_their_legal_basis(live_server: LiveServer, engine: Engine) -> None:
    """刑事诉讼法 (2018-10-26) Art. 156 with exclusion Art. 149 and restart Art. 160; the 2012
    治安管理处罚法 citations are shipped unverified."""
    response = httpx.get(f"{live_server.url}{BASE}/rules", headers=_headers(live_server, engine))
    assert response.status_code == 200, response.text
    rules = {r["code"]: r for r in response.json()}
    custody = rules["cpl_investigation_custody"]
    assert custody["name"] == "逮捕后侦查羁押期限" and custody["amount_text"] == "2 个月"
    assert custody["basis"][0]["text"] == "《中华人民共和国刑事诉讼法》（2018-10-26）第156条"
    assert custody["holidays"] == "custody" and custody["verified"] is True
    assert [e["code"] for e in custody["exclusions"]] == ["psychiatric_appraisal"]
    assert rules["psa_case"]["verified"] is False


def test_compute_the_national_day_example(live_server: LiveServer, engine: Engine) -> None:
    """信访工作条例 (2022-02-25) Art. 22, counted as 刑事诉讼法 (2018) Art. 105: 15 days from Fri
    2026-09-18 end at 24:00 on Thu 10-08 (stored 2026-10-08T16:00Z)."""
    body = {"rule": "petition_registration", "start": "2026-09-18T10:00:00+08:00"}
    response = httpx.post(f"{live_server.url}{BASE}/compute", headers=_headers(live_server, engine), json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["due_at"] in ("2026-10-08T16:00:00Z", "2026-10-08T16:00:00+00:00")
    assert result["due_local"] == "2026-10-08 24:00"
    assert result["explanation"] == "自 2026-09-19 起算 15 日，末日 10-03 为法定节假日，顺延至节后第一日 10-08 24:00"
    assert result["paused"] is False and result["last_day"] == "2026-10-08"


def test_compute_with_an_exclusion_and_in_english(live_server: LiveServer, engine: Engine) -> None:
    """信访工作条例 (2022-02-25) Art. 36(2): hearing time excluded; while it runs, no deadline."""
    headers = _headers(live_server, engine, "en")
    body = {"rule": "petition_re_review", "start": "2026-11-02T09:00:00+08:00",
            "adjustments": [{"kind": "pause", "at": "2026-11-05T14:00:00+08:00", "reason": "hearing"}]}
    paused = httpx.post(f"{live_server.url}{BASE}/compute", headers=headers, json=body).json()
    assert paused["paused"] is True and paused["due_at"] is None and paused["remaining_days"] == 27
    body["adjustments"].append({"kind": "resume", "at": "2026-11-10T09:00:00+08:00"})
    result = httpx.post(f"{live_server.url}{BASE}/compute", headers=headers, json=body).json()
    assert result["due_local"] == "2026-12-07 24:00"
    assert "hearing is not counted" in result["explanation"]


def test_hours_rule_reports_the_local_minute(live_server: LiveServer, engine: Engine) -> None:
    """公安机关适用继续盘问规定 (2004-07-12) Art. 11(2): from arrival at the station, to the minute."""
    body = {"rule": "continued_questioning", "start": "2026-09-30T02:20:00Z"}  # 10:20 in Yongzhou
    result = httpx.post(f"{live_server.url}{BASE}/compute", headers=_headers(live_server, engine), json=body).json()
    assert result["due_local"] == "2026-09-30 22:20" and result["last_day"] is None


def test_refusals(live_server: LiveServer, engine: Engine) -> None:
    headers = _headers(live_server, engine, "en")
    url = f"{live_server.url}{BASE}/compute"
    unknown = httpx.post(url, headers=headers, json={"rule": "nope", "start": "2026-09-18T10:00:00+08:00"})
    assert unknown.status_code == 422 and "Unknown statutory rule" in unknown.json()["error"]["message"]
    naive = httpx.post(url, headers=headers, json={"rule": "cpl_summons", "start": "2026-09-18T10:00:00"})
    assert naive.status_code == 422
    not_allowed = httpx.post(url, headers=headers, json={
        "rule": "cpl_arrest_request", "start": "2026-09-18T10:00:00+08:00",
        "adjustments": [{"kind": "restart", "at": "2026-09-19T10:00:00+08:00", "reason": "other_major_crime"}]})
    assert not_allowed.status_code == 422 and not_allowed.json()["error"]["index"] == 1


def test_permission_needed(live_server: LiveServer, engine: Engine) -> None:
    role = make_role_committed(engine, permissions={"geo.read"})
    user = make_user_committed(engine, role=role.code, division_code="431100000000")
    headers = auth_headers(login(live_server.url, user.username))
    assert httpx.get(f"{live_server.url}{BASE}/rules", headers=headers).status_code == 403
    assert httpx.get(f"{live_server.url}{BASE}/rules").status_code == 401
