"""Scoped tables are read only in repositories, and only through the scoping helper.

DESIGN.md rule 5: every read of a scoped table goes through ``authz.scoping.visible(column,
principal)`` (or, for a read that acts for the system, ``authz.scoping.unscoped(reason)``), and
every query lives in a ``repository.py``. Which models are scoped is declared on the model:
``__scope_column__ = "division_code"``. This script reads the source tree (AST, not regex) and
reports:

(a) a scoped model queried — ``select(Model…)``, ``session.get(Model, …)``, ``session.query(Model…)``,
    ``.join(Model…)``, ``.select_from(Model)`` … — in a module that is not a ``repository.py``;
(b) a function (or module-level statement) of a ``repository.py`` that queries a scoped model
    without calling ``visible(`` or ``unscoped(`` — directly or through a helper of the same
    module that does;
(c) a model with a ``division_code`` or ``grid_code`` column that declares neither
    ``__scope_column__`` nor ``__unscoped__ = "why"``, so a new table cannot silently stay unscoped.

    python tools/lint/scoped_queries.py [SOURCE_ROOT]     (default: src/civicgrid)
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

SCOPING_CALLS = frozenset({"visible", "unscoped"})
"""Calls that scope a query: the helper that takes the principal, and the system marker."""
QUERY_METHODS = frozenset({"select", "get", "query", "join", "join_from", "outerjoin", "select_from"})
"""Calls that read from a model named among their arguments (``session.get(Model, id)`` …)."""
CODE_COLUMNS = frozenset({"division_code", "grid_code"})
ALLOWED_MODULES: frozenset[str] = frozenset()
"""Platform modules allowed to query scoped models outside a repository (relative to the source
root). Empty: the audit chain's own reads live in ``audit/repository.py`` like every other."""


@dataclass(frozen=True)
class Breach:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError:
        return None


def _class_assigns(node: ast.ClassDef) -> dict[str, ast.expr]:
    out: dict[str, ast.expr] = {}
    for stmt in node.body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            out[stmt.target.id] = stmt.value
    return out


def declared_models(root: Path) -> tuple[set[str], list[Breach]]:
    """The scoped model class names of every ``models.py`` under ``root``, and breaches of (c)."""
    scoped: set[str] = set()
    breaches: list[Breach] = []
    for path in sorted(root.rglob("models.py")):
        tree = _parse(path)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            assigns = _class_assigns(node)
            if "__scope_column__" in assigns:
                scoped.add(node.name)
                continue
            codes = CODE_COLUMNS & set(assigns)
            if codes and "__tablename__" in assigns and "__unscoped__" not in assigns:
                breaches.append(Breach(_rel(path, root), node.lineno,
                                       f"model {node.name} carries {sorted(codes)[0]} but declares neither "
                                       '__scope_column__ = "<column>" nor __unscoped__ = "<why>"'))
    return scoped, breaches


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent.parent if root.name == "civicgrid" else root))
    except ValueError:
        return str(path)


def _model_aliases(tree: ast.Module, scoped: set[str]) -> tuple[set[str], set[str]]:
    """Local names bound to scoped models, and local names of imported ``models`` modules."""
    names: set[str] = set()
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name in scoped:
                    names.add(alias.asname or alias.name)
                elif alias.name == "models":
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.ClassDef) and node.name in scoped:
            names.add(node.name)
    return names, modules


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and not isinstance(func.value, ast.Constant):  # not ", ".join(…)
        return func.attr
    return None


@dataclass(frozen=True)
class _Aliases:
    names: set[str]  # local names bound to scoped models
    modules: set[str]  # local names of imported `models` modules
    scoped: set[str]  # every scoped model class name

    def mentioned(self, node: ast.AST) -> str | None:
        """The scoped model ``node`` refers to anywhere inside it (``Matter``, ``Matter.id``,
        ``Matter.__table__.c.id``, ``models.Matter``), if any."""
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id in self.names:
                return sub.id
            if (isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id in self.modules
                    and sub.attr in self.scoped):
                return sub.attr
        return None


def _queries(node: ast.AST, aliases: _Aliases) -> Iterator[tuple[int, str]]:
    """(line, model) of every query call under ``node`` that names a scoped model."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and _call_name(sub) in QUERY_METHODS:
            args: Iterable[ast.expr] = sub.args
            if _call_name(sub) in ("get", "query", "join", "join_from", "outerjoin", "select_from"):
                args = sub.args[:2] if _call_name(sub) == "join_from" else sub.args[:1]
            for arg in args:
                model = aliases.mentioned(arg)
                if model is not None:
                    yield sub.lineno, model
                    break


def _loose_query(unit: ast.AST, aliases: _Aliases) -> tuple[int, str] | None:
    """A query built from a scoped model's columns held in a variable first
    (``c = Matter.__table__.c; select(c.id)``): the unit names the model and selects."""
    model = aliases.mentioned(unit)
    if model is None:
        return None
    for sub in ast.walk(unit):
        if isinstance(sub, ast.Call) and _call_name(sub) in QUERY_METHODS - {"get"}:
            return sub.lineno, model
    return None


def _calls(node: ast.AST) -> set[str]:
    return {name for sub in ast.walk(node) if isinstance(sub, ast.Call) and (name := _call_name(sub))}


def check_module(path: Path, tree: ast.Module, scoped: set[str], display: str) -> list[Breach]:
    """Breaches of (a) and (b) in one module."""
    names, modules = _model_aliases(tree, scoped)
    if not names and not modules:
        return []
    aliases = _Aliases(names, modules, scoped)
    if path.name != "repository.py":
        if display in ALLOWED_MODULES:
            return []
        return [Breach(display, line, f"{model} is a scoped model (__scope_column__): query it in a "
                                      "repository.py, through authz.scoping.visible(column, principal)")
                for line, model in _queries(tree, aliases)]
    # (b): the module's scoping helpers — its functions that call visible()/unscoped(), transitively.
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    helpers = set(SCOPING_CALLS)
    changed = True
    while changed:
        changed = False
        for name, fn in functions.items():
            if name not in helpers and _calls(fn) & helpers:
                helpers.add(name)
                changed = True
    breaches = []
    for unit in tree.body:
        found = next(_queries(unit, aliases), None) or _loose_query(unit, aliases)
        if found is None or _calls(unit) & helpers:
            continue
        what = f"function {unit.name}" if isinstance(unit, ast.FunctionDef | ast.AsyncFunctionDef) else "statement"
        breaches.append(Breach(display, found[0], f"{what} reads the scoped model {found[1]} without "
                                                  "authz.scoping.visible(column, principal) (or "
                                                  'unscoped("why") for a read that acts for the system)'))
    return breaches


def check(root: Path) -> list[Breach]:
    scoped, breaches = declared_models(root)
    for path in sorted(root.rglob("*.py")):
        if path.name == "models.py" or "migrations" in path.parts:
            continue
        tree = _parse(path)
        if tree is None:
            continue
        display = _rel(path, root)
        breaches += check_module(path, tree, scoped, display)
    return breaches


def main(argv: list[str]) -> int:
    default = Path(__file__).resolve().parents[2] / "src" / "civicgrid"
    root = Path(argv[1]) if len(argv) > 1 else default
    breaches = check(root)
    for breach in breaches:
        print(breach)
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
