"""Every queue the services declare is a quorum queue.

A durable classic queue lives on one node: while that node is down, a client that fails over to
another node cannot re-declare it (404 NOT_FOUND, "home node ... is down"), and aio-pika's
recovery of the whole connection fails with it, so one classic queue pins a service to one node.
Quorum queues are replicated and elect a new leader within a fraction of a second.

Listed here: what each service's `declare` declares (with a broker that only records) and the
queue of every subscriber it registers. tests/integration/cluster lists the queues on a real
cluster after the API and the notifier ran on it.
"""

from typing import Any, cast

from faststream.rabbit import QueueType, RabbitBroker, RabbitExchange, RabbitQueue
from zumik_api.bootstrap import build_runtime
from zumik_api.consumers import billing
from zumik_api.settings import Settings as ApiSettings
from zumik_notifier import topology as notifier_topology
from zumik_notifier.app import build_notifier
from zumik_notifier.settings import Settings as NotifierSettings
from zumik_notifier.topology import ALL_CHANNELS
from zumik_privacy import topology as privacy_topology
from zumik_privacy.app import build_privacy
from zumik_privacy.settings import Settings as PrivacySettings

AMQP_URL = "amqp://guest:guest@rabbit-1:5672,rabbit-2:5672,rabbit-3:5672/"
MONGODB_URL = "mongodb://mongo:27017/zumik_support"  # never connected to


class _Declared:
    async def bind(self, *args: Any, **kwargs: Any) -> None:
        return None


class RecordingBroker:
    """Takes declarations and keeps the queues; connects to nothing."""

    def __init__(self) -> None:
        self.queues: list[RabbitQueue] = []

    async def declare_exchange(self, exchange: RabbitExchange) -> _Declared:
        return _Declared()

    async def declare_queue(self, queue: RabbitQueue) -> _Declared:
        self.queues.append(queue)
        return _Declared()


def subscribed(broker: RabbitBroker) -> list[RabbitQueue]:
    return [subscriber.queue for subscriber in broker.subscribers]  # type: ignore[attr-defined]


def classic(queues: list[RabbitQueue]) -> list[str]:
    return [
        queue.name
        for queue in queues
        if (queue.arguments or {}).get("x-queue-type") != "quorum" or not queue.durable
    ]


async def test_the_api_declares_only_quorum_queues() -> None:
    runtime = build_runtime(ApiSettings(amqp_url=AMQP_URL, mongodb_url=MONGODB_URL))
    recorder = RecordingBroker()
    await billing.declare(cast(RabbitBroker, recorder))
    queues = recorder.queues + subscribed(runtime.broker)
    assert {queue.name for queue in queues} == {
        "zumik.api.billing",
        "zumik.api.billing.delay",
        "zumik.api.billing.dead",
    }
    assert classic(queues) == []
    await runtime.client.close()


async def test_the_notifier_declares_only_quorum_queues() -> None:
    settings = NotifierSettings(amqp_url=AMQP_URL, mongodb_url=MONGODB_URL)
    notifier = build_notifier(settings, channels=ALL_CHANNELS)
    recorder = RecordingBroker()
    await notifier_topology.declare(cast(RabbitBroker, recorder), notifier.topology)
    queues = recorder.queues + subscribed(notifier.broker)
    prefix = settings.notifier_queue_prefix
    assert {queue.name for queue in queues} == {
        prefix,  # the events
        *(f"{prefix}.{channel}" for channel in ALL_CHANNELS),  # the work queues
        *(f"{prefix}.delay.{round(s * 1000)}ms" for s in settings.notifier_retry_delays),
        f"{prefix}.dead",
    }
    assert classic(queues) == []


async def test_the_privacy_service_declares_only_quorum_queues() -> None:
    settings = PrivacySettings(
        amqp_url=AMQP_URL, mongodb_url=MONGODB_URL, privacy_subject_salt="a-salt-of-16-chars"
    )
    service = build_privacy(settings)
    recorder = RecordingBroker()
    await privacy_topology.declare(cast(RabbitBroker, recorder), service.topology)
    queues = recorder.queues + subscribed(service.broker)
    prefix = settings.privacy_queue_prefix
    assert {queue.name for queue in queues} == {f"{prefix}.commands", f"{prefix}.dead"}
    assert classic(queues) == []


def test_a_classic_queue_is_caught() -> None:
    assert classic([RabbitQueue("plain", durable=True)]) == ["plain"]
    assert classic([RabbitQueue("q", queue_type=QueueType.QUORUM)]) == []
