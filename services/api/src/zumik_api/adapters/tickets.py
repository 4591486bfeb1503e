"""The `Tickets` port on the tickets library (`zumik_tickets`), which owns the documents.

A change is a unit of work: the library's lease and fenced write, with the domain ticket mapped
to and from the library's record. A commit that recorded events hands the outbox it wrote to the
relay (`on_committed`), which publishes it at once.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import fields
from datetime import datetime

from zumik_contracts.events import OutboxEntry
from zumik_contracts.staff import QueueFilters
from zumik_contracts.tickets import TicketStatus
from zumik_store.lease import LeaseBusy, LeaseLost
from zumik_tickets import queue as ticket_queue
from zumik_tickets.records import TicketRecord
from zumik_tickets.store import TicketStore, TicketWrite

from zumik_api.domain.tickets import Ticket
from zumik_api.service.ports import Direction, InvalidCursor, TicketBusy, TicketPage

Committed = Callable[[str, list[OutboxEntry]], None]
TraceContext = Callable[[], str | None]

_DOMAIN_FIELDS = tuple(f.name for f in fields(Ticket) if f.init)


def ticket_from(record: TicketRecord) -> Ticket:
    return Ticket(**{name: getattr(record, name) for name in _DOMAIN_FIELDS})


def no_trace() -> str | None:
    return None


class TicketWork:
    """The unit of work of one change (see `service.ports.TicketUnitOfWork`)."""

    def __init__(
        self, write: TicketWrite, on_committed: Committed, traceparent: TraceContext
    ) -> None:
        self._write = write
        self._on_committed = on_committed
        self._traceparent = traceparent
        self.ticket = ticket_from(write.stored.record)

    async def commit(self) -> None:
        ticket = self.ticket
        if not ticket.changed:
            return
        traceparent = self._traceparent()
        new_events = [OutboxEntry(event=e, traceparent=traceparent) for e in ticket.new_events]
        try:
            outbox = await self._write.save(
                ticket,
                new_messages=ticket.new_messages,
                new_history=ticket.new_history,
                new_events=new_events,
            )
        except LeaseLost:  # a newer holder took the ticket over: nothing was written
            raise TicketBusy(ticket.id) from None
        ticket.mark_saved()
        if new_events:
            self._on_committed(ticket.id, outbox)


class StoredTickets:
    def __init__(
        self,
        store: TicketStore,
        queue: ticket_queue.SupportQueue,
        *,
        on_committed: Committed,
        traceparent: TraceContext = no_trace,
    ) -> None:
        self._store = store
        self._queue = queue
        self._on_committed = on_committed
        self._traceparent = traceparent

    async def add(self, ticket: Ticket) -> None:
        outbox = [OutboxEntry(event=e, traceparent=self._traceparent()) for e in ticket.new_events]
        await self._store.insert(ticket, outbox)
        ticket.mark_saved()
        self._on_committed(ticket.id, outbox)

    async def get(self, ticket_id: str) -> Ticket | None:
        record = await self._store.get(ticket_id)
        return None if record is None else ticket_from(record)

    @asynccontextmanager
    async def change(self, ticket_id: str) -> AsyncIterator[TicketWork | None]:
        try:
            async with self._store.change(ticket_id) as write:
                yield (
                    None
                    if write is None
                    else TicketWork(write, self._on_committed, self._traceparent)
                )
        except LeaseBusy:
            raise TicketBusy(ticket_id) from None

    async def page(
        self,
        project_id: str,
        *,
        limit: int,
        status: TicketStatus | None,
        cursor: str | None,
        direction: Direction,
    ) -> TicketPage:
        return await self._store.page(
            project_id, limit=limit, status=status, cursor=cursor, direction=direction
        )

    async def queue_page(
        self, filters: QueueFilters, *, limit: int, cursor: str | None, now: datetime
    ) -> TicketPage:
        try:
            return await self._queue.page(filters, limit=limit, cursor=cursor, now=now)
        except ticket_queue.InvalidCursor as error:
            raise InvalidCursor(str(error)) from None
