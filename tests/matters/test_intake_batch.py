"""Reports written together: the group commit behind POST /api/v1/matters, and intake.write()
with several reports in one transaction, must behave exactly as one report after another."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from civicgrid.audit.service import Actor, set_actor, verify
from civicgrid.db import FairLock, GroupCommit, transaction
from civicgrid.matters import intake
from civicgrid.matters.figures import repository as figures_repo
from civicgrid.matters.models import DuplicateCandidate, Matter
from civicgrid.matters.schemas import MatterCreate
from civicgrid.numbering.models import NumberCounter
from civicgrid.people.models import User
from civicgrid.people.service import principal_of
from civicgrid.timers.models import Timer
from tests.conftest import LiveServer, Yongzhou
from tests.factories import audit_mark, audit_since, make_user_committed
from tests.matters.conftest import actor, place_in


def report(lng: float, lat: float, type_code: str = "SR01", title: str = "路边垃圾") -> MatterCreate:
    return MatterCreate(type_code=type_code, title=title, lng=lng, lat=lat, channel="grid_worker")


def test_reports_written_together_behave_as_one_after_another(engine: Engine, yongzhou: Yongzhou) -> None:
    place = place_in(yongzhou, "431125", 2)
    first_user = make_user_committed(engine, role="grid_worker", division_code=place.grid)
    second_user = make_user_committed(engine, role="grid_worker", division_code=place.grid)
    with transaction(engine) as session:
        first = principal_of(session.get_one(User, first_user.id))
        second = principal_of(session.get_one(User, second_user.id))
        prepared = []
        for principal, data, key in ((first, report(place.lng, place.lat), "batch-a"),
                                     (second, report(place.lng + 0.0005, place.lat), "batch-b"),
                                     (first, report(place.lng, place.lat), "batch-a")):  # a retry of the first
            set_actor(session, Actor(principal.username, principal.user_id))
            prepared.append(intake.prepare(session, principal, data, key))
        set_actor(session, Actor("someone-else"))
        before = audit_mark(session)
        written = intake.write(session, prepared)

    a, b, retry = written
    assert (a.created, b.created, retry.created) == (True, True, False)
    assert retry.matter.id == a.matter.id
    day, n = a.matter.number.rsplit("-", 1)
    assert b.matter.number == f"{day}-{int(n) + 1:06d}"  # consecutive numbers, in arrival order
    # The later report links the earlier one as a duplicate candidate, never the other way round.
    assert [d.candidate_id for d in b.duplicates] == [a.matter.id]
    assert a.duplicates == ()
    with transaction(engine, write=False) as session:
        links = session.scalars(select(DuplicateCandidate).where(
            DuplicateCandidate.matter_id.in_([a.matter.id, b.matter.id]))).all()
        assert [(link.matter_id, link.candidate_id) for link in links] == [(b.matter.id, a.matter.id)]
        timers = session.scalars(select(Timer).where(Timer.ref_id.in_([a.matter.id, b.matter.id]))).all()
        assert sorted((t.ref_id == a.matter.id, t.kind) for t in timers) == [
            (False, "matter.expiry"), (False, "matter.warning"), (True, "matter.expiry"), (True, "matter.warning")]
        # Each report's audit entries name its own reporter, whoever ran the transaction.
        entries = audit_since(session, before)
        by_matter = {(e.entity_type, e.entity_id): e.actor for e in entries if e.entity_type == "matters"}
        assert by_matter == {("matters", a.matter.id): first.username, ("matters", b.matter.id): second.username}
        arms = [e for e in entries if e.action == "timer.arm"]
        assert sorted(e.actor for e in arms) == sorted([first.username] * 2 + [second.username] * 2)
        assert json.loads(str(next(e.after for e in entries if e.entity_id == a.matter.id)))["number"] == \
            a.matter.number
        assert verify(session.connection()).ok


def test_concurrent_posts_are_committed_in_groups_and_stay_exact(live_server: LiveServer, engine: Engine,
                                                                 yongzhou: Yongzhou) -> None:
    place = place_in(yongzhou, "431127", 1)
    reporters = [actor(live_server, engine, "grid_worker", place.grid) for _ in range(4)]
    committer = intake.committer(engine)  # the live server's engine: the same database URL
    jobs_before = committer.jobs
    statuses: list[int] = []
    numbers: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def post(n: int) -> None:
        reporter = reporters[n % 4]
        barrier.wait()
        for i in range(5):
            response = reporter.post("/api/v1/matters", {
                "type_code": "SR01", "title": f"并发上报 {n}-{i}", "lng": place.lng + 0.003 * n,
                "lat": place.lat, "channel": "grid_worker"}, headers={"Idempotency-Key": f"group-{n}-{i}"})
            with lock:
                statuses.append(response.status_code)
                numbers.append(response.json().get("number", ""))

    threads = [threading.Thread(target=post, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [201] * 40
    assert len(set(numbers)) == 40
    assert committer.jobs - jobs_before == 40  # every report went through the group commit
    with transaction(engine) as session:
        assert verify(session.connection()).ok
        # The counters kept by the batches equal a recount from the matters table.
        for width in (6, 9, 12):
            stored = figures_repo.rollup_rows(session, width)
            figures_repo.rebuild(session)
            assert figures_repo.rollup_rows(session, width) == stored


# ---------------------------------------------------------------- the group commit itself


def _held_work(started: threading.Event, release: threading.Event) -> Any:
    """A batch's work that signals ``started`` and then holds its transaction open until the test
    sets ``release``: the jobs queued meanwhile must wait for the next batch."""
    def work(session: Session, jobs: list[int]) -> list[int | Exception]:
        session.execute(text("SELECT 1"))
        if 666 in jobs:
            raise RuntimeError("the whole batch fails")
        started.set()
        assert release.wait(30), "the test never released the batch"
        return [ValueError(f"job {j}") if j < 0 else j * 2 for j in jobs]
    return work


def _run_together(group: GroupCommit[int, int], started: threading.Event, release: threading.Event, first: int,
                  jobs: list[int]) -> dict[int, object]:
    """``first`` starts a batch (a caller blocked in ``submit``); ``jobs`` are queued while that
    batch's transaction is held open, and only then is it let go: no sleep decides the batches."""
    results: dict[int, object] = {}

    def outcome(call: Any) -> object:
        try:
            return call()
        except Exception as exc:
            return exc

    started.clear()
    release.clear()
    leader = threading.Thread(target=lambda: results.__setitem__(first, outcome(lambda: group.submit(first))))
    leader.start()
    assert started.wait(30), "the first batch never started"
    futures = {j: group.enqueue(j) for j in jobs}  # queued behind the batch that is being written
    release.set()
    leader.join(30)
    assert not leader.is_alive()
    for j, future in futures.items():
        results[j] = outcome(lambda future=future: future.result(timeout=30))
    return results


def test_group_commit_batches_callers_and_keeps_failures_to_their_own(engine: Engine) -> None:
    started, release = threading.Event(), threading.Event()
    group: GroupCommit[int, int] = GroupCommit(engine, _held_work(started, release))
    try:
        results = _run_together(group, started, release, 1, [2, 3, -4, 5, 7, 8])
        assert {j: results[j] for j in (1, 2, 3, 5, 7, 8)} == {1: 2, 2: 4, 3: 6, 5: 10, 7: 14, 8: 16}
        assert isinstance(results[-4], ValueError)  # a job's own failure goes to its caller alone
        assert (group.batches, group.jobs) == (2, 7)  # the six that queued shared one transaction

        results = _run_together(group, started, release, 10, [11, 666, 12])
        assert {j: results[j] for j in (10, 11, 12)} == {10: 20, 11: 22, 12: 24}
        assert isinstance(results[666], RuntimeError)  # its batch was split; it failed alone
        # 10 alone, then [11, 666, 12] failed as a batch and ran one by one: 11 and 12 committed.
        assert (group.batches, group.jobs) == (5, 10)
    finally:
        release.set()
        group.stop()


def _until(condition: Any, what: str) -> None:
    """Wait for ``condition()`` to hold (another thread gets there), failing after 10 s."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)


def test_fair_lock_serves_waiters_in_arrival_order() -> None:
    lock = FairLock()
    assert lock.acquire()
    order: list[int] = []
    threads = []
    for n in range(6):
        t = threading.Thread(target=lambda n=n: (lock.acquire(), order.append(n), lock.release()))
        t.start()
        threads.append(t)
        # Each waiter is in the queue before the next one asks (the lock's own queue, not a sleep).
        _until(lambda n=n: len(lock._waiters) == n + 1, f"waiter {n} to queue")
    lock.release()
    for t in threads:
        t.join(5)
    assert order == list(range(6))
    assert not lock.locked()
    assert lock.acquire(timeout=0.01)
    assert not lock.acquire(timeout=0.01)  # timing out leaves the lock with its holder
    lock.release()


@pytest.mark.parametrize("key", ["", " ", "x" * 65])
def test_bad_idempotency_keys_are_refused(engine: Engine, yongzhou: Yongzhou, key: str) -> None:
    from civicgrid.kit.errors import Invalid

    place = place_in(yongzhou, "431125", 2)
    user = make_user_committed(engine, role="grid_worker", division_code=place.grid)
    with transaction(engine, write=False) as session, pytest.raises(Invalid) as raised:
        intake.prepare(session, principal_of(session.get_one(User, user.id)), report(place.lng, place.lat), key)
    assert raised.value.details == {"field": "Idempotency-Key"}


def test_group_commit_can_be_switched_off(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from civicgrid.matters import service

    place = place_in(yongzhou, "431127", 3)
    reporter = actor(live_server, engine, "grid_worker", place.grid)
    committer = intake.committer(engine)
    jobs = committer.jobs
    monkeypatch.setenv("CIVICGRID_MATTER_INTAKE_GROUP_COMMIT", "false")
    service.settings.cache_clear()
    try:
        first = reporter.post("/api/v1/matters", {"type_code": "SR01", "title": "单独提交", "lng": place.lng,
                                                  "lat": place.lat, "channel": "grid_worker"},
                              headers={"Idempotency-Key": "alone-1"})
        again = reporter.post("/api/v1/matters", {"type_code": "SR01", "title": "单独提交", "lng": place.lng,
                                                  "lat": place.lat, "channel": "grid_worker"},
                              headers={"Idempotency-Key": "alone-1"})
    finally:
        monkeypatch.delenv("CIVICGRID_MATTER_INTAKE_GROUP_COMMIT")
        service.settings.cache_clear()
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["timeline"][0]["action"] == "report"
    assert committer.jobs == jobs  # written in a transaction of its own


def test_the_answer_is_in_the_callers_language(live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    place = place_in(yongzhou, "431127", 4)
    reporter = actor(live_server, engine, "grid_worker", place.grid)
    names = {lang: {t["code"]: t["name"] for t in reporter.get("/api/v1/matter-types", lang=lang).json()}
             for lang in ("zh-CN", "en")}
    assert names["zh-CN"]["SR01"] != names["en"]["SR01"]
    for lang in ("en", "zh-CN"):  # the writer thread's language is nobody's
        created = reporter.post("/api/v1/matters", {"type_code": "SR01", "title": "语言", "lng": place.lng,
                                                    "lat": place.lat, "channel": "grid_worker"}, lang=lang)
        assert created.status_code == 201
        assert created.json()["type_name"] == names[lang]["SR01"]
    refused = reporter.post("/api/v1/matters", {"type_code": "NOPE", "title": "语言", "lng": place.lng,
                                                "lat": place.lat, "channel": "grid_worker"}, lang="en")
    assert refused.status_code == 422 and "Unknown matter type" in refused.text


def test_a_key_taken_meanwhile_fails_the_group_and_leaves_nothing(db_url: str, engine: Engine,
                                                                  yongzhou: Yongzhou) -> None:
    """PostgreSQL: another process commits a key between this group's check and its insert. The
    group's inserts go in one pipeline round trip; the unique key fails it at the pipeline's end
    as SQLAlchemy's IntegrityError (the group commit then reruns its reports one at a time), and
    nothing of the group, its number counter included, is left behind."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite writers take turns: no other writer can commit inside this transaction")
    place = place_in(yongzhou, "431125", 3)
    user = make_user_committed(engine, role="grid_worker", division_code=place.grid)
    with transaction(engine, write=False) as session:
        principal = principal_of(session.get_one(User, user.id))
    counter = select(func.sum(NumberCounter.last)).where(NumberCounter.series == "matter")
    with transaction(engine, write=False) as session:
        numbers_before = session.scalar(counter)
    with pytest.raises(IntegrityError), transaction(engine) as session:
        set_actor(session, Actor(principal.username, principal.user_id))
        prepared = [intake.prepare(session, principal, report(place.lng, place.lat), "race-a"),
                    intake.prepare(session, principal, report(place.lng, place.lat, title="另一处"), "race-b")]
        with transaction(engine) as other:  # the other process, first to commit "race-a"
            set_actor(other, Actor(principal.username, principal.user_id))
            intake.write(other, [intake.prepare(other, principal, report(place.lng, place.lat), "race-a")])
        intake.write(session, prepared)
    with transaction(engine, write=False) as session:
        keys = set(session.scalars(select(Matter.idempotency_key).where(
            Matter.idempotency_key.in_([f"{user.id}:race-a", f"{user.id}:race-b"]))))
        assert keys == {f"{user.id}:race-a"}  # the other process's, and nothing of the failed group
        assert session.scalar(counter) == (numbers_before or 0) + 1
        assert verify(session.connection()).ok
