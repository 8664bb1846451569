"""Domain-free helpers: scoping prefixes, language negotiation, clock, errors."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from civicgrid.authz.scoping import in_scope, jurisdiction_prefix
from civicgrid.kit.clock import FakeClock
from civicgrid.kit.errors import AppError, NotFound
from civicgrid.kit.i18n import negotiate
from civicgrid.kit.ids import new_id


@pytest.mark.parametrize(("code", "prefix"), [
    ("430000000000", "43"),
    ("431100000000", "4311"),
    ("431102000000", "431102"),
    ("431102001000", "431102001"),
    ("431102001001", "431102001001"),
    ("431102001001002", "431102001001002"),
])
def test_jurisdiction_prefix(code: str, prefix: str) -> None:
    assert jurisdiction_prefix(code) == prefix


@pytest.mark.parametrize("bad", ["4311", "43110200100x", "", "4311020010011"])
def test_jurisdiction_prefix_refuses_non_codes(bad: str) -> None:
    with pytest.raises(ValueError):
        jurisdiction_prefix(bad)


def test_in_scope() -> None:
    assert in_scope("431102001001002", "431102")
    assert not in_scope("431103001001002", "431102")
    assert not in_scope(None, "4311")


@pytest.mark.parametrize(("header", "lang"), [
    (None, "zh-CN"), ("en-US,en;q=0.9", "en"), ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
    ("fr-FR, en;q=0.5", "en"), ("en;q=0.2, zh;q=0.9", "zh-CN"), ("de", "zh-CN"),
])
def test_negotiate(header: str | None, lang: str) -> None:
    assert negotiate(header) == lang


def test_fake_clock_moves_only_when_told() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = FakeClock(start)
    assert clock.now() == start
    assert clock.advance(timedelta(minutes=5)) == start + timedelta(minutes=5)
    with pytest.raises(ValueError):
        FakeClock(datetime(2026, 1, 1))


def test_error_body_in_both_languages() -> None:
    err = AppError("坐标不在本市范围内", "The location is outside the city", status=422, code="outside_city")
    assert err.body("zh-CN") == {"error": {"code": "outside_city", "message": "坐标不在本市范围内"}}
    assert err.body("en")["error"]["message"] == "The location is outside the city"
    assert NotFound().status == 404


def test_ids_are_time_ordered_uuid7() -> None:
    first = new_id()
    time.sleep(0.002)
    later = [new_id() for _ in range(1000)]
    assert len(set(later)) == 1000  # 74 random bits: no clash
    parsed = uuid.UUID(hex=first)
    assert len(first) == 32 and parsed.version == 7 and parsed.variant == uuid.RFC_4122
    # The first 48 bits are the time in milliseconds: a later id sorts after an earlier one.
    assert all(first < other for other in later)
    assert abs(int(first[:12], 16) - time.time() * 1000) < 5_000
