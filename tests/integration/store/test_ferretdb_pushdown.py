"""FerretDB's SQLite backend narrows equality filters with the indexes
(`scripts/ferretdb/sqlite-pushdown.patch`), and still returns exactly what each filter matches.

Every filter is compared with the same filter wrapped in a one-element `$or`, which means the
same but is never pushed down: FerretDB evaluates it in Go over the whole collection.
"""

from datetime import UTC, datetime
from typing import Any

import pytest
from bson import Int64, ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from zumik_store.mongo import Document

OID = ObjectId("650102030405060708090a0b")
WHEN = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
STRINGS = ["p1", "p2", 'say "hi"', "back\\slash", "<&>", "\u2028", "é ü 😀", "", "[x", "true"]
# Every kind of value the equality `{f: v}` must tell apart, or match inside an array.
VALUES: list[Any] = [
    *STRINGS,
    str(OID),
    OID,
    True,
    False,
    1,
    Int64(1),
    1.0,
    None,
    WHEN,
    ["p1", "p2"],
    ["p2"],
    [],
    [True],
    [OID],
    [{"g": "p1"}],
    {"g": "p1"},
    {},
]


def _documents() -> list[Document]:
    docs: list[Document] = []
    for i, value in enumerate(VALUES):
        docs.append({"_id": f"a{i:02}", "project_id": value, "status": "open", "n": i})
        docs.append({"_id": f"b{i:02}", "project_id": "p1", "status": value, "n": i})
        docs.append({"_id": f"c{i:02}", "project_id": "p2", "awaiting_team": value, "n": i})
    docs.append({"_id": "none", "n": -1})
    return docs


# Filters of the shapes the pushdown serves: top-level equalities on strings, ObjectIds and
# booleans, `$eq`, `$and`, with any other condition left to Go.
PUSHED: list[dict[str, Any]] = [
    *({"project_id": s} for s in STRINGS),
    {"project_id": str(OID)},
    {"project_id": OID},
    {"project_id": True},
    {"project_id": {"$eq": "p2"}},
    {"project_id": "p1", "status": "open"},
    {"project_id": "p1", "status": True},
    {"project_id": "p1", "_id": {"$lt": "b10"}},
    {"_id": "a01", "project_id": "p2"},
    {"_id": "a01", "project_id": "p1"},
    {"awaiting_team": True},
    {"awaiting_team": False},
    {"awaiting_team": {"$eq": OID}},
    {"$and": [{"awaiting_team": True}, {"project_id": "p2"}, {"n": {"$gte": 0}}]},
    {
        "$and": [
            {"awaiting_team": True},
            {"$or": [{"n": {"$gt": 20}}, {"n": 14, "project_id": "p2"}]},
            {"$nor": [{"status": "closed"}]},
        ]
    },
    {"$and": [{"project_id": "p1"}, {"$and": [{"status": {"$eq": "open"}}]}]},
]
# Filters it leaves to Go: other types, other operators, dotted paths, top-level `$or`.
NOT_PUSHED: list[dict[str, Any]] = [
    {"project_id": 1},
    {"project_id": 1.0},
    {"project_id": None},
    {"project_id": WHEN},
    {"project_id": ["p1", "p2"]},
    {"project_id": {"g": "p1"}},
    {"project_id.g": "p1"},
    {"project_id": {"$in": ["p1", "p2"]}},
    {"project_id": {"$ne": "p1"}},
    {"$or": [{"project_id": "p1"}, {"awaiting_team": True}]},
    {"n": {"$gt": 3}},
]


async def _ids(battery: AsyncCollection[Document], query: dict[str, Any]) -> list[Any]:
    return [doc["_id"] async for doc in battery.find(query, {"_id": 1}).sort("_id", 1)]


async def _explain(battery: AsyncCollection[Document], query: dict[str, Any]) -> dict[str, Any]:
    return await battery.database.command("explain", {"find": battery.name, "filter": query})


@pytest.fixture
async def battery(own_db: AsyncDatabase[Document]) -> AsyncCollection[Document]:
    """A collection holding the battery, with the indexes the API gives its tickets."""
    collection = own_db.pushdown_battery
    await collection.create_index([("project_id", ASCENDING), ("_id", DESCENDING)])
    await collection.create_index(
        [("project_id", ASCENDING), ("status", ASCENDING), ("_id", DESCENDING)]
    )
    queue = ("awaiting_team", "queue_class", "queue_due", "created_at", "_id")
    await collection.create_index([(key, ASCENDING) for key in queue])
    await collection.insert_many(_documents())
    return collection


@pytest.mark.parametrize("query", PUSHED + NOT_PUSHED, ids=repr)
async def test_same_results_as_evaluating_the_filter_in_full(
    battery: AsyncCollection[Document], query: dict[str, Any]
) -> None:
    assert await _ids(battery, query) == await _ids(battery, {"$or": [query]})


async def test_an_equality_keeps_arrays_holding_the_value(
    battery: AsyncCollection[Document],
) -> None:
    index = {repr(v): i for i, v in enumerate(VALUES)}
    in_arrays = [f"a{index[repr(['p1', 'p2'])]:02}"]
    assert await _ids(battery, {"project_id": "p1"}) == sorted(
        [f"a{index[repr('p1')]:02}", *in_arrays, *(f"b{i:02}" for i in range(len(VALUES)))]
    )
    assert await _ids(battery, {"awaiting_team": True}) == [
        f"c{index[repr(True)]:02}",
        f"c{index[repr([True])]:02}",
    ]


async def test_equalities_are_pushed_down_to_the_indexes(
    battery: AsyncCollection[Document],
) -> None:
    if "ferretdbVersion" not in await battery.database.client.admin.command("buildInfo"):
        pytest.skip("FerretDB's explain tells whether the filter was pushed down")

    for query in PUSHED:
        explained = await _explain(battery, query)
        plan = " ".join(explained["queryPlanner"]["Plan"])
        assert explained["filterPushdown"] is True, query
        assert "USING INDEX" in plan, (query, plan)
        assert "SCAN" not in plan, (query, plan)
    for query in NOT_PUSHED + [{"$or": [query]} for query in PUSHED]:
        assert (await _explain(battery, query))["filterPushdown"] is False, query
