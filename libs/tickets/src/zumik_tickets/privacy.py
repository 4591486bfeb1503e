"""What privacy requests do to tickets: export them, erase a project's, erase one subject's.

Each erasure returns the records it deleted, counted by kind (the privacy service adds up the
counts of every owner). A subject's tickets are deleted under their ticket leases, like any
change; a project's with one query per collection, after its API keys are gone.
"""

import contextlib
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from zumik_contracts.tickets import SupportTicket, public_ticket
from zumik_store.clock import Clock, utc_now
from zumik_store.deletion import delete_all, delete_where_in
from zumik_store.lease import Leases
from zumik_store.mongo import Document

from zumik_tickets.documents import ticket_record

Counts = dict[str, int]

# Held across a batch's delete, which is a collection scan on FerretDB: longer than the API's
# 15 s, so a slow store can't let a lease lapse mid-delete.
ERASURE_LEASE = timedelta(seconds=60)
# Ticket leases are taken for this many tickets at a time, deleted with one `$in`.
LEASE_BATCH = 100
# Enough of a ticket to count what goes with it, without reading the message bodies.
_COUNT_PROJECTION = {"messages.id": 1, "outbox.event.id": 1}


def subject_filter(project_id: str, email: str | None) -> dict[str, Any]:
    """The project's tickets, or only the data subject's (case-insensitively: an address is
    typed in many casings, and erasure must rather catch too much of one person than miss)."""
    query: dict[str, Any] = {"project_id": project_id}
    if email is not None:
        query["contact_email"] = {"$regex": f"^{re.escape(email.strip())}$", "$options": "i"}
    return query


@dataclass
class SubjectErasure:
    counts: Counts = field(default_factory=dict)
    ticket_ids: list[str] = field(default_factory=list)


class TicketPrivacy:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        *,
        lease_wait_seconds: float = 10.0,
        clock: Clock = utc_now,
    ) -> None:
        self._db = db
        self._tickets = db.tickets
        self._leases = Leases(db.ticket_locks, ttl=ERASURE_LEASE, clock=clock)
        self._lease_wait_seconds = lease_wait_seconds

    async def has_subject_data(self, project_id: str) -> bool:
        return await self._tickets.find_one({"project_id": project_id}, {"_id": 1}) is not None

    async def export(
        self, project_id: str, email: str | None, as_of: datetime, *, batch: int = 100
    ) -> AsyncIterator[SupportTicket]:
        """The project's (or the subject's) tickets as the customer sees them, oldest first,
        read with a cursor: memory holds one batch, however many there are."""
        found = self._tickets.find(subject_filter(project_id, email), {"outbox": 0, "history": 0})
        async for doc in found.sort("_id", 1).batch_size(batch):
            yield public_ticket(ticket_record(doc), as_of)

    async def count(self, project_id: str, email: str | None) -> Counts:
        """What erasing the project (or the subject's tickets) would delete of the tickets:
        how many tickets and thread messages (an erasure's dry run)."""
        counts: Counts = {"tickets": 0, "messages": 0}
        async for doc in self._tickets.find(subject_filter(project_id, email), _COUNT_PROJECTION):
            counts["tickets"] += 1
            counts["messages"] += len(doc.get("messages") or [])
        return counts

    async def erase_project(self, project_id: str) -> Counts:
        """Every ticket of the project and what is kept beside them. Call it after the
        project's API keys are gone, so that no new ticket arrives meanwhile."""
        by_project = {"project_id": project_id}
        counts = {"ticket_locks": await self._erase_leases_of(project_id)}
        counts["tickets"] = await delete_all(self._tickets, by_project)
        counts["sla_timers"] = await delete_all(self._db.sla_timers, by_project)
        counts["outbox_acks"] = await delete_all(self._db.outbox_acks, by_project)
        return counts

    async def erase_subject(self, project_id: str, email: str) -> SubjectErasure:
        """The subject's tickets, each deleted under its lease (no API write is half-way
        through one of them); their messages and outbox entries counted first."""
        erasure = SubjectErasure()
        counts = erasure.counts
        found = [
            doc
            async for doc in self._tickets.find(
                subject_filter(project_id, email), _COUNT_PROJECTION
            )
        ]
        for batch in _batched(found, LEASE_BATCH):
            ids = [str(doc["_id"]) for doc in batch]
            async with self._held(ids):
                result = await self._tickets.delete_many(
                    {"_id": {"$in": ids}, "project_id": project_id}
                )
            _add(counts, "tickets", result.deleted_count)
            _add(counts, "messages", sum(len(doc.get("messages") or []) for doc in batch))
            _add(counts, "outbox_events", sum(len(doc.get("outbox") or []) for doc in batch))
            erasure.ticket_ids += ids
        return erasure

    async def erase_traces(self, project_id: str, ticket_ids: Sequence[str]) -> Counts:
        """What is kept beside erased tickets: their SLA timers and outbox acks."""
        of_project = {"project_id": project_id}
        return {
            "sla_timers": await delete_where_in(self._db.sla_timers, of_project, "_id", ticket_ids),
            "outbox_acks": await delete_where_in(
                self._db.outbox_acks, of_project, "ticket_id", ticket_ids
            ),
        }

    async def _erase_leases_of(self, project_id: str) -> int:
        """Leases left on the project's tickets. There are few leases (only writes in flight,
        or left by a crashed API replica) and a ticket is found by `_id` without a scan, so
        this goes from the leases to their tickets."""
        doomed = []
        async for lease in self._leases.collection.find({}, {"_id": 1}):
            ticket = await self._tickets.find_one({"_id": lease["_id"]}, {"project_id": 1})
            if ticket is not None and ticket["project_id"] == project_id:
                doomed.append(lease["_id"])
        if not doomed:
            return 0
        return await delete_all(self._leases.collection, {"_id": {"$in": doomed}})

    @contextlib.asynccontextmanager
    async def _held(self, ticket_ids: Sequence[str]) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for ticket_id in ticket_ids:
                await stack.enter_async_context(
                    self._leases.hold(ticket_id, wait_seconds=self._lease_wait_seconds)
                )
            yield


def _add(counts: Counts, kind: str, number: int) -> None:
    counts[kind] = counts.get(kind, 0) + number


def _batched(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
