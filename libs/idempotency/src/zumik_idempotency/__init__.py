"""Idempotency records: the first response to a POST, stored and replayed for 24 hours.

A record is claimed by inserting it ("in progress") as a lease (`zumik_store.lease`), so of two
concurrent retries exactly one runs the request; the others wait for the stored result (a few at
most per key in each process: the rest are told at once to retry later). A claim whose request
died is taken over once its lease runs out, keeping its `created_at`: that, with the record's id,
names the request (the API derives the ids of what it creates from them), so a request that had
committed before it died is not done twice. Completing a record is conditional on its claim's
token, so a request that lost its claim never overwrites the one that took it over.
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
from zumik_store.lease import EXPIRES_AT, Grant, Leases, WaitingRoom, expired
from zumik_store.mongo import Document

MAX_KEY_LENGTH = 255
COLLECTION = "idempotency_keys"
# Requests of one process waiting for one key's first request to finish; more get told at once.
MAX_WAITERS_PER_KEY = 4


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
        self._waiters = WaitingRoom(MAX_WAITERS_PER_KEY)

    async def ensure_indexes(self) -> None:
        await self._records.create_index([("created_at", ASCENDING)])
        await self._records.create_index([("project_id", ASCENDING)])

    async def claim(
        self, project_id: str, key: str, request_fingerprint: str
    ) -> Grant | StoredResponse:
        """Claim the key for this request, or return the response already stored for it."""
        record_id = f"{project_id}:{hashlib.sha256(key.encode()).hexdigest()}"
        deadline = time.monotonic() + self._wait_seconds
        waiting = False
        try:
            while True:
                outcome = await self._claim_once(record_id, project_id, request_fingerprint)
                if outcome is not None:
                    return outcome
                if not waiting:
                    waiting = self._waiters.enter(record_id)
                    if not waiting:
                        raise IdempotencyKeyInUse
                if time.monotonic() >= deadline:
                    raise IdempotencyKeyInUse
                await asyncio.sleep(0.05)
        finally:
            if waiting:
                self._waiters.leave(record_id)

    async def _claim_once(
        self, record_id: str, project_id: str, request_fingerprint: str
    ) -> Grant | StoredResponse | None:
        """A claim, the stored response, or None while another request holds the key."""
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
        if not isinstance(created_at, datetime) or created_at <= now - self._window:
            return await self._leases.take_over(outcome, fields)  # a new request entirely
        if outcome.get("fingerprint") != request_fingerprint:
            raise IdempotencyKeyReused
        if outcome.get("state") == "done":
            return StoredResponse(int(outcome["status_code"]), bytes(outcome["body"]))
        if expired(outcome, now):
            # Its request died, perhaps after committing: the same request runs again, under
            # the same name (record id and created_at), so it finds what that run made.
            return await self._leases.take_over(outcome, {"state": "in_progress"}, carry=True)
        return None

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
