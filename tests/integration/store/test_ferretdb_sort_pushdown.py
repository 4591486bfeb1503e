"""FerretDB's SQLite backend reads a find sorted by `_id` alone in the order of the `_id` indexes
and stops after the page (`scripts/ferretdb/sqlite-sort-pushdown.patch`), and still returns exactly
what the same find returns when FerretDB filters and sorts it in Go.

Every find is compared with the same find whose filter is wrapped in a one-element `$or` and whose
sort has a second key, on a field no document has: that means the same, but is never pushed down.
The battery's `_id`s are the ones whose JSON text (what the indexes order) sorts differently from
BSON: strings with a space or `!` after a common prefix, escaped characters, non-ASCII text,
numbers, ObjectIds and 24-hex strings, binary values, documents, booleans, dates.
"""

from datetime import UTC, datetime
from typing import Any

import pytest
from bson import Binary, Int64, ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from zumik_store.mongo import Document

PLAIN = [f"spt_{i:03}" for i in range(40)]
# Per project: its `_id`s, and whether the sort is pushed down for its `{project_id: p}`.
PROJECTS: dict[str, tuple[list[Any], bool]] = {
    # strings whose JSON text sorts as they do
    "plain": (PLAIN, True),
    # strings that look like an ObjectId's or a binary value's JSON text (hex, base64)
    "lookalike": (["650102030405060708090a0b", "abcd", "AAAA", "ab==", "+/+/", "tail"], True),
    # a space or `!` sorts before the closing quote: "ab!" < "ab" as JSON text
    "spaces": (["ab", "ab ", "ab!", "ab !", "ab!c", "ab c", "abc", "ab#", "b"], False),
    # escaped in JSON text: quotes, backslashes, <, >, &, U+2028, control characters
    "escapes": (['q"', "q\\", "q<", "q>", "q&", "q\u2028", "q\t", "q", "qa", "q~"], False),
    # non-ASCII text sorts by its UTF-8 bytes in both; prefixes of each other
    "unicode": (["é", "éa", "e", "ez", "😀", "z", "~", "", "ÿ"], True),
    "objectids": (
        [ObjectId("650102030405060708090a0c"), ObjectId("000000000000000000000001")],
        False,
    ),
    "mixed": (
        [
            "m1",
            "m2",
            "650102030405060708090a0d",
            ObjectId("650102030405060708090a0e"),
            3,
            Int64(4),
            2.5,
            -1,
            True,
            False,
            datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
            Binary(b"abc"),
            {"k": "m3"},
            "m 4",
            "m!5",
        ],
        False,
    ),
    # one document holds the project in an array: the equality also matches it
    "arrays": ([f"arr_{i}" for i in range(5)], False),
}
STATUSES = ["open", "closed", "pending"]


def _documents() -> list[Document]:
    docs: list[Document] = []
    for project, (ids, _) in PROJECTS.items():
        for n, _id in enumerate(ids):
            docs.append({"_id": _id, "project_id": project, "status": STATUSES[n % 3], "n": n})
    docs.append({"_id": "arr_x", "project_id": ["arrays", "other"], "status": "open", "n": 99})
    # an array that does not hold "plain" does not stop its pushdown
    docs.append({"_id": "spt_zzz", "project_id": ["elsewhere"], "status": "open", "n": 98})
    return docs


CURSORS = [
    "spt_020",
    "spt_0",
    "k",
    "ab",
    "ab!",
    "ab ",
    "q",
    "q\\",
    "é",
    "m2",
    "zz",
    "",
    "650102030405060708090a0b",
]


def _filters() -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = []
    for project in PROJECTS:
        filters += [
            {"project_id": project},
            {"project_id": project, "status": "open"},
            {"project_id": project, "n": {"$gte": 3}},
            {"project_id": project, "_id": {"$gte": "ab", "$lt": "spt_030"}},
            {
                "$and": [
                    {"project_id": project},
                    {"_id": {"$gt": "a"}},
                    {"_id": {"$lte": "spt_035"}},
                ]
            },
        ]
    filters += [{"project_id": "plain", "_id": {"$lt": c}} for c in CURSORS]
    filters += [{"project_id": "plain", "status": "closed", "_id": {"$gt": c}} for c in CURSORS]
    filters += [
        {"project_id": p, "_id": {"$lt": c}}
        for p in ("spaces", "escapes", "mixed")
        for c in CURSORS
    ]
    filters += [
        {},
        {"_id": {"$gt": "k"}},
        {"project_id": "none"},
        {"project_id": "plain", "_id": 3},
    ]
    return filters


# (limit, skip, batch size, projection): 0 is no limit; a batch size of 2 makes the driver getMore
VARIANTS: list[tuple[int, int, int, dict[str, int] | None]] = [
    (0, 0, 0, None),
    (1, 0, 0, None),
    (5, 0, 0, {"n": 1}),
    (26, 0, 0, {"project_id": 0}),
    (7, 3, 0, None),
    (0, 2, 2, None),
    (9, 0, 2, {"_id": 1}),
    (5, 4, 2, {"status": 1}),
]


async def _find(
    battery: AsyncCollection[Document],
    query: dict[str, Any],
    sort: list[tuple[str, int]],
    variant: tuple[int, int, int, dict[str, int] | None],
) -> list[Document]:
    limit, skip, batch_size, projection = variant
    cursor = battery.find(query, projection, sort=sort, limit=limit, skip=skip)
    if batch_size:
        cursor = cursor.batch_size(batch_size)
    return [doc async for doc in cursor]


@pytest.fixture
async def battery(own_db: AsyncDatabase[Document]) -> AsyncCollection[Document]:
    """A collection holding the battery, with the list's indexes."""
    collection = own_db.sort_battery
    await collection.create_index([("project_id", ASCENDING), ("_id", DESCENDING)])
    await collection.create_index(
        [("project_id", ASCENDING), ("status", ASCENDING), ("_id", DESCENDING)]
    )
    await collection.insert_many(_documents())
    return collection


@pytest.mark.parametrize("query", _filters(), ids=repr)
async def test_same_pages_as_sorting_in_full(
    battery: AsyncCollection[Document], query: dict[str, Any]
) -> None:
    for order in (ASCENDING, DESCENDING):
        for variant in VARIANTS:
            pushed = await _find(battery, query, [("_id", order)], variant)
            in_full = await _find(
                battery, {"$or": [query]}, [("_id", order), ("no_such_field", 1)], variant
            )
            assert pushed == in_full, (order, variant)


async def test_pages_stop_early_and_continue_with_get_more(
    battery: AsyncCollection[Document],
) -> None:
    """A cursor read two by two gives the whole project in order, and a limit ends it."""
    query = {"project_id": "plain"}
    cursor = battery.find(query, {"_id": 1}).sort("_id", DESCENDING).batch_size(2)
    assert [doc["_id"] async for doc in cursor] == sorted(PLAIN, reverse=True)
    cursor = battery.find(query, {"_id": 1}).sort("_id", ASCENDING).skip(5).limit(7).batch_size(3)
    assert [doc["_id"] async for doc in cursor] == sorted(PLAIN)[5:12]


async def test_explain_tells_when_the_sort_is_pushed_down(
    battery: AsyncCollection[Document],
) -> None:
    if "ferretdbVersion" not in await battery.database.client.admin.command("buildInfo"):
        pytest.skip("FerretDB's explain tells whether the sort was pushed down")

    async def explain(query: dict[str, Any], sort: dict[str, int]) -> Document:
        command = {"find": battery.name, "filter": query, "sort": sort, "limit": 26}
        return await battery.database.command("explain", command)

    for project, (_, pushed) in PROJECTS.items():
        for order in (ASCENDING, DESCENDING):
            explained = await explain({"project_id": project}, {"_id": order})
            assert explained["sortPushdown"] is pushed, (project, order)
            if pushed:
                plan = " ".join(explained["queryPlanner"]["Plan"])
                assert "project_id_1__id_-1" in plan, plan
                assert "TEMP B-TREE" not in plan, plan
    pushed_down: list[dict[str, Any]] = [
        {"project_id": "plain", "status": "open"},
        {"project_id": "plain", "_id": {"$lt": "spt_020"}},
        {"project_id": "plain", "_id": {"$lt": "ab!"}},  # a range it can't push down
    ]
    for query in pushed_down:
        assert (await explain(query, {"_id": DESCENDING}))["sortPushdown"] is True, query
    # the cursor's range is served by the index too
    explained = await explain({"project_id": "plain", "_id": {"$lt": "spt_020"}}, {"_id": -1})
    plan = " ".join(explained["queryPlanner"]["Plan"])
    assert "(<expr>=? AND <expr><?)" in plan, plan
    not_pushed_down: list[tuple[dict[str, Any], dict[str, int]]] = [
        ({"$or": [{"project_id": "plain"}]}, {"_id": DESCENDING}),
        ({}, {"_id": ASCENDING}),
        ({"project_id": "plain"}, {"_id": DESCENDING, "n": 1}),
        ({"project_id": "plain"}, {"n": DESCENDING}),
    ]
    for query, sort in not_pushed_down:
        assert (await explain(query, sort))["sortPushdown"] is False, (query, sort)
