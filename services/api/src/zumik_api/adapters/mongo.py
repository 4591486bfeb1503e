"""The MongoDB connection and the indexes every query relies on.

Only what MongoDB 7 and FerretDB both do the same way: single-document writes, unique indexes,
compound indexes. No transactions, TTL or partial indexes (FerretDB has none of them).
"""

from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

DEFAULT_DATABASE = "zumik_support"

Document = dict[str, Any]


def connect(url: str) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(url, tz_aware=True, serverSelectionTimeoutMS=5000)


def database(client: AsyncMongoClient[Document]) -> AsyncDatabase[Document]:
    return client.get_default_database(DEFAULT_DATABASE)


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await db.tickets.create_index([("project_id", ASCENDING), ("_id", DESCENDING)])
    await db.tickets.create_index(
        [("project_id", ASCENDING), ("status", ASCENDING), ("_id", DESCENDING)]
    )
    await db.tickets.create_index([("outbox_at", ASCENDING)])
    await db.tickets.create_index([("project_id", ASCENDING), ("contact_email", ASCENDING)])
    await db.tickets.create_index(
        [
            ("awaiting_team", ASCENDING),
            ("queue_class", ASCENDING),
            ("queue_due", ASCENDING),
            ("created_at", ASCENDING),
            ("_id", ASCENDING),
        ]
    )
    await db.outbox_acks.create_index([("occurred_at", ASCENDING)])
    await db.outbox_acks.create_index([("project_id", ASCENDING)])
    await db.sla_timers.create_index([("check_at", ASCENDING)])
    await db.sla_timers.create_index([("project_id", ASCENDING)])
    await db.api_keys.create_index([("project_id", ASCENDING)])
    await db.idempotency_keys.create_index([("created_at", ASCENDING)])
    await db.idempotency_keys.create_index([("project_id", ASCENDING)])


async def ping(client: AsyncMongoClient[Document]) -> None:
    await client.admin.command("ping")
