"""The hub without a server: after-commit delivery, channel and jurisdiction rules, thread
safety, and the backends that carry messages between processes (PostgreSQL LISTEN/NOTIFY,
Unix datagram sockets beside a SQLite file)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from civicgrid.authz.principal import Principal
from civicgrid.db import transaction
from civicgrid.kit.errors import Invalid
from civicgrid.kit.ids import new_id
from civicgrid.realtime.backends import PostgresBackend, SocketBackend
from civicgrid.realtime.hub import ChannelForbidden, Hub, Subscription

COUNTY = Principal("u-county", "county_user", "county_commander", "431102000000", "431102",
                   frozenset({"realtime.subscribe"}))
VILLAGE = Principal("u-village", "village_user", "village_officer", "431103001001", "431103001001",
                    frozenset({"realtime.subscribe"}))


def publish(engine: Engine, hub: Hub, *, commit: bool = True, channel: str = "division:4311",
            event: str = "matter.changed", data: dict[str, Any] | None = None,
            division_code: str | None = "431102001001") -> None:
    """Publish inside a real transaction that commits or rolls back."""
    class Rollback(Exception):
        pass

    try:
        with transaction(engine) as session:
            hub.publish(session, channel=channel, event=event, data=data or {}, division_code=division_code)
            if not commit:
                raise Rollback
    except Rollback:
        pass


async def next_event(sub: Subscription, timeout: float = 15.0) -> dict[str, Any]:
    return await asyncio.wait_for(sub.queue.get(), timeout)


async def in_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    # Publishing commits in a worker thread, as a request would.
    return await asyncio.to_thread(fn, *args, **kwargs)


def test_only_committed_messages_are_delivered(engine: Engine) -> None:
    hub = Hub()

    async def scenario() -> None:
        sub = hub.attach(COUNTY)
        hub.subscribe(sub, "division:431102")
        await in_thread(publish, engine, hub, commit=False, event="rolled.back")
        await in_thread(publish, engine, hub, event="committed", data={"id": "m1", "n": 1})
        frame = await next_event(sub)
        assert frame == {"type": "event", "channel": "division:431102", "origin": "division:4311",
                         "event": "committed", "data": {"id": "m1", "n": 1}, "division_code": "431102001001",
                         "at": frame["at"]}
        assert sub.queue.empty()

    asyncio.run(scenario())


def test_nothing_is_sent_before_the_commit(engine: Engine) -> None:
    hub = Hub()

    async def scenario() -> None:
        sub = hub.attach(COUNTY)
        hub.subscribe(sub, "division:431102")
        published = threading.Event()
        release = threading.Event()

        def slow_transaction() -> None:
            with transaction(engine) as session:
                hub.publish(session, channel="division:431102", event="late", data={}, division_code="431102")
                published.set()
                release.wait(5)

        worker = asyncio.create_task(asyncio.to_thread(slow_transaction))
        await asyncio.to_thread(published.wait, 5)
        await asyncio.sleep(0.2)
        assert sub.queue.empty()  # published, not yet committed
        release.set()
        await worker
        assert (await next_event(sub))["event"] == "late"

    asyncio.run(scenario())


def test_a_subscriber_only_receives_messages_in_its_jurisdiction(engine: Engine) -> None:
    hub = Hub()

    async def scenario() -> None:
        county = hub.attach(COUNTY)
        village = hub.attach(VILLAGE)
        for sub in (county, village):
            hub.subscribe(sub, "division:4311")  # asks for the whole city …
            hub.subscribe(sub, "entity:matter:m7")
        # … but each only gets its own part of it, whatever channel the message came on.
        await in_thread(publish, engine, hub, event="in-county", division_code="431102003004")
        await in_thread(publish, engine, hub, event="other-county", division_code="431103001001",
                        channel="entity:matter:m7")
        await in_thread(publish, engine, hub, event="other-village", division_code="431103001002")
        await in_thread(publish, engine, hub, event="no-division", division_code=None,
                        channel="entity:matter:m7")
        await in_thread(publish, engine, hub, event="no-division-elsewhere", division_code=None,
                        channel="entity:matter:m8")

        got_county = [(await next_event(county))["event"] for _ in range(2)]
        got_village = [(await next_event(village)) for _ in range(2)]
        assert got_county == ["in-county", "no-division"]
        assert [(f["event"], f["channel"]) for f in got_village] == [
            ("other-county", "entity:matter:m7"), ("no-division", "entity:matter:m7")]
        await asyncio.sleep(0.1)
        assert county.queue.empty() and village.queue.empty()

    asyncio.run(scenario())


def test_channel_rules() -> None:
    hub = Hub()

    async def scenario() -> None:
        sub = hub.attach(COUNTY)
        hub.subscribe(sub, "user:u-county")
        with pytest.raises(ChannelForbidden):
            hub.subscribe(sub, "user:someone-else")
        for bad in ("division:", "division:43x", "entity:matter", "matter:1", "user:", "", "entity:Matter:1"):
            with pytest.raises(Invalid):
                hub.subscribe(sub, bad)
        assert hub.unsubscribe(sub, "user:u-county") is True
        assert hub.unsubscribe(sub, "user:u-county") is False
        hub.detach(sub)
        assert hub.subscriber_count() == 0

    asyncio.run(scenario())


def test_publish_rejects_what_it_could_not_send(engine: Engine) -> None:
    hub = Hub()
    with transaction(engine) as session:
        with pytest.raises(ValueError):
            hub.publish(session, channel="nonsense", event="x", data={}, division_code=None)
        with pytest.raises(TypeError):
            hub.publish(session, channel="division:4311", event="x", data={"obj": object()},
                        division_code="4311")
        with pytest.raises(ValueError):
            hub.publish(session, channel="division:4311", event="x", data={}, division_code="43 11")


def test_delivery_from_many_threads_loses_nothing(engine: Engine) -> None:
    hub = Hub()

    async def scenario() -> None:
        sub = hub.attach(COUNTY)
        hub.subscribe(sub, "division:431102")

        def burst(n: int) -> None:
            for i in range(25):
                # Deliver straight (as a backend does after commit), from several threads at once.
                from civicgrid.realtime.hub import Message

                hub.deliver(Message("division:431102", "tick", {"n": n, "i": i}, "431102", "t"))

        await asyncio.gather(*(asyncio.to_thread(burst, n) for n in range(8)))
        frames = [await next_event(sub) for _ in range(200)]
        assert sorted((f["data"]["n"], f["data"]["i"]) for f in frames) == [
            (n, i) for n in range(8) for i in range(25)]

    asyncio.run(scenario())


def test_a_slow_subscriber_is_marked_overflowed() -> None:
    hub = Hub()

    async def scenario() -> None:
        from civicgrid.realtime.hub import Message

        sub = hub.attach(COUNTY, queue_size=3)
        hub.subscribe(sub, "division:431102")
        for i in range(5):
            hub.deliver(Message("division:431102", "tick", {"i": i}, "431102", "t"))
        await asyncio.sleep(0.1)
        assert sub.overflowed is True

    asyncio.run(scenario())


@pytest.fixture
def pg_hubs(db_url: str) -> Iterator[tuple[Hub, Hub]]:
    if not db_url.startswith("postgresql"):
        pytest.skip("the LISTEN/NOTIFY backend needs PostgreSQL (set CIVICGRID_TEST_DATABASE_URL)")
    channel = f"civicgrid_test_{new_id()[-8:]}"  # not the live server's channel
    hubs = (Hub(PostgresBackend(db_url, channel=channel)), Hub(PostgresBackend(db_url, channel=channel)))
    for hub in hubs:
        hub.start()
    yield hubs
    for hub in hubs:
        hub.stop()


def test_postgres_backend_carries_messages_between_processes(engine: Engine,
                                                             pg_hubs: tuple[Hub, Hub]) -> None:
    """Two hubs stand for two app processes: what one publishes, the other's clients receive."""
    publisher, other = pg_hubs

    async def scenario() -> None:
        far = other.attach(COUNTY)
        near = publisher.attach(COUNTY)
        outside = other.attach(VILLAGE)
        other.subscribe(far, "division:4311")
        other.subscribe(outside, "division:4311")
        publisher.subscribe(near, "division:4311")

        await in_thread(publish, engine, publisher, commit=False, event="rolled.back")
        await in_thread(publish, engine, publisher, event="committed", data={"id": "m1"})
        big = {"id": "m2", "text": "长" * 5000}
        await in_thread(publish, engine, publisher, event="big", data=big)

        for sub in (far, near):
            first, second = await next_event(sub), await next_event(sub)
            assert (first["event"], first["data"]) == ("committed", {"id": "m1"})
            assert (second["event"], second["data"]) == ("big", {"id": "m2", "truncated": True})
        await asyncio.sleep(0.3)
        assert far.queue.empty() and near.queue.empty() and outside.queue.empty()

    asyncio.run(scenario())


@pytest.fixture
def socket_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # Socket paths must stay short (108 bytes): a folder of its own under the temporary directory.
    folder = Path(tempfile.mkdtemp(prefix="cg-rt-"))
    folder.chmod(0o700)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_socket_backend_carries_messages_between_processes(engine: Engine, socket_folder: Path) -> None:
    """SQLite with several processes: what one hub publishes, the other hubs' clients receive —
    hubs in this process, and a real second process sending into the same folder."""
    publisher, other = Hub(SocketBackend(socket_folder)), Hub(SocketBackend(socket_folder))
    for h in (publisher, other):
        h.start()
    # A process that died without cleaning up leaves its socket behind: it is removed on send.
    dead = socket_folder / "99999999-dead.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(str(dead))
    stale.close()
    try:
        async def scenario() -> None:
            far, near, outside = other.attach(COUNTY), publisher.attach(COUNTY), other.attach(VILLAGE)
            for h, sub in ((other, far), (publisher, near), (other, outside)):
                h.subscribe(sub, "division:4311")
            await in_thread(publish, engine, publisher, commit=False, event="rolled.back")
            await in_thread(publish, engine, publisher, event="committed", data={"id": "m1"})
            big = {"id": "m2", "text": "长" * 30_000}
            await in_thread(publish, engine, publisher, event="big", data=big)
            for sub, big_data in ((far, {"id": "m2", "truncated": True}), (near, big)):
                # Over a datagram's limit, the other process gets the notice without its data.
                first, second = await next_event(sub), await next_event(sub)
                assert (first["event"], first["data"]) == ("committed", {"id": "m1"})
                assert (second["event"], second["data"]) == ("big", big_data)
            assert not dead.exists()

            sender = subprocess.run([sys.executable, "-c", (
                "from pathlib import Path\n"
                "from civicgrid.realtime.backends import SocketBackend\n"
                "from civicgrid.realtime.hub import Hub, Message\n"
                f"backend = SocketBackend(Path({str(socket_folder)!r}))\n"
                "backend.send([Message('entity:matter:m3', 'from.child', {'id': 'm3'}, '431102001001', 't')], Hub())\n"
            )], capture_output=True, text=True, timeout=60)
            assert sender.returncode == 0, sender.stderr
            for sub in (far, near):
                frame = await next_event(sub)
                assert (frame["event"], frame["origin"], frame["data"]) == ("from.child", "entity:matter:m3",
                                                                            {"id": "m3"})
            await asyncio.sleep(0.3)
            assert far.queue.empty() and near.queue.empty() and outside.queue.empty()

        asyncio.run(scenario())
    finally:
        for h in (publisher, other):
            h.stop()
    assert not list(socket_folder.glob("*.sock"))  # each hub removed its own socket


def test_socket_backend_refuses_a_folder_others_can_enter(socket_folder: Path) -> None:
    socket_folder.chmod(0o755)
    with pytest.raises(PermissionError, match="0700"):
        Hub(SocketBackend(socket_folder)).start()
