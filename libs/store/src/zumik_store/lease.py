"""Leases: exclusive, expiring claims on a key, each grant with a token that fences its writes.

A lease is a document `{_id: key, token, expires_at, ...}` in a collection of its owner's. Taking
one is an insert into the unique `_id` index: the one write that is atomic on MongoDB and FerretDB
alike (FerretDB applies an update by reading the document and writing it back, so two conditional
updates can both "win"). A lease whose `expires_at` passed, or that its owner says is free, is
taken over by deleting it by its token and inserting a new one: of two takers, one insert wins.

Every grant carries a fresh token, and every write made under it is conditional on it:
- on the lease document itself (`update`, `renew`, `release`), the filter is `{_id, token}`;
- on the resource it protects, the resource keeps the token of the grant that last wrote it,
  and the next write filters on the token it read (see `zumik_tickets`). A holder that stalled
  past its lease finds that token changed and its write refused.

On MongoDB a filtered update is atomic, so the fence is exact. On FerretDB the filter is checked
when the document is read, not when it is written back: a stale write that reads the document
in the same instant as a newer holder writes it can still win. `confirm()` narrows that window
to the few milliseconds of one update: it re-reads the lease right before the write and refuses
once the lease changed hands or has less time left than one store operation may take.
"""

import asyncio
import logging
import random
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from zumik_store.clock import Clock, utc_now
from zumik_store.mongo import Document

log = logging.getLogger("zumik_store.lease")

TOKEN = "token"  # noqa: S105 - a field name, not a secret
EXPIRES_AT = "expires_at"

Inserter = Callable[[Document], Awaitable[None]]


class LeaseBusy(Exception):
    """Another holder kept the lease for longer than the caller would wait."""


class LeaseLost(Exception):
    """The grant is no longer held: it expired and was taken over, or its record was deleted."""


@dataclass(frozen=True)
class Grant:
    key: str
    token: str
    expires_at: datetime
    # The lease document as written; after a takeover with `carry`, with what the previous
    # holder had recorded.
    record: Document = field(repr=False)

    @property
    def taken_over(self) -> bool:
        return "taken_over_at" in self.record


def new_token() -> str:
    return secrets.token_hex(12)


def expired(record: Mapping[str, Any], now: datetime) -> bool:
    """Whether a lease record's time is up (a record without one never had a lease)."""
    expires_at = record.get(EXPIRES_AT)
    return not isinstance(expires_at, datetime) or expires_at <= now


class WaitingRoom:
    """The callers of this process waiting for each key, at most `limit` at a time per key (no
    limit with None): one more is turned away at once rather than left polling the store."""

    def __init__(self, limit: int | None) -> None:
        self._limit = limit
        self._waiting: dict[str, int] = {}

    def enter(self, key: str) -> bool:
        """Count one more waiter for `key`; False (not counted) when the room is full."""
        count = self._waiting.get(key, 0)
        if self._limit is not None and count >= self._limit:
            return False
        self._waiting[key] = count + 1
        return True

    def leave(self, key: str) -> None:
        left = self._waiting.pop(key) - 1
        if left:
            self._waiting[key] = left


class Leases:
    def __init__(
        self,
        collection: AsyncCollection[Document],
        *,
        ttl: timedelta,
        clock: Clock = utc_now,
        inserter: Inserter | None = None,
        max_waiters: int | None = None,
    ) -> None:
        """`inserter` writes a new lease (default `insert_one`; a group-committing batcher
        under load). It must raise DuplicateKeyError when the key is taken. `max_waiters`
        bounds how many callers of this process wait for one key: more are told at once
        (LeaseBusy) instead of polling the store."""
        self.collection = collection
        self.ttl = ttl
        self._clock = clock
        self._insert = inserter or self._insert_one
        self._waiters = WaitingRoom(max_waiters)

    async def _insert_one(self, document: Document) -> None:
        await self.collection.insert_one(document)

    async def find(self, key: str) -> Document | None:
        return await self.collection.find_one({"_id": key})

    async def claim(
        self, key: str, fields: Mapping[str, Any] | None = None, *, ttl: timedelta | None = None
    ) -> Grant | Document:
        """A new lease on `key` with `fields`, or the record of whoever holds it (expired or not:
        the caller decides whether to `take_over` it)."""
        outcome = await self._try_insert(key, dict(fields or {}), ttl)
        if outcome is None:  # released in between: try once more
            outcome = await self._try_insert(key, dict(fields or {}), ttl)
        return outcome if outcome is not None else await self.claim(key, fields, ttl=ttl)

    async def take_over(
        self,
        holder: Document,
        fields: Mapping[str, Any] | None = None,
        *,
        carry: bool = False,
        ttl: timedelta | None = None,
    ) -> Grant | None:
        """Replace `holder`'s lease with a new grant; None when someone else got there first.
        `carry` keeps what the holder recorded (progress to resume from)."""
        deleted = await self.collection.delete_one({"_id": holder["_id"], TOKEN: holder.get(TOKEN)})
        if deleted.deleted_count == 0:
            return None
        # What the holder recorded, not its lease: the new grant's lease starts now.
        kept = {k: v for k, v in holder.items() if k not in ("_id", TOKEN, EXPIRES_AT)}
        if not carry:
            kept = {}
        merged = {**kept, **(fields or {}), "taken_over_at": self._clock()}
        outcome = await self._try_insert(str(holder["_id"]), merged, ttl)
        return outcome if isinstance(outcome, Grant) else None

    async def take(
        self, key: str, *, wait_seconds: float, fields: Mapping[str, Any] | None = None
    ) -> Grant:
        """The lease on `key`, waiting (with jittered backoff) up to `wait_seconds` for a live
        holder to release it or for its lease to expire."""
        deadline = time.monotonic() + wait_seconds
        delay = 0.002
        waiting = False
        try:
            while True:
                outcome = await self.claim(key, fields)
                if isinstance(outcome, Grant):
                    return outcome
                if expired(outcome, self._clock()):
                    grant = await self.take_over(outcome, fields)
                    if grant is not None:
                        return grant
                    continue
                if not waiting:
                    waiting = self._waiters.enter(key)
                    if not waiting:
                        raise LeaseBusy(key)
                if time.monotonic() >= deadline:
                    raise LeaseBusy(key)
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 0.05)
        finally:
            if waiting:
                self._waiters.leave(key)

    @asynccontextmanager
    async def hold(self, key: str, *, wait_seconds: float) -> AsyncIterator[Grant]:
        """Take the lease, and release it however the block ends (cancellation included). A
        release that fails is logged, never raised: it would hide the block's own outcome, and
        the lease expires by itself."""
        grant = await self.take(key, wait_seconds=wait_seconds)
        try:
            yield grant
        finally:
            try:
                await asyncio.shield(self.release(grant))
            except Exception as error:
                log.warning("lease %s not released (%s); it expires", key, type(error).__name__)

    async def release(self, grant: Grant) -> None:
        await self.collection.delete_one({"_id": grant.key, TOKEN: grant.token})

    async def update(self, grant: Grant, fields: Mapping[str, Any]) -> None:
        """Write `fields` into the lease record, only while `grant` holds it."""
        result = await self.collection.update_one(
            {"_id": grant.key, TOKEN: grant.token}, {"$set": dict(fields)}
        )
        if result.matched_count == 0:
            raise LeaseLost(grant.key)

    async def renew(self, grant: Grant) -> Grant:
        expires_at = self._clock() + self.ttl
        await self.update(grant, {EXPIRES_AT: expires_at})
        return Grant(grant.key, grant.token, expires_at, {**grant.record, EXPIRES_AT: expires_at})

    async def confirm(self, grant: Grant, *, margin: timedelta) -> None:
        """Raise LeaseLost unless `grant` still holds the lease with more than `margin` left:
        a write started now then finishes (or times out) before the lease can change hands."""
        record = await self.find(grant.key)
        if record is None or record.get(TOKEN) != grant.token:
            raise LeaseLost(grant.key)
        expires_at = record.get(EXPIRES_AT)
        if not isinstance(expires_at, datetime) or expires_at - self._clock() <= margin:
            raise LeaseLost(grant.key)

    async def _try_insert(
        self, key: str, fields: Document, ttl: timedelta | None
    ) -> Grant | Document | None:
        """A grant; else the record of whoever holds `key` (read once, for the caller), or None
        when it was released meanwhile."""
        token = new_token()
        expires_at = fields.get(EXPIRES_AT) or self._clock() + (ttl or self.ttl)
        record = {**fields, "_id": key, TOKEN: token, EXPIRES_AT: expires_at}
        try:
            await self._insert(record)
        except DuplicateKeyError:
            # Taken, unless it is this very insert that landed (a retried write reports the
            # duplicate of its own first attempt).
            holder = await self.find(key)
            if holder is None or holder.get(TOKEN) != token:
                return holder
        return Grant(key, token, expires_at, record)
