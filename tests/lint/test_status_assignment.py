"""tools/lint/status_assignment.py: a status set outside the workflow kit fails `make lint`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "tools" / "lint" / "status_assignment.py"

BAD = """
def answer(order, link, note):
    order.status = "answered"
    link.decision = "kept"
    setattr(order, "status", "overdue")
"""

GOOD = """
def answer(session, order, principal, note):
    SUPERVISION_WORKFLOW.transition(session, order, "answer", principal, note=note)
    order.answer = note
    response = {"status": 200}
"""


def _run(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "service.py"
    path.write_text(source, encoding="utf-8")
    return subprocess.run([sys.executable, str(CHECK), str(path)], capture_output=True, text=True, check=False)


def test_direct_status_assignments_fail_by_line(tmp_path: Path) -> None:
    result = _run(tmp_path, BAD)
    assert result.returncode == 1
    assert [line.split(":")[1] for line in result.stdout.splitlines()] == ["3", "4", "5"]
    assert "Workflow.transition" in result.stdout


def test_transitions_pass(tmp_path: Path) -> None:
    result = _run(tmp_path, GOOD)
    assert (result.returncode, result.stdout) == (0, "")


def test_the_source_tree_passes() -> None:
    result = subprocess.run([sys.executable, str(CHECK)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
