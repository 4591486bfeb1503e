"""ExistenceReads: concurrent existence checks of one document share a read, and a read never
answers a question asked after it started (its answer must stand for a read made afterwards)."""

import asyncio
from typing import Any, cast

import pytest
from pymongo.asynchronous.collection import AsyncCollection
from zumik_store.batching import ExistenceReads
from zumik_store.mongo import Document


class ControlledCollection:
    """`find_one` by `_id` over a set of ids; each read blocks until the test releases it."""

    def __init__(self, ids: set[str]) -> None:
        self.ids = ids
        self.started: asyncio.Queue[str] = asyncio.Queue()
        self.release = asyncio.Event()
        self.fail_with: Exception | None = None

    async def find_one(self, query: Document, projection: Document) -> Document | None:
        document_id = query["_id"]
        await self.started.put(document_id)
        await self.release.wait()
        self.release.clear()
        if self.fail_with is not None:
            raise self.fail_with
        # Answered as of the moment the read completes, like a store would.
        return {"_id": document_id} if document_id in self.ids else None


def reads_of(collection: ControlledCollection) -> ExistenceReads:
    return ExistenceReads(cast(AsyncCollection[Document], cast(Any, collection)))


async def test_concurrent_checks_of_one_document_share_a_read() -> None:
    collection = ControlledCollection({"prj_a"})
    reads = reads_of(collection)
    checks = [asyncio.create_task(reads.exists("prj_a")) for _ in range(10)]
    assert await collection.started.get() == "prj_a"
    collection.release.set()
    assert await asyncio.gather(*checks) == [True] * 10
    assert reads.reads == 1


async def test_a_check_asked_during_a_read_waits_for_the_next_read() -> None:
    """The point: a caller that wrote, then asks, must not get a read begun before it asked."""
    collection = ControlledCollection({"prj_a"})
    reads = reads_of(collection)
    early = asyncio.create_task(reads.exists("prj_a"))
    await collection.started.get()  # the first read is on its way
    collection.ids.discard("prj_a")  # the project is erased meanwhile...
    late = asyncio.create_task(reads.exists("prj_a"))  # ...and this caller asks after
    await asyncio.sleep(0)
    collection.ids.add("prj_a")  # the first read still sees it (it was read before the erasure)
    collection.release.set()
    assert await early is True
    collection.ids.discard("prj_a")
    await collection.started.get()  # a second read, for the late question
    collection.release.set()
    assert await late is False
    assert reads.reads == 2


async def test_different_documents_are_read_side_by_side() -> None:
    collection = ControlledCollection({"prj_a"})
    reads = reads_of(collection)
    checks = [asyncio.create_task(reads.exists(i)) for i in ("prj_a", "prj_b")]
    started = {await collection.started.get(), await collection.started.get()}
    assert started == {"prj_a", "prj_b"}
    collection.release.set()
    await asyncio.sleep(0)
    collection.release.set()
    assert await asyncio.gather(*checks) == [True, False]


async def test_a_failed_read_fails_every_check_it_answers() -> None:
    collection = ControlledCollection({"prj_a"})
    collection.fail_with = ConnectionError("store down")
    reads = reads_of(collection)
    checks = [asyncio.create_task(reads.exists("prj_a")) for _ in range(3)]
    await collection.started.get()
    collection.release.set()
    results = await asyncio.gather(*checks, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    # The next check reads again.
    collection.fail_with = None
    check = asyncio.create_task(reads.exists("prj_a"))
    await collection.started.get()
    collection.release.set()
    assert await check is True


async def test_a_cancelled_caller_leaves_the_others_their_answer() -> None:
    collection = ControlledCollection({"prj_a"})
    reads = reads_of(collection)
    leaving = asyncio.create_task(reads.exists("prj_a"))
    staying = asyncio.create_task(reads.exists("prj_a"))
    await collection.started.get()
    leaving.cancel()
    collection.release.set()
    assert await staying is True
    with pytest.raises(asyncio.CancelledError):
        await leaving
