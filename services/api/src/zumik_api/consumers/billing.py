"""Consumes `billing.plan_changed` from `zumik.billing`: a project's plan for new tickets.

Every message is settled explicitly:
- applied (or older than the change last applied): acked;
- malformed, an unknown plan, or an unknown project: it can never apply, so it is rejected and
  dead-lettered (`zumik.api.billing.dlx` to `zumik.api.billing.dead`);
- anything else (the store unreachable, a busy project): it is parked in
  `zumik.api.billing.delay` for `RETRY_DELAY_SECONDS` (a TTL that dead-letters it back into the
  queue), then tried again, up to `MAX_ATTEMPTS` times before it is dead-lettered too. A pause
  holds no consumer slot, and a store outage never loses a plan change.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from faststream import AckPolicy
from faststream.rabbit import Channel, QueueType, RabbitBroker, RabbitMessage, RabbitQueue
from pydantic import ValidationError
from zumik_contracts.billing import PLAN_CHANGED, PlanChanged
from zumik_contracts.topology import billing_exchange
from zumik_messaging.consumed import ConsumedMessage, raw_body
from zumik_messaging.dead_letters import DeadLetters, at_least_once

from zumik_api.service.plans import PlanChanges, UnknownProject

log = logging.getLogger("zumik_api.billing")

BILLING_QUEUE = "zumik.api.billing"
DELAY_QUEUE = f"{BILLING_QUEUE}.delay"
DEAD_LETTER_TTL_SECONDS = 7 * 24 * 3600
DELIVERY_LIMIT = 5
PREFETCH = 8
RETRY_DELAY_SECONDS = 5.0
MAX_ATTEMPTS = 12  # about a minute of store outage; then it waits in the dead-letter queue
ATTEMPT_HEADER = "x-zumik-attempt"
# FastStream ignores `timeout=` on plain publishes: a silent connection would hold the handler
# (and its prefetch slot) for good. Past this, the handler fails and the message is redelivered.
RETRY_PUBLISH_SECONDS = 10.0

dead_letters = DeadLetters.named(BILLING_QUEUE, ttl_seconds=DEAD_LETTER_TTL_SECONDS)


def billing_queue() -> RabbitQueue:
    return RabbitQueue(
        BILLING_QUEUE,
        queue_type=QueueType.QUORUM,
        durable=True,
        routing_key=PLAN_CHANGED,
        arguments=dead_letters.consumed_queue_arguments(delivery_limit=DELIVERY_LIMIT),
    )


def delay_queue() -> RabbitQueue:
    """Where a change waits before its next attempt: expired, it goes back to the queue."""
    return RabbitQueue(
        DELAY_QUEUE,
        queue_type=QueueType.QUORUM,
        durable=True,
        arguments={
            "x-message-ttl": round(RETRY_DELAY_SECONDS * 1000),
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": BILLING_QUEUE,
            **at_least_once(),
        },
    )


async def declare(broker: RabbitBroker) -> None:
    """The dead-letter and delay queues, before the consumer starts."""
    await dead_letters.declare(broker)
    await broker.declare_queue(delay_queue())


Retry = Callable[[RabbitMessage, int], Awaitable[object]]
"""Publishes the message again, as attempt number n, into the delay queue."""


class PlanChangeHandler:
    """Settles each plan change explicitly (see the module)."""

    def __init__(self, plan_changes: PlanChanges, retry: Retry) -> None:
        self._plan_changes = plan_changes
        self._retry = retry

    async def handle(self, message: RabbitMessage) -> None:
        try:
            change = PlanChanged.model_validate_json(message.body)
        except ValidationError:
            log.warning("plan change %s is malformed; dead-lettered", message.message_id)
            await message.reject(requeue=False)
            return
        try:
            applied = await self._plan_changes.apply(change)
        except UnknownProject:
            log.warning("plan change %s names an unknown project; dead-lettered", change.id)
            await message.reject(requeue=False)
            return
        except Exception as error:
            await self._retry_later(message, change, error)
            return
        log.info("plan change %s %s", change.id, "applied" if applied else "ignored (stale)")
        await message.ack()

    async def _retry_later(
        self, message: RabbitMessage, change: PlanChanged, error: Exception
    ) -> None:
        attempt = _attempt(message) + 1
        why = type(error).__name__
        if attempt >= MAX_ATTEMPTS:
            log.warning(
                "plan change %s failed %d times (%s); dead-lettered", change.id, attempt, why
            )
            await message.reject(requeue=False)
            return
        try:
            await self._retry(message, attempt)
        except Exception:
            # The broker takes it back instead; the queue's delivery limit bounds that.
            await message.nack(requeue=True)
            return
        delay = RETRY_DELAY_SECONDS
        log.warning("plan change %s not applied (%s); retrying in %.0f s", change.id, why, delay)
        await message.ack()


def subscribe_plan_changes(broker: RabbitBroker, plan_changes: PlanChanges) -> None:
    retry = broker.publisher(
        routing_key=DELAY_QUEUE,
        persist=True,
        title=f"{DELAY_QUEUE}:retry",
        description="A plan change that could not be applied yet, waiting for its next attempt.",
        schema=PlanChanged,
    )

    async def publish_retry(message: RabbitMessage, attempt: int) -> object:
        async with asyncio.timeout(RETRY_PUBLISH_SECONDS):
            return await retry.publish(
                message.body,
                message_id=message.message_id,
                content_type="application/json",
                headers={ATTEMPT_HEADER: attempt},
            )

    handler = PlanChangeHandler(plan_changes, publish_retry)

    @broker.subscriber(
        billing_queue(),
        billing_exchange,
        channel=Channel(prefetch_count=PREFETCH),
        decoder=raw_body,
        ack_policy=AckPolicy.MANUAL,
        title="zumik.api.billing:plan_changed",
        description="Plan changes for new tickets; settled explicitly (see the module).",
    )
    async def on_plan_changed(message: ConsumedMessage) -> None:
        await handler.handle(message)


def _attempt(message: RabbitMessage) -> int:
    value = (message.headers or {}).get(ATTEMPT_HEADER, 0)
    return value if isinstance(value, int) else 0
