"""Personal-data columns must use the personal-data type (DESIGN.md rule 8).

A model column named like a person's phone number, resident ID number, address or name
(``phone``, ``mobile``, ``id_number``, ``id_card``, ``address``, any ``*_name``…) must be
declared with ``civicgrid.kit.personal.Personal`` (encrypted at rest, masked in every response),
unless ALLOWED below says, with a reason, why that column is not a person's data. A keyed-hash
lookup column (``*_hash``) beside a personal column is not the value and passes.

Usage: ``python tools/lint/pii_columns.py [PATH ...]`` (files or folders; default
``src/civicgrid``). Prints ``path:line: …`` per breach and exits 1 when there is any.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PERSONAL = re.compile(
    r"(^|_)(phone|mobile|telephone|tel|cellphone)(_|$)"  # phone numbers
    r"|(^|_)(id_number|id_card|idcard|id_no|resident_id|identity_number|identity_card|passport_no)(_|$)"  # 身份证
    r"|(^|_)address(_|$)"  # addresses of people
    r"|_name$"  # names (every *_name: the non-personal ones are allowed below, with the reason)
)

# "column" (any table) or "table.column" → why it is not a person's data, or why it is shown in clear.
ALLOWED: dict[str, str] = {
    # Names of things, not of people.
    "type_name": "the name of a matter type",
    "category_name": "the name of a catalogue category",
    "division_name": "the name of an administrative division",
    "grid_name": "the name of a grid",
    "unit_name": "the name of an organisation unit",
    "org_name": "the name of an organisation",
    "file_name": "the name of a file",
    "filename": "the name of a file",
    "table_name": "the name of a database table",
    "role_name": "the name of a role",
    "rule_name": "the name of a warning rule",
    # Staff acting in office. A public servant's name in the performance of duty is what
    # colleagues and residents are shown (who accepted, who handled, who printed: timelines,
    # watermarks); it is the official identity of the account, not a resident's personal data.
    # Residents, reporters and parties never go in these columns.
    "users.display_name": "the name a staff account acts under in office (timelines, audit, watermarks)",
    "timeline_events.actor_name": "the staff member (or system) who performed a workflow step, shown in the timeline",
    # Places, not people.
    "matters.address": "where the matter happened (a street, a crossing), which handlers must go to; "
                       "a reporter's own address is never asked for",
}

HASH_SUFFIX = "_hash"


def _call_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return func.id
        if isinstance(func, ast.Attribute):
            return func.attr
    return None


def _uses_personal(call: ast.Call) -> bool:
    """Whether ``mapped_column(...)`` / ``Column(...)`` gets a ``Personal(...)`` type."""
    for arg in [*call.args, *(k.value for k in call.keywords if k.arg in ("type_", None))]:
        if _call_name(arg) == "Personal" or (isinstance(arg, ast.Name) and arg.id == "Personal"):
            return True
    return False


def _columns(tree: ast.Module) -> Iterator[tuple[str, str, str | None, ast.Call]]:
    """(table, attribute, explicit column name, the call) of each column of each model class."""
    for cls in (node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)):
        table = next((stmt.value.value for stmt in cls.body
                      if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant)
                      and any(isinstance(t, ast.Name) and t.id == "__tablename__" for t in stmt.targets)), None)
        if not isinstance(table, str):
            continue
        for stmt in cls.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                attribute, value = stmt.target.id, stmt.value
            elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                attribute, value = stmt.targets[0].id, stmt.value
            else:
                continue
            if not isinstance(value, ast.Call) or _call_name(value) not in ("mapped_column", "Column"):
                continue
            first = value.args[0] if value.args else None
            name = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
            yield table, attribute, name, value


def _allowed(table: str, column: str) -> bool:
    return column in ALLOWED or f"{table}.{column}" in ALLOWED


def check_source(source: str, path: str) -> list[str]:
    """The breaches in one file's source."""
    problems = []
    for table, attribute, name, call in _columns(ast.parse(source, path)):
        names = [attribute] + ([name] if name and name != attribute else [])  # the attribute first
        suspicious = [n for n in names if PERSONAL.search(n) and not n.endswith(HASH_SUFFIX)]
        if not suspicious or _uses_personal(call) or any(_allowed(table, n) for n in names):
            continue
        problems.append(
            f"{path}:{call.lineno}: {table}.{suspicious[0]} looks like a person's phone, ID number, address "
            f"or name but is not a Personal column: declare it mapped_column(Personal(\"{table}.{suspicious[0]}\", "
            f"kind)) from civicgrid.kit.personal, or add it to ALLOWED in tools/lint/pii_columns.py with the "
            f"reason it is not personal data")
    return problems


def _files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from (p for p in sorted(path.rglob("*.py")) if "migrations" not in p.parts)
        else:
            yield path


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or [ROOT / "src" / "civicgrid"]
    problems = []
    for file in _files(paths):
        try:
            shown = str(file.relative_to(ROOT))
        except ValueError:
            shown = str(file)
        problems.extend(check_source(file.read_text(encoding="utf-8"), shown))
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
