"""Request claims: what makes a command idempotent and safe to redeliver.

A command's record (an export manifest, an erasure receipt) is keyed by its request id and is
also its claim. It is created by an insert into the unique `_id` index, the one write both
MongoDB and FerretDB make atomic, in state `running`, with a lease its worker keeps renewing.
Then, for the same request id:
- `completed`: the outcome is returned again and nothing is redone;
- `running` with a live lease: another worker is on it; wait for it;
- `running` with an expired lease: its worker died (or gave the command back after an error);
  the record is taken over, keeping what it had recorded so far.
A record whose command differs (another type, project or subject) is a reused request id.
"""

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError
from zumik_api.adapters.mongo import Document
from zumik_api.clock import Clock

log = logging.getLogger("zumik_privacy.claims")

RUNNING = "running"
COMPLETED = "completed"
_EXPIRED = datetime(1970, 1, 1, tzinfo=UTC)


class ClaimLost(Exception):
    """Another worker took the command over (or erasure deleted its record): stop working."""


@dataclass
class Claim:
    request_id: str
    token: str
    # The record as it was when claimed: for a takeover, what the previous worker recorded.
    record: Document
    lost: bool = False

    @property
    def resumed(self) -> bool:
        return "resumed_at" in self.record

    def check(self) -> None:
        if self.lost:
            raise ClaimLost(self.request_id)


@dataclass(frozen=True)
class Completed:
    record: Document


@dataclass(frozen=True)
class Conflict:
    record: Document


ClaimOutcome = Claim | Completed | Conflict


class ClaimStore:
    def __init__(
        self,
        collection: AsyncCollection[Document],
        *,
        lease: timedelta,
        clock: Clock,
        poll_seconds: float = 0.5,
    ) -> None:
        self.collection = collection
        self._lease = lease
        self._clock = clock
        self._poll_seconds = poll_seconds

    async def find(self, request_id: str) -> Document | None:
        return await self.collection.find_one({"_id": request_id})

    async def claim(
        self, request_id: str, identity: Mapping[str, Any], fields: Mapping[str, Any]
    ) -> ClaimOutcome:
        """Claim the request; `identity` must match an existing record, `fields` start a new one."""
        while True:
            record = await self.find(request_id)
            if record is None:
                claimed = await self._insert(request_id, {**identity, **fields})
                if claimed is not None:
                    return claimed
                continue
            if any(record.get(key) != value for key, value in identity.items()):
                return Conflict(record)
            if record.get("state") == COMPLETED:
                return Completed(record)
            lease_until = record.get("lease_until")
            if isinstance(lease_until, datetime) and lease_until > self._clock():
                await asyncio.sleep(self._poll_seconds)  # another worker is on it
                continue
            taken = await self._take_over(record)
            if taken is not None:
                return taken

    async def _insert(self, request_id: str, fields: Mapping[str, Any]) -> Claim | None:
        token = secrets.token_hex(8)
        record = {
            **fields,
            "_id": request_id,
            "state": RUNNING,
            "token": token,
            "lease_until": self._clock() + self._lease,
        }
        try:
            await self.collection.insert_one(record)
        except DuplicateKeyError:
            return None  # claimed by someone else in between: look again
        return Claim(request_id, token, record)

    async def _take_over(self, record: Document) -> Claim | None:
        # Delete-then-insert, not an update: FerretDB's conditional updates are not atomic, the
        # insert into the unique index is, so of two workers taking over, one insert wins. (On
        # FerretDB the loser's delete may still remove the winner's new record; then the winner
        # finds its token gone at its next write and stops. Work is idempotent either way.)
        deleted = await self.collection.delete_one({"_id": record["_id"], "token": record["token"]})
        if deleted.deleted_count == 0:
            return None
        previous = {k: v for k, v in record.items() if k not in ("_id", "state", "token")}
        claimed = await self._insert(record["_id"], {**previous, "resumed_at": self._clock()})
        if claimed is not None:
            log.info("took over request %s from a worker that stopped", record["_id"])
        return claimed

    async def update(self, claim: Claim, fields: Mapping[str, Any]) -> None:
        """Record progress; only the holder writes, so a plain update by token is safe."""
        result = await self.collection.update_one(
            {"_id": claim.request_id, "token": claim.token}, {"$set": dict(fields)}
        )
        if result.matched_count == 0:
            claim.lost = True
            claim.check()

    async def complete(self, claim: Claim, fields: Mapping[str, Any]) -> Document:
        """Mark the request done with its outcome; returns the completed record."""
        claim.check()
        await self.update(claim, {**fields, "state": COMPLETED, "lease_until": None})
        record = await self.find(claim.request_id)
        if record is None or record.get("state") != COMPLETED:
            raise ClaimLost(claim.request_id)
        return record

    async def give_back(self, claim: Claim) -> None:
        """Expire the lease after a failure, so the redelivered command resumes at once."""
        with contextlib.suppress(Exception):
            await self.collection.update_one(
                {"_id": claim.request_id, "token": claim.token},
                {"$set": {"lease_until": _EXPIRED}},
            )

    @contextlib.asynccontextmanager
    async def held(self, claim: Claim) -> AsyncIterator[Claim]:
        """Keep the claim's lease alive while the work runs; give it back if the work fails."""
        renewer = asyncio.create_task(self._renew(claim))
        try:
            yield claim
        except BaseException:
            renewer.cancel()
            await asyncio.shield(self.give_back(claim))
            raise
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def _renew(self, claim: Claim) -> None:
        interval = self._lease.total_seconds() / 3
        while not claim.lost:
            await asyncio.sleep(interval)
            try:
                result = await self.collection.update_one(
                    {"_id": claim.request_id, "token": claim.token},
                    {"$set": {"lease_until": self._clock() + self._lease}},
                )
            except Exception as error:  # the work itself will meet the same store problem
                log.warning("could not renew the lease of %s: %s", claim.request_id, error)
                continue
            if result.matched_count == 0:
                claim.lost = True
