"""Settling a delivered command: ack, dead-letter, or requeue with a pause, never nothing."""

import json
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from zumik_contracts.privacy import PrivacyResult
from zumik_privacy.handling import CommandHandler, CommandProcessor, Outcome, RetryPolicy
from zumik_privacy.results import ResultPublisher, failed_result

BODY = json.dumps(
    {"id": "req-1", "type": "erase", "project_id": "prj_01m8x2v9c4k7q3w5e6r8t0y1z2"}
).encode()
COMPLETED = PrivacyResult(request_id="req-1", type="erase", status="completed")


@dataclass
class FakeMessage:
    body: bytes = BODY
    headers: dict[str, Any] = field(default_factory=dict)
    reply_to: str | None = "amq.rabbitmq.reply-to.abc"
    correlation_id: str | None = "req-1"
    settled: list[str] = field(default_factory=list)

    async def ack(self) -> None:
        self.settled.append("ack")

    async def reject(self, requeue: bool = False) -> None:
        self.settled.append(f"reject(requeue={requeue})")

    async def nack(self, requeue: bool = True) -> None:
        self.settled.append(f"nack(requeue={requeue})")


class FakeProcessor:
    def __init__(self, outcome: Outcome | Exception) -> None:
        self.outcome = outcome

    async def process(self, body: bytes) -> Outcome:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


class FakeResults:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[PrivacyResult, str | None]] = []
        self.fail = fail

    async def send(
        self, result: PrivacyResult, *, reply_to: str | None, correlation_id: str | None
    ) -> None:
        if self.fail:
            raise ConnectionError("RabbitMQ is away")
        self.sent.append((result, reply_to))


def handler(processor: FakeProcessor, results: FakeResults) -> CommandHandler:
    return CommandHandler(
        cast(CommandProcessor, processor),
        cast(ResultPublisher, results),
        RetryPolicy(delivery_limit=3, backoff_seconds=0.0, backoff_max_seconds=0.0),
    )


async def handle(message: FakeMessage, processor: FakeProcessor, results: FakeResults) -> None:
    await handler(processor, results).handle(cast(Any, message))


async def test_a_completed_command_is_answered_then_acked() -> None:
    message, results = FakeMessage(), FakeResults()

    await handle(message, FakeProcessor(Outcome(COMPLETED, dead_letter=False)), results)

    assert results.sent == [(COMPLETED, "amq.rabbitmq.reply-to.abc")]
    assert message.settled == ["ack"]


async def test_a_bad_command_is_answered_then_dead_lettered() -> None:
    message, results = FakeMessage(), FakeResults()
    failed = failed_result("req-1", "erase", None, "unknown_project", "No such project.")

    await handle(message, FakeProcessor(Outcome(failed, dead_letter=True)), results)

    assert results.sent == [(failed, "amq.rabbitmq.reply-to.abc")]
    assert message.settled == ["reject(requeue=False)"]


@pytest.mark.parametrize("count", [0, 1, 2])
async def test_a_transient_failure_is_requeued(count: int) -> None:
    message, results = FakeMessage(headers={"x-delivery-count": count}), FakeResults()

    await handle(message, FakeProcessor(TimeoutError()), results)

    assert results.sent == []
    assert message.settled == ["nack(requeue=True)"]


async def test_the_last_delivery_is_answered_internal_error_and_dead_lettered() -> None:
    message, results = FakeMessage(headers={"x-delivery-count": 3}), FakeResults()

    await handle(message, FakeProcessor(TimeoutError()), results)

    [(result, _)] = results.sent
    assert result.status == "failed"
    assert result.request_id == "req-1"
    assert result.error is not None
    assert result.error.code == "internal_error"
    assert "TimeoutError" in result.error.message
    assert message.settled == ["reject(requeue=False)"]


async def test_a_result_that_cannot_be_published_sends_the_command_round_again() -> None:
    message = FakeMessage()

    await handle(message, FakeProcessor(Outcome(COMPLETED, dead_letter=False)), FakeResults(True))

    assert message.settled == ["nack(requeue=True)"]


def test_the_pause_grows_and_is_capped() -> None:
    policy = RetryPolicy(delivery_limit=5, backoff_seconds=1.0, backoff_max_seconds=5.0)

    assert [policy.pause(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert not policy.is_last(5)
    assert policy.is_last(6)
