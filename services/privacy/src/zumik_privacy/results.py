"""Publishing a command's result: on `zumik.privacy` always, and to `reply_to` when set.

Every publish waits for RabbitMQ's confirm, bounded by a timeout (FastStream ignores `timeout=` on
plain publishes). Results are published with `mandatory=False`: nobody has to listen to them, and
on RabbitMQ 3.10 a mandatory reply to the direct reply-to pseudo-queue comes back as unroutable
even though it was delivered.
"""

import asyncio
import secrets

from faststream.rabbit import RabbitBroker
from faststream.rabbit.publisher import RabbitPublisher
from zumik_contracts.privacy import RESULT_ROUTING_KEYS, PrivacyResult

from zumik_privacy.topology import Topology

CONTENT_TYPE = "application/json"

_DESCRIPTIONS = {
    "completed": "The command's outcome: an export reference or an erasure receipt.",
    "failed": "Why the command failed; a bad command was also dead-lettered.",
}


def failed_result(
    request_id: str | None,
    command_type: str | None,
    project_id: str | None,
    code: str,
    message: str,
) -> PrivacyResult:
    return PrivacyResult.model_validate(
        {
            "request_id": request_id,
            "type": command_type,
            "status": "failed",
            "project_id": project_id,
            "error": {"code": code, "message": message},
        }
    )


class ResultPublisher:
    def __init__(self, broker: RabbitBroker, topology: Topology, timeout: float) -> None:
        self._broker = broker
        self._timeout = timeout
        # Declared publishers, so that the AsyncAPI document lists every result channel.
        self._events: dict[str, RabbitPublisher] = {
            routing_key: broker.publisher(
                exchange=topology.exchange,
                routing_key=routing_key,
                persist=True,
                mandatory=False,
                title=f"{topology.exchange.name}:{routing_key}",
                description=_DESCRIPTIONS[routing_key.rsplit(".", 1)[-1]],
                schema=PrivacyResult,
            )
            for routing_key in RESULT_ROUTING_KEYS
        }

    async def send(
        self, result: PrivacyResult, *, reply_to: str | None, correlation_id: str | None
    ) -> None:
        body = result.model_dump_json().encode()
        # The same outcome always has the same message id, so consumers can drop the repeats a
        # redelivered command causes.
        message_id = (
            f"{result.request_id}:{result.routing_key}"
            if result.request_id is not None
            else f"unreadable:{secrets.token_hex(8)}"
        )
        async with asyncio.timeout(self._timeout):
            await self._events[result.routing_key].publish(
                body,
                message_id=message_id,
                correlation_id=result.request_id,
                content_type=CONTENT_TYPE,
            )
            if reply_to:
                await self._broker.publish(
                    body,
                    routing_key=reply_to,
                    mandatory=False,
                    message_id=message_id,
                    correlation_id=correlation_id,
                    content_type=CONTENT_TYPE,
                )
