"""The generated grid layer and the point → grid index."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.geo.gcj02 import gcj02_to_wgs84
from civicgrid.geo.generator import short_name
from civicgrid.geo.importer import read_geometry
from civicgrid.geo.index import GridIndex, build_index, index_for
from civicgrid.geo.models import Division, Grid
from tests.conftest import Yongzhou

HOSTS = {"431171": "431103", "431173": "431125"}


@pytest.fixture(scope="module")
def layer(engine: object, yongzhou: Yongzhou) -> tuple[dict[str, Division], list[Grid]]:
    from civicgrid.db import transaction

    with transaction(yongzhou.engine, write=False) as session:
        divisions = {d.code: d for d in session.scalars(select(Division))}
        grids = list(session.scalars(select(Grid).order_by(Grid.code)))
    return divisions, grids


def test_every_village_has_grids_with_15_digit_codes(layer: tuple[dict[str, Division], list[Grid]]) -> None:
    divisions, grids = layer
    by_village: dict[str, list[str]] = defaultdict(list)
    for g in grids:
        assert len(g.code) == 15 and g.code.isdigit() and g.code.startswith(g.village_code)
        assert g.generated
        by_village[g.village_code].append(g.code[12:])
    villages = [c for c, d in divisions.items() if d.level == "village"]
    assert len(villages) == 3331
    assert set(by_village) == set(villages)
    for seqs in by_village.values():
        assert sorted(seqs) == [f"{i:03d}" for i in range(1, len(seqs) + 1)]


def test_grids_cover_each_county_without_overlaps(layer: tuple[dict[str, Division], list[Grid]]) -> None:
    divisions, grids = layer
    by_territory: dict[str, list[object]] = defaultdict(list)
    for g in grids:
        county = g.code[:6]
        by_territory[HOSTS.get(county, county)].append(read_geometry(g.boundary))
    counties = [d for d in divisions.values() if d.level == "county" and not d.host_code]
    assert len(counties) == 11
    for county in counties:
        outline = shapely.make_valid(read_geometry(county.boundary))  # type: ignore[arg-type]
        parts = by_territory[county.code[:6]]
        total = sum(p.area for p in parts)  # type: ignore[attr-defined]
        union = shapely.union_all(parts)
        assert total == pytest.approx(outline.area, rel=1e-5), county.name  # no gaps: areas add up
        assert union.area == pytest.approx(total, rel=1e-5), county.name  # no overlaps
        assert shapely.symmetric_difference(union, outline).area < 1e-5 * outline.area, county.name


def test_urban_communities_get_more_grids_than_rural_villages(
    layer: tuple[dict[str, Division], list[Grid]],
) -> None:
    divisions, grids = layer
    per_village: dict[str, int] = defaultdict(int)
    for g in grids:
        per_village[g.village_code] += 1
    urban = [n for c, n in per_village.items() if divisions[c].urban_rural_code == "111"]
    rural = [n for c, n in per_village.items() if divisions[c].urban_rural_code == "220"]
    assert urban and rural and min(urban) > max(1, float(np.mean(rural))) - 1
    assert float(np.mean(urban)) > float(np.mean(rural)) + 1


def test_generated_geometry_is_marked_and_real_outlines_are_kept(
    layer: tuple[dict[str, Division], list[Grid]],
) -> None:
    divisions, _ = layer
    assert not divisions["431102000000"].boundary_generated and divisions["431102000000"].boundary
    townships = [d for d in divisions.values() if d.level == "township"]
    villages = [d for d in divisions.values() if d.level == "village"]
    assert all(d.boundary and d.boundary_generated for d in townships + villages)
    assert all(d.lng is not None for d in townships + villages)
    assert {d.point_source for d in villages} == {"adcode2016", "generated"}


def test_statistical_units_are_carved_out_of_their_host_county(
    layer: tuple[dict[str, Division], list[Grid]],
) -> None:
    divisions, _ = layer
    for unit, host in (("431171000000", "431103000000"), ("431173000000", "431125000000")):
        assert divisions[unit].host_code == host and divisions[unit].boundary_generated
        inner = read_geometry(divisions[unit].boundary)  # type: ignore[arg-type]
        outer = shapely.make_valid(read_geometry(divisions[host].boundary))  # type: ignore[arg-type]
        assert inner.area > 0 and inner.difference(outer).area < 1e-6 * inner.area


def test_villages_with_published_points_contain_them(layer: tuple[dict[str, Division], list[Grid]]) -> None:
    divisions, _ = layer
    for d in divisions.values():
        if d.level == "village" and d.point_source == "adcode2016":
            cell = read_geometry(d.boundary)  # type: ignore[arg-type]
            # A few published points are shared by two villages (geocoded by name); the generator
            # nudges one of the pair by 1e-6°, so allow a metre.
            assert cell.distance(shapely.Point(d.lng, d.lat)) < 1e-5, d.name


def test_short_names() -> None:
    assert short_name("长丰社区居委会") == "长丰社区"
    assert short_name("东冲村委会") == "东冲村"
    assert short_name("横冲村村委会") == "横冲村"
    assert short_name("迴峰路居委会") == "迴峰路社区"


def test_index_agrees_with_a_plain_polygon_loop(db: Session, yongzhou: Yongzhou) -> None:
    index = index_for(db)
    shapes = [(g.code, read_geometry(g.boundary)) for g in db.scalars(select(Grid))]
    tree = shapely.STRtree([s for _, s in shapes])
    rng = np.random.default_rng(11)
    inside = 0
    for lng, lat in zip(rng.uniform(110.9, 112.4, 2000), rng.uniform(24.6, 26.9, 2000), strict=True):
        hits = sorted(shapes[i][0] for i in tree.query(shapely.Point(lng, lat), predicate="intersects"))
        found = index.locate(float(lng), float(lat))
        if hits:
            inside += 1
            assert found == hits[0]
        else:
            assert found is None
    assert inside > 500


def test_known_points(db: Session, yongzhou: Yongzhou) -> None:
    index = index_for(db)
    seat = gcj02_to_wgs84(111.626348, 26.223347)  # 零陵区 government seat (Amap)
    assert (index.locate(*seat) or "").startswith("431102")
    seat = gcj02_to_wgs84(111.944529, 25.584112)  # 宁远县
    assert (index.locate(*seat) or "").startswith("431126")
    assert index.locate(116.39, 39.9) is None  # Beijing
    assert index.locate(float("nan"), 26.0) is None
    for grid in db.scalars(select(Grid).limit(200)):
        assert index.locate(grid.lng, grid.lat) == grid.code


def test_index_rebuilds_after_an_import(db: Session, yongzhou: Yongzhou) -> None:
    from civicgrid.geo import service

    before = index_for(db)
    assert index_for(db) is before  # cached while the geography is unchanged
    service.apply_hosts(db, (service.REFERENCE_DIR / "hosts.csv").read_bytes(), source="hosts.csv")
    assert index_for(db) is not before  # any import moves the version


def test_empty_index() -> None:
    assert GridIndex([]).locate(111.6, 26.4) is None


def test_build_index_counts_every_grid(db: Session, yongzhou: Yongzhou) -> None:
    assert len(build_index(db)) == db.query(Grid).count()
