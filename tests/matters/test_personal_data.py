"""Personal data of a matter's reporter (DESIGN.md rule 8; GB/T 35273-2020 个人信息安全规范 §6.2
去标识化/展示限制, 《个人信息保护法》(2021) 第五十一条 access control and 第五十五条 records):
lists, details and exports mask; a reveal is one audited call for one field with a stated
purpose; printing the report sheet is a reveal and carries the viewer's watermark."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from openpyxl import load_workbook
from sqlalchemy import Engine, create_engine, select, text

from civicgrid.audit.models import AuditEntry
from civicgrid.kit.pii import get_cipher
from civicgrid.migrate import alembic_config, upgrade
from tests.conftest import LiveServer, Yongzhou
from tests.factories import assert_out_of_scope_404
from tests.matters.conftest import Actor, actor, place_in

PHONE, NAME = "13800138000", "李秀英"


def _hotline_matter(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> tuple[Actor, dict[str, object]]:
    place = place_in(yongzhou, "431124", 1)
    operator = actor(live_server, engine, "grid_worker", place.grid)
    created = operator.post("/api/v1/matters", {
        "type_code": "SR01", "title": "热线：路灯不亮", "description": "村口路灯三晚不亮", "lng": place.lng,
        "lat": place.lat, "channel": "hotline", "reporter_name": NAME, "reporter_phone": "138 0013 8000"})
    assert created.status_code == 201, created.text
    return operator, created.json()


def _reveals(engine: Engine, matter_id: str) -> list[tuple[str, dict[str, object]]]:
    with engine.connect() as conn:
        rows = conn.execute(select(AuditEntry.actor, AuditEntry.after).where(
            AuditEntry.action == "pii.reveal", AuditEntry.entity_id == matter_id).order_by(AuditEntry.seq)).all()
    return [(who, json.loads(after)) for who, after in rows]


def test_a_reveal_holder_lists_masked_and_a_reveal_is_one_audited_call(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    """The regression of issue 9 §1: the city staff (who hold pii.reveal) got the reporter's phone
    in clear in every list and detail, with no audit entry."""
    _, created = _hotline_matter(live_server, engine, yongzhou)
    matter_id = str(created["id"])
    assert (created["reporter_name"], created["reporter_phone"]) == ("李**", "138****8000")

    staff = actor(live_server, engine, "city_plc_staff", "431100000000")  # holds pii.reveal
    listed = staff.get("/api/v1/matters", queue="division", limit="200").json()["items"]
    mine = [m for m in listed if m["id"] == matter_id]
    assert len(mine) == 1 and (mine[0]["reporter_name"], mine[0]["reporter_phone"]) == ("李**", "138****8000")
    detail = staff.get(f"/api/v1/matters/{matter_id}")
    assert PHONE not in detail.text and NAME not in detail.text
    assert detail.json()["reporter_phone"] == "138****8000"
    assert _reveals(engine, matter_id) == []  # reading masked values reveals nothing

    url = f"/api/v1/matters/{matter_id}/reveal"
    assert staff.post(url, {"field": "reporter_phone"}).status_code == 422  # no purpose
    blank = staff.post(url, {"field": "reporter_phone", "purpose": " \t "})
    assert blank.status_code == 422 and blank.json()["error"]["field"] == "purpose"
    assert staff.post(url, {"field": "description", "purpose": "回访"}).status_code == 422  # not personal
    revealed = staff.post(url, {"field": "reporter_phone", "purpose": "电话回访核实办理结果"})
    assert revealed.status_code == 200, revealed.text
    assert revealed.json() == {"id": matter_id, "field": "reporter_phone", "value": PHONE}

    reveals = _reveals(engine, matter_id)
    assert len(reveals) == 1
    assert reveals[0][0].startswith(staff.user.username)
    assert reveals[0][1] == {"field": "reporter_phone", "purpose": "电话回访核实办理结果", "present": True}

    # Without the permission: 403, nothing revealed; outside the jurisdiction: 404.
    village = actor(live_server, engine, "village_officer", place_in(yongzhou, "431124", 1).village)
    assert village.post(url, {"field": "reporter_phone", "purpose": "回访"}).status_code == 403
    other = actor(live_server, engine, "county_plc_staff", "431103000000")  # 冷水滩区, not 道县
    assert_out_of_scope_404(live_server.url, other.token, url, method="POST",
                            json={"field": "reporter_name", "purpose": "回访"})
    assert len(_reveals(engine, matter_id)) == 1


def test_stored_values_are_ciphertext_and_the_chain_keeps_none(live_server: LiveServer, engine: Engine,
                                                                 yongzhou: Yongzhou) -> None:
    _, created = _hotline_matter(live_server, engine, yongzhou)
    with engine.connect() as conn:
        name, phone, digest = conn.execute(text(
            "SELECT reporter_name, reporter_phone, reporter_phone_hash FROM matters WHERE id = :i"),
            {"i": created["id"]}).one()
        chain = " ".join(str(a) for (a,) in conn.execute(
            select(AuditEntry.after).where(AuditEntry.entity_id == created["id"])))
    assert name.startswith("aes-gcm.") and phone.startswith("aes-gcm.")  # the default cipher, named
    assert NAME not in name and "8000" not in phone
    assert get_cipher().decrypt(name, "matters.reporter_name") == NAME
    assert NAME not in chain and PHONE not in chain and digest not in chain


def test_printing_the_report_sheet_is_an_audited_reveal_with_a_watermark(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    _, created = _hotline_matter(live_server, engine, yongzhou)
    matter_id = str(created["id"])
    staff = actor(live_server, engine, "city_plc_staff", "431100000000")
    url = f"/api/v1/matters/{matter_id}/print"

    assert staff.post(url, {"purpose": ""}).status_code == 422
    printed = staff.post(url, {"purpose": "归档备查"})
    assert printed.status_code == 200, printed.text
    assert printed.headers["content-type"].startswith("text/html")
    assert printed.headers["content-disposition"] == f'inline; filename="{created["number"]}.html"'
    page = printed.text
    assert "事项登记表" in page and str(created["number"]) in page
    assert NAME in page and PHONE in page  # the sheet shows the reporter in clear
    assert "村口路灯三晚不亮" in page and "上报" in page  # the timeline
    # The watermark: the viewer's username and the time, repeated, diagonal, also in print.
    mark = re.search(r'data-watermark="([^"]+)"', page)
    assert mark and staff.user.username in mark.group(1)
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}$", mark.group(1))
    assert page.count(f"<span>{mark.group(1)}</span>") >= 20
    assert "rotate(-30deg)" in page and "@media print" in page and "position:fixed" in page

    reveals = _reveals(engine, matter_id)
    assert len(reveals) == 1
    assert reveals[0][1] == {"fields": ["reporter_name", "reporter_phone"], "purpose": "归档备查",
                             "document": "事项登记表", "print": True}

    village = actor(live_server, engine, "village_officer", place_in(yongzhou, "431124", 1).village)
    assert village.post(url, {"purpose": "归档"}).status_code == 403
    other = actor(live_server, engine, "county_plc_staff", "431103000000")
    assert_out_of_scope_404(live_server.url, other.token, url, method="POST", json={"purpose": "归档"})
    assert len(_reveals(engine, matter_id)) == 1


def test_export_masks_names_too(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    _, created = _hotline_matter(live_server, engine, yongzhou)
    staff = actor(live_server, engine, "city_plc_staff", "431100000000")
    response = staff.get("/api/v1/matters.xlsx", queue="division")
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    mine = [r for r in rows[2:] if r[0] == created["number"]]
    name_column = rows[1].index("Reporter (masked)")
    assert mine and mine[0][name_column] == "李**"
    assert all(NAME not in str(cell) and PHONE not in str(cell) for row in rows for cell in row)


def test_migration_0012_encrypts_stored_reporter_names_and_its_downgrade_restores_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'before.sqlite3'}"
    # Found by its message, so the test follows the migration when the chain is renumbered.
    migration = next(r for r in ScriptDirectory.from_config(alembic_config(url)).walk_revisions()
                     if (r.doc or "").startswith("personal data as a type"))
    before = str(migration.down_revision)
    upgrade(url, before)
    plain = create_engine(url)
    columns = ("id, number, type_id, type_code, catalogue_version, title, description, channel, reporter_name, "
               "reporter_phone, lng, lat, grid_code, division_code, owner_level, department, status, "
               "status_changed_at, reported_at, alert, overdue, escalations, rework_count, supervised")
    with plain.begin() as conn:
        conn.execute(text("PRAGMA foreign_keys = OFF"))
        for n, name in enumerate(["王建军", None]):
            conn.execute(text(f"INSERT INTO matters ({columns}) VALUES (:id, :number, 't', 'SR01', 1, '路灯', '', "
                              "'hotline', :name, NULL, 111.6, 26.2, '431102001001001', '431102001001', 'village', "
                              "'保洁队', 'reported', '2026-12-01 00:00:00', '2026-12-01 00:00:00', 'none', 0, 0, 0, 0)"
                              ),
                         {"id": f"m{n}", "number": f"YZ-20261201-00000{n}", "name": name})
    command.upgrade(alembic_config(url), migration.revision)
    with plain.connect() as conn:
        stored = dict(conn.execute(text("SELECT id, reporter_name FROM matters")).all())
    assert stored["m1"] is None and stored["m0"].startswith("aes-gcm.") and "王" not in stored["m0"]
    assert get_cipher().decrypt(stored["m0"], "matters.reporter_name") == "王建军"
    command.downgrade(alembic_config(url), before)
    with plain.connect() as conn:
        assert dict(conn.execute(text("SELECT id, reporter_name FROM matters")).all()) == {"m0": "王建军", "m1": None}
    plain.dispose()
