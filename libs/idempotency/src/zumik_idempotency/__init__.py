"""Idempotency records: the first response to a POST, stored and replayed for 24 hours.

A record is claimed by inserting it ("in progress") as a lease (`zumik_store.lease`), so of two
concurrent retries exactly one runs the request; the other waits for the stored result. A claim
whose request died is taken over once its lease runs out; completing a record is conditional on
its claim's token, so a request that lost its claim never overwrites the one that took it over.
Records hold response bodies (personal data), so they carry the ticket id and project id that
privacy erasure deletes them by.
"""

import asyncio
import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from zumik_store.clock import Clock, utc_now
from zumik_store.deletion import delete_all, delete_where_in
from zumik_store.lease import EXPIRES_AT, Grant, Leases, expired
from zumik_store.mongo import Document

MAX_KEY_LENGTH = 255
COLLECTION = "idempotency_keys"


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: bytes


class IdempotencyKeyReused(Exception):
    """The key was first used with a different request."""


class IdempotencyKeyInUse(Exception):
    """A request with this key is still running."""


class IdempotencyRecords:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        *,
        window: timedelta = timedelta(hours=24),
        claim_lease: timedelta = timedelta(seconds=30),
        wait_seconds: float = 10.0,
        clock: Clock = utc_now,
    ) -> None:
        self._records = db[COLLECTION]
        self._leases = Leases(self._records, ttl=claim_lease, clock=clock)
        self._window = window
        self._wait_seconds = wait_seconds
        self._clock = clock

    async def ensure_indexes(self) -> None:
        await self._records.create_index([("created_at", ASCENDING)])
        await self._records.create_index([("project_id", ASCENDING)])

    async def claim(
        self, project_id: str, key: str, request_fingerprint: str
    ) -> Grant | StoredResponse:
        """Claim the key for this request, or return the response already stored for it."""
        record_id = f"{project_id}:{hashlib.sha256(key.encode()).hexdigest()}"
        deadline = time.monotonic() + self._wait_seconds
        while True:
            now = self._clock()
            fields = {
                "project_id": project_id,
                "fingerprint": request_fingerprint,
                "state": "in_progress",
                "created_at": now,
            }
            outcome = await self._leases.claim(record_id, fields)
            if isinstance(outcome, Grant):
                return outcome
            created_at = outcome.get("created_at")
            outdated = not isinstance(created_at, datetime) or created_at <= now - self._window
            if outdated or (outcome.get("state") == "in_progress" and expired(outcome, now)):
                grant = await self._leases.take_over(outcome, fields)
                if grant is not None:
                    return grant
                continue
            if outcome.get("fingerprint") != request_fingerprint:
                raise IdempotencyKeyReused
            if outcome.get("state") == "done":
                return StoredResponse(int(outcome["status_code"]), bytes(outcome["body"]))
            if time.monotonic() >= deadline:
                raise IdempotencyKeyInUse
            await asyncio.sleep(0.05)

    async def complete(self, claim: Grant, response: StoredResponse, ticket_id: str | None) -> None:
        """Store the response; a claim lost meanwhile raises LeaseLost and stores nothing."""
        await self._leases.update(
            claim,
            {
                "state": "done",
                "status_code": response.status_code,
                "body": response.body,
                "ticket_id": ticket_id,
                # Held, and replayed, until the window ends.
                EXPIRES_AT: claim.record["created_at"] + self._window,
            },
        )

    async def release(self, claim: Grant) -> None:
        """Forget a claim whose request failed, so the key can be used again."""
        await self._leases.release(claim)

    async def purge_expired(self) -> int:
        return await delete_all(
            self._records, {"created_at": {"$lte": self._clock() - self._window}}
        )

    async def erase_project(self, project_id: str) -> dict[str, int]:
        return {"idempotency_keys": await delete_all(self._records, {"project_id": project_id})}

    async def erase_tickets(self, project_id: str, ticket_ids: list[str]) -> dict[str, int]:
        deleted = await delete_where_in(
            self._records, {"project_id": project_id}, "ticket_id", ticket_ids
        )
        return {"idempotency_keys": deleted}
