"""Configuration, read from the environment (and a `.env` file when present).

The connection settings share their names and defaults with the API. The privacy service's own
tunables start with `PRIVACY_`; tests shrink the timings and rename the topology through them.
"""

from functools import lru_cache

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from zumik_contracts.privacy import PRIVACY_EXCHANGE, PRIVACY_QUEUE_PREFIX
from zumik_messaging.connection import AmqpUrl

DAY_SECONDS = 24 * 3600
MIN_SALT_LENGTH = 16


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    mongodb_url: str = "mongodb://127.0.0.1:27017/zumik_support"
    amqp_url: AmqpUrl = "amqp://guest:guest@127.0.0.1:5672/"  # one node, or all of a cluster

    privacy_subject_salt: SecretStr = Field(
        description="Required. Salt of the HMAC that stands for a data subject in receipts and "
        "results (at least 16 characters). Keep it secret and stable: changing it changes "
        "every subject hash, and without it a subject hash could be recomputed by anyone.",
    )

    privacy_exchange: str = Field(
        default=PRIVACY_EXCHANGE, description="The topic exchange commands and results use."
    )
    privacy_queue_prefix: str = Field(
        default=PRIVACY_QUEUE_PREFIX,
        description="Names the queues and the dead-letter exchange the service owns.",
    )
    privacy_delivery_limit: int = Field(
        default=5, ge=1, description="x-delivery-limit: redeliveries before a command is dropped."
    )
    privacy_dead_letter_ttl_seconds: int = Field(
        default=7 * DAY_SECONDS,
        ge=60,
        description="How long a dead-lettered command (which may hold an email) is kept.",
    )
    privacy_retry_backoff_seconds: float = Field(
        default=2.0, ge=0, description="First wait before a failed command is retried; doubles."
    )
    privacy_retry_backoff_max_seconds: float = Field(default=60.0, ge=0)
    privacy_publish_timeout_seconds: float = Field(default=5.0, gt=0)

    privacy_export_retention_hours: float = Field(
        default=24.0, gt=0, description="How long a stored export is kept for download."
    )
    privacy_export_chunk_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=8 * 1024 * 1024,
        description="Size of the stored export's chunks (far below MongoDB's 16 MB documents).",
    )
    privacy_export_cursor_batch: int = Field(
        default=100, ge=1, description="Tickets read from MongoDB per round trip."
    )
    privacy_sweep_every_seconds: float = Field(
        default=300.0, gt=0, description="How often expired exports are deleted."
    )

    privacy_health_host: str = Field(
        default="127.0.0.1", description="Where /healthz, /readyz and /metrics listen."
    )
    privacy_health_port: int = Field(default=8002, ge=0, le=65535)

    privacy_claim_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A command being worked on is left to its worker this long after the "
        "worker's last sign of life; then a redelivery takes it over.",
    )
    privacy_ticket_lock_wait_seconds: float = Field(
        default=10.0, gt=0, description="How long erasure waits for an API write on a ticket."
    )
    privacy_erase_max_passes: int = Field(
        default=20,
        ge=2,
        description="Erasure repeats its sweep until one deletes nothing; this bounds it.",
    )
    privacy_erase_settle_seconds: float = Field(
        default=3.0,
        ge=0,
        description="Pause before erasure's confirming sweep, so an API request that was "
        "already past authentication when erasure started has finished its write. It must "
        "exceed the API's AUTH_CACHE_SECONDS plus the longest write.",
    )

    @field_validator("privacy_subject_salt")
    @classmethod
    def _long_enough(cls, salt: SecretStr) -> SecretStr:
        if len(salt.get_secret_value().strip()) < MIN_SALT_LENGTH:
            raise ValueError(f"must be at least {MIN_SALT_LENGTH} characters")
        return salt

    @property
    def subject_salt(self) -> bytes:
        return self.privacy_subject_salt.get_secret_value().encode()


@lru_cache
def get_settings() -> Settings:
    return Settings()  # the salt comes from the environment
