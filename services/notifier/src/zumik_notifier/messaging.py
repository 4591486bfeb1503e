"""What the notifier publishes: channel jobs, delayed retries and dead letters.

Every publish waits for RabbitMQ's confirm (and raises if the message was unroutable, since the
broker's channel has `on_return_raises`), bounded by a timeout because FastStream ignores
`timeout=` on plain publishes. The body is always the event's original bytes, untouched, so the
webhook can post exactly what was published on `zumik.support`.
"""

import asyncio
from dataclasses import dataclass
from enum import StrEnum

from aio_pika.abc import HeadersType
from faststream.rabbit import RabbitBroker
from faststream.rabbit.publisher import RabbitPublisher
from zumik_contracts.events import SCHEMA_VERSION_HEADER, TicketEvent

from zumik_notifier.topology import ALL_CHANNELS, DELAY_HEADER, ChannelName, Topology, delay_label

CONTENT_TYPE = "application/json"
CHANNEL_HEADER = "x-zumik-channel"
ATTEMPT_HEADER = "x-zumik-attempt"  # the number of the attempt this message is for, from 1
EVENT_ID_HEADER = "x-zumik-event-id"
FAILURE_REASON_HEADER = "x-zumik-failure-reason"
FAILURE_KIND_HEADER = "x-zumik-failure-kind"
ATTEMPTS_HEADER = "x-zumik-attempts"
LAST_STATUS_HEADER = "x-zumik-last-status"

Headers = HeadersType  # aio-pika's header table; the notifier only puts str and int values in it


class FailureKind(StrEnum):
    MALFORMED = "malformed"  # not a TicketEvent: nothing can deliver it
    REJECTED = "rejected"  # the endpoint refused it for good (a 4xx other than 408/429)
    EXHAUSTED = "exhausted"  # transient failures until no attempts were left


@dataclass(frozen=True)
class Failure:
    """Why a message was dead-lettered; no personal data, only kinds, counts and statuses."""

    kind: FailureKind
    detail: str
    channel: ChannelName | None = None
    attempts: int = 0
    last_status: str | None = None

    @property
    def reason(self) -> str:
        parts = [self.kind.value]
        if self.channel is not None:
            parts.append(f"channel={self.channel}")
            parts.append(f"attempts={self.attempts}")
        if self.last_status is not None:
            parts.append(f"last_status={self.last_status}")
        return " ".join(parts) + f": {self.detail}"

    def headers(self) -> Headers:
        headers: Headers = {
            FAILURE_REASON_HEADER: self.reason,
            FAILURE_KIND_HEADER: self.kind.value,
            ATTEMPTS_HEADER: self.attempts,
        }
        if self.channel is not None:
            headers[CHANNEL_HEADER] = self.channel.value
        if self.last_status is not None:
            headers[LAST_STATUS_HEADER] = self.last_status
        return headers


class Publishers:
    """The notifier's declared publishers (declared so AsyncAPI documents them)."""

    def __init__(self, broker: RabbitBroker, topology: Topology, timeout: float) -> None:
        self._timeout = timeout
        prefix = topology.events_queue.name
        self._jobs: dict[ChannelName, RabbitPublisher] = {
            channel: broker.publisher(
                exchange=topology.work_exchange,
                routing_key=channel.value,
                persist=True,
                title=f"{topology.work_exchange.name}:{channel}",
                description=f"A job for the {channel} channel: the event, unchanged.",
                schema=TicketEvent,
            )
            for channel in ALL_CHANNELS
        }
        self._retries: dict[ChannelName, RabbitPublisher] = {
            channel: broker.publisher(
                exchange=topology.delay_exchange,
                routing_key=channel.value,
                persist=True,
                title=f"{topology.delay_exchange.name}:{channel}",
                description=(
                    f"Retries of the {channel} channel. Header `{DELAY_HEADER}` picks the delay "
                    f"queue (`{prefix}.delay.<ms>ms`); when it expires the message goes back to "
                    f"`{topology.work_queues[channel].name}`."
                ),
                schema=TicketEvent,
            )
            for channel in ALL_CHANNELS
        }
        self._dead = broker.publisher(
            exchange=topology.dead_letters.exchange,
            persist=True,
            title=f"{topology.dead_letters.exchange.name}:dead-letter",
            description=(
                f"A message given up on, into `{topology.dead_letters.queue.name}`: the original "
                f"body (a TicketEvent unless malformed) with `{FAILURE_REASON_HEADER}`."
            ),
            schema=TicketEvent,
        )

    async def job(self, channel: ChannelName, event: TicketEvent, body: bytes) -> None:
        await self._publish(
            self._jobs[channel], body, event.id, channel, _job_headers(event, channel, 1)
        )

    async def retry(
        self, channel: ChannelName, event: TicketEvent, body: bytes, attempt: int, delay: float
    ) -> None:
        headers = _job_headers(event, channel, attempt) | {DELAY_HEADER: delay_label(delay)}
        await self._publish(self._retries[channel], body, event.id, channel, headers, attempt)

    async def dead_letter(
        self,
        body: bytes,
        failure: Failure,
        *,
        message_id: str | None,
        content_type: str | None,
    ) -> None:
        async with asyncio.timeout(self._timeout):
            await self._dead.publish(
                body,
                message_id=message_id,
                content_type=content_type,
                headers=failure.headers(),
                mandatory=True,
            )

    async def _publish(
        self,
        publisher: RabbitPublisher,
        body: bytes,
        event_id: str,
        channel: ChannelName,
        headers: Headers,
        attempt: int = 1,
    ) -> None:
        async with asyncio.timeout(self._timeout):
            await publisher.publish(
                body,
                # Unique per publish: aiormq matches returned messages to publishes by message_id.
                message_id=f"{event_id}:{channel}:{attempt}",
                content_type=CONTENT_TYPE,
                headers=headers,
                mandatory=True,
            )


def _job_headers(event: TicketEvent, channel: ChannelName, attempt: int) -> Headers:
    return {
        SCHEMA_VERSION_HEADER: event.schema_version,
        EVENT_ID_HEADER: event.id,
        CHANNEL_HEADER: channel.value,
        ATTEMPT_HEADER: attempt,
    }
