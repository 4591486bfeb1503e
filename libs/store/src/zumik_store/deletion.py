"""Deleting every document a query matches, however many there are.

One `delete_many` is the fast path on both stores. FerretDB's SQLite backend, though, deletes the
matches with one SQL statement holding a variable per document, and SQLite refuses statements
with more than 32,766 variables ("too many SQL variables"): neither a project with 100,000
tickets nor an hour of outbox acks at 10 events/s can be deleted in one query there. Then the
matches are read in `_id` order and deleted in `_id` ranges of a bounded size, a range split in
two again if even that is refused. MongoDB never takes that path.
"""

from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure

from zumik_store.mongo import Document

RANGE_SIZE = 25_000
# Values per `$in` (FerretDB scans the collection per query; fewer, larger queries are faster).
IN_BATCH = 1000
_TOO_MANY_VARIABLES = "too many SQL variables"


def _too_many_variables(error: OperationFailure) -> bool:
    return _TOO_MANY_VARIABLES in str(error)


async def delete_all(
    collection: AsyncCollection[Document], query: dict[str, Any], *, range_size: int = RANGE_SIZE
) -> int:
    """Delete every match of `query`; the number deleted."""
    try:
        return (await collection.delete_many(query)).deleted_count
    except OperationFailure as error:
        if not _too_many_variables(error):
            raise
    deleted = 0
    ids: list[Any] = []
    # One pass in `_id` order; deleting what the cursor already returned does not disturb it.
    async for doc in collection.find(query, {"_id": 1}).sort("_id", 1).batch_size(1000):
        ids.append(doc["_id"])
        if len(ids) == range_size:
            deleted += await _delete_range(collection, query, ids)
            ids = []
    if ids:
        deleted += await _delete_range(collection, query, ids)
    return deleted


async def _delete_range(
    collection: AsyncCollection[Document], query: dict[str, Any], ids: list[Any]
) -> int:
    """The matches from the first to the last of `ids` (sorted), split until the store takes it."""
    in_range = {"$and": [query, {"_id": {"$gte": ids[0], "$lte": ids[-1]}}]}
    try:
        return (await collection.delete_many(in_range)).deleted_count
    except OperationFailure as error:
        if not _too_many_variables(error) or len(ids) == 1:
            raise
    middle = len(ids) // 2
    return await _delete_range(collection, query, ids[:middle]) + await _delete_range(
        collection, query, ids[middle:]
    )


async def delete_where_in(
    collection: AsyncCollection[Document],
    query: dict[str, Any],
    field: str,
    values: Sequence[Any],
    *,
    batch: int = IN_BATCH,
) -> int:
    """Delete the matches of `query` whose `field` is one of `values`, `batch` values per query;
    the number deleted."""
    deleted = 0
    for start in range(0, len(values), batch):
        chunk = list(values[start : start + batch])
        deleted += await delete_all(collection, {**query, field: {"$in": chunk}})
    return deleted
