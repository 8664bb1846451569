"""Figures of the enforcement supervision centre (docs/figures.md, "执法监督统计口径").

Police figures for a division (and optionally a handling unit with every unit under it) and an
inclusive range of local dates, computed on demand from the records: cases received, filed and
closed (by event time, from the stage events the case systems sent), breaches by rule and unit,
warnings acknowledged in time, measures by kind and duration, property held, held after its case
ended, returned and disposed of. They are deliberately *not* labelled with the courts'
"closure within the statutory time limit" (法定审限内结案率): a police case's stages end at
移送审查起诉, 不予立案 or 撤案, which is no judgment.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import jurisdiction_prefix
from civicgrid.kit.clock import CHINA_TZ, as_utc
from civicgrid.kit.errors import Invalid, NotFound
from civicgrid.people.orgs import service as orgs
from civicgrid.supervision import catalogue, repository

# The stages at which a police case leaves the police's hands (办结), per kind.
CLOSING = {"criminal": frozenset({"prosecution_review", "not_filed", "withdrawn"}),
           "administrative": frozenset({"executed", "not_punished", "withdrawn"})}
FINAL_ACTIONS = frozenset({"return", "confiscate", "auction", "destroy"})
MEASURE_NAMES = {
    "summons": ("传唤", "Summons"), "compelled_appearance": ("拘传", "Compelled appearance"),
    "questioning": ("询问查证", "Questioning"), "continued_questioning": ("继续盘问", "Continued questioning"),
    "criminal_detention": ("刑事拘留", "Criminal detention"), "arrest": ("逮捕", "Arrest"),
    "bail": ("取保候审", "Bail"), "residential_surveillance": ("监视居住", "Residential surveillance"),
    "designated_residence": ("指定居所监视居住", "Designated residence"),
    "administrative_detention": ("行政拘留", "Administrative detention"),
}


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _subtree(session: Session, unit_id: str) -> list[str]:
    children: dict[str | None, list[str]] = defaultdict(list)
    for row in repository.unit_tree(session):
        children[row.parent_id].append(row.id)
    out, todo = [], [unit_id]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The UTC moments of 00:00 (Asia/Shanghai) on ``start`` and on the day after ``end``."""
    lo = datetime.combine(start, time(0, 0), tzinfo=CHINA_TZ).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time(0, 0), tzinfo=CHINA_TZ).astimezone(UTC)
    return lo, hi


def figures(session: Session, principal: Principal, division_code: str, start: date, end: date,
            unit_id: str | None = None) -> dict[str, Any]:
    """The figures (module docstring); a division or unit outside the caller's jurisdiction is 404."""
    if end < start or (end - start).days > 3700:
        raise Invalid("日期范围不正确", "Invalid date range", details={"field": "end"})
    try:
        prefix = jurisdiction_prefix(division_code)
    except ValueError as exc:
        raise Invalid("区划代码不正确", "Invalid division code", details={"field": "division_code"}) from exc
    if not (prefix.startswith(principal.jurisdiction) or principal.jurisdiction.startswith(prefix)):
        raise NotFound("区划", "division")
    unit_name = None
    units: list[str] | None = None
    if unit_id is not None:
        unit = orgs.get_unit(session, principal, unit_id)  # 404 outside the caller's jurisdiction
        unit_name, units = unit.name, _subtree(session, unit.id)
    lo, hi = bounds(start, end)

    cases = {c.id: c for c in repository.figure_cases(session, principal, prefix, units)}
    received = [c for c in cases.values() if lo <= as_utc(c.accepted_at) < hi]
    stages: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for row in repository.figure_stage_events(session, principal, prefix, units, hi):
        stage = json.loads(row.payload).get("data", {}).get("stage")
        if row.case_id in cases and stage:
            stages[row.case_id].append((as_utc(row.event_at), str(stage)))
    filed = {cid for cid, rows in stages.items() if any(s == "filed" and lo <= at < hi for at, s in rows)}
    closed = {cid for cid, rows in stages.items()
              if any(s in CLOSING[cases[cid].kind] and lo <= at < hi for at, s in rows)}
    ended_by_end = {cid for cid, rows in stages.items() if rows and rows[-1][1] in CLOSING[cases[cid].kind]}

    names = {row.id: row.name for row in repository.unit_tree(session)}
    breaches = repository.figure_breaches(session, principal, prefix, units, lo, hi)
    rules = catalogue.rules()
    by_rule = Counter(b.rule_code for b in breaches)
    by_unit = Counter(b.unit_id for b in breaches)

    alerts = repository.figure_alerts(session, principal, prefix, units, lo, hi)
    counted = [a for a in alerts if a.status != "withdrawn"]
    in_time = sum(1 for a in counted if a.acknowledged_at is not None and as_utc(a.acknowledged_at)
                  <= as_utc(a.ack_due_at))
    late = sum(1 for a in counted if a.acknowledged_at is not None and as_utc(a.acknowledged_at)
               > as_utc(a.ack_due_at))

    measures: dict[str, list[Any]] = defaultdict(list)
    for m in repository.figure_measures(session, principal, prefix, units, lo, hi):
        measures[m.kind].append(m)

    items: dict[str, dict[str, Any]] = {}
    for t in repository.figure_custody(session, principal, prefix, units, hi):
        item = items.setdefault(t.property_id, {"case_id": t.case_id, "value": t.value_fen or 0, "seized": None,
                                                "final": None, "final_action": None})
        at = as_utc(t.at)
        if t.action == "seize":
            item["seized"] = at
        elif t.action in FINAL_ACTIONS and item["final"] is None:
            item["final"], item["final_action"] = at, t.action
    held_ids = [pid for pid, i in items.items() if i["seized"] is not None and i["final"] is None]
    held = [items[pid] for pid in held_ids]
    disposal_due = repository.figure_disposal_deadlines(session, principal, prefix, units)
    overdue = sum(1 for pid in held_ids if pid in disposal_due and as_utc(disposal_due[pid]) < hi)
    seized = [i for i in items.values() if i["seized"] is not None and lo <= i["seized"] < hi]
    finals = [i for i in items.values() if i["final"] is not None and lo <= i["final"] < hi]

    def measure_row(kind: str, rows: list[Any]) -> dict[str, Any]:
        hours = [(as_utc(r.ended_at) - as_utc(r.started_at)).total_seconds() / 3600 for r in rows
                 if r.ended_at is not None and as_utc(r.ended_at) < hi]
        zh, en = MEASURE_NAMES.get(kind, (kind, kind))
        return {"kind": kind, "name_zh": zh, "name_en": en, "started": len(rows), "ended": len(hours),
                "avg_hours": round(sum(hours) / len(hours), 2) if hours else None,
                "max_hours": round(max(hours), 2) if hours else None}

    return {
        "division_code": division_code, "unit_id": unit_id, "unit_name": unit_name, "start": start, "end": end,
        "cases": {
            "received": len(received),
            "received_criminal": sum(1 for c in received if c.kind == "criminal"),
            "received_administrative": sum(1 for c in received if c.kind == "administrative"),
            "filed": len(filed),
            "closed": len(closed),
        },
        "breaches": {
            "total": len(breaches),
            "by_rule": [{"rule_code": code, "name_zh": rules[code].name_zh if code in rules else code,
                         "name_en": rules[code].name_en if code in rules else code, "count": n}
                        for code, n in sorted(by_rule.items(), key=lambda x: (-x[1], x[0]))],
            "by_unit": [{"unit_id": uid, "unit_name": names.get(uid, uid), "count": n}
                        for uid, n in sorted(by_unit.items(), key=lambda x: (-x[1], x[0]))],
        },
        "warnings": {
            "raised": len(alerts), "withdrawn": len(alerts) - len(counted), "acknowledged_in_time": in_time,
            "acknowledged_late": late, "not_acknowledged": len(counted) - in_time - late,
            "in_time_rate": _rate(in_time, len(counted)),
        },
        "measures": [measure_row(kind, rows) for kind, rows in sorted(measures.items())],
        "property": {
            "seized": len(seized), "seized_value_fen": sum(i["value"] for i in seized),
            "held_at_end": len(held), "held_value_fen": sum(i["value"] for i in held),
            "held_after_case_ended": sum(1 for i in held if i["case_id"] in ended_by_end),
            "overdue_for_disposal": overdue,
            "returned": sum(1 for i in finals if i["final_action"] == "return"),
            "disposed": sum(1 for i in finals if i["final_action"] != "return"),
        },
    }


FIGURE_ROWS = [  # section, key path, zh, en
    ("cases", "received", "受案数", "Cases received"),
    ("cases", "received_criminal", "其中刑事", "of which criminal"),
    ("cases", "received_administrative", "其中行政（治安）", "of which administrative"),
    ("cases", "filed", "立案数（刑事）", "Criminal cases filed"),
    ("cases", "closed", "办结数（移送起诉、不予立案、撤案、执行完毕、不予处罚）", "Cases closed by the police"),
    ("breaches", "total", "超期数", "Breaches"),
    ("warnings", "raised", "预警数", "Warnings raised"),
    ("warnings", "withdrawn", "撤回（迟到数据、依法例外）", "Withdrawn (late data, lawful exception)"),
    ("warnings", "acknowledged_in_time", "按时签收", "Acknowledged in time"),
    ("warnings", "acknowledged_late", "超时签收", "Acknowledged late"),
    ("warnings", "not_acknowledged", "未签收", "Not acknowledged"),
    ("warnings", "in_time_rate", "预警按时签收率", "Warnings acknowledged in time (share)"),
    ("property", "seized", "期内扣押财物（件）", "Items seized"),
    ("property", "seized_value_fen", "期内扣押价值（分）", "Value seized (fen)"),
    ("property", "held_at_end", "期末在库（件）", "Items held at the end"),
    ("property", "held_value_fen", "期末在库价值（分）", "Value held at the end (fen)"),
    ("property", "held_after_case_ended", "案结未处置（件）", "Held after the case ended"),
    ("property", "overdue_for_disposal", "逾期未处置（件）", "Overdue for disposal"),
    ("property", "returned", "期内发还（件）", "Items returned"),
    ("property", "disposed", "期内没收、拍卖、销毁（件）", "Items confiscated, auctioned or destroyed"),
]


def figures_xlsx(values: dict[str, Any]) -> bytes:
    """One row per figure (Chinese and English names), then breaches by rule and unit, then measures."""
    from civicgrid.kit.excel import Column, write_xlsx

    rows: list[dict[str, Any]] = [{"section": s, "key": k, "zh": zh, "en": en, "value": values[s][k]}
                                  for s, k, zh, en in FIGURE_ROWS]
    rows += [{"section": "breaches.by_rule", "key": r["rule_code"], "zh": f"超期：{r['name_zh']}",
              "en": f"Breaches: {r['name_en']}", "value": r["count"]} for r in values["breaches"]["by_rule"]]
    rows += [{"section": "breaches.by_unit", "key": r["unit_id"], "zh": f"超期：{r['unit_name']}",
              "en": f"Breaches: {r['unit_name']}", "value": r["count"]} for r in values["breaches"]["by_unit"]]
    for m in values["measures"]:
        for key, zh, en in (("started", "期内开始", "started"), ("ended", "其中已结束", "of which ended"),
                            ("avg_hours", "平均时长（小时）", "mean hours"),
                            ("max_hours", "最长（小时）", "longest hours")):
            rows.append({"section": f"measures.{m['kind']}", "key": key, "zh": f"{m['name_zh']}：{zh}",
                         "en": f"{m['name_en']}: {en}", "value": m[key]})
    columns = [Column("zh", "指标", "Figure (zh)", width=40), Column("en", "Figure", "Figure (en)", width=44),
               Column("value", "数值", "Value", width=14), Column("section", "类别", "Section", hidden=True),
               Column("key", "代码", "Key", hidden=True)]
    return write_xlsx(columns, rows, sheet="执法监督 Supervision")
