"""tools/lint/pii_columns.py: a personal-data column without the Personal type fails `make lint`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "tools" / "lint" / "pii_columns.py"

BAD = '''
from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

class Party(Base):
    """A party to a dispute."""

    __tablename__ = "dispute_parties"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    party_name: Mapped[str] = mapped_column(String(64))
    mobile: Mapped[str | None] = mapped_column(Text)
    id_number: Mapped[str | None] = mapped_column("id_card_cipher", Text)
    home_address: Mapped[str | None] = mapped_column(String(200))
'''

GOOD = '''
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from civicgrid.kit.personal import Personal

class Party(Base):
    """A party to a dispute."""

    __tablename__ = "dispute_parties"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    party_name: Mapped[str] = mapped_column(Personal("dispute_parties.party_name", "name"))
    mobile: Mapped[str | None] = mapped_column(Personal("dispute_parties.mobile", "phone"))
    mobile_hash: Mapped[str | None] = mapped_column(String(64), index=True)  # the keyed lookup hash
    id_number: Mapped[str | None] = mapped_column("id_card_cipher", Personal("dispute_parties.id_number", "id_number"))
    home_address: Mapped[str | None] = mapped_column(Personal("dispute_parties.home_address", "address", 400))
    type_name: Mapped[str] = mapped_column(String(64))  # allowed: the name of a matter type
    name: Mapped[str] = mapped_column(String(64))  # a bare name is a thing's name (divisions, roles)
'''


def _run(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    model = tmp_path / "models.py"
    model.write_text(source, encoding="utf-8")
    return subprocess.run([sys.executable, str(CHECK), str(model)], capture_output=True, text=True, check=False)


def test_a_personal_column_without_the_type_fails(tmp_path: Path) -> None:
    result = _run(tmp_path, BAD)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 4, result.stdout
    for column, line in (("party_name", 11), ("mobile", 12), ("id_number", 13), ("home_address", 14)):
        assert any(f"models.py:{line}: dispute_parties.{column} " in out and "Personal" in out for out in lines), column


def test_the_same_columns_with_the_type_pass(tmp_path: Path) -> None:
    result = _run(tmp_path, GOOD)
    assert (result.returncode, result.stdout) == (0, "")


def test_the_shipped_models_pass() -> None:
    result = subprocess.run([sys.executable, str(CHECK)], capture_output=True, text=True, check=False, cwd=ROOT)
    assert (result.returncode, result.stdout) == (0, "")
