"""The figures as an Excel workbook (zh headers on row 1, en on row 2)."""

from __future__ import annotations

from typing import Any

from civicgrid.kit.excel import Column, write_xlsx
from civicgrid.matters.figures.repository import SETTLED_LEVELS
from civicgrid.matters.figures.schemas import FiguresRead

_LEVEL_NAMES = {"village": ("村级", "village"), "township": ("乡镇级", "township"),
                "county": ("县级", "county"), "city": ("市级", "city")}
PERCENT = "0.0%"

COLUMNS: list[Column] = [
    Column("division", "区划代码", "Division code", width=18),
    Column("name", "名称", "Name", width=20),
    Column("date_from", "起始日期", "From", width=12, number_format="yyyy-mm-dd"),
    Column("date_to", "截止日期", "To", width=12, number_format="yyyy-mm-dd"),
    Column("received", "受理数", "Received"),
    Column("received_void", "不予受理/撤销", "Rejected or cancelled"),
    Column("received_closed", "期内受理已办结", "Received and closed"),
    Column("closure_rate", "办结率", "Closure rate", number_format=PERCENT),
    Column("closed", "办结数", "Closed"),
    Column("on_time_rate", "按期办结率", "On-time closure rate", number_format=PERCENT),
    Column("rework_rate", "返工率", "Rework rate", number_format=PERCENT),
    Column("avg_handling_hours", "平均办理时长（小时）", "Average handling time (hours)", number_format="0.0"),
    Column("satisfaction", "满意度（1–5）", "Satisfaction (1–5)", number_format="0.00"),
    Column("satisfaction_count", "评价数", "Evaluations"),
    Column("not_rated", "未评价数", "Not rated"),
    *[col for lvl in SETTLED_LEVELS for col in (
        Column(f"settled_{lvl}", f"{_LEVEL_NAMES[lvl][0]}化解数", f"Settled at {_LEVEL_NAMES[lvl][1]} level"),
        Column(f"settled_{lvl}_share", f"{_LEVEL_NAMES[lvl][0]}化解占比",
               f"Share settled at {_LEVEL_NAMES[lvl][1]} level", number_format=PERCENT))],
]


def _row(f: FiguresRead) -> dict[str, Any]:
    row: dict[str, Any] = f.model_dump(exclude={"settled"})
    for lvl, share in f.settled.items():
        row[f"settled_{lvl}"] = share.count
        row[f"settled_{lvl}_share"] = share.share
    return row


def figures_workbook(rows: list[FiguresRead]) -> bytes:
    """One sheet, one row per division (the division asked for first, then its children)."""
    return write_xlsx(COLUMNS, (_row(f) for f in rows), sheet="事项统计 Matter figures")
