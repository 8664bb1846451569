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
