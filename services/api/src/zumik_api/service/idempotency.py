"""Running a POST at most once per `Idempotency-Key`: the first response is stored and replayed.

Only successful responses are stored: a request that failed before its change committed may be
retried with its key. A failure after the change committed (storing the response failed) keeps
the claim, so a retry waits for it to expire and never runs the change twice.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(Exception):
    """The key was first used with a different request."""


class IdempotencyKeyInUse(Exception):
    """A request with this key is still running."""


@dataclass(frozen=True)
class Response:
    status_code: int
    body: bytes
    replayed: bool = False


class Claim(Protocol):
    """An opaque claim on a key, handed back to the records that gave it."""


class IdempotencyRecords(Protocol):
    async def claim(self, project_id: str, key: str, request_fingerprint: str) -> Claim | Response:
        """A claim on the key for this request, or the response stored for it. Raises when
        the key was used for another request, or is still in use."""

    async def complete(self, claim: Claim, response: Response, ticket_id: str | None) -> None: ...

    async def release(self, claim: Claim) -> None: ...


# What a request does under its key: the response, and the ticket it touched (privacy erasure
# deletes a ticket's stored responses with it).
Handler = Callable[[], Awaitable[tuple[Response, str | None]]]


class IdempotentRequests:
    def __init__(self, records: IdempotencyRecords) -> None:
        self._records = records

    async def run(
        self, project_id: str, key: str | None, request_fingerprint: str, handler: Handler
    ) -> Response:
        if key is None:
            response, _ = await handler()
            return response
        claim = await self._records.claim(project_id, key, request_fingerprint)
        if isinstance(claim, Response):
            return Response(claim.status_code, claim.body, replayed=True)
        try:
            response, ticket_id = await handler()
        except BaseException:
            await self._records.release(claim)
            raise
        await self._records.complete(claim, response, ticket_id)
        return response
