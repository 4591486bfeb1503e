"""Configuration, read from the environment (and a `.env` file when present)."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from zumik_contracts.tickets import PLANS, Plan

# The console's build output, beside the API in this repository (and in the API's image).
CONSOLE_DIST = Path(__file__).resolve().parents[3] / "console" / "dist"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    mongodb_url: str = "mongodb://127.0.0.1:27017/zumik_support"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    api_host: str = "127.0.0.1"
    api_port: int = 8000

    api_shutdown_timeout_seconds: int = Field(
        default=10,
        gt=0,
        description="On SIGTERM, requests in flight get this long to finish (docker compose's "
        "stop_grace_period is longer).",
    )

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

    auth_negative_cache_seconds: float = Field(
        default=0.5,
        ge=0,
        description="How long an unknown key or token is remembered as unknown (guessing keys "
        "costs the guesser, not the store); a key just created works after at most this long.",
    )
    auth_failures_per_minute: int = Field(
        default=20,
        ge=1,
        description="Failed authentications a client address may make per minute (per API "
        "process) before it gets 429.",
    )

    rate_limits_enabled: bool = Field(
        default=True,
        description="Enforce the per-plan rate limits below (and send the `RateLimit` headers). "
        "False leaves the limiter out of every request: no headers, never a 429 for a plan's "
        "limit (for a deployment whose gateway limits instead, or to measure its cost).",
    )
    rate_limit_free: int = Field(default=60, ge=1, description="Requests a minute, free plan.")
    rate_limit_free_writes: int = Field(default=20, ge=1, description="Of which writes.")
    rate_limit_base: int = Field(default=300, ge=1)
    rate_limit_base_writes: int = Field(default=100, ge=1)
    rate_limit_pilot: int = Field(default=1_200, ge=1)
    rate_limit_pilot_writes: int = Field(default=400, ge=1)
    rate_limit_enterprise: int = Field(default=3_000, ge=1)
    rate_limit_enterprise_writes: int = Field(default=1_000, ge=1)
    rate_limit_sync_seconds: float = Field(
        default=0.25,
        gt=0,
        description="How often each API process shares its rate-limit counts through the store.",
    )

    console_dir: Path = Field(
        default=CONSOLE_DIST, description="The built console (`npm run build` writes it)."
    )
    console_session_hours: float = Field(
        default=12.0, gt=0, description="A console session ends this long after sign-in."
    )
    console_idle_minutes: float = Field(
        default=30.0, gt=0, description="A console session ends after this long unused."
    )

    events_include_text: bool = Field(
        default=False,
        description="Put ticket subjects and message previews into the events on zumik.support. "
        "Off by default: text that reached a consumer's queue is beyond the reach of privacy "
        "erasure (docs/privacy.md).",
    )

    files_max_bytes: int = Field(
        default=25 * 1024 * 1024,
        ge=1,
        description="The largest file an upload may be (25 MiB); larger ones get 413.",
    )
    files_project_quota_bytes: int = Field(
        default=1024 * 1024 * 1024,
        ge=1,
        description="What a project's files may take together (1 GiB); an upload past it gets 413.",
    )
    files_max_concurrent_scrubs: int = Field(
        default=2,
        ge=1,
        description="HAR uploads one API process scrubs at once (each may take about 100 MB at "
        "its peak); the others wait their turn.",
    )
    files_unattached_hours: float = Field(
        default=24.0,
        gt=0,
        description="A file no message took within this long of its upload is deleted.",
    )

    sla_scheduler_enabled: bool = True
    sla_scheduler_every_seconds: float = 15.0

    business_timezone: str = "UTC"
    business_hours: str = "mon-fri 09:00-17:00"
    business_holidays: str = ""


def plan_limits(settings: Settings) -> dict[Plan, tuple[int, int]]:
    """Each plan's (requests, writes) a minute."""
    return {
        plan: (
            getattr(settings, f"rate_limit_{plan}"),
            getattr(settings, f"rate_limit_{plan}_writes"),
        )
        for plan in PLANS
    }


@lru_cache
def get_settings() -> Settings:
    return Settings()
