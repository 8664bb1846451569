"""Fixtures of the supervision tests: the fake clock, set before the Golden Week of 2026."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from civicgrid.kit.clock import Clock, FakeClock, set_clock
from tests.supervision.helpers import cst


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    fake = FakeClock(cst("2026-09-30 21:00"))
    set_clock(fake)
    try:
        yield fake
    finally:
        set_clock(Clock())
