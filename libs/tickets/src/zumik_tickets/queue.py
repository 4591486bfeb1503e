"""The team's support queue: every ticket awaiting the team, across projects.

Order: priority-queue tickets first, then the earliest first-response due time, then the oldest.
Each ticket document carries those sort keys (`queue_class`, `queue_due`), kept current by every
write, so a page is one range query on the compound index
(awaiting_team, queue_class, queue_due, created_at, _id), resumed by an opaque keyset cursor.
"""

import base64
import json
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from zumik_contracts.staff import QueueFilters
from zumik_store.mongo import Document

from zumik_tickets.documents import SUMMARY_PROJECTION, ticket_record
from zumik_tickets.records import Page

QUEUE_SORT = [("queue_class", 1), ("queue_due", 1), ("created_at", 1), ("_id", 1)]


_BAD_CURSOR = "The cursor is not one this API returned."


class InvalidCursor(ValueError):
    pass


def encode_cursor(doc: dict[str, Any]) -> str:
    key = [
        doc["queue_class"],
        doc["queue_due"].isoformat(),
        doc["created_at"].isoformat(),
        doc["_id"],
    ]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, datetime, datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        queue_class, due, created, ticket_id = json.loads(base64.urlsafe_b64decode(padded))
        decoded = (
            int(queue_class),
            datetime.fromisoformat(due),
            datetime.fromisoformat(created),
            str(ticket_id),
        )
    except (ValueError, TypeError, OverflowError) as error:
        raise InvalidCursor(_BAD_CURSOR) from error
    if decoded[0] not in (0, 1) or decoded[1].tzinfo is None or decoded[2].tzinfo is None:
        raise InvalidCursor(_BAD_CURSOR)
    return decoded


def _after(cursor: str) -> dict[str, Any]:
    queue_class, due, created, ticket_id = decode_cursor(cursor)
    return {
        "$or": [
            {"queue_class": {"$gt": queue_class}},
            {"queue_class": queue_class, "queue_due": {"$gt": due}},
            {"queue_class": queue_class, "queue_due": due, "created_at": {"$gt": created}},
            {
                "queue_class": queue_class,
                "queue_due": due,
                "created_at": created,
                "_id": {"$gt": ticket_id},
            },
        ]
    }


def _breached(breached: bool, now: datetime) -> dict[str, Any]:
    late_or_overdue: dict[str, Any] = {
        "$or": [
            {"first_response_late": True},
            {"first_responded_at": None, "queue_due": {"$lte": now}},
        ]
    }
    return late_or_overdue if breached else {"$nor": [late_or_overdue]}


def queue_query(filters: QueueFilters, cursor: str | None, now: datetime) -> dict[str, Any]:
    """The filter of a queue page (sorted by QUEUE_SORT). `awaiting_team` comes first and is
    always an equality at the top level, so that an index (and FerretDB's pushdown) narrows the
    page to the tickets awaiting the team before anything else is looked at."""
    conditions: list[dict[str, Any]] = [{"awaiting_team": True}]
    if filters.status is not None:
        conditions.append({"status": filters.status})
    if filters.tier is not None:
        conditions.append({"sla_tier": filters.tier})
    if filters.project_id is not None:
        conditions.append({"project_id": filters.project_id})
    if filters.priority is not None:
        conditions.append({"priority": filters.priority})
    if filters.unassigned:
        conditions.append({"assignee": None})
    elif filters.assignee is not None:
        conditions.append({"assignee": filters.assignee})
    if filters.breached is not None:
        conditions.append(_breached(filters.breached, now))
    if cursor is not None:
        conditions.append(_after(cursor))
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}


class SupportQueue:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._tickets = db.tickets

    async def page(
        self, filters: QueueFilters, *, limit: int, cursor: str | None, now: datetime
    ) -> Page:
        found = (
            await self._tickets.find(queue_query(filters, cursor, now), SUMMARY_PROJECTION)
            .sort(QUEUE_SORT)
            .limit(limit + 1)
            .to_list(None)
        )
        has_more = len(found) > limit
        next_cursor = encode_cursor(found[limit - 1]) if has_more else None
        return Page([ticket_record(doc) for doc in found[:limit]], has_more, next_cursor)
