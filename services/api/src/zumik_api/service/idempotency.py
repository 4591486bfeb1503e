"""Running a POST at most once per `Idempotency-Key`: the first response is stored and replayed.

Only successful responses are stored: a request that failed before its change committed may be
retried with its key. A failure after the change committed (storing the response failed) keeps
the claim, so a retry waits for it to expire and never runs the change twice.
"""

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from zumik_api.domain.tickets import RequestKey

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
    """A claim on a key, handed back to the records that gave it."""

    @property
    def request(self) -> RequestKey:
        """Names the request across its retries: what it creates gets the same ids."""


class IdempotencyRecords(Protocol):
    async def claim(self, project_id: str, key: str, request_fingerprint: str) -> Claim | Response:
        """A claim on the key for this request, or the response stored for it. Raises when
        the key was used for another request, or is still in use."""

    async def complete(self, claim: Claim, response: Response, ticket_id: str | None) -> None: ...

    async def release(self, claim: Claim) -> None: ...


# What a request does under its key (named by it): the response, and the ticket it touched
# (privacy erasure deletes a ticket's stored responses with it).
Handler = Callable[[RequestKey | None], Awaitable[tuple[Response, str | None]]]


class IdempotentRequests:
    def __init__(self, records: IdempotencyRecords) -> None:
        self._records = records

    async def run(
        self, project_id: str, key: str | None, request_fingerprint: str, handler: Handler
    ) -> Response:
        if key is None:
            response, _ = await handler(None)
            return response
        claim = await self._records.claim(project_id, key, request_fingerprint)
        if isinstance(claim, Response):
            return Response(claim.status_code, claim.body, replayed=True)
        try:
            response, ticket_id = await handler(claim.request)
        except BaseException:
            # The request failed before its change committed: the key may be used again. A
            # failed release must not hide why the request failed (the claim then expires).
            with contextlib.suppress(Exception):
                await self._records.release(claim)
            raise
        # From here the change is made. If storing its response fails, the claim stays: a retry
        # waits for it (409) and never runs the change twice.
        await self._records.complete(claim, response, ticket_id)
        return response
