"""Ticket use cases, for the customer and for the Zumik team.

Every change runs one path (`_change`): take the ticket's lease and load it (the unit of work),
check the caller's scope, apply the change, then write the ticket with its events and keep its
SLA timer never later than its clock: an earlier check is written before the ticket, a later
(or no) check after it. A crash in between then leaves a timer that fires early (the scheduler
re-checks the ticket and finds nothing due), never a clock nobody watches.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from zumik_contracts.staff import QueueFilters
from zumik_contracts.tickets import Priority, TicketStatus

from zumik_api.domain.business_time import BusinessCalendar
from zumik_api.domain.errors import TicketNotFound, UnknownAttachment
from zumik_api.domain.scope import ProjectScope, Scope, TeamScope
from zumik_api.domain.tickets import RequestKey, Ticket
from zumik_api.service.attachments import NO_ATTACHMENTS, Attachments, RequestFiles
from zumik_api.service.ports import (
    AlreadyStored,
    Customer,
    Direction,
    Plans,
    Side,
    SlaTimers,
    TicketPage,
    Tickets,
)

Clock = Callable[[], datetime]


class ProjectGone(Exception):
    """The project was erased, though the key that called was still cached as valid."""


@dataclass(frozen=True)
class TeamUpdate:
    """A team member's change; fields left as None stay as they are."""

    priority: Priority | None = None
    status: TicketStatus | None = None
    assignee: str | None = None
    unassign: bool = False


class TicketService:
    def __init__(
        self,
        tickets: Tickets,
        timers: SlaTimers,
        plans: Plans,
        calendar: BusinessCalendar,
        clock: Clock,
        attachments: Attachments | None = None,
    ) -> None:
        """`attachments`: how messages get files; without it, no file can be attached."""
        self._tickets = tickets
        self._timers = timers
        self._plans = plans
        self._calendar = calendar
        self._clock = clock
        self._attachments = attachments

    # -- the customer's side -------------------------------------------------------------------

    async def open(
        self,
        customer: Customer,
        *,
        subject: str,
        body: str,
        priority: Priority,
        contact_email: str | None,
        request: RequestKey | None = None,
        attachments: Sequence[str] = (),
    ) -> Ticket:
        """Open a ticket (its first message with the files `attachments`). Run again for the
        same `request` (a retry whose first run may have committed), it returns the ticket that
        run opened instead of opening another."""
        plan = await self._plans.plan_of(customer.project_id)
        if plan is None:
            raise ProjectGone(customer.project_id)
        files = self._attach(attachments, "customer")
        await files.resolve(customer.project_id, None)
        ticket = Ticket.open(
            project_id=customer.project_id,
            plan=plan,
            subject=subject,
            body=body,
            priority=priority,
            contact_email=contact_email,
            now=self._clock(),
            calendar=self._calendar,
            request=request,
            attachments=files.attachments,
        )
        await files.claim(ticket)
        # The timer first: a crash in between leaves a timer without a ticket, which the
        # scheduler drops, never a running clock nobody watches.
        try:
            await self._timers.start(ticket.id, ticket.project_id, ticket.next_sla_check)
            await self._tickets.add(ticket)
        except AlreadyStored:
            return await self.get(ProjectScope(customer.project_id), ticket.id)
        except BaseException:
            await files.write_failed()
            raise
        await files.confirm()
        if not await self._plans.still_exists(customer.project_id):
            # The key was let in by a cache while the project was being erased: the erasure
            # may have swept already, so this ticket must not stay behind it.
            await self._tickets.remove(ticket.id)
            await files.discard()
            raise ProjectGone(customer.project_id)
        return ticket

    async def get(self, scope: Scope, ticket_id: str) -> Ticket:
        ticket = await self._tickets.get(ticket_id)
        if ticket is None or not scope.allows(ticket.project_id):
            raise TicketNotFound(ticket_id)
        return ticket

    async def page(
        self,
        scope: ProjectScope,
        *,
        limit: int,
        status: TicketStatus | None,
        cursor: str | None,
        direction: Direction,
    ) -> TicketPage:
        return await self._tickets.page(
            scope.project_id, limit=limit, status=status, cursor=cursor, direction=direction
        )

    async def reply(
        self,
        scope: ProjectScope,
        ticket_id: str,
        body: str,
        request: RequestKey | None = None,
        attachments: Sequence[str] = (),
    ) -> Ticket:
        """A customer reply (with the files `attachments`); run again for the same `request`,
        it adds nothing more."""
        files = self._attach(attachments, "customer")
        return await self._change(
            scope,
            ticket_id,
            lambda t: t.reply(
                "customer",
                body,
                self._clock(),
                request=request,
                attachments=files.attachments,
            ),
            files=files,
        )

    async def set_status(self, scope: ProjectScope, ticket_id: str, status: TicketStatus) -> Ticket:
        return await self._change(
            scope, ticket_id, lambda t: t.set_status(status, self._clock(), by="customer")
        )

    # -- the team's side -----------------------------------------------------------------------

    async def queue_page(
        self, scope: TeamScope, filters: QueueFilters, *, limit: int, cursor: str | None
    ) -> TicketPage:
        return await self._tickets.queue_page(
            filters, limit=limit, cursor=cursor, now=self._clock()
        )

    async def team_reply(
        self,
        scope: TeamScope,
        ticket_id: str,
        body: str,
        *,
        by: str,
        internal: bool,
        status: TicketStatus | None,
        attachments: Sequence[str] = (),
    ) -> Ticket:
        files = self._attach(attachments, "support")

        def change(ticket: Ticket) -> None:
            now = self._clock()
            ticket.reply(
                "support",
                body,
                now,
                internal=internal,
                attachments=files.attachments,
            )
            if status is not None:
                ticket.set_status(status, now, by=by)

        return await self._change(scope, ticket_id, change, files=files)

    async def team_update(
        self, scope: TeamScope, ticket_id: str, update: TeamUpdate, *, by: str
    ) -> Ticket:
        def change(ticket: Ticket) -> None:
            now = self._clock()
            if update.priority is not None:
                ticket.set_priority(update.priority, now, by=by, calendar=self._calendar)
            if update.assignee is not None or update.unassign:
                ticket.assign(update.assignee, now, by=by)
            if update.status is not None:
                ticket.set_status(update.status, now, by=by)

        return await self._change(scope, ticket_id, change)

    # -- the SLA clock -------------------------------------------------------------------------

    async def due_sla_checks(self) -> list[str]:
        """The tickets whose SLA timer is due now (the scheduler's candidates)."""
        return await self._timers.due(self._clock())

    async def emit_due_sla_events(self, scope: TeamScope, ticket_id: str) -> bool:
        """Record the ticket's due SLA warning/breach events; True when this call recorded any.
        The timer is re-armed from the ticket's clock whatever happened: it may fire early,
        never late."""
        recorded = False

        def change(ticket: Ticket) -> None:
            nonlocal recorded
            ticket.emit_due_sla_events(self._clock())
            recorded = bool(ticket.new_events)

        try:
            await self._change(scope, ticket_id, change, rearm_timer=True)
        except TicketNotFound:
            await self._timers.drop(ticket_id)  # erased, or its opening never completed
            raise
        return recorded

    # -- attachments ---------------------------------------------------------------------------

    async def settle_attachment_claims(self) -> int:
        """Settle the claims on files that no ticket write confirmed (see `Attachments.settle`);
        how many were given back."""
        return 0 if self._attachments is None else await self._attachments.settle()

    # -- the one path of every change ----------------------------------------------------------

    async def _change(
        self,
        scope: Scope,
        ticket_id: str,
        change: Callable[[Ticket], object],
        *,
        rearm_timer: bool = False,
        files: RequestFiles = NO_ATTACHMENTS,
    ) -> Ticket:
        if isinstance(scope, ProjectScope):
            # Another project's ticket answers 404 before any lease is taken, so lease
            # contention (409) never reveals that a foreign ticket exists.
            await self.get(scope, ticket_id)
        async with self._tickets.change(ticket_id) as work:
            if work is None or not scope.allows(work.ticket.project_id):
                raise TicketNotFound(ticket_id)
            ticket = work.ticket
            await files.resolve(ticket.project_id, ticket.id)
            check_before = ticket.next_sla_check
            change(ticket)
            check_after = ticket.next_sla_check
            moved = rearm_timer or check_after != check_before
            earlier = check_after is not None and (
                check_before is None or check_after < check_before
            )
            await files.claim(ticket)
            try:
                if moved and earlier:
                    await self._timers.set(ticket.id, ticket.project_id, check_after)
                await work.commit()
            except BaseException:
                await files.write_failed()
                raise
            await files.confirm()
            if moved and not earlier:
                await self._timers.set(ticket.id, ticket.project_id, check_after)
        return ticket

    def _attach(self, ids: Sequence[str], side: Side) -> RequestFiles:
        """The plan of the files a request attaches (one that does nothing for none)."""
        if not ids:
            return NO_ATTACHMENTS
        if self._attachments is None:
            raise UnknownAttachment(ids[0], "attachments.0")
        return self._attachments.plan(ids, side)
