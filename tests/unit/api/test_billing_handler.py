"""The billing consumer settles every plan change itself: applied ones are acked, impossible
ones dead-lettered, and ones that failed for now parked for a later attempt (no I/O)."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from faststream.rabbit import RabbitMessage
from zumik_api.consumers.billing import ATTEMPT_HEADER, MAX_ATTEMPTS, PlanChangeHandler
from zumik_api.service.plans import PlanChanges, UnknownProject
from zumik_contracts.billing import PlanChanged

CHANGE = PlanChanged(
    id="bil_1",
    occurred_at=datetime(2026, 11, 30, tzinfo=UTC),
    project_id="prj_01m8x2v9c4k7q3w5e6r8t0y1z2",
    plan="pilot",
)


@dataclass
class Message:
    body: bytes = CHANGE.model_dump_json().encode()
    headers: dict[str, Any] = field(default_factory=dict)
    message_id: str = "bil_1"
    settled: list[str] = field(default_factory=list)

    async def ack(self) -> None:
        self.settled.append("ack")

    async def reject(self, requeue: bool = False) -> None:
        self.settled.append(f"reject(requeue={requeue})")

    async def nack(self, requeue: bool = True) -> None:
        self.settled.append(f"nack(requeue={requeue})")


@dataclass
class Changes:
    outcome: bool | Exception = True
    seen: list[str] = field(default_factory=list)

    async def apply(self, change: PlanChanged) -> bool:
        self.seen.append(change.id)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


@dataclass
class Retries:
    fail: bool = False
    sent: list[int] = field(default_factory=list)

    async def __call__(self, message: RabbitMessage, attempt: int) -> object:
        if self.fail:
            raise ConnectionError("broker gone")
        self.sent.append(attempt)
        return None


async def _handle(changes: Changes, message: Message, retries: Retries | None = None) -> Retries:
    retries = retries or Retries()
    handler = PlanChangeHandler(cast(PlanChanges, changes), retries)
    await handler.handle(cast(RabbitMessage, message))
    return retries


async def test_an_applied_or_stale_change_is_acked() -> None:
    for outcome in (True, False):
        message = Message()
        await _handle(Changes(outcome), message)
        assert message.settled == ["ack"]


async def test_a_malformed_change_is_dead_lettered_without_being_applied() -> None:
    message, changes = Message(body=b'{"id": "bil_2", "plan": "platinum"}'), Changes()
    await _handle(changes, message)
    assert message.settled == ["reject(requeue=False)"]
    assert changes.seen == []


async def test_an_unknown_project_is_dead_lettered() -> None:
    message = Message()
    await _handle(Changes(UnknownProject(CHANGE.project_id)), message)
    assert message.settled == ["reject(requeue=False)"]


async def test_a_store_outage_parks_the_change_for_a_later_attempt() -> None:
    message = Message(headers={ATTEMPT_HEADER: 3})
    retries = await _handle(Changes(TimeoutError("store down")), message)
    assert retries.sent == [4]
    assert message.settled == ["ack"]  # acked only once it waits in the delay queue


async def test_a_change_that_keeps_failing_is_dead_lettered_in_the_end() -> None:
    message = Message(headers={ATTEMPT_HEADER: MAX_ATTEMPTS - 1})
    retries = await _handle(Changes(TimeoutError("store down")), message)
    assert retries.sent == []
    assert message.settled == ["reject(requeue=False)"]


async def test_when_the_delay_queue_cannot_take_it_the_broker_gets_it_back() -> None:
    message = Message()
    await _handle(Changes(TimeoutError("store down")), message, Retries(fail=True))
    assert message.settled == ["nack(requeue=True)"]
