"""The one dead-letter topology every consumer uses.

    <prefix>.dlx (fanout) --> <prefix>.dead (quorum, x-message-ttl)

A consumed queue dead-letters to `<prefix>.dlx` after `x-delivery-limit` redeliveries, or when a
consumer rejects a message it can never handle. Dead-lettering is at-least-once (RabbitMQ >= 3.10,
quorum queues only): a message leaves for the dead-letter exchange only once the dead-letter
queue confirmed it, which needs `x-overflow: reject-publish`. Dead letters may hold personal data
(an email in a privacy command, a ticket event), so they expire after `ttl_seconds`.
"""

from dataclasses import dataclass

from faststream.rabbit import ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue
from faststream.rabbit.schemas.queue import QuorumQueueArgs


def at_least_once() -> QuorumQueueArgs:
    """Dead-lettering that loses nothing: only once the target queue confirmed the message."""
    return {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}


@dataclass(frozen=True)
class DeadLetters:
    exchange: RabbitExchange
    queue: RabbitQueue

    @classmethod
    def named(cls, prefix: str, *, ttl_seconds: int) -> "DeadLetters":
        return cls(
            exchange=RabbitExchange(f"{prefix}.dlx", type=ExchangeType.FANOUT, durable=True),
            queue=RabbitQueue(
                f"{prefix}.dead",
                queue_type=QueueType.QUORUM,
                arguments={"x-message-ttl": ttl_seconds * 1000},
            ),
        )

    def consumed_queue_arguments(self, *, delivery_limit: int) -> QuorumQueueArgs:
        """The arguments of a quorum queue whose failed messages end up here. Quorum queues
        have no delivery limit before RabbitMQ 4 (4.x defaults to 20): set it so a message that
        keeps failing is dead-lettered, not redelivered forever."""
        return {
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": self.exchange.name,
            **at_least_once(),
        }

    async def declare(self, broker: RabbitBroker) -> None:
        """Declared before any consumer starts, so no rejected message is dropped."""
        exchange = await broker.declare_exchange(self.exchange)
        queue = await broker.declare_queue(self.queue)
        await queue.bind(exchange, routing_key="")

    def describe(self) -> dict[str, object]:
        """For the AsyncAPI documents, which leave out queue types and arguments."""
        return {
            "dead-letter-exchange": {"name": self.exchange.name, "type": "fanout"},
            "dead-letter-queue": {
                "name": self.queue.name,
                "type": "quorum",
                "arguments": dict(self.queue.arguments or {}),
            },
        }
