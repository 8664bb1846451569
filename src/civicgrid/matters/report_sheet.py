"""The report sheet of a matter (事项登记表): what a printed page shows, in Chinese.

Only builds the :class:`~civicgrid.kit.printing.Document`; the audited reveal and the
watermark are :func:`civicgrid.reveal.service.print_document`'s (see ``service.print_report_sheet``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from civicgrid.kit.clock import CHINA_TZ
from civicgrid.kit.printing import Document, Table
from civicgrid.matters.models import Matter
from civicgrid.workflow.models import TimelineEvent

TITLE = "事项登记表"

STATUSES = {
    "reported": "已上报", "escalated": "已上报上级", "returned": "已退回", "accepted": "已受理",
    "dispatched": "已派遣", "handling": "办理中", "handled": "已办理", "verified": "已核查", "closed": "已办结",
    "evaluated": "已评价", "rejected": "不予受理", "cancelled": "已撤销", "merged": "已合并",
    "handed_off": "已移交矛盾纠纷化解",
}
ACTIONS = {
    "report": "上报", "accept": "受理", "reject": "不予受理", "cancel": "撤销", "dispatch": "派遣",
    "start": "开始办理", "resolve": "办理完成", "verify": "核查通过", "send_back": "退回返工", "close": "办结",
    "evaluate": "评价回访", "escalate": "上报上级", "return": "退回（非本级事项）", "reassign": "改派",
    "request_extension": "申请延期", "approve_extension": "批准延期", "deny_extension": "驳回延期",
    "supervise": "督办", "answer_supervision": "答复督办", "urge": "催办", "merge": "合并", "keep_separate": "保留",
    "hand_off": "移交矛盾纠纷", "settle_on_spot": "就地办结", "withdraw": "撤回", "correct_place": "更正位置",
    "return_to_hotline": "退回热线", "return_visit": "热线回访",
}
CHANNELS = {"grid_worker": "网格员", "resident": "群众", "hotline": "12345 热线", "volunteer": "志愿者",
            "open311": "开放接口"}
LEVELS = {"village": "村（社区）级", "township": "乡镇（街道）级", "county": "县（区）级", "city": "市级"}


def _local(at: datetime | None) -> str:
    return at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M") if at else ""


def document(matter: Matter, clear: Mapping[str, str | None], *, type_name: str, owner_name: str,
             events: Iterable[TimelineEvent], purpose: str) -> Document:
    """The sheet: number, type, place, reporter (name and phone in ``clear``), owner, status,
    and the timeline; the footnote states the purpose the sheet was printed for."""
    place = "；".join(p for p in (matter.address or "", f"网格 {matter.grid_code}",
                                 f"经纬度 {matter.lng:.6f}, {matter.lat:.6f}") if p)
    fields = (
        ("事项编号", matter.number), ("事项类型", type_name), ("标题", matter.title),
        ("事项描述", matter.description or ""), ("发生地点", place),
        ("上报渠道", CHANNELS.get(matter.channel, matter.channel)), ("上报时间", _local(matter.reported_at)),
        ("上报人", clear.get("reporter_name") or ""), ("联系电话", clear.get("reporter_phone") or ""),
        ("责任单位", f"{owner_name}（{LEVELS.get(matter.owner_level, matter.owner_level)}）"),
        ("责任部门", matter.department), ("当前状态", STATUSES.get(matter.status, matter.status)),
        ("办结时间", _local(matter.closed_at)), ("办理结果", matter.result or ""),
    )
    rows = tuple((_local(e.at), ACTIONS.get(e.action, e.action), e.actor_name,
                  STATUSES.get(e.to_status, e.to_status), e.note or "") for e in events)
    timeline = Table("办理过程", ("时间", "环节", "经办人", "状态", "说明"), rows)
    return Document(title=TITLE, reference=matter.number, fields=fields, tables=(timeline,),
                    footnote=f"本表含个人信息明文，仅用于：{purpose}。打印已记入审计日志，请妥善保管，用后销毁。")
