"""`civicgrid openapi` dumps the schema the console's API types are generated from; every call
the console makes must name a path and method that schema has."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from civicgrid.cli import app

WEB_SRC = Path(__file__).resolve().parents[2] / "web" / "src"
CALL = re.compile(r"\bapi\.(GET|POST|PUT|PATCH|DELETE)\(\s*'([^']+)'")


def _console_calls() -> set[tuple[str, str]]:
    calls = set()
    for source in [*WEB_SRC.rglob("*.ts"), *WEB_SRC.rglob("*.vue")]:
        if source.name.endswith(".d.ts"):
            continue
        calls |= {(method.lower(), path) for method, path in CALL.findall(source.read_text(encoding="utf-8"))}
    return calls


def test_openapi_writes_the_schema_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "openapi.json"
    result = CliRunner().invoke(app, ["openapi", "--out", str(out)])
    assert result.exit_code == 0, result.output
    schema = json.loads(out.read_text(encoding="utf-8"))
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "civicgrid"
    # The SPA fallback route is not part of the API; the Open311 GeoReport endpoints are.
    assert not [path for path in schema["paths"] if not path.startswith(("/api/", "/open311/"))]


def test_openapi_prints_to_stdout_without_a_path() -> None:
    result = CliRunner().invoke(app, ["openapi"])
    assert result.exit_code == 0, result.output
    assert "/api/v1/health" in json.loads(result.stdout)["paths"]


def test_every_call_of_the_console_is_in_the_schema(tmp_path: Path) -> None:
    out = tmp_path / "openapi.json"
    assert CliRunner().invoke(app, ["openapi", "--out", str(out)]).exit_code == 0
    paths = json.loads(out.read_text(encoding="utf-8"))["paths"]
    calls = _console_calls()
    # login, me, logout, a division, its children, the boundaries: the shell's own calls.
    assert len(calls) >= 6, calls
    missing = sorted(f"{method.upper()} {path}" for method, path in calls
                     if method not in paths.get(path, {}))
    assert not missing, f"the console calls endpoints the API does not have: {missing}"
