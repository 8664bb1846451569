"""The working-calendar API: years and gaps, one year, importing a year as JSON, CSV or Excel."""

from __future__ import annotations

import io

import httpx
from openpyxl import Workbook
from sqlalchemy import Engine

from tests.conftest import LiveServer
from tests.factories import auth_headers, login, make_user_committed


def _admin(live_server: LiveServer, engine: Engine) -> dict[str, str]:
    user = make_user_committed(engine, role="admin", division_code="431100000000")
    return {**auth_headers(login(live_server.url, user.username)), "Accept-Language": "en"}


def test_years_and_one_year(live_server: LiveServer, engine: Engine) -> None:
    headers = _admin(live_server, engine)
    overview = httpx.get(f"{live_server.url}/api/v1/calendar/years", headers=headers).json()
    assert 2026 in [y["year"] for y in overview["years"]]
    year = httpx.get(f"{live_server.url}/api/v1/calendar/years/2026", headers=headers).json()
    national_day = [d for d in year["days"] if d["date"].startswith("2026-10-0")]
    assert {d["date"] for d in national_day if d["kind"] == "holiday"} >= {"2026-10-01", "2026-10-07"}
    assert httpx.get(f"{live_server.url}/api/v1/calendar/years/2091", headers=headers).status_code == 404


def test_put_a_year_and_refuse_a_bad_row(live_server: LiveServer, engine: Engine) -> None:
    headers = _admin(live_server, engine)
    url = f"{live_server.url}/api/v1/calendar/years/2031"
    bad = httpx.put(url, headers=headers, json={"source": "国办发明电〔2030〕1号", "days": [
        {"date": "2031-01-01", "kind": "holiday", "name": "元旦"},
        {"date": "2031-01-06", "kind": "workday", "name": "x"}]})
    assert bad.status_code == 422 and "row 2" in bad.json()["error"]["message"]
    assert httpx.get(url, headers=headers).status_code == 404  # nothing half-applied
    good = httpx.put(url, headers=headers, json={"source": "国办发明电〔2030〕1号", "days": [
        {"date": "2031-01-01", "kind": "holiday", "name": "元旦"},
        {"date": "2031-01-04", "kind": "workday", "name": "元旦调休"}]})
    assert good.status_code == 200, good.text
    assert (good.json()["holidays"], good.json()["workdays"]) == (1, 1)


def test_upload_csv_and_xlsx(live_server: LiveServer, engine: Engine) -> None:
    headers = _admin(live_server, engine)
    csv_body = "date,kind,name\n2032-01-01,holiday,元旦\n2032-01-02,holiday,元旦\n"
    response = httpx.post(f"{live_server.url}/api/v1/calendar/years/2032/upload", headers=headers,
                          files={"file": ("2032.csv", csv_body.encode())}, data={"source": "csv"})
    assert response.status_code == 200, response.text
    assert response.json()["holidays"] == 2
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["date", "kind", "name"])
    sheet.append(["2033-01-03", "holiday", "元旦"])
    sheet.append(["2033-13-01", "holiday", "bad"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    refused = httpx.post(f"{live_server.url}/api/v1/calendar/years/2033/upload", headers=headers,
                         files={"file": ("2033.xlsx", buffer.getvalue())})
    assert refused.status_code == 422 and refused.json()["error"]["row"] == 3
