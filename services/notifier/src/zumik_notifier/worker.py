"""The two kinds of consumers, as plain classes (the FastStream wiring is in `app.py`).

`EventRouter` reads `zumik.notifier`: it validates each event, drops what the team need not hear
about, and fans the rest out as one job per enabled channel. `ChannelWorker` reads one channel's
work queue and makes one delivery attempt per message; a transient failure becomes a new message in
a delay queue, a final one a dead letter. Nothing sleeps in a consumer, and a slow or failing
channel never holds back, or repeats, the other one.

Acknowledgement is manual: each message is acked only after everything it led to (jobs, retries,
dead letters) was confirmed by RabbitMQ. A crash in between redelivers it, and the delivery log
turns the redelivery into a no-op once the channel succeeded.

Logs carry ids, event types, channels, outcomes and statuses: never addresses, subjects, previews,
URLs or secrets. Every line logged while a message is handled has its `event_id`, `ticket_id`
and `project_id` as fields (and the trace's `trace_id`, continued from the request that caused
the event); each delivery attempt is a span of that trace.
"""

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from faststream.rabbit import RabbitMessage
from pymongo.errors import PyMongoError
from zumik_contracts.events import TicketEvent
from zumik_deliveries.log import Claim, ClaimOutcome, DeliveryLog, DeliveryState
from zumik_observability import tracing
from zumik_observability.logs import bind
from zumik_store.clock import Clock, utc_now
from zumik_store.lease import Grant

from zumik_notifier.channels import AttemptResult, NotificationChannel
from zumik_notifier.events import MalformedEvent, parse_event, wanted_by
from zumik_notifier.messaging import ATTEMPT_HEADER, Failure, FailureKind, Publishers
from zumik_notifier.metrics import NotifierMetrics
from zumik_notifier.retry import Decision, RetryPolicy, Verdict
from zumik_notifier.topology import ChannelName

log = logging.getLogger("zumik_notifier")


async def settle_on_error(message: RabbitMessage, handle: Callable[[], Awaitable[None]]) -> None:
    """Run a handler; if it fails unexpectedly (e.g. RabbitMQ refused a publish), requeue.

    Under manual acking an exception would leave the message unacked until the channel closes.
    Requeueing is bounded: the queue's x-delivery-limit dead-letters a message that keeps failing.
    """
    try:
        await handle()
    except Exception as error:
        log.warning(
            "message %s requeued after %s", message.raw_message.message_id, type(error).__name__
        )
        try:
            await message.nack(requeue=True)
        except Exception:
            log.warning("could not requeue message %s", message.raw_message.message_id)


async def _dead_letter_malformed(
    publishers: Publishers,
    message: RabbitMessage,
    error: MalformedEvent,
    channel: ChannelName | None = None,
) -> None:
    failure = Failure(FailureKind.MALFORMED, error.detail, channel=channel)
    await publishers.dead_letter(
        message.body,
        failure,
        message_id=message.raw_message.message_id,
        content_type=message.raw_message.content_type,
    )
    log.warning(
        "dead-lettered malformed message %s: %s", message.raw_message.message_id, failure.reason
    )


def _context(event: TicketEvent) -> dict[str, str]:
    return {
        "event_id": event.id,
        "event_type": event.type,
        "ticket_id": event.data.ticket_id,
        "project_id": event.project_id,
    }


class EventRouter:
    def __init__(
        self,
        publishers: Publishers,
        channels: Sequence[ChannelName],
        metrics: NotifierMetrics | None = None,
    ) -> None:
        self._publishers = publishers
        self._channels = tuple(channels)
        self._metrics = metrics

    async def handle(self, message: RabbitMessage) -> None:
        try:
            event = parse_event(message.body)
        except MalformedEvent as error:
            await _dead_letter_malformed(self._publishers, message, error)
            if self._metrics is not None:
                self._metrics.dead_letters.labels("none").inc()
            await message.ack()
            return
        with bind(**_context(event)):
            await self._route(event, message)

    async def _route(self, event: TicketEvent, message: RabbitMessage) -> None:
        channels = [channel for channel in self._channels if wanted_by(event, channel)]
        if channels:
            for channel in channels:
                await self._publishers.job(channel, event, message.body)
            log.info(
                "event %s %s ticket=%s queued for %s",
                event.id,
                event.type,
                event.data.ticket_id,
                ",".join(channels),
            )
        else:
            log.debug(
                "event %s %s ticket=%s: nothing to notify",
                event.id,
                event.type,
                event.data.ticket_id,
            )
        await message.ack()


@dataclass(frozen=True)
class _Attempted:
    """What `ChannelWorker._deliver` did: the claim (None: the store was unreachable) and, when
    there was an attempt (or the store failed), its result and what it leads to."""

    claim: Claim | None
    result: AttemptResult | None = None
    decision: Decision | None = None


class ChannelWorker:
    """One channel's deliveries.

    A lost connection cancels the tasks of its consumers (aiormq does, on every channel it
    closes), mid-delivery perhaps. A delivery cut short after its request went out, then sent
    again by the redelivered job, would arrive twice; one cut short between its claim and its
    send would leave the claim to expire first. So the delivery itself (claim, send, record) runs
    to its end whatever happens to the consumer, bounded by the store's and the HTTP client's
    timeouts; only its channel part (retry or dead letter, then the ack) goes with the consumer.
    The redelivered job then finds the delivery done, or waits here for the attempt still under
    way (rather than finding it busy and looking again after the lease). `abort()` at shutdown
    cancels what is still running and gives the claims back.
    """

    def __init__(
        self,
        channel: ChannelName,
        sender: NotificationChannel,
        deliveries: DeliveryLog,
        policy: RetryPolicy,
        publishers: Publishers,
        clock: Clock = utc_now,
        metrics: NotifierMetrics | None = None,
    ) -> None:
        self.channel = channel
        self._sender = sender
        self._deliveries = deliveries
        self._policy = policy
        self._publishers = publishers
        self._clock = clock
        self._running: dict[str, asyncio.Task[_Attempted]] = {}  # by event id
        self._metrics = metrics

    async def handle(self, message: RabbitMessage) -> None:
        try:
            event = parse_event(message.body)
        except MalformedEvent as error:
            await _dead_letter_malformed(self._publishers, message, error, self.channel)
            self._count("malformed")
            await message.ack()
            return
        with bind(**_context(event), channel=self.channel.value):
            await self._handle(event, message)
        if self._metrics is not None:
            lag = (self._clock() - event.occurred_at).total_seconds()
            self._metrics.lag_seconds.labels(self.channel.value).observe(max(lag, 0.0))

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.deliveries.labels(self.channel.value, outcome).inc()

    async def _handle(self, event: TicketEvent, message: RabbitMessage) -> None:
        attempt = attempt_number(message.headers)
        earlier = self._running.get(event.id)
        if earlier is not None:
            # A redelivery of a job whose consumer was cancelled (a lost connection) while its
            # delivery went on here: its outcome decides, not a claim that looks busy.
            await asyncio.wait([earlier])
        delivery = asyncio.ensure_future(self._deliver(event, message.body, attempt))
        self._running[event.id] = delivery
        delivery.add_done_callback(functools.partial(self._forget, event.id))
        done = await asyncio.shield(delivery)  # cancelling the consumer does not stop it

        outcome = None if done.claim is None else done.claim.outcome
        if outcome is ClaimOutcome.ALREADY_DELIVERED:
            self._count("duplicate")
            self._log(event, "duplicate skipped (already delivered)", attempt)
        elif outcome is ClaimOutcome.BUSY:
            # Another worker is sending this very delivery. Look again once its lease ends: if it
            # succeeded this is dropped then, if it crashed this takes over. Not an attempt.
            assert done.claim is not None
            assert done.claim.busy_until is not None
            wait = (done.claim.busy_until - self._clock()).total_seconds()
            delay = self._policy.level_at_least(wait)
            await self._publishers.retry(self.channel, event, message.body, attempt, delay)
            self._count("busy")
            self._log(event, f"busy elsewhere, looking again in {delay:g}s", attempt)
        else:
            # Attempted; or the store was unreachable: without the log there is no knowing
            # whether it was sent already, so it was not sent now. That counts as an attempt
            # too: a long store outage ends in the dead letters, not a loop.
            assert done.result is not None
            assert done.decision is not None
            await self._conclude(event, message.body, attempt, done.result, done.decision)
        await message.ack()

    async def abort(self) -> None:
        """Shutdown, once the consumers stopped: cancel the deliveries still under way (their
        claims are given back, see `_send`) and wait for them."""
        running = list(self._running.values())
        for delivery in running:
            delivery.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    def _forget(self, event_id: str, delivery: asyncio.Task[_Attempted]) -> None:
        if self._running.get(event_id) is delivery:
            del self._running[event_id]
        if not delivery.cancelled() and (error := delivery.exception()) is not None:
            # Also seen by the consumer if it still waits; otherwise only here.
            log.warning("%s delivery %s failed: %s", self.channel, event_id, type(error).__name__)

    async def _deliver(self, event: TicketEvent, body: bytes, attempt: int) -> _Attempted:
        """Claim, send and record: the part of a job that runs to its end (see the class)."""
        try:
            claim = await self._deliveries.claim(event, self.channel)
        except PyMongoError:
            result = AttemptResult(error="store_unavailable")
            return _Attempted(None, result, self._policy.decide(result, attempt))
        if claim.outcome is not ClaimOutcome.CLAIMED:
            return _Attempted(claim)
        assert claim.grant is not None
        result = await self._send(event, body, claim.grant)
        decision = self._policy.decide(result, attempt)
        await self._record(event, claim.grant, claim.attempts + 1, result, decision)
        return _Attempted(claim, result, decision)

    async def _send(self, event: TicketEvent, body: bytes, grant: Grant) -> AttemptResult:
        """One attempt. Cancelled (by `abort` at shutdown), it gives the delivery back, so the
        redelivered message sends it once instead of waiting for the claim to expire and racing
        another retry for it."""
        attributes = {
            "zumik.channel": self.channel.value,
            "zumik.event_id": event.id,
            "zumik.event_type": event.type,
            "zumik.ticket_id": event.data.ticket_id,
        }
        started = self._now()
        try:
            with tracing.span(
                f"{self.channel.value} deliver", kind=tracing.SpanKind.CLIENT, attributes=attributes
            ) as span:
                result = await self._sender.send(event, body)
                span.set_attribute("zumik.outcome", result.describe())
                if result.status is not None:
                    span.set_attribute("http.response.status_code", result.status)
            return result
        except asyncio.CancelledError:
            try:
                await asyncio.shield(self._deliveries.release(grant))
            except Exception as error:  # the claim then expires on its own
                log.warning(
                    "%s delivery %s not released: %s", self.channel, event.id, type(error).__name__
                )
            raise
        finally:
            if self._metrics is not None:
                self._metrics.attempt_seconds.labels(self.channel.value).observe(
                    self._now() - started
                )

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    async def _record(
        self,
        event: TicketEvent,
        grant: Grant,
        attempts: int,
        result: AttemptResult,
        decision: Decision,
    ) -> None:
        state = {
            Verdict.DELIVERED: DeliveryState.DELIVERED,
            Verdict.RETRY: DeliveryState.RETRYING,
        }.get(decision.verdict, DeliveryState.DEAD_LETTERED)
        try:
            await self._deliveries.record(
                grant,
                state=state,
                attempts=attempts,
                last_status=result.status,
                last_error=result.error,
            )
        except PyMongoError as error:
            # The attempt happened and is not undone. The entry stays claimed until its lease
            # ends; a redelivery after that may send again, which the idempotency keys absorb.
            log.warning(
                "%s delivery log not updated for event %s: %s",
                self.channel,
                event.id,
                type(error).__name__,
            )

    async def _conclude(
        self,
        event: TicketEvent,
        body: bytes,
        attempt: int,
        result: AttemptResult,
        decision: Decision,
    ) -> None:
        outcome = result.describe()
        if decision.verdict is Verdict.DELIVERED:
            self._count("delivered")
            self._log(event, f"delivered ({outcome})", attempt)
        elif decision.verdict is Verdict.RETRY:
            assert decision.delay is not None
            await self._publishers.retry(self.channel, event, body, attempt + 1, decision.delay)
            self._count("retry")
            if self._metrics is not None:
                self._metrics.retries.labels(self.channel.value).inc()
            self._log(event, f"failed ({outcome}), retry in {decision.delay:g}s", attempt)
        else:
            detail = (
                f"{outcome} is not retried"
                if decision.verdict is Verdict.REJECTED
                else f"gave up after {attempt} attempts"
            )
            failure = Failure(
                FailureKind(decision.verdict.value),
                detail,
                channel=self.channel,
                attempts=attempt,
                last_status=outcome,
            )
            await self._publishers.dead_letter(
                body, failure, message_id=event.id, content_type="application/json"
            )
            self._count("dead_lettered")
            if self._metrics is not None:
                self._metrics.dead_letters.labels(self.channel.value).inc()
            self._log(event, f"dead-lettered ({failure.reason})", attempt, logging.WARNING)

    def _log(
        self, event: TicketEvent, outcome: str, attempt: int, level: int = logging.INFO
    ) -> None:
        log.log(
            level,
            "%s event=%s type=%s ticket=%s attempt=%d: %s",
            self.channel,
            event.id,
            event.type,
            event.data.ticket_id,
            attempt,
            outcome,
        )


def attempt_number(headers: dict[str, Any]) -> int:
    try:
        return max(1, int(headers.get(ATTEMPT_HEADER, 1)))
    except (TypeError, ValueError):
        return 1
