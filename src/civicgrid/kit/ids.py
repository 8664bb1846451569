"""Opaque identifiers for everything a client sees (DESIGN.md rule 7)."""

from __future__ import annotations

import uuid


def new_id() -> str:
    """A random UUID4 as 32 hex characters."""
    return uuid.uuid4().hex
