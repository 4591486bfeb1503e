"""The SLA scheduler: records `ticket.sla_warning` (80% of the time used) and
`ticket.sla_breached` (due time passed, no public team reply) once per ticket.

Candidates come from the SLA timers (small documents: a pass never reads tickets that are not
due). Safe with several instances: each candidate is re-checked under the ticket's lease, and the
ticket's `sla_*_emitted` flags are set in the same write as the event enters the outbox, so a
second instance (or pass) finds nothing left to record.
"""

import asyncio
import logging
import time
from dataclasses import dataclass

from zumik_api.domain.errors import TicketNotFound
from zumik_api.domain.scope import TEAM
from zumik_api.service.ports import TicketBusy
from zumik_api.service.tickets import TicketService

log = logging.getLogger("zumik_api.scheduler")


@dataclass(frozen=True)
class PassResult:
    candidates: int
    recorded: int


class SlaScheduler:
    def __init__(
        self, tickets: TicketService, *, every: float = 15.0, concurrency: int = 16
    ) -> None:
        self._tickets = tickets
        self._every = every
        self._slots = asyncio.Semaphore(concurrency)

    async def run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.run_pass()
            except Exception as error:
                log.warning(
                    "SLA scheduler pass failed (%s); retrying next period", type(error).__name__
                )
            # Passes never take more than a fifth of the time, however slow the store is.
            await asyncio.sleep(max(self._every, 4 * (time.monotonic() - started)))

    async def run_pass(self) -> PassResult:
        ticket_ids = await self._tickets.due_sla_checks()
        recorded = await asyncio.gather(*(self._record(ticket_id) for ticket_id in ticket_ids))
        return PassResult(candidates=len(ticket_ids), recorded=sum(recorded))

    async def _record(self, ticket_id: str) -> bool:
        async with self._slots:
            try:
                return await self._tickets.emit_due_sla_events(TEAM, ticket_id)
            except (TicketBusy, TicketNotFound):
                return False  # busy: the next pass retries; gone: erased meanwhile
            except Exception as error:
                # One ticket's store error (FerretDB answers SQLITE_BUSY under write load) must
                # not end the pass; that ticket is due again at the next one.
                log.warning("SLA check of ticket %s failed: %s", ticket_id, type(error).__name__)
                return False
