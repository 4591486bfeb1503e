"""Builds the privacy service, a FastStream app, from Settings.

`build_privacy(settings, clock=...)` wires everything but connects nothing. Then either:
- `await service.start()` / `await service.stop()`, in-process (tests, benchmarks), or
- `await service.app.run()` (the `zumik-privacy` entry point), whose hooks do the same.

Start-up order matters: the MongoDB client is created inside the running event loop, and the whole
topology (including the second routing key a FastStream subscriber can't bind) is declared before
the consumer starts.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from faststream import AckPolicy, FastStream
from faststream.rabbit import Channel, RabbitBroker, RabbitMessage
from faststream.specification import AsyncAPI
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.adapters import mongo
from zumik_api.adapters.locks import TicketLocks
from zumik_api.adapters.mongo import Document
from zumik_api.clock import Clock, utc_now
from zumik_store.lifecycle import cancel_and_wait, every

from zumik_privacy import store, topology
from zumik_privacy.claims import ClaimStore
from zumik_privacy.erasure import Eraser
from zumik_privacy.exports import Exporter, ExportSweeper, SweepResult
from zumik_privacy.handling import CommandHandler, CommandProcessor, RetryPolicy
from zumik_privacy.results import ResultPublisher
from zumik_privacy.settings import Settings
from zumik_privacy.topology import Topology

log = logging.getLogger("zumik_privacy")

VERSION = "1.0.0"
# The AsyncAPI `servers` entry: fixed, so the committed document does not depend on where it ran.
SPECIFICATION_URL = "amqp://rabbitmq:5672/"
ERASURE_LEASE = timedelta(seconds=60)


async def _raw_body(message: RabbitMessage) -> bytes:
    # FastStream would json.loads an application/json body before the handler runs, and a
    # malformed one would then never reach it (and stay unacked). The handler parses it itself.
    return message.body


@dataclass
class _Resources:
    """What exists only while the service runs, bound to the running event loop."""

    mongo: AsyncMongoClient[Document]
    db: AsyncDatabase[Document]
    handler: CommandHandler
    sweeper: ExportSweeper
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class PrivacyService:
    def __init__(self, settings: Settings, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        self.topology = Topology.from_settings(settings)
        self.broker = RabbitBroker(
            settings.amqp_url,
            # Confirms: a publish returns only once RabbitMQ took the message. Results are
            # published with mandatory=False, so nothing is returned to raise about.
            default_channel=Channel(publisher_confirms=True, on_return_raises=True),
            timeout=settings.privacy_publish_timeout_seconds,
            reconnect_interval=1.0,
            # A command in progress gets this long to finish on stop; otherwise it is
            # redelivered and resumes from its claim.
            graceful_timeout=30.0,
            specification_url=SPECIFICATION_URL,
            logger=logging.getLogger("zumik_privacy.broker"),
        )
        self.results = ResultPublisher(
            self.broker, self.topology, settings.privacy_publish_timeout_seconds
        )
        self._resources: _Resources | None = None
        self._subscribe()
        self.app = FastStream(
            self.broker,
            specification=AsyncAPI(
                title="Zumik Support privacy service",
                version=VERSION,
                description=(
                    "Data export and erasure commands on the `zumik.privacy` topic exchange, "
                    "and their results. Queue types, delivery limit and dead-lettering are in "
                    "docs/privacy.md."
                ),
            ),
            on_startup=[self.open],
            after_shutdown=[self.close],
            logger=log,
        )

    def _subscribe(self) -> None:
        @self.broker.subscriber(
            self.topology.commands_queue,
            self.topology.exchange,
            # One command at a time per process: erasures and exports are heavy, and a second
            # replica can take the next command meanwhile.
            channel=Channel(prefetch_count=1),
            decoder=_raw_body,
            ack_policy=AckPolicy.MANUAL,
            # The handler replies itself (mandatory=False, and only once the outcome is stored).
            no_reply=True,
            title=f"{self.topology.commands_queue.name}:commands",
            description=(
                "Privacy commands, routing keys privacy.export and privacy.erase. A bad command "
                "is answered `failed` and dead-lettered at once."
            ),
        )
        async def on_command(message: RabbitMessage) -> None:
            await self._running().handler.handle(message)

    def _running(self) -> _Resources:
        if self._resources is None:
            raise RuntimeError("the privacy service is not started")
        return self._resources

    async def open(self) -> None:
        """Create the clients, connect, and declare the topology (FastStream's on_startup)."""
        if self._resources is not None:
            return
        settings = self.settings
        client = mongo.connect(settings.mongodb_url)
        db = mongo.database(client)
        self._resources = _Resources(
            mongo=client,
            db=db,
            handler=CommandHandler(
                build_processor(db, settings, self.clock),
                self.results,
                RetryPolicy(
                    settings.privacy_delivery_limit,
                    settings.privacy_retry_backoff_seconds,
                    settings.privacy_retry_backoff_max_seconds,
                ),
            ),
            sweeper=ExportSweeper(db, self.clock),
        )
        try:
            await store.ensure_indexes(db)
            await self.broker.connect()
            await topology.declare(self.broker, self.topology)
        except BaseException:
            await self.close()
            raise
        if settings.privacy_subject_salt is None:
            log.warning(
                "PRIVACY_SUBJECT_SALT is not set: subject hashes use a development salt. "
                "Set a secret one in production."
            )
        sweep = every(
            self.settings.privacy_sweep_every_seconds,
            self.sweep_expired_exports,
            "export sweep",
            log,
        )
        self._resources.tasks.append(asyncio.create_task(sweep))

    async def close(self) -> None:
        """Close the clients (FastStream's after_shutdown, once the consumer has stopped)."""
        resources, self._resources = self._resources, None
        if resources is None:
            return
        await cancel_and_wait(resources.tasks)
        await resources.mongo.close()

    async def start(self) -> None:
        """Open, then start consuming (what `app.run()` does, for in-process use)."""
        await self.open()
        try:
            await self.broker.start()
        except BaseException:
            await self.close()
            raise

    async def stop(self) -> None:
        """Stop consuming (a command in progress finishes or is redelivered), then close."""
        try:
            await self.broker.stop()
        finally:
            await self.close()

    async def sweep_expired_exports(self) -> SweepResult:
        return await self._running().sweeper.sweep()


def build_privacy(settings: Settings, clock: Clock = utc_now) -> PrivacyService:
    return PrivacyService(settings, clock)


def build_processor(
    db: AsyncDatabase[Document], settings: Settings, clock: Clock = utc_now
) -> CommandProcessor:
    """What runs a command, without RabbitMQ (the service's handler, and the benchmarks)."""
    lease = timedelta(seconds=settings.privacy_claim_lease_seconds)
    return CommandProcessor(
        Exporter(
            db,
            ClaimStore(db[store.EXPORTS], lease=lease, clock=clock),
            subject_salt=settings.subject_salt,
            retention=timedelta(hours=settings.privacy_export_retention_hours),
            chunk_size=settings.privacy_export_chunk_bytes,
            cursor_batch=settings.privacy_export_cursor_batch,
            clock=clock,
        ),
        Eraser(
            db,
            ClaimStore(db[store.RECEIPTS], lease=lease, clock=clock),
            TicketLocks(
                db[store.TICKET_LOCKS],
                # Held across a batch's delete, which is a collection scan on FerretDB: longer
                # than the API's 15 s, so a slow store can't let a lease lapse mid-delete.
                ttl=ERASURE_LEASE,
                wait_seconds=settings.privacy_ticket_lock_wait_seconds,
                clock=clock,
            ),
            subject_salt=settings.subject_salt,
            max_passes=settings.privacy_erase_max_passes,
            settle=timedelta(seconds=settings.privacy_erase_settle_seconds),
            clock=clock,
        ),
    )
