"""Consumes `billing.plan_changed` from `zumik.billing`: a project's plan for new tickets.

Existing tickets keep the SLA snapshotted when they were opened. A change older than the one
last applied is ignored, so redeliveries and out-of-order deliveries are harmless.
"""

import logging

from faststream.rabbit import QueueType, RabbitBroker, RabbitQueue
from zumik_contracts.billing import PLAN_CHANGED, PlanChanged
from zumik_contracts.topology import billing_exchange

from zumik_api.service.plans import PlanChanges

log = logging.getLogger("zumik_api.billing")

BILLING_QUEUE = "zumik.api.billing"
BILLING_DEAD_LETTERS = "zumik.api.billing.dead"
DEAD_LETTER_TTL_MS = 7 * 24 * 3600 * 1000


class UnknownProject(Exception):
    pass


def billing_queue() -> RabbitQueue:
    return RabbitQueue(
        BILLING_QUEUE,
        queue_type=QueueType.QUORUM,
        durable=True,
        routing_key=PLAN_CHANGED,
        arguments={
            "x-delivery-limit": 5,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": BILLING_DEAD_LETTERS,
        },
    )


def dead_letter_queue() -> RabbitQueue:
    return RabbitQueue(
        BILLING_DEAD_LETTERS, durable=True, arguments={"x-message-ttl": DEAD_LETTER_TTL_MS}
    )


async def declare_dead_letters(broker: RabbitBroker) -> None:
    """Declared before the subscriber starts, so no rejected message is dropped."""
    await broker.declare_queue(dead_letter_queue())


def subscribe_plan_changes(broker: RabbitBroker, plan_changes: PlanChanges) -> None:
    """Malformed or unknown-plan messages fail validation and are rejected to the DLQ."""

    @broker.subscriber(billing_queue(), billing_exchange, title="zumik.api.billing:plan_changed")
    async def on_plan_changed(change: PlanChanged) -> None:
        applied = await plan_changes.apply(change.project_id, change.plan, change.occurred_at)
        if applied is None:
            log.warning("plan change %s names an unknown project", change.id)
            raise UnknownProject(change.project_id)
        log.info("plan change %s %s", change.id, "applied" if applied else "ignored (stale)")
