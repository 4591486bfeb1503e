"""Idempotency keys: the first response to a POST is stored and replayed for 24 hours.

A record is claimed by inserting it into the unique `_id` index ("in progress"), so of two
concurrent retries exactly one runs the request; the other waits for the stored result. A claim
whose request died is taken over once its lease runs out. Records hold response bodies (personal
data), so they carry the ticket id and project id that privacy erasure deletes them by.
"""

import asyncio
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError
from zumik_store.deletion import delete_all

from zumik_api.adapters.mongo import Document
from zumik_api.clock import Clock, utc_now

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: bytes


@dataclass(frozen=True)
class Claim:
    record_id: str
    token: str


class IdempotencyKeyReused(Exception):
    """The key was first used with a different request."""


class IdempotencyKeyInUse(Exception):
    """A request with this key is still running."""


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join([method.encode(), path.encode(), body])).hexdigest()


class IdempotencyStore:
    def __init__(
        self,
        collection: AsyncCollection[Document],
        *,
        window: timedelta = timedelta(hours=24),
        claim_lease: timedelta = timedelta(seconds=30),
        wait_seconds: float = 10.0,
        clock: Clock = utc_now,
    ) -> None:
        self._collection = collection
        self._window = window
        self._claim_lease = claim_lease
        self._wait_seconds = wait_seconds
        self._clock = clock

    async def claim(
        self, project_id: str, key: str, request_fingerprint: str
    ) -> Claim | StoredResponse:
        """Claim the key for this request, or return the response already stored for it."""
        record_id = f"{project_id}:{hashlib.sha256(key.encode()).hexdigest()}"
        deadline = time.monotonic() + self._wait_seconds
        while True:
            token = secrets.token_hex(8)
            now = self._clock()
            try:
                await self._collection.insert_one(
                    {
                        "_id": record_id,
                        "project_id": project_id,
                        "fingerprint": request_fingerprint,
                        "token": token,
                        "state": "in_progress",
                        "lease_until": now + self._claim_lease,
                        "created_at": now,
                    }
                )
                return Claim(record_id, token)
            except DuplicateKeyError:
                outcome = await self._existing(record_id, request_fingerprint, now)
            if outcome is not None:
                return outcome
            if time.monotonic() >= deadline:
                raise IdempotencyKeyInUse
            await asyncio.sleep(0.05)

    async def _existing(
        self, record_id: str, request_fingerprint: str, now: datetime
    ) -> StoredResponse | None:
        record = await self._collection.find_one({"_id": record_id})
        if record is None:
            return None
        created_at = record["created_at"]
        lease_until = record["lease_until"]
        assert isinstance(created_at, datetime)
        assert isinstance(lease_until, datetime)
        expired = created_at <= now - self._window
        abandoned = record["state"] == "in_progress" and lease_until <= now
        if expired or abandoned:
            await self._collection.delete_one({"_id": record_id, "token": record["token"]})
            return None
        if record["fingerprint"] != request_fingerprint:
            raise IdempotencyKeyReused
        if record["state"] == "done":
            status_code = record["status_code"]
            body = record["body"]
            assert isinstance(status_code, int)
            assert isinstance(body, bytes)
            return StoredResponse(status_code, body)
        return None

    async def complete(self, claim: Claim, response: StoredResponse, ticket_id: str | None) -> None:
        await self._collection.update_one(
            {"_id": claim.record_id},
            {
                "$set": {
                    "state": "done",
                    "status_code": response.status_code,
                    "body": response.body,
                    "ticket_id": ticket_id,
                }
            },
        )

    async def release(self, claim: Claim) -> None:
        """Forget a claim whose request failed, so the key can be used again."""
        await self._collection.delete_one({"_id": claim.record_id, "token": claim.token})

    async def purge_expired(self) -> int:
        return await delete_all(
            self._collection, {"created_at": {"$lte": self._clock() - self._window}}
        )
