"""The same intake by file (CSV or Excel), for units without an interface.

One event per row. Columns: ``event_id``, ``event`` (the event kind, e.g. ``measure.started``),
``at`` (ISO 8601 with a zone, or ``YYYY-MM-DD HH:MM`` read as Beijing time), then the fields of
the event's ``data`` by name (docs/api/supervision.md); a person is given by ``person`` (the id)
with optional ``person_role``, ``person_name``, ``person_id_number``; ``officers`` are separated
by ``、`` or ``;``. A refusal names the row (the header is row 1) and the column.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from openpyxl import load_workbook

from civicgrid.kit.clock import CHINA_TZ
from civicgrid.kit.errors import AppError
from civicgrid.supervision.intake import EventIn, Outcome

INTS = {"amount_fen", "value_fen"}
BOOLS = {"enterprise_involved", "fast_track", "minor_under_14"}
TRUE, FALSE = {"1", "true", "yes", "是", "y"}, {"0", "false", "no", "否", "n", ""}
PERSON = {"person_role": "role", "person_name": "name", "person_id_number": "id_number",
          "person_minor_under_14": "minor_under_14"}
MAX_ROWS = 1000


def read_rows(data: bytes, filename: str) -> list[dict[str, str]]:
    """The file's rows as column → text (CSV in UTF-8, with or without BOM; or .xlsx, first sheet)."""
    if filename.lower().endswith(".xlsx"):
        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
        except Exception as exc:
            raise AppError("无法读取 Excel 文件", "The Excel file cannot be read", status=422,
                           code="bad_file") from exc
        rows = [[("" if v is None else (v.isoformat() if isinstance(v, datetime) else str(v))) for v in r]
                for r in sheet.iter_rows(values_only=True)]
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise AppError("CSV 文件须为 UTF-8 编码", "The CSV file must be UTF-8", status=422,
                           code="bad_file") from exc
        rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise AppError("文件为空", "The file is empty", status=422, code="bad_file")
    header = [h.strip() for h in rows[0]]
    for needed in ("event_id", "event", "at"):
        if needed not in header:
            raise AppError(f"缺少列：{needed}", f"Missing column: {needed}", status=422, code="bad_file")
    body = [r for r in rows[1:] if any(str(c).strip() for c in r)]
    if len(body) > MAX_ROWS:
        raise AppError(f"每个文件最多 {MAX_ROWS} 行", f"At most {MAX_ROWS} rows per file", status=413,
                       code="too_large")
    return [{header[i]: str(c).strip() for i, c in enumerate(r) if i < len(header) and header[i]} for r in body]


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = datetime.strptime(text, "%Y-%m-%d %H:%M")
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TZ)


def to_events(rows: list[dict[str, str]]) -> tuple[list[tuple[int, EventIn]], list[tuple[int, Outcome, str]]]:
    """Rows → events (with their row numbers), and the rows refused before intake with the column."""
    events: list[tuple[int, EventIn]] = []
    refused: list[tuple[int, Outcome, str]] = []
    for n, row in enumerate(rows, start=2):
        column = "at"
        try:
            at = _moment(row.get("at", ""))
            data: dict[str, Any] = {}
            person: dict[str, Any] = {}
            for key, value in row.items():
                column = key
                if key in ("event_id", "event", "at") or value == "":
                    continue
                if key in PERSON:
                    person[PERSON[key]] = value.lower() in TRUE if PERSON[key] == "minor_under_14" else value
                elif key in INTS:
                    data[key] = int(value)
                elif key in BOOLS:
                    if value.lower() not in TRUE | FALSE:
                        raise ValueError(value)
                    data[key] = value.lower() in TRUE
                elif key == "officers":
                    data[key] = [o.strip() for o in value.replace(";", "、").split("、") if o.strip()]
                else:
                    data[key] = value
            if person and "person" in data:
                data["person"] = {"id": data["person"], **person}
            events.append((n, EventIn(event_id=row.get("event_id", ""), kind=row.get("event", ""), at=at,
                                      data=data)))
        except ValueError:
            refused.append((n, Outcome(0, row.get("event_id", ""), "refused", f"第 {n} 行“{column}”列的值无法识别",
                                       f"Row {n}, column '{column}': unreadable value", column), column))
    return events, refused


def column_of(field: str | None) -> str | None:
    """The file's column for a refused field (``person.name`` → ``person_name``)."""
    if field is None:
        return None
    if field.startswith("person."):
        return "person_" + field.split(".", 1)[1]
    return {"kind": "event", "event_id": "event_id"}.get(field, field.split(".")[0])
