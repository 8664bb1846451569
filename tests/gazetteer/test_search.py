"""The address gazetteer (issue 14 §6): short forms, missing levels, ambiguity, imported places.

Runs on the shipped Yongzhou divisions (NBS 2023 statistical division codes): 朝阳 is a 街道 of
零陵区 and the name of several 村 and a 社区 in other counties; 新圩镇 exists in 蓝山县
(431127105000) and 新田县 (431128104000).
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from civicgrid.gazetteer import names, service
from civicgrid.gazetteer.importer import PlacesRefused
from civicgrid.kit.errors import Invalid
from tests.conftest import LiveServer, Yongzhou
from tests.factories import auth_headers, login, make_user_committed


def _chain(match: service.Match, result: service.SearchResult) -> list[str]:
    return [entry.name for entry in result.chains[match.entry.key]]


def test_forms_are_the_names_people_say() -> None:
    assert names.forms("零陵区", "county") == ["零陵区", "零陵"]
    assert names.forms("江华瑶族自治县", "county") == ["江华瑶族自治县", "江华"]
    assert names.forms("朝阳街道", "township") == ["朝阳街道", "朝阳"]
    assert names.forms("东岳宫社区居委会", "village") == ["东岳宫社区居委会", "东岳宫社区", "东岳宫"]
    assert names.forms("朝阳村委会", "village") == ["朝阳村委会", "朝阳村", "朝阳"]
    assert names.forms("道县", "county") == ["道县"]  # a core is never shorter than two characters
    assert names.level_hint("朝阳社区") == "village"
    assert names.level_hint("朝阳街道") == "township"
    assert names.level_hint("朝阳") is None
    assert names.normalise("湖南省永州市 零陵区，朝阳街道") == "零陵区朝阳街道"


def test_full_chain_is_selected_first(db: Session, yongzhou: Yongzhou) -> None:
    result = service.search(db, "朝阳街道东岳宫社区")
    assert result.selected is not None
    assert _chain(result.selected, result) == ["零陵区", "朝阳街道", "东岳宫社区居委会"]
    assert result.matches[0] is result.selected
    assert result.rest == ""


def test_missing_levels_and_short_forms(db: Session, yongzhou: Yongzhou) -> None:
    result = service.search(db, "零陵 朝阳")
    assert result.selected is not None
    assert result.selected.entry.code == "431102001000"  # 零陵区朝阳街道


@pytest.mark.parametrize("query", ["朝阳社区", "朝阳"])
def test_chaoyang_lists_every_match_and_selects_none(db: Session, yongzhou: Yongzhou, query: str) -> None:
    result = service.search(db, query)
    assert result.selected is None
    codes = {m.entry.code for m in result.matches}
    # 朝阳街道 in 零陵区, the 朝阳社区 of 431128002001, and 朝阳村 in four other counties
    assert {"431102001000", "431128002001", "431123209200", "431125204212", "431126106241",
            "431129110204"} <= codes
    for match in result.matches:
        chain = _chain(match, result)
        assert chain[0].endswith(("区", "县", "市")) and chain[-1] == match.entry.name
    if query == "朝阳社区":  # the 社区 the words name in full ranks first, but is not chosen
        assert result.matches[0].entry.code == "431128002001"


def test_xinxu_town_exists_twice(db: Session, yongzhou: Yongzhou) -> None:
    result = service.search(db, "新圩镇")
    assert result.selected is None
    top_two = {m.entry.code for m in result.matches[:2]}
    assert top_two == {"431127105000", "431128104000"}
    chains = {tuple(_chain(m, result)) for m in result.matches[:2]}
    assert chains == {("蓝山县", "新圩镇"), ("新田县", "新圩镇")}
    narrowed = service.search(db, "新田县新圩镇")
    assert narrowed.selected is not None and narrowed.selected.entry.code == "431128104000"


def test_a_township_named_in_full_is_selected(db: Session, yongzhou: Yongzhou) -> None:
    # Only one 街道 is called 朝阳: the ending says which level the caller means.
    result = service.search(db, "朝阳街道")
    assert result.selected is not None and result.selected.entry.code == "431102001000"


PLACES_CSV = (
    "name,aliases,kind,lng,lat,crs,division_code\n"
    "梅湾花园小区,梅湾小区|梅湾花园,compound,111.6071,26.4343,wgs84,431103001001\n"
    "零陵古城菜市场,,market,111.62,26.22,gcj02,431102001000\n"
)


def test_imported_place_is_found_with_its_chain(db: Session, yongzhou: Yongzhou) -> None:
    report = service.import_places(db, PLACES_CSV.encode(), source="test.csv")
    assert (report.created, report.updated) == (2, 0)
    result = service.search(db, "冷水滩区梅湾小区")
    assert result.selected is not None
    assert result.selected.entry.kind == "place" and result.selected.entry.name == "梅湾花园小区"
    assert _chain(result.selected, result)[0] == "冷水滩区"
    market = service.search(db, "零陵古城菜市场")
    assert market.selected is not None and market.selected.entry.lng is not None
    assert abs(market.selected.entry.lng - 111.62) > 1e-4  # GCJ-02 was converted to WGS-84
    again = service.import_places(db, PLACES_CSV.encode(), source="test.csv")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


def test_a_bad_places_file_is_refused_with_its_line(db: Session, yongzhou: Yongzhou) -> None:
    bad = PLACES_CSV + "无名,,castle,111.6,26.4,wgs84,431103001001\n"
    with pytest.raises(PlacesRefused) as refused:
        service.import_places(db, bad.encode(), source="bad.csv")
    assert "第 4 行" in refused.value.zh and "castle" in refused.value.zh
    with pytest.raises(Invalid):
        service.search(db, "  ，")


def test_search_over_http(engine: Engine, live_server: LiveServer, yongzhou: Yongzhou) -> None:
    user = make_user_committed(engine, role="county_plc_staff", division_code=yongzhou.lingling)
    headers = auth_headers(login(live_server.url, user.username))
    response = httpx.get(f"{live_server.url}/api/v1/gazetteer/search", params={"q": "新圩镇"},
                         headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ambiguous"] is True and body["selected"] is None
    assert [link["name"] for link in body["matches"][0]["chain"]][-1] == "新圩镇"
    one = httpx.get(f"{live_server.url}/api/v1/gazetteer/search", params={"q": "朝阳街道东岳宫社区"},
                    headers=headers).json()
    assert [link["name"] for link in one["selected"]["chain"]] == ["零陵区", "朝阳街道", "东岳宫社区居委会"]
    assert httpx.get(f"{live_server.url}/api/v1/gazetteer/search", params={"q": "朝阳"}).status_code == 401


def test_import_places_command(engine: Engine, yongzhou: Yongzhou, tmp_path: object) -> None:
    from pathlib import Path

    from typer.testing import CliRunner

    from civicgrid.cli import app

    path = Path(str(tmp_path)) / "places.csv"
    path.write_text(PLACES_CSV.replace("梅湾花园小区", "梅湾新村").replace("零陵古城菜市场", "零陵古城"),
                    encoding="utf-8")
    result = CliRunner().invoke(app, ["import-places", str(path)])
    assert result.exit_code == 0, result.output
    assert "2 新增 created" in result.output
    bad = Path(str(tmp_path)) / "bad.csv"
    bad.write_text("name,kind\n", encoding="utf-8")
    refused = CliRunner().invoke(app, ["import-places", str(bad)])
    assert refused.exit_code == 1 and "缺少列" in refused.output
