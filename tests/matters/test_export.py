"""Excel export of a queue: Chinese and English headers, masked phones, audited download."""

from __future__ import annotations

import io
import time

from openpyxl import load_workbook
from sqlalchemy import Engine, select

from civicgrid.audit.models import AuditEntry
from civicgrid.db import transaction
from tests.conftest import LiveServer, Yongzhou
from tests.matters.conftest import actor, place_in


def test_queue_export(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    place = place_in(yongzhou, "431124", 2)
    reporter = actor(live_server, engine, "grid_worker", place.grid)
    created = reporter.post("/api/v1/matters", {"type_code": "SR01", "title": "热线：路灯不亮", "description": "",
                                                "lng": place.lng, "lat": place.lat, "channel": "hotline",
                                                "reporter_name": "李女士", "reporter_phone": "13800138000"})
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    officer = actor(live_server, engine, "city_plc_staff", "431100000000")  # holds pii.reveal
    response = officer.get("/api/v1/matters.xlsx", queue="division")
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "事项编号" and rows[1][0] == "Number"
    mine = [r for r in rows[2:] if r[0] == number]
    assert len(mine) == 1
    phone_column = rows[1].index("Phone (masked)")
    assert mine[0][phone_column] == "138****8000"  # masked even for a caller allowed to reveal
    # Words people read (issue 11 §6): 村级, 已上报, the grid's name; the codes in hidden columns.
    row = dict(zip(rows[0], mine[0], strict=True))
    assert (row["状态"], row["责任层级"], row["来源渠道"]) == ("已上报", "村级", "12345 热线")
    assert row["所属网格"] and not str(row["所属网格"]).isdigit()
    assert (row["状态代码"], row["责任层级代码"], row["网格编码"]) == ("reported", "village", place.grid)
    letters = {name: cell.column_letter for name, cell in zip(rows[0], sheet[1], strict=True)}
    assert sheet.column_dimensions[letters["网格编码"]].hidden
    assert not sheet.column_dimensions[letters["所属网格"]].hidden
    deadline = time.monotonic() + 5
    while True:  # the download is recorded after the response has gone out
        with transaction(engine, write=False) as session:
            found = session.scalars(select(AuditEntry).where(AuditEntry.action == "matters.export",
                                                             AuditEntry.actor == officer.user.username)
                                  .order_by(AuditEntry.seq)).all()
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert found and '"rows":' in (found[-1].after or "")


def test_export_needs_the_read_permission(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    volunteer = actor(live_server, engine, "volunteer", place_in(yongzhou, "431124", 2).village)
    assert volunteer.get("/api/v1/matters.xlsx").status_code == 403
