"""`delete_all` deletes every match, also where the store refuses one query that large."""

import secrets
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure
from pymongo.results import DeleteResult
from zumik_store.deletion import delete_all
from zumik_store.mongo import Document


class RefusingLargeDeletes:
    """A collection that refuses to delete more than `limit` documents in one query, as
    FerretDB's SQLite backend refuses more than 32,766."""

    def __init__(self, real: AsyncCollection[Document], limit: int) -> None:
        self.real = real
        self.limit = limit
        self.refused = 0

    def find(self, *args: Any, **kwargs: Any) -> AsyncCursor[Document]:
        return self.real.find(*args, **kwargs)

    async def delete_many(self, query: dict[str, Any]) -> DeleteResult:
        if await self.real.count_documents(query) > self.limit:
            self.refused += 1
            raise OperationFailure("SQL logic error: too many SQL variables (1)", code=1)
        return await self.real.delete_many(query)


@pytest.fixture
async def scratch(db: AsyncDatabase[Document]) -> AsyncIterator[AsyncCollection[Document]]:
    collection = db[f"test_bulk_{secrets.token_hex(4)}"]
    # Two kinds of documents, interleaved by _id, so the ranges also cover ones to keep.
    await collection.insert_many(
        [{"_id": f"doc_{n:03d}", "kind": "erase" if n % 6 else "keep"} for n in range(60)]
    )
    yield collection
    await collection.drop()


async def test_a_refused_delete_is_done_in_ranges(scratch: AsyncCollection[Document]) -> None:
    refusing = RefusingLargeDeletes(scratch, limit=8)

    deleted = await delete_all(cast(Any, refusing), {"kind": "erase"}, range_size=20)

    assert deleted == 50
    assert refusing.refused >= 2  # the whole query, then ranges of 20 (halved to 10, then 5)
    assert await scratch.count_documents({"kind": "erase"}) == 0
    assert await scratch.count_documents({"kind": "keep"}) == 10


async def test_other_errors_are_not_swallowed(scratch: AsyncCollection[Document]) -> None:
    with pytest.raises(OperationFailure):
        await delete_all(scratch, {"$bogus": 1})
