"""Fixtures of the people tests: a fake clock the live server shares (same process)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from civicgrid.kit.clock import Clock, FakeClock, set_clock


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    """Freeze time at the real now; the test moves it (15-minute lockouts, 30-minute idle)."""
    fake = FakeClock(datetime.now(UTC))
    set_clock(fake)
    try:
        yield fake
    finally:
        set_clock(Clock())


@pytest.fixture(autouse=True)
def _behind_trusted_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The people tests send X-Forwarded-For, each test from addresses of its own, so that their
    failed logins never throttle each other (or the rest of the suite) on 127.0.0.1."""
    from civicgrid.config import get_settings

    monkeypatch.setattr(get_settings(), "trusted_proxies", "127.0.0.1/32")


def new_address() -> str:
    """A client address no other test uses."""
    import random

    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
