"""tools/lint/scoped_queries.py (DESIGN.md rule 5): a scoped model is read only in a repository,
and only through ``authz.scoping.visible`` or the system marker ``unscoped``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "lint" / "scoped_queries.py"

MODELS = '''
class Thing(Base):
    __tablename__ = "things"
    __scope_column__ = "division_code"
    division_code: Mapped[str] = mapped_column(String(15))


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
'''

GOOD_REPOSITORY = '''
from sqlalchemy import select

from civicgrid.authz.scoping import unscoped, visible
from civicgrid.shop.models import Note, Thing


def _seen(principal):
    return visible(Thing.division_code, principal)


def get_thing(session, thing_id, principal):
    return session.scalar(select(Thing).where(Thing.id == thing_id, visible(Thing.division_code, principal)))


def list_things(session, principal):
    return session.scalars(select(Thing).where(_seen(principal))).all()


def for_timer(session, thing_id):
    return session.scalar(select(Thing).where(Thing.id == thing_id, unscoped("timer handlers act for the system")))


def notes(session):
    return session.scalars(select(Note)).all()


def label(thing: Thing) -> str:
    return ", ".join([thing.division_code, thing.id])
'''

GOOD_SERVICE = '''
from civicgrid.shop import repository
from civicgrid.shop.models import Thing


def make(session, principal):
    session.add(Thing(division_code=principal.division_code))
    return repository.list_things(session, principal)
'''


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "civicgrid"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def _run(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(root)], capture_output=True, text=True, check=False)


def _good() -> dict[str, str]:
    return {"shop/models.py": MODELS, "shop/repository.py": GOOD_REPOSITORY, "shop/service.py": GOOD_SERVICE}


def test_good_example_passes(tmp_path: Path) -> None:
    result = _run(_tree(tmp_path, _good()))
    assert result.returncode == 0, result.stdout
    assert result.stdout == ""


def test_scoped_model_queried_outside_a_repository_fails(tmp_path: Path) -> None:
    service = GOOD_SERVICE + '''

def peek(session, thing_id):
    return session.get(Thing, thing_id)


def count(session):
    return session.scalar(select(func.count()).select_from(Thing))
'''
    result = _run(_tree(tmp_path, {**_good(), "shop/service.py": service}))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2, result.stdout
    assert all("civicgrid/shop/service.py:" in line and "Thing is a scoped model" in line for line in lines)


def test_repository_function_without_the_helper_fails(tmp_path: Path) -> None:
    repository = GOOD_REPOSITORY + '''

def leaky(session, thing_id, prefix):
    c = Thing.__table__.c
    return session.execute(select(c.id).where(c.division_code.like(prefix + "%"))).all()


LEAKY = DriverStatement(lambda _d: select(Thing.id))
'''
    result = _run(_tree(tmp_path, {**_good(), "shop/repository.py": repository}))
    assert result.returncode == 1
    assert "function leaky reads the scoped model Thing without authz.scoping.visible" in result.stdout
    assert "statement reads the scoped model Thing" in result.stdout
    assert "get_thing" not in result.stdout and "list_things" not in result.stdout  # helpers count


def test_model_with_a_code_column_must_declare_its_scope(tmp_path: Path) -> None:
    models = MODELS + '''

class Visit(Base):
    __tablename__ = "visits"
    grid_code: Mapped[str] = mapped_column(String(15))


class Beat(Base):
    __tablename__ = "beats"
    __unscoped__ = "bookkeeping read only by the worker"
    division_code: Mapped[str] = mapped_column(String(15))
'''
    result = _run(_tree(tmp_path, {**_good(), "shop/models.py": models}))
    assert result.returncode == 1
    assert result.stdout.count("\n") == 1, result.stdout
    assert "model Visit carries grid_code but declares neither __scope_column__" in result.stdout


def test_the_source_tree_passes() -> None:
    result = _run(ROOT / "src" / "civicgrid")
    assert result.returncode == 0, result.stdout
