"""Configuration, read from the environment (and a `.env` file when present)."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    mongodb_url: str = "mongodb://127.0.0.1:27017/zumik_support"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    api_host: str = "127.0.0.1"
    api_port: int = 8000

    max_request_bytes: int = Field(default=256 * 1024, description="Larger bodies get 413.")
    idempotency_window_hours: int = 24
    ticket_lock_wait_seconds: float = 5.0
    store_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=10,
        description="The time limit of every MongoDB operation; below the ticket lease (15 s), "
        "so that no write can land after the lease that protected it ran out.",
    )
    auth_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How long an API key's project and plan are reused without a store read. "
        "Plan changes and deleted keys take effect within it; keep it below privacy erasure's "
        "settle pause (PRIVACY_ERASE_SETTLE_SECONDS).",
    )

    sla_scheduler_enabled: bool = True
    sla_scheduler_every_seconds: float = 15.0

    business_timezone: str = "UTC"
    business_hours: str = "mon-fri 09:00-17:00"
    business_holidays: str = ""


@lru_cache
def get_settings() -> Settings:
    return Settings()
