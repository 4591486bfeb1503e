"""The RabbitMQ topology of privacy commands, derived from Settings, and its declaration.

    zumik.privacy (topic) --privacy.export, privacy.erase--> P.commands (quorum)
        x-delivery-limit, dead-letters (at-least-once) to P.dlx
    P.dlx (fanout) --> P.dead (quorum, x-message-ttl: a command may hold an email, so dead
        letters are kept only so long)
    zumik.privacy <-- privacy.{export,erase}.{completed,failed}, privacy.command.failed (results)

P is the queue prefix, `zumik.privacy` in production. Results go to whoever binds a queue to
them; the service binds none, so an unobserved result is dropped (results hold no personal data,
and the command's sender also gets its reply).
"""

from dataclasses import dataclass

from faststream.rabbit import ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue
from faststream.rabbit.schemas.queue import QuorumQueueArgs
from zumik_contracts.privacy import COMMAND_ROUTING_KEYS

from zumik_privacy.settings import Settings


@dataclass(frozen=True)
class Topology:
    exchange: RabbitExchange
    commands_queue: RabbitQueue
    dead_letter_exchange: RabbitExchange
    dead_letter_queue: RabbitQueue

    @classmethod
    def from_settings(cls, settings: Settings) -> "Topology":
        prefix = settings.privacy_queue_prefix
        dlx = RabbitExchange(f"{prefix}.dlx", type=ExchangeType.FANOUT, durable=True)
        return cls(
            exchange=RabbitExchange(
                settings.privacy_exchange, type=ExchangeType.TOPIC, durable=True
            ),
            # The subscriber binds the first routing key; `declare` binds them all.
            commands_queue=RabbitQueue(
                f"{prefix}.commands",
                queue_type=QueueType.QUORUM,
                routing_key=COMMAND_ROUTING_KEYS[0],
                arguments=commands_queue_arguments(settings, dlx.name),
            ),
            dead_letter_exchange=dlx,
            dead_letter_queue=RabbitQueue(
                f"{prefix}.dead",
                queue_type=QueueType.QUORUM,
                arguments={"x-message-ttl": settings.privacy_dead_letter_ttl_seconds * 1000},
            ),
        )

    @property
    def queues(self) -> list[RabbitQueue]:
        return [self.commands_queue, self.dead_letter_queue]

    @property
    def exchanges(self) -> list[RabbitExchange]:
        return [self.exchange, self.dead_letter_exchange]


def commands_queue_arguments(settings: Settings, dead_letter_exchange: str) -> QuorumQueueArgs:
    return {
        # Quorum queues have no delivery limit before RabbitMQ 4: without one, a command that
        # crashes the service every time would be redelivered forever.
        "x-delivery-limit": settings.privacy_delivery_limit,
        "x-dead-letter-exchange": dead_letter_exchange,
        # Dead-lettering moves a message only once the dead-letter queue confirmed it, so a
        # rejected command is never lost in between (quorum queues, RabbitMQ >= 3.10; it
        # requires reject-publish overflow).
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


async def declare(broker: RabbitBroker, topology: Topology) -> None:
    """Declare every exchange, queue and binding, before the consumer starts.

    Idempotent. The bindings of durable queues to durable exchanges are durable, and aio-pika
    restores them on reconnect.
    """
    exchange = await broker.declare_exchange(topology.exchange)
    dlx = await broker.declare_exchange(topology.dead_letter_exchange)
    dead = await broker.declare_queue(topology.dead_letter_queue)
    await dead.bind(dlx, routing_key="")
    commands = await broker.declare_queue(topology.commands_queue)
    for routing_key in COMMAND_ROUTING_KEYS:
        await commands.bind(exchange, routing_key=routing_key)
