"""The figures from known records, exactly; the incremental rollup against the raw table and
against a rebuild, after scripted and random life cycles."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import inspect, update
from sqlalchemy.orm import Session

from civicgrid.matters.figures import repository, service
from civicgrid.matters.figures.models import COUNTERS
from civicgrid.matters.models import Matter
from tests.matters.figures.factories import local, make_matter, matter_type

# A county code no real data uses, so committed rows of other tests never mix in.
COUNTY = "439901"
TOWNSHIP = COUNTY + "001"
V1 = TOWNSHIP + "001"
V2 = TOWNSHIP + "002"
G1 = V1 + "001"
G2 = V1 + "002"
G3 = V2 + "001"
NOV = (date(2026, 11, 1), date(2026, 11, 30))


def figures(db: Session, prefix: str, span: tuple[date, date] = NOV, source: str = "rollup") -> service.FiguresRead:
    return service.to_figures(prefix, None, span[0], span[1],
                              service.figures_for_prefix(db, prefix, span[0], span[1], source=source))


def build_november(db: Session) -> dict[str, Matter]:
    mt = matter_type(db)
    m: dict[str, Matter] = {}
    # Closed in the village, on time, rated 5: 23 h from dispatch to close.
    m["m1"] = make_matter(db, mt, grid_code=G1, reported_at=local("2026-11-02 10:00"), status="evaluated",
                          dispatched_at=local("2026-11-02 11:00"), closed_at=local("2026-11-03 10:00"),
                          settled_level="village", satisfaction=5)
    # Closed at township level after running late and one rework: 24 h, rated 3.
    m["m2"] = make_matter(db, mt, grid_code=G2, reported_at=local("2026-11-05 09:00"), status="evaluated",
                          dispatched_at=local("2026-11-05 12:00"), closed_at=local("2026-11-06 12:00"),
                          settled_level="township", overdue=True, rework_count=1, satisfaction=3)
    m["m3"] = make_matter(db, mt, grid_code=G1, reported_at=local("2026-11-10 08:00"), status="handling",
                          dispatched_at=local("2026-11-10 09:00"))
    m["m4"] = make_matter(db, mt, grid_code=G1, reported_at=local("2026-11-12 08:00"), status="rejected")
    # Reported on 31 October local time (15:30 UTC), closed on 1 November: closed in range only.
    m["m5"] = make_matter(db, mt, grid_code=G1, reported_at=local("2026-10-31 23:30"), status="closed",
                          dispatched_at=local("2026-11-01 00:00"), closed_at=local("2026-11-01 00:30"),
                          settled_level="county")
    # 23:59 local on 30 November is 15:59 UTC the same day: inside the range.
    m["m6"] = make_matter(db, mt, grid_code=G1, reported_at=local("2026-11-30 23:59"), status="reported")
    # Another village: received in November, closed on 1 December (after the range).
    m["m7"] = make_matter(db, mt, grid_code=G3, reported_at=local("2026-11-20 10:00"), status="closed",
                          dispatched_at=local("2026-11-20 11:00"), closed_at=local("2026-12-01 01:00"),
                          settled_level="village")
    return m


def test_exact_figures_of_known_records(db: Session) -> None:
    build_november(db)
    f = figures(db, TOWNSHIP)
    assert (f.received, f.received_void, f.received_closed, f.closed) == (6, 1, 3, 3)
    assert f.closure_rate == 3 / 5
    assert f.on_time_rate == 2 / 3
    assert f.rework_rate == 1 / 3
    assert f.handled_count == 3
    assert f.avg_handling_hours == (23 + 24 + 0.5) / 3
    assert (f.satisfaction, f.satisfaction_count) == (4.0, 2)
    # m5 was closed without a rating: counted apart as not rated (未评价), never as a score.
    assert f.not_rated == 1
    assert {lvl: s.count for lvl, s in f.settled.items()} == {"village": 1, "township": 1, "county": 1, "city": 0}
    assert f.settled["village"].share == 1 / 3

    village = figures(db, V1)  # m7 happened in V2
    assert (village.received, village.received_closed, village.closed) == (5, 2, 3)
    assert village.closure_rate == 2 / 4
    grid = figures(db, G2)  # a grid is summed from the raw rows
    assert (grid.received, grid.closed, grid.rework_rate) == (1, 1, 1.0)
    # The county and the whole (fake) city read the county table and agree.
    assert figures(db, COUNTY) == figures(db, TOWNSHIP).model_copy(update={"division": COUNTY})
    assert figures(db, "4399").received == 6
    # October 31 holds m5's report only; December 1 holds m7's closing only.
    october = figures(db, TOWNSHIP, (date(2026, 10, 31), date(2026, 10, 31)))
    assert (october.received, october.received_closed, october.closed, october.closure_rate) == (1, 1, 0, 1.0)
    assert october.on_time_rate is None and october.satisfaction is None
    december = figures(db, TOWNSHIP, (date(2026, 12, 1), date(2026, 12, 1)))
    assert (december.received, december.closed, december.settled["village"].share) == (0, 1, 1.0)
    assert december.closure_rate is None


def test_changes_after_the_fact_move_the_counters(db: Session) -> None:
    m = build_november(db)
    # Reopened: m1 is no longer closed (and its rating is gone with it).
    m["m1"].status = "handling"
    m["m1"].closed_at = None
    m["m1"].satisfaction = None
    # A wrongly located report moves to the other village and to another day.
    m["m3"].grid_code = G3
    m["m3"].reported_at = local("2026-10-15 08:00")
    db.flush()
    # Closed later, settled at city level after an escalation; the old day must lose it.
    m["m2"].closed_at = local("2026-11-07 12:00")
    m["m2"].settled_level = "city"
    db.delete(m["m6"])
    db.flush()
    f = figures(db, TOWNSHIP)
    assert (f.received, f.received_void, f.received_closed, f.closed) == (4, 1, 2, 2)
    assert {lvl: s.count for lvl, s in f.settled.items()} == {"village": 0, "township": 0, "county": 1, "city": 1}
    assert f.avg_handling_hours == (48 + 0.5) / 2
    assert (f.satisfaction, f.satisfaction_count) == (3.0, 1)
    assert figures(db, V2, (date(2026, 10, 1), date(2026, 10, 31))).received == 1
    assert figures(db, TOWNSHIP) == figures(db, TOWNSHIP, source="raw")


def test_changes_to_unloaded_attributes_use_the_stored_values(db: Session) -> None:
    m = build_november(db)
    before = figures(db, TOWNSHIP)
    db.expire(m["m2"])  # the session no longer knows the old values
    m["m2"].settled_level = "county"
    m["m2"].overdue = False
    db.flush()
    after = figures(db, TOWNSHIP)
    assert after.settled["township"].count == before.settled["township"].count - 1
    assert after.settled["county"].count == before.settled["county"].count + 1
    assert after.closed_on_time == before.closed_on_time + 1
    assert after == figures(db, TOWNSHIP, source="raw")


def test_bulk_updates_of_matters_are_refused(db: Session) -> None:
    build_november(db)
    with pytest.raises(RuntimeError, match="rollup"):
        db.execute(update(Matter).where(Matter.grid_code == G1).values(status="closed"))


def _ours(rows: dict[tuple[str, date], dict[str, int]]) -> dict[tuple[str, date], dict[str, int]]:
    return {key: value for key, value in rows.items() if key[0].startswith(COUNTY)}


def test_random_life_cycles_rollup_equals_raw_and_rebuild(db: Session) -> None:
    rnd = random.Random(20261129)
    mt = matter_type(db)
    grids = [G1, G2, G3, "439901002001001", "439901002003001"]
    start = local("2026-01-01 00:00")
    statuses = ["reported", "accepted", "rejected", "cancelled", "dispatched", "handling", "handled",
                "verified", "closed", "evaluated"]
    matters: list[Matter] = []

    def random_state(matter: Matter) -> None:
        matter.status = rnd.choice(statuses)
        matter.dispatched_at = matter.reported_at + timedelta(minutes=rnd.randint(1, 600)) \
            if rnd.random() < 0.8 else None
        closing = matter.status in ("closed", "evaluated") or rnd.random() < 0.1  # stale closed_at too
        matter.closed_at = matter.reported_at + timedelta(seconds=rnd.randint(60, 30 * 86400) + rnd.random()) \
            if closing else None
        matter.settled_level = rnd.choice([None, "village", "township", "county", "city"])
        matter.satisfaction = rnd.choice([None, 1, 2, 3, 4, 5])
        matter.overdue = rnd.random() < 0.3
        matter.rework_count = rnd.choice([0, 0, 1, 2])

    for step in range(12):
        for _ in range(15):
            matter = make_matter(db, mt, grid_code=rnd.choice(grids), flush=False,
                                 reported_at=start + timedelta(seconds=rnd.randint(0, 200 * 86400)))
            random_state(matter)
            matters.append(matter)
        for matter in rnd.sample(matters, min(len(matters), 20)):
            if rnd.random() < 0.2 and inspect(matter).persistent:
                db.expire(matter)
            if rnd.random() < 0.15:
                matter.grid_code = rnd.choice(grids)
                matter.reported_at = start + timedelta(seconds=rnd.randint(0, 200 * 86400))
            random_state(matter)
        if step % 4 == 3:
            victim = matters.pop(rnd.randrange(len(matters)))
            db.delete(victim)
        db.flush()

    for prefix in ("4399", COUNTY, "439901002", V1, G1):
        for _ in range(5):
            a = date(2026, 1, 1) + timedelta(days=rnd.randint(0, 230))
            b = a + timedelta(days=rnd.randint(0, 120))
            assert figures(db, prefix, (a, b)) == figures(db, prefix, (a, b), source="raw"), (prefix, a, b)
    # Per child: the township table grouped by village equals the raw GROUP BY grouped the same way.
    span = (date(2026, 1, 1), date(2026, 12, 31))
    assert (repository.sum_for(db, TOWNSHIP, *span, group_width=12, principal=None)
            == repository.sum_raw(db, TOWNSHIP, *span, 12, principal=None))
    assert (repository.sum_for(db, V1, *span, group_width=15, principal=None)
            == repository.sum_raw(db, V1, *span, 15, principal=None))

    incremental = {w: _ours(repository.rollup_rows(db, w)) for w in repository.WIDTHS}
    assert sum(row["received"] for row in incremental[6].values()) == len(matters)
    service.rebuild(db)
    rebuilt = {w: _ours(repository.rollup_rows(db, w)) for w in repository.WIDTHS}
    assert incremental == rebuilt


def test_contributions_are_zero_sum_when_nothing_changes() -> None:
    facts = service.MatterFacts(grid_code=G1, status="closed", reported_at=local("2026-11-02 10:00"),
                                closed_at=local("2026-11-03 10:00"), dispatched_at=None, overdue=False,
                                rework_count=0, satisfaction=None, settled_level="village")
    assert service.rollup_delta(facts, facts) == {}
    added = service.rollup_delta(None, facts)
    assert set(added) == {(w, G1[:w], d) for w in (6, 9, 12) for d in (date(2026, 11, 2), date(2026, 11, 3))}
    assert all(set(v) <= set(COUNTERS) for v in added.values())
