"""Publishes ticket events on `zumik.support` with publisher confirms and `mandatory`.

A publish returns only once RabbitMQ confirmed it; an unroutable (returned) or nacked message
raises, so the caller keeps the event in the outbox and tries again later.

FastStream's publisher objects declare what is published (they make the AsyncAPI document).
The relay's hot path sends through the exchange object FastStream declared on its confirming
channel, with aio-pika's own `publish`: the same channel, confirms and reconnection, for about a
quarter less CPU per message than FastStream's publish pipeline (measured; see
docs/benchmarks.md).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

import aio_pika
from aio_pika.abc import AbstractExchange, HeadersType
from faststream.rabbit import RabbitBroker
from zumik_contracts.events import EVENT_TYPES, SCHEMA_VERSION_HEADER, OutboxEntry, TicketEvent
from zumik_contracts.topology import support_exchange
from zumik_messaging.broker import PUBLISH_TIMEOUT_SECONDS
from zumik_observability import tracing
from zumik_observability.logs import bind

log = logging.getLogger("zumik_api.events")

TRACEPARENT_HEADER = "traceparent"


class UnroutableEvent(Exception):
    """RabbitMQ returned the event (`mandatory`): no queue is bound for its type yet."""

    def __init__(self, event_type: str) -> None:
        super().__init__(f"no queue is bound for {event_type}")


class EventPublisher:
    def __init__(
        self,
        broker: RabbitBroker,
        before_start: Sequence[Callable[[RabbitBroker], Awaitable[None]]] = (),
    ) -> None:
        self.broker = broker
        self._before_start = before_start
        self._exchange: AbstractExchange | None = None
        for event_type in EVENT_TYPES:  # declared for the AsyncAPI document
            broker.publisher(
                exchange=support_exchange,
                routing_key=event_type,
                persist=True,
                mandatory=True,
                title=f"{support_exchange.name}:{event_type}",
                description=f"A `{event_type}` ticket event.",
                schema=TicketEvent,
            )

    async def connect(self) -> None:
        """Connect, declare the exchange and dead-letter queues, then start the subscribers."""
        await self.broker.connect()
        self._exchange = await self.broker.declare_exchange(support_exchange)
        for declare in self._before_start:
            await declare(self.broker)
        await self.broker.start()

    async def ping(self) -> bool:
        """Connected, with the channels restored (on whichever node), and the exchange known."""
        if self._exchange is None:
            return False
        try:
            return await self.broker.ping(timeout=1.0)
        except Exception:
            return False

    async def close(self) -> None:
        """Shutdown: a consumer whose start was cut short (the process stopping while it
        connected) fails to cancel; the connection closes all the same, and RabbitMQ requeues
        whatever it had not acknowledged."""
        try:
            await self.broker.stop()
        except Exception as error:
            log.warning("RabbitMQ connection closed uncleanly: %s", type(error).__name__)

    async def publish(self, entry: OutboxEntry) -> None:
        """Publish one outbox entry and wait for RabbitMQ's confirm, in a span that continues
        the trace of the request that caused the event (its `traceparent`, stored with it), and
        whose own context travels on as the message's `traceparent`."""
        event = entry.event
        attributes = {
            "messaging.system": "rabbitmq",
            "messaging.operation.type": "publish",
            "messaging.destination.name": support_exchange.name,
            "messaging.rabbitmq.destination.routing_key": event.type,
            "messaging.message.id": event.id,
            "zumik.ticket_id": event.data.ticket_id,
        }
        with (
            bind(event_id=event.id, ticket_id=event.data.ticket_id, project_id=event.project_id),
            tracing.continued_span(
                entry.traceparent,
                f"{support_exchange.name}.{event.type} publish",
                kind=tracing.SpanKind.PRODUCER,
                attributes=attributes,
            ),
        ):
            await self._publish(entry, tracing.current_traceparent() or entry.traceparent)

    async def _publish(self, entry: OutboxEntry, traceparent: str | None) -> None:
        if self._exchange is None:
            raise RuntimeError("connect() first")
        event = entry.event
        headers: HeadersType = {SCHEMA_VERSION_HEADER: event.schema_version}
        if traceparent is not None:
            headers[TRACEPARENT_HEADER] = traceparent
        message = aio_pika.Message(
            event.model_dump_json().encode(),
            message_id=event.id,
            content_type="application/json",
            headers=headers,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        try:
            # Bounded as a whole: a reconnecting channel waits for its connection before aio-pika's
            # own `timeout=` starts counting, and a silent network would hang it for good.
            async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
                await self._exchange.publish(message, routing_key=event.type, mandatory=True)
        except aio_pika.exceptions.PublishError:
            # Not chained: the returned message's repr would carry the body into tracebacks.
            raise UnroutableEvent(event.type) from None
