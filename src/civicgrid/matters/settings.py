"""Options of the matters module (``CIVICGRID_MATTER_*``), read once per process: a module of
their own, so the workflow and the service both read them without importing each other."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MatterSettings(BaseSettings):
    """Options of the matters module (``CIVICGRID_MATTER_*``)."""

    model_config = SettingsConfigDict(env_prefix="CIVICGRID_MATTER_", extra="ignore")

    photo_max_bytes: int = 5 * 1024 * 1024
    intake_group_commit: bool = True
    """Commit reports that arrive together in one transaction (``false``: one each)."""
    spot_check_share: float = Field(0.10, ge=0, le=1)
    """The share of on-the-spot settlements (就地办结) drawn for a supervisor's spot check (抽查)."""
    withdraw_minutes: int = Field(10, ge=0, le=24 * 60)
    """How long after reporting the reporter may withdraw (撤回) a report."""


@lru_cache(maxsize=1)
def settings() -> MatterSettings:
    """Read once per process (the environment does not change under a running server)."""
    return MatterSettings()
