"""RabbitMQ helpers: a sink queue bound to `zumik.support` (so `mandatory` publishes route, as
they do when ops or the notifier are bound), and the broker's version."""

import contextlib
from collections.abc import AsyncIterator

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection
from zumik_contracts.events import SUPPORT_EXCHANGE

SINK_QUEUE = "zumik.bench.sink"
SINK_MAX_LENGTH = 200_000


async def support_exchange(channel: AbstractChannel) -> AbstractExchange:
    return await channel.declare_exchange(
        SUPPORT_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
    )


@contextlib.asynccontextmanager
async def connection(amqp_url: str) -> AsyncIterator[AbstractRobustConnection]:
    conn = await aio_pika.connect_robust(amqp_url, timeout=10)
    try:
        yield conn
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def sink_queue(amqp_url: str) -> AsyncIterator[str]:
    """A durable quorum queue bound with `#`, like an ops queue; deleted afterwards."""
    async with connection(amqp_url) as conn:
        channel = await conn.channel()
        exchange = await support_exchange(channel)
        queue = await channel.declare_queue(
            SINK_QUEUE,
            durable=True,
            arguments={"x-queue-type": "quorum", "x-max-length": SINK_MAX_LENGTH},
        )
        await queue.bind(exchange, "#")
        try:
            yield SINK_QUEUE
        finally:
            with contextlib.suppress(Exception):
                await queue.delete(if_unused=False, if_empty=False)


async def rabbitmq_version(amqp_url: str) -> str:
    try:
        conn = await aio_pika.connect(amqp_url, timeout=10)
    except Exception:
        return "unreachable"
    try:
        assert conn.transport is not None
        properties = conn.transport.connection.server_properties
        version = properties.get("version", b"?")
        return version.decode() if isinstance(version, bytes) else str(version)
    finally:
        await conn.close()
