"""The early-warning bench (issue 13 §4, acceptance): on the held-out seed it prints the shipped
rules' precision and recall beside the overdue-only baseline, and its verdict says whether the
rules beat the baseline — consistent with the numbers it printed, whichever way they fall."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_bench_prints_both_sides_on_the_held_out_seed_and_an_honest_verdict() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "early_warning.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    )
    out = run.stdout
    assert "held-out seed 20261203" in out
    row = r"\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)%"
    ours = re.search(r"shipped rules \(any rule fires\)" + row, out)
    base = re.search(r"baseline: overdue disputes only" + row, out)
    assert ours and base, out
    p, r = float(ours.group(1)), float(ours.group(2))
    bp, br = float(base.group(1)), float(base.group(2))
    verdict = re.search(r"^verdict: (.+)$", out, re.M)
    assert verdict, out
    if p > bp and r > br:
        assert verdict.group(1).startswith("the rules beat the baseline on precision and on recall")
    else:
        assert "do NOT beat the baseline" in verdict.group(1)
    # Every rule is measured on its own too, the very rules the city runs.
    for rule in ("repeat_parties", "police_calls", "threats", "scale", "failed_mediations", "overdue_steps"):
        assert re.search(rf"^\s+{rule}\s+[0-9.]+\s+[0-9.]+", out, re.M), rule
