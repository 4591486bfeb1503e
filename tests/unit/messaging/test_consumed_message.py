"""The notifier's handlers get their message without a thread-pool hop per message."""

from typing import Any

import fast_depends.utils
import pytest
from faststream.rabbit import RabbitBroker, TestRabbitBroker
from faststream.rabbit.message import RabbitMessage
from zumik_messaging.consumed import ConsumedMessage


async def test_the_message_is_resolved_on_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    hops: list[Any] = []
    real = fast_depends.utils.run_in_threadpool

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(fast_depends.utils, "run_in_threadpool", counting)
    broker = RabbitBroker()
    received: list[RabbitMessage] = []

    @broker.subscriber("jobs")
    async def on_job(message: ConsumedMessage) -> None:
        received.append(message)

    async with TestRabbitBroker(broker) as test_broker:
        await test_broker.publish(b'{"id": "evt_1"}', queue="jobs")

    [message] = received
    assert isinstance(message, RabbitMessage)
    assert message.body == b'{"id": "evt_1"}'
    assert hops == []
