"""Request claims: what makes a privacy command idempotent and safe to redeliver.

A command's record (an export manifest, an erasure receipt) is keyed by its request id and is
also its claim: a lease (`zumik_store.lease`) in state `running`, which its worker keeps renewing.
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
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from zumik_store.clock import Clock
from zumik_store.lease import EXPIRES_AT, Grant, LeaseLost, Leases, expired
from zumik_store.mongo import Document

log = logging.getLogger("zumik_privacy_records.claims")

RUNNING = "running"
COMPLETED = "completed"
_EXPIRED = datetime(1970, 1, 1, tzinfo=UTC)
_NEVER = datetime(9999, 12, 31, tzinfo=UTC)


class ClaimLost(Exception):
    """Another worker took the command over (or erasure deleted its record): stop working."""


@dataclass
class Claim:
    grant: Grant
    lost: bool = False

    @property
    def request_id(self) -> str:
        return self.grant.key

    @property
    def token(self) -> str:
        return self.grant.token

    @property
    def record(self) -> Document:
        """The record as claimed: for a takeover, with what the previous worker recorded."""
        return self.grant.record

    @property
    def resumed(self) -> bool:
        return self.grant.taken_over

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
        self._leases = Leases(collection, ttl=lease, clock=clock)
        self._lease = lease
        self._clock = clock
        self._poll_seconds = poll_seconds

    async def find(self, request_id: str) -> Document | None:
        return await self._leases.find(request_id)

    async def claim(
        self, request_id: str, identity: Mapping[str, Any], fields: Mapping[str, Any]
    ) -> ClaimOutcome:
        """Claim the request; `identity` must match an existing record, `fields` start a new one."""
        while True:
            outcome = await self._leases.claim(request_id, {**identity, **fields, "state": RUNNING})
            if isinstance(outcome, Grant):
                return Claim(outcome)
            if any(outcome.get(key) != value for key, value in identity.items()):
                return Conflict(outcome)
            if outcome.get("state") == COMPLETED:
                return Completed(outcome)
            if not expired(outcome, self._clock()):
                await asyncio.sleep(self._poll_seconds)  # another worker is on it
                continue
            grant = await self._leases.take_over(
                outcome, {"state": RUNNING, "resumed_at": self._clock()}, carry=True
            )
            if grant is not None:
                log.info("took over request %s from a worker that stopped", request_id)
                return Claim(grant)

    async def update(self, claim: Claim, fields: Mapping[str, Any]) -> None:
        """Record progress; only the holder writes (the write is conditional on its token)."""
        try:
            await self._leases.update(claim.grant, fields)
        except LeaseLost:
            claim.lost = True
            claim.check()

    async def complete(self, claim: Claim, fields: Mapping[str, Any]) -> Document:
        """Mark the request done with its outcome; returns the completed record."""
        claim.check()
        await self.update(claim, {**fields, "state": COMPLETED, EXPIRES_AT: _NEVER})
        record = await self.find(claim.request_id)
        if record is None or record.get("state") != COMPLETED:
            raise ClaimLost(claim.request_id)
        return record

    async def give_back(self, claim: Claim) -> None:
        """Expire the lease after a failure, so the redelivered command resumes at once."""
        with contextlib.suppress(Exception):
            await self._leases.update(claim.grant, {EXPIRES_AT: _EXPIRED})

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
                claim.grant = await self._leases.renew(claim.grant)
            except LeaseLost:
                claim.lost = True
            except Exception as error:  # the work itself will meet the same store problem
                log.warning(
                    "could not renew the lease of %s: %s", claim.request_id, type(error).__name__
                )
