"""Builds the privacy service, a FastStream app, from Settings.

`build_privacy(settings, clock=...)` wires everything but connects nothing. Then either:
- `await service.start()` / `await service.stop()`, in-process (tests, benchmarks), or
- `await service.app.run()` (the `zumik-privacy` entry point), whose hooks do the same.

Start-up order matters: the MongoDB client is created inside the running event loop, and the whole
topology (including the second routing key a FastStream subscriber can't bind) is declared before
the consumer starts.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from faststream import AckPolicy
from faststream.rabbit import Channel, RabbitMessage
from pymongo import AsyncMongoClient
from zumik_messaging.broker import confirming_broker
from zumik_messaging.consumed import raw_body
from zumik_messaging.service import SPECIFICATION_URL, WorkerService
from zumik_privacy_records.exports import SweepResult
from zumik_store import mongo
from zumik_store.clock import Clock, utc_now
from zumik_store.mongo import Document

from zumik_privacy import topology
from zumik_privacy.erasure import Eraser
from zumik_privacy.exports import Exporter
from zumik_privacy.handling import CommandHandler, CommandProcessor, RetryPolicy
from zumik_privacy.owners import Owners
from zumik_privacy.results import ResultPublisher
from zumik_privacy.settings import Settings
from zumik_privacy.topology import Topology

log = logging.getLogger("zumik_privacy")

VERSION = "1.0.0"
# Long deletes (a large project's tickets, a collection scan on FerretDB) get this long; still
# below the erasure's 60 s ticket leases.
STORE_TIMEOUT_SECONDS = 30.0
# On stop, a command in progress gets this long to finish (docker compose waits longer).
GRACEFUL_TIMEOUT_SECONDS = 30.0


@dataclass
class _Resources:
    """What exists only while the service runs, bound to the running event loop."""

    mongo: AsyncMongoClient[Document]
    owners: Owners
    handler: CommandHandler


class PrivacyService(WorkerService):
    def __init__(self, settings: Settings, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        self.topology = Topology.from_settings(settings)
        broker = confirming_broker(
            settings.amqp_url,
            # A command in progress gets this long to finish on stop; otherwise it is
            # redelivered and resumes from its claim.
            graceful_timeout=GRACEFUL_TIMEOUT_SECONDS,
            specification_url=SPECIFICATION_URL,
            logger=logging.getLogger("zumik_privacy.broker"),
        )
        super().__init__(
            broker,
            title="Zumik Support privacy service",
            version=VERSION,
            description=(
                "Data export and erasure commands on the `zumik.privacy` topic exchange, "
                "and their results. Queue types, delivery limit and dead-lettering are in "
                "docs/privacy.md."
            ),
            logger=log,
        )
        self.results = ResultPublisher(
            self.broker, self.topology, settings.privacy_publish_timeout_seconds
        )
        self._resources: _Resources | None = None
        self._subscribe()

    def _subscribe(self) -> None:
        @self.broker.subscriber(
            self.topology.commands_queue,
            self.topology.exchange,
            # One command at a time per process: erasures and exports are heavy, and a second
            # replica can take the next command meanwhile.
            channel=Channel(prefetch_count=1),
            decoder=raw_body,
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

    async def open_resources(self) -> None:
        settings = self.settings
        client = mongo.connect(settings.mongodb_url, timeout_seconds=STORE_TIMEOUT_SECONDS)
        owners = Owners.on(mongo.database(client), settings, self.clock)
        self._resources = _Resources(
            mongo=client,
            owners=owners,
            handler=CommandHandler(
                build_processor(owners, settings, self.clock),
                self.results,
                RetryPolicy(
                    settings.privacy_delivery_limit,
                    settings.privacy_retry_backoff_seconds,
                    settings.privacy_retry_backoff_max_seconds,
                ),
            ),
        )
        await owners.ensure_indexes()
        await self.broker.connect()
        await topology.declare(self.broker, self.topology)
        self.run_every(
            settings.privacy_sweep_every_seconds, self.sweep_expired_exports, "export sweep"
        )

    def store_client(self) -> AsyncMongoClient[Document] | None:
        return None if self._resources is None else self._resources.mongo

    async def close_resources(self) -> None:
        resources, self._resources = self._resources, None
        if resources is not None:
            await resources.mongo.close()

    async def sweep_expired_exports(self) -> SweepResult:
        result = await self._running().owners.records.sweep_expired()
        if result.exports or result.chunks:
            log.info("deleted %d expired exports (%d chunks)", result.exports, result.chunks)
        return result


def build_privacy(settings: Settings, clock: Clock = utc_now) -> PrivacyService:
    return PrivacyService(settings, clock)


def build_processor(owners: Owners, settings: Settings, clock: Clock = utc_now) -> CommandProcessor:
    """What runs a command, without RabbitMQ (the service's handler, and the benchmarks)."""
    return CommandProcessor(
        Exporter(
            owners,
            subject_salt=settings.subject_salt,
            retention=timedelta(hours=settings.privacy_export_retention_hours),
            chunk_size=settings.privacy_export_chunk_bytes,
            cursor_batch=settings.privacy_export_cursor_batch,
            clock=clock,
        ),
        Eraser(
            owners,
            subject_salt=settings.subject_salt,
            max_passes=settings.privacy_erase_max_passes,
            settle=timedelta(seconds=settings.privacy_erase_settle_seconds),
            clock=clock,
        ),
    )
