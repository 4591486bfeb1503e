"""Stopping a broker closes its connection even when a consumer fails to cancel (its start was
cut short by the shutdown): FastStream's own stop raises before it closes anything."""

import secrets

import pytest
from faststream.rabbit import RabbitQueue
from zumik_messaging.connection import make_broker

from tests import services as service_resolution


async def test_a_consumer_that_fails_to_cancel_does_not_keep_the_connection_open(
    services: service_resolution.Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = make_broker(services.amqp_url)
    queue = RabbitQueue(f"zumik.test.stop.{secrets.token_hex(4)}", auto_delete=True)

    @broker.subscriber(queue)
    async def consume(_: bytes) -> None:  # pragma: no cover (nothing is published)
        pass

    await broker.start()
    connection = broker._connection
    assert connection is not None
    assert not connection.is_closed
    [subscriber] = broker.subscribers

    async def fails_to_cancel() -> None:
        raise ConnectionError("basic.cancel cut short")

    monkeypatch.setattr(subscriber, "stop", fails_to_cancel)
    with pytest.raises(ExceptionGroup):
        await broker.stop()
    assert connection.is_closed
    assert broker._connection is None
