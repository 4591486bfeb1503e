"""Group commit against the real store: many writers, few commands, each caller its own outcome."""

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, WriteError
from zumik_store.batching import (
    DUPLICATE_KEY,
    MAX_UPDATES_PER_COMMAND,
    InsertBatcher,
    UpdateBatcher,
)
from zumik_store.mongo import Document

WAIT_SECONDS = 10.0


@pytest.fixture
async def scratch(db: AsyncDatabase[Document]) -> AsyncIterator[AsyncCollection[Document]]:
    """A collection of this test's own, dropped afterwards."""
    collection = db[f"batching_{secrets.token_hex(4)}"]
    yield collection
    await collection.drop()


async def _ids(collection: AsyncCollection[Document]) -> set[str]:
    return {str(doc["_id"]) async for doc in collection.find({}, {"_id": 1})}


async def test_concurrent_inserts_all_land_in_fewer_batches(
    scratch: AsyncCollection[Document],
) -> None:
    """The point of the batcher: many writers, few round trips, nothing lost."""
    batcher = InsertBatcher(scratch)
    docs = [{"_id": f"doc-{i:02d}", "n": i} for i in range(50)]

    async with asyncio.timeout(WAIT_SECONDS):
        await asyncio.gather(*(batcher.insert(doc) for doc in docs))

    assert await _ids(scratch) == {str(doc["_id"]) for doc in docs}
    assert await scratch.count_documents({}) == 50
    assert 1 <= batcher.batches_written < len(docs)


async def test_batches_are_capped_at_max_batch(scratch: AsyncCollection[Document]) -> None:
    """Writers queued beyond `max_batch` wait for the next batch instead of being dropped."""
    batcher = InsertBatcher(scratch, max_batch=10)

    async with asyncio.timeout(WAIT_SECONDS):
        await asyncio.gather(*(batcher.insert({"_id": f"doc-{i:02d}"}) for i in range(25)))

    assert await scratch.count_documents({}) == 25
    assert batcher.batches_written == 3  # 10 + 10 + 5


async def test_duplicate_key_fails_only_its_own_caller(
    scratch: AsyncCollection[Document],
) -> None:
    """With `ordered=False`, one duplicate must neither fail nor stop its batch's other writers."""
    await scratch.insert_one({"_id": "taken", "by": "earlier"})
    batcher = InsertBatcher(scratch)
    docs: list[Document] = [{"_id": f"doc-{i}", "n": i} for i in range(8)]
    docs.insert(3, {"_id": "taken", "by": "batch"})  # clashes with a stored document
    docs.insert(6, {"_id": "doc-0", "by": "batch"})  # clashes with a document of this batch

    async with asyncio.timeout(WAIT_SECONDS):
        outcomes = await asyncio.gather(
            *(batcher.insert(doc) for doc in docs), return_exceptions=True
        )

    assert batcher.batches_written == 1  # one batch: the failures and successes were together
    failed = {i: o for i, o in enumerate(outcomes) if o is not None}
    assert sorted(failed) == [3, 6]
    for error in failed.values():
        assert isinstance(error, DuplicateKeyError)
        assert error.code == DUPLICATE_KEY
    assert await _ids(scratch) == {"taken"} | {f"doc-{i}" for i in range(8)}
    assert await scratch.find_one({"_id": "taken"}) == {"_id": "taken", "by": "earlier"}
    assert await scratch.find_one({"_id": "doc-0"}) == {"_id": "doc-0", "n": 0}


async def test_a_lone_insert_is_written_at_once_in_its_own_batch(
    scratch: AsyncCollection[Document],
) -> None:
    """With nobody else waiting, a writer is not held back to wait for company."""
    batcher = InsertBatcher(scratch)

    async with asyncio.timeout(WAIT_SECONDS):
        await batcher.insert({"_id": "alone"})
    assert batcher.batches_written == 1
    assert await _ids(scratch) == {"alone"}

    async with asyncio.timeout(WAIT_SECONDS):
        await batcher.insert({"_id": "next"})
    assert batcher.batches_written == 2
    assert await _ids(scratch) == {"alone", "next"}


async def test_concurrent_updates_all_land_in_small_bulk_writes(
    scratch: AsyncCollection[Document],
) -> None:
    """Updates share bulk writes, never more statements per command than FerretDB can hold."""
    await scratch.insert_many([{"_id": f"doc-{i:02d}", "state": "sending"} for i in range(40)])
    batcher = UpdateBatcher(scratch, max_batch=100)

    async with asyncio.timeout(WAIT_SECONDS):
        await asyncio.gather(
            *(
                batcher.update_one({"_id": f"doc-{i:02d}"}, {"$set": {"state": "delivered"}})
                for i in range(40)
            )
        )

    assert await scratch.count_documents({"state": "delivered"}) == 40
    assert 40 / MAX_UPDATES_PER_COMMAND <= batcher.batches_written < 40


async def test_a_failing_update_fails_its_caller_and_the_others_still_land(
    db: AsyncDatabase[Document], scratch: AsyncCollection[Document]
) -> None:
    """Only the failing caller hears of it. (FerretDB 1.24 stops such a bulk write at the error
    and answers in a shape PyMongo cannot read, so the batcher retries each update alone; the
    failing one then raises PyMongo's parsing error there, a WriteError on MongoDB.)"""
    await scratch.insert_many([{"_id": "text", "n": "not a number"}, {"_id": "number", "n": 1}])
    batcher = UpdateBatcher(scratch)

    async with asyncio.timeout(WAIT_SECONDS):
        outcomes = await asyncio.gather(
            batcher.update_one({"_id": "text"}, {"$inc": {"n": 1}}),
            batcher.update_one({"_id": "number"}, {"$inc": {"n": 1}}),
            return_exceptions=True,
        )

    assert isinstance(outcomes[0], Exception)
    assert outcomes[1] is None
    assert await scratch.find_one({"_id": "number"}) == {"_id": "number", "n": 2}
    assert await scratch.find_one({"_id": "text"}) == {"_id": "text", "n": "not a number"}
    if "ferretdbVersion" not in await db.client.admin.command("buildInfo"):
        assert isinstance(outcomes[0], WriteError)
