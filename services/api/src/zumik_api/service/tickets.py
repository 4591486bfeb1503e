"""Ticket use cases, for the customer and for the Zumik team."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from zumik_contracts.tickets import Priority, TicketStatus

from zumik_api.adapters.locks import TicketLocks
from zumik_api.adapters.outbox import Outbox, OutboxLedger
from zumik_api.adapters.projects import Project
from zumik_api.adapters.sla_timers import SlaTimers
from zumik_api.adapters.tickets import Page, TicketRepository
from zumik_api.clock import Clock
from zumik_api.domain.business_time import BusinessCalendar
from zumik_api.domain.plans import sla_for
from zumik_api.domain.tickets import Ticket


class TicketNotFound(Exception):
    """No such ticket in this project (another project's ticket looks exactly the same)."""


@dataclass(frozen=True)
class StaffUpdate:
    """A team member's change; fields left as None stay as they are."""

    priority: Priority | None = None
    status: TicketStatus | None = None
    assignee: str | None = None
    unassign: bool = False


class TicketService:
    def __init__(
        self,
        repository: TicketRepository,
        locks: TicketLocks,
        timers: SlaTimers,
        ledger: OutboxLedger,
        calendar: BusinessCalendar,
        clock: Clock,
        on_committed: Callable[[str, Outbox], None] = lambda ticket_id, outbox: None,
    ) -> None:
        """`on_committed(ticket_id, outbox)` hears of every write that recorded events."""
        self._repository = repository
        self._locks = locks
        self._timers = timers
        self._ledger = ledger
        self._calendar = calendar
        self._clock = clock
        self._on_committed = on_committed

    async def open(
        self,
        project: Project,
        *,
        subject: str,
        body: str,
        priority: Priority,
        contact_email: str | None,
    ) -> Ticket:
        ticket = Ticket.open(
            project_id=project.id,
            plan_tier=project.plan,
            sla=sla_for(project.plan),
            subject=subject,
            body=body,
            priority=priority,
            contact_email=contact_email,
            now=self._clock(),
            calendar=self._calendar,
        )
        # The timer first: a crash in between leaves a timer without a ticket, which the
        # scheduler drops, never a running clock nobody watches.
        await self._timers.start(ticket.id, ticket.project_id, ticket.next_sla_check)
        outbox = await self._repository.add(ticket)
        self._on_committed(ticket.id, outbox)
        return ticket

    async def get(self, ticket_id: str, project_id: str | None) -> Ticket:
        """The ticket; `project_id` None is the team's view across projects."""
        ticket = await self._repository.get(ticket_id, project_id)
        if ticket is None:
            raise TicketNotFound
        return ticket

    async def reply(self, project_id: str, ticket_id: str, body: str) -> Ticket:
        return await self._change(
            ticket_id, project_id, lambda t: t.reply("customer", body, self._clock())
        )

    async def set_status(self, project_id: str, ticket_id: str, status: TicketStatus) -> Ticket:
        return await self._change(
            ticket_id, project_id, lambda t: t.set_status(status, self._clock())
        )

    async def page(
        self,
        project_id: str,
        *,
        limit: int,
        status: TicketStatus | None,
        cursor: str | None,
        direction: Literal["older", "newer"],
    ) -> Page:
        return await self._repository.page(
            project_id, limit=limit, status=status, cursor=cursor, direction=direction
        )

    async def support_reply(
        self,
        ticket_id: str,
        body: str,
        *,
        by: str,
        internal: bool,
        status: TicketStatus | None,
    ) -> Ticket:
        def change(ticket: Ticket) -> None:
            now = self._clock()
            ticket.reply("support", body, now, internal=internal)
            if status is not None:
                ticket.set_status(status, now, by=by)

        return await self._change(ticket_id, None, change)

    async def staff_update(self, ticket_id: str, update: StaffUpdate, *, by: str) -> Ticket:
        def change(ticket: Ticket) -> None:
            now = self._clock()
            if update.priority is not None:
                ticket.set_priority(update.priority, now, by=by, calendar=self._calendar)
            if update.assignee is not None or update.unassign:
                ticket.assign(update.assignee, now, by=by)
            if update.status is not None:
                ticket.set_status(update.status, now, by=by)

        return await self._change(ticket_id, None, change)

    async def emit_due_sla_events(self, ticket_id: str) -> bool:
        """Record the ticket's due SLA warning/breach events; True when this call recorded any."""
        recorded = False

        def change(ticket: Ticket) -> None:
            nonlocal recorded
            ticket.emit_due_sla_events(self._clock())
            recorded = bool(ticket.new_events)

        try:
            ticket = await self._change(ticket_id, None, change)
        except TicketNotFound:
            await self._timers.drop(ticket_id)  # erased, or its opening never completed
            raise
        # Re-armed even when nothing was recorded: a timer may run early, never late.
        await self._timers.set(ticket.id, ticket.project_id, ticket.next_sla_check)
        return recorded

    async def _save_with_timer(
        self, ticket: Ticket, check_before: datetime | None, kept: Outbox
    ) -> Outbox:
        """Save, keeping the ticket's timer never later than its clock: an earlier check is
        written before the ticket, a later (or no) check after it. The outbox written."""
        check_after = ticket.next_sla_check
        if check_after == check_before:
            return await self._repository.save(ticket, kept)
        earlier = check_after is not None and (check_before is None or check_after < check_before)
        if earlier:
            await self._timers.set(ticket.id, ticket.project_id, check_after)
        outbox = await self._repository.save(ticket, kept)
        if not earlier:
            await self._timers.set(ticket.id, ticket.project_id, check_after)
        return outbox

    async def _change(
        self, ticket_id: str, project_id: str | None, change: Callable[[Ticket], object]
    ) -> Ticket:
        if project_id is not None:
            # Another project's ticket answers 404 before any lease is taken, so lease
            # contention (409) never reveals that a foreign ticket exists.
            await self.get(ticket_id, project_id)
        async with self._locks.hold(ticket_id):
            found = await self._repository.get_for_change(ticket_id, project_id)
            if found is None:
                raise TicketNotFound
            ticket, stored = found
            check_before = ticket.next_sla_check
            change(ticket)
            committed = bool(ticket.new_events)
            kept = stored.events
            if ticket.changed:  # published events leave the outbox with this write
                kept = await self._ledger.unpublished(stored.events, stored.at)
            outbox = await self._save_with_timer(ticket, check_before, kept)
        if committed:
            self._on_committed(ticket.id, outbox)
        return ticket
