"""The catalogue (三张清单) over HTTP: the default Yongzhou list, versioned edits that leave
open matters their limits, and Excel export and import refused whole on a bad cell."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import Engine

from tests.conftest import LiveServer, Yongzhou
from tests.matters.conftest import actor, place_in

CATEGORIES = {"public_order", "safety_fire", "disputes", "city_environment", "municipal", "livelihood",
              "special_groups", "food_drug", "environment", "policy"}


def test_default_catalogue_in_both_languages(live_server: LiveServer, engine: Engine) -> None:
    reader = actor(live_server, engine, "village_officer", "431102001001")
    zh = reader.get("/api/v1/matter-types").json()
    en = reader.get("/api/v1/matter-types", lang="en").json()
    assert len(zh) >= 40 and {t["category"] for t in zh} == CATEGORIES
    garbage = next(t for t in zh if t["code"] == "SR01")
    assert (garbage["name"], garbage["owner_level"]) == ("暴露垃圾", "village")
    assert garbage["limits"]["handle"] == {"amount": 4, "unit": "working_hours"}
    assert next(t for t in en if t["code"] == "SR01")["name"] == "Exposed rubbish"
    assert all(t["handoff"] == "disputes" for t in zh if t["category"] == "disputes")
    assert {t["owner_level"] for t in zh} == {"village", "township", "county", "city"}
    assert {t["list_kind"] for t in zh} == {"power", "responsibility", "service"}


def test_edit_makes_a_new_version_and_open_matters_keep_their_limits(live_server: LiveServer, engine: Engine,
                                                                     yongzhou: Yongzhou) -> None:
    admin = actor(live_server, engine, "admin", "431100000000")
    county_admin = actor(live_server, engine, "city_plc_staff", "431102000000")
    place = place_in(yongzhou, "431102", 12)
    reporter = actor(live_server, engine, "grid_worker", place.grid)
    village = actor(live_server, engine, "village_officer", place.village)
    old = reporter.post("/api/v1/matters", {"type_code": "SZ06", "title": "健身器材坏", "lng": place.lng,
                                            "lat": place.lat, "channel": "grid_worker"}).json()
    current = next(t for t in admin.get("/api/v1/matter-types").json() if t["code"] == "SZ06")
    edited = {**{k: current[k] for k in ("category", "name_zh", "name_en", "owner_level", "department",
                                         "department_en", "list_kind", "auto_escalate", "handoff")},
              "limits": {"accept": [1, "working_hours"], "handle": [1, "working_days"], "verify": [1, "working_days"]}}
    assert county_admin.put("/api/v1/matter-types/SZ06", edited).status_code == 403  # city level only
    bad = admin.put("/api/v1/matter-types/SZ06", {**edited, "limits": {**edited["limits"], "handle": [0, "days"]}},
                    lang="en")
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "handle"
    response = admin.put("/api/v1/matter-types/SZ06", edited)
    assert response.status_code == 200, response.text
    new_version = response.json()["version"]
    assert new_version > current["version"]
    versions = admin.get("/api/v1/catalogue/versions").json()
    assert versions[0]["version"] == new_version and versions[0]["is_current"] and versions[0]["types"] >= 40

    new = reporter.post("/api/v1/matters", {"type_code": "SZ06", "title": "健身器材坏", "lng": place.lng,
                                            "lat": place.lat, "channel": "grid_worker"}).json()
    assert (old["catalogue_version"], new["catalogue_version"]) == (current["version"], new_version)
    village_owner = actor(live_server, engine, "township_officer", place.township)
    for matter in (old, new):
        village_owner.act(matter["id"], "accept")
    old_due = village_owner.act(old["id"], "dispatch").json()
    new_due = village_owner.act(new["id"], "dispatch").json()
    assert old_due["step_due_at"] > new_due["step_due_at"]  # 5 working days kept vs the new 1
    assert village.get(f"/api/v1/matters/{old['id']}").status_code == 200


def test_excel_round_trip_and_a_bad_sheet_is_refused_whole(live_server: LiveServer, engine: Engine) -> None:
    admin = actor(live_server, engine, "admin", "431100000000")
    exported = admin.get("/api/v1/catalogue.xlsx")
    assert exported.status_code == 200
    workbook = load_workbook(io.BytesIO(exported.content))
    sheet = workbook.worksheets[0]
    # Chinese headers first; the keys import reads in a hidden second row (issue 11 §6).
    assert [c.value for c in sheet[1]][:3] == ["编码", "类别代码", "类别"]
    assert [c.value for c in sheet[2]][:3] == ["code", "category", "category_zh"]
    assert sheet.row_dimensions[2].hidden
    column = {c.value: c.column_letter for c in sheet[2]}
    rows = sheet.max_row - 2
    before = admin.get("/api/v1/catalogue/versions").json()[0]["version"]

    handle = column["handle"]
    sheet[f"{handle}5"] = "soon"  # the handling limit, row 5
    buffer = io.BytesIO()
    workbook.save(buffer)
    refused = admin.post("/api/v1/catalogue.xlsx", files={"file": ("c.xlsx", buffer.getvalue())}, lang="en")
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert (error["row"], error["column"]) == (5, handle) and f"Row 5, column {handle}" in error["message"]
    assert admin.get("/api/v1/catalogue/versions").json()[0]["version"] == before  # nothing applied

    sheet[f"{handle}5"] = 3
    sheet[f"{column['name_en']}5"] = "Renamed in Excel"
    buffer = io.BytesIO()
    workbook.save(buffer)
    imported = admin.post("/api/v1/catalogue.xlsx", files={"file": ("c.xlsx", buffer.getvalue())})
    assert imported.status_code == 201, imported.text
    assert imported.json()["version"] == before + 1 and imported.json()["types"] == rows
    code = sheet[f"{column['code']}5"].value
    now = {t["code"]: t for t in admin.get("/api/v1/matter-types", lang="en").json()}
    assert now[code]["name"] == "Renamed in Excel" and now[code]["limits"]["handle"]["amount"] == 3

    garbage = admin.post("/api/v1/catalogue.xlsx", files={"file": ("c.xlsx", b"not a workbook")})
    assert garbage.status_code == 422


def test_catalogue_export_reads_in_words_and_reimports_unchanged(live_server: LiveServer, engine: Engine) -> None:
    """Levels, lists and units in Chinese (村级, 工作时), codes in hidden columns; importing the
    export as it is publishes a version identical to the one exported (issue 11 §6)."""
    admin = actor(live_server, engine, "admin", "431100000000")
    first = admin.get("/api/v1/catalogue.xlsx")
    sheet = load_workbook(io.BytesIO(first.content)).worksheets[0]
    keys = [c.value for c in sheet[2]]
    headers = [c.value for c in sheet[1]]
    garbage = next(r for r in sheet.iter_rows(min_row=3, values_only=True) if r[keys.index("code")] == "SR01")
    assert garbage[keys.index("owner_level_label")] == "村级" and garbage[keys.index("owner_level")] == "village"
    assert garbage[keys.index("handle_unit_label")] == "工作时"
    assert headers[keys.index("owner_level_label")] == "责任层级"
    letters = {key: cell.column_letter for key, cell in zip(keys, sheet[2], strict=True)}
    assert sheet.column_dimensions[letters["owner_level"]].hidden
    assert not sheet.column_dimensions[letters["owner_level_label"]].hidden

    types_before = admin.get("/api/v1/matter-types", include_inactive="true").json()
    imported = admin.post("/api/v1/catalogue.xlsx", files={"file": ("c.xlsx", first.content)})
    assert imported.status_code == 201, imported.text
    again = admin.get("/api/v1/catalogue.xlsx")

    def data(content: bytes) -> list[tuple[object, ...]]:
        return list(load_workbook(io.BytesIO(content)).worksheets[0].iter_rows(values_only=True))

    assert data(again.content) == data(first.content)
    types_after = admin.get("/api/v1/matter-types", include_inactive="true").json()
    strip = ("id", "catalogue_version", "version")
    assert [{k: v for k, v in t.items() if k not in strip} for t in types_after] == [
        {k: v for k, v in t.items() if k not in strip} for t in types_before]
