"""The consumed message as a handler argument, resolved on the event loop.

FastStream's `Context` field has a synchronous `use`, which fast_depends runs on a worker thread
for every consumed message: a thread hop per message (a measured share of the notifier's CPU).
This subclass resolves it on the loop; a test fails if FastStream's own annotation comes back.
"""

from typing import Annotated, Any

from faststream._internal.context import Context as ContextField
from faststream.rabbit.message import RabbitMessage


class _ResolvedOnLoop(ContextField):
    async def use(self, /, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        resolved: dict[str, Any] = super().use(**kwargs)
        return resolved


ConsumedMessage = Annotated[RabbitMessage, _ResolvedOnLoop("message")]


async def raw_body(message: RabbitMessage) -> bytes:
    """A decoder that leaves the body to the handler: FastStream would parse an
    `application/json` body first, and a malformed one would then never reach the handler (and
    never be settled)."""
    return message.body
