"""The indexes every ticket query relies on (on MongoDB 7; FerretDB creates them too)."""

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from zumik_store.mongo import Document


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await db.tickets.create_index([("project_id", ASCENDING), ("_id", DESCENDING)])
    await db.tickets.create_index(
        [("project_id", ASCENDING), ("status", ASCENDING), ("_id", DESCENDING)]
    )
    await db.tickets.create_index([("outbox_at", ASCENDING)])
    await db.tickets.create_index([("outbox_minute", ASCENDING), ("outbox_at", ASCENDING)])
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
