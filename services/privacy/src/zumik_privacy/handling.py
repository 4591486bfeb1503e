"""From a delivered command to its settled message.

- A good command runs (export or erase); its result is published, then the message is acked.
- A bad command (see `commands.BadCommand`) touched nothing: its `failed` result is published,
  then the message is rejected without requeue, so RabbitMQ dead-letters it.
- Any other error (MongoDB unreachable, a ticket held by the API for too long, ...) is
  transient: the message is requeued after a growing pause, and the redelivered command resumes
  where its claim says. On the last delivery the queue's `x-delivery-limit` allows, the command
  is answered `internal_error` and dead-lettered instead of looping forever.

The subscriber acks manually (FastStream's MANUAL policy acks nothing on an exception), so every
path here ends in exactly one ack, reject or nack.
"""

import asyncio
import logging
import time
from dataclasses import dataclass

from faststream.rabbit import RabbitMessage
from zumik_contracts.privacy import PrivacyResult
from zumik_observability.logs import bind

from zumik_privacy.audit import audit_attempt, audit_result
from zumik_privacy.commands import BadCommand, parse_command, read_identity
from zumik_privacy.erasure import Eraser
from zumik_privacy.exports import Exporter
from zumik_privacy.results import ResultPublisher, failed_result

log = logging.getLogger("zumik_privacy")

DELIVERY_COUNT_HEADER = "x-delivery-count"  # set by quorum queues on redeliveries


@dataclass(frozen=True)
class Outcome:
    result: PrivacyResult
    dead_letter: bool  # a bad command: answered, then dead-lettered


class CommandProcessor:
    """Runs one command. Raises only for transient failures."""

    def __init__(self, exporter: Exporter, eraser: Eraser) -> None:
        self._exporter = exporter
        self._eraser = eraser

    async def process(self, body: bytes) -> Outcome:
        try:
            command = parse_command(body)
            if command.type == "export":
                exported = await self._exporter.run(command)
                result = PrivacyResult(
                    request_id=command.id,
                    type="export",
                    status="completed",
                    project_id=command.project_id,
                    replayed=exported.replayed,
                    export=exported.reference,
                )
            else:
                erased = await self._eraser.run(command)
                result = PrivacyResult(
                    request_id=command.id,
                    type="erase",
                    status="completed",
                    project_id=command.project_id,
                    replayed=erased.replayed,
                    receipt=erased.receipt,
                )
        except BadCommand as bad:
            failed = failed_result(
                bad.request_id, bad.command_type, bad.project_id, bad.code, bad.message
            )
            return Outcome(failed, dead_letter=True)
        return Outcome(result, dead_letter=False)


@dataclass(frozen=True)
class RetryPolicy:
    delivery_limit: int
    backoff_seconds: float
    backoff_max_seconds: float

    def is_last(self, attempt: int) -> bool:
        # With x-delivery-limit N a message is delivered N + 1 times; RabbitMQ dead-letters it
        # when the last delivery is requeued.
        return attempt > self.delivery_limit

    def pause(self, attempt: int) -> float:
        return float(min(self.backoff_seconds * 2 ** (attempt - 1), self.backoff_max_seconds))


class CommandHandler:
    def __init__(
        self,
        processor: CommandProcessor,
        results: ResultPublisher,
        retry: RetryPolicy,
    ) -> None:
        self._processor = processor
        self._results = results
        self._retry = retry

    async def handle(self, message: RabbitMessage) -> None:
        """Every line logged meanwhile names the command's request, type and project."""
        request_id, command_type, project_id = read_identity(message.body)
        with bind(request_id=request_id, command_type=command_type, project_id=project_id):
            await self._handle(message)

    async def _handle(self, message: RabbitMessage) -> None:
        started = time.monotonic()
        attempt = delivery_count(message) + 1
        try:
            outcome = await self._processor.process(message.body)
            await self._results.send(
                outcome.result, reply_to=message.reply_to, correlation_id=message.correlation_id
            )
        except Exception as error:
            # Also when only the result could not be published: the outcome is stored, so the
            # redelivered command replays it and its result gets another chance.
            await self._failed_attempt(message, error, attempt, started)
            return
        audit_result(outcome.result, attempt=attempt, started=started)
        if outcome.dead_letter:
            await message.reject(requeue=False)
        else:
            await message.ack()

    async def _failed_attempt(
        self, message: RabbitMessage, error: Exception, attempt: int, started: float
    ) -> None:
        request_id, command_type, project_id = read_identity(message.body)
        # Only the error's type: its text may quote stored data.
        reason = type(error).__name__
        # No traceback: its frames and messages may quote stored data.
        log.debug("privacy command %s failed: %s", request_id, reason)
        if not self._retry.is_last(attempt):
            audit_attempt(
                request_id,
                command_type,
                project_id,
                attempt=attempt,
                started=started,
                outcome="retrying",
                code=reason,
            )
            await asyncio.sleep(self._retry.pause(attempt))
            await message.nack(requeue=True)
            return
        result = failed_result(
            request_id,
            command_type,
            project_id,
            "internal_error",
            f"The command failed {attempt} times ({reason}) and was dead-lettered. Send it "
            "again with the same request id once the cause is fixed: it resumes where it stopped.",
        )
        try:
            await self._results.send(
                result, reply_to=message.reply_to, correlation_id=message.correlation_id
            )
        except Exception as publish_error:
            log.warning(
                "could not publish the failure of %s: %s", request_id, type(publish_error).__name__
            )
        audit_result(result, attempt=attempt, started=started)
        await message.reject(requeue=False)


def delivery_count(message: RabbitMessage) -> int:
    value = (message.headers or {}).get(DELIVERY_COUNT_HEADER, 0)
    return value if isinstance(value, int) else 0
