"""The rule catalogue (issue 15 §3): one worked example per rule — start, warning, deadline,
article and the law's version — and the versions of the 治安管理处罚法 chosen by the date of the
act (2012 text until 2025-12-31; the 2025 revision from 2026-01-01, shipped disabled until its
articles are verified against the official text)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from civicgrid.supervision import catalogue
from civicgrid.worktime import service as worktime
from civicgrid.worktime import statutory
from tests.supervision.helpers import cst

# rule, statutory rule (None: the version in force), start, adjustments, warning, deadline, article, law version
EXAMPLES: list[tuple[str, str | None, str, list[tuple[str, str, str]], str | None, str, str, str]] = [
    ("detention_to_custody", None, "2026-09-30 21:40", [], "2026-10-01 20:00", "2026-10-01 22:00",
     "刑事诉讼法》（2018-10-26）第85条", "2018-10-26"),
    ("detention_family_notice", None, "2026-09-30 21:40", [], "2026-10-01 20:00", "2026-10-01 22:00",
     "刑事诉讼法》（2018-10-26）第85条", "2018-10-26"),
    ("detention_interrogation", None, "2026-09-30 21:40", [], "2026-10-01 20:00", "2026-10-01 22:00",
     "第86条", "2018-10-26"),
    ("arrest_request", None, "2026-09-30 21:40", [], "2026-10-03 00:00", "2026-10-04 00:00",
     "第91条", "2018-10-26"),
    ("arrest_request", "cpl_arrest_request_extended", "2026-09-30 21:40", [], "2026-10-07 00:00",
     "2026-10-08 00:00", "第91条", "2018-10-26"),
    ("arrest_request", "cpl_arrest_request_gang", "2026-09-30 21:40", [], "2026-10-30 00:00", "2026-10-31 00:00",
     "第91条", "2018-10-26"),
    ("arrest_review", None, "2026-10-03 10:00", [], "2026-10-10 00:00", "2026-10-11 00:00", "第91条第3款",
     "2018-10-26"),
    ("arrest_family_notice", None, "2026-11-02 09:15", [], "2026-11-03 08:00", "2026-11-03 10:00", "第93条",
     "2018-10-26"),
    ("arrest_interrogation", None, "2026-11-02 09:15", [], "2026-11-03 08:00", "2026-11-03 10:00", "第94条",
     "2018-10-26"),
    ("investigation_custody", None, "2026-11-02 09:15", [], "2026-12-27 00:00", "2027-01-03 00:00", "第156条",
     "2018-10-26"),
    ("investigation_custody", "cpl_investigation_custody_3m", "2026-11-02 09:15", [], "2027-01-27 00:00",
     "2027-02-03 00:00", "第156条", "2018-10-26"),
    ("supplementary_investigation", None, "2026-11-02 10:00", [], "2026-11-30 00:00", "2026-12-03 00:00",
     "第175条第2款", "2018-10-26"),
    ("summons_duration", None, "2026-09-30 21:40", [], "2026-10-01 08:40", "2026-10-01 09:40", "第119条第2款",
     "2018-10-26"),
    ("summons_duration", "cpl_summons_extended", "2026-09-30 21:40", [], "2026-10-01 20:40", "2026-10-01 21:40",
     "第119条第2款", "2018-10-26"),
    ("psa_questioning", None, "2025-11-03 14:10", [], "2025-11-03 21:10", "2025-11-03 22:10", "第83条第1款",
     "2012-10-26"),
    ("psa_questioning", "psa_questioning_extended", "2025-11-03 14:10", [], "2025-11-04 13:10",
     "2025-11-04 14:10", "第83条第1款", "2012-10-26"),
    ("continued_questioning", None, "2026-11-02 09:15", [], "2026-11-02 20:15", "2026-11-02 21:15", "第11条",
     "2004-07-12"),
    ("continued_questioning", "continued_questioning_24h", "2026-11-02 09:15", [], "2026-11-03 08:15",
     "2026-11-03 09:15", "第11条", "2004-07-12"),
    ("continued_questioning", "continued_questioning_48h", "2026-11-02 09:15", [], "2026-11-04 08:15",
     "2026-11-04 09:15", "第11条", "2004-07-12"),
    ("bail_limit", None, "2026-11-02 10:00", [], "2027-10-19 00:00", "2027-11-03 00:00", "第79条", "2018-10-26"),
    ("surveillance_limit", None, "2026-11-10 10:00", [], "2027-05-04 00:00", "2027-05-11 00:00", "第79条",
     "2018-10-26"),
    ("designated_residence_family_notice", None, "2026-11-02 09:15", [], "2026-11-03 08:00", "2026-11-03 10:00",
     "第75条第2款", "2018-10-26"),
    ("psa_case", None, "2025-11-03 10:00", [], "2025-12-01 00:00", "2025-12-04 00:00", "第99条第1款", "2012-10-26"),
    # 鉴定 from 11-10 to 11-20 is not counted (治安管理处罚法 2012 Art. 99(2)): 23 days were left on 11-10,
    # counted from 11-21 they end on Sat 12-13, which rolls to Mon 12-15.
    ("psa_case", None, "2025-11-03 10:00", [("pause", "2025-11-10 10:00", "appraisal"),
                                            ("resume", "2025-11-20 15:00", "appraisal")],
     "2025-12-13 00:00", "2025-12-16 00:00", "第99条第1款", "2012-10-26"),
    ("psa_case", "psa_case_extended", "2025-10-20 10:00", [], "2025-12-17 00:00", "2025-12-20 00:00",
     "第99条第1款", "2012-10-26"),
    ("fast_track_decision", None, "2026-11-02 09:15", [], "2026-11-04 05:15", "2026-11-04 09:15", "第47条",
     "2018-11-25"),
    # The city's own practice, not a statute (labelled so): 3 months without any event; a new event
    # restarts the count (here on 11-15, so 3 months from 11-16).
    ("stale_case", None, "2026-09-30 21:40", [], "2026-12-18 00:00", "2027-01-01 00:00", "地方实践", "本地配置"),
    ("stale_case", None, "2026-09-30 21:40", [("restart", "2026-11-15 10:00", "new_event")], "2027-02-02 00:00",
     "2027-02-16 00:00", "地方实践", "本地配置"),
    # 30 days from the case's end for each item still held.
    ("property_not_disposed", None, "2026-11-02 10:00", [], "2026-11-26 00:00", "2026-12-03 00:00", "地方实践",
     "本地配置"),
    # A person still inside the case-handling area after the 传唤 that brought them ended: counted
    # by that measure's own limit (here 刑事诉讼法 2018 Art. 119(2), 12 h from the 到案 moment);
    # warning on the area is the city's practice.
    ("person_in_area_overstay", "cpl_summons", "2026-09-30 21:40", [], "2026-10-01 08:40", "2026-10-01 09:40",
     "地方实践", "本地配置"),
]


def _worked(session: Session, code: str, statutory_code: str | None, start: datetime,
            adjustments: list[tuple[str, str, str]]) -> tuple[datetime | None, datetime]:
    rule = catalogue.rules()[code]
    version = rule.version_on(catalogue.act_day(start))
    assert version is not None and (version.statutory or (rule.in_area and statutory_code))
    events = [statutory.ClockEvent(statutory.EventKind(k), cst(at), reason) for k, at, reason in adjustments]
    result = statutory.deadline(catalogue.statutory_rule(statutory_code or version.statutory), start, events,
                                worktime.load(session))
    assert result.due_at is not None
    warn = result.due_at - timedelta(minutes=rule.warn_before_minutes)
    return warn, result.due_at


@pytest.mark.parametrize(("code", "statutory_code", "start", "adjustments", "warn", "due", "article", "version"),
                         EXAMPLES, ids=[f"{e[0]}-{e[1] or 'base'}-{len(e[3])}" for e in EXAMPLES])
def test_worked_example(db: Session, code: str, statutory_code: str | None, start: str,
                        adjustments: list[tuple[str, str, str]], warn: str, due: str, article: str,
                        version: str) -> None:
    rule = catalogue.rules()[code]
    got_warn, got_due = _worked(db, code, statutory_code, cst(start), adjustments)
    assert (got_warn, got_due) == (cst(warn), cst(due))
    in_force = rule.version_on(catalogue.act_day(cst(start)))
    assert in_force is not None
    texts = " ".join(b.text_zh for b in (*in_force.basis, *(e.basis for e in rule.extensions)))
    assert article in texts
    assert any(b.law.version == version for b in in_force.basis)
    assert rule.enabled_on(catalogue.act_day(cst(start)))
    if statutory_code and not rule.in_area:  # an area rule counts by the measure's limit, named here
        assert rule.extension(statutory_code) is not None


def test_every_enabled_rule_has_a_worked_example() -> None:
    covered = {e[0] for e in EXAMPLES}
    today = catalogue.act_day(cst("2025-06-01 10:00"))
    later = catalogue.act_day(cst("2026-06-01 10:00"))
    enabled = {c for c, r in catalogue.rules().items() if r.enabled_on(today) or r.enabled_on(later)}
    assert enabled - covered == set()


def test_public_security_law_versions_by_the_date_of_the_act() -> None:
    """The 2012 text governs acts up to 2025-12-31 (in force from 2013-01-01); the 2025 revision,
    in force 2026-01-01, renumbered the articles: its rules ship disabled, visibly, until checked."""
    rule = catalogue.rules()["psa_case"]
    before = rule.version_on(catalogue.act_day(cst("2025-12-31 23:59")))
    after = rule.version_on(catalogue.act_day(cst("2026-01-01 00:00")))
    assert before is not None and after is not None
    assert before.statutory == "psa_case" and after.statutory == "psa2025_case"
    assert {b.law.version for b in before.basis} >= {"2012-10-26"}
    assert [b.law.in_force_from.isoformat() for b in after.basis] == ["2026-01-01"]
    assert rule.enabled_on(catalogue.act_day(cst("2025-12-31 23:59")))
    assert not rule.enabled_on(catalogue.act_day(cst("2026-01-01 00:00")))
    reason = rule.disabled_reason(catalogue.act_day(cst("2026-01-01 00:00")))
    assert reason is not None and "未经官方文本核实" in reason[0]
    assert not catalogue.rules()["psa_questioning"].enabled_on(catalogue.act_day(cst("2026-03-01 10:00")))


def test_planned_rules_are_listed_and_never_run() -> None:
    planned = [r for r in catalogue.rules().values() if r.status == "planned"]
    assert "incident_without_case" in {r.code for r in planned}
    assert all(not r.enabled_on(catalogue.act_day(cst("2026-06-01 10:00"))) for r in planned)


def test_every_statutory_rule_named_exists() -> None:
    known = catalogue.statutory_rules()
    for rule in catalogue.rules().values():
        for version in rule.versions:
            assert version.statutory is None or version.statutory in known, (rule.code, version.statutory)
        for extension in rule.extensions:
            assert extension.to in known, (rule.code, extension.to)
