"""What of the ticket outboxes is published: acknowledgements and a published-through watermark.

A ticket's `outbox` holds the events of its latest changes, and `outbox_at` is when the latest
of them happened. Once RabbitMQ confirmed an event, the relay records an ack,
`{_id: event id, ticket_id, project_id, occurred_at}`: one insert for all the acks of a few
milliseconds, so marking an event published needs neither the ticket's lease nor a rewrite of
its document. Published events stay in the outbox until the ticket's next change drops them, under
the lease that change holds anyway.

The relay's sweep moves a watermark up through `outbox_at`: every event in the outbox of a
ticket whose `outbox_at` is at or below it is published. It reads minute by minute
(`outbox_minute`): an equality and a range, which MongoDB serves from one compound index and the
local store (FerretDB, which pushes down equalities only) from an index too, where a bare range
of dates would read every ticket. Tickets written before `outbox_minute` existed are found once
per relay, by `legacy_page`, before its sweeps raise the watermark.

The watermark vouches for the events below it, so their acks are purged an hour later. It is
kept in `outbox_state`, raised with `$max`; a stale copy is lower, which is only more cautious.
"""

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pymongo
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError
from zumik_contracts.events import OutboxEntry
from zumik_store.batching import DUPLICATE_KEY
from zumik_store.deletion import delete_all
from zumik_store.mongo import Document

from zumik_tickets.documents import outbox_entry, outbox_minute

ACK_RETENTION = timedelta(hours=1)
NEVER = datetime(1970, 1, 1, tzinfo=UTC)
_STATE_ID = "published_through"
# Set once a relay read every ticket written before `outbox_minute` existed: later ones skip it.
_LEGACY_ID = "legacy_outboxes_read"
_LOOKUPS_AT_ONCE = 16
# The most minutes one sweep walks: a longer window (a first sweep, a long outage) is read a
# day at a time from its oldest ticket.
MAX_MINUTES_WALKED = 24 * 60
# A query no index of the local store serves (finding that oldest ticket, the legacy pass): a
# scan of every ticket there, given this long.
WHOLE_RANGE_SECONDS = 120.0
# Stored dates have millisecond precision: "just below" a time.
TICK = timedelta(milliseconds=1)


@dataclass(frozen=True)
class PendingOutbox:
    """A ticket's outbox as a sweep reads it."""

    ticket_id: str
    entries: list[OutboxEntry]
    outbox_at: datetime


class RecentIds:
    """A bounded set: the oldest ids are forgotten first."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._ids: dict[str, None] = {}

    def add(self, item: str) -> None:
        self._ids[item] = None
        if len(self._ids) > self._capacity:
            del self._ids[next(iter(self._ids))]

    def __contains__(self, item: object) -> bool:
        return item in self._ids


class OutboxLedger:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._tickets = db.tickets
        self._acks = db.outbox_acks
        self._state = db.outbox_state
        self._recent = RecentIds(100_000)
        self.published_through = NEVER

    def remember(self, entries: list[OutboxEntry]) -> None:
        """These events were confirmed by RabbitMQ (known here at once, before their acks)."""
        for entry in entries:
            self._recent.add(entry.event.id)

    async def record(self, entries: list[OutboxEntry]) -> None:
        """These events were confirmed by RabbitMQ: their acks, in one insert."""
        self.remember(entries)
        if not entries:
            return
        try:
            await self._acks.insert_many([ack_document(e) for e in entries], ordered=False)
        except BulkWriteError as error:
            # A duplicate: published twice (another replica, or a retry), acknowledged either way.
            if any(e.get("code") != DUPLICATE_KEY for e in error.details["writeErrors"]):
                raise

    async def ticket_exists(self, ticket_id: str) -> bool:
        return await self._tickets.find_one({"_id": ticket_id}, {"_id": 1}) is not None

    def published_here(self, entry: OutboxEntry) -> bool:
        """Whether this process published the event (no store read)."""
        return entry.event.id in self._recent

    async def unpublished(
        self, outbox: list[OutboxEntry], outbox_at: datetime | None
    ) -> list[OutboxEntry]:
        """The entries of a ticket's outbox still to publish, in order."""
        if not outbox or (outbox_at is not None and outbox_at <= self.published_through):
            return []
        return (await self.unpublished_of({"": outbox}))[""]

    async def unpublished_of(
        self, outboxes: dict[str, list[OutboxEntry]]
    ) -> dict[str, list[OutboxEntry]]:
        """`unpublished` for many tickets' outboxes (keyed by ticket id) at once."""
        unknown = [
            e.event.id for o in outboxes.values() for e in o if e.event.id not in self._recent
        ]
        acked = await self._stored_acks(unknown)
        return {
            ticket_id: [e for e in o if e.event.id not in self._recent and e.event.id not in acked]
            for ticket_id, o in outboxes.items()
        }

    async def pending_page(
        self, floor: datetime, cutoff: datetime, *, limit: int
    ) -> tuple[list[PendingOutbox], datetime]:
        """The outboxes of the tickets changed in (floor, cutoff], oldest first (`limit` 0: all
        of them), read minute by minute; and the time up to which every ticket was read: the
        cutoff, or earlier when the window was longer than `MAX_MINUTES_WALKED` (the walk then
        starts at the oldest ticket above the floor). Tickets without `outbox_minute` are left to
        `legacy_page`."""
        first = _minute_of(floor)
        through = cutoff
        if _minutes_between(first, cutoff) > MAX_MINUTES_WALKED:
            earliest = await self._earliest_after(floor)
            if earliest is None or earliest > cutoff:
                return [], cutoff
            first = _minute_of(earliest)
            through = min(cutoff, first + timedelta(minutes=MAX_MINUTES_WALKED) - TICK)
        window = {"$gt": floor, "$lte": through}
        found: list[PendingOutbox] = []
        for index in range(_minutes_between(first, through)):
            minute = outbox_minute(first + timedelta(minutes=index))
            wanted = limit - len(found) if limit else 0
            query = {"outbox_minute": minute, "outbox_at": window}
            found += await self._pending(query, "outbox_at", wanted)
            if limit and len(found) >= limit:
                break
        return found, through

    async def legacy_page(
        self, floor: datetime, after: str | None, *, limit: int
    ) -> list[PendingOutbox]:
        """The outboxes above the watermark of tickets written before `outbox_minute` existed,
        by id after `after`: what `pending_page` cannot see. A scan of every ticket on the local
        store (once per relay), given `WHOLE_RANGE_SECONDS`."""
        query: Document = {"outbox_minute": {"$exists": False}, "outbox_at": {"$gt": floor}}
        if after is not None:
            query["_id"] = {"$gt": after}
        with pymongo.timeout(WHOLE_RANGE_SECONDS):
            return await self._pending(query, "_id", limit)

    async def legacy_read(self) -> bool:
        """Whether a relay already read every ticket `legacy_page` could return."""
        return await self._state.find_one({"_id": _LEGACY_ID}) is not None

    async def mark_legacy_read(self) -> None:
        await self._state.update_one(
            {"_id": _LEGACY_ID}, {"$setOnInsert": {"at": datetime.now(UTC)}}, upsert=True
        )

    async def _earliest_after(self, floor: datetime) -> datetime | None:
        with pymongo.timeout(WHOLE_RANGE_SECONDS):
            doc = await self._tickets.find_one(
                {"outbox_at": {"$gt": floor}}, {"outbox_at": 1}, sort=[("outbox_at", ASCENDING)]
            )
        return None if doc is None else doc["outbox_at"]

    async def _pending(self, query: Document, order: str, limit: int) -> list[PendingOutbox]:
        found = (
            self._tickets.find(query, {"outbox": 1, "outbox_at": 1})
            .sort(order, ASCENDING)
            .limit(limit)
        )
        return [
            PendingOutbox(
                str(doc["_id"]), [outbox_entry(e) for e in doc.get("outbox", ())], doc["outbox_at"]
            )
            async for doc in found
        ]

    async def count_unpublished(
        self, *, project_id: str | None = None, ticket_ids: list[str] | None = None
    ) -> int:
        """Events still to publish (of one project's tickets, of these tickets, or of all)."""
        await self.load_watermark()
        query: Document = {"outbox_at": {"$gt": self.published_through}}
        if project_id is not None:
            query = {"project_id": project_id, **query}
        if ticket_ids is not None:
            query = {"_id": {"$in": ticket_ids}, **query}
        found = self._tickets.find(query, {"outbox": 1})
        outboxes = {
            str(doc["_id"]): [outbox_entry(e) for e in doc.get("outbox", ())] async for doc in found
        }
        return sum(map(len, (await self.unpublished_of(outboxes)).values()))

    async def _stored_acks(self, event_ids: list[str]) -> set[str]:
        # By `_id`, one at a time: FerretDB pushes down only a lone `_id`, so `$in` would scan.
        found: set[str] = set()
        for chunk in _chunks(event_ids, _LOOKUPS_AT_ONCE):
            docs = await asyncio.gather(
                *(self._acks.find_one({"_id": i}, {"_id": 1}) for i in chunk)
            )
            found.update(str(doc["_id"]) for doc in docs if doc is not None)
        for event_id in found:
            self._recent.add(event_id)
        return found

    async def load_watermark(self) -> datetime:
        doc = await self._state.find_one({"_id": _STATE_ID})
        if doc is not None:
            self.published_through = max(self.published_through, doc["at"])
        return self.published_through

    async def raise_watermark(self, to: datetime) -> None:
        """Every ticket whose `outbox_at` is at or below `to` has its outbox published."""
        if to <= self.published_through:
            return
        await self._state.update_one({"_id": _STATE_ID}, {"$max": {"at": to}}, upsert=True)
        self.published_through = to

    async def purge_acks(self) -> int:
        cutoff = self.published_through - ACK_RETENTION
        return await delete_all(self._acks, {"occurred_at": {"$lt": cutoff}})


def ack_document(entry: OutboxEntry) -> Document:
    event = entry.event
    return {
        "_id": event.id,
        "ticket_id": event.data.ticket_id,
        "project_id": event.project_id,
        "occurred_at": event.occurred_at,
    }


def _minute_of(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(second=0, microsecond=0)


def _minutes_between(first: datetime, last: datetime) -> int:
    """How many minutes, from `first`'s (a minute's start) to `last`'s, both included."""
    return max(int((last - first).total_seconds() // 60) + 1, 0)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    return (items[i : i + size] for i in range(0, len(items), size))
