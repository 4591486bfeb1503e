"""The composition root: builds every adapter and use case one API process shares, and starts the
work it does besides answering HTTP, in one place:

- the broker link: connect to RabbitMQ (retrying while it is down), declare the topology, then
  consume billing's plan changes;
- the outbox relay: publish every committed event;
- the SLA scheduler (when enabled): record SLA warnings and breaches;
- purges: expired idempotency keys and old outbox acks (FerretDB has no TTL indexes), files no
  message took (after settling the claims no ticket write confirmed), and the chunks of uploads
  whose process died.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from faststream.rabbit import RabbitBroker
from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from zumik_accounts.projects import Projects
from zumik_accounts.sessions import Sessions
from zumik_accounts.staff import Staff
from zumik_contracts.topology import billing_exchange
from zumik_files.store import FileStore
from zumik_idempotency import IdempotencyRecords
from zumik_messaging.broker import confirming_broker
from zumik_messaging.connection import FailoverRabbitBroker
from zumik_messaging.metrics import RabbitMetrics
from zumik_observability.metrics import new_registry
from zumik_observability.tracing import current_traceparent
from zumik_store import mongo
from zumik_store.clock import Clock, utc_now
from zumik_store.lifecycle import cancel_and_wait, every, until_done
from zumik_store.mongo import Document
from zumik_store.ratelimit import SharedRateLimiter
from zumik_tickets.indexes import ensure_indexes as ensure_ticket_indexes
from zumik_tickets.outbox import OutboxLedger
from zumik_tickets.queue import SupportQueue
from zumik_tickets.store import TicketStore
from zumik_tickets.timers import SlaTimers

from zumik_api.adapters.auth_cache import AuthCache
from zumik_api.adapters.directory import CachedDirectory
from zumik_api.adapters.events import EventPublisher
from zumik_api.adapters.files import StoredFiles
from zumik_api.adapters.idempotency import StoredIdempotency
from zumik_api.adapters.metrics import EventMetrics, relay_readings
from zumik_api.adapters.relay import OutboxRelay
from zumik_api.adapters.sessions import StoredSessions
from zumik_api.adapters.tickets import Committed, Outboxing, Recorded, StoredTickets, not_counted
from zumik_api.consumers import billing
from zumik_api.domain.business_time import BusinessCalendar
from zumik_api.http.app import http_app
from zumik_api.http.errors import error_response, unavailable
from zumik_api.http.throttle import FailureThrottle
from zumik_api.service.access import Access
from zumik_api.service.attachments import Attachments
from zumik_api.service.console import ConsoleSignIn
from zumik_api.service.files import FileService
from zumik_api.service.idempotency import IdempotentRequests
from zumik_api.service.plans import PlanChanges
from zumik_api.service.quotas import PlanLimits, Quotas
from zumik_api.service.tickets import TicketService
from zumik_api.settings import Settings, get_settings, plan_limits
from zumik_api.workers.sla_scheduler import SlaScheduler

log = logging.getLogger("zumik_api")

IDEMPOTENCY_PURGE_SECONDS = 600.0
ACK_PURGE_SECONDS = 600.0
SESSION_PURGE_SECONDS = 3600.0
RATE_LIMIT_PURGE_SECONDS = 300.0
FILE_PURGE_SECONDS = 600.0
# An upload still unfinished after this long was left by a process that died.
STALE_UPLOAD = timedelta(hours=1)


@dataclass
class Runtime:
    settings: Settings
    client: AsyncMongoClient[Document]
    db: AsyncDatabase[Document]
    broker: RabbitBroker
    publisher: EventPublisher
    store: TicketStore
    ledger: OutboxLedger
    idempotency_records: IdempotencyRecords
    projects: Projects
    sessions: Sessions
    directory: CachedDirectory
    relay: OutboxRelay
    scheduler: SlaScheduler
    # The use cases the entry points call.
    tickets: TicketService
    access: Access
    console: ConsoleSignIn
    idempotent: IdempotentRequests
    quotas: Quotas
    rate_limiter: SharedRateLimiter
    plan_changes: PlanChanges
    clock: Clock
    file_store: FileStore
    files: FileService
    registry: CollectorRegistry  # the runtime's metrics (/metrics shows them with the HTTP ones)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        started = [
            self._prepare_store(),
            self._connect_broker(),
            self.relay.run(),
            every(
                IDEMPOTENCY_PURGE_SECONDS,
                self.idempotency_records.purge_expired,
                "idempotency key purge",
                log,
            ),
            every(
                ACK_PURGE_SECONDS,
                self.ledger.purge_acks,
                "outbox ack purge",
                log,
                start_after=ACK_PURGE_SECONDS,
            ),
            every(FILE_PURGE_SECONDS, self._purge_files, "file purge", log),
        ]
        if self.settings.rate_limits_enabled:
            started += [
                self.rate_limiter.run(),
                every(RATE_LIMIT_PURGE_SECONDS, self.rate_limiter.purge, "rate limit purge", log),
            ]
        if self.settings.sla_scheduler_enabled:
            started.append(self.scheduler.run())
        self.tasks += [asyncio.create_task(work) for work in started]

    async def _purge_files(self) -> None:
        # Claims no ticket write confirmed first: the file of one given back is then purged as
        # unattached once it is old enough.
        await self.tickets.settle_attachment_claims()
        unattached = timedelta(hours=self.settings.files_unattached_hours)
        await self.file_store.purge_unattached(unattached)
        await self.file_store.purge_stale_uploads(STALE_UPLOAD)

    async def stop(self) -> None:
        await cancel_and_wait(self.tasks)
        self.tasks.clear()
        try:
            await self.publisher.close()
        finally:
            await self.client.close()

    def broker_ok(self) -> bool:
        return self.relay.broker_connected and not self.relay.paused

    def broker_status(self) -> dict[str, Any]:
        """RabbitMQ as the relay sees it (for /readyz): no host names, only positions."""
        relay = self.relay
        status: dict[str, Any] = {
            "state": "connected" if self.broker_ok() else "unreachable",
            "outages": relay.outages,
        }
        if relay.paused:
            status["unreachable_seconds"] = round(relay.paused_for(), 1)
        if relay.last_outage_seconds is not None:
            status["last_outage_seconds"] = round(relay.last_outage_seconds, 1)
        if isinstance(self.broker, FailoverRabbitBroker):
            status["node"] = self.broker.node_number  # in AMQP_URL's list, from 1
            status["nodes"] = len(self.broker.hosts)
            status["failovers"] = self.broker.failovers
        return status

    def outbox_status(self) -> dict[str, Any]:
        """What the relay holds (for /readyz): tickets whose events this process still has to
        publish, and since when the oldest waits."""
        relay = self.relay
        return {
            "pending_tickets": relay.pending_tickets,
            "oldest_pending_seconds": round(relay.oldest_pending_seconds(), 1),
            "published": relay.published_count,
            "publish_failures": relay.publish_failures,
        }

    async def store_ok(self) -> bool:
        return await mongo.answers(self.client)

    async def _prepare_store(self) -> None:
        """Indexes, and which store this is; retried in the background while the store is down
        (the API still starts, answers 503 meanwhile, and reports not ready)."""
        await until_done(self._prepare_store_once, "store not ready", log)

    async def _prepare_store_once(self) -> None:
        await ensure_ticket_indexes(self.db)
        await self.projects.ensure_indexes()
        await self.sessions.ensure_indexes()
        await self.rate_limiter.ensure_indexes()
        await self.idempotency_records.ensure_indexes()
        await self.file_store.ensure_indexes()
        # FerretDB's filtered updates are not atomic: re-check each lease before its write there
        # (the store starts out assuming so, the safe side).
        self.store.confirm_leases = await mongo.is_ferretdb(self.client)

    async def _connect_broker(self) -> None:
        """Connect (retrying while RabbitMQ is down), declare, then consume plan changes. The
        connection reconnects by itself after that."""
        await until_done(self._connect_broker_once, "RabbitMQ unreachable", log)

    async def _connect_broker_once(self) -> None:
        await self.publisher.connect()
        await self.broker.declare_exchange(billing_exchange)
        await billing.declare(self.broker)
        await self.broker.start()


def calendar_from(settings: Settings) -> BusinessCalendar:
    return BusinessCalendar.parse(
        settings.business_timezone, settings.business_hours, settings.business_holidays
    )


def ticket_store(
    db: AsyncDatabase[Document], ledger: OutboxLedger, settings: Settings, clock: Clock
) -> TicketStore:
    return TicketStore(
        db,
        ledger,
        clock=clock,
        lease_wait_seconds=settings.ticket_lock_wait_seconds,
        write_timeout=timedelta(seconds=settings.store_timeout_seconds),
    )


def ticket_service(
    store: TicketStore,
    directory: CachedDirectory,
    settings: Settings,
    clock: Clock,
    on_committed: Committed,
    files: StoredFiles | None = None,
    recorded: Recorded = not_counted,
) -> TicketService:
    db = store.database
    tickets = StoredTickets(
        store,
        SupportQueue(db),
        on_committed=on_committed,
        # Each event keeps the trace of the request that caused it: the relay continues it.
        outboxing=Outboxing(
            include_text=settings.events_include_text,
            traceparent=current_traceparent,
            recorded=recorded,
        ),
    )
    return TicketService(
        tickets,
        SlaTimers(db),
        directory,
        calendar_from(settings),
        clock,
        attachments=None if files is None else Attachments(files, tickets, clock),
    )


def build_runtime(settings: Settings, clock: Clock = utc_now) -> Runtime:
    client = mongo.connect(settings.mongodb_url, timeout_seconds=settings.store_timeout_seconds)
    db = mongo.database(client)
    ledger = OutboxLedger(db)
    store = ticket_store(db, ledger, settings, clock)
    projects = Projects(db, clock)
    sessions = Sessions(db, clock)
    cache = AuthCache(settings.auth_cache_seconds, settings.auth_negative_cache_seconds)
    directory = CachedDirectory(projects, Staff(db, clock), cache, clock)
    idle = timedelta(minutes=settings.console_idle_minutes)
    session_store = StoredSessions(
        sessions, cache, lifetime=timedelta(hours=settings.console_session_hours), idle=idle
    )
    registry = new_registry()
    broker = confirming_broker(settings.amqp_url, logger=None)
    broker.add_middleware(RabbitTelemetryMiddleware())
    broker.add_middleware(RabbitMetrics(registry=registry))
    publisher = EventPublisher(broker)
    relay = OutboxRelay(publisher, ledger, clock)
    registry.register(relay_readings(relay, clock))
    events = EventMetrics(registry)
    file_store = FileStore(
        db,
        clock=clock,
        max_file_bytes=settings.files_max_bytes,
        project_quota_bytes=settings.files_project_quota_bytes,
        max_concurrent_scrubs=settings.files_max_concurrent_scrubs,
    )
    stored_files = StoredFiles(file_store)
    tickets = ticket_service(
        store, directory, settings, clock, relay.notify, stored_files, events.recorded
    )
    plan_changes = PlanChanges(directory)
    rate_limiter = SharedRateLimiter(db.rate_limits, sync_seconds=settings.rate_limit_sync_seconds)
    limits = {plan: PlanLimits(*pair) for plan, pair in plan_limits(settings).items()}
    billing.subscribe_plan_changes(broker, plan_changes)
    idempotency_records = IdempotencyRecords(
        db, window=timedelta(hours=settings.idempotency_window_hours), clock=clock
    )
    return Runtime(
        settings=settings,
        client=client,
        db=db,
        broker=broker,
        publisher=publisher,
        store=store,
        ledger=ledger,
        idempotency_records=idempotency_records,
        projects=projects,
        sessions=sessions,
        directory=directory,
        relay=relay,
        scheduler=SlaScheduler(tickets, every=settings.sla_scheduler_every_seconds),
        tickets=tickets,
        access=Access(directory),
        console=ConsoleSignIn(directory, session_store, idle_timeout=idle),
        quotas=Quotas(directory, rate_limiter, limits),
        rate_limiter=rate_limiter,
        idempotent=IdempotentRequests(StoredIdempotency(idempotency_records)),
        plan_changes=plan_changes,
        clock=clock,
        file_store=file_store,
        files=FileService(stored_files, tickets, directory),
        registry=registry,
    )


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """The API: HTTP entry points on the runtime, which starts and stops with the app."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        active = runtime or build_runtime(settings)
        await active.start()
        app.state.tickets = active.tickets
        app.state.access = active.access
        app.state.console = active.console
        # None: no rate limits (RATE_LIMITS_ENABLED=false), so the customer dependency skips them.
        app.state.quotas = active.quotas if active.settings.rate_limits_enabled else None
        app.state.auth_failures = FailureThrottle(settings.auth_failures_per_minute)
        app.state.idempotent = active.idempotent
        app.state.clock = active.clock
        app.state.files = active.files
        app.state.health = active
        app.state.runtime_registry = active.registry
        try:
            yield
        finally:
            await active.stop()

    app = http_app(
        settings.max_request_bytes,
        settings.console_dir,
        lifespan,
        max_file_bytes=settings.files_max_bytes,
    )
    install_outage_handler(app)
    # A server span per request, continuing an incoming `traceparent`; exported only when the
    # process configured tracing (`zumik_api.main`). Not a span for each ASGI message as well.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"]
    )
    return app


def install_outage_handler(app: FastAPI) -> None:
    """A store that is down or too slow answers 503 with `Retry-After`, not 500."""

    @app.exception_handler(PyMongoError)
    async def _store_error(_: Request, error: PyMongoError) -> JSONResponse:
        if mongo.is_unavailable(error):
            log.warning("store unavailable: %s", type(error).__name__)
            return error_response(unavailable())
        raise error
