"""Open311 keys in a header (issue 9 §3.3): `X-API-Key` or `Authorization: ApiKey …` keep the key
out of query strings (and so out of access logs); the specification's `api_key` parameter still
works for its clients."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine

from tests.conftest import LiveServer, Yongzhou
from tests.matters.conftest import Place, place_in
from tests.matters.open311.test_open311 import V2, make_client


@pytest.fixture
def lingling(yongzhou: Yongzhou) -> Place:
    return place_in(yongzhou, "431102", 1)


def _headers(how: str, key: str) -> dict[str, str]:
    return {"X-API-Key": key} if how == "x-api-key" else {"Authorization": f"ApiKey {key}"}


@pytest.mark.parametrize("how", ["x-api-key", "authorization-apikey"])
def test_a_key_in_a_header_files_and_reads_requests(live_server: LiveServer, engine: Engine, lingling: Place,
                                                    how: str) -> None:
    _, key = make_client(engine, lingling.county)
    posted = httpx.post(f"{live_server.url}{V2}/requests.json", headers=_headers(how, key), timeout=30, data={
        "service_code": "SR01", "lat": str(lingling.lat), "long": str(lingling.lng),
        "description": "路灯不亮已经一周"})
    assert posted.status_code == 200, posted.text
    request_id = posted.json()[0]["service_request_id"]
    read = httpx.get(f"{live_server.url}{V2}/requests/{request_id}.json", headers=_headers(how, key), timeout=30)
    assert read.status_code == 200 and read.json()[0]["service_request_id"] == request_id
    # A wrong key in the header is refused like a wrong api_key.
    refused = httpx.get(f"{live_server.url}{V2}/requests.json", headers=_headers(how, "o311_forged"), timeout=30)
    assert refused.status_code == 403
