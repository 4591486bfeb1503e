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
from zumik_contracts.privacy import COMMAND_ROUTING_KEYS
from zumik_messaging.dead_letters import DeadLetters

from zumik_privacy.settings import Settings


@dataclass(frozen=True)
class Topology:
    exchange: RabbitExchange
    commands_queue: RabbitQueue
    dead_letters: DeadLetters

    @classmethod
    def from_settings(cls, settings: Settings) -> "Topology":
        prefix = settings.privacy_queue_prefix
        dead_letters = DeadLetters.named(
            prefix, ttl_seconds=settings.privacy_dead_letter_ttl_seconds
        )
        return cls(
            exchange=RabbitExchange(
                settings.privacy_exchange, type=ExchangeType.TOPIC, durable=True
            ),
            # The subscriber binds the first routing key; `declare` binds them all.
            commands_queue=RabbitQueue(
                f"{prefix}.commands",
                queue_type=QueueType.QUORUM,
                routing_key=COMMAND_ROUTING_KEYS[0],
                # Without a delivery limit, a command that crashes the service every time
                # would be redelivered forever.
                arguments=dead_letters.consumed_queue_arguments(
                    delivery_limit=settings.privacy_delivery_limit
                ),
            ),
            dead_letters=dead_letters,
        )

    @property
    def queues(self) -> list[RabbitQueue]:
        return [self.commands_queue, self.dead_letters.queue]

    @property
    def exchanges(self) -> list[RabbitExchange]:
        return [self.exchange, self.dead_letters.exchange]


async def declare(broker: RabbitBroker, topology: Topology) -> None:
    """Declare every exchange, queue and binding, before the consumer starts.

    Idempotent. The bindings of durable queues to durable exchanges are durable, and aio-pika
    restores them on reconnect.
    """
    exchange = await broker.declare_exchange(topology.exchange)
    await topology.dead_letters.declare(broker)
    commands = await broker.declare_queue(topology.commands_queue)
    for routing_key in COMMAND_ROUTING_KEYS:
        await commands.bind(exchange, routing_key=routing_key)
