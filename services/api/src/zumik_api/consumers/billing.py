"""Consumes `billing.plan_changed` from `zumik.billing`: a project's plan for new tickets.

Malformed or unknown-plan messages fail validation, and a change naming an unknown project is
refused: both are dead-lettered (`zumik.api.billing.dead`, through `zumik.api.billing.dlx`).
"""

import logging

from faststream.rabbit import QueueType, RabbitBroker, RabbitQueue
from zumik_contracts.billing import PLAN_CHANGED, PlanChanged
from zumik_contracts.topology import billing_exchange
from zumik_messaging.dead_letters import DeadLetters

from zumik_api.service.plans import PlanChanges

log = logging.getLogger("zumik_api.billing")

BILLING_QUEUE = "zumik.api.billing"
DEAD_LETTER_TTL_SECONDS = 7 * 24 * 3600
DELIVERY_LIMIT = 5

dead_letters = DeadLetters.named(BILLING_QUEUE, ttl_seconds=DEAD_LETTER_TTL_SECONDS)


def billing_queue() -> RabbitQueue:
    return RabbitQueue(
        BILLING_QUEUE,
        queue_type=QueueType.QUORUM,
        durable=True,
        routing_key=PLAN_CHANGED,
        arguments=dead_letters.consumed_queue_arguments(delivery_limit=DELIVERY_LIMIT),
    )


def subscribe_plan_changes(broker: RabbitBroker, plan_changes: PlanChanges) -> None:
    @broker.subscriber(billing_queue(), billing_exchange, title="zumik.api.billing:plan_changed")
    async def on_plan_changed(change: PlanChanged) -> None:
        applied = await plan_changes.apply(change)
        log.info("plan change %s %s", change.id, "applied" if applied else "ignored (stale)")
