"""The API as its own process: `zumik-api` on a free loopback port and a throw-away database."""

import asyncio
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

import httpx
from zumik_store import mongo

from tests import services as service_resolution
from tests.browser.support import LiveApi

ROOT = Path(__file__).resolve().parents[2]
READY_WITHIN_SECONDS = 60.0
STOP_WITHIN_SECONDS = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _open_log(path: Path) -> IO[bytes]:
    return path.open("wb")


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class AddressInUse(RuntimeError):
    pass


@contextlib.asynccontextmanager
async def running_api(
    services: service_resolution.Services,
    dist: Path,
    log_path: Path,
    prefix: str,
    env: dict[str, str] | None = None,
) -> AsyncIterator[LiveApi]:
    """`zumik-api` on a free loopback port and a database of its own, ready (`/readyz`) when
    yielded; stopped (SIGTERM, then SIGKILL) and its database dropped afterwards. `env` adds
    to (or overrides) its environment."""
    database_url = service_resolution.with_database(
        services.mongodb_url, f"{prefix}_{secrets.token_hex(4)}"
    )
    client = mongo.connect(database_url)
    db = mongo.database(client)
    try:
        for attempt in range(3):  # another process may take the free port before the API does
            try:
                async with _serving(services, database_url, dist, log_path, env or {}) as url:
                    yield LiveApi(url=url, mongodb_url=database_url, db=db)
                    return
            except AddressInUse:
                if attempt == 2:
                    raise
    finally:
        await client.drop_database(db.name)
        await client.close()


@contextlib.asynccontextmanager
async def _serving(
    services: service_resolution.Services,
    database_url: str,
    dist: Path,
    log_path: Path,
    extra_env: dict[str, str],
) -> AsyncIterator[str]:
    port = _free_port()
    env = (
        os.environ
        | {
            "MONGODB_URL": database_url,
            "AMQP_URL": services.amqp_url,
            "API_HOST": "127.0.0.1",
            "API_PORT": str(port),
            "SLA_SCHEDULER_ENABLED": "false",
            "AUTH_CACHE_SECONDS": "0.05",
            "CONSOLE_DIR": str(dist),
            "PYTHONUNBUFFERED": "1",
        }
        | extra_env
    )
    with _open_log(log_path) as log:
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "zumik-api"),
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            await _wait_ready(url, process, log_path)
            yield url
        finally:
            await _stop(process)


async def _wait_ready(url: str, process: asyncio.subprocess.Process, log_path: Path) -> None:
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    async with httpx.AsyncClient(base_url=url, timeout=2.0) as http:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                output = _tail(log_path)
                if "address already in use" in output.lower():
                    raise AddressInUse(output)
                raise RuntimeError(f"zumik-api exited with {process.returncode}:\n{output}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise TimeoutError(f"zumik-api not ready within {READY_WITHIN_SECONDS} s:\n{_tail(log_path)}")


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_WITHIN_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
