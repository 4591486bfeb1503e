"""The RabbitMQ topology the notifier owns, derived from Settings, and its declaration.

    zumik.support (topic, shared) --ticket.created|message_added|sla_breached--> P (quorum)
    P.work (direct) --"email"--> P.email (quorum)      --"webhook"--> P.webhook (quorum)
    P.delay (headers) --zumik-delay=<ms>ms--> P.delay.<ms>ms (quorum, x-message-ttl)
        ...expired: dead-lettered to P.work, keeping the routing key, so back to its channel queue
    P.dlx (fanout) --> P.dead (quorum, x-message-ttl: personal data in it is kept only so long)

P is the queue prefix, `zumik.notifier` in production. One delay queue per level: every message in
a level's queue has the same TTL, so one at the head never holds back a shorter one behind it.
The levels are shared by all channels because dead-lettering keeps the routing key (the channel).
A delay queue is named after its delay, so changing the levels creates new queues rather than
clashing with the arguments of existing ones.
"""

from dataclasses import dataclass
from enum import StrEnum

from faststream.rabbit import ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue
from zumik_contracts.topology import support_exchange
from zumik_messaging.dead_letters import DeadLetters, at_least_once

from zumik_notifier.settings import Settings

# The events the team hears about. ticket.message_added is filtered further: customer messages only.
NOTIFIED_EVENT_TYPES: tuple[str, ...] = (
    "ticket.created",
    "ticket.message_added",
    "ticket.sla_breached",
)

# The events queue takes every event type and the router drops the ones nobody is notified of.
# Then, once the notifier has started, no event is ever unroutable on `zumik.support`: the API's
# relay retries an unroutable event, holding back the ticket's later ones to keep their order,
# so a type no queue was bound for would stall that ticket's notifications indefinitely.
EVENTS_BINDING = "#"

# Not `x-` prefixed: a headers exchange ignores `x-` headers unless bound with `all-with-x`.
DELAY_HEADER = "zumik-delay"


class ChannelName(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"
    CUSTOMER_EMAIL = "customer_email"


ALL_CHANNELS: tuple[ChannelName, ...] = (
    ChannelName.EMAIL,
    ChannelName.WEBHOOK,
    ChannelName.CUSTOMER_EMAIL,
)
TEAM_CHANNELS: frozenset[ChannelName] = frozenset({ChannelName.EMAIL, ChannelName.WEBHOOK})


def delay_label(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


@dataclass(frozen=True)
class DelayLevel:
    seconds: float
    queue: RabbitQueue

    @property
    def label(self) -> str:
        return delay_label(self.seconds)


@dataclass(frozen=True)
class Topology:
    events_queue: RabbitQueue
    work_exchange: RabbitExchange
    work_queues: dict[ChannelName, RabbitQueue]
    delay_exchange: RabbitExchange
    delay_levels: tuple[DelayLevel, ...]
    dead_letters: DeadLetters

    @classmethod
    def from_settings(cls, settings: Settings) -> "Topology":
        prefix = settings.notifier_queue_prefix
        dead_letters = DeadLetters.named(
            prefix, ttl_seconds=settings.notifier_dead_letter_ttl_seconds
        )
        work = RabbitExchange(f"{prefix}.work", type=ExchangeType.DIRECT, durable=True)
        # A message that keeps failing (e.g. RabbitMQ refusing our publishes) is dead-lettered,
        # not looped.
        consumed = dead_letters.consumed_queue_arguments(
            delivery_limit=settings.notifier_delivery_limit
        )
        return cls(
            events_queue=RabbitQueue(
                prefix,
                queue_type=QueueType.QUORUM,
                routing_key=EVENTS_BINDING,
                arguments=consumed.copy(),
            ),
            work_exchange=work,
            work_queues={
                channel: RabbitQueue(
                    f"{prefix}.{channel}",
                    queue_type=QueueType.QUORUM,
                    routing_key=channel.value,
                    arguments=consumed.copy(),
                )
                for channel in ALL_CHANNELS
            },
            delay_exchange=RabbitExchange(
                f"{prefix}.delay", type=ExchangeType.HEADERS, durable=True
            ),
            delay_levels=tuple(
                DelayLevel(
                    seconds,
                    RabbitQueue(
                        f"{prefix}.delay.{delay_label(seconds)}",
                        queue_type=QueueType.QUORUM,
                        arguments={
                            "x-message-ttl": round(seconds * 1000),
                            # No x-dead-letter-routing-key: the channel's routing key is kept.
                            "x-dead-letter-exchange": work.name,
                            **at_least_once(),
                        },
                        bind_arguments={"x-match": "all", DELAY_HEADER: delay_label(seconds)},
                    ),
                )
                for seconds in settings.notifier_retry_delays
            ),
            dead_letters=dead_letters,
        )

    @property
    def queues(self) -> list[RabbitQueue]:
        """Every queue the notifier owns (tests delete them all)."""
        return [
            self.events_queue,
            *self.work_queues.values(),
            *(level.queue for level in self.delay_levels),
            self.dead_letters.queue,
        ]

    @property
    def exchanges(self) -> list[RabbitExchange]:
        """Every exchange the notifier owns; `zumik.support` is shared and not among them."""
        return [self.work_exchange, self.delay_exchange, self.dead_letters.exchange]


async def declare(broker: RabbitBroker, topology: Topology) -> None:
    """Declare every exchange, queue and binding, before any consumer or publisher starts.

    Declarations are idempotent. Bindings of durable queues to durable exchanges are durable too, so
    a binding added here survives broker restarts; aio-pika also restores it on reconnect.
    """
    support = await broker.declare_exchange(support_exchange)
    work = await broker.declare_exchange(topology.work_exchange)
    delay = await broker.declare_exchange(topology.delay_exchange)
    await topology.dead_letters.declare(broker)

    events = await broker.declare_queue(topology.events_queue)
    await events.bind(support, routing_key=EVENTS_BINDING)

    for channel, queue in topology.work_queues.items():
        declared = await broker.declare_queue(queue)
        await declared.bind(work, routing_key=channel.value)

    for level in topology.delay_levels:
        declared = await broker.declare_queue(level.queue)
        await declared.bind(delay, routing_key="", arguments=level.queue.bind_arguments)
