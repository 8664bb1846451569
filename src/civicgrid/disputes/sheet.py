"""The written mediation agreement (人民调解协议书) as a printable document, in Chinese.

Content per 人民调解法 (2010) Art. 29: the parties' basic particulars; the main facts, the issues
in dispute and each party's responsibility; the terms agreed, and how and by when they are
performed; signatures of the parties and the mediator and the committee's seal. Only builds the
:class:`~civicgrid.kit.printing.Document`; the audited reveal and the watermark are
:func:`civicgrid.reveal.service.print_document`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from civicgrid.disputes import catalogue
from civicgrid.disputes.models import Agreement, Dispute, DisputeParty
from civicgrid.kit.clock import CHINA_TZ
from civicgrid.kit.printing import Document, Table

TITLE = "人民调解协议书"
ROLES = {"applicant": "申请人", "respondent": "被申请人", "other": "其他当事人"}


def _local(at: datetime | None) -> str:
    return at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M") if at else "（未签）"


def document(
    dispute: Dispute, agreement: Agreement, parties: Sequence[DisputeParty], *, unit_name: str | None, purpose: str
) -> Document:
    """The agreement sheet with the parties in clear (the caller revealed them)."""
    rows = []
    for p in parties:
        if p.kind == "person":
            doc = catalogue.DOC_TYPES.get(p.doc_type, (p.doc_type, ""))[0]
            rows.append(
                (
                    ROLES.get(p.role, p.role),
                    p.full_name or "",
                    f"{doc} {p.id_number or ''}".strip(),
                    p.phone or "",
                    p.address or "",
                    _local(p.signed_at),
                )
            )
        else:
            rows.append(
                (
                    ROLES.get(p.role, p.role),
                    p.org_name or "",
                    f"统一社会信用代码 {p.uscc}" if p.uscc else "",
                    p.phone or "",
                    "",
                    _local(p.signed_at),
                )
            )
    category = catalogue.categories().get(dispute.category)
    fields = (
        ("纠纷编号", dispute.number),
        ("纠纷名称", dispute.title),
        ("纠纷类别", category.name_zh if category else dispute.category),
        ("调解组织", unit_name or ""),
        ("纠纷的主要事实", agreement.facts),
        ("争议事项", agreement.issues),
        ("各方当事人的责任", agreement.responsibilities),
        ("达成协议的内容", agreement.terms),
        ("履行方式", agreement.performance),
        ("履行期限", agreement.perform_by.isoformat() if agreement.perform_by else ""),
        ("调解员签名", _local(agreement.mediator_signed_at)),
        ("调解委员会印章", _local(agreement.sealed_at)),
        ("生效时间", _local(agreement.effective_at)),
        (
            "申请司法确认期限",
            (agreement.judicial_due_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d") + " 24:00")
            if agreement.judicial_due_at
            else "",
        ),
    )
    table = Table("当事人基本情况", ("身份", "姓名/名称", "证件", "联系电话", "住址", "签名时间"), tuple(rows))
    return Document(
        title=TITLE,
        reference=dispute.number,
        fields=fields,
        tables=(table,),
        footnote=(
            "本协议书自各方当事人签名、调解员签名并加盖人民调解委员会印章之日起生效（人民调解法第29条），"
            "一式三份，当事人各执一份，调解委员会留存一份。双方当事人可以自协议生效之日起三十日内"
            f"共同向人民法院申请司法确认（第33条）。本页含个人信息明文，仅用于：{purpose}。"
            "打印已记入审计日志。"
        ),
    )
