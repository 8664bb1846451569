"""Point → grid lookup: our lattice index against a plain shapely loop over every grid polygon.

    python bench/locate.py [--points 100000] [--loop-points 2000]

Loads the shipped Yongzhou data and the generated grid layer into a throw-away SQLite file,
builds the index from the database, then times single lookups of uniformly random points in
the city's bounding box (many fall outside the city, as real reports off the edge do). The
plain loop tests every polygon with a prepared ``intersects`` until one matches, which is what
code without an index does; it is thousands of times slower, so it gets fewer points.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

from civicgrid.db import make_engine, transaction
from civicgrid.geo.index import build_index
from civicgrid.geo.service import load_reference_data
from civicgrid.migrate import upgrade


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--loop-points", type=int, default=2_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        upgrade(url)
        engine = make_engine(url)
        started = time.perf_counter()
        with transaction(engine) as session:
            load_reference_data(session)
        load_s = time.perf_counter() - started
        with transaction(engine, write=False) as session:
            index = build_index(session)
        engine.dispose()

    rng = np.random.default_rng(2026)
    x0, y0, x1, y1 = (float(v) for v in shapely.total_bounds(index.geoms))
    lngs = rng.uniform(x0, x1, args.points).tolist()
    lats = rng.uniform(y0, y1, args.points).tolist()

    ours: list[float] = []
    hits = 0
    clock = time.perf_counter_ns
    locate = index.locate
    for lng, lat in zip(lngs, lats, strict=True):
        t = clock()
        code = locate(lng, lat)
        ours.append((clock() - t) / 1000)
        hits += code is not None

    geoms = list(index.geoms)
    codes = index.codes
    loop: list[float] = []
    agree = 0
    for lng, lat in zip(lngs[: args.loop_points], lats[: args.loop_points], strict=True):
        t = clock()
        found = None
        for code, geom in zip(codes, geoms, strict=True):
            if shapely.intersects_xy(geom, lng, lat):
                found = code
                break
        loop.append((clock() - t) / 1000)
        agree += found == locate(lng, lat)

    print(
        f"grids: {len(index):,}   reference load + grid generation: {load_s:.2f} s   "
        f"index build: {index.build_seconds * 1000:.0f} ms ({index.nx}×{index.ny} cells of {index.cell:.4f}°)"
    )
    print(
        f"random points in the city's bounding box: {args.points:,} ({hits / args.points:.0%} inside a grid)"
    )
    print(f"{'per lookup (µs)':<28}{'p50':>10}{'p99':>10}{'mean':>10}{'points':>10}")
    print(
        f"{'civicgrid lattice index':<28}{percentile(ours, 0.5):>10.2f}{percentile(ours, 0.99):>10.2f}"
        f"{statistics.fmean(ours):>10.2f}{len(ours):>10,}"
    )
    print(
        f"{'plain shapely loop':<28}{percentile(loop, 0.5):>10.1f}{percentile(loop, 0.99):>10.1f}"
        f"{statistics.fmean(loop):>10.1f}{len(loop):>10,}"
    )
    print(f"answers agree on {agree}/{len(loop)} loop points; target: index p99 < 50 µs")


if __name__ == "__main__":
    main()
