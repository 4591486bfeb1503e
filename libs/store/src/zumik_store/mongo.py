"""The MongoDB client every service creates the same way.

Only what MongoDB 7 and FerretDB both do the same way is used: single-document writes, unique and
compound indexes; no transactions, TTL or partial indexes (FerretDB has none of them).

Every operation has a time limit (`timeoutMS`): a write that cannot finish within it fails
instead of landing later, after the lease that protected it has run out. Callers whose work is
long by nature (an erasure's batch delete on a large collection) pass a longer one, still below
their own leases.
"""

import asyncio
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, ExecutionTimeout, PyMongoError, WTimeoutError

DEFAULT_DATABASE = "zumik_support"
DEFAULT_TIMEOUT_SECONDS = 5.0

Document = dict[str, Any]


def connect(
    url: str, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
) -> AsyncMongoClient[Document]:
    """A client for `url`. Create it inside the running event loop: it is bound to that loop."""
    timeout_ms = round(timeout_seconds * 1000)
    return AsyncMongoClient(
        url,
        tz_aware=True,
        timeoutMS=timeout_ms,
        serverSelectionTimeoutMS=min(timeout_ms, 5000),
    )


def database(client: AsyncMongoClient[Document]) -> AsyncDatabase[Document]:
    """The database the URL names, else `zumik_support`."""
    return client.get_default_database(DEFAULT_DATABASE)


async def ping(client: AsyncMongoClient[Document]) -> None:
    await client.admin.command("ping")


async def answers(client: AsyncMongoClient[Document], timeout_seconds: float = 2.0) -> bool:
    """Whether the store answers a ping in time (a readiness check: never raises)."""
    try:
        async with asyncio.timeout(timeout_seconds):
            await ping(client)
    except Exception:
        return False
    return True


async def is_ferretdb(client: AsyncMongoClient[Document]) -> bool:
    """Whether the server is FerretDB (whose updates are not atomic against concurrent writers)."""
    info = await client.admin.command("buildInfo")
    return "ferretdb" in str(info.get("ferretdb", "")).lower() or "ferretdb" in str(info).lower()


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` says the store is (for now) unreachable or too slow, rather than that the
    operation itself was wrong: retrying later may succeed."""
    if isinstance(error, ConnectionFailure | ExecutionTimeout | WTimeoutError):
        return True
    return isinstance(error, PyMongoError) and bool(getattr(error, "timeout", False))
