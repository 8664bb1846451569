"""One Settings class; every option reads from the environment with the ``CIVICGRID_`` prefix."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
# Known to everyone who has read the source: `serve` refuses it outside development.
BUILTIN_SECRET_KEY = "dev-only-secret-change-me-in-production-0123456789"
# 网络安全法 (2017) Art. 21 (三): network logs are kept for no less than six months.
AUDIT_RETENTION_MIN_DAYS = 183


class Settings(BaseSettings):
    """Runtime configuration. See docs/operations.md for every option."""

    model_config = SettingsConfigDict(env_prefix="CIVICGRID_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/civicgrid.sqlite3",
        description="SQLAlchemy URL; sqlite:///path or postgresql+psycopg://user@host/db",
    )
    secret_key: str = Field(
        default=BUILTIN_SECRET_KEY,
        description="Key for token hashing and the keyed hash of personal data lookups",
    )
    secret_key_file: str = Field(
        default="var/secret_key",
        description="Read when secret_key is not set: the key `civicgrid demo` writes (mode 0600)",
    )
    env: str = Field(default="production",
                     description="development lets `serve` run with the built-in secret_key")
    audit_retention_days: int = Field(
        default=365, description="Audit entries older than this may be purged (minimum 183: 网络安全法 Art. 21)")
    pii_key: str = Field(
        default="",
        description="Base64 32-byte key (AES-256-GCM) for personal data at rest; derived from secret_key when empty",
    )
    pii_cipher: Literal["aes-gcm", "sm4-gcm"] = Field(
        default="aes-gcm",
        description="Cipher of new personal-data values: aes-gcm (AES-256-GCM, HMAC-SHA256 lookup hash) or "
                    "sm4-gcm (SM4-GCM, HMAC-SM3 lookup hash; GB/T 39786-2021). Both always decrypt",
    )
    token_idle_minutes: int = 30
    token_max_hours: int = 12
    login_max_failures: int = 5
    login_failure_window_minutes: int = 15
    login_lock_minutes: int = 15
    login_address_max_failures: int = Field(
        default=30, ge=1,
        description="Failed logins from one client address within the failure window before it gets 429")
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed (none by default)")
    max_body_bytes: int = 10 * 1024 * 1024
    timer_poll_seconds: float = 1.0
    timer_lease_seconds: int = 60
    timer_retention_days: int = Field(default=90, ge=0,
                                      description="Finished timers older than this are deleted (0: kept for ever)")
    run_timer_worker: bool = True
    realtime_backend: str = Field(default="auto",
                                  description="auto | memory | postgres (LISTEN/NOTIFY across processes)")
    city_dir: str = Field(
        default="",
        description="Directory of the city's city.json and reference data (civicgrid.city); empty: Yongzhou's, shipped")
    static_dir: str = Field(default=str(PACKAGE_DIR / "static"), description="Built web console")
    default_language: str = "zh-CN"
    write_lock_timeout_seconds: float = Field(
        default=10.0, gt=0,
        description="SQLite: how long a write waits for its turn before answering 503 with Retry-After")
    tls_certfile: str = Field(default="", description="PEM certificate (chain) for HTTPS; empty: plain HTTP")
    tls_keyfile: str = Field(default="", description="PEM private key of tls_certfile")
    inbox_channels: str = Field(default="websocket,log",
                                description="Delivery channels behind the inbox, comma-separated: websocket, log")
    inbox_repush_seconds: int = Field(default=15, ge=1,
                                      description="An unacknowledged item is re-pushed this long after it was sent")
    inbox_raise_seconds: int = Field(default=60, ge=1,
                                     description="…and raised to a supervisor this long after it was sent")
    response_config: str = Field(default="", description="Rapid response parameters (JSON: ETA speeds and detour "
                                 "factors, cross-border distance, ring rules); empty: the shipped response.json")
    response_track_flush_seconds: float = Field(default=2.0, gt=0,
                                                description="Unit positions are written as a track batch this often")
    response_track_retention_days: int = Field(default=90, ge=1,
                                               description="Unit position tracks older than this are purged")
    response_simulator: bool = Field(default=False, description="Run the rapid-response simulator in this process "
                                     "(demo: incidents, dispatch and moving demo units; `civicgrid demo` turns it on)")
    response_simulator_per_day: float = Field(default=480.0, ge=0, description="Simulated incidents per day, city-wide "
                                              "on average (spread over the hours of a day)")
    response_simulator_tick_seconds: float = Field(default=2.0, gt=0,
                                                   description="How often the simulator moves its units")
    office_hours: str = Field(default="08:30-12:00,14:30-17:30",
                              description="Office periods of a working day (Asia/Shanghai) for working-hour limits")

    @field_validator("audit_retention_days")
    @classmethod
    def _statutory_minimum(cls, days: int) -> int:
        if days < AUDIT_RETENTION_MIN_DAYS:
            raise ValueError(
                f"CIVICGRID_AUDIT_RETENTION_DAYS={days}：审计日志至少保留 {AUDIT_RETENTION_MIN_DAYS} 天"
                f"（《网络安全法》第二十一条第（三）项：网络日志留存不少于六个月） / audit entries must be kept at "
                f"least {AUDIT_RETENTION_MIN_DAYS} days (Cybersecurity Law Art. 21 (3): network logs are kept "
                "no less than six months)")
        return days

    @model_validator(mode="after")
    def _secret_from_file(self) -> Settings:
        """No key configured: use the one `civicgrid demo` generated, when there is one."""
        if self.secret_key == BUILTIN_SECRET_KEY:
            path = Path(self.secret_key_file)
            if path.is_file():
                key = path.read_text(encoding="utf-8").strip()
                if key:
                    self.secret_key = key
        return self

    @property
    def uses_builtin_secret(self) -> bool:
        """Whether the key is the one shipped in the source (anyone can forge tokens with it)."""
        return self.secret_key == BUILTIN_SECRET_KEY

    @property
    def is_development(self) -> bool:
        return self.env.strip().lower() == "development"

    @property
    def audit_retention(self) -> timedelta:
        """How long audit entries are kept at least."""
        return timedelta(days=self.audit_retention_days)

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
