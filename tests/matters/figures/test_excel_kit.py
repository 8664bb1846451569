"""kit.excel: both header rows, local times, formula text kept as text, file names."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from openpyxl import load_workbook

from civicgrid.kit.excel import Column, attachment_headers, write_xlsx


def test_rows_headers_and_values() -> None:
    columns = [Column("title", "标题", "Title"), Column("at", "时间", "Time"), Column("n", "数量", "Count"),
               Column("rate", "比例", "Rate", number_format="0.0%"), Column("day", "日期", "Day")]
    rows = [{"title": "=HYPERLINK(\"http://x\")", "at": datetime(2026, 11, 29, 16, 30, tzinfo=UTC), "n": 3,
             "rate": 0.25, "day": date(2026, 11, 30)},
            {"title": "路灯不亮", "n": None}]
    sheet = load_workbook(io.BytesIO(write_xlsx(columns, rows, sheet="事项/Matters"))).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("标题", "时间", "数量", "比例", "日期")
    assert values[1] == ("Title", "Time", "Count", "Rate", "Day")
    assert values[2][0] == "'=HYPERLINK(\"http://x\")"  # text, never a formula
    assert values[2][1] == datetime(2026, 11, 30, 0, 30)  # Asia/Shanghai wall clock
    assert values[2][2:4] == (3, 0.25) and values[2][4].date() == date(2026, 11, 30)
    assert values[3] == ("路灯不亮", None, None, None, None)
    assert sheet.title == "事项_Matters" and sheet.freeze_panes == "A3"
    assert sheet.cell(row=3, column=4).number_format == "0.0%"


def test_attachment_headers_keep_chinese_names() -> None:
    header = attachment_headers("事项统计.xlsx")["Content-Disposition"]
    assert header.startswith('attachment; filename="') and "filename*=UTF-8''%E4%BA%8B" in header
