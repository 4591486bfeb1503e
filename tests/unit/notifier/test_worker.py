"""The channel worker's decisions, with in-memory stand-ins for the log, the broker and the
channel (the real ones are exercised end to end in tests/integration/notifier)."""

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from faststream.rabbit import RabbitMessage
from pymongo.errors import ServerSelectionTimeoutError
from zumik_contracts.events import MessageRef, TicketEvent, TicketEventData
from zumik_deliveries.log import Claim, ClaimOutcome, DeliveryLog, DeliveryState
from zumik_notifier.channels import AttemptResult
from zumik_notifier.messaging import Failure, FailureKind, Publishers
from zumik_notifier.retry import RetryPolicy
from zumik_notifier.topology import ChannelName
from zumik_notifier.worker import ChannelWorker
from zumik_store.lease import Grant

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EVENT = TicketEvent(
    id="evt_1",
    type="ticket.created",
    occurred_at=NOW,
    project_id="prj_1",
    data=TicketEventData(
        ticket_id="spt_1",
        subject="s",
        status="open",
        priority="high",
        plan_tier="pilot",
        sla_tier="priority",
        priority_queue=True,
        message=MessageRef(id="spm_1", author="customer", preview="p"),
    ),
)
BODY = EVENT.model_dump_json().encode()
GRANT = Grant("evt_1:email", "token", NOW + timedelta(seconds=60), {})


def claimed(attempts: int = 0) -> Claim:
    return Claim(ClaimOutcome.CLAIMED, attempts, grant=GRANT)


@dataclass
class RawMessage:
    message_id: str | None = "evt_1:email:1"
    content_type: str | None = "application/json"


@dataclass
class Message:
    body: bytes = BODY
    headers: dict[str, Any] = field(default_factory=dict)
    raw_message: RawMessage = field(default_factory=RawMessage)
    acked: bool = False

    async def ack(self) -> None:
        self.acked = True


@dataclass
class Log:
    claim_result: Claim | Exception = field(default_factory=claimed)
    records: list[tuple[DeliveryState, int, int | None]] = field(default_factory=list)
    released: list[Grant] = field(default_factory=list)

    async def claim(self, event: TicketEvent, channel: ChannelName) -> Claim:
        if isinstance(self.claim_result, Exception):
            raise self.claim_result
        return self.claim_result

    async def record(self, grant: Grant, **fields: Any) -> None:
        assert grant is GRANT
        self.records.append((fields["state"], fields["attempts"], fields["last_status"]))

    async def release(self, grant: Grant) -> None:
        self.released.append(grant)


@dataclass
class Broker:
    retries: list[tuple[int, float]] = field(default_factory=list)
    dead: list[Failure] = field(default_factory=list)

    async def retry(
        self, channel: ChannelName, event: TicketEvent, body: bytes, attempt: int, delay: float
    ) -> None:
        assert body == BODY
        self.retries.append((attempt, delay))

    async def dead_letter(self, body: bytes, failure: Failure, **_: Any) -> None:
        assert body == BODY
        self.dead.append(failure)


@dataclass
class Channel:
    answers: list[AttemptResult]
    sent: int = 0

    async def send(self, event: TicketEvent, body: bytes) -> AttemptResult:
        self.sent += 1
        return self.answers.pop(0)


async def _handle(
    log: Log, answers: list[AttemptResult], attempt: int = 1
) -> tuple[Message, Broker, Channel]:
    broker, channel = Broker(), Channel(answers)
    worker = ChannelWorker(
        ChannelName.EMAIL,
        channel,
        cast(DeliveryLog, log),
        RetryPolicy(3, [0.2, 0.5, 1.0]),
        cast(Publishers, broker),
        clock=lambda: NOW,
    )
    message = Message(headers={"x-zumik-attempt": attempt})
    await worker.handle(cast(RabbitMessage, message))
    assert message.acked
    return message, broker, channel


async def test_success_is_recorded() -> None:
    log = Log(claim_result=claimed(attempts=2))
    _, broker, channel = await _handle(log, [AttemptResult(status=200)], attempt=3)
    assert channel.sent == 1
    assert log.records == [(DeliveryState.DELIVERED, 3, 200)]
    assert broker.retries == []
    assert broker.dead == []


async def test_transient_failure_schedules_the_next_attempt() -> None:
    log = Log()
    _, broker, _ = await _handle(log, [AttemptResult(status=503)], attempt=2)
    assert log.records == [(DeliveryState.RETRYING, 1, 503)]
    assert broker.retries == [(3, 0.5)]


async def test_last_attempt_dead_letters() -> None:
    log = Log()
    _, broker, _ = await _handle(log, [AttemptResult(error="timeout")], attempt=3)
    assert log.records == [(DeliveryState.DEAD_LETTERED, 1, None)]
    [failure] = broker.dead
    assert failure.kind is FailureKind.EXHAUSTED
    assert (failure.channel, failure.attempts, failure.last_status) == ("email", 3, "timeout")


async def test_permanent_failure_dead_letters_at_once() -> None:
    _, broker, _ = await _handle(Log(), [AttemptResult(status=422)])
    assert broker.retries == []
    assert [f.kind for f in broker.dead] == [FailureKind.REJECTED]


async def test_already_delivered_is_not_sent_again() -> None:
    log = Log(claim_result=Claim(ClaimOutcome.ALREADY_DELIVERED, attempts=1))
    _, broker, channel = await _handle(log, [])
    assert channel.sent == 0
    assert (log.records, broker.retries, broker.dead) == ([], [], [])


async def test_busy_elsewhere_looks_again_after_the_lease_without_spending_an_attempt() -> None:
    busy = Claim(ClaimOutcome.BUSY, busy_until=NOW + timedelta(seconds=0.4))
    _, broker, channel = await _handle(Log(claim_result=busy), [], attempt=2)
    assert channel.sent == 0
    assert broker.retries == [(2, 0.5)]


async def test_store_down_sends_nothing_and_retries() -> None:
    log = Log(claim_result=ServerSelectionTimeoutError("down"))
    _, broker, channel = await _handle(log, [])
    assert channel.sent == 0
    assert broker.retries == [(2, 0.2)]


async def test_malformed_job_is_dead_lettered() -> None:
    broker, channel = Broker(), Channel([])
    worker = ChannelWorker(
        ChannelName.WEBHOOK,
        channel,
        cast(DeliveryLog, Log()),
        RetryPolicy(3, [1.0]),
        cast(Publishers, broker),
    )
    message = Message(body=b"[]")
    broker_dead: list[Failure] = []

    async def dead_letter(body: bytes, failure: Failure, **_: Any) -> None:
        broker_dead.append(failure)

    broker.dead_letter = dead_letter  # type: ignore[method-assign]
    await worker.handle(cast(RabbitMessage, message))
    assert message.acked
    assert channel.sent == 0
    assert [(f.kind, f.channel) for f in broker_dead] == [(FailureKind.MALFORMED, "webhook")]


class Gate:
    """A channel whose sends wait until `open()`; each is then delivered (200)."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self._open = asyncio.Event()
        self.sent = 0

    def open(self) -> None:
        self._open.set()

    async def send(self, event: TicketEvent, body: bytes) -> AttemptResult:
        self.started.set()
        await self._open.wait()
        self.sent += 1
        return AttemptResult(status=200)


class DeliveredOnce(Log):
    """A log that knows a delivery recorded as delivered (as the real one does)."""

    async def claim(self, event: TicketEvent, channel: ChannelName) -> Claim:
        if any(state is DeliveryState.DELIVERED for state, _, _ in self.records):
            return Claim(ClaimOutcome.ALREADY_DELIVERED, attempts=1)
        return claimed()


def _worker(channel: Any, log: Log) -> ChannelWorker:
    return ChannelWorker(
        ChannelName.WEBHOOK,
        channel,
        cast(DeliveryLog, log),
        RetryPolicy(3, [1.0]),
        cast(Publishers, Broker()),
        clock=lambda: NOW,
    )


async def test_a_lost_connection_does_not_cut_a_delivery_short() -> None:
    """A lost connection cancels the consumer mid-send (aiormq cancels its consumers' tasks):
    the request may already be at the endpoint, so the delivery goes on and is recorded; the
    redelivered job, arriving while it is still under way, waits for it and sends nothing."""
    gate, log = Gate(), DeliveredOnce()
    worker = _worker(gate, log)
    first = Message()
    consumer = asyncio.create_task(worker.handle(cast(RabbitMessage, first)))
    await asyncio.wait_for(gate.started.wait(), 5)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert not first.acked  # the broker redelivers it

    redelivered = Message()
    again = asyncio.create_task(worker.handle(cast(RabbitMessage, redelivered)))
    await asyncio.sleep(0.01)
    assert not again.done()  # waiting for the delivery still under way
    gate.open()
    await asyncio.wait_for(again, 5)
    assert gate.sent == 1
    assert log.records == [(DeliveryState.DELIVERED, 1, 200)]
    assert log.released == []
    assert redelivered.acked


async def test_shutdown_gives_an_unfinished_delivery_back() -> None:
    """At shutdown (`abort`, once the consumers stopped) a send still hanging is cancelled and
    its claim released, so the redelivered job takes it over at once rather than racing another
    retry for it after the lease."""

    class Hanging:
        async def send(self, event: TicketEvent, body: bytes) -> AttemptResult:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    log = Log()
    worker = _worker(Hanging(), log)
    message = Message()
    task = asyncio.create_task(worker.handle(cast(RabbitMessage, message)))
    await asyncio.sleep(0.01)
    task.cancel()  # the consumer stops
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log.released == []  # the delivery goes on ...
    await asyncio.wait_for(worker.abort(), 5)  # ... until shutdown
    assert log.released == [GRANT]
    assert log.records == []
    assert not message.acked
