"""Opaque identifiers for everything a client sees (DESIGN.md rule 7)."""

from __future__ import annotations

import os
import time

_RAND_B = (1 << 62) - 1


def new_id() -> str:
    """A time-ordered UUID (version 7, RFC 9562) as 32 hex characters: 48 bits of Unix time in
    milliseconds, then 74 random bits. Opaque to clients like a UUID4, but ids made one after
    another sort together, so an index on an id column grows at its right edge: a group of
    inserts touches a few index pages instead of one random page per row (fewer pages written
    per commit; bench/matters.py)."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits, 74 of them used
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | (rand >> 68) << 64 | 0b10 << 62 | rand & _RAND_B
    return f"{value:032x}"
