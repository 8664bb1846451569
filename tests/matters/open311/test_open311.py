"""Open311 GeoReport v2 over real HTTP, with Open311 client libraries from PyPI.

``civicbot`` (its ``Open311Client``) posts requests — ``georeport`` 0.3.1 has no POST and the
other PyPI clients (``open311`` 1.1, ``three`` 0.8) are Python 2 only. ``georeport`` lists
services and reads requests back, in JSON and in XML. Neither library sends an ``api_key`` with
its GET requests, so they authenticate the way any Python HTTP stack can without changing the
library: HTTP Basic credentials from a netrc file (``requests``) or from an auth handler that
answers the server's 401 challenge (``urllib``).
"""

from __future__ import annotations

import json
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from civicbot import Open311Client
from civicbot.http import HttpTransport, RateLimiter
from civicbot.registry import Endpoint
from georeport import GeoReport
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from civicgrid.audit.models import AuditEntry
from civicgrid.db import transaction
from civicgrid.kit.clock import FakeClock
from civicgrid.matters.open311 import service as open311
from civicgrid.matters.open311.service import key_hash
from tests.conftest import LiveServer, Yongzhou
from tests.matters.conftest import Place, actor, place_in

V2 = "/open311/v2"


def make_client(engine: Engine, division_code: str, name: str = "市民通") -> tuple[str, str]:
    """A registered client: (id, api key)."""
    with transaction(engine) as session:
        client, key = open311.create_client(session, name=name, division_code=division_code, created_by="test")
        return client.id, key


def post(server: LiveServer, key: str | None, lang: str = "zh-CN", fmt: str = "json",
         headers: dict[str, str] | None = None, **fields: Any) -> httpx.Response:
    data = {k: str(v) for k, v in fields.items() if v is not None}
    if key is not None:
        data["api_key"] = key
    return httpx.post(f"{server.url}{V2}/requests.{fmt}", data=data,
                      headers={"Accept-Language": lang, **(headers or {})}, timeout=30)


def get(server: LiveServer, path: str, key: str | None = None, lang: str = "zh-CN", **params: Any) -> httpx.Response:
    if key is not None:
        params["api_key"] = key
    return httpx.get(f"{server.url}{V2}/{path}", params=params, headers={"Accept-Language": lang}, timeout=30)


def filed(server: LiveServer, key: str, place: Place, code: str = "SR01", **fields: Any) -> str:
    response = post(server, key, service_code=code, lat=place.lat, long=place.lng,
                    description=fields.pop("description", "小区门口垃圾堆放三天无人清理"), **fields)
    assert response.status_code == 200, response.text
    return str(response.json()[0]["service_request_id"])


@pytest.fixture
def lingling(yongzhou: Yongzhou) -> Place:
    return place_in(yongzhou, "431102", 1)


@pytest.fixture
def basic_auth_opener(live_server: LiveServer) -> Iterator[urllib.request.HTTPPasswordMgrWithDefaultRealm]:
    """urllib answers the server's Basic challenge with the key (restored afterwards)."""
    passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    urllib.request.install_opener(urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(passwords)))
    try:
        yield passwords
    finally:
        urllib.request.install_opener(None)  # type: ignore[arg-type]


def test_pypi_clients_list_services_post_a_request_and_read_it_back(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        basic_auth_opener: urllib.request.HTTPPasswordMgrWithDefaultRealm) -> None:
    # Each test that lists requests files in a county of its own: the session's database is shared.
    dongan = place_in(yongzhou, "431122", 0)
    _, key = make_client(engine, dongan.county)
    base = live_server.url + V2

    # civicbot: list services, post a request (its form carries the api_key), read it back.
    endpoint = Endpoint(id="yongzhou", name="永州市", base_url=base, write=True)
    bot = Open311Client(endpoint, transport=HttpTransport(rate_limiter=RateLimiter(min_interval=0)))
    services = bot.list_services()
    assert len(services) >= 40
    garbage = next(s for s in services if s["service_code"] == "SR01")
    assert (garbage["service_name"], garbage["metadata"], garbage["type"]) == ("暴露垃圾", False, "realtime")
    assert garbage["group"] == "市容环境" and "市容环境" in garbage["keywords"]
    assert bot.get_service_definition("SR01") == {"service_code": "SR01", "attributes": []}
    sent = bot.create_request("SR01", dry_run=False, confirm="SEND", api_key=key, lat=dongan.lat, lng=dongan.lng,
                              address_string="东安县某小区东门", description="东门垃圾桶满溢，三天无人清运",
                              first_name="小明", last_name="王", phone="13812345678", email="wang@example.cn",
                              media_url="https://img.example.cn/p/1.jpg", validate_remote=True)
    answer = sent.response[0]
    request_id = answer["service_request_id"]
    assert len(request_id) == 32 and answer["token"] and answer["service_notice"].startswith("事项编号 YZ-20261207-")
    passwords = basic_auth_opener
    passwords.add_password(None, live_server.url, "open311", key)
    back = bot.get_request(request_id)
    assert back is not None
    assert (back["service_request_id"], back["status"], back["service_code"]) == (request_id, "open", "SR01")
    assert back["description"] == "东门垃圾桶满溢，三天无人清运" and back["address"] == "东安县某小区东门"
    assert (back["lat"], back["long"]) == (dongan.lat, dongan.lng)
    assert back["media_url"] == "https://img.example.cn/p/1.jpg"
    assert back["requested_datetime"] == "2026-12-07T09:00:00+08:00"
    # accept by 10:00, then 4 working hours of handling (→ 16:30), then 2 of verification (→ Tue 09:30)
    assert back["expected_datetime"] == "2026-12-08T09:30:00+08:00"
    assert [r["service_request_id"] for r in bot.list_requests(status="open")] == [request_id]
    assert bot.get_token(answer["token"]) == [{"service_request_id": request_id, "token": answer["token"]}]

    # georeport: list services and read the request back in JSON and in XML (netrc credentials).
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login open311 password {key}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    as_json, as_xml = GeoReport(base), GeoReport(base, output_format="xml")
    assert {s["service_code"] for s in as_json.get_service_list()} == {s["service_code"] for s in services}
    assert {s["service_code"] for s in as_xml.get_service_list()} == {s["service_code"] for s in services}
    assert as_xml.get_service_definition("SR01")["service_code"] == "SR01"
    read = as_json.get_service_request(request_id)
    assert read["service_request_id"] == request_id and read["service_name"] == "暴露垃圾"
    listed = as_json.get_service_requests(service_request_id=request_id)
    assert [r["service_request_id"] for r in listed] == [request_id]
    from_xml = as_xml.get_service_request(request_id)
    assert (from_xml["service_request_id"], from_xml["status"], from_xml["lat"]) == (request_id, "open",
                                                                                     str(dongan.lat))


def test_xml_documents_parse_and_declare_utf8(live_server: LiveServer, engine: Engine, lingling: Place,
                                              clock: FakeClock) -> None:
    _, key = make_client(engine, lingling.county)
    request_id = filed(live_server, key, lingling)

    services = get(live_server, "services.xml")
    assert services.headers["content-type"].startswith("application/xml")
    assert services.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(services.content)
    assert root.tag == "services" and {child.tag for child in root} == {"service"}
    sr01 = next(s for s in root if s.findtext("service_code") == "SR01")
    assert [c.tag for c in sr01] == ["service_code", "service_name", "description", "metadata", "type", "keywords",
                                     "group"]
    assert (sr01.findtext("service_name"), sr01.findtext("metadata")) == ("暴露垃圾", "false")

    definition = ET.fromstring(get(live_server, "services/SR01.xml").content)
    assert definition.tag == "service_definition" and definition.findtext("service_code") == "SR01"

    requests = get(live_server, "requests.xml", key, service_request_id=request_id)
    assert requests.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(requests.content)
    assert root.tag == "service_requests"
    (request,) = list(root)
    assert request.tag == "request" and request.findtext("service_request_id") == request_id
    assert request.findtext("status") == "open" and request.findtext("zipcode") == ""

    error = get(live_server, "services/NOPE.xml")
    assert error.status_code == 404 and error.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(error.content)
    assert root.tag == "errors" and root.findtext("error/code") == "404"
    assert "NOPE" in (root.findtext("error/description") or "")

    discovery = ET.fromstring(httpx.get(f"{live_server.url}/open311/discovery.xml").content)
    assert discovery.findtext("endpoints/endpoint/url") == f"{live_server.url}{V2}"
    assert [f.text for f in discovery.iterfind("endpoints/endpoint/formats/format")] == ["application/json",
                                                                                         "application/xml"]
    assert get(live_server, "services.json").headers["content-type"].startswith("application/json")


def test_services_speak_english_on_request(live_server: LiveServer, yongzhou: Yongzhou) -> None:
    by_header = {s["service_code"]: s for s in get(live_server, "services.json", lang="en").json()}
    by_locale = {s["service_code"]: s for s in get(live_server, "services.json", locale="en_US").json()}
    assert by_header["SR01"]["service_name"] == by_locale["SR01"]["service_name"] != "暴露垃圾"
    assert by_header["SR01"]["group"] == "City appearance and environment"
    assert by_header["SR01"]["description"].startswith("City appearance and environment: ")


def test_filters(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock) -> None:
    place = place_in(yongzhou, "431124", 0)
    _, key = make_client(engine, place.village)  # a village-level client sees only its village
    first = filed(live_server, key, place, "SR01")
    clock.advance(timedelta(hours=1))
    second = filed(live_server, key, place, "SR06", description="电线杆上小广告")
    village = actor(live_server, engine, "village_officer", place.village)
    rejected = village.act(second, "reject", "经核实非本村事项")
    assert rejected.status_code == 200, rejected.text

    def ids(**params: Any) -> list[str]:
        response = get(live_server, "requests.json", key, **params)
        assert response.status_code == 200, response.text
        return [r["service_request_id"] for r in response.json()]

    assert ids() == [second, first]  # newest first
    assert ids(service_code="SR01") == [first]
    assert ids(service_code="sr01,SR06") == [second, first]
    assert ids(status="open") == [first]
    assert ids(status="closed") == [second]
    assert ids(status="open,closed") == [second, first]
    # service_request_id overrides every other filter (GeoReport v2)
    assert ids(service_request_id=f"{first},{second}", status="open") == [second, first]
    assert ids(start_date="2026-12-07T09:30:00+08:00") == [second]
    assert ids(start_date="2026-12-07T00:00:00Z", end_date="2026-12-07T01:30:00Z") == [first]
    assert ids(end_date="2026-09-01T00:00:00Z") == []  # the 90 days before that end hold nothing
    closed = get(live_server, f"requests/{second}.json", key).json()[0]
    assert closed["status"] == "closed" and closed["status_notes"] == "不予受理：经核实非本村事项"
    assert closed["expected_datetime"] is None

    too_long = get(live_server, "requests.json", key, start_date="2026-01-01T00:00:00Z",
                   end_date="2026-12-01T00:00:00Z")
    assert too_long.status_code == 400 and "90" in too_long.json()[0]["description"]
    assert get(live_server, "requests.json", key, status="pending").status_code == 400
    bad_date = get(live_server, "requests.json", key, lang="en", start_date="yesterday")
    assert bad_date.status_code == 400
    assert bad_date.json() == [{"code": 400, "description": "start_date must be an ISO 8601 date-time "
                                                            "(e.g. 2026-11-01T00:00:00Z)"}]


def test_refusals_in_open311_format(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, lingling: Place,
                                    clock: FakeClock) -> None:
    client_id, key = make_client(engine, lingling.county)
    where = {"service_code": "SR01", "lat": lingling.lat, "long": lingling.lng, "description": "垃圾"}

    missing = post(live_server, None, **where)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == 'Basic realm="open311"'
    bad = post(live_server, "o311_not-a-key", **where)
    assert bad.status_code == 403 and bad.json() == [{"code": 403, "description": "api_key 无效或已被吊销"}]
    assert post(live_server, "o311_not-a-key", lang="en", **where).json()[0]["description"] == \
        "Invalid or revoked api_key"
    assert get(live_server, "requests.json", "o311_not-a-key").status_code == 403

    unknown = post(live_server, key, **{**where, "service_code": "XX99"})
    assert unknown.status_code == 404 and "XX99" in unknown.json()[0]["description"]
    assert get(live_server, "services/XX99.json").status_code == 404

    outside = post(live_server, key, lang="en", **{**where, "lat": 39.9042, "long": 116.4074})  # Beijing
    assert outside.status_code == 400 and "outside the city" in outside.json()[0]["description"]
    # Another county of the city is accepted, as on the REST API (issue 9 §3.2): test_intake_borders.

    address_only = post(live_server, key, service_code="SR01", address_string="零陵区南津中路 1 号")
    assert address_only.status_code == 400
    assert "需要经纬度坐标" in address_only.json()[0]["description"]
    english = post(live_server, key, lang="en", service_code="SR01", address_string="1 Nanjin Road")
    assert english.json()[0]["description"].startswith("Coordinates are required (lat and long, WGS-84)")
    assert post(live_server, key, lat=lingling.lat, long=lingling.lng).json()[0]["description"] == \
        "缺少 service_code"
    assert post(live_server, key, **{**where, "lat": "north"}).status_code == 400
    bad_phone = post(live_server, key, lang="en", **where, phone="12345")
    assert bad_phone.status_code == 400 and "mobile" in bad_phone.json()[0]["description"]
    assert get(live_server, "services.csv").status_code == 404

    with transaction(engine) as session:
        open311.revoke_client(session, client_id, principal=None)
    assert post(live_server, key, **where).status_code == 403
    deadline = time.monotonic() + 5
    while True:  # a refusal is audited once the response has gone out
        with transaction(engine, write=False) as session:
            denied = session.scalars(select(AuditEntry).where(AuditEntry.action == "open311.denied")
                                     .order_by(AuditEntry.seq)).all()
        if denied or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert denied and all(key not in (e.after or "") for e in denied)


def geo_name(engine: Engine, code: str) -> str:
    from civicgrid.geo.service import name_of

    with transaction(engine, write=False) as session:
        name = name_of(session, code)
    assert name is not None
    return name


def test_status_follows_the_matter_to_closed(live_server: LiveServer, engine: Engine, lingling: Place,
                                             clock: FakeClock) -> None:
    _, key = make_client(engine, lingling.county)
    request_id = filed(live_server, key, lingling)
    village = actor(live_server, engine, "village_officer", lingling.village)
    colleague = actor(live_server, engine, "village_officer", lingling.village)

    def read() -> dict[str, Any]:
        response = get(live_server, f"requests/{request_id}.json", key)
        assert response.status_code == 200, response.text
        return response.json()[0]  # type: ignore[no-any-return]

    assert (read()["status"], read()["status_notes"]) == ("open", "已登记，等待受理")
    for action, note, extra in (("accept", None, {}), ("dispatch", "内部：交保洁员老李处理", {}), ("start", None, {}),
                                ("resolve", "已清运", {"result": "垃圾已清运，现场已清洁"}),
                                ("verify", None, {}), ("close", None, {})):
        # whoever handled it never verifies it: a colleague of the village does
        response = (colleague if action == "verify" else village).act(request_id, action, note, **extra)
        assert response.status_code == 200, response.text
        if action == "dispatch":
            now = read()
            assert now["status"] == "open" and "老李" not in json.dumps(now, ensure_ascii=False)
            village_name = geo_name(engine, lingling.village)
            assert now["agency_responsible"] == f"{village_name} 村（社区）保洁队"
    final = read()
    assert final["status"] == "closed"
    assert final["status_notes"] == "已结案：垃圾已清运，现场已清洁"
    assert final["expected_datetime"] is None
    assert final["updated_datetime"] == "2026-12-07T09:00:00+08:00"
    english = get(live_server, f"requests/{request_id}.json", key, lang="en").json()[0]
    assert english["status_notes"] == "Closed: 垃圾已清运，现场已清洁"


def test_no_personal_data_leaves_the_platform(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou,
                                              clock: FakeClock) -> None:
    shuangpai = place_in(yongzhou, "431123", 0)
    _, key = make_client(engine, shuangpai.county)
    request_id = filed(live_server, key, shuangpai, first_name="建国", last_name="李", phone="13912345678",
                       email="lijianguo@example.cn")
    for fmt in ("json", "xml"):
        for path in (f"requests.{fmt}", f"requests/{request_id}.{fmt}"):
            text = get(live_server, path, key).text
            assert request_id in text
            for secret in ("建国", "李建国", "13912345678", "5678", "lijianguo", "example.cn"):
                assert secret not in text, (path, secret)
    # The handlers see that someone called, masked (name and phone); the return visit reveals them
    # through the audited reveal (tests/matters/test_personal_data.py).
    village = actor(live_server, engine, "village_officer", shuangpai.village)
    matter = village.get(f"/api/v1/matters/{request_id}").json()
    assert (matter["channel"], matter["reporter_name"], matter["reporter_phone"]) == ("open311", "李**",
                                                                                      "139****5678")


def test_another_division_does_not_see_the_request(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou,
                                                   clock: FakeClock) -> None:
    ningyuan = place_in(yongzhou, "431126", 0)
    _, mine = make_client(engine, ningyuan.county)
    _, theirs = make_client(engine, "431127000000", name="蓝山随手拍")
    _, city = make_client(engine, yongzhou.city, name="永州市民通")
    response = post(live_server, mine, service_code="SR01", lat=ningyuan.lat, long=ningyuan.lng,
                    description="垃圾", headers={"Idempotency-Key": "retry-1"})
    request_id, token = response.json()[0]["service_request_id"], response.json()[0]["token"]
    assert token == "retry-1"

    assert get(live_server, f"requests/{request_id}.json", theirs).status_code == 404
    assert get(live_server, "requests.json", theirs).json() == []
    assert get(live_server, "requests.json", theirs, service_request_id=request_id).json() == []
    assert get(live_server, f"tokens/{token}.json", theirs).status_code == 404
    assert get(live_server, f"requests/{request_id}.json", city).status_code == 200  # the city holds the county

    retry = post(live_server, mine, service_code="SR01", lat=ningyuan.lat, long=ningyuan.lng, description="垃圾",
                 headers={"Idempotency-Key": "retry-1"})
    assert retry.json()[0]["service_request_id"] == request_id
    assert [r["service_request_id"] for r in get(live_server, "requests.json", mine).json()] == [request_id]
    assert get(live_server, f"tokens/{token}.json", mine).json() == [{"service_request_id": request_id,
                                                                       "token": token}]


def test_admin_api_issues_lists_and_revokes_keys(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou,
                                                 lingling: Place, clock: FakeClock) -> None:
    admin = actor(live_server, engine, "admin", yongzhou.city)
    created = admin.post("/api/v1/open311/clients", {"name": "零陵随手拍", "division_code": lingling.county,
                                                     "contact": "区融媒体中心"})
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["api_key"]
    assert key.startswith("o311_") and body["key_prefix"] == key[:9] and body["division_name"] == "零陵区"
    listed = admin.get("/api/v1/open311/clients").json()
    mine = next(c for c in listed if c["id"] == body["id"])
    assert "api_key" not in mine and "key_hash" not in mine and mine["active"] is True
    assert filed(live_server, key, lingling)

    county_admin = actor(live_server, engine, "city_plc_staff", lingling.county)  # holds open311.manage
    assert county_admin.post("/api/v1/open311/clients", {"name": "x", "division_code": yongzhou.lengshuitan}
                             ).status_code == 404
    assert county_admin.post(f"/api/v1/open311/clients/{body['id']}/revoke").status_code == 200
    grid_worker = actor(live_server, engine, "grid_worker", lingling.grid)
    assert grid_worker.get("/api/v1/open311/clients").status_code == 403
    assert post(live_server, key, service_code="SR01", lat=lingling.lat, long=lingling.lng).status_code == 403

    with transaction(engine, write=False) as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "api_clients",
                                                        AuditEntry.entity_id == body["id"])
                               .order_by(AuditEntry.seq)).all()
    assert [r.action for r in rows] == ["create", "update"]
    assert json.loads(rows[0].after or "{}")["key_hash"] == "***"
    assert all(key not in (r.after or "") and key_hash(key) not in (r.after or "") for r in rows)


def test_cli_creates_and_revokes_a_client(live_server: LiveServer, engine: Engine, lingling: Place,
                                          clock: FakeClock) -> None:
    from civicgrid.cli import app

    runner = CliRunner()
    created = runner.invoke(app, ["open311", "client-create", "--name", "12345 热线", "--division", lingling.county])
    assert created.exit_code == 0, created.output
    key = next(line.split(": ", 1)[1] for line in created.output.splitlines() if line.startswith("api_key: "))
    client_id = created.output.split()[1]
    assert filed(live_server, key, lingling)
    assert client_id in runner.invoke(app, ["open311", "client-list"]).output
    revoked = runner.invoke(app, ["open311", "client-revoke", client_id])
    assert revoked.exit_code == 0, revoked.output
    assert get(live_server, "requests.json", key).status_code == 403
    refused = runner.invoke(app, ["open311", "client-create", "--name", "x", "--division", "999999999999"])
    assert refused.exit_code == 1

