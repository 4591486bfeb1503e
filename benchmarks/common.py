"""The benchmark's environment: where the services are, a throw-away database and RabbitMQ vhost
per benchmark, and the real service processes (API, notifier) started on free loopback ports."""

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from zumik_accounts.projects import Projects
from zumik_idempotency import IdempotencyRecords
from zumik_store import mongo
from zumik_store.mongo import Document
from zumik_tickets.indexes import ensure_indexes as ensure_ticket_indexes
from zumik_tickets.outbox import OutboxLedger

from tests.services import LOCAL_AMQP_URL, LOCAL_MONGODB_URL, UNTHROTTLED

log = logging.getLogger("benchmarks")

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
# The benchmark's own client (seeding, the driver side, explain): no store timeout to speak of, as
# before the services' clients had one. A FerretDB scan of 100,000 tickets takes tens of seconds.
DRIVER_TIMEOUT_SECONDS = 1800.0
# Settings the children must not inherit: a stray key would send real email or webhooks.
_SCRUBBED_ENV = (
    "RESEND_API_KEY",
    "RESEND_BASE_URL",
    "OPS_WEBHOOK_URL",
    "OPS_WEBHOOK_SECRET",
    "SUPPORT_TEAM_EMAIL",
    "NOTIFY_FROM_EMAIL",
)


@dataclass(frozen=True)
class Services:
    """Server URLs (no database, default vhost) and where this run keeps its logs."""

    mongodb_url: str
    amqp_url: str
    log_dir: Path


def services_from_env() -> Services:
    return Services(
        mongodb_url=os.environ.get("MONGODB_URL", LOCAL_MONGODB_URL),
        amqp_url=os.environ.get("AMQP_URL", LOCAL_AMQP_URL),
        log_dir=Path(tempfile.mkdtemp(prefix="zumik_bench_")),
    )


def with_path(url: str, path: str) -> str:
    """The URL with its path (MongoDB database, AMQP vhost) replaced, query kept."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + path, parts.query, ""))


def run_id() -> str:
    return secrets.token_hex(3)


# -- a database per benchmark -----------------------------------------------------------------


def driver_client(url: str) -> AsyncMongoClient[Document]:
    """The benchmark's own client: the services' `connect`, with DRIVER_TIMEOUT_SECONDS."""
    return mongo.connect(url, timeout_seconds=DRIVER_TIMEOUT_SECONDS)


async def ensure_api_indexes(db: AsyncDatabase[Document]) -> None:
    """The indexes the API creates at start-up on the collections the benchmarks seed and
    query (tickets and their satellites, projects and keys, idempotency records), so the store
    has them before anything is seeded; a started API creates them, and any others, itself."""
    await ensure_ticket_indexes(db)
    await Projects(db).ensure_indexes()
    await IdempotencyRecords(db).ensure_indexes()


@dataclass(frozen=True)
class BenchDb:
    url: str
    client: AsyncMongoClient[Document]
    db: AsyncDatabase[Document]


@contextlib.asynccontextmanager
async def bench_database(services: Services, purpose: str) -> AsyncIterator[BenchDb]:
    """A fresh database `zumik_bench_<purpose>_<random>` with the API's indexes, dropped after."""
    name = f"zumik_bench_{purpose}_{run_id()}"
    url = with_path(services.mongodb_url, name)
    client = driver_client(url)
    db = mongo.database(client)
    try:
        await ensure_api_indexes(db)
        yield BenchDb(url, client, db)
    finally:
        with contextlib.suppress(Exception):
            await client.drop_database(name)
        await client.close()


# -- a RabbitMQ vhost per benchmark -----------------------------------------------------------


async def _rabbitmqctl(*args: str) -> bool:
    if shutil.which("rabbitmqctl") is None:
        return False
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl",
        "-q",
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(60):
            _, stderr = await process.communicate()
    except TimeoutError:
        process.kill()
        return False
    if process.returncode != 0:
        log.warning("rabbitmqctl %s failed: %s", args[0], stderr.decode().strip()[:200])
    return process.returncode == 0


@contextlib.asynccontextmanager
async def bench_vhost(services: Services) -> AsyncIterator[str]:
    """An AMQP URL on a fresh vhost (its exchanges and queues vanish with it), deleted after.

    Falls back to the URL's own vhost when the broker cannot be administered from here.
    """
    name = f"zumik_bench_{run_id()}"
    user = urlsplit(services.amqp_url).username or "guest"
    created = await _rabbitmqctl("add_vhost", name)
    if created:
        created = await _rabbitmqctl("set_permissions", "-p", name, user, ".*", ".*", ".*")
    try:
        yield with_path(services.amqp_url, quote(name, safe="")) if created else services.amqp_url
    finally:
        if created:
            await _rabbitmqctl("delete_vhost", name)


# -- service processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def console_script(name: str) -> list[str]:
    """The workspace's entry point: the script `uv run NAME` runs, without re-syncing."""
    script = Path(sys.executable).parent / name
    if script.exists():
        return [str(script)]
    return ["uv", "run", "--project", str(ROOT), "--no-sync", name]


def child_env(overrides: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env.update(overrides)
    return env


def _log_file(log_dir: Path, name: str) -> Path:
    """`log_dir/<name>.log`, its directory made again if something removed it meanwhile."""
    log_dir.mkdir(parents=True, exist_ok=True)
    return log_dir / f"{name}.log"


async def start_process(
    name: str, command: list[str], env: Mapping[str, str], log_dir: Path
) -> asyncio.subprocess.Process:
    """Start a service with its output in `log_dir/<name>.log`, in a directory of its own (so
    no developer `.env` file is read)."""
    with _log_file(log_dir, name).open("ab") as log_file:
        return await asyncio.create_subprocess_exec(
            *command,
            env=child_env(env),
            cwd=log_dir,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )


async def stop_process(process: asyncio.subprocess.Process, grace: float = 15.0) -> None:
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(grace):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()


def log_tail(log_dir: Path, name: str, lines: int = 15) -> str:
    path = log_dir / f"{name}.log"
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class ServiceFailed(RuntimeError):
    pass


async def wait_until(
    ready: Callable[[], Awaitable[bool]],
    process: asyncio.subprocess.Process,
    *,
    what: str,
    within_s: float,
    log_dir: Path,
) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise ServiceFailed(f"{what} exited ({process.returncode}):\n{log_tail(log_dir, what)}")
        with contextlib.suppress(Exception):
            if await ready():
                return
        await asyncio.sleep(0.25)
    raise ServiceFailed(f"{what} not ready after {within_s:.0f} s:\n{log_tail(log_dir, what)}")


def service_log(services: Services, name: str) -> Path:
    """Where `start_process(name, ...)` writes the service's output."""
    return services.log_dir / f"{name}.log"


@contextlib.asynccontextmanager
async def api_server(
    services: Services,
    mongodb_url: str,
    amqp_url: str,
    *,
    scheduler: bool = False,
    rate_limits: bool = True,
    name: str = "api",
) -> AsyncIterator[str]:
    """`zumik-api` on a free loopback port, ready (MongoDB and RabbitMQ reachable); its base URL.

    Its rate limits are on and UNTHROTTLED unless `rate_limits` is False
    (`RATE_LIMITS_ENABLED=false`: no limiter at all). Its output goes to the log `name`.
    """
    port = free_port()
    env = {
        "MONGODB_URL": mongodb_url,
        "AMQP_URL": amqp_url,
        "API_HOST": LOOPBACK,
        "API_PORT": str(port),
        "SLA_SCHEDULER_ENABLED": "true" if scheduler else "false",
        "RATE_LIMITS_ENABLED": "true" if rate_limits else "false",
        **UNTHROTTLED,
    }
    process = await start_process(name, console_script("zumik-api"), env, services.log_dir)
    base_url = f"http://{LOOPBACK}:{port}"
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=5.0) as client:

            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await wait_until(ready, process, what=name, within_s=90, log_dir=services.log_dir)
        yield base_url
    finally:
        await stop_process(process)


@contextlib.asynccontextmanager
async def service_process(
    services: Services, name: str, script: str, env: Mapping[str, str]
) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await start_process(name, console_script(script), env, services.log_dir)
    try:
        yield process
    finally:
        await stop_process(process)


async def wait_for_outbox(db: AsyncDatabase[Document], within_s: float = 120.0) -> int:
    """Wait (bounded) until the API's relay published every pending event; what is left."""
    deadline = time.monotonic() + within_s
    ledger = OutboxLedger(db)
    pending = await ledger.count_unpublished()
    for _ in range(int(within_s) + 1):
        if not pending or time.monotonic() >= deadline:
            break
        await asyncio.sleep(1.0)
        pending = await ledger.count_unpublished()
    return pending
