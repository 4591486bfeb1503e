"""Fixtures for the event tests: an ops queue bound to `zumik.support`, read with aio-pika."""

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue

from tests.amqp import support_tap, take_until
from tests.services import Services


class OpsQueue:
    """An exclusive queue bound with `#`, as an ops team would bind their own."""

    def __init__(self, queue: AbstractQueue) -> None:
        self.queue = queue

    async def next(self, wait_seconds: float = 10.0) -> AbstractIncomingMessage:
        return await take_until(self.queue, within=wait_seconds)

    async def messages_for(
        self, ticket_id: str, count: int, wait_seconds: float = 15.0
    ) -> list[AbstractIncomingMessage]:
        """The next `count` messages about `ticket_id`, skipping other tickets' events."""
        found: list[AbstractIncomingMessage] = []
        deadline = time.monotonic() + wait_seconds
        while len(found) < count:
            found.append(
                await take_until(
                    self.queue,
                    lambda m: json.loads(m.body)["data"]["ticket_id"] == ticket_id,
                    within=max(0.0, deadline - time.monotonic()),
                )
            )
        return found

    async def events_for(
        self, ticket_id: str, count: int, wait_seconds: float = 15.0
    ) -> list[dict[str, Any]]:
        messages = await self.messages_for(ticket_id, count, wait_seconds)
        return [json.loads(message.body) for message in messages]


@pytest.fixture
async def ops_queue(services: Services) -> AsyncIterator[OpsQueue]:
    async with support_tap(services.amqp_url, "ops") as queue:
        yield OpsQueue(queue)
