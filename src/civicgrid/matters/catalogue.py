"""The matter catalogue (三张清单): validation, versions, API edits, Excel import and export.

Every change — an API edit or an Excel import — writes a new catalogue version that copies the
current one with the change applied, and makes it current. New matters take the current
version's type (and so its time limits); open matters keep the type row they were reported
with, so a change never moves a running deadline. Only city-level users may change it.

Version 1 is the city's catalogue (``files.catalogue`` of its city.json, see :mod:`civicgrid.city`;
Yongzhou's is ``data/matters/catalogue.json``), written by the matters migration (so every database,
including the test databases, starts with it). A second city names its own file and gets its own
catalogue and categories without code changes.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from civicgrid.authz.principal import Principal
from civicgrid.city import get_city
from civicgrid.config import DATA_DIR
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import AppError, Invalid, NotFound
from civicgrid.matters import labels, repository
from civicgrid.matters.models import LEVELS, CatalogueVersion, ListKind, MatterType
from civicgrid.worktime.arith import Unit

CATALOGUE_FILE = DATA_DIR / "matters" / "catalogue.json"
STEPS = ("accept", "handle", "verify")
HANDOFFS = ("disputes",)
# The longest limit a step may have: a longer one is a typing error, not a policy.
MAX_LIMIT = {Unit.MINUTES: 60 * 24 * 30, Unit.HOURS: 24 * 90, Unit.DAYS: 365, Unit.WORKING_HOURS: 8 * 120,
             Unit.WORKING_DAYS: 250}

COLUMNS: tuple[tuple[str, str], ...] = (
    ("code", "编码"), ("category", "类别代码"), ("category_zh", "类别"), ("category_en", "Category"),
    ("name_zh", "事项名称"), ("name_en", "Name"), ("owner_level", "责任层级"), ("department", "责任部门"),
    ("department_en", "Department"), ("list_kind", "清单"),
    ("accept", "受理时限"), ("accept_unit", "受理时限单位"), ("handle", "办理时限"), ("handle_unit", "办理时限单位"),
    ("verify", "核查时限"), ("verify_unit", "核查时限单位"), ("auto_escalate", "超时自动上报"),
    ("handoff", "移交模块"), ("active", "启用"),
)
COLUMN_KEYS = tuple(key for key, _ in COLUMNS)


def _default_file() -> dict[str, Any]:
    """The city's catalogue file (``files.catalogue`` of its city.json; the shipped one otherwise)."""
    return _catalogue_file(get_city().catalogue_file or CATALOGUE_FILE)


@lru_cache(maxsize=4)
def _catalogue_file(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def categories() -> dict[str, dict[str, str]]:
    """The known categories: code → {"zh", "en"}."""
    return dict(_default_file()["categories"])


@dataclass(frozen=True)
class TypeRow:
    """One validated matter type, independent of its catalogue version."""

    code: str
    category: str
    category_zh: str
    category_en: str
    name_zh: str
    name_en: str
    owner_level: str
    department: str
    department_en: str
    list_kind: str
    limits: dict[str, list[Any]] = field(default_factory=dict)
    auto_escalate: bool = False
    handoff: str | None = None
    active: bool = True

    def as_columns(self) -> dict[str, Any]:
        """Column values of a :class:`MatterType` row (without id and version)."""
        values = asdict(self)
        values["limits"] = json.dumps(self.limits, ensure_ascii=False, sort_keys=True)
        return values

    @classmethod
    def of(cls, t: MatterType) -> TypeRow:
        return cls(code=t.code, category=t.category, category_zh=t.category_zh, category_en=t.category_en,
                   name_zh=t.name_zh, name_en=t.name_en, owner_level=t.owner_level, department=t.department,
                   department_en=t.department_en, list_kind=t.list_kind, limits=json.loads(t.limits),
                   auto_escalate=t.auto_escalate, handoff=t.handoff, active=t.active)


class _Where:
    """Names the place of a bad value: a field (API), or a row and a column (Excel)."""

    def __init__(self, row: int | None = None, letters: dict[str, str] | None = None) -> None:
        self.row = row
        self.letters = letters

    def fail(self, key: str, zh: str, en: str) -> Invalid:
        if self.row is None:
            return Invalid(f"字段 {key}：{zh}", f"Field {key}: {en}", details={"field": key})
        if self.letters is not None:
            letter = self.letters.get(key, "?")
        else:
            column = COLUMN_KEYS.index(key) + 1 if key in COLUMN_KEYS else 0
            letter = _column_letter(column) if column else "?"
        return Invalid(f"第 {self.row} 行 {letter} 列（{key}）：{zh}", f"Row {self.row}, column {letter} ({key}): {en}",
                       details={"row": self.row, "column": letter, "field": key})


def _column_letter(n: int) -> str:
    letters = ""
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _text(raw: dict[str, Any], key: str, where: _Where, *, max_len: int, required: bool = True) -> str:
    value = raw.get(key)
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise where.fail(key, "不能为空", "must not be empty")
    if len(text) > max_len:
        raise where.fail(key, f"不能超过 {max_len} 个字符", f"must be at most {max_len} characters")
    return text


def _flag(raw: dict[str, Any], key: str, where: _Where, default: bool) -> bool:
    value = raw.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "是"):
        return True
    if text in ("0", "false", "no", "n", "否"):
        return False
    raise where.fail(key, "应为 是/否", "must be yes or no")


def _limit(raw: dict[str, Any], step: str, where: _Where) -> list[Any]:
    if step in raw and isinstance(raw[step], (list, tuple)):  # JSON form: "accept": [2, "working_hours"]
        pair = list(raw[step])
        amount, unit = ([*pair, None, None])[:2]
    else:  # flat form (Excel, API): accept + accept_unit
        amount, unit = raw.get(step), raw.get(f"{step}_unit")
    unit_key = step if step in raw and isinstance(raw[step], (list, tuple)) else f"{step}_unit"
    try:
        number = int(str(amount).strip()) if amount is not None and str(amount).strip() != "" else None
        if number is not None and float(str(amount).strip()) != number:
            number = None
    except ValueError:
        number = None
    if number is None or number <= 0:
        raise where.fail(step, "时限应为正整数", "time limit must be a positive whole number")
    try:
        parsed = Unit(str(unit or "").strip())
    except ValueError:
        raise where.fail(unit_key, "单位应为 minutes/hours/days/working_hours/working_days",
                         "unit must be minutes, hours, days, working_hours or working_days") from None
    if number > MAX_LIMIT[parsed]:
        raise where.fail(step, "时限过长", f"time limit too long (at most {MAX_LIMIT[parsed]} {parsed.value})")
    return [number, parsed.value]


def validate(raw: dict[str, Any], row: int | None = None, letters: dict[str, str] | None = None) -> TypeRow:
    """A :class:`TypeRow` from an API body, a JSON entry or an Excel row; :class:`Invalid` (422)
    names the field, or the row and column (``letters``: key → the sheet's column letter)."""
    where = _Where(row, letters)
    code = _text(raw, "code", where, max_len=16).upper()
    if not code.replace("-", "").replace("_", "").isalnum():
        raise where.fail("code", "只能包含字母、数字、- 和 _", "may contain letters, digits, - and _ only")
    category = _text(raw, "category", where, max_len=32)
    known = categories().get(category, {})
    category_zh = _text(raw, "category_zh", where, max_len=32, required=False) or known.get("zh", "")
    category_en = _text(raw, "category_en", where, max_len=64, required=False) or known.get("en", "")
    if not category_zh or not category_en:
        raise where.fail("category_zh", "新类别须填写中英文名称", "a new category needs its Chinese and English names")
    level = _text(raw, "owner_level", where, max_len=16)
    if level not in [str(lv) for lv in LEVELS]:
        raise where.fail("owner_level", "应为 village/township/county/city",
                         "must be village, township, county or city")
    kind = _text(raw, "list_kind", where, max_len=16)
    if kind not in [str(k) for k in ListKind]:
        raise where.fail("list_kind", "应为 power/responsibility/service", "must be power, responsibility or service")
    handoff = _text(raw, "handoff", where, max_len=32, required=False) or None
    if handoff is not None and handoff not in HANDOFFS:
        raise where.fail("handoff", f"只能为空或 {'/'.join(HANDOFFS)}",
                         f"must be empty or one of {', '.join(HANDOFFS)}")
    given = raw.get("limits")
    limits_raw: dict[str, Any] = given if isinstance(given, dict) else raw
    limits = {step: _limit(limits_raw, step, where) for step in STEPS}
    return TypeRow(code=code, category=category, category_zh=category_zh, category_en=category_en,
                   name_zh=_text(raw, "name_zh", where, max_len=64), name_en=_text(raw, "name_en", where, max_len=128),
                   owner_level=level, department=_text(raw, "department", where, max_len=64),
                   department_en=_text(raw, "department_en", where, max_len=128, required=False),
                   list_kind=kind, limits=limits, auto_escalate=_flag(raw, "auto_escalate", where, False),
                   handoff=handoff, active=_flag(raw, "active", where, True))


def default_rows() -> list[TypeRow]:
    """The shipped default catalogue (version 1), validated."""
    rows = [validate(entry) for entry in _default_file()["types"]]
    _refuse_repeats(rows)
    return rows


def _refuse_repeats(rows: list[TypeRow]) -> None:
    seen: set[str] = set()
    for row in rows:
        if row.code in seen:
            raise _Where().fail("code", f"编码 {row.code} 重复", f"code {row.code} appears twice")
        seen.add(row.code)


# ---------------------------------------------------------------- reads


def current(session: Session) -> CatalogueVersion:
    version = repository.current_version(session)
    if version is None:  # the migration seeds version 1; only a hand-emptied table gets here
        raise AppError("事项目录为空", "The matter catalogue is empty", status=503, code="no_catalogue")
    return version


def current_types(session: Session, *, include_inactive: bool = False) -> list[MatterType]:
    """The matter types of the current catalogue version, by code."""
    types = repository.types_of(session, current(session).version)
    return [t for t in types if include_inactive or t.active]


def versions(session: Session) -> list[tuple[CatalogueVersion, int]]:
    """Every version, newest first, with its number of types."""
    counts = repository.version_counts(session)
    return [(v, counts.get(v.version, 0)) for v in repository.versions(session)]


def limits_of(matter_type: MatterType) -> dict[str, tuple[int, str]]:
    return parse_limits(matter_type.limits)


@lru_cache(maxsize=512)
def _parsed_limits(stored: str) -> tuple[tuple[str, int, str], ...]:
    return tuple((step, int(v[0]), str(v[1])) for step, v in json.loads(stored).items())


def parse_limits(stored: str) -> dict[str, tuple[int, str]]:
    """The stored limits column (JSON ``{step: [amount, unit]}``) as ``{step: (amount, unit)}``."""
    return {step: (amount, unit) for step, amount, unit in _parsed_limits(stored)}


# ---------------------------------------------------------------- changes


def _require_city(principal: Principal) -> None:
    if len(principal.jurisdiction) > 4:
        raise AppError("只有市级用户可以修改事项目录", "Only city-level users may change the matter catalogue",
                       status=403, code="city_level_only")


def _publish(session: Session, principal: Principal, rows: list[TypeRow], note: str) -> CatalogueVersion:
    _refuse_repeats(rows)
    number = repository.max_version(session) + 1
    repository.clear_current(session)
    version = CatalogueVersion(version=number, created_at=utcnow(), created_by=principal.username[:64],
                               note=note[:200], is_current=True)
    session.add(version)
    session.flush()
    for row in rows:
        session.add(MatterType(version=number, **row.as_columns()))
    session.flush()
    return version


def put_type(session: Session, principal: Principal, code: str, raw: dict[str, Any], *,
             create: bool = False) -> tuple[CatalogueVersion, MatterType]:
    """Add (``create``) or replace one type; publishes a new version copying the current one."""
    _require_city(principal)
    row = validate({**raw, "code": raw.get("code") or code})
    if not create and row.code != code.upper():
        raise Invalid("不能修改编码", "The code of a type cannot be changed", details={"field": "code"})
    rows = [TypeRow.of(t) for t in repository.types_of(session, current(session).version)]
    exists = any(r.code == row.code for r in rows)
    if create and exists:
        raise AppError(f"编码 {row.code} 已存在", f"Code {row.code} already exists", status=409, code="conflict")
    if not create and not exists:
        raise NotFound("事项类型", "matter type")
    rows = [r for r in rows if r.code != row.code] + [row]
    version = _publish(session, principal, sorted(rows, key=lambda r: r.code),
                       f"{'新增' if create else '修改'} {row.code} / {'add' if create else 'edit'} {row.code}")
    saved = repository.type_by_code(session, version.version, row.code)
    assert saved is not None
    return version, saved


# Columns whose codes people read as words in the workbook: the code column is hidden and a
# column with the Chinese name follows it (issue 11 §6); import reads the codes.
_LABELLED = {"owner_level": labels.LEVEL_ZH, "list_kind": labels.LIST_KIND_ZH, "accept_unit": labels.UNIT_ZH,
             "handle_unit": labels.UNIT_ZH, "verify_unit": labels.UNIT_ZH}


def _sheet_columns() -> list[tuple[str, str, bool]]:
    """(key, Chinese header, hidden) of every exported column, in order."""
    out: list[tuple[str, str, bool]] = []
    for key, zh in COLUMNS:
        if key in _LABELLED:
            out += [(key, f"{zh}代码", True), (f"{key}_label", zh, False)]
        else:
            out.append((key, zh, False))
    return out


def export_xlsx(session: Session, version: int | None = None) -> bytes:
    """The catalogue (current version by default) as an Excel workbook that :func:`import_xlsx`
    reads back unchanged: row 1 the Chinese headers, row 2 (hidden) the keys import reads; levels,
    lists and units in words, their codes in hidden columns beside them."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    number = version or current(session).version
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "catalogue"
    columns = _sheet_columns()
    sheet.append([zh for _, zh, _ in columns])
    sheet.append([key for key, _, _ in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.row_dimensions[2].hidden = True
    sheet.freeze_panes = "A3"
    for index, (_, zh, hidden) in enumerate(columns, start=1):
        dimension = sheet.column_dimensions[get_column_letter(index)]
        dimension.width = max(10, 2 * len(zh) + 2)
        dimension.hidden = hidden
    for t in repository.types_of(session, number):
        limits = limits_of(t)
        values = {**TypeRow.of(t).as_columns(), "auto_escalate": "是" if t.auto_escalate else "否",
                  "active": "是" if t.active else "否", "handoff": t.handoff or ""}
        for step in STEPS:
            values[step], values[f"{step}_unit"] = limits[step]
        for key, names in _LABELLED.items():
            values[f"{key}_label"] = names.get(str(values[key]), values[key])
        sheet.append([values[key] for key, _, _ in columns])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _key_row(lines: list[tuple[Any, ...]]) -> tuple[int, dict[str, int]]:
    """The 1-based number of the row naming the keys (row 1 of older workbooks, row 2 since the
    Chinese headers came first) and key → 0-based column index. 422 when no row names them all."""
    for number, line in enumerate(lines[:2], start=1):
        header = [str(c).strip() if c is not None else "" for c in line]
        index = {key: at for at, key in reversed(list(enumerate(header))) if key}
        if all(key in index for key in COLUMN_KEYS):
            return number, index
    header = [str(c).strip() if c is not None else "" for c in lines[0]]
    for at, key in enumerate(COLUMN_KEYS):
        if at >= len(header) or header[at] != key:
            letter = _column_letter(at + 1)
            raise Invalid(f"第 1 行 {letter} 列应为表头 {key}", f"Row 1, column {letter}: header must be {key}",
                          details={"row": 1, "column": letter, "field": key})
    raise Invalid("缺少表头行", "The header row is missing", details={"row": 1})


def import_xlsx(session: Session, principal: Principal, data: bytes) -> CatalogueVersion:
    """Replace the catalogue with a workbook's first sheet as a new version. Refused whole (422,
    naming row and column) on the first bad cell: nothing is half-applied."""
    from openpyxl import load_workbook

    _require_city(principal)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        raise Invalid("无法读取 Excel 文件（应为 .xlsx）", "Not a readable Excel workbook (.xlsx expected)",
                      details={"field": "file"}) from None
    sheet = workbook.worksheets[0]
    lines = list(sheet.iter_rows(values_only=True))
    if not lines:
        raise Invalid("工作表为空", "The sheet is empty", details={"row": 1})
    key_row, index = _key_row(lines)
    letters = {key: _column_letter(at + 1) for key, at in index.items()}
    rows: list[TypeRow] = []
    seen: set[str] = set()
    first_data = key_row + 1
    for number, line in enumerate(lines[key_row:], start=key_row + 1):
        cells = [line[index[key]] if index[key] < len(line) else None for key in COLUMN_KEYS]
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        if number == key_row + 1 and str(cells[0] or "").strip() == COLUMNS[0][1]:
            first_data = number + 1
            continue  # the Chinese header line that older exports wrote under the keys
        row = validate(dict(zip(COLUMN_KEYS, cells, strict=True)), row=number, letters=letters)
        if row.code in seen:
            raise _Where(number, letters).fail("code", f"编码 {row.code} 重复", f"code {row.code} appears twice")
        seen.add(row.code)
        rows.append(row)
    if not rows:
        raise Invalid("工作表中没有事项", "The sheet holds no matter types", details={"row": first_data})
    return _publish(session, principal, sorted(rows, key=lambda r: r.code), "Excel 导入 / Excel import")
