"""Reading test queues with aio-pika: take messages off until one matches."""

import asyncio
from collections.abc import Callable

from aio_pika.abc import AbstractIncomingMessage, AbstractQueue


async def take_until(
    queue: AbstractQueue,
    matches: Callable[[AbstractIncomingMessage], bool] = lambda _: True,
    *,
    poll_seconds: float = 0.02,
) -> AbstractIncomingMessage:
    """Ack each message taken; return the first that `matches`. The caller bounds the wait."""
    while True:
        message = await queue.get(fail=False)
        if message is None:
            await asyncio.sleep(poll_seconds)
            continue
        await message.ack()
        if matches(message):
            return message
