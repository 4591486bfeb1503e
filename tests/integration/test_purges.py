"""The periodic purges (FerretDB has no TTL indexes): each deletes what is past its retention,
and only that."""

from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase
from zumik_deliveries.log import COLLECTION, DeliveryLog
from zumik_idempotency import IdempotencyRecords
from zumik_store.mongo import Document
from zumik_tickets.outbox import ACK_RETENTION, OutboxLedger

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


async def _ids(db: AsyncDatabase[Document], collection: str) -> set[str]:
    return {str(doc["_id"]) async for doc in db[collection].find({}, {"_id": 1})}


async def test_expired_idempotency_keys_go_and_live_ones_stay(
    own_db: AsyncDatabase[Document],
) -> None:
    window = timedelta(hours=24)
    store = IdempotencyRecords(own_db, window=window, clock=lambda: NOW)
    await own_db.idempotency_keys.insert_many(
        [
            {"_id": "expired", "created_at": NOW - window - timedelta(seconds=1)},
            {"_id": "live", "created_at": NOW - window + timedelta(seconds=1)},
        ]
    )
    assert await store.purge_expired() == 1
    assert await _ids(own_db, "idempotency_keys") == {"live"}


async def test_acks_go_an_hour_after_the_watermark_passed_them(
    own_db: AsyncDatabase[Document],
) -> None:
    ledger = OutboxLedger(own_db)
    await ledger.raise_watermark(NOW)
    await own_db.outbox_acks.insert_many(
        [
            {"_id": "evt_old", "occurred_at": NOW - ACK_RETENTION - timedelta(seconds=1)},
            {"_id": "evt_kept", "occurred_at": NOW - ACK_RETENTION + timedelta(seconds=1)},
            {"_id": "evt_new", "occurred_at": NOW + timedelta(seconds=1)},
        ]
    )
    assert await ledger.purge_acks() == 1
    assert await _ids(own_db, "outbox_acks") == {"evt_kept", "evt_new"}


async def test_old_delivery_records_go_and_recent_ones_stay(
    own_db: AsyncDatabase[Document],
) -> None:
    deliveries = DeliveryLog(own_db, lease=timedelta(seconds=30))
    cutoff = NOW - timedelta(days=30)
    await own_db[COLLECTION].insert_many(
        [
            {"_id": "old", "updated_at": cutoff - timedelta(seconds=1)},
            {"_id": "recent", "updated_at": cutoff + timedelta(seconds=1)},
        ]
    )
    assert await deliveries.purge_older_than(cutoff) == 1
    assert await _ids(own_db, COLLECTION) == {"recent"}
