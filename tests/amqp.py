"""Test queues with aio-pika: a tap on the support exchange, and taking messages off until one
matches."""

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from zumik_contracts.events import SUPPORT_EXCHANGE


@contextlib.asynccontextmanager
async def support_tap(amqp_url: str, name: str, binding: str = "#") -> AsyncIterator[AbstractQueue]:
    """An exclusive queue `test.<name>.<random>` bound to `zumik.support` with `binding`, gone
    with its connection when the block ends."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            SUPPORT_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(f"test.{name}.{secrets.token_hex(4)}", exclusive=True)
        await queue.bind(exchange, binding)
        yield queue
    finally:
        await connection.close()


async def take_until(
    queue: AbstractQueue,
    matches: Callable[[AbstractIncomingMessage], bool] = lambda _: True,
    *,
    within: float,
    poll_seconds: float = 0.02,
) -> AbstractIncomingMessage:
    """Ack each message taken; return the first that `matches`, or raise TimeoutError once
    `within` seconds have passed.

    The deadline is checked here, not left to `asyncio.timeout`: a cancellation that lands inside
    aio-pika's `basic.get` can be lost, and the wait then never ends (a CI run hung so).
    """
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        message = await queue.get(fail=False)
        if message is None:
            await asyncio.sleep(poll_seconds)
            continue
        await message.ack()
        if matches(message):
            return message
    raise TimeoutError(f"no matching message on {queue.name} within {within:.1f} s")
