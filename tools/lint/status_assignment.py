"""No direct status assignment: every status change goes through the workflow kit (DESIGN.md
rule 4, issue 14 §1).

An assignment to an attribute that holds a life-cycle status (``x.status = …``,
``x.decision = …``, or ``setattr(x, "status", …)``) anywhere outside the kit's engine is a
breach: the change must be a ``Workflow.transition`` (or ``Workflow.start`` for a new record),
which checks the table, stamps the timeline, retimes the deadlines and announces it. ALLOWED
lists, with the reason, the files where such an attribute is not a workflow status.

Usage: ``python tools/lint/status_assignment.py [PATH ...]`` (files or folders; default
``src/civicgrid``). Prints ``path:line: …`` per breach and exits 1 when there is any.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Attributes that hold a workflow status (``Workflow(status_attr=...)``: status, decision).
STATUS_ATTRS = frozenset({"status", "decision"})

# path relative to the repository root → why an assignment there is not a status change.
ALLOWED: dict[str, str] = {
    "src/civicgrid/workflow/engine.py": "the kit itself: Workflow._set_status is the one place a status is set",
    "src/civicgrid/kit/errors.py": "AppError.status is an error's HTTP status code, not a life-cycle status",
}


def _targets(node: ast.AST) -> Iterator[tuple[int, str]]:
    if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store) and sub.attr in STATUS_ATTRS:
                    yield node.lineno, f".{sub.attr} = "
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "setattr"
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and node.args[1].value in STATUS_ATTRS
    ):
        yield node.lineno, f'setattr(…, "{node.args[1].value}", …)'


def check_file(path: Path) -> list[str]:
    try:
        shown = path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        shown = path.as_posix()
    if shown in ALLOWED:
        return []
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{shown}:{line}: direct status assignment ({what}): go through the workflow kit "
        f"(Workflow.transition, or Workflow.start for a new record)"
        for node in ast.walk(tree)
        for line, what in _targets(node)
    ]


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or [ROOT / "src" / "civicgrid"]
    files = sorted(f for p in paths for f in ([p] if p.is_file() else p.rglob("*.py")))
    problems = [line for f in files for line in check_file(f)]
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
