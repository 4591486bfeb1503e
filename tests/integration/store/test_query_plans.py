"""The queries of the list, the team's queue, the SLA scheduler and the relay's sweep are served
by indexes.

On MongoDB 7 (whenever one is reachable: MONGODB_URL or testcontainers) `explain()` must show an
index scan and no blocking SORT stage. On FerretDB, whose SQLite backend sorts in Go, its own
`explain` must report the filter pushed down to an index (the scheduler's `check_at` range is
not pushed down there: its documents are tiny, and the test says so).
"""

from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from zumik_contracts.staff import QueueFilters
from zumik_store.mongo import Document
from zumik_tickets.documents import outbox_minute
from zumik_tickets.indexes import ensure_indexes
from zumik_tickets.queue import QUEUE_SORT, encode_cursor, queue_query
from zumik_tickets.store import page_query
from zumik_tickets.timers import due_query

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
PROJECT = "prj_01m8x2v9c4k7q3w5e6r8t0y1z2"
CURSOR = encode_cursor(
    {"queue_class": 0, "queue_due": NOW, "created_at": NOW, "_id": "spt_01m8x2v9c4k7q3w5e6r8t0y1z2"}
)


def _tickets() -> list[Document]:
    docs = []
    for i in range(40):
        docs.append(
            {
                "_id": f"spt_{i:026d}",
                "project_id": PROJECT if i % 2 else "prj_other",
                "status": "open" if i % 3 else "closed",
                "awaiting_team": bool(i % 3),
                "queue_class": i % 2,
                "queue_due": NOW,
                "created_at": NOW,
                "sla_tier": "enterprise",
                "priority": "normal",
                "assignee": None,
                "outbox_at": NOW,
                "outbox_minute": outbox_minute(NOW),
            }
        )
    return docs


LIST_QUERIES = [
    page_query(PROJECT, None, None, "older"),
    page_query(PROJECT, "open", None, "older"),
    page_query(PROJECT, None, "spt_00000000000000000000000020", "older"),
    page_query(PROJECT, "open", "spt_00000000000000000000000020", "newer"),
]
QUEUE_QUERIES = [
    queue_query(QueueFilters(), None, NOW),
    queue_query(QueueFilters(project_id=PROJECT, status="open"), None, NOW),
    queue_query(QueueFilters(tier="enterprise", breached=True), CURSOR, NOW),
    queue_query(QueueFilters(priority="urgent", unassigned=True), CURSOR, NOW),
]


@pytest.fixture
async def store(own_db: AsyncDatabase[Document]) -> AsyncDatabase[Document]:
    await ensure_indexes(own_db)
    await own_db.tickets.insert_many(_tickets())
    await own_db.sla_timers.insert_many(
        [{"_id": f"spt_{i:026d}", "project_id": PROJECT, "check_at": NOW} for i in range(40)]
    )
    return own_db


async def _is_ferretdb(db: AsyncDatabase[Document]) -> bool:
    return "ferretdbVersion" in await db.client.admin.command("buildInfo")


async def _explain(
    db: AsyncDatabase[Document], collection: str, query: Document, sort: Any, limit: int
) -> Document:
    command: Document = {"find": collection, "filter": query, "limit": limit}
    if sort is not None:
        command["sort"] = sort
    return await db.command("explain", command, verbosity="queryPlanner")


def _stages(plan: Any) -> list[str]:
    """Every stage name anywhere in a MongoDB plan (classic or SBE explain format)."""
    found: list[str] = []
    if isinstance(plan, dict):
        if isinstance(plan.get("stage"), str):
            found.append(plan["stage"])
        for value in plan.values():
            found += _stages(value)
    elif isinstance(plan, list):
        for item in plan:
            found += _stages(item)
    return found


def _assert_index_served(explained: Document, query: Document) -> None:
    stages = _stages(explained["queryPlanner"]["winningPlan"])
    assert "IXSCAN" in stages, (query, stages)
    assert "COLLSCAN" not in stages, (query, stages)
    assert "SORT" not in stages, (query, stages)


def _assert_pushed_down(explained: Document, query: Document) -> None:
    assert explained.get("filterPushdown") is True, (query, explained)
    plan = " ".join(explained["queryPlanner"]["Plan"])
    assert "USING INDEX" in plan, (query, plan)


async def test_the_list_and_the_queue_are_index_served(store: AsyncDatabase[Document]) -> None:
    ferretdb = await _is_ferretdb(store)
    pages = [(q, {"_id": order}) for q, order in LIST_QUERIES]
    pages += [(q, dict(QUEUE_SORT)) for q in QUEUE_QUERIES]
    for query, sort in pages:
        explained = await _explain(store, "tickets", query, sort, 21)
        if ferretdb:
            _assert_pushed_down(explained, query)
        else:
            _assert_index_served(explained, query)


async def test_the_schedulers_candidates_are_index_served(store: AsyncDatabase[Document]) -> None:
    if await _is_ferretdb(store):
        pytest.skip(
            "FerretDB does not push ranges down; sla_timers documents are tiny (~60 bytes), and "
            "a pass over 100,000 of them is measured in docs/benchmarks.md"
        )
    query = due_query(NOW)
    _assert_index_served(await _explain(store, "sla_timers", query, None, 0), query)


async def test_the_relays_sweep_reads_a_minute_from_an_index(
    store: AsyncDatabase[Document],
) -> None:
    window = {"$gt": NOW.replace(minute=0), "$lte": NOW}
    query = {"outbox_minute": outbox_minute(NOW), "outbox_at": window}
    explained = await _explain(store, "tickets", query, {"outbox_at": 1}, 1000)
    if await _is_ferretdb(store):
        _assert_pushed_down(explained, query)
    else:
        _assert_index_served(explained, query)
