"""Write any list of rows to an .xlsx workbook with Chinese and English headers (domain-free).

Row 1 holds the Chinese column names, row 2 the English ones; data starts on row 3 with the
header rows frozen. Every module's Excel export uses this::

    columns = [Column("number", "编号", "Number"), Column("reported_at", "上报时间", "Reported at")]
    data = write_xlsx(columns, rows, sheet="事项 Matters")
    return Response(data, media_type=XLSX_MEDIA_TYPE, headers=attachment_headers("matters.xlsx"))

Values: aware datetimes are written as Asia/Shanghai wall-clock time (Excel has no time zones);
``None`` becomes an empty cell; text that a spreadsheet would run as a formula (starting with
``= + - @``) is written with a leading apostrophe, so a reported matter titled
``=HYPERLINK(...)`` stays text (CSV/formula injection).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from civicgrid.kit.clock import CHINA_TZ

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


@dataclass(frozen=True)
class Column:
    """One column: the row key it reads, its Chinese and English names, and optionally a width
    (characters) and an Excel number format (e.g. ``"0.0%"``, ``"yyyy-mm-dd hh:mm"``).

    ``labels`` turns a code into the words people read (``village`` → ``村级``; an unknown code
    stays as it is); ``hidden`` hides the column — the usual pair is a labelled column and a
    hidden one with the codes, so the workbook can be read back."""

    key: str
    zh: str
    en: str
    width: float | None = None
    number_format: str | None = None
    labels: Mapping[str, str] | None = None
    hidden: bool = False

    def value(self, row: Mapping[str, Any]) -> Any:
        """The cell value of this column for ``row`` (labelled when the column has labels)."""
        raw = row.get(self.key)
        if self.labels is not None and raw is not None:
            return self.labels.get(str(raw), raw)
        return raw


def cell_value(value: Any) -> Any:
    """A Python value as something a spreadsheet stores safely."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(CHINA_TZ).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, bool | int | float | date):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_xlsx(columns: Sequence[Column], rows: Iterable[Mapping[str, Any]], *, sheet: str = "Sheet1") -> bytes:
    """The workbook bytes: zh header row, en header row, then one row per mapping (streamed, so
    a list of a million rows does not sit in memory as cell objects)."""
    if not columns:
        raise ValueError("an export needs at least one column")
    book = Workbook(write_only=True)
    ws = book.create_sheet(title=_sheet_title(sheet))
    ws.freeze_panes = "A3"
    for index, column in enumerate(columns, start=1):
        width = column.width or max(10.0, min(40.0, 2.2 * len(column.zh) + 2, len(column.en) + 2.0))
        ws.column_dimensions[get_column_letter(index)].width = width
        if column.hidden:
            ws.column_dimensions[get_column_letter(index)].hidden = True
    for header in ([c.zh for c in columns], [c.en for c in columns]):
        cells = []
        for text in header:
            cell = WriteOnlyCell(ws, value=text)
            cell.font = _HEADER_FONT
            cell.fill = _HEADER_FILL
            cells.append(cell)
        ws.append(cells)
    formatted = any(c.number_format for c in columns)
    for row in rows:
        values = [cell_value(c.value(row)) for c in columns]
        if not formatted:
            ws.append(values)
            continue
        out: list[Any] = []
        for column, value in zip(columns, values, strict=True):
            if column.number_format and value is not None:
                cell = WriteOnlyCell(ws, value=value)
                cell.number_format = column.number_format
                out.append(cell)
            else:
                out.append(value)
        ws.append(out)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _sheet_title(title: str) -> str:
    # Excel refuses these characters and titles over 31 characters.
    cleaned = "".join("_" if ch in '[]:*?/\\' else ch for ch in title).strip() or "Sheet1"
    return cleaned[:31]


def attachment_headers(filename: str) -> dict[str, str]:
    """Content-Disposition for a download; a Chinese file name survives via RFC 5987."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "")
    return {"Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"}
