"""The command line's configuration: where the store and the broker are (the services' names)."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from zumik_contracts.privacy import PRIVACY_EXCHANGE


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    mongodb_url: str = "mongodb://127.0.0.1:27017/zumik_support"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    console_url: str = Field(
        default="http://127.0.0.1:8000/console/",
        description="Where people open the console; sign-in links point there.",
    )
    privacy_exchange: str = Field(
        default=PRIVACY_EXCHANGE, description="Where the privacy service takes its commands."
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
