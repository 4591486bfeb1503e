"""Reading and writing tickets: inserts, reads, list pages, and changes under a lease.

A change takes the ticket's lease (`ticket_locks`, keyed by ticket id), reads the ticket, and
writes it back with one `update_one` whose filter is the `fence` it read: the token of the grant
that wrote it last. The write sets the fence to its own grant's token, so a holder that stalled
past its lease while a newer one committed finds its write refused (`StaleWrite`). The ticket's
published events leave its outbox with that write.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, Literal

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from zumik_contracts.events import OutboxEntry
from zumik_contracts.staff import TicketChange
from zumik_contracts.tickets import ThreadMessage, TicketStatus
from zumik_store.batching import InsertBatcher
from zumik_store.clock import Clock, utc_now
from zumik_store.lease import Grant, LeaseLost, Leases
from zumik_store.mongo import DEFAULT_TIMEOUT_SECONDS, Document

from zumik_tickets.documents import (
    SUMMARY_PROJECTION,
    change_document,
    message_document,
    outbox_entry,
    outbox_fields,
    state_fields,
    ticket_document,
    ticket_record,
)
from zumik_tickets.outbox import OutboxLedger
from zumik_tickets.records import Page, StoredTicket, TicketRecord, TicketState

LEASE_TTL = timedelta(seconds=15)
# Changes of one process waiting for one ticket's lease; more are told at once to retry.
MAX_WAITERS_PER_TICKET = 8


class StaleWrite(LeaseLost):
    """The ticket was written by a newer lease holder since this one read it."""


class TicketWrite:
    """One change of one ticket, under its lease: what was read, and the write that ends it."""

    def __init__(self, store: "TicketStore", grant: Grant, stored: StoredTicket) -> None:
        self._store = store
        self._grant = grant
        self.stored = stored

    async def save(
        self,
        ticket: TicketState,
        *,
        new_messages: list[ThreadMessage],
        new_history: list[TicketChange],
        new_events: list[OutboxEntry],
        rewrite_history: bool = False,
    ) -> list[OutboxEntry]:
        """Write the change; the outbox as written (the unpublished entries kept, then the new
        ones). `rewrite_history`: the history was trimmed, write it whole. Raises StaleWrite when
        a newer holder wrote the ticket meanwhile."""
        history = list(ticket.history) if rewrite_history else None
        return await self._store._save(
            self._grant, self.stored, ticket, new_messages, new_history, new_events, history
        )


class TicketStore:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        ledger: OutboxLedger,
        *,
        clock: Clock = utc_now,
        lease_ttl: timedelta = LEASE_TTL,
        lease_wait_seconds: float = 5.0,
        confirm_leases: bool = True,
        write_timeout: timedelta = timedelta(seconds=DEFAULT_TIMEOUT_SECONDS),
    ) -> None:
        """`confirm_leases`: re-read the lease before each write (FerretDB, whose filtered
        updates are not atomic); a write is refused once less than `write_timeout` is left."""
        self.database = db
        self._tickets = db.tickets
        self._inserts = InsertBatcher(db.tickets)
        self.ledger = ledger
        self.leases = Leases(
            db.ticket_locks, ttl=lease_ttl, clock=clock, max_waiters=MAX_WAITERS_PER_TICKET
        )
        self._lease_wait_seconds = lease_wait_seconds
        self.confirm_leases = confirm_leases
        self._write_timeout = write_timeout

    async def insert(self, ticket: TicketState, outbox: list[OutboxEntry]) -> None:
        """A new ticket with the events of its opening (group-committed with other inserts).
        Raises DuplicateKeyError when a ticket with its id exists: the same request opened it
        before (ids of a retried request are the same)."""
        await self._inserts.insert(ticket_document(ticket, outbox, fence=""))

    async def get(self, ticket_id: str) -> TicketRecord | None:
        doc = await self._tickets.find_one({"_id": ticket_id}, {"outbox": 0})
        return None if doc is None else ticket_record(doc)

    async def remove(self, ticket_id: str) -> None:
        """Delete a ticket that must not stay (opened while its project was being erased)."""
        await self._tickets.delete_one({"_id": ticket_id})
        await self.database.sla_timers.delete_one({"_id": ticket_id})

    async def project_of(self, ticket_id: str) -> str | None:
        doc = await self._tickets.find_one({"_id": ticket_id}, {"project_id": 1})
        return None if doc is None else str(doc["project_id"])

    @asynccontextmanager
    async def change(self, ticket_id: str) -> AsyncIterator[TicketWrite | None]:
        """Hold the ticket's lease and read it; None when there is no such ticket."""
        async with self.leases.hold(ticket_id, wait_seconds=self._lease_wait_seconds) as grant:
            doc = await self._tickets.find_one({"_id": ticket_id})
            if doc is None:
                yield None
                return
            stored = StoredTicket(
                ticket_record(doc),
                [outbox_entry(e) for e in doc.get("outbox", ())],
                doc.get("outbox_at"),
                doc.get("fence"),
            )
            yield TicketWrite(self, grant, stored)

    async def _save(
        self,
        grant: Grant,
        stored: StoredTicket,
        ticket: TicketState,
        new_messages: list[ThreadMessage],
        new_history: list[TicketChange],
        new_events: list[OutboxEntry],
        whole_history: list[TicketChange] | None,
    ) -> list[OutboxEntry]:
        # Published events leave the outbox with this write.
        kept = await self.ledger.unpublished(stored.outbox, stored.outbox_at)
        if self.confirm_leases:
            await self.leases.confirm(grant, margin=self._write_timeout)
        outbox = outbox_fields(kept, new_events)
        fields = {**state_fields(ticket), **outbox, "fence": grant.token}
        if whole_history is not None:
            fields["history"] = [change_document(c) for c in whole_history]
            new_history = []
        update: dict[str, Any] = {"$set": fields}
        pushes = {
            "messages": [message_document(m) for m in new_messages],
            "history": [change_document(c) for c in new_history],
        }
        if any(pushes.values()):
            update["$push"] = {name: {"$each": items} for name, items in pushes.items() if items}
        result = await self._tickets.update_one({"_id": ticket.id, "fence": stored.fence}, update)
        if result.matched_count == 0:
            raise StaleWrite(ticket.id)
        return [*kept, *new_events]

    async def page(
        self,
        project_id: str,
        *,
        limit: int,
        status: TicketStatus | None,
        cursor: str | None,
        direction: Literal["older", "newer"],
    ) -> Page:
        """A page of one project's ticket summaries, newest first, by a range on `_id`.

        Ticket ids start with their creation time, so `_id` order is creation order.
        """
        query, order = page_query(project_id, status, cursor, direction)
        found = (
            await self._tickets.find(query, SUMMARY_PROJECTION)
            .sort("_id", order)
            .limit(limit + 1)
            .to_list(None)
        )
        items = [ticket_record(doc) for doc in found[:limit]]
        if direction == "newer":
            items.reverse()
        return Page(items=items, has_more=len(found) > limit)


def page_query(
    project_id: str,
    status: TicketStatus | None,
    cursor: str | None,
    direction: Literal["older", "newer"],
) -> tuple[dict[str, Any], int]:
    """The filter and `_id` order of a list page: equalities on the project (and status) that an
    index serves, then a range on `_id` after the cursor."""
    query: dict[str, Any] = {"project_id": project_id}
    if status is not None:
        query["status"] = status
    if cursor is not None:
        query["_id"] = {"$lt" if direction == "older" else "$gt": cursor}
    return query, DESCENDING if direction == "older" else ASCENDING
