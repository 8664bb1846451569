"""Importing divisions, outlines and grids: counts, links, refusals, idempotence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from civicgrid.geo import service
from civicgrid.geo.importer import ImportRefused, parse_divisions_csv
from civicgrid.geo.models import Division, Grid
from tests.conftest import Yongzhou

HEADER = "code,name,level,parent_code,urban_rural_code,lng,lat,attr_source\n"
GOOD = (
    HEADER
    + "990100000000,测试市,city,990000000000,,,,\n"
    + "990102000000,测试区,county,990100000000,,111.6,26.4,\n"
    + "990102001000,测试街道,township,990102000000,,,,\n"
    + "990102001001,测试社区,village,990102001000,111,,,\n"
)


def test_yongzhou_counts(db: Session, yongzhou: Yongzhou) -> None:
    counts = dict(
        db.execute(
            select(Division.level, func.count()).where(Division.code.like("4311%")).group_by(Division.level)
        ).all()
    )
    assert counts == {"city": 1, "county": 13, "township": 195, "village": 3331}


def test_every_division_hangs_under_a_parent_one_level_up(db: Session, yongzhou: Yongzhou) -> None:
    rows = {d.code: d for d in db.scalars(select(Division).where(Division.code.like("4311%")))}
    up = {"county": "city", "township": "county", "village": "township"}
    for d in rows.values():
        if d.level == "city":
            assert d.parent_code == "430000000000"
            continue
        parent = rows[d.parent_code]  # type: ignore[index]
        assert parent.level == up[d.level]
        assert d.code.startswith(parent.code[: {"city": 4, "county": 6, "township": 9}[parent.level]])


def test_coordinates_are_stored_in_wgs84(db: Session, yongzhou: Yongzhou) -> None:
    city = db.get(Division, "431100000000")
    assert city is not None and city.point_source == "datav"
    # the CSV holds the GCJ-02 point 111.608019, 26.434516
    assert city.lng == pytest.approx(111.6025, abs=5e-4)
    assert city.lat == pytest.approx(26.4379, abs=5e-4)


def test_reimport_is_idempotent(db: Session, yongzhou: Yongzhou) -> None:
    data = (service.REFERENCE_DIR / "divisions.csv").read_bytes()
    report = service.import_divisions(db, data, source="again")
    assert (report.created, report.updated, report.unchanged) == (0, 0, 3540)
    regenerated = service.generate_grid_layer(db)
    assert (regenerated.created, regenerated.updated, regenerated.deleted) == (0, 0, 0)
    assert regenerated.unchanged == db.scalar(select(func.count()).select_from(Grid))


def test_import_then_update_by_code(db: Session) -> None:
    first = service.import_divisions(db, GOOD.encode(), source="t")
    assert first.created == 4
    renamed = GOOD.replace("测试社区", "改名社区").encode()
    second = service.import_divisions(db, renamed, source="t")
    assert (second.created, second.updated, second.unchanged) == (0, 1, 3)
    village = db.get(Division, "990102001001")
    assert village is not None and village.name == "改名社区" and village.urban_rural_code == "111"


BAD_LINES = [
    (
        "990102001001,测试社区,village,990102001000,111,,,\n990102001001,重复,village,990102001000,,,,\n",
        6,
        "duplicate",
    ),
    ("99010200100,短代码,village,990102001000,,,,\n", 6, "12 digits"),
    ("990102001002,层级错,hamlet,990102001000,,,,\n", 6, "level"),
    ("990102001002,无上级,village,990102009000,,,,\n", 6, "parent 990102009000"),
    ("990102001002,只有经度,village,990102001000,,111.6,,\n", 6, "both"),
    ("990102001002,坐标错,village,990102001000,,abc,26.4,\n", 6, "not a number"),
    ("990102001002,坐标越界,village,990102001000,,11.6,26.4,\n", 6, "outside China"),
    ("990102001002,列数错,village,990102001000\n", 6, "expected 8 fields"),
    ("990103001002,跨上级,village,990102001000,,,,\n", 6, "does not lie under"),
]


@pytest.mark.parametrize(("extra", "line", "reason"), BAD_LINES)
def test_malformed_csv_is_refused_with_line_and_nothing_written(
    db: Session, extra: str, line: int, reason: str
) -> None:
    data = (GOOD + extra).encode()
    before = db.scalar(select(func.count()).select_from(Division))
    with pytest.raises(ImportRefused) as caught:
        service.import_divisions(db, data, source="bad.csv")
    error = caught.value
    assert error.details["line"] == line
    assert f"line {line}:" in error.en and reason in error.en
    assert f"第 {line} 行" in error.zh
    assert db.scalar(select(func.count()).select_from(Division)) == before
    assert db.get(Division, "990100000000") is None


def test_missing_column_is_refused_on_line_1() -> None:
    with pytest.raises(ImportRefused) as caught:
        parse_divisions_csv(b"code,name,level\n990100000000,x,city\n")
    assert caught.value.details["line"] == 1 and "parent_code" in caught.value.en


def _square(code: str, x: float, y: float, size: float = 0.01) -> dict[str, object]:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {
        "type": "Feature",
        "properties": {"code": code},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def test_real_grids_import_and_replace_the_generated_layer_of_their_county(
    db: Session, yongzhou: Yongzhou
) -> None:
    village = yongzhou.village_in("431124")  # 道县
    doc = {
        "type": "FeatureCollection",
        "features": [_square(village + "001", 111.60, 25.50), _square(village + "002", 111.61, 25.50)],
    }
    report = service.import_grids(db, json.dumps(doc).encode(), source="real.geojson", datum="wgs84")
    assert report.created == 2 and report.deleted > 100
    grids = db.scalars(select(Grid).where(Grid.code.like("431124%"))).all()
    assert {g.code for g in grids} == {village + "001", village + "002"}
    assert not any(g.generated for g in grids)
    assert grids[0].name.endswith("第1网格") and grids[0].area_km2 == pytest.approx(1.11 * 1.0, rel=0.05)


def test_overlapping_grids_are_refused(db: Session, yongzhou: Yongzhou) -> None:
    village = yongzhou.village_in("431124")
    doc = {
        "type": "FeatureCollection",
        "features": [_square(village + "001", 111.60, 25.50), _square(village + "002", 111.605, 25.50)],
    }
    with pytest.raises(ImportRefused) as caught:
        service.import_grids(db, json.dumps(doc).encode(), source="bad.geojson", datum="wgs84")
    assert "overlaps" in caught.value.en


def test_grid_of_unknown_village_is_refused(db: Session, yongzhou: Yongzhou) -> None:
    doc = {"type": "FeatureCollection", "features": [_square("431124999999001", 111.60, 25.50)]}
    with pytest.raises(ImportRefused) as caught:
        service.import_grids(db, json.dumps(doc).encode(), source="bad.geojson", datum="wgs84")
    assert caught.value.details["feature"] == 1


@pytest.mark.skipif(
    os.environ.get("CIVICGRID_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="the CLI round trip runs on a throw-away SQLite file",
)
def test_cli_refuses_a_malformed_file_and_writes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD + "990102001002,坐标错,village,990102001000,,abc,26.4,\n", encoding="utf-8")
    env = {**os.environ, "CIVICGRID_DATABASE_URL": url}
    cli = [sys.executable, "-m", "civicgrid.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
    result = subprocess.run([*cli, "import-divisions", str(bad)], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "line 6" in result.stderr and "第 6 行" in result.stderr
    good = tmp_path / "good.csv"
    good.write_text(GOOD, encoding="utf-8")
    ok = subprocess.run([*cli, "import-divisions", str(good)], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "4" in ok.stdout
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Division)) == 4
    engine.dispose()
