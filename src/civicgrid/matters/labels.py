"""Chinese names of the matters' codes, for what people read outside the console (Excel exports):
``村级`` rather than ``village``, ``工作时`` rather than ``working_hours`` (issue 11 §6). An export
shows these and keeps the codes in a hidden column, so a workbook can be read back."""

from __future__ import annotations

LEVEL_ZH = {"village": "村级", "township": "乡镇级", "county": "县级", "city": "市级"}
LIST_KIND_ZH = {"power": "权力清单", "responsibility": "责任清单", "service": "公共服务清单"}
UNIT_ZH = {"minutes": "分钟", "hours": "小时", "days": "日", "working_hours": "工作时", "working_days": "工作日"}
STATUS_ZH = {
    "reported": "已上报",
    "escalated": "已上报上级",
    "returned": "已退回",
    "accepted": "已受理",
    "dispatched": "已派遣",
    "handling": "办理中",
    "handled": "已办理",
    "verified": "已核查",
    "closed": "已办结",
    "evaluated": "已评价",
    "rejected": "不予受理",
    "cancelled": "已撤销",
    "merged": "已合并",
}
CHANNEL_ZH = {"grid_worker": "网格员", "resident": "群众", "hotline": "12345 热线", "volunteer": "志愿者"}
ALERT_ZH = {"none": "正常", "yellow": "预警", "red": "超期"}
