"""Domain events (issue 14 §5): a hand-off is written in the transaction that causes it and
delivered exactly once — across a kill -9 between commit and delivery, and during delivery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, func, select

from civicgrid.audit.models import AuditEntry
from civicgrid.db import transaction
from civicgrid.events import contracts, service
from civicgrid.events.models import DomainEvent
from civicgrid.kit.ids import new_id
from civicgrid.timers.worker import TimerWorker
from tests.events import consumer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def registered() -> Iterator[None]:
    consumer.register()
    yield
    consumer.unregister()


def _received(engine: Engine, event_id: str) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == consumer.RECEIVED, AuditEntry.entity_id == event_id)) or 0)


def _worker(engine: Engine, **options: object) -> TimerWorker:
    return TimerWorker(engine, kinds=service.consumer_kinds(consumer.EVENT), **options)  # type: ignore[arg-type]


def _publish(engine: Engine, case_id: str, *, fail: bool = False) -> str:
    with transaction(engine) as session:
        event = service.publish(session, consumer.EVENT, entity_type="test_case", entity_id=case_id,
                                division_code="431102001001", case_id=case_id, note="转交调解")
        event_id = event.id
        if fail:
            raise RuntimeError("the causing transaction fails")
    return event_id


def test_published_in_the_transaction_and_delivered_once(engine: Engine) -> None:
    event_id = _publish(engine, new_id())
    worker = _worker(engine)
    assert worker.run_due() == 1
    assert worker.run_due() == 0
    assert _received(engine, event_id) == 1
    with transaction(engine, write=False) as session:
        assert [d.consumer for d in service.deliveries(session, event_id)] == [consumer.CONSUMER]
        assert session.get(DomainEvent, event_id).data["note"] == "转交调解"  # type: ignore[union-attr]


def test_a_rolled_back_transaction_hands_nothing_off(engine: Engine) -> None:
    case_id = new_id()
    with pytest.raises(RuntimeError):
        _publish(engine, case_id, fail=True)
    with transaction(engine, write=False) as session:
        assert session.scalar(select(DomainEvent.id).where(DomainEvent.entity_id == case_id)) is None
    assert _worker(engine).run_due() == 0


def test_payload_must_satisfy_the_contract(engine: Engine) -> None:
    with transaction(engine) as session, pytest.raises(ValidationError):
        service.publish(session, consumer.EVENT, entity_type="t", entity_id="1", division_code=None, case_id="1")
    with transaction(engine) as session, pytest.raises(ValueError, match="no contract"):
        service.publish(session, "nobody.defined_this", entity_type="t", entity_id="1", division_code=None)


def _python(code: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, **env})


def test_kill_9_between_commit_and_delivery(engine: Engine) -> None:
    case_id = new_id()
    code = f"""
import os, signal
from tests.events import consumer
from civicgrid.db import get_engine, transaction
from civicgrid.events import service
consumer.register()
with transaction(get_engine()) as session:
    event = service.publish(session, consumer.EVENT, entity_type="test_case", entity_id="{case_id}",
                            division_code="431102001001", case_id="{case_id}", note="kill -9")
    event_id = event.id
print(event_id, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = _python(code)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err
    event_id = out.strip()
    assert _received(engine, event_id) == 0  # committed, not yet delivered
    worker = _worker(engine)
    assert worker.run_due() == 1
    assert worker.run_due() == 0
    assert _received(engine, event_id) == 1


def test_kill_9_during_delivery(engine: Engine, tmp_path: Path) -> None:
    event_id = _publish(engine, new_id())
    marker = tmp_path / "inside"
    code = """
from tests.events import consumer
from civicgrid.db import get_engine
from civicgrid.events import service
from civicgrid.timers.worker import TimerWorker
consumer.register()
TimerWorker(get_engine(), kinds=service.consumer_kinds(consumer.EVENT), lease_seconds=2).run_due()
"""
    proc = _python(code, HANDOFF_MARKER=str(marker))
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the subprocess never reached the consumer"
        time.sleep(0.05)
    assert marker.read_text() == event_id
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    # Its transaction died with it; once its lease has run out another worker delivers.
    time.sleep(2.5)
    worker = _worker(engine)
    assert worker.run_due() == 1
    assert worker.run_due() == 0
    assert _received(engine, event_id) == 1


def test_contracts_are_published_in_the_docs() -> None:
    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    for spec in contracts.CONTRACTS.values():
        if spec.name == consumer.EVENT:
            continue
        assert f"`{spec.name}`" in text, f"docs/events.md does not describe {spec.name}"
        for field in spec.model.model_fields:
            assert f"`{field}`" in text, f"docs/events.md lacks field {field} of {spec.name}"


def test_docs_tables_match_the_contracts() -> None:
    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    assert contracts.render_markdown() in text, "docs/events.md is out of date: paste render_markdown()"
