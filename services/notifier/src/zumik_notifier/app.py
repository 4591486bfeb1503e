"""Builds the notifier, a FastStream app, from Settings.

`build_notifier(settings)` wires everything but connects nothing. Then either:
- `await notifier.start()` / `await notifier.stop()`, in-process (tests), or
- `await notifier.app.run()` (the `zumik-notifier` entry point), whose hooks do the same.

Start-up order matters: the Mongo and HTTP clients are created inside the running event loop, and
the whole topology (including the extra bindings a FastStream subscriber can't express) is
declared before any consumer starts.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import httpx2
from faststream import AckPolicy
from faststream.rabbit import Channel
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from zumik_accounts.projects import Projects
from zumik_contracts.topology import support_exchange
from zumik_deliveries.log import DeliveryLog
from zumik_messaging.broker import confirming_broker
from zumik_messaging.consumed import ConsumedMessage, raw_body
from zumik_messaging.service import SPECIFICATION_URL, WorkerService
from zumik_store import mongo
from zumik_store.clock import utc_now
from zumik_store.mongo import Document
from zumik_tickets.reader import TicketReader

from zumik_notifier import topology
from zumik_notifier.channels import NotificationChannel
from zumik_notifier.channels.customer_email import CustomerEmailChannel
from zumik_notifier.channels.email import ResendEmailChannel
from zumik_notifier.channels.resend import ResendClient
from zumik_notifier.channels.webhook import OpsWebhookChannel
from zumik_notifier.messaging import Publishers
from zumik_notifier.metrics import NotifierMetrics
from zumik_notifier.projects import ProjectNames
from zumik_notifier.retry import RetryPolicy
from zumik_notifier.settings import Settings, webhook_secret_key
from zumik_notifier.topology import ChannelName, Topology
from zumik_notifier.worker import ChannelWorker, EventRouter, settle_on_error

log = logging.getLogger("zumik_notifier")

VERSION = "0.1.0"
PURGE_EVERY_SECONDS = 3600.0


def graceful_timeout(settings: Settings) -> float:
    """How long in-flight deliveries get to finish on stop: one HTTP attempt, and a margin."""
    return settings.notifier_http_timeout_seconds + 5.0


def enabled_channels(settings: Settings) -> tuple[ChannelName, ...]:
    enabled = {
        ChannelName.EMAIL: settings.email_enabled,
        ChannelName.WEBHOOK: settings.webhook_enabled,
        ChannelName.CUSTOMER_EMAIL: settings.email_enabled,
    }
    return tuple(channel for channel, on in enabled.items() if on)


@dataclass
class _Resources:
    """What exists only while the notifier runs, bound to the running event loop."""

    mongo: AsyncMongoClient[Document]
    http: httpx2.AsyncClient
    workers: dict[ChannelName, ChannelWorker]


class Notifier(WorkerService):
    def __init__(
        self,
        settings: Settings,
        channels: Sequence[ChannelName],
        *,
        wait_for_broker: bool = False,
    ) -> None:
        self.settings = settings
        self.channels = tuple(channels)
        self.topology = Topology.from_settings(settings)
        broker = confirming_broker(
            settings.amqp_url,
            prefetch=settings.notifier_prefetch,
            # The service waits for RabbitMQ at start-up (retrying every second) instead of
            # exiting; in-process users (tests) want an error at once.
            fail_fast=not wait_for_broker,
            # In-flight deliveries get to finish on stop; unfinished ones are redelivered.
            graceful_timeout=graceful_timeout(settings),
            specification_url=SPECIFICATION_URL,
            logger=logging.getLogger("zumik_notifier.broker"),
            # FastStream's own "received"/"processed" line per message, twice per event, at
            # DEBUG: the worker logs one line per decision and delivery outcome at INFO.
            log_level=logging.DEBUG,
        )
        super().__init__(
            broker,
            title="Zumik Support notifier",
            version=VERSION,
            description=(
                "Turns ticket events from `zumik.support` into team notifications "
                "(Resend email and the signed ops webhook). Queue types and dead-letter "
                "arguments are in docs/notifier.md."
            ),
            logger=log,
        )
        self.publishers = Publishers(
            self.broker, self.topology, settings.notifier_publish_timeout_seconds
        )
        self.metrics = NotifierMetrics.on(self.registry)
        self._router = EventRouter(self.publishers, self.channels, self.metrics)
        self._resources: _Resources | None = None
        self._subscribe()

    def _subscribe(self) -> None:
        @self.broker.subscriber(
            self.topology.events_queue,
            support_exchange,
            decoder=raw_body,
            ack_policy=AckPolicy.MANUAL,
            title=f"{self.topology.events_queue.name}:events",
            description=(
                "Every ticket event (bound with `#`, so none is unroutable once the notifier "
                "runs). The team hears about ticket.created, ticket.message_added (customer "
                "messages) and ticket.sla_breached: each becomes one job per channel; other "
                "events are acknowledged and dropped. A malformed message is dead-lettered at once."
            ),
        )
        async def on_event(message: ConsumedMessage) -> None:
            await settle_on_error(message, lambda: self._router.handle(message))

        for channel in self.channels:
            self._subscribe_channel(channel)

    def _subscribe_channel(self, channel: ChannelName) -> None:
        prefetch = (
            self.settings.notifier_email_prefetch
            if channel in (ChannelName.EMAIL, ChannelName.CUSTOMER_EMAIL)
            else self.settings.notifier_prefetch
        )

        @self.broker.subscriber(
            self.topology.work_queues[channel],
            self.topology.work_exchange,
            channel=Channel(prefetch_count=prefetch),
            decoder=raw_body,
            ack_policy=AckPolicy.MANUAL,
            title=f"{self.topology.work_queues[channel].name}:jobs",
            description=(
                f"One {channel} delivery attempt per message: new jobs and retries coming back "
                "from the delay queues."
            ),
        )
        async def on_job(message: ConsumedMessage) -> None:
            await settle_on_error(message, lambda: self._worker(channel).handle(message))

    def _worker(self, channel: ChannelName) -> ChannelWorker:
        if self._resources is None:
            raise RuntimeError("the notifier is not started")
        return self._resources.workers[channel]

    async def open_resources(self) -> None:
        """Create the clients, connect, and declare the topology."""
        client = mongo.connect(self.settings.mongodb_url)
        db = mongo.database(client)
        deliveries = DeliveryLog(
            db, timedelta(seconds=self.settings.notifier_delivery_lease_seconds)
        )
        http = httpx2.AsyncClient(
            timeout=self.settings.notifier_http_timeout_seconds,
            headers={"User-Agent": f"zumik-notifier/{VERSION}"},
            follow_redirects=False,
        )
        policy = RetryPolicy(
            self.settings.notifier_max_attempts, self.settings.notifier_retry_delays
        )
        workers = {
            channel: ChannelWorker(
                channel,
                self._sender(channel, http, db),
                deliveries,
                policy,
                self.publishers,
                utc_now,
                self.metrics,
            )
            for channel in self.channels
        }
        self._resources = _Resources(client, http, workers)
        await self.broker.connect()
        await topology.declare(self.broker, self.topology)
        try:
            await deliveries.ensure_indexes()
        except Exception as error:
            # Not fatal: the indexes only speed up erasure and purging, and a store that is
            # down now fails each delivery into a broker retry until it is back.
            log.warning("delivery log indexes not ensured: %s", type(error).__name__)
        retention = timedelta(days=self.settings.notifier_delivery_log_retention_days)
        self.run_every(
            PURGE_EVERY_SECONDS,
            lambda: _purge_deliveries(deliveries, retention),
            "delivery log purge",
        )

    def _sender(
        self, channel: ChannelName, http: httpx2.AsyncClient, db: AsyncDatabase[Document]
    ) -> NotificationChannel:
        settings = self.settings
        if channel in (ChannelName.EMAIL, ChannelName.CUSTOMER_EMAIL):
            assert settings.resend_api_key is not None
            assert settings.notify_from_email is not None
            resend = ResendClient(
                http,
                base_url=settings.resend_base_url,
                api_key=settings.resend_api_key.get_secret_value(),
                sender=settings.notify_from_email,
            )
            if channel is ChannelName.CUSTOMER_EMAIL:
                return CustomerEmailChannel(resend, TicketReader(db))
            assert settings.support_team_email is not None
            return ResendEmailChannel(
                resend,
                recipient=settings.support_team_email,
                project_names=ProjectNames(Projects(db)),
                tickets=TicketReader(db),
            )
        assert settings.ops_webhook_url is not None
        assert settings.ops_webhook_secret is not None
        return OpsWebhookChannel(
            http,
            url=settings.ops_webhook_url.get_secret_value(),
            key=webhook_secret_key(settings.ops_webhook_secret.get_secret_value()),
            tickets=TicketReader(db),
        )

    def store_client(self) -> AsyncMongoClient[Document] | None:
        return None if self._resources is None else self._resources.mongo

    async def close_resources(self) -> None:
        resources, self._resources = self._resources, None
        if resources is None:
            return
        for worker in resources.workers.values():
            await worker.abort()  # deliveries still under way give their claims back
        await resources.http.aclose()
        await resources.mongo.close()


async def _purge_deliveries(deliveries: DeliveryLog, retention: timedelta) -> None:
    deleted = await deliveries.purge_older_than(utc_now() - retention)
    if deleted:
        log.info("purged %d old delivery log entries", deleted)


def build_notifier(
    settings: Settings,
    channels: Sequence[ChannelName] | None = None,
    *,
    wait_for_broker: bool = False,
) -> Notifier:
    """The notifier for `settings`; `channels` defaults to those Settings enable."""
    return Notifier(
        settings,
        enabled_channels(settings) if channels is None else channels,
        wait_for_broker=wait_for_broker,
    )
