"""Wiring: the adapters and use cases one API process shares, built once at start-up."""

import asyncio
import logging
from dataclasses import dataclass, field

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from zumik_store.lifecycle import cancel_and_wait, every

from zumik_api.adapters import mongo
from zumik_api.adapters.events import EventPublisher, make_broker
from zumik_api.adapters.idempotency import IdempotencyStore
from zumik_api.adapters.locks import TicketLocks
from zumik_api.adapters.mongo import Document
from zumik_api.adapters.outbox import OutboxLedger
from zumik_api.adapters.projects import AuthCache, ProjectRepository
from zumik_api.adapters.queue import SupportQueue
from zumik_api.adapters.sla_timers import SlaTimers
from zumik_api.adapters.staff import StaffRepository
from zumik_api.adapters.tickets import TicketRepository
from zumik_api.billing import declare_dead_letters, subscribe_plan_changes
from zumik_api.clock import Clock, utc_now
from zumik_api.domain.business_time import BusinessCalendar
from zumik_api.relay import OutboxRelay
from zumik_api.scheduler import SlaScheduler
from zumik_api.service.plans import PlanChanges
from zumik_api.service.tickets import TicketService
from zumik_api.settings import Settings

log = logging.getLogger("zumik_api")


@dataclass
class Container:
    settings: Settings
    client: AsyncMongoClient[Document]
    db: AsyncDatabase[Document]
    projects: ProjectRepository
    staff: StaffRepository
    queue: SupportQueue
    tickets: TicketService
    idempotency: IdempotencyStore
    clock: Clock
    publisher: EventPublisher
    ledger: OutboxLedger
    relay: OutboxRelay
    scheduler: SlaScheduler
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        self.tasks.append(asyncio.create_task(self.relay.run()))
        if self.settings.sla_scheduler_enabled:
            self.tasks.append(asyncio.create_task(self.scheduler.run()))
        # FerretDB has no TTL indexes, so expired keys are deleted by a periodic sweep.
        purge = every(600, self.idempotency.purge_expired, "idempotency key purge", log)
        self.tasks.append(asyncio.create_task(purge))

    async def stop(self) -> None:
        await cancel_and_wait(self.tasks)
        self.tasks.clear()
        await self.publisher.close()
        await self.client.close()

    def broker_ok(self) -> bool:
        return self.relay.broker_connected


def calendar_from(settings: Settings) -> BusinessCalendar:
    return BusinessCalendar.parse(
        settings.business_timezone, settings.business_hours, settings.business_holidays
    )


def build_container(settings: Settings, clock: Clock = utc_now) -> Container:
    client = mongo.connect(settings.mongodb_url)
    db = mongo.database(client)
    locks = TicketLocks(
        db.ticket_locks, wait_seconds=settings.ticket_lock_wait_seconds, clock=clock
    )
    projects = ProjectRepository(db, AuthCache(settings.auth_cache_seconds))
    broker = make_broker(settings.amqp_url)
    subscribe_plan_changes(broker, PlanChanges(projects, locks))
    publisher = EventPublisher(broker, before_start=[declare_dead_letters])
    ledger = OutboxLedger(db)
    relay = OutboxRelay(db, publisher, ledger, clock)
    timers = SlaTimers(db)
    tickets = TicketService(
        TicketRepository(db),
        locks,
        timers,
        ledger,
        calendar_from(settings),
        clock,
        on_committed=relay.notify,
    )
    return Container(
        settings=settings,
        client=client,
        db=db,
        projects=projects,
        staff=StaffRepository(db),
        queue=SupportQueue(db),
        tickets=tickets,
        idempotency=IdempotencyStore(db.idempotency_keys, clock=clock),
        clock=clock,
        publisher=publisher,
        ledger=ledger,
        relay=relay,
        scheduler=SlaScheduler(timers, tickets, clock, every=settings.sla_scheduler_every_seconds),
    )
