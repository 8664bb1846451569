"""The dispatch index answers exactly what a scan over every unit answers (the k shortest ETAs,
ties by unit id), while units move — before and after the snapshot is re-sorted — change status,
and belong to other counties; and it is one instance per process and database."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from civicgrid.db import transaction
from civicgrid.response import index as unit_index
from civicgrid.response.index import REBUILD_AFTER, UnitEntry, UnitIndex
from civicgrid.response.params import Params, get_params, great_circle_m

BBOX = (111.2, 25.9, 111.9, 26.6)  # 零陵 and around, roughly
TYPES = ("patrol_car", "motorcycle", "foot_patrol", "station_duty", "village_auxiliary", "platform_team")
DIVISIONS = ("431102000000", "431103000000", "431121000000")


def scan(units: dict[str, UnitEntry], lng: float, lat: float, *, county: str, urban_class: str, params: Params,
         k: int, types: frozenset[str] | None = None) -> list[str]:
    """The answer by brute force: every available unit, its distance, its ETA."""
    ranked = []
    for e in units.values():
        if e.availability != "available" or e.lng is None or e.lat is None:
            continue
        if types is not None and e.unit_type not in types:
            continue
        distance = great_circle_m(lng, lat, e.lng, e.lat)
        cross = not e.division_code.startswith(county)
        if distance > (params.cross_border_m if cross else params.max_radius_m):
            continue
        ranked.append((params.eta_seconds(e.unit_type, urban_class, distance), e.unit_id))
    return [unit_id for _, unit_id in sorted(ranked)[:k]]


def test_the_index_agrees_with_a_scan_of_every_unit_while_units_move_and_change_status() -> None:
    rng = random.Random(5)
    params = get_params()
    now = datetime(2031, 6, 2, 1, 0, tzinfo=UTC)
    index = UnitIndex()
    truth: dict[str, UnitEntry] = {}
    for n in range(1500):
        placed = rng.random() < 0.95
        entry = UnitEntry(f"u{n:05d}", f"呼号{n}", TYPES[n % len(TYPES)], rng.choice(DIVISIONS), "org",
                          "available" if rng.random() < 0.8 else "assigned", frozenset(),
                          rng.uniform(BBOX[0], BBOX[2]) if placed else None,
                          rng.uniform(BBOX[1], BBOX[3]) if placed else None, now if placed else None)
        index.put(entry)
        truth[entry.unit_id] = entry  # the index keeps this very object up to date
    queries = moves = 0
    for step in range(700):
        # Position reports: enough over the run for the snapshot to be re-sorted several times,
        # and queries in between while moved units are still listed under their old bucket.
        for _ in range(rng.randrange(0, 6)):
            unit_id = f"u{rng.randrange(1500):05d}"
            assert index.move(unit_id, rng.uniform(BBOX[0], BBOX[2]), rng.uniform(BBOX[1], BBOX[3]),
                              now + timedelta(seconds=step))
            moves += 1
        if rng.random() < 0.2:
            index.set_status(f"u{rng.randrange(1500):05d}", rng.choice(["available", "assigned", "off_duty"]))
        lng, lat = rng.uniform(BBOX[0] - 0.1, BBOX[2] + 0.1), rng.uniform(BBOX[1] - 0.1, BBOX[3] + 0.1)
        county = rng.choice(("431102", "431103", "431124"))
        urban_class = rng.choice(("central", "town", "rural"))
        k = rng.choice((1, 3, 5, 12))
        types = rng.choice((None, frozenset({"foot_patrol"}), frozenset({"patrol_car", "village_auxiliary"})))
        got = index.nearest(lng, lat, county=county, urban_class=urban_class, params=params, k=k, types=types)
        want = scan(truth, lng, lat, county=county, urban_class=urban_class, params=params, k=k, types=types)
        assert [c.unit_id for c in got] == want, (step, lng, lat, county, urban_class, k, types)
        for c in got:
            assert c.cross_border == (not truth[c.unit_id].division_code.startswith(county))
            assert abs(c.distance_m - great_circle_m(lng, lat, c.lng, c.lat)) < 1e-6
            assert abs(c.eta_seconds - params.eta_seconds(c.unit_type, urban_class, c.distance_m)) < 1e-6
        queries += 1
    assert moves > 3 * REBUILD_AFTER and queries == 700


def test_an_older_report_is_ignored_and_an_unknown_unit_is_refused() -> None:
    index = UnitIndex()
    now = datetime(2031, 6, 2, 1, 0, tzinfo=UTC)
    index.put(UnitEntry("a", "甲", "patrol_car", "431102000000", "org", "available", frozenset(), 111.6, 26.2, now))
    assert index.move("a", 111.7, 26.3, now - timedelta(seconds=1))
    assert (index.units["a"].lng, index.units["a"].lat) == (111.6, 26.2)
    assert not index.move("nobody", 111.7, 26.3, now)
    found = index.nearest(111.6, 26.2, county="431102", urban_class="town", params=get_params(), k=3)
    assert [c.unit_id for c in found] == ["a"] and found[0].distance_m == 0


def test_one_index_per_process_and_database_shared_by_every_caller(engine: Engine) -> None:
    with transaction(engine, write=False) as session:
        first = unit_index.index_for(session)
    with transaction(engine, write=False) as session:
        second = unit_index.index_for(session)
    assert first is second and unit_index.cached(str(engine.url)) is first
