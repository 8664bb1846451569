"""Printable documents of one record (事项登记表, a mediation agreement…) with a watermark.

A printed page carries personal data in clear, so printing is a reveal: the reveal service
(:func:`civicgrid.reveal.service.print_document`) audits it and calls :func:`render` here. This
module only turns a :class:`Document` into one self-contained HTML page (no scripts, no external
files: it prints the same on an offline government network) and lays the viewer's name,
username and the time over it as repeated diagonal text, on screen and on every printed sheet,
so a photographed or copied sheet names who printed it and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

from civicgrid.kit.clock import CHINA_TZ


@dataclass(frozen=True)
class Table:
    """A table of the document (a timeline, a list of parties)."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Document:
    """What a printed sheet shows: a title, a reference (the record's number), labelled fields
    in order, then tables, and a footnote."""

    title: str
    reference: str
    fields: tuple[tuple[str, str], ...]
    tables: tuple[Table, ...] = ()
    footnote: str = ""
    lang: str = "zh-CN"


def watermark_text(display_name: str, username: str, at: datetime) -> str:
    """``张三 (zhangsan) 2026-12-03 17:40``: who printed, in local time (Asia/Shanghai)."""
    who = f"{display_name} ({username})" if display_name and display_name != username else username
    return f"{who} {at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M}"


_ROWS, _COLUMNS = 9, 4

_STYLE = """
*{box-sizing:border-box}
body{font-family:"Microsoft YaHei","PingFang SC","WenQuanYi Micro Hei","Noto Sans CJK SC",sans-serif;
 margin:0;color:#111;-webkit-print-color-adjust:exact;print-color-adjust:exact}
main{position:relative;z-index:1;max-width:190mm;margin:0 auto;padding:12mm 10mm}
h1{text-align:center;font-size:22px;letter-spacing:4px;margin:0 0 4px}
.reference{text-align:center;color:#444;margin:0 0 16px}
table{width:100%;border-collapse:collapse;margin:0 0 14px;background:transparent}
th,td{border:1px solid #333;padding:6px 8px;font-size:13px;text-align:left;vertical-align:top}
th{width:22%;background:rgba(0,0,0,.04);font-weight:600}
h2{font-size:15px;margin:14px 0 6px}
.footnote{font-size:11px;color:#555;margin-top:18px}
.watermark{position:fixed;inset:0;z-index:2;pointer-events:none;overflow:hidden;
 display:grid;grid-template-columns:repeat(4,1fr);grid-auto-rows:11vh;align-items:center;justify-items:center}
.watermark span{transform:rotate(-30deg);white-space:nowrap;font-size:15px;color:rgba(0,0,0,.13);
 user-select:none}
@media print{
 @page{size:A4;margin:12mm}
 main{padding:0;max-width:none}
 .watermark{position:fixed;inset:0;display:grid}
 .watermark span{color:rgba(0,0,0,.16)}
}
"""


def render(document: Document, watermark: str) -> str:
    """One printable HTML page: the document under a watermark of repeated diagonal text (a
    ``position: fixed`` layer, which browsers repeat on every printed page)."""
    e = escape
    fields = "".join(f"<tr><th>{e(label)}</th><td>{e(value)}</td></tr>" for label, value in document.fields)
    tables = []
    for table in document.tables:
        head = "".join(f"<th>{e(h)}</th>" for h in table.headers)
        body = "".join("<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>" for row in table.rows)
        tables.append(f"<h2>{e(table.title)}</h2><table class=\"list\"><thead><tr>{head}</tr></thead>"
                      f"<tbody>{body}</tbody></table>")
    marks = "".join(f"<span>{e(watermark)}</span>" for _ in range(_ROWS * _COLUMNS))
    footnote = f"<p class=\"footnote\">{e(document.footnote)}</p>" if document.footnote else ""
    return (f"<!DOCTYPE html><html lang=\"{e(document.lang)}\"><head><meta charset=\"utf-8\">"
            f"<title>{e(document.title)} {e(document.reference)}</title><style>{_STYLE}</style></head><body>"
            f"<main><h1>{e(document.title)}</h1><p class=\"reference\">{e(document.reference)}</p>"
            f"<table class=\"fields\">{fields}</table>{''.join(tables)}{footnote}</main>"
            f"<div class=\"watermark\" aria-hidden=\"true\" data-watermark=\"{e(watermark)}\">{marks}</div>"
            f"</body></html>")
