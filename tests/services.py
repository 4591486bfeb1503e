"""Where the tests' MongoDB and RabbitMQ come from, in this order:
1. `MONGODB_URL` / `AMQP_URL` when set;
2. testcontainers (MongoDB 7, RabbitMQ) when a Docker engine answers;
3. the local FerretDB and RabbitMQ, which `scripts/services` installs and starts.
"""

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from zumik_contracts.tickets import PLANS

ROOT = Path(__file__).resolve().parents[1]
LOCAL_MONGODB_URL = "mongodb://127.0.0.1:27017/"
LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"

# For an API process under load (the benchmarks, the cluster tests): its per-plan rate limits
# (`RATE_LIMIT_<PLAN>[_WRITES]`, a minute's quota) far above any load there. The limiter stays in
# every request's path, but what is measured is throughput and failover, not the quotas (one
# project at 100 tickets/s is 6,000 writes a minute). An API without these settings ignores them.
UNTHROTTLED = {
    f"RATE_LIMIT_{plan.upper()}{kind}": str(1_000_000_000)
    for plan in PLANS
    for kind in ("", "_WRITES")
}


@dataclass(frozen=True)
class Services:
    mongodb_url: str  # server URL, without a database
    amqp_url: str
    source: str  # "environment", "testcontainers" or "local"


def _docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@contextlib.contextmanager
def _containers() -> Iterator[Services]:
    from testcontainers.mongodb import MongoDbContainer
    from testcontainers.rabbitmq import RabbitMqContainer

    with MongoDbContainer("mongo:7") as mongo, RabbitMqContainer("rabbitmq:3-management") as rabbit:
        params = rabbit.get_connection_params()
        yield Services(
            mongodb_url=mongo.get_connection_url(),
            amqp_url=f"amqp://guest:guest@{params.host}:{params.port}/",
            source="testcontainers",
        )


@contextlib.contextmanager
def resolve() -> Iterator[Services]:
    mongodb_url = os.environ.get("MONGODB_URL")
    amqp_url = os.environ.get("AMQP_URL")
    if mongodb_url and amqp_url:
        yield Services(mongodb_url, amqp_url, "environment")
    elif _docker_answers():
        with _containers() as services:
            yield services
    else:
        subprocess.run([str(ROOT / "scripts" / "services"), "start"], check=True)
        yield Services(LOCAL_MONGODB_URL, LOCAL_AMQP_URL, "local")


def with_database(server_url: str, name: str) -> str:
    """The server URL pointed at database `name`, keeping any query options."""
    base, _, query = server_url.partition("?")
    scheme, _, rest = base.partition("://")
    hosts = rest.split("/", 1)[0]
    return f"{scheme}://{hosts}/{name}" + (f"?{query}" if query else "")
