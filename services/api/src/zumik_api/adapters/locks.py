"""Per-ticket leases: the serialisation that holds across API replicas on MongoDB and FerretDB.

A lease is a document whose `_id` is the ticket id, so taking it is an insert into the unique
`_id` index: atomic on both stores (FerretDB's updates are not). Every change to a ticket document
happens under its lease, which makes read-modify-write safe. A holder that dies leaves a lease
that expires after `ttl`; the next writer removes it.
"""

import asyncio
import random
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from zumik_api.adapters.mongo import Document
from zumik_api.clock import Clock, utc_now


class TicketBusy(Exception):
    """The ticket stayed locked by other writers for longer than we wait."""


class TicketLocks:
    def __init__(
        self,
        collection: AsyncCollection[Document],
        *,
        ttl: timedelta = timedelta(seconds=15),
        wait_seconds: float = 5.0,
        clock: Clock = utc_now,
    ) -> None:
        self._collection = collection
        self._ttl = ttl
        self._wait_seconds = wait_seconds
        self._clock = clock

    @asynccontextmanager
    async def hold(self, ticket_id: str) -> AsyncIterator[None]:
        token = secrets.token_hex(8)
        await self._acquire(ticket_id, token)
        try:
            yield
        finally:
            # Shielded so a cancelled request still gives the lease back.
            await asyncio.shield(self._collection.delete_one({"_id": ticket_id, "token": token}))

    async def _acquire(self, ticket_id: str, token: str) -> None:
        deadline = time.monotonic() + self._wait_seconds
        delay = 0.002
        while True:
            now = self._clock()
            try:
                await self._collection.insert_one(
                    {"_id": ticket_id, "token": token, "expires_at": now + self._ttl}
                )
                return
            except DuplicateKeyError:
                if await self._break_if_expired(ticket_id):
                    continue
            if time.monotonic() >= deadline:
                raise TicketBusy(ticket_id)
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 0.05)

    async def _break_if_expired(self, ticket_id: str) -> bool:
        holder = await self._collection.find_one({"_id": ticket_id})
        if holder is None:
            return True
        expires_at = holder["expires_at"]
        assert isinstance(expires_at, type(self._clock()))
        if expires_at > self._clock():
            return False
        await self._collection.delete_one({"_id": ticket_id, "token": holder["token"]})
        return True
