"""Reading test queues with aio-pika: take messages off until one matches."""

import asyncio
import time
from collections.abc import Callable

from aio_pika.abc import AbstractIncomingMessage, AbstractQueue


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
