"""Configuration, read from the environment (and a `.env` file when present).

The connection settings share their names and defaults with the API. The tunables specific to the
notifier start with `NOTIFIER_`; tests shrink the retry delays through them.
"""

import base64
import binascii
from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from zumik_messaging.connection import AmqpUrl

WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
DAY_SECONDS = 24 * 3600
# Standard Webhooks secrets are 24 to 64 random bytes; a shorter key is guessable.
MIN_WEBHOOK_KEY_BYTES = 24


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    amqp_url: AmqpUrl = "amqp://guest:guest@127.0.0.1:5672/"  # one node, or all of a cluster
    mongodb_url: str = "mongodb://127.0.0.1:27017/zumik_support"

    # Email through Resend: enabled only when RESEND_API_KEY is set.
    resend_api_key: SecretStr | None = None
    resend_base_url: str = "https://api.resend.com"
    support_team_email: str | None = None
    notify_from_email: str | None = None

    # The ops webhook: enabled only when OPS_WEBHOOK_URL is set. The URL may carry a token, so it
    # is treated as a secret too and never logged.
    ops_webhook_url: SecretStr | None = None
    ops_webhook_secret: SecretStr | None = None

    notifier_max_attempts: int = Field(default=6, ge=1, description="HTTP attempts per channel.")
    notifier_retry_delays: Annotated[list[float], NoDecode] = Field(
        default=[10.0, 40.0, 160.0, 640.0, 2560.0],
        description="Delay levels in seconds (one delay queue each); `10,40,160` or `[10,40]`.",
    )
    notifier_queue_prefix: str = Field(
        default="zumik.notifier", description="Names every queue and exchange the notifier owns."
    )
    notifier_delivery_limit: int = Field(
        default=5, ge=1, description="x-delivery-limit: redeliveries before the broker gives up."
    )
    notifier_dead_letter_ttl_seconds: int = Field(default=7 * DAY_SECONDS, ge=60)
    notifier_http_timeout_seconds: float = Field(default=10.0, gt=0)
    notifier_publish_timeout_seconds: float = Field(default=5.0, gt=0)
    notifier_delivery_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a claimed delivery is left to its worker before another may retry.",
    )
    notifier_prefetch: int = Field(default=32, ge=1)
    notifier_email_prefetch: int = Field(
        default=2, ge=1, description="Resend allows about 2 requests/s; don't flood it."
    )
    notifier_delivery_log_retention_days: int = Field(default=30, ge=1)
    notifier_health_host: str = Field(
        default="127.0.0.1", description="Where /healthz, /readyz and /metrics listen."
    )
    notifier_health_port: int = Field(default=8001, ge=0, le=65535)

    @field_validator(
        "resend_api_key",
        "support_team_email",
        "notify_from_email",
        "ops_webhook_url",
        "ops_webhook_secret",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # docker compose passes `${VAR:-}` as an empty string when the variable is not set.
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("notifier_retry_delays", mode="before")
    @classmethod
    def _parse_delays(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part for part in value.strip().strip("[]").replace(" ", "").split(",") if part]
        return value

    @field_validator("notifier_retry_delays")
    @classmethod
    def _check_delays(cls, value: list[float]) -> list[float]:
        if not value or any(delay <= 0 for delay in value):
            raise ValueError("needs at least one delay level, every one > 0")
        if len({round(delay * 1000) for delay in value}) != len(value):
            raise ValueError("delay levels must differ (at millisecond precision)")
        return sorted(value)

    @model_validator(mode="after")
    def _check_channels(self) -> "Settings":
        if self.resend_api_key is not None and not (
            self.support_team_email and self.notify_from_email
        ):
            raise ValueError("RESEND_API_KEY needs SUPPORT_TEAM_EMAIL and NOTIFY_FROM_EMAIL")
        if self.ops_webhook_url is not None:
            if self.ops_webhook_secret is None:
                raise ValueError("OPS_WEBHOOK_URL needs OPS_WEBHOOK_SECRET (whsec_...)")
            webhook_secret_key(self.ops_webhook_secret.get_secret_value())
        return self

    @property
    def email_enabled(self) -> bool:
        return self.resend_api_key is not None

    @property
    def webhook_enabled(self) -> bool:
        return self.ops_webhook_url is not None


def webhook_secret_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: the base64-decoded part after `whsec_`."""
    encoded = secret.removeprefix(WEBHOOK_SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("OPS_WEBHOOK_SECRET must be whsec_ followed by base64") from None
    if len(key) < MIN_WEBHOOK_KEY_BYTES:
        raise ValueError(
            f"OPS_WEBHOOK_SECRET must hold at least {MIN_WEBHOOK_KEY_BYTES} bytes of key "
            "(e.g. whsec_ followed by the base64 of 32 random bytes)"
        )
    return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
