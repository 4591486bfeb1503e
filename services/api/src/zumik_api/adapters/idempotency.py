"""The service's `IdempotencyRecords` port on the idempotency library."""

from dataclasses import dataclass
from typing import cast

import zumik_idempotency as records
from zumik_store.lease import Grant

from zumik_api.domain.tickets import RequestKey
from zumik_api.service.idempotency import (
    Claim,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    Response,
)


@dataclass(frozen=True)
class KeyClaim:
    grant: Grant

    @property
    def request(self) -> RequestKey:
        return RequestKey(self.grant.key, self.grant.record["created_at"])


class StoredIdempotency:
    def __init__(self, stored: records.IdempotencyRecords) -> None:
        self._records = stored

    async def claim(self, project_id: str, key: str, request_fingerprint: str) -> Claim | Response:
        try:
            outcome = await self._records.claim(project_id, key, request_fingerprint)
        except records.IdempotencyKeyReused:
            raise IdempotencyKeyReused from None
        except records.IdempotencyKeyInUse:
            raise IdempotencyKeyInUse from None
        if isinstance(outcome, records.StoredResponse):
            return Response(outcome.status_code, outcome.body)
        return KeyClaim(outcome)

    async def complete(self, claim: Claim, response: Response, ticket_id: str | None) -> None:
        stored = records.StoredResponse(response.status_code, response.body)
        await self._records.complete(cast(KeyClaim, claim).grant, stored, ticket_id)

    async def release(self, claim: Claim) -> None:
        await self._records.release(cast(KeyClaim, claim).grant)
