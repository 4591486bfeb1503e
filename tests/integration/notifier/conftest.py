"""Fixtures for the notifier tests: a notifier in-process on its own queue names, stand-ins for
Resend and the ops webhook receiver (real HTTP servers on loopback), and RabbitMQ helpers.

Every test gets a unique queue prefix, so its notifier's queues only see this test's traffic plus
whatever else is published on `zumik.support` meanwhile; assertions filter by ticket id. All queues
and exchanges the notifier declared are deleted in teardown.
"""

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from pymongo.asynchronous.database import AsyncDatabase
from zumik_api.domain.business_time import BusinessCalendar
from zumik_api.domain.tickets import Ticket
from zumik_contracts.events import SUPPORT_EXCHANGE, EventType, TicketEvent, without_text
from zumik_notifier.app import Notifier, build_notifier
from zumik_notifier.settings import Settings as NotifierSettings
from zumik_notifier.topology import EVENTS_BINDING, Topology
from zumik_store.clock import utc_now
from zumik_store.mongo import Document
from zumik_tickets.outbox import OutboxLedger
from zumik_tickets.store import TicketStore

from tests.amqp import support_tap, take_until
from tests.conftest import ApiProject
from tests.integration.notifier.http_stub import RecordingServer, Request, recording_server
from tests.services import Services

RESEND_KEY = "re_test_0123456789"
TEAM_EMAIL = "team@zumik.test"
FROM_EMAIL = "Zumik Support <notify@zumik.test>"
WEBHOOK_KEY = b"0123456789abcdef0123456789abcdef"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(WEBHOOK_KEY).decode()
CONTACT_EMAIL = "customer.person@example.com"


@contextlib.asynccontextmanager
async def amqp_channel(url: str) -> AsyncIterator[AbstractChannel]:
    """A short-lived connection: survives nothing, so it works before and after broker restarts."""
    connection = await aio_pika.connect(url)
    try:
        yield await connection.channel()
    finally:
        await connection.close()


class NotifierEnv:
    def __init__(
        self, settings: NotifierSettings, resend: RecordingServer, webhook: RecordingServer
    ) -> None:
        self.settings = settings
        self.resend = resend
        self.webhook = webhook
        self.topology = Topology.from_settings(settings)
        self.notifier: Notifier | None = None

    async def start(self) -> Notifier:
        """A fresh notifier, as a new process would be."""
        assert self.notifier is None
        notifier = build_notifier(self.settings)
        async with asyncio.timeout(30):
            await notifier.start()
        self.notifier = notifier
        return notifier

    async def stop(self) -> None:
        notifier, self.notifier = self.notifier, None
        if notifier is not None:
            async with asyncio.timeout(30):
                await notifier.stop()

    async def queue_depth(self, name: str) -> int:
        async with amqp_channel(self.settings.amqp_url) as channel:
            queue = await channel.declare_queue(name, passive=True)
            return queue.declaration_result.message_count or 0

    async def dead_letters(
        self, count: int, containing: bytes = b"", within: float = 20.0
    ) -> list[AbstractIncomingMessage]:
        """Take messages off the dead-letter queue until `count` of them contain `containing`."""
        found: list[AbstractIncomingMessage] = []
        deadline = time.monotonic() + within
        async with amqp_channel(self.settings.amqp_url) as channel:
            queue = await channel.get_queue(self.topology.dead_letters.queue.name)
            while len(found) < count:
                left = max(0.0, deadline - time.monotonic())
                found.append(await take_until(queue, lambda m: containing in m.body, within=left))
        return found

    async def publish_raw(self, body: bytes, **properties: Any) -> None:
        """Put a message straight into the notifier's queue (default exchange)."""
        async with amqp_channel(self.settings.amqp_url) as channel:
            await channel.default_exchange.publish(
                aio_pika.Message(
                    body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, **properties
                ),
                routing_key=self.topology.events_queue.name,
            )

    async def delete_topology(self) -> None:
        async with amqp_channel(self.settings.amqp_url) as channel:
            # Unbind from the shared exchange first and let in-flight publishes land: RabbitMQ
            # 3.10 crashes the channel of a publisher (here: the API's relay) that routes to a
            # quorum queue while it is being deleted.
            events = await channel.get_queue(self.topology.events_queue.name, ensure=False)
            with contextlib.suppress(Exception):
                await events.unbind(SUPPORT_EXCHANGE, EVENTS_BINDING)
            await asyncio.sleep(0.3)
        async with amqp_channel(self.settings.amqp_url) as channel:
            for queue in self.topology.queues:
                with contextlib.suppress(Exception):
                    await channel.queue_delete(queue.name)
            for exchange in self.topology.exchanges:
                with contextlib.suppress(Exception):
                    await channel.exchange_delete(exchange.name)


def notifier_settings(
    services: Services, mongodb_url: str, resend: RecordingServer, webhook: RecordingServer
) -> NotifierSettings:
    return NotifierSettings(
        amqp_url=services.amqp_url,
        mongodb_url=mongodb_url,
        resend_api_key=RESEND_KEY,
        resend_base_url=resend.url,
        support_team_email=TEAM_EMAIL,
        notify_from_email=FROM_EMAIL,
        ops_webhook_url=webhook.url + "/hooks/zumik?token=not-for-logs",
        ops_webhook_secret=WEBHOOK_SECRET,
        notifier_queue_prefix=f"test.notifier.{secrets.token_hex(4)}",
        notifier_retry_delays=[0.2, 0.5, 1.0],
        notifier_max_attempts=4,
        notifier_http_timeout_seconds=2.0,
        notifier_delivery_lease_seconds=5.0,
        _env_file=None,
    )


@pytest.fixture
async def notifier_env(services: Services, mongodb_url: str) -> AsyncIterator[NotifierEnv]:
    async with recording_server() as resend, recording_server() as webhook:
        settings = notifier_settings(services, mongodb_url, resend, webhook)
        env = NotifierEnv(settings, resend, webhook)
        try:
            yield env
        finally:
            await env.stop()
            await env.delete_topology()


@pytest.fixture
async def notifier(notifier_env: NotifierEnv) -> NotifierEnv:
    """The environment with its notifier running."""
    await notifier_env.start()
    return notifier_env


class OpsQueue:
    """A queue bound to `zumik.support` with `#`, as an ops team would bind their own."""

    def __init__(self, queue: AbstractQueue) -> None:
        self.queue = queue

    async def event_for(self, ticket_id: str, within: float = 15.0) -> AbstractIncomingMessage:
        return await take_until(
            self.queue,
            lambda m: json.loads(m.body)["data"]["ticket_id"] == ticket_id,
            within=within,
        )


@pytest.fixture
async def ops_queue(services: Services) -> AsyncIterator[OpsQueue]:
    async with support_tap(services.amqp_url, "ops") as queue:
        yield OpsQueue(queue)


class DurableOpsQueue:
    """An ops queue that survives a broker restart: durable, quorum, bound with `#`."""

    def __init__(self, amqp_url: str, name: str) -> None:
        self.amqp_url = amqp_url
        self.name = name

    async def events(
        self, wanted: Callable[[dict[str, Any]], bool], within: float = 10.0
    ) -> list[dict[str, Any]]:
        """Every event now in the queue that `wanted` accepts, in queue order."""
        found: list[dict[str, Any]] = []
        async with amqp_channel(self.amqp_url) as channel, asyncio.timeout(within):
            queue = await channel.get_queue(self.name)
            while (message := await queue.get(fail=False)) is not None:
                await message.ack()
                event = json.loads(message.body)
                if wanted(event):
                    found.append(event)
        return found


@pytest.fixture
async def durable_ops_queue(services: Services) -> AsyncIterator[DurableOpsQueue]:
    name = f"test.ops.durable.{secrets.token_hex(4)}"
    async with amqp_channel(services.amqp_url) as channel:
        exchange = await channel.declare_exchange(
            SUPPORT_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(
            name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(exchange, "#")
    yield DurableOpsQueue(services.amqp_url, name)
    async with amqp_channel(services.amqp_url) as channel:
        await (await channel.get_queue(name, ensure=False)).unbind(SUPPORT_EXCHANGE, "#")
        await asyncio.sleep(0.3)  # see NotifierEnv.delete_topology
        await channel.queue_delete(name)


# ---- helpers the tests share ------------------------------------------------------------------


async def event_of_stored_ticket(
    db: AsyncDatabase[Document],
    project_id: str,
    event_type: EventType,
    *,
    subject: str = "Webhook signatures fail",
) -> TicketEvent:
    """An event about a ticket stored without publishing anything (so the only event about it
    is the one a test publishes itself), as the relay would publish it: without text."""
    ticket = Ticket.open(
        project_id=project_id,
        plan="pilot",
        subject=subject,
        body="Since 10:00 UTC every signature check fails.",
        priority="urgent",
        contact_email=CONTACT_EMAIL,
        now=utc_now(),
        calendar=BusinessCalendar(),
    )
    await TicketStore(db, OutboxLedger(db)).insert(ticket, [])
    [created] = ticket.new_events
    return without_text(created).model_copy(
        update={"id": f"evt_test{secrets.token_hex(8)}", "type": event_type}
    )


async def open_ticket(
    api: httpx.AsyncClient, project: ApiProject, subject: str = "Streaming cuts off"
) -> dict[str, Any]:
    response = await api.post(
        "/v2/support/tickets",
        json={
            "subject": subject,
            "body": "The stream stops after ~30 s. Order #1234, contact me any time.",
            "priority": "high",
            "contact_email": CONTACT_EMAIL,
        },
        headers=project.headers,
    )
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


def for_ticket(requests: list[Request], ticket_id: str) -> list[Request]:
    """Webhook posts and emails about one ticket (both name the ticket id)."""
    return [r for r in requests if ticket_id in r.body.decode()]


def delivered(requests: list[Request], ticket_id: str) -> list[Request]:
    return [r for r in for_ticket(requests, ticket_id) if 200 <= r.status < 300]


def expected_signature(request: Request) -> str:
    """Standard Webhooks, computed here independently of the notifier's code."""
    signed = b".".join(
        [
            request.headers["webhook-id"].encode(),
            request.headers["webhook-timestamp"].encode(),
            request.body,
        ]
    )
    digest = hmac.new(WEBHOOK_KEY, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()
