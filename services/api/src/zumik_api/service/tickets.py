"""The customer's ticket use cases."""

from collections.abc import Callable
from typing import Literal

from zumik_contracts.tickets import Priority, TicketStatus

from zumik_api.adapters.locks import TicketLocks
from zumik_api.adapters.projects import Project
from zumik_api.adapters.tickets import Page, TicketRepository
from zumik_api.clock import Clock
from zumik_api.domain.business_time import BusinessCalendar, first_response_due_at
from zumik_api.domain.plans import sla_for
from zumik_api.domain.tickets import Ticket


class TicketNotFound(Exception):
    """No such ticket in this project (another project's ticket looks exactly the same)."""


class TicketService:
    def __init__(
        self,
        repository: TicketRepository,
        locks: TicketLocks,
        calendar: BusinessCalendar,
        clock: Clock,
        on_committed: Callable[[str], None] = lambda ticket_id: None,
    ) -> None:
        self._repository = repository
        self._locks = locks
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
        now = self._clock()
        sla = sla_for(project.plan)
        ticket = Ticket.open(
            project_id=project.id,
            plan_tier=project.plan,
            sla=sla,
            subject=subject,
            body=body,
            priority=priority,
            contact_email=contact_email,
            now=now,
            first_response_due_at=first_response_due_at(sla.tier, priority, now, self._calendar),
        )
        await self._repository.add(ticket)
        self._on_committed(ticket.id)
        return ticket

    async def get(self, project_id: str, ticket_id: str) -> Ticket:
        ticket = await self._repository.get(project_id, ticket_id)
        if ticket is None:
            raise TicketNotFound
        return ticket

    async def reply(self, project_id: str, ticket_id: str, body: str) -> Ticket:
        return await self._change(
            project_id, ticket_id, lambda t: t.reply("customer", body, self._clock())
        )

    async def set_status(self, project_id: str, ticket_id: str, status: TicketStatus) -> Ticket:
        return await self._change(
            project_id, ticket_id, lambda t: t.set_status(status, self._clock())
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

    async def _change(
        self, project_id: str, ticket_id: str, change: Callable[[Ticket], object]
    ) -> Ticket:
        async with self._locks.hold(ticket_id):
            ticket = await self.get(project_id, ticket_id)
            change(ticket)
            changed = ticket.changed
            await self._repository.save(ticket)
        if changed:
            self._on_committed(ticket.id)
        return ticket
