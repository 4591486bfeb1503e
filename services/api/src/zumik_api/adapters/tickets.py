"""The `Tickets` port on the tickets library (`zumik_tickets`), which owns the documents.

A change is a unit of work: the library's lease and fenced write, with the domain ticket mapped
to and from the library's record. A commit that recorded events hands the outbox it wrote to the
relay (`on_committed`), which publishes it at once. Events enter the outbox without their free
text (subject, message previews) unless the API is configured to include it.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from datetime import datetime

from pymongo.errors import DuplicateKeyError
from zumik_contracts.events import OutboxEntry, TicketEvent, without_text
from zumik_contracts.staff import QueueFilters
from zumik_contracts.tickets import TicketStatus
from zumik_store.lease import LeaseBusy, LeaseLost
from zumik_tickets import queue as ticket_queue
from zumik_tickets.records import TicketRecord
from zumik_tickets.store import TicketStore, TicketWrite

from zumik_api.domain.tickets import Ticket
from zumik_api.service.ports import (
    AlreadyStored,
    Direction,
    InvalidCursor,
    TicketBusy,
    TicketPage,
)

Committed = Callable[[str, list[OutboxEntry]], None]
TraceContext = Callable[[], str | None]
Recorded = Callable[[list[TicketEvent]], None]

_DOMAIN_FIELDS = tuple(f.name for f in fields(Ticket) if f.init)


def ticket_from(record: TicketRecord) -> Ticket:
    return Ticket(**{name: getattr(record, name) for name in _DOMAIN_FIELDS})


def no_trace() -> str | None:
    return None


def not_counted(_: list[TicketEvent]) -> None:
    return None


@dataclass(frozen=True)
class Outboxing:
    """How events enter the outbox: with the request's trace context, text only if wanted;
    `recorded` hears of the events a write stored (metrics)."""

    include_text: bool = False
    traceparent: TraceContext = no_trace
    recorded: Recorded = not_counted

    def entries(self, events: list[TicketEvent]) -> list[OutboxEntry]:
        traceparent = self.traceparent()
        return [
            OutboxEntry(
                event=event if self.include_text else without_text(event), traceparent=traceparent
            )
            for event in events
        ]


class TicketWork:
    """The unit of work of one change (see `service.ports.TicketUnitOfWork`)."""

    def __init__(self, write: TicketWrite, on_committed: Committed, outboxing: Outboxing) -> None:
        self._write = write
        self._on_committed = on_committed
        self._outboxing = outboxing
        self.ticket = ticket_from(write.stored.record)

    async def commit(self) -> None:
        ticket = self.ticket
        if not ticket.changed:
            return
        new_events = self._outboxing.entries(ticket.new_events)
        try:
            outbox = await self._write.save(
                ticket,
                new_messages=ticket.new_messages,
                new_history=ticket.new_history,
                new_events=new_events,
                rewrite_history=ticket.history_trimmed,
            )
        except LeaseLost:  # a newer holder took the ticket over: nothing was written
            raise TicketBusy(ticket.id) from None
        if new_events:
            self._outboxing.recorded(ticket.new_events)
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
        outboxing: Outboxing,
    ) -> None:
        self._store = store
        self._queue = queue
        self._on_committed = on_committed
        self._outboxing = outboxing

    async def add(self, ticket: Ticket) -> None:
        outbox = self._outboxing.entries(ticket.new_events)
        try:
            await self._store.insert(ticket, outbox)
        except DuplicateKeyError:
            raise AlreadyStored(ticket.id) from None
        self._outboxing.recorded(ticket.new_events)
        ticket.mark_saved()
        self._on_committed(ticket.id, outbox)

    async def get(self, ticket_id: str) -> Ticket | None:
        record = await self._store.get(ticket_id)
        return None if record is None else ticket_from(record)

    async def remove(self, ticket_id: str) -> None:
        await self._store.remove(ticket_id)

    @asynccontextmanager
    async def change(self, ticket_id: str) -> AsyncIterator[TicketWork | None]:
        try:
            async with self._store.change(ticket_id) as write:
                yield (
                    None
                    if write is None
                    else TicketWork(write, self._on_committed, self._outboxing)
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
