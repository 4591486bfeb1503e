"""The SLA scheduler's work list: one small document per ticket whose clock still runs.

`{_id: ticket id, project_id, check_at}`, where `check_at` is when the ticket's next SLA event
(warning, then breach) falls due. The scheduler asks only this collection what is due, so a pass
reads small documents (FerretDB scans whole collections; on MongoDB the `check_at` index serves
it). The ticket stays the truth: every candidate is re-checked under its lease, and a timer whose
ticket is gone is dropped. Writers keep timers early rather than late (see the API's ticket
service).
"""

import contextlib
from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from zumik_store.batching import InsertBatcher
from zumik_store.mongo import Document


class SlaTimers:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._timers = db.sla_timers
        self._inserts = InsertBatcher(db.sla_timers)

    async def start(self, ticket_id: str, project_id: str, check_at: datetime | None) -> None:
        """The first timer of a new ticket: a plain insert, group-committed with others."""
        if check_at is not None:
            timer = {"_id": ticket_id, "project_id": project_id, "check_at": check_at}
            with contextlib.suppress(DuplicateKeyError):  # a retry of the same opening
                await self._inserts.insert(timer)

    async def set(self, ticket_id: str, project_id: str, check_at: datetime | None) -> None:
        if check_at is None:
            await self.drop(ticket_id)
            return
        await self._timers.replace_one(
            {"_id": ticket_id},
            {"_id": ticket_id, "project_id": project_id, "check_at": check_at},
            upsert=True,
        )

    async def due(self, now: datetime) -> list[str]:
        cursor = self._timers.find(due_query(now), {"_id": 1})
        return [str(doc["_id"]) async for doc in cursor]

    async def drop(self, ticket_id: str) -> None:
        await self._timers.delete_one({"_id": ticket_id})


def due_query(now: datetime) -> Document:
    """The scheduler's candidates: a range on the `check_at` index."""
    return {"check_at": {"$lte": now}}
