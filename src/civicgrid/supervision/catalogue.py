"""The rule catalogue of the supervision centre, as data (``data/rules.json``).

A rule says what it watches (measure kinds, case stages, case kinds), what meets it (documents,
stages, the end of the measure), when to warn before the deadline, how grave a breach is, who
must act, its lawful exceptions and extensions, and its versions: each version names the
statutory counting rule (:mod:`civicgrid.worktime.statutory`, or this file's own ``statutory``
section) and the articles it rests on, and is in force between two dates. The version is chosen
by the date of the act (the start of the clock), so a 治安 case accepted on 2025-12-31 counts by
the 2012 text and one accepted on 2026-01-01 by the 2025 revision. A version is enabled only when
every citation was verified against the official text; a disabled rule is listed with the reason
and arms no clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from civicgrid.kit.clock import CHINA_TZ
from civicgrid.worktime import statutory

RULES_FILE = "rules.json"


@dataclass(frozen=True)
class Law:
    key: str
    zh: str
    en: str
    version: str
    in_force_from: date
    in_force_until: date | None
    local: bool = False  # the city's own practice, not a statute: cited without an article


@dataclass(frozen=True)
class Basis:
    law: Law
    article: int
    paragraph: int | None
    verified: bool
    note: str = ""

    @property
    def text_zh(self) -> str:
        if self.law.local:
            return f"{self.law.zh}（{self.law.version}）"
        art = f"第{self.article}条" if self.article else "条号待核实"
        para = f"第{self.paragraph}款" if self.paragraph else ""
        return f"《{self.law.zh}》（{self.law.version}）{art}{para}"

    @property
    def text_en(self) -> str:
        if self.law.local:
            return f"{self.law.en} ({self.law.version})"
        art = f"Art. {self.article}" if self.article else "article to be verified"
        para = f"({self.paragraph})" if self.paragraph and self.article else ""
        return f"{self.law.en} ({self.law.version}) {art}{para}"


@dataclass(frozen=True)
class Version:
    statutory: str | None
    valid_from: date | None
    valid_until: date | None
    basis: tuple[Basis, ...]

    @property
    def verified(self) -> bool:
        return bool(self.basis) and all(b.verified for b in self.basis)

    @property
    def law_version(self) -> str:
        return ",".join(sorted({f"{b.law.key}:{b.law.version}" for b in self.basis}))[:200]

    def covers(self, day: date) -> bool:
        return (self.valid_from is None or day >= self.valid_from) and (self.valid_until is None
                                                                          or day <= self.valid_until)


@dataclass(frozen=True)
class LawfulException:
    code: str
    name_zh: str
    name_en: str
    effect: str  # except / pause / restart
    basis: Basis


@dataclass(frozen=True)
class Extension:
    to: str
    basis: Basis


@dataclass(frozen=True)
class Rule:
    code: str
    name_zh: str
    name_en: str
    status: str  # active / planned
    measures: frozenset[str]
    stages: frozenset[str]
    case_kinds: frozenset[str]
    fast_track_only: bool
    met_documents: frozenset[str]
    met_stages: frozenset[str]
    measure_end: str | None  # meet / stop / None
    warn_before_minutes: int
    severity: str
    actors_zh: str
    actors_en: str
    versions: tuple[Version, ...]
    exceptions: tuple[LawfulException, ...] = ()
    extensions: tuple[Extension, ...] = ()
    note_zh: str = ""
    note_en: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    per: str | None = None  # "held_property": one clock per item still held, not one per case
    met_property: frozenset[str] = frozenset()  # property actions that meet a per-item clock
    # One clock per presence measure of a person inside a case-handling area, counted by that
    # measure's own statutory limit (its versions name no statutory rule); leaving the area meets it.
    in_area: bool = False

    def version_on(self, day: date) -> Version | None:
        """The version in force on the day of the act."""
        return next((v for v in self.versions if v.covers(day)), None)

    def enabled_on(self, day: date) -> bool:
        version = self.version_on(day)
        return self.status == "active" and version is not None and version.verified

    def disabled_reason(self, day: date) -> tuple[str, str] | None:
        if self.status != "active":
            return ("规划中，尚未启用", "planned, not running")
        version = self.version_on(day)
        if version is None:
            return ("该日期无有效版本", "no version in force on that date")
        if not version.verified:
            return ("法律依据未经官方文本核实，规则停用",
                    "legal basis not verified against the official text: disabled")
        return None

    def exception(self, code: str) -> LawfulException | None:
        return next((e for e in self.exceptions if e.code == code), None)

    def extension(self, to: str) -> Extension | None:
        return next((e for e in self.extensions if e.to == to), None)


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def parse(data: dict[str, Any]) -> dict[str, Rule]:
    laws = {key: Law(key, raw["zh"], raw["en"], raw["version"], date.fromisoformat(raw["in_force_from"]),
                     _day(raw.get("in_force_until")), bool(raw.get("local"))) for key, raw in data["laws"].items()}

    def basis(raw: dict[str, Any]) -> Basis:
        return Basis(laws[raw["law"]], int(raw["article"]), raw.get("paragraph"), bool(raw.get("verified")),
                     raw.get("note", ""))

    rules: dict[str, Rule] = {}
    for raw in data["rules"]:
        watches, met = raw.get("watches", {}), raw.get("met_by", {})
        rules[raw["code"]] = Rule(
            code=raw["code"], name_zh=raw["name_zh"], name_en=raw["name_en"], status=raw.get("status", "active"),
            measures=frozenset(watches.get("measures", [])), stages=frozenset(watches.get("stages", [])),
            case_kinds=frozenset(watches.get("case_kinds", [])), fast_track_only=bool(watches.get("fast_track")),
            met_documents=frozenset(met.get("documents", [])), met_stages=frozenset(met.get("stages", [])),
            measure_end=met.get("measure_end"), warn_before_minutes=int(raw["warn_before_minutes"]),
            severity=raw["severity"], actors_zh=raw["actors_zh"], actors_en=raw["actors_en"],
            versions=tuple(Version(v["statutory"], _day(v.get("from")), _day(v.get("until")),
                                   tuple(basis(b) for b in v["basis"])) for v in raw["versions"]),
            exceptions=tuple(LawfulException(e["code"], e["name_zh"], e["name_en"], e["effect"], basis(e["basis"]))
                             for e in raw.get("exceptions", [])),
            extensions=tuple(Extension(e["to"], basis(e["basis"])) for e in raw.get("extensions", [])),
            note_zh=raw.get("note_zh", ""), note_en=raw.get("note_en", ""),
            per=watches.get("per"), met_property=frozenset(met.get("property", [])),
            in_area=bool(watches.get("in_area")))
    return rules


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    text = resources.files("civicgrid.supervision").joinpath("data", RULES_FILE).read_text(encoding="utf-8")
    return dict(json.loads(text))


@lru_cache(maxsize=1)
def rules() -> dict[str, Rule]:
    """The shipped catalogue by code."""
    return parse(_data())


@lru_cache(maxsize=1)
def statutory_rules() -> dict[str, statutory.StatutoryRule]:
    """The platform's statutory rules and this catalogue's own, by code."""
    return {**statutory.shipped_rules(), **statutory.parse_rules(_data()["statutory"])}


def statutory_rule(code: str) -> statutory.StatutoryRule:
    return statutory_rules()[code]


def act_day(moment: datetime) -> date:
    """The local (Asia/Shanghai) date of an act: it chooses the law's version."""
    return moment.astimezone(CHINA_TZ).date()


def rules_for_measure(kind: str, case_kind: str) -> list[Rule]:
    return [r for r in rules().values()
            if kind in r.measures and (not r.case_kinds or case_kind in r.case_kinds)]


def area_rules() -> list[Rule]:
    """Rules watching a person inside a case-handling area (``in_area``)."""
    return [r for r in rules().values() if r.in_area]


def rules_for_stage(stage: str, case_kind: str, fast_track: bool, per: str | None = None) -> list[Rule]:
    """Rules a case entering ``stage`` starts: one clock per case (``per`` None), or one per
    record of that kind (``per="held_property"``: each item still held)."""
    return [r for r in rules().values()
            if stage in r.stages and (not r.case_kinds or case_kind in r.case_kinds)
            and (fast_track or not r.fast_track_only) and r.per == per]
