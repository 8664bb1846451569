"""One Settings class; every option reads from the environment with the ``CIVICGRID_`` prefix."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"


class Settings(BaseSettings):
    """Runtime configuration. See docs/operations.md for every option."""

    model_config = SettingsConfigDict(env_prefix="CIVICGRID_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/civicgrid.sqlite3",
        description="SQLAlchemy URL; sqlite:///path or postgresql+psycopg://user@host/db",
    )
    secret_key: str = Field(
        default="dev-only-secret-change-me-in-production-0123456789",
        description="Key for token hashing and the keyed hash of personal data lookups",
    )
    pii_key: str = Field(
        default="",
        description="Base64 32-byte key (AES-256-GCM) for personal data at rest; derived from secret_key when empty",
    )
    token_idle_minutes: int = 30
    token_max_hours: int = 12
    login_max_failures: int = 5
    login_failure_window_minutes: int = 15
    login_lock_minutes: int = 15
    max_body_bytes: int = 10 * 1024 * 1024
    timer_poll_seconds: float = 1.0
    timer_lease_seconds: int = 60
    timer_retention_days: int = Field(default=90, ge=0,
                                      description="Finished timers older than this are deleted (0: kept for ever)")
    run_timer_worker: bool = True
    realtime_backend: str = Field(default="auto",
                                  description="auto | memory | postgres (LISTEN/NOTIFY across processes)")
    static_dir: str = Field(default=str(PACKAGE_DIR / "static"), description="Built web console")
    default_language: str = "zh-CN"
    inbox_channels: str = Field(default="websocket,log",
                                description="Delivery channels behind the inbox, comma-separated: websocket, log")
    inbox_repush_seconds: int = Field(default=15, ge=1,
                                      description="An unacknowledged item is re-pushed this long after it was sent")
    inbox_raise_seconds: int = Field(default=60, ge=1,
                                     description="…and raised to a supervisor this long after it was sent")
    office_hours: str = Field(default="08:30-12:00,14:30-17:30",
                              description="Office periods of a working day (Asia/Shanghai) for working-hour limits")

    @property
    def timer_retention(self) -> timedelta | None:
        """How long finished timers are kept (None: for ever)."""
        return timedelta(days=self.timer_retention_days) if self.timer_retention_days else None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests clear the cache when they change the environment)."""
    return Settings()
